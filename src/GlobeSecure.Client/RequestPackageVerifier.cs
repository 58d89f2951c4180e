using System.Security.Cryptography;
using System.Text;
using GlobeSecure.Crypto;
using Google.Protobuf;
using V1 = GlobeSecure.Contracts.V1;

namespace GlobeSecure.Client;

/// <summary>
/// The checks of <see cref="RequestPackage.Verify(string, IEnumerable{SigningPublicKey})"/>, in order; the
/// first failure ends the run and is reported with its file. Every file the manifest lists must be
/// read by one of the checks: a signed but unknown file is refused too.
/// </summary>
internal sealed class PackageVerifier(string root, TrustAnchors anchors)
{
    private readonly List<string> _checks = [];
    private readonly HashSet<string> _consumed = new(StringComparer.Ordinal);
    private readonly Dictionary<Guid, IReadOnlyList<DeviceCertificate>> _chains = [];
    private readonly Dictionary<long, EpochKey> _keys = [];
    private HashSet<string> _listed = new(StringComparer.Ordinal);
    private Guid? _requestId;

    public PackageVerification Run()
    {
        try
        {
            var manifest = CheckManifest();
            CheckFiles(manifest);
            var request = CheckRequest(manifest);
            var channelId = Id(RequestPackage.RequestPath, request.ChannelId, "channel id");
            LoadCertificates();
            CheckEpochs(channelId);
            CheckMessages(request, channelId);
            CheckRecord(manifest.RequestId, request);
            var unknown = _listed.Where(p => !_consumed.Contains(p)).Order(StringComparer.Ordinal).FirstOrDefault();
            if (unknown is not null)
            {
                throw new Failure(unknown, "the manifest lists it but it is not part of the package layout (no check reads it)");
            }

            return new PackageVerification(true, null, null, _requestId, _checks);
        }
        catch (Failure failure)
        {
            return new PackageVerification(false, failure.File, failure.Message, _requestId, _checks);
        }
        finally
        {
            foreach (var key in _keys.Values)
            {
                key.Dispose();
            }
        }
    }

    // ---------------------------------------------------------------- manifest and files

    private ExportManifest CheckManifest()
    {
        const string file = RequestPackage.ManifestPath;
        var full = Path.Combine(root, file);
        if (!File.Exists(full))
        {
            throw new Failure(file, "missing: a package has a signed manifest at its root");
        }

        ExportManifest manifest;
        try
        {
            manifest = RequestPackage.ReadManifest(File.ReadAllBytes(full));
        }
        catch (Exception e) when (e is FormatException or System.Text.Json.JsonException or KeyNotFoundException or InvalidOperationException
            or OverflowException or ArgumentException)
        {
            throw new Failure(file, $"not a readable manifest: {e.Message}");
        }

        _requestId = manifest.RequestId;
        _listed = manifest.Files.Select(f => f.Path).ToHashSet(StringComparer.Ordinal);
        Check($"manifest read: request {manifest.RequestId}, {manifest.Files.Count} files, exported {manifest.ExportedAt:O} by device {manifest.ExporterDeviceId}");
        var chainPath = RequestPackage.CertificatePath(manifest.ExporterDeviceId);
        var exporter = VerifyChain(chainPath, ReadChain(chainPath), manifest.ExportedAt, "the exporter");
        try
        {
            manifest.Verify(exporter);
        }
        catch (GlobeCryptoException e)
        {
            throw new Failure(file, $"the manifest does not verify under the exporter's certified key: {e.Message}");
        }

        Check($"manifest signature verified: exporter device {exporter.DeviceId} of authority {exporter.AuthorityId} ({exporter.Role.ToWire()})");
        return manifest;
    }

    private void CheckFiles(ExportManifest manifest)
    {
        var present = RequestPackage.ListFiles(root).Where(p => p != RequestPackage.ManifestPath).ToHashSet(StringComparer.Ordinal);
        foreach (var file in manifest.Files)
        {
            if (!present.Contains(file.Path))
            {
                throw new Failure(file.Path, "missing: the signed manifest lists it");
            }

            var actual = RequestPackage.Describe(root, file.Path);
            if (actual.Size != file.Size)
            {
                throw new Failure(file.Path, $"its size is {actual.Size} bytes; the signed manifest says {file.Size}");
            }

            if (!CryptographicOperations.FixedTimeEquals(actual.Sha256, file.Sha256))
            {
                throw new Failure(file.Path, "its SHA-256 is not the one the signed manifest states: the file was changed");
            }
        }

        var extra = present.Where(p => !_listed.Contains(p)).Order(StringComparer.Ordinal).FirstOrDefault();
        if (extra is not null)
        {
            throw new Failure(extra, "not listed in the signed manifest: a file was added");
        }

        Check($"every file's size and SHA-256 match the signed manifest ({manifest.Files.Count} files), none missing, none added");
    }

    private V1.InformationRequest CheckRequest(ExportManifest manifest)
    {
        var request = Proto<V1.InformationRequest>(RequestPackage.RequestPath);
        if (Id(RequestPackage.RequestPath, request.RequestId, "request id") != manifest.RequestId)
        {
            throw new Failure(RequestPackage.RequestPath, $"it is request {request.RequestId}, not the manifest's {manifest.RequestId}");
        }

        Check($"request metadata: {request.Status}, from authority {request.RequestingAuthorityId} to {request.RequestedAuthorityId}, thread {request.ChannelId}");
        return request;
    }

    // ---------------------------------------------------------------- certificates and epochs

    private void LoadCertificates()
    {
        foreach (var path in _listed.Where(p => p.StartsWith("certificates/", StringComparison.Ordinal)).Order(StringComparer.Ordinal))
        {
            var chain = ReadChain(path);
            if (path != RequestPackage.CertificatePath(chain[0].DeviceId))
            {
                throw new Failure(path, $"it holds the chain of device {chain[0].DeviceId}, not the one its name says");
            }
        }

        Check($"certificate chains read: {_chains.Count} devices");
    }

    private void CheckEpochs(Guid channelId)
    {
        foreach (var path in _listed.Where(p => p.StartsWith("epochs/", StringComparison.Ordinal)).Order(StringComparer.Ordinal))
        {
            var bytes = Read(path);
            EpochKeyDistribution distribution;
            byte[] keyBytes;
            try
            {
                var (wire, key) = RequestPackage.ReadEpoch(bytes);
                distribution = Wire.FromProto(wire);
                keyBytes = key;
            }
            catch (Exception e) when (IsParseError(e))
            {
                throw new Failure(path, $"not a readable epoch key file: {e.Message}");
            }

            if (distribution.ChannelId != channelId || path != RequestPackage.EpochPath(distribution.Epoch))
            {
                throw new Failure(path, $"it is the key of channel {distribution.ChannelId} epoch {distribution.Epoch}, not of this request's thread epoch its name says");
            }

            var creator = VerifyChain(path, Chain(path, distribution.CreatorDeviceId), distribution.CreatedAt, "the epoch's creator");
            EpochKey opened;
            try
            {
                distribution.Verify(creator);
                opened = EpochKey.FromBytes(channelId, distribution.Epoch, keyBytes);
            }
            catch (GlobeCryptoException e)
            {
                throw new Failure(path, $"the epoch key distribution does not verify: {e.Message}");
            }

            _keys[distribution.Epoch] = opened;
            if (!CryptographicOperations.FixedTimeEquals(opened.Commitment, distribution.KeyCommitment))
            {
                throw new Failure(path, "the included key is not the one its creator committed to in the signed distribution");
            }

            Check($"epoch {distribution.Epoch}: distribution signed by device {creator.DeviceId}, included key matches its signed commitment");
        }
    }

    // ---------------------------------------------------------------- messages

    private void CheckMessages(V1.InformationRequest request, Guid channelId)
    {
        var folders = _listed.Where(p => p.StartsWith("messages/", StringComparison.Ordinal))
            .Select(p => p.Split('/'))
            .Select(s => s.Length == 3 ? $"{s[0]}/{s[1]}" : throw new Failure(string.Join('/', s), "not part of the package layout"))
            .Distinct()
            .Order(StringComparer.Ordinal)
            .ToList();
        var requestId = _requestId!.Value;
        var sawForm = false;
        foreach (var folder in folders)
        {
            var envelopePath = $"{folder}/{RequestPackage.EnvelopeName}";
            if (!_listed.Contains(envelopePath))
            {
                throw new Failure(folder, $"a message folder without its {RequestPackage.EnvelopeName}");
            }

            var stored = Proto<V1.StoredMessage>(envelopePath);
            MessageEnvelope envelope;
            try
            {
                envelope = Wire.FromProto(stored.Envelope ?? throw new MalformedInputException("no envelope"));
            }
            catch (Exception e) when (IsParseError(e))
            {
                throw new Failure(envelopePath, $"not a readable message envelope: {e.Message}");
            }

            var header = envelope.Header;
            if (folder != RequestPackage.MessageFolder(header.MessageId) || header.ChannelId != channelId)
            {
                throw new Failure(envelopePath, $"it is message {header.MessageId} of channel {header.ChannelId}, not a message of this request's thread in its own folder");
            }

            var sender = VerifyChain(envelopePath, Chain(envelopePath, header.SenderDeviceId), header.SentAt, "the sender");
            try
            {
                envelope.VerifySignature(sender);
            }
            catch (GlobeCryptoException e)
            {
                throw new Failure(envelopePath, $"the message signature does not verify: {e.Message}");
            }

            var opened = _keys.TryGetValue(header.Epoch, out var key) ? OpenBody(folder, envelope, sender, key) : CheckSealedOnly(folder, header);
            if (header.MessageId == requestId)
            {
                if (header.ContentType != GlobeClient.RequestFormContentType || sender.AuthorityId.ToString() != request.RequestingAuthorityId)
                {
                    throw new Failure(envelopePath, "the message with the request's id is not a request form sent by the requesting authority");
                }

                sawForm = true;
            }

            CheckReceipts(folder, envelope);
            Check($"message {header.MessageId}: signed by device {sender.DeviceId} of authority {sender.AuthorityId} at {header.SentAt:O}"
                + (opened ? ", decrypts to the included plaintext" : ", not decrypted (the exporter held no key for its epoch)"));
        }

        if (!sawForm)
        {
            throw new Failure(RequestPackage.MessageFolder(requestId), "the request's form message (whose id is the request id) is missing");
        }
    }

    private bool OpenBody(string folder, MessageEnvelope envelope, VerifiedDevice sender, EpochKey key)
    {
        var header = envelope.Header;
        var bodyPath = $"{folder}/{RequestPackage.BodyName(header.ContentType)}";
        if (!_listed.Contains(bodyPath))
        {
            throw new Failure(bodyPath, "missing: the package holds this message's epoch key, so it must hold its decrypted body");
        }

        byte[] plaintext;
        try
        {
            plaintext = envelope.Open(sender, key);
        }
        catch (GlobeCryptoException e)
        {
            throw new Failure($"{folder}/{RequestPackage.EnvelopeName}", $"the message does not decrypt with its epoch's included key: {e.Message}");
        }

        if (!CryptographicOperations.FixedTimeEquals(plaintext, Read(bodyPath)))
        {
            throw new Failure(bodyPath, "it is not what the signed ciphertext decrypts to");
        }

        var textPath = $"{folder}/{RequestPackage.TextName}";
        if (header.ContentType != GlobeClient.MessageContentType)
        {
            if (_listed.Contains(textPath))
            {
                throw new Failure(textPath, "only a message with attachments has a separate text file");
            }

            return true;
        }

        V1.MessageContent content;
        List<DocumentAttachment> attachments;
        try
        {
            content = V1.MessageContent.Parser.ParseFrom(plaintext);
            attachments = [.. content.Documents.Select(Wire.FromProto)];
        }
        catch (Exception e) when (e is InvalidProtocolBufferException || IsParseError(e))
        {
            throw new Failure(bodyPath, $"the signed body is not a valid message with attachments: {e.Message}");
        }

        if (!attachments.Select(a => a.DocumentId).SequenceEqual(header.DocumentIds))
        {
            throw new Failure(bodyPath, "its attachments do not name the documents of the signed header, in order");
        }

        if (!_listed.Contains(textPath) || !Read(textPath).AsSpan().SequenceEqual(Encoding.UTF8.GetBytes(content.Text)))
        {
            throw new Failure(textPath, "missing, or not the text of the signed body");
        }

        foreach (var attachment in attachments)
        {
            CheckAttachment(attachment);
        }

        return true;
    }

    private bool CheckSealedOnly(string folder, MessageHeader header)
    {
        foreach (var name in new[] { RequestPackage.BodyName(header.ContentType), RequestPackage.TextName })
        {
            if (_listed.Contains($"{folder}/{name}"))
            {
                throw new Failure($"{folder}/{name}", $"a decrypted body without the key of epoch {header.Epoch} cannot be checked against the signed ciphertext");
            }
        }

        return false;
    }

    private void CheckAttachment(DocumentAttachment attachment)
    {
        var path = RequestPackage.AttachmentPath(attachment.DocumentId, attachment.FileName);
        if (!_listed.Contains(path))
        {
            throw new Failure(path, $"missing: the signed message carries document {attachment.DocumentId} under this name");
        }

        using var hash = new Blake2b256();
        using (var stream = File.OpenRead(Path.Combine(root, path)))
        {
            var buffer = new byte[81920];
            int read;
            while ((read = stream.Read(buffer)) > 0)
            {
                hash.Append(buffer.AsSpan(0, read));
            }
        }

        if (hash.Length != attachment.PlaintextLength)
        {
            throw new Failure(path, $"it is {hash.Length} bytes; the signed message says {attachment.PlaintextLength}");
        }

        if (!CryptographicOperations.FixedTimeEquals(hash.Finish(), attachment.PlaintextHash))
        {
            throw new Failure(path, "its BLAKE2b-256 is not the plaintext hash the signed message states");
        }

        _consumed.Add(path);
    }

    private void CheckReceipts(string folder, MessageEnvelope envelope)
    {
        var path = $"{folder}/{RequestPackage.ReceiptsName}";
        if (!_listed.Contains(path))
        {
            return;
        }

        var receipts = Proto<V1.ListReceiptsResponse>(path);
        foreach (var wire in receipts.Receipts)
        {
            Receipt receipt;
            try
            {
                receipt = Wire.FromProto(wire);
            }
            catch (Exception e) when (IsParseError(e))
            {
                throw new Failure(path, $"a receipt is malformed: {e.Message}");
            }

            var recipient = VerifyChain(path, Chain(path, receipt.RecipientDeviceId), receipt.At, "a receipt's recipient");
            try
            {
                receipt.Verify(recipient, envelope);
            }
            catch (GlobeCryptoException e)
            {
                throw new Failure(path, $"the {receipt.Kind} receipt of device {receipt.RecipientDeviceId} does not verify: {e.Message}");
            }
        }

        Check($"message {envelope.Header.MessageId}: {receipts.Receipts.Count} receipts signed by their recipients for its digest");
    }

    // ---------------------------------------------------------------- the server's record

    private void CheckRecord(Guid requestId, V1.InformationRequest request)
    {
        const string path = RequestPackage.RecordPath;
        var record = Proto<V1.RequestRecord>(path);
        if (record.RequestId != requestId.ToString())
        {
            throw new Failure(path, $"it is the record of request {record.RequestId}, not {requestId}");
        }

        var stream = $"request-{requestId}";
        foreach (var e in record.Events)
        {
            if (e.StreamId != stream)
            {
                throw new Failure(path, $"event at position {e.Position} belongs to stream {e.StreamId}, not {stream}");
            }

            var link = Recompute(path, $"event at position {e.Position}", () => ChainLinks.EventLink(e.PreviousHash.Span, e.Position,
                Guid.Parse(e.EventId), e.StreamId, e.Version, e.Type, e.DataJson, e.MetadataJson, e.RecordedAt.ToDateTimeOffset()));
            if (!link.AsSpan().SequenceEqual(e.Hash.Span))
            {
                throw new Failure(path, $"event at position {e.Position}: its link does not recompute from its content and the previous link");
            }
        }

        CheckDrafted(path, record, request);
        foreach (var a in record.Audit)
        {
            if (a.Target != requestId.ToString())
            {
                throw new Failure(path, $"audit entry at position {a.Position} is about {a.Target}, not the request");
            }

            var link = Recompute(path, $"audit entry at position {a.Position}", () => ChainLinks.AuditLink(a.PreviousHash.Span, a.Position,
                Guid.Parse(a.EntryId), a.OccurredAt.ToDateTimeOffset(), a.Action, a.Outcome, OptionalId(a.ActorUserId), OptionalId(a.ActorDeviceId),
                OptionalId(a.ActorAuthorityId), a.Target, a.Reason, a.Peer, a.TraceId));
            if (!link.AsSpan().SequenceEqual(a.Hash.Span))
            {
                throw new Failure(path, $"audit entry at position {a.Position}: its link does not recompute from its content and the previous link");
            }
        }

        Check($"server record: {record.Events.Count} events and {record.Audit.Count} audit entries, every link recomputes from its predecessor's"
            + (record.AuditTruncated ? " (the audit extract was truncated by the server)" : ""));
    }

    /// <summary>The first event of the record (its links checked) names the same parties and thread as the request's metadata.</summary>
    private static void CheckDrafted(string path, V1.RequestRecord record, V1.InformationRequest request)
    {
        var drafted = record.Events.FirstOrDefault(e => e.Version == 1)
            ?? throw new Failure(path, "the record has no first event (the request's drafting)");
        try
        {
            using var json = System.Text.Json.JsonDocument.Parse(drafted.DataJson);
            var data = json.RootElement;
            foreach (var (property, expected) in new[]
            {
                ("requestId", request.RequestId), ("requestingAuthorityId", request.RequestingAuthorityId),
                ("requestedAuthorityId", request.RequestedAuthorityId), ("channelId", request.ChannelId),
            })
            {
                if (!string.Equals(data.GetProperty(property).GetString(), expected, StringComparison.OrdinalIgnoreCase))
                {
                    throw new Failure(RequestPackage.RequestPath, $"its {property} is not the one the server's hash-chained drafting event records");
                }
            }
        }
        catch (Exception e) when (e is System.Text.Json.JsonException or KeyNotFoundException or InvalidOperationException)
        {
            throw new Failure(path, $"the drafting event's data is not readable: {e.Message}");
        }
    }

    private static byte[] Recompute(string path, string what, Func<byte[]> link)
    {
        try
        {
            return link();
        }
        catch (Exception e) when (e is FormatException or ArgumentException or NullReferenceException)
        {
            throw new Failure(path, $"{what} is malformed: {e.Message}");
        }
    }

    private static Guid? OptionalId(string text) => text.Length == 0 ? null : Guid.Parse(text);

    // ---------------------------------------------------------------- helpers

    private IReadOnlyList<DeviceCertificate> ReadChain(string path)
    {
        if (!File.Exists(Path.Combine(root, path)))
        {
            throw new Failure(path, "missing: the package holds no certificate chain for this device");
        }

        var wire = Proto<V1.CertificateChain>(path);
        try
        {
            var chain = wire.Certificates.Select(Wire.FromProto).ToList();
            if (chain.Count == 0)
            {
                throw new MalformedInputException("an empty chain");
            }

            _chains[chain[0].DeviceId] = chain;
            return chain;
        }
        catch (Exception e) when (IsParseError(e))
        {
            throw new Failure(path, $"not a readable certificate chain: {e.Message}");
        }
    }

    private IReadOnlyList<DeviceCertificate> Chain(string user, Guid deviceId) =>
        _chains.TryGetValue(deviceId, out var chain)
            ? chain
            : throw new Failure(user, $"the package holds no certificate chain for device {deviceId} ({RequestPackage.CertificatePath(deviceId)})");

    /// <summary>Verifies a chain to the pinned root at the time the object was signed; the package cannot know of later revocations.</summary>
    private VerifiedDevice VerifyChain(string file, IReadOnlyList<DeviceCertificate> chain, DateTimeOffset at, string who)
    {
        try
        {
            return CertificateChain.Verify(chain, anchors, at);
        }
        catch (GlobeCryptoException e)
        {
            throw new Failure(file, $"the certificate chain of {who} (device {chain[0].DeviceId}) does not verify to the pinned network root at {at:O}: {e.Message}");
        }
    }

    private T Proto<T>(string path)
        where T : IMessage<T>, new()
    {
        try
        {
            return RequestPackage.ReadProto<T>(Read(path));
        }
        catch (Exception e) when (e is InvalidProtocolBufferException or InvalidJsonException or FormatException or ArgumentException)
        {
            throw new Failure(path, $"not readable as {typeof(T).Name}: {e.Message}");
        }
    }

    private byte[] Read(string path)
    {
        if (!_listed.Contains(path))
        {
            throw new Failure(path, "missing: the signed manifest does not list it");
        }

        _consumed.Add(path);
        return File.ReadAllBytes(Path.Combine(root, path));
    }

    private static Guid Id(string file, string text, string what) =>
        Guid.TryParse(text, out var id) ? id : throw new Failure(file, $"its {what} '{text}' is not a UUID");

    private static bool IsParseError(Exception e) =>
        e is GlobeCryptoException or FormatException or System.Text.Json.JsonException or InvalidJsonException or InvalidProtocolBufferException
            or KeyNotFoundException or InvalidOperationException or ArgumentException;

    private void Check(string what) => _checks.Add(what);

    private sealed class Failure(string file, string problem) : Exception(problem)
    {
        public string File { get; } = file;
    }
}
