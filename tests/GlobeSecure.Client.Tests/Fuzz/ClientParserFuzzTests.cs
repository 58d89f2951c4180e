using System.Runtime.CompilerServices;
using System.Text;
using GlobeSecure.Client.Keystore;
using GlobeSecure.Client.Templates;
using GlobeSecure.Crypto;
using GlobeSecure.Fuzzing;
using Google.Protobuf;
using V1 = GlobeSecure.Contracts.V1;

namespace GlobeSecure.Client.Tests.Fuzz;

/// <summary>
/// What the client library parses from a server, another member or a file, under random and
/// mutated input (ADR 0016): wire objects the way the client reads them (protobuf, then
/// <see cref="Wire"/>, then the signature and chain checks), key files, templates and drafts, and
/// audit exports. Each may only accept or give its documented rejection. Seeds are the committed
/// corpus (Fuzz/corpus/PARSER/*.bin), made from <see cref="FuzzWorld"/> by <see cref="WriteCorpus"/>.
/// </summary>
public sealed class ClientParserFuzzTests : IDisposable
{
    private const string KeystorePassphrase = "fuzz corpus passphrase";

    // A wire object that does not parse, convert or verify.
    private static readonly Type[] WireRejections = [typeof(InvalidProtocolBufferException), typeof(GlobeCryptoException), typeof(GlobeTrustException)];

    private readonly FuzzWorld _world = new();

    [Fact]
    public void MessageEnvelope_RandomAndMutated_OnlyDocumentedRejections()
    {
        var sender = _world.Verify(_world.Sender);
        Run("message-envelope", input =>
        {
            var envelope = Wire.FromProto(V1.MessageEnvelope.Parser.ParseFrom(input));
            envelope.VerifySignature(sender);
            _ = envelope.Open(sender, _world.EpochKey);
        }, WireRejections);
    }

    [Fact]
    public void MessageContent_RandomAndMutated_OnlyDocumentedRejections() =>
        Run("message-content", input =>
        {
            // What a member's signed body may hold: text and attachments (GlobeClient.ReadContent).
            var content = V1.MessageContent.Parser.ParseFrom(input);
            _ = content.Documents.Select(Wire.FromProto).ToList();
        }, WireRejections);

    [Fact]
    public void CertificateChain_RandomAndMutated_OnlyDocumentedRejections() =>
        Run("certificate-chain", input =>
        {
            var chain = V1.CertificateChain.Parser.ParseFrom(input).Certificates.Select(Wire.FromProto).ToList();
            _ = CertificateChain.Verify(chain, _world.Anchors, FuzzWorld.Now);
        }, WireRejections);

    [Fact]
    public void Revocation_RandomAndMutated_OnlyDocumentedRejections() =>
        Run("revocation", input =>
        {
            var revocation = Wire.FromProto(V1.Revocation.Parser.ParseFrom(input));
            if (!revocation.HasValidSignature())
            {
                throw new SignatureInvalidException("revocation");
            }

            // A verified revocation is applied to the recipient's chain (what the directory does with
            // it): revoked is the expected outcome of the seed, not a rejection of the input.
            try
            {
                _ = CertificateChain.Verify(_world.Recipient.Chain, _world.Anchors, FuzzWorld.Now, RevocationSet.Empty.Add(revocation));
            }
            catch (CertificateRevokedException)
            {
            }
        }, WireRejections);

    [Fact]
    public void Receipt_RandomAndMutated_OnlyDocumentedRejections()
    {
        var recipient = _world.Verify(_world.Recipient);
        var message = SeedEnvelope();
        Run("receipt", input => Wire.FromProto(V1.Receipt.Parser.ParseFrom(input)).Verify(recipient, message), WireRejections);
    }

    [Fact]
    public void EpochKeyDistribution_RandomAndMutated_OnlyDocumentedRejections()
    {
        var creator = _world.Verify(_world.Sender);
        Run("epoch-key-distribution", input =>
        {
            using var key = Wire.FromProto(V1.EpochKeyDistribution.Parser.ParseFrom(input)).Open(creator, _world.Recipient.Keys);
        }, WireRejections);
    }

    [Fact]
    public void DirectoryLog_RandomAndMutated_OnlyDocumentedRejections() =>
        Run("directory-log", input =>
        {
            var page = V1.ReadLogResponse.Parser.ParseFrom(input);
            var verifier = new DirectoryLogVerifier();
            verifier.Extend(page.Entries.Select(Wire.FromProto).ToList());
            verifier.CheckHead(page.HeadPosition, page.HeadLink.Span);
        }, WireRejections);

    // The "signed" targets re-sign the mutated object with the world's key of its claimed signer
    // before checking it, as a signer (a member, an administrator) could: the checks behind the
    // signature (ids, epochs, lengths, roles, validity, nonces) then see the hostile values.

    [Fact]
    public void MessageEnvelopeSigned_RandomAndMutated_OnlyDocumentedRejections()
    {
        var sender = _world.Verify(_world.Sender);
        Run("message-envelope", input =>
        {
            var envelope = Wire.FromProto(V1.MessageEnvelope.Parser.ParseFrom(input));
            envelope = envelope with { Signature = _world.Sender.Keys.Sign(envelope.SigningInput()) };
            _ = envelope.Open(sender, _world.EpochKey);
        }, WireRejections, "message-envelope-signed");
    }

    [Fact]
    public void CertificateChainSigned_RandomAndMutated_OnlyDocumentedRejections() =>
        Run("certificate-chain", input =>
        {
            var chain = V1.CertificateChain.Parser.ParseFrom(input).Certificates.Select(Wire.FromProto)
                .Select(c => KeyOf(c.IssuerSigningKey) is { } issuer ? c with { Signature = issuer.Sign(c.SigningInput()) } : c).ToList();
            _ = CertificateChain.Verify(chain, _world.Anchors, FuzzWorld.Now);
        }, WireRejections, "certificate-chain-signed");

    [Fact]
    public void RevocationSigned_RandomAndMutated_OnlyDocumentedRejections() =>
        Run("revocation", input =>
        {
            var revocation = Wire.FromProto(V1.Revocation.Parser.ParseFrom(input));
            if (KeyOf(revocation.IssuerSigningKey) is { } issuer)
            {
                revocation = revocation with { Signature = issuer.Sign(revocation.SigningInput()) };
            }

            try
            {
                _ = CertificateChain.Verify(_world.Recipient.Chain, _world.Anchors, FuzzWorld.Now, RevocationSet.Empty.Add(revocation));
            }
            catch (CertificateRevokedException)
            {
            }
        }, WireRejections, "revocation-signed");

    [Fact]
    public void ReceiptSigned_RandomAndMutated_OnlyDocumentedRejections()
    {
        var recipient = _world.Verify(_world.Recipient);
        var message = SeedEnvelope();
        Run("receipt", input =>
        {
            var receipt = Wire.FromProto(V1.Receipt.Parser.ParseFrom(input));
            (receipt with { Signature = _world.Recipient.Keys.Sign(receipt.SigningInput()) }).Verify(recipient, message);
        }, WireRejections, "receipt-signed");
    }

    [Fact]
    public void EpochKeyDistributionSigned_RandomAndMutated_OnlyDocumentedRejections()
    {
        var creator = _world.Verify(_world.Sender);
        Run("epoch-key-distribution", input =>
        {
            var distribution = Wire.FromProto(V1.EpochKeyDistribution.Parser.ParseFrom(input));
            distribution = distribution with { Signature = _world.Sender.Keys.Sign(distribution.SigningInput()) };
            using var key = distribution.Open(creator, _world.Recipient.Keys);
        }, WireRejections, "epoch-key-distribution-signed");
    }

    [Fact]
    public void Keystore_RandomAndMutated_OnlyDocumentedRejections() =>
        Run("keystore", input =>
        {
            var file = KeystoreFile.Parse(input);
            // Unlocking costs Argon2id at the file's stated cost: only at the seeds' (test) cost.
            if (file.Kdf == Argon2idParameters.InsecureForTests)
            {
                using var secret = PassphraseBuffer.From(KeystorePassphrase, "passphrase");
                using var keys = file.Unseal(secret);
            }
        }, [typeof(KeystoreException)]);

    [Fact]
    public void Template_RandomAndMutated_OnlyDocumentedRejections()
    {
        var draft = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Templates", "request-for-information.draft.json"));
        FuzzHarness.Run("template", [File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "Templates", "request-for-information.json"))], input =>
        {
            // A template as the CLI reads it from a file; the validator then runs over a draft against it.
            var template = GlobeClient.ParseTemplate(Encoding.UTF8.GetString(input));
            _ = DraftValidator.Validate(template, draft);
        }, [typeof(InvalidProtocolBufferException), typeof(InvalidJsonException)], defaultCases: 200, maxRandomLength: 512);
    }

    [Fact]
    public void Draft_RandomAndMutated_OnlyProblemsNeverExceptions()
    {
        var template = GlobeClient.ParseTemplate(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Templates", "request-for-information.json")));
        FuzzHarness.Run("draft", [File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "Templates", "request-for-information.draft.json"))], input =>
        {
            // The documented answer to any draft is a list of problems (empty for the valid seed).
            if (DraftValidator.Validate(template, Encoding.UTF8.GetString(input)) is { Count: > 0 } problems)
            {
                throw new FuzzRejectedException(problems[0].Problem);
            }
        }, [typeof(FuzzRejectedException)], defaultCases: 300, maxRandomLength: 512);
    }

    [Fact]
    public void AuditExport_RandomAndMutated_OnlyAFailedVerificationNeverExceptions() =>
        Run("audit-export", input =>
        {
            var result = AuditExportVerifier.Verify(new MemoryStream(input), [_world.CheckpointKey.PublicKey]);
            if (!result.IsValid)
            {
                throw new FuzzRejectedException(result.Problem ?? "invalid");
            }
        }, [typeof(FuzzRejectedException)]);

    // The target's name is the corpus's unless given (the signed variants share their parser's seeds).
    private static void Run(string corpus, Action<byte[]> parse, Type[] documented, string? name = null) =>
        FuzzHarness.Run(name ?? corpus, FuzzHarness.Corpus(corpus), parse, documented);

    private SigningKeyPair? KeyOf(SigningPublicKey key) =>
        new[] { _world.Root, _world.NetworkAdmin.Keys.Signing, _world.AuthorityAdmin.Keys.Signing, _world.Sender.Keys.Signing, _world.Recipient.Keys.Signing }
            .FirstOrDefault(k => k.PublicKey.Equals(key));

    private MessageEnvelope SeedEnvelope() =>
        Wire.FromProto(V1.MessageEnvelope.Parser.ParseFrom(FuzzHarness.Corpus("message-envelope")[0]));

    /// <summary>Regenerates the committed seeds (run by hand: it is explicit). Random nonces change; keys and ids do not.</summary>
    [Fact(Explicit = true)]
    public async Task WriteCorpus()
    {
        var ct = TestContext.Current.CancellationToken;
        var w = _world;
        MessageHeader Header(int n, string contentType, IReadOnlyList<Guid> documents) => new(FuzzWorld.ChannelId, FuzzWorld.Id(0x1000 + n),
            w.Sender.UserId, w.Sender.Keys.DeviceId, w.EpochKey.Epoch, FuzzWorld.Now.AddMinutes(n), contentType, "H2", "B2", documents);
        var text = MessageEnvelope.Seal(Header(1, "text/plain", []), "Meet at nine."u8, w.EpochKey, w.Sender.Keys);
        var withDocument = MessageEnvelope.Seal(Header(2, "application/vnd.globe.message+protobuf", [FuzzWorld.Id(0xD0C)]),
            new V1.MessageContent { Text = "See attached." }.ToByteArray(), w.EpochKey, w.Sender.Keys);
        Write("message-envelope", "text", text.ToProto().ToByteArray());
        Write("message-envelope", "with-document", withDocument.ToProto().ToByteArray());

        var content = new V1.MessageContent { Text = "Bank records attached.", Documents =
        {
            new V1.AttachedDocument { DocumentId = FuzzWorld.Id(0xD0C).ToString(), FileKey = ByteString.CopyFrom(new byte[32]),
                PlaintextHash = ByteString.CopyFrom(new byte[32]), CiphertextHash = ByteString.CopyFrom(new byte[32]), PlaintextLength = 1234, FileName = "records.pdf" },
        } };
        Write("message-content", "one-document", content.ToByteArray());
        Write("message-content", "text-only", new V1.MessageContent { Text = "ok" }.ToByteArray());

        foreach (var (name, device) in new[] { ("root-issued", w.NetworkAdmin), ("authority-admin", w.AuthorityAdmin), ("investigator", w.Sender) })
        {
            var chain = new V1.CertificateChain();
            chain.Certificates.AddRange(device.Chain.Select(c => c.ToProto()));
            Write("certificate-chain", name, chain.ToByteArray());
        }

        var revocation = Revocation.Issue(FuzzWorld.Id(0x4E40), w.Recipient.Certificate, FuzzWorld.Now.AddDays(-1), "device lost",
            w.AuthorityAdmin.Keys.Signing, w.AuthorityAdmin.Keys.DeviceId);
        Write("revocation", "by-authority-admin", revocation.ToProto().ToByteArray());

        Write("receipt", "delivered", Receipt.Create(ReceiptKind.Delivered, text, FuzzWorld.Now.AddMinutes(5), w.Recipient.UserId, w.Recipient.Keys).ToProto().ToByteArray());
        Write("receipt", "read", Receipt.Create(ReceiptKind.Read, text, FuzzWorld.Now.AddMinutes(6), w.Recipient.UserId, w.Recipient.Keys).ToProto().ToByteArray());

        var distribution = EpochKeyDistribution.Create(w.EpochKey,
            [(w.Sender.Keys.DeviceId, w.Sender.Keys.Public.BoxKey), (w.Recipient.Keys.DeviceId, w.Recipient.Keys.Public.BoxKey)],
            FuzzWorld.Now, w.Sender.UserId, w.Sender.Keys);
        Write("epoch-key-distribution", "two-recipients", distribution.ToProto().ToByteArray());

        Write("directory-log", "root-certificates-revocation", DirectoryLogPage(w, revocation).ToByteArray());

        var directory = Directory.CreateTempSubdirectory("globe-fuzz-corpus-").FullName;
        try
        {
            var device = Path.Combine(directory, "device.key");
            var options = new KeystoreOptions { KdfParameters = Argon2idParameters.InsecureForTests, Label = "fuzz", UserId = w.Sender.UserId };
            await DeviceKeystore.CreateAsync(device, w.Sender.Keys, KeystorePassphrase.AsMemory(), options, ct);
            Write("keystore", "device", await File.ReadAllBytesAsync(device, ct));
            var backup = Path.Combine(directory, "backup.key");
            await DeviceKeystore.ExportBackupAsync(device, KeystorePassphrase.AsMemory(), backup, KeystorePassphrase.AsMemory(), options, ct);
            Write("keystore", "backup", await File.ReadAllBytesAsync(backup, ct));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }

        Write("audit-export", "contiguous-with-checkpoint", AuditExport(w));
    }

    private static V1.ReadLogResponse DirectoryLogPage(FuzzWorld w, Revocation revocation)
    {
        var page = new V1.ReadLogResponse();
        var link = DirectoryLog.Genesis.ToArray();
        void Add(V1.DirectoryEntry entry)
        {
            var converted = Wire.FromProto(entry);
            link = DirectoryLog.Link(link, converted.Position, converted.Kind, converted.Content, converted.Signature);
            entry.Link = ByteString.CopyFrom(link);
            page.Entries.Add(entry);
        }

        Add(new V1.DirectoryEntry { Position = 1, RootKey = ByteString.CopyFrom(w.Root.PublicKey.Span) });
        var position = 2L;
        foreach (var device in new[] { w.NetworkAdmin, w.AuthorityAdmin, w.Sender, w.Recipient })
        {
            Add(new V1.DirectoryEntry { Position = position++, Certificate = device.Certificate.ToProto() });
        }

        Add(new V1.DirectoryEntry { Position = position, Revocation = revocation.ToProto() });
        page.HeadPosition = position;
        page.HeadLink = ByteString.CopyFrom(link);
        return page;
    }

    private static byte[] AuditExport(FuzzWorld w)
    {
        using var output = new MemoryStream();
        using (var writer = new AuditExportWriter(output))
        {
            writer.WriteHeader(new AuditExportHeader(FuzzWorld.Now, FuzzWorld.NetworkId, true, null,
                [new AuditExportKey(w.CheckpointKey.PublicKey.Fingerprint, w.CheckpointKey.PublicKey.Span.ToArray())]));
            var previous = new byte[ChainLinks.HashLength];
            string[] actions = ["identity.authenticate", "channels.send-message", "audit.query"];
            for (var position = 1; position <= actions.Length; position++)
            {
                var entry = new AuditExportEntry(position, FuzzWorld.Id(0xE000 + position), FuzzWorld.Now.AddSeconds(position), actions[position - 1],
                    position == 3 ? "denied" : "allowed", w.Sender.UserId, w.Sender.Keys.DeviceId, FuzzWorld.Id(0xA1), FuzzWorld.ChannelId.ToString(),
                    position == 3 ? "role" : null, "127.0.0.1", null, previous, []);
                entry = entry with { Hash = entry.ComputeLink() };
                writer.WriteEntry(entry);
                previous = entry.Hash;
            }

            var signedAt = FuzzWorld.Now.AddMinutes(1);
            writer.WriteCheckpoint(new AuditExportCheckpoint(3, previous, signedAt, w.CheckpointKey.PublicKey.Fingerprint,
                CheckpointSignature.Sign(w.CheckpointKey, FuzzWorld.NetworkId, 3, previous, signedAt), false));
            writer.WriteEnd();
        }

        return output.ToArray();
    }

    private static void Write(string parser, string name, byte[] bytes, [CallerFilePath] string source = "")
    {
        var directory = Path.Combine(Path.GetDirectoryName(source)!, "corpus", parser);
        Directory.CreateDirectory(directory);
        File.WriteAllBytes(Path.Combine(directory, name + ".bin"), bytes);
    }

    public void Dispose() => _world.Dispose();
}
