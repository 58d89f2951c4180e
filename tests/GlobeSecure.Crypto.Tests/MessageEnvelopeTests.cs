namespace GlobeSecure.Crypto.Tests;

public sealed class MessageEnvelopeTests
{
    private readonly TestPki _pki = new();
    private readonly Guid _authority = Guid.CreateVersion7();
    private readonly Guid _channel = Guid.CreateVersion7();
    private readonly TestDevice _sender;
    private readonly TestDevice _other;
    private readonly EpochKey _key;

    public MessageEnvelopeTests()
    {
        _sender = _pki.Investigator(_authority);
        _other = _pki.Investigator(_authority);
        _key = EpochKey.Generate(_channel, 5);
    }

    private MessageHeader Header(params Guid[] documentIds) => new(_channel, Guid.CreateVersion7(), _sender.UserId, _sender.DeviceId, 5,
        TestPki.Now.AddTicks(7), "text/plain", "H2", "B2", documentIds);

    private MessageEnvelope Seal(byte[]? plaintext = null) =>
        MessageEnvelope.Seal(Header(Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid()), plaintext ?? "meet at noon"u8.ToArray(), _key, _sender.Keys);

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(100)]
    [InlineData(70_000)]
    public void Open_SealedMessage_ReturnsPlaintext(int length)
    {
        var plaintext = Bytes.Random(length);
        var envelope = MessageEnvelope.Seal(Header(), plaintext, _key, _sender.Keys);

        Assert.Equal(plaintext, envelope.Open(_pki.Verify(_sender), _key));
        Assert.Equal(length + Primitives.TagBytes, envelope.Ciphertext.Length);
        Assert.Equal(Primitives.NonceBytes, envelope.Nonce.Length);
    }

    [Fact]
    public void Open_AnyMemberWithTheOpenedEpochKey_ReadsTheMessage()
    {
        var reader = _pki.Observer(_authority);
        var distribution = EpochKeyDistribution.Create(_key, [(_sender.DeviceId, _sender.Keys.Box.PublicKey), (reader.DeviceId, reader.Keys.Box.PublicKey)],
            TestPki.Now, _sender.UserId, _sender.Keys);
        using var readersKey = distribution.Open(_pki.Verify(_sender), reader.Keys);

        Assert.Equal("meet at noon"u8.ToArray(), Seal().Open(_pki.Verify(_sender), readersKey));
    }

    [Fact]
    public void Seal_TruncatesSentAtToMicroseconds_AndUsesAFreshNonce()
    {
        var a = Seal();
        var b = Seal();

        Assert.Equal(TestPki.Now, a.Header.SentAt);
        Assert.NotEqual(a.Nonce, b.Nonce);
        Assert.Equal(32, a.Digest().Length);
        Assert.NotEqual(a.Digest(), b.Digest());
    }

    [Fact]
    public void Header_Equality_FollowsCanonicalBytes()
    {
        var header = Header(Guid.NewGuid());

        Assert.Equal(header, header with { DocumentIds = [.. header.DocumentIds] });
        Assert.Equal(header, header with { SentAt = header.SentAt.AddTicks(1) }); // below a microsecond: not signed
        Assert.NotEqual(header, header with { SentAt = header.SentAt.AddMicroseconds(1) });
        Assert.NotEqual(header, header with { DocumentIds = [] });
    }

    public static TheoryData<string> SignedHeaderFields =>
    [
        "channel-id", "message-id", "epoch", "sent-at", "content-type", "handling-code", "evaluation-grade",
        "document-added", "document-removed", "documents-reordered", "document-changed", "text-shifted", "spontaneous", "reply-to", "forward-of",
    ];

    private static MessageHeader Change(MessageHeader h, string field) => field switch
    {
        "channel-id" => h with { ChannelId = Guid.NewGuid() },
        "message-id" => h with { MessageId = Guid.NewGuid() },
        "epoch" => h with { Epoch = h.Epoch + 1 },
        "sent-at" => h with { SentAt = h.SentAt.AddMicroseconds(1) },
        "content-type" => h with { ContentType = "text/html" },
        "handling-code" => h with { HandlingCode = "H3" },
        "evaluation-grade" => h with { EvaluationGrade = "A1" },
        "document-added" => h with { DocumentIds = [.. h.DocumentIds, Guid.NewGuid()] },
        "document-removed" => h with { DocumentIds = [.. h.DocumentIds.Skip(1)] },
        "documents-reordered" => h with { DocumentIds = [.. h.DocumentIds.Reverse()] },
        "document-changed" => h with { DocumentIds = [Guid.NewGuid(), .. h.DocumentIds.Skip(1)] },
        "text-shifted" => h with { HandlingCode = "H", EvaluationGrade = "2B2" },
        "spontaneous" => h with { Spontaneous = !h.Spontaneous },
        "reply-to" => h with { ReplyToMessageId = Guid.NewGuid() },
        "forward-of" => h with { ForwardOfMessageId = Guid.NewGuid() },
        _ => throw new ArgumentOutOfRangeException(nameof(field)),
    };

    [Theory]
    [MemberData(nameof(SignedHeaderFields))]
    public void Open_HeaderFieldChanged_ThrowsSignatureInvalid(string field)
    {
        var envelope = Seal();
        var changed = envelope with { Header = Change(envelope.Header, field) };

        // The signature is checked before the epoch, so even a changed channel or epoch is a bad signature.
        var error = Assert.Throws<SignatureInvalidException>(() => changed.Open(_pki.Verify(_sender), _key));
        Assert.Equal("message", error.ObjectKind);
        Assert.Throws<SignatureInvalidException>(() => changed.VerifySignature(_pki.Verify(_sender)));
    }

    [Theory]
    [MemberData(nameof(SignedHeaderFields))]
    public void Open_HeaderChangedAndResignedBySender_FailsToDecrypt(string field)
    {
        // A sender who signs a header other than the one it encrypted under: the header is the body's AAD.
        var envelope = Seal();
        var changed = envelope with { Header = Change(envelope.Header, field) };
        changed = changed with { Signature = _sender.Keys.Sign(changed.SigningInput()) };
        changed.VerifySignature(_pki.Verify(_sender));

        if (field is "channel-id" or "epoch")
        {
            Assert.Throws<WrongEpochException>(() => changed.Open(_pki.Verify(_sender), _key));
        }
        else
        {
            Assert.Throws<DecryptionFailedException>(() => changed.Open(_pki.Verify(_sender), _key));
        }
    }

    [Theory]
    [InlineData("sender-user-id")]
    [InlineData("sender-device-id")]
    public void Open_SenderFieldChanged_ThrowsSenderMismatch(string field)
    {
        var envelope = Seal();
        var header = field == "sender-user-id"
            ? envelope.Header with { SenderUserId = Guid.NewGuid() }
            : envelope.Header with { SenderDeviceId = Guid.NewGuid() };

        Assert.Throws<SenderMismatchException>(() => (envelope with { Header = header }).Open(_pki.Verify(_sender), _key));
    }

    [Fact]
    public void Open_SenderFieldsChangedToAnotherDeviceAndItsCertificateGiven_ThrowsSignatureInvalid()
    {
        var envelope = Seal();
        var changed = envelope with { Header = envelope.Header with { SenderUserId = _other.UserId, SenderDeviceId = _other.DeviceId } };

        Assert.Throws<SignatureInvalidException>(() => changed.Open(_pki.Verify(_other), _key));
    }

    [Theory]
    [InlineData("nonce-flipped")]
    [InlineData("ciphertext-flipped")]
    [InlineData("tag-flipped")]
    [InlineData("ciphertext-truncated")]
    [InlineData("ciphertext-extended")]
    [InlineData("ciphertext-empty")]
    [InlineData("signature-flipped")]
    [InlineData("signature-truncated")]
    [InlineData("signature-empty")]
    public void Open_BodyOrSignatureChanged_ThrowsSignatureInvalid(string change)
    {
        var e = Seal();
        var changed = change switch
        {
            "nonce-flipped" => e with { Nonce = Bytes.FlipBit(e.Nonce, 23) },
            "ciphertext-flipped" => e with { Ciphertext = Bytes.FlipBit(e.Ciphertext, 0) },
            "tag-flipped" => e with { Ciphertext = Bytes.FlipBit(e.Ciphertext, e.Ciphertext.Length - 1, 7) },
            "ciphertext-truncated" => e with { Ciphertext = e.Ciphertext[..^1] },
            "ciphertext-extended" => e with { Ciphertext = [.. e.Ciphertext, 0] },
            "ciphertext-empty" => e with { Ciphertext = [] },
            "signature-flipped" => e with { Signature = Bytes.FlipBit(e.Signature, 32) },
            "signature-truncated" => e with { Signature = e.Signature[..63] },
            _ => e with { Signature = [] },
        };

        Assert.Throws<SignatureInvalidException>(() => changed.Open(_pki.Verify(_sender), _key));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(12)]
    [InlineData(23)]
    [InlineData(25)]
    public void Open_NonceOfWrongLength_ThrowsMalformedInput(int length)
    {
        var e = Seal();

        Assert.Throws<MalformedInputException>(() => (e with { Nonce = new byte[length] }).Open(_pki.Verify(_sender), _key));
    }

    [Theory]
    [InlineData("ciphertext-flipped")]
    [InlineData("nonce-changed")]
    [InlineData("ciphertext-shorter-than-tag")]
    [InlineData("ciphertext-empty")]
    public void Open_BodyChangedAndResignedBySender_ThrowsDecryptionFailed(string change)
    {
        var e = Seal();
        var changed = change switch
        {
            "ciphertext-flipped" => e with { Ciphertext = Bytes.FlipBit(e.Ciphertext, 3) },
            "nonce-changed" => e with { Nonce = Bytes.Random(24) },
            "ciphertext-shorter-than-tag" => e with { Ciphertext = e.Ciphertext[..15] },
            _ => e with { Ciphertext = [] },
        };
        changed = changed with { Signature = _sender.Keys.Sign(changed.SigningInput()) };

        var error = Assert.Throws<DecryptionFailedException>(() => changed.Open(_pki.Verify(_sender), _key));
        Assert.Equal("message body", error.ObjectKind);
    }

    [Fact]
    public void Open_SignedByAnotherDevicesKey_ThrowsSignatureInvalid()
    {
        var e = Seal();
        var forged = e with { Signature = _other.Keys.Sign(e.SigningInput()) };

        Assert.Throws<SignatureInvalidException>(() => forged.Open(_pki.Verify(_sender), _key));
    }

    [Fact]
    public void Open_SenderCertificateForAnotherDevice_ThrowsSenderMismatch()
    {
        Assert.Throws<SenderMismatchException>(() => Seal().Open(_pki.Verify(_other), _key));
        Assert.Throws<SenderMismatchException>(() => Seal().VerifySignature(_pki.Verify(_other)));
    }

    [Fact]
    public void Open_KeyForAnotherEpoch_ThrowsWrongEpoch()
    {
        using var next = EpochKey.Generate(_channel, 6);

        Assert.Throws<WrongEpochException>(() => Seal().Open(_pki.Verify(_sender), next));
    }

    [Fact]
    public void Open_KeyForAnotherChannel_ThrowsWrongEpoch()
    {
        using var otherChannel = EpochKey.FromBytes(Guid.NewGuid(), 5, _key.Key);

        Assert.Throws<WrongEpochException>(() => Seal().Open(_pki.Verify(_sender), otherChannel));
    }

    [Fact]
    public void Open_RightChannelAndEpochButOtherKeyBytes_ThrowsDecryptionFailed()
    {
        using var impostor = EpochKey.Generate(_channel, 5);

        Assert.Throws<DecryptionFailedException>(() => Seal().Open(_pki.Verify(_sender), impostor));
    }

    [Fact]
    public void Open_EpochKeyDisposed_ThrowsObjectDisposed()
    {
        var e = Seal();
        using var key = EpochKey.FromBytes(_channel, 5, _key.Key);
        key.Dispose();

        Assert.Throws<ObjectDisposedException>(() => e.Open(_pki.Verify(_sender), key));
    }

    [Fact]
    public void Seal_KeysOfAnotherDevice_ThrowsSenderMismatch()
    {
        Assert.Throws<SenderMismatchException>(() => MessageEnvelope.Seal(Header(), "x"u8, _key, _other.Keys));
    }

    [Fact]
    public void Seal_KeyForAnotherEpoch_ThrowsWrongEpoch()
    {
        using var next = EpochKey.Generate(_channel, 6);

        Assert.Throws<WrongEpochException>(() => MessageEnvelope.Seal(Header(), "x"u8, next, _sender.Keys));
    }

    [Fact]
    public void Seal_ChosenNonce_IsDeterministic()
    {
        var header = Header();
        var nonce = Bytes.Random(24);

        var a = MessageEnvelope.Seal(header, "x"u8, _key, _sender.Keys, nonce);
        var b = MessageEnvelope.Seal(header, "x"u8, _key, _sender.Keys, nonce);

        Assert.Equal(a.Ciphertext, b.Ciphertext);
        Assert.Equal(a.Signature, b.Signature); // Ed25519 is deterministic
        Assert.Equal(a.Digest(), b.Digest());
    }
}
