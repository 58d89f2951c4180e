namespace GlobeSecure.Crypto.Tests;

public sealed class EpochKeyTests
{
    private readonly TestPki _pki = new();
    private readonly Guid _authority = Guid.CreateVersion7();
    private readonly Guid _channel = Guid.CreateVersion7();
    private readonly TestDevice _creator;
    private readonly TestDevice[] _members;

    public EpochKeyTests()
    {
        _creator = _pki.Investigator(_authority);
        _members = [_creator, _pki.Investigator(_authority), _pki.Observer(_authority), _pki.PartnerTool(_authority), _pki.Auditor(_authority)];
    }

    private EpochKeyDistribution Distribute(EpochKey key, IEnumerable<TestDevice>? members = null) =>
        EpochKeyDistribution.Create(key, (members ?? _members).Select(m => (m.DeviceId, m.Keys.Box.PublicKey)), TestPki.Now,
            _creator.UserId, _creator.Keys);

    [Fact]
    public void Open_EveryMemberDevice_GetsTheSameKey()
    {
        using var key = EpochKey.Generate(_channel, 7);
        var distribution = Distribute(key);
        var creator = _pki.Verify(_creator);

        foreach (var member in _members)
        {
            using var opened = distribution.Open(creator, member.Keys);
            Assert.Equal(_channel, opened.ChannelId);
            Assert.Equal(7, opened.Epoch);
            Assert.Equal(key.Key.ToArray(), opened.Key.ToArray());
            Assert.Equal(key.Commitment, opened.Commitment);
        }
    }

    [Fact]
    public void Create_RecipientsInAnyOrder_AreStoredInRfcByteOrder()
    {
        using var key = EpochKey.Generate(_channel, 0);

        var distribution = Distribute(key, _members.Reverse());

        var ids = distribution.Recipients.Select(r => r.RecipientDeviceId).ToArray();
        Assert.Equal(ids.Order(RfcGuidComparer.Instance), ids);
        Assert.Equal(_members.Length, ids.Length);
        Assert.Equal(key.Commitment, distribution.KeyCommitment);
        Assert.Equal(TestPki.Now, distribution.CreatedAt);
        distribution.Verify(_pki.Verify(_creator));
    }

    [Fact]
    public void Create_DuplicateRecipient_ThrowsMalformedInput()
    {
        using var key = EpochKey.Generate(_channel, 0);

        Assert.Throws<MalformedInputException>(() => Distribute(key, [.. _members, _members[1]]));
    }

    [Fact]
    public void RfcGuidComparer_OrdersByBigEndianBytes_NotDotNetOrder()
    {
        // .NET compares the first field as a little-endian int; RFC 4122 order compares bytes.
        var a = Guid.Parse("01000000-0000-0000-0000-000000000000");
        var b = Guid.Parse("00000002-0000-0000-0000-000000000000");

        Assert.True(RfcGuidComparer.Instance.Compare(a, b) > 0);
        Assert.Equal(0, RfcGuidComparer.Instance.Compare(a, a));
        var c = Guid.Parse("00000000-0000-0000-0000-000000000001");
        var d = Guid.Parse("00000000-0000-0000-0100-000000000000");
        Assert.True(RfcGuidComparer.Instance.Compare(c, d) < 0);
    }

    [Fact]
    public void EpochKey_NegativeEpoch_ThrowsMalformedInput()
    {
        Assert.Throws<MalformedInputException>(() => EpochKey.Generate(_channel, -1));
        Assert.Throws<MalformedInputException>(() => EpochKey.FromBytes(_channel, -1, new byte[32]));
    }

    [Fact]
    public void Commitment_DependsOnChannelEpochAndKey()
    {
        var bytes = Bytes.Random(32);
        using var key = EpochKey.FromBytes(_channel, 1, bytes);
        using var otherChannel = EpochKey.FromBytes(Guid.NewGuid(), 1, bytes);
        using var otherEpoch = EpochKey.FromBytes(_channel, 2, bytes);
        using var otherBytes = EpochKey.FromBytes(_channel, 1, Bytes.FlipBit(bytes, 0));

        Assert.Equal(32, key.Commitment.Length);
        Assert.NotEqual(key.Commitment, otherChannel.Commitment);
        Assert.NotEqual(key.Commitment, otherEpoch.Commitment);
        Assert.NotEqual(key.Commitment, otherBytes.Commitment);
    }

    // ---- tampering --------------------------------------------------------------------------

    [Theory]
    [InlineData("channel-id")]
    [InlineData("epoch")]
    [InlineData("created-at")]
    [InlineData("key-commitment")]
    [InlineData("signature")]
    [InlineData("sealed-key-altered")]
    [InlineData("sealed-keys-swapped")]
    [InlineData("recipient-removed")]
    [InlineData("recipient-added")]
    [InlineData("recipient-id-changed")]
    public void Open_SignedFieldChanged_ThrowsSignatureInvalid(string field)
    {
        using var key = EpochKey.Generate(_channel, 3);
        var d = Distribute(key);
        var recipients = d.Recipients.ToList();
        var reader = _members[1];
        var changed = field switch
        {
            "channel-id" => d with { ChannelId = Guid.NewGuid() },
            "epoch" => d with { Epoch = 4 },
            "created-at" => d with { CreatedAt = d.CreatedAt.AddMicroseconds(1) },
            "key-commitment" => d with { KeyCommitment = Bytes.FlipBit(d.KeyCommitment, 0) },
            "signature" => d with { Signature = Bytes.FlipBit(d.Signature, 5) },
            "sealed-key-altered" => d with { Recipients = [.. recipients.Select(r => r with { SealedKey = Bytes.FlipBit(r.SealedKey, 40) })] },
            "sealed-keys-swapped" => d with
            {
                Recipients = [.. recipients.Select((r, i) => r with { SealedKey = recipients[(i + 1) % recipients.Count].SealedKey })],
            },
            "recipient-removed" => d with { Recipients = [.. recipients.Where(r => r.RecipientDeviceId != _members[2].DeviceId)] },
            "recipient-added" => d with
            {
                Recipients = [.. recipients.Append(new SealedEpochKey(Guid.Parse("ffffffff-ffff-ffff-ffff-ffffffffffff"), new byte[80]))],
            },
            _ => d with
            {
                // One other recipient's id replaced; still in order, so only the signature can catch it.
                Recipients = [.. recipients.Select(r => r.RecipientDeviceId == _members[2].DeviceId ? r with { RecipientDeviceId = Guid.Empty } : r)
                    .OrderBy(r => r.RecipientDeviceId, RfcGuidComparer.Instance)],
            },
        };

        var error = Assert.Throws<SignatureInvalidException>(() => changed.Open(_pki.Verify(_creator), reader.Keys));
        Assert.Equal("epoch-key distribution", error.ObjectKind);
    }

    [Theory]
    [InlineData("creator-user-id")]
    [InlineData("creator-device-id")]
    public void Open_CreatorFieldChanged_ThrowsSenderMismatch(string field)
    {
        using var key = EpochKey.Generate(_channel, 3);
        var d = Distribute(key);
        var changed = field == "creator-user-id" ? d with { CreatorUserId = Guid.NewGuid() } : d with { CreatorDeviceId = Guid.NewGuid() };

        Assert.Throws<SenderMismatchException>(() => changed.Open(_pki.Verify(_creator), _members[1].Keys));
    }

    [Fact]
    public void Open_CreatorFieldsChangedToAnotherDeviceAndItsCertificateGiven_ThrowsSignatureInvalid()
    {
        using var key = EpochKey.Generate(_channel, 3);
        var other = _members[1];
        var d = Distribute(key) with { CreatorUserId = other.UserId, CreatorDeviceId = other.DeviceId };

        Assert.Throws<SignatureInvalidException>(() => d.Open(_pki.Verify(other), _members[2].Keys));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(31)]
    [InlineData(33)]
    public void Open_KeyCommitmentOfWrongLength_ThrowsMalformedInput(int length)
    {
        using var key = EpochKey.Generate(_channel, 3);
        var d = Distribute(key) with { KeyCommitment = new byte[length] };

        Assert.Throws<MalformedInputException>(() => d.Open(_pki.Verify(_creator), _members[1].Keys));
    }

    [Fact]
    public void Open_RecipientsReordered_ThrowsMalformedInput()
    {
        using var key = EpochKey.Generate(_channel, 3);
        var d = Distribute(key);
        var d2 = d with { Recipients = [.. d.Recipients.Reverse()] };

        Assert.Throws<MalformedInputException>(() => d2.Open(_pki.Verify(_creator), _members[1].Keys));
    }

    [Fact]
    public void Open_RecipientDuplicated_ThrowsMalformedInput()
    {
        using var key = EpochKey.Generate(_channel, 3);
        var d = Distribute(key);
        var d2 = d with { Recipients = [d.Recipients[0], .. d.Recipients] };

        Assert.Throws<MalformedInputException>(() => d2.Open(_pki.Verify(_creator), _members[1].Keys));
    }

    [Fact]
    public void Open_WrongCreatorCertificate_ThrowsSenderMismatch()
    {
        using var key = EpochKey.Generate(_channel, 3);
        var d = Distribute(key);

        Assert.Throws<SenderMismatchException>(() => d.Open(_pki.Verify(_members[1]), _members[1].Keys));
        Assert.Throws<SenderMismatchException>(() => d.Verify(_pki.Verify(_members[2])));
    }

    [Fact]
    public void Open_CreatorCertificateForSameDeviceButOtherKey_ThrowsSignatureInvalid()
    {
        using var key = EpochKey.Generate(_channel, 3);
        var d = Distribute(key);
        using var impostorKeys = DeviceKeys.FromPrivateKeys(_creator.DeviceId, Bytes.Random(32), Bytes.Random(32));
        var admin = _pki.AuthorityAdmin(_authority);
        var impostor = DeviceCertificate.Issue(Guid.NewGuid(), impostorKeys.Public, _creator.UserId, _authority, DeviceRole.Investigator,
            TestPki.NotBefore, TestPki.NotAfter, admin.Signing, admin.DeviceId);

        Assert.Throws<SignatureInvalidException>(() => d.Open(_pki.Verify([impostor, .. admin.Chain]), _members[1].Keys));
    }

    [Fact]
    public void Open_DeviceNotARecipient_ThrowsNotARecipient()
    {
        using var key = EpochKey.Generate(_channel, 3);
        var d = Distribute(key);
        var outsider = _pki.Investigator(_authority);

        var error = Assert.Throws<NotARecipientException>(() => d.Open(_pki.Verify(_creator), outsider.Keys));
        Assert.Equal(outsider.DeviceId, error.DeviceId);
    }

    [Fact]
    public void Open_CopySealedToAnotherDevicesKey_ThrowsDecryptionFailed()
    {
        using var key = EpochKey.Generate(_channel, 3);
        var reader = _members[1];
        var other = _members[2];
        // The creator (signing validly) lists the reader but seals its copy to another device's key.
        var sealedKeys = _members.OrderBy(m => m.DeviceId, RfcGuidComparer.Instance)
            .Select(m => new SealedEpochKey(m.DeviceId, Primitives.Seal(key.Key, (m == reader ? other : m).Keys.Box.PublicKey.Span)))
            .ToList();
        var d = EpochKeyDistribution.CreateSigned(_channel, 3, TestPki.Now, _creator.UserId, _creator.Keys, key.Commitment, sealedKeys);

        var error = Assert.Throws<DecryptionFailedException>(() => d.Open(_pki.Verify(_creator), reader.Keys));
        Assert.Equal("sealed epoch key", error.ObjectKind);
        using var fine = d.Open(_pki.Verify(_creator), other.Keys);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(31)]
    [InlineData(33)]
    public void Open_SealedPayloadOfWrongLength_ThrowsMalformedInputBeforeOpening(int length)
    {
        var reader = _members[1];
        var sealedKeys = new List<SealedEpochKey> { new(reader.DeviceId, Primitives.Seal(new byte[length], reader.Keys.Box.PublicKey.Span)) };
        var d = EpochKeyDistribution.CreateSigned(_channel, 3, TestPki.Now, _creator.UserId, _creator.Keys, new byte[32], sealedKeys);

        // A sealed key is 80 bytes: anything else is refused when the distribution is verified,
        // by the server as well as by the recipient.
        Assert.Throws<MalformedInputException>(() => d.Verify(_pki.Verify(_creator)));
        Assert.Throws<MalformedInputException>(() => d.Open(_pki.Verify(_creator), reader.Keys));
    }

    [Fact]
    public void Open_SealedBoxShorterThanItsOverhead_ThrowsMalformedInput()
    {
        var reader = _members[1];
        var d = EpochKeyDistribution.CreateSigned(_channel, 3, TestPki.Now, _creator.UserId, _creator.Keys, new byte[32],
            [new SealedEpochKey(reader.DeviceId, new byte[47])]);

        Assert.Throws<MalformedInputException>(() => d.Open(_pki.Verify(_creator), reader.Keys));
    }

    [Fact]
    public void Open_SealedKeyOfRightLengthButGarbage_ThrowsDecryptionFailed()
    {
        var reader = _members[1];
        var d = EpochKeyDistribution.CreateSigned(_channel, 3, TestPki.Now, _creator.UserId, _creator.Keys, new byte[32],
            [new SealedEpochKey(reader.DeviceId, new byte[EpochKeyDistribution.SealedKeyBytes])]);

        Assert.Throws<DecryptionFailedException>(() => d.Open(_pki.Verify(_creator), reader.Keys));
    }

    [Fact]
    public void Create_NoRecipients_ThrowsMalformedInput()
    {
        using var key = EpochKey.Generate(_channel, 3);

        Assert.Throws<MalformedInputException>(() =>
            EpochKeyDistribution.Create(key, [], TestPki.Now, _creator.UserId, _creator.Keys));
    }

    [Fact]
    public void Verify_NoRecipients_ThrowsMalformedInput()
    {
        var d = EpochKeyDistribution.CreateSigned(_channel, 3, TestPki.Now, _creator.UserId, _creator.Keys, new byte[32], []);

        Assert.Throws<MalformedInputException>(() => d.Verify(_pki.Verify(_creator)));
    }

    [Fact]
    public void Open_KeyNotMatchingTheCommitment_ThrowsKeyCommitmentMismatch()
    {
        using var key = EpochKey.Generate(_channel, 3);
        using var other = EpochKey.Generate(_channel, 3);
        var sealedKeys = _members.OrderBy(m => m.DeviceId, RfcGuidComparer.Instance)
            .Select(m => new SealedEpochKey(m.DeviceId, Primitives.Seal(key.Key, m.Keys.Box.PublicKey.Span)))
            .ToList();
        var d = EpochKeyDistribution.CreateSigned(_channel, 3, TestPki.Now, _creator.UserId, _creator.Keys, other.Commitment, sealedKeys);

        Assert.Throws<KeyCommitmentMismatchException>(() => d.Open(_pki.Verify(_creator), _members[1].Keys));
    }

    [Fact]
    public void Open_CommitmentForAnotherEpoch_ThrowsKeyCommitmentMismatch()
    {
        using var key = EpochKey.Generate(_channel, 3);
        using var sameBytesOtherEpoch = EpochKey.FromBytes(_channel, 4, key.Key);
        var reader = _members[1];
        var d = EpochKeyDistribution.CreateSigned(_channel, 3, TestPki.Now, _creator.UserId, _creator.Keys, sameBytesOtherEpoch.Commitment,
            [new SealedEpochKey(reader.DeviceId, Primitives.Seal(key.Key, reader.Keys.Box.PublicKey.Span))]);

        Assert.Throws<KeyCommitmentMismatchException>(() => d.Open(_pki.Verify(_creator), reader.Keys));
    }

    [Fact]
    public void Open_RecipientKeysDisposed_ThrowsObjectDisposed()
    {
        using var key = EpochKey.Generate(_channel, 3);
        var reader = _pki.Investigator(_authority);
        var d = Distribute(key, [.. _members, reader]);
        reader.Keys.Dispose();

        Assert.Throws<ObjectDisposedException>(() => d.Open(_pki.Verify(_creator), reader.Keys));
    }
}
