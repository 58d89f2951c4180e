using System.Buffers.Binary;
using System.Globalization;
using System.Text;

namespace GlobeSecure.Crypto.Tests;

/// <summary>
/// Known-answer tests of the vectors in docs/protocol.md. The tests read the document itself:
/// each ```text block that starts with <c>vector = NAME</c> gives inputs and expected outputs as
/// <c>name = value</c> lines; the code recomputes every output from the inputs and every line of
/// the block must be either read as an input or checked as an output. A change to either the
/// code or the document therefore fails here. docs/protocol/verify_vectors.py checks the same
/// blocks independently of this code.
/// </summary>
public sealed class ProtocolVectorTests
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public void Document_EveryVectorBlock_IsCheckedByATest()
    {
        var names = VectorDocument.Load().Names.Order(StringComparer.Ordinal).ToArray();

        Assert.Equal(ProtocolVectors.All.Order(StringComparer.Ordinal), names);
    }

    [Fact]
    public async Task DeviceKeys_FixedSeedsAndPrivateKeys_DerivePublicKeysInDocument() =>
        await CheckAsync("devices");

    [Fact]
    public async Task BoxKeySignature_FixedDeviceKeys_MatchesDocumentAndVerifies()
    {
        var doc = await CheckAsync("box-key:alice");

        using var alice = ProtocolVectors.Device(doc, "alice");
        alice.Public.Verify();
        var tampered = alice.Public with { BoxKeySignature = Flip(alice.Public.BoxKeySignature) };
        Assert.Throws<SignatureInvalidException>(tampered.Verify);
    }

    [Theory]
    [InlineData("certificate:netadmin")]
    [InlineData("certificate:authadmin")]
    [InlineData("certificate:alice")]
    [InlineData("certificate:bob")]
    public async Task Certificate_FixedIssuerAndSubject_MatchesDocumentAndVerifies(string name)
    {
        var doc = await CheckAsync(name);

        var certificate = ProtocolVectors.BuildCertificate(doc, name);
        Assert.True(certificate.HasValidSignature());
        Assert.False((certificate with { Signature = Flip(certificate.Signature) }).HasValidSignature());
    }

    [Fact]
    public async Task Revocation_FixedIssuer_MatchesDocumentAndVerifies()
    {
        var doc = await CheckAsync("revocation:bob");

        var revocation = ProtocolVectors.BuildRevocation(doc, "revocation:bob");
        Assert.True(revocation.HasValidSignature());
        Assert.False((revocation with { Reason = "lost" }).HasValidSignature());
    }

    [Theory]
    [InlineData("chain:alice")]
    [InlineData("chain:bob-before-revocation")]
    [InlineData("chain:bob-revoked")]
    [InlineData("chain:alice-expired")]
    public async Task CertificateChain_DocumentedCase_HasDocumentedOutcome(string name) => await CheckAsync(name);

    [Fact]
    public async Task EpochKeyDistribution_FixedSealedKeys_MatchesDocumentAndOpensForEachRecipient()
    {
        var doc = await CheckAsync("epoch-key:alice-bob");

        var block = doc["epoch-key:alice-bob"];
        var distribution = ProtocolVectors.BuildDistribution(doc, "epoch-key:alice-bob");
        var creator = ProtocolVectors.VerifiedAlice(doc);
        foreach (var recipient in distribution.Recipients)
        {
            using var keys = ProtocolVectors.Device(doc, ProtocolVectors.PartyOf(doc, recipient.RecipientDeviceId));
            using var opened = distribution.Open(creator, keys);
            Assert.Equal(block.Hex("key"), opened.Key.ToArray());
        }

        var altered = distribution with { KeyCommitment = Flip(distribution.KeyCommitment) };
        Assert.Throws<SignatureInvalidException>(() => altered.Verify(creator));
    }

    [Fact]
    public void EpochKeyDistribution_RecipientsGivenInAnyOrder_AreSignedInRfc4122Order()
    {
        var doc = VectorDocument.Load();
        var block = doc["epoch-key:alice-bob"];
        using var key = EpochKey.FromBytes(block.Id("channel_id"), block.Int("epoch"), block.Hex("key"));
        using var creator = ProtocolVectors.Device(doc, block.Raw("creator"));
        var expected = new[] { block.Raw("recipient.0"), block.Raw("recipient.1") };
        var recipients = Enumerable.Reverse(expected).Select(party =>
        {
            using var keys = ProtocolVectors.Device(doc, party);
            return (keys.DeviceId, keys.Box.PublicKey);
        });

        var created = EpochKeyDistribution.Create(key, recipients, block.Time("created_at_us"),
            doc["devices"].Id($"{block.Raw("creator")}.user_id"), creator);

        Assert.Equal(expected.Select(party => doc["devices"].Id($"{party}.device_id")),
            created.Recipients.Select(r => r.RecipientDeviceId));
    }

    [Fact]
    public async Task MessageEnvelope_FixedNonce_MatchesDocumentAndOpens()
    {
        var doc = await CheckAsync("message:alice");

        var block = doc["message:alice"];
        var envelope = ProtocolVectors.BuildMessage(doc, "message:alice");
        using var key = EpochKey.FromBytes(envelope.Header.ChannelId, envelope.Header.Epoch, block.Hex("key"));
        Assert.Equal(block.Hex("plaintext"), envelope.Open(ProtocolVectors.VerifiedAlice(doc), key));
        var altered = envelope with { Ciphertext = Flip(envelope.Ciphertext) };
        Assert.Throws<SignatureInvalidException>(() => altered.Open(ProtocolVectors.VerifiedAlice(doc), key));
    }

    [Fact]
    public async Task Receipt_FixedRecipient_MatchesDocumentAndVerifies()
    {
        var doc = await CheckAsync("receipt:bob");

        var receipt = ProtocolVectors.BuildReceipt(doc, "receipt:bob");
        var message = ProtocolVectors.BuildMessage(doc, doc["receipt:bob"].Raw("message"));
        var bob = ProtocolVectors.Verified(doc, "chain:bob-before-revocation");
        receipt.Verify(bob, message);
        Assert.Throws<SignatureInvalidException>(() => (receipt with { Kind = ReceiptKind.Delivered }).Verify(bob, message));
    }

    [Fact]
    public async Task ExportManifest_FixedExporter_MatchesDocumentAndVerifies()
    {
        var doc = await CheckAsync("export-manifest:alice");

        var manifest = ProtocolVectors.BuildExportManifest(doc, "export-manifest:alice");
        var alice = ProtocolVectors.VerifiedAlice(doc);
        manifest.Verify(alice);
        Assert.Throws<SignatureInvalidException>(() => (manifest with { Files = [.. manifest.Files.Skip(1)] }).Verify(alice));
    }

    [Fact]
    public async Task AuditCheckpoint_FixedServerKey_MatchesDocumentAndVerifies()
    {
        var doc = await CheckAsync("audit-checkpoint:server");

        var block = doc["audit-checkpoint:server"];
        var key = new SigningPublicKey(block.Hex("public_key"));
        var network = block.Id("network_id");
        var hash = block.Hex("hash");
        var at = block.Time("signed_at_us");
        var signature = block.Hex("signature");
        Assert.True(CheckpointSignature.Verify(key, network, 42, hash, at, block.Raw("key_id"), signature));
        Assert.False(CheckpointSignature.Verify(key, network, 43, hash, at, block.Raw("key_id"), signature));
        Assert.False(CheckpointSignature.Verify(key, Guid.CreateVersion7(), 42, hash, at, block.Raw("key_id"), signature));
        Assert.False(CheckpointSignature.Verify(key, network, 42, hash, at.AddTicks(10), block.Raw("key_id"), signature));
        Assert.False(CheckpointSignature.Verify(key, network, 42, [.. hash[..31], 0], at, block.Raw("key_id"), signature));
        Assert.False(CheckpointSignature.Verify(key, network, 42, hash, at, "0000000000000000", signature));
        Assert.False(CheckpointSignature.Verify(key, network, 42, hash[..31], at, block.Raw("key_id"), signature));
    }

    [Fact]
    public async Task AuthChallengeResponse_FixedChallenge_MatchesDocumentAndVerifies()
    {
        var doc = await CheckAsync("auth-challenge:alice");

        var block = doc["auth-challenge:alice"];
        using var alice = ProtocolVectors.Device(doc, block.Raw("device"));
        AuthChallenge.Verify(alice.Signing.PublicKey, block.Hex("challenge"), alice.DeviceId, block.Text("audience"),
            block.Time("issued_at_us"), block.Hex("signature"));
        Assert.Throws<SignatureInvalidException>(() => AuthChallenge.Verify(alice.Signing.PublicKey, block.Hex("challenge"),
            alice.DeviceId, block.Text("audience") + ".", block.Time("issued_at_us"), block.Hex("signature")));
    }

    [Fact]
    public async Task ChannelInfo_FixedNonce_MatchesDocumentAndOpens()
    {
        var doc = await CheckAsync("channel-info:case");

        var block = doc["channel-info:case"];
        using var key = EpochKey.FromBytes(block.Id("channel_id"), block.Int("epoch"), block.Hex("key"));
        var opened = ChannelInfo.Open(block.Hex("encrypted_info"), key);
        Assert.Equal(new ChannelInfo(block.Text("title"), block.Text("description")), opened);
        Assert.Throws<DecryptionFailedException>(() => ChannelInfo.Open(Flip(block.Hex("encrypted_info")), key));
    }

    [Fact]
    public async Task DirectoryLog_RootCertificatesAndRevocation_MatchesDocumentAndVerifies()
    {
        var doc = await CheckAsync("directory-log:example");

        var entries = ProtocolVectors.BuildDirectoryLog(doc, "directory-log:example");
        var verifier = new DirectoryLogVerifier();
        verifier.Extend(entries);
        Assert.Equal(entries.Count, verifier.HeadPosition);
        var rewritten = entries[1] with { Content = Flip(entries[1].Content) };
        Assert.Throws<DirectoryLogForkedException>(() => new DirectoryLogVerifier().Extend([entries[0], rewritten, .. entries[2..]]));
    }

    [Fact]
    public async Task SafetyNumber_AliceAndBob_MatchesDocumentFromEitherSide()
    {
        var doc = await CheckAsync("safety-number:alice-bob");

        using var alice = ProtocolVectors.Device(doc, "alice");
        using var bob = ProtocolVectors.Device(doc, "bob");
        Assert.Equal(SafetyNumber.Compute(alice.Public, bob.Public), SafetyNumber.Compute(bob.Public, alice.Public));
    }

    [Theory]
    [InlineData("document:two-chunks")]
    [InlineData("document:exact-chunks")]
    [InlineData("document:empty")]
    public async Task DocumentStream_FixedKeyAndNoncePrefix_MatchesDocumentAndDecrypts(string name)
    {
        var doc = await CheckAsync(name);

        var block = doc[name];
        using var key = DocumentKey.FromBytes(block.Hex("file_key"));
        using var output = new MemoryStream();
        var result = await DocumentCipher.DecryptAsync(new MemoryStream(block.Hex("ciphertext")), output, key,
            block.Id("document_id"), block.Hex("plaintext_hash"), Token);
        Assert.Equal(block.Hex("plaintext"), output.ToArray());
        Assert.Equal(block.Int("chunk_count"), result.ChunkCount);
    }

    [Fact]
    public async Task PassphraseKdf_FixedPassphraseAndSalt_MatchesDocument() => await CheckAsync("argon2id:passphrase");

    /// <summary>Recomputes the block's outputs and checks them, and that the block has no line that nothing reads.</summary>
    private static async Task<VectorDocument> CheckAsync(string name)
    {
        var doc = VectorDocument.Load();
        var block = doc[name];
        var computed = await ProtocolVectors.ComputeAsync(doc, name, Token);

        foreach (var (field, value) in computed)
        {
            Assert.True(block.Contains(field), $"Vector {name} has no line '{field} = {value}'.");
            // Field names in both strings, so that a failure says which line differs.
            Assert.Equal($"{field} = {value}", $"{field} = {block.Expected(field)}");
        }

        // Every line is an input the computation read or an output it checked: no stale lines.
        var unused = string.Join(", ", block.Fields.Where(f => !computed.ContainsKey(f) && !block.WasRead(f)));
        Assert.True(unused.Length == 0, $"Vector {name} has lines that nothing reads or checks: {unused}.");
        return doc;
    }

    private static byte[] Flip(byte[] value)
    {
        var copy = (byte[])value.Clone();
        copy[^1] ^= 1;
        return copy;
    }
}

/// <summary>Builds each documented object from the inputs of its vector block, through the library's API.</summary>
internal static class ProtocolVectors
{
    public static readonly string[] All =
    [
        "devices", "box-key:alice",
        "certificate:netadmin", "certificate:authadmin", "certificate:alice", "certificate:bob",
        "revocation:bob",
        "chain:alice", "chain:bob-before-revocation", "chain:bob-revoked", "chain:alice-expired",
        "epoch-key:alice-bob", "message:alice", "receipt:bob", "auth-challenge:alice", "safety-number:alice-bob",
        "document:two-chunks", "document:exact-chunks", "document:empty",
        "argon2id:passphrase", "directory-log:example", "channel-info:case", "export-manifest:alice", "audit-checkpoint:server",
    ];

    private static readonly string[] Devices = ["netadmin", "authadmin", "alice", "bob"];

    /// <summary>The outputs of a vector, formatted as the document writes them.</summary>
    public static async Task<Dictionary<string, string>> ComputeAsync(VectorDocument doc, string name, CancellationToken cancellationToken)
    {
        var kind = name.Split(':')[0];
        return kind switch
        {
            "devices" => DevicesBlock(doc),
            "box-key" => BoxKeyBlock(doc, name),
            "certificate" => Signed(BuildCertificate(doc, name).SigningInput(), BuildCertificate(doc, name).Signature),
            "revocation" => Signed(BuildRevocation(doc, name).SigningInput(), BuildRevocation(doc, name).Signature),
            "chain" => ChainBlock(doc, name),
            "epoch-key" => EpochKeyBlock(doc, name),
            "message" => MessageBlock(doc, name),
            "receipt" => ReceiptBlock(doc, name),
            "auth-challenge" => AuthChallengeBlock(doc, name),
            "safety-number" => SafetyNumberBlock(doc, name),
            "document" => await DocumentBlockAsync(doc, name, cancellationToken),
            "argon2id" => Argon2idBlock(doc, name),
            "directory-log" => DirectoryLogBlock(doc, name),
            "channel-info" => ChannelInfoBlock(doc, name),
            "export-manifest" => Signed(BuildExportManifest(doc, name).SigningInput(), BuildExportManifest(doc, name).Signature),
            "audit-checkpoint" => AuditCheckpointBlock(doc, name),
            _ => throw new InvalidOperationException($"No vector kind '{kind}'."),
        };
    }

    public static DeviceKeys Device(VectorDocument doc, string party)
    {
        var devices = doc["devices"];
        return DeviceKeys.FromPrivateKeys(devices.Id($"{party}.device_id"), devices.Hex($"{party}.signing_seed"),
            devices.Hex($"{party}.box_private_key"));
    }

    public static string PartyOf(VectorDocument doc, Guid deviceId) =>
        Devices.Single(party => doc["devices"].Id($"{party}.device_id") == deviceId);

    public static SigningKeyPair Root(VectorDocument doc) => SigningKeyPair.FromSeed(doc["devices"].Hex("root.signing_seed"));

    public static DeviceCertificate BuildCertificate(VectorDocument doc, string name)
    {
        var block = doc[name];
        var devices = doc["devices"];
        var subject = block.Raw("subject");
        var issuer = block.Raw("issuer");
        using var subjectKeys = Device(doc, subject);
        using var issuerKeys = issuer == "root" ? null : Device(doc, issuer);
        using var root = Root(doc);
        return DeviceCertificate.Issue(block.Id("certificate_id"), subjectKeys.Public, devices.Id($"{subject}.user_id"),
            devices.Id($"{subject}.authority_id"), DeviceRoles.FromWire(block.Text("role")), block.Time("not_before_us"),
            block.Time("not_after_us"), issuerKeys?.Signing ?? root, issuerKeys?.DeviceId);
    }

    public static Revocation BuildRevocation(VectorDocument doc, string name)
    {
        var block = doc[name];
        var certificate = BuildCertificate(doc, block.Raw("certificate"));
        var issuer = block.Raw("issuer");
        using var issuerKeys = issuer == "root" ? null : Device(doc, issuer);
        using var root = Root(doc);
        return Revocation.Issue(block.Id("revocation_id"), certificate, block.Time("revoked_at_us"),
            block.Text("reason"), issuerKeys?.Signing ?? root, issuerKeys?.DeviceId);
    }

    public static VerifiedDevice Verified(VectorDocument doc, string chainName)
    {
        var block = doc[chainName];
        var chain = block.List("certificates").Select(c => BuildCertificate(doc, c)).ToArray();
        var revocations = new RevocationSet();
        foreach (var revocation in block.List("revocations"))
        {
            revocations.Add(BuildRevocation(doc, revocation));
        }

        using var root = Root(doc);
        return CertificateChain.Verify(chain, new TrustAnchors([root.PublicKey]), block.Time("at_us"), revocations);
    }

    public static VerifiedDevice VerifiedAlice(VectorDocument doc) => Verified(doc, "chain:alice");

    public static EpochKeyDistribution BuildDistribution(VectorDocument doc, string name)
    {
        var block = doc[name];
        using var key = EpochKey.FromBytes(block.Id("channel_id"), block.Int("epoch"), block.Hex("key"));
        var creator = block.Raw("creator");
        using var creatorKeys = Device(doc, creator);
        var sealedKeys = Enumerable.Range(0, 2)
            .Select(i => new SealedEpochKey(doc["devices"].Id($"{block.Raw($"recipient.{i}")}.device_id"), block.Hex($"recipient.{i}.sealed_key")))
            .ToArray();
        return EpochKeyDistribution.CreateSigned(key.ChannelId, key.Epoch, block.Time("created_at_us"),
            doc["devices"].Id($"{creator}.user_id"), creatorKeys, key.Commitment, sealedKeys);
    }

    public static MessageEnvelope BuildMessage(VectorDocument doc, string name)
    {
        var block = doc[name];
        var sender = block.Raw("sender");
        using var senderKeys = Device(doc, sender);
        var header = new MessageHeader(block.Id("channel_id"), block.Id("message_id"), doc["devices"].Id($"{sender}.user_id"),
            senderKeys.DeviceId, block.Int("epoch"), block.Time("sent_at_us"), block.Text("content_type"), block.Text("handling_code"),
            block.Text("evaluation_grade"), block.List("document_ids").Select(id => Guid.ParseExact(id, "D")).ToArray(),
            block.Int("spontaneous") == 1, block.Raw("reply_to") == "none" ? Guid.Empty : block.Id("reply_to"),
            block.Raw("forward_of") == "none" ? Guid.Empty : block.Id("forward_of"));
        using var key = EpochKey.FromBytes(header.ChannelId, header.Epoch, block.Hex("key"));
        return MessageEnvelope.Seal(header, block.Hex("plaintext"), key, senderKeys, block.Hex("nonce"));
    }

    /// <summary>The exporter party's manifest over files given as <c>path:content-hex</c>.</summary>
    public static ExportManifest BuildExportManifest(VectorDocument doc, string name)
    {
        var block = doc[name];
        var exporter = block.Raw("exporter");
        using var keys = Device(doc, exporter);
        var files = block.List("files").Select(item =>
        {
            var colon = item.IndexOf(':', StringComparison.Ordinal);
            var content = Convert.FromHexString(item[(colon + 1)..]);
            return new ManifestFile(item[..colon], content.Length, System.Security.Cryptography.SHA256.HashData(content));
        });
        return ExportManifest.Sign(block.Id("request_id"), block.Time("exported_at_us"), doc["devices"].Id($"{exporter}.user_id"), keys, files);
    }

    public static Receipt BuildReceipt(VectorDocument doc, string name)
    {
        var block = doc[name];
        var recipient = block.Raw("recipient");
        using var recipientKeys = Device(doc, recipient);
        var kind = block.Text("kind") switch
        {
            "delivered" => ReceiptKind.Delivered,
            "read" => ReceiptKind.Read,
            var other => throw new InvalidOperationException($"No receipt kind '{other}'."),
        };
        return Receipt.Create(kind, BuildMessage(doc, block.Raw("message")), block.Time("at_us"),
            doc["devices"].Id($"{recipient}.user_id"), recipientKeys);
    }

    private static Dictionary<string, string> DevicesBlock(VectorDocument doc)
    {
        using var root = Root(doc);
        var outputs = new Dictionary<string, string> { ["root.signing_public_key"] = Hex(root.PublicKey.Span) };
        foreach (var party in Devices)
        {
            // Read so that the block's every line counts as used: ids feed other vectors.
            _ = doc["devices"].Id($"{party}.user_id");
            _ = doc["devices"].Id($"{party}.authority_id");
            using var keys = Device(doc, party);
            outputs[$"{party}.signing_public_key"] = Hex(keys.Signing.PublicKey.Span);
            outputs[$"{party}.box_public_key"] = Hex(keys.Box.PublicKey.Span);
        }

        return outputs;
    }

    private static Dictionary<string, string> BoxKeyBlock(VectorDocument doc, string name)
    {
        using var keys = Device(doc, doc[name].Raw("device"));
        return Signed(PublicDeviceKeys.SigningInput(keys.DeviceId, keys.Signing.PublicKey, keys.Box.PublicKey), keys.Public.BoxKeySignature);
    }

    public static List<DirectoryEntry> BuildDirectoryLog(VectorDocument doc, string name)
    {
        var entries = new List<DirectoryEntry>();
        var link = DirectoryLog.Genesis.ToArray();
        foreach (var item in doc[name].List("entries"))
        {
            var position = entries.Count + 1L;
            var (kind, content, signature) = item.Split(':')[0] switch
            {
                "root" => (DirectoryEntryKind.RootKey, Root(doc).PublicKey.ToArray(), Array.Empty<byte>()),
                "certificate" => (DirectoryEntryKind.Certificate, BuildCertificate(doc, item).SigningInput(), BuildCertificate(doc, item).Signature),
                "revocation" => (DirectoryEntryKind.Revocation, BuildRevocation(doc, item).SigningInput(), BuildRevocation(doc, item).Signature),
                _ => throw new InvalidOperationException($"No directory entry kind '{item}'."),
            };
            link = DirectoryLog.Link(link, position, kind, content, signature);
            entries.Add(new DirectoryEntry(position, kind, content, signature, link));
        }

        return entries;
    }

    private static Dictionary<string, string> DirectoryLogBlock(VectorDocument doc, string name) =>
        BuildDirectoryLog(doc, name).ToDictionary(e => $"link_{e.Position}", e => Convert.ToHexStringLower(e.Link));

    private static Dictionary<string, string> ChainBlock(VectorDocument doc, string name)
    {
        string result;
        try
        {
            var verified = Verified(doc, name);
            result = $"ok {verified.Role.ToWire()}";
        }
        catch (GlobeCryptoException e)
        {
            result = e.GetType().Name;
        }

        return new Dictionary<string, string> { ["result"] = result };
    }

    private static Dictionary<string, string> EpochKeyBlock(VectorDocument doc, string name)
    {
        var block = doc[name];
        using var key = EpochKey.FromBytes(block.Id("channel_id"), block.Int("epoch"), block.Hex("key"));
        var distribution = BuildDistribution(doc, name);
        var outputs = new Dictionary<string, string> { ["commitment"] = Hex(key.Commitment) };
        foreach (var (field, value) in Signed(distribution.SigningInput(), distribution.Signature))
        {
            outputs[field] = value;
        }

        return outputs;
    }

    private static Dictionary<string, string> MessageBlock(VectorDocument doc, string name)
    {
        var envelope = BuildMessage(doc, name);
        return new Dictionary<string, string>
        {
            ["header"] = Hex(envelope.Header.CanonicalBytes()),
            ["ciphertext"] = Hex(envelope.Ciphertext),
            ["ciphertext_hash"] = Hex(Primitives.Hash([.. envelope.Nonce, .. envelope.Ciphertext])),
            ["signing_input"] = Hex(envelope.SigningInput()),
            ["signature"] = Hex(envelope.Signature),
            ["digest"] = Hex(envelope.Digest()),
        };
    }

    private static Dictionary<string, string> ChannelInfoBlock(VectorDocument doc, string name)
    {
        var block = doc[name];
        using var key = EpochKey.FromBytes(block.Id("channel_id"), block.Int("epoch"), block.Hex("key"));
        var sealedInfo = new ChannelInfo(block.Text("title"), block.Text("description")).Seal(key, block.Hex("nonce"));
        return new Dictionary<string, string>
        {
            ["plaintext"] = Hex(new CanonicalWriter(ChannelInfo.Context).Text(block.Text("title")).Text(block.Text("description")).ToArray()),
            ["aad"] = Hex(new CanonicalWriter(ChannelInfo.Context).Guid(key.ChannelId).Int64(key.Epoch).ToArray()),
            ["encrypted_info"] = Hex(sealedInfo),
        };
    }

    private static Dictionary<string, string> ReceiptBlock(VectorDocument doc, string name)
    {
        var receipt = BuildReceipt(doc, name);
        var outputs = new Dictionary<string, string>
        {
            ["channel_id"] = receipt.ChannelId.ToString("D", CultureInfo.InvariantCulture),
            ["message_id"] = receipt.MessageId.ToString("D", CultureInfo.InvariantCulture),
            ["message_digest"] = Hex(receipt.MessageDigest),
        };
        foreach (var (field, value) in Signed(receipt.SigningInput(), receipt.Signature))
        {
            outputs[field] = value;
        }

        return outputs;
    }

    private static Dictionary<string, string> AuthChallengeBlock(VectorDocument doc, string name)
    {
        var block = doc[name];
        using var device = Device(doc, block.Raw("device"));
        var challenge = block.Hex("challenge");
        var audience = block.Text("audience");
        var issuedAt = block.Time("issued_at_us");
        return Signed(AuthChallenge.SigningInput(challenge, device.DeviceId, audience, issuedAt),
            AuthChallenge.Sign(device, challenge, audience, issuedAt));
    }

    private static Dictionary<string, string> SafetyNumberBlock(VectorDocument doc, string name)
    {
        var block = doc[name];
        using var a = Device(doc, block.Raw("a"));
        using var b = Device(doc, block.Raw("b"));
        var outputs = new Dictionary<string, string>();
        foreach (var (side, keys) in new[] { ("a", a), ("b", b) })
        {
            outputs[$"{side}.fingerprint_input"] = Hex(new CanonicalWriter(SafetyNumber.Context).Guid(keys.DeviceId)
                .Bytes(keys.Signing.PublicKey.Span).Bytes(keys.Box.PublicKey.Span).ToArray());
            outputs[$"{side}.digits"] = Quote(SafetyNumber.DeviceDigits(keys.Public));
        }

        outputs["safety_number"] = Quote(SafetyNumber.Compute(a.Public, b.Public));
        return outputs;
    }

    private static async Task<Dictionary<string, string>> DocumentBlockAsync(VectorDocument doc, string name,
        CancellationToken cancellationToken)
    {
        var block = doc[name];
        var plaintext = block.Hex("plaintext");
        var chunkSize = checked((int)block.Int("chunk_size"));
        var prefix = block.Hex("nonce_prefix");
        using var key = DocumentKey.FromBytes(block.Hex("file_key"));
        using var ciphertext = new MemoryStream();
        var result = await DocumentCipher.EncryptAsync(new MemoryStream(plaintext), ciphertext, key, block.Id("document_id"),
            chunkSize, prefix, cancellationToken);
        var bytes = ciphertext.ToArray();
        var header = bytes.AsSpan(0, DocumentCipher.HeaderBytes).ToArray();
        var outputs = new Dictionary<string, string>
        {
            ["header"] = Hex(header),
            ["chunk_count"] = result.ChunkCount.ToString(CultureInfo.InvariantCulture),
        };

        var offset = DocumentCipher.HeaderBytes;
        for (long i = 0; i < result.ChunkCount; i++)
        {
            var final = i == result.ChunkCount - 1;
            var length = final ? bytes.Length - offset : chunkSize + Primitives.TagBytes;
            var chunk = bytes.AsSpan(offset, length).ToArray();
            var nonce = new byte[Primitives.NonceBytes];
            prefix.CopyTo(nonce, 0);
            BinaryPrimitives.WriteUInt64BigEndian(nonce.AsSpan(DocumentCipher.NoncePrefixBytes), (ulong)i);
            var aad = new CanonicalWriter(DocumentCipher.ChunkContext).Bytes(header).Int64(i).Int64(final ? 1 : 0).ToArray();

            // The nonce and AAD stated in the document are the ones the code used: the chunk opens with them.
            var opened = new byte[chunk.Length - Primitives.TagBytes];
            Assert.True(Primitives.TryDecrypt(opened, chunk, aad, nonce, key.Key, out _), $"Chunk {i} does not open with the stated nonce and AAD.");
            outputs[$"chunk.{i}.nonce"] = Hex(nonce);
            outputs[$"chunk.{i}.aad"] = Hex(aad);
            outputs[$"chunk.{i}.ciphertext"] = Hex(chunk);
            offset += length;
        }

        Assert.Equal(bytes.Length, DocumentCipher.CiphertextLength(plaintext.Length, chunkSize));
        outputs["ciphertext"] = Hex(bytes);
        outputs["ciphertext_length"] = result.CiphertextLength.ToString(CultureInfo.InvariantCulture);
        outputs["plaintext_hash"] = Hex(result.PlaintextHash);
        return outputs;
    }

    private static Dictionary<string, string> Argon2idBlock(VectorDocument doc, string name)
    {
        var block = doc[name];
        var key = PassphraseKdf.DeriveKey(Encoding.UTF8.GetBytes(block.Text("passphrase")), block.Hex("salt"),
            new Argon2idParameters(block.Int("ops_limit"), checked((int)block.Int("mem_limit_bytes"))));
        return new Dictionary<string, string> { ["key"] = Hex(key) };
    }

    private static Dictionary<string, string> AuditCheckpointBlock(VectorDocument doc, string name)
    {
        var block = doc[name];
        using var key = SigningKeyPair.FromSeed(block.Hex("signing_seed"));
        var hash = block.Hex("hash");
        var signature = CheckpointSignature.Sign(key, block.Id("network_id"), block.Int("position"), hash, block.Time("signed_at_us"));
        var result = Signed(CheckpointSignature.SigningInput(block.Id("network_id"), block.Int("position"), hash, block.Time("signed_at_us"),
            key.PublicKey.Fingerprint), signature);
        result["public_key"] = Hex(key.PublicKey.Span);
        result["key_id"] = key.PublicKey.Fingerprint;
        return result;
    }

    private static Dictionary<string, string> Signed(byte[] signingInput, byte[] signature) => new()
    {
        ["signing_input"] = Hex(signingInput),
        ["signature"] = Hex(signature),
    };

    private static string Hex(ReadOnlySpan<byte> bytes) => Convert.ToHexStringLower(bytes);

    private static string Quote(string text) => $"\"{text}\"";
}

/// <summary>The vector blocks of docs/protocol.md.</summary>
internal sealed class VectorDocument
{
    private readonly Dictionary<string, VectorBlock> _blocks;

    private VectorDocument(Dictionary<string, VectorBlock> blocks) => _blocks = blocks;

    public IEnumerable<string> Names => _blocks.Keys;

    public VectorBlock this[string name] =>
        _blocks.TryGetValue(name, out var block) ? block : throw new InvalidOperationException($"docs/protocol.md has no vector '{name}'.");

    public static string FindPath()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "GlobeSecure.sln")))
            {
                return Path.Combine(directory.FullName, "docs", "protocol.md");
            }
        }

        throw new InvalidOperationException($"No GlobeSecure.sln above {AppContext.BaseDirectory}.");
    }

    public static VectorDocument Load() => Parse(File.ReadAllLines(FindPath()));

    /// <summary>
    /// A vector block is a fenced <c>```text</c> block whose first line is <c>vector = NAME</c>;
    /// then <c>name = value</c> lines; blank lines and lines starting with <c>#</c> are ignored.
    /// </summary>
    public static VectorDocument Parse(IReadOnlyList<string> lines)
    {
        var blocks = new Dictionary<string, VectorBlock>(StringComparer.Ordinal);
        for (var i = 0; i < lines.Count; i++)
        {
            if (lines[i].Trim() != "```text" || i + 1 >= lines.Count || !lines[i + 1].StartsWith("vector = ", StringComparison.Ordinal))
            {
                continue;
            }

            var name = lines[i + 1]["vector = ".Length..].Trim();
            var values = new Dictionary<string, string>(StringComparer.Ordinal);
            for (i += 2; i < lines.Count && lines[i].Trim() != "```"; i++)
            {
                var line = lines[i].Trim();
                if (line.Length == 0 || line.StartsWith('#'))
                {
                    continue;
                }

                var separator = line.IndexOf(" =", StringComparison.Ordinal);
                if (separator < 0 || !values.TryAdd(line[..separator], line[(separator + 2)..].Trim()))
                {
                    throw new InvalidOperationException($"Vector {name}: bad or repeated line '{line}'.");
                }
            }

            if (!blocks.TryAdd(name, new VectorBlock(name, values)))
            {
                throw new InvalidOperationException($"Vector {name} appears twice.");
            }
        }

        return new VectorDocument(blocks);
    }
}

/// <summary>One vector: its lines, and which of them a computation has read.</summary>
internal sealed class VectorBlock(string name, Dictionary<string, string> values)
{
    private readonly HashSet<string> _read = new(StringComparer.Ordinal);

    public string Name { get; } = name;

    public IEnumerable<string> Fields => values.Keys;

    public bool Contains(string field) => values.ContainsKey(field);

    public bool WasRead(string field) => _read.Contains(field);

    /// <summary>An input as written; reading it marks the line as used.</summary>
    public string Raw(string field)
    {
        _read.Add(field);
        return values.TryGetValue(field, out var value) ? value : throw new InvalidOperationException($"Vector {Name} has no input '{field}'.");
    }

    /// <summary>An expected output as written (does not mark the line as read).</summary>
    public string Expected(string field) => values[field];

    public byte[] Hex(string field) => Convert.FromHexString(Raw(field));

    public Guid Id(string field) => Guid.ParseExact(Raw(field), "D");

    public long Int(string field) => long.Parse(Raw(field), NumberStyles.None, CultureInfo.InvariantCulture);

    public DateTimeOffset Time(string field) => DateTimeOffset.UnixEpoch.AddTicks(checked(Int(field) * 10));

    public string Text(string field)
    {
        var value = Raw(field);
        return value.Length >= 2 && value[0] == '"' && value[^1] == '"'
            ? value[1..^1]
            : throw new InvalidOperationException($"Vector {Name}: {field} is not \"quoted text\".");
    }

    /// <summary>A comma-separated list; empty when the value is empty.</summary>
    public string[] List(string field) =>
        Raw(field).Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
}
