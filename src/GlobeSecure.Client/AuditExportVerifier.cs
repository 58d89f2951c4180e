using System.Buffers;
using System.Text;
using System.Text.Json;
using GlobeSecure.Crypto;

namespace GlobeSecure.Client;

/// <summary>What <see cref="AuditExportVerifier"/> found.</summary>
/// <param name="IsValid">True when every check passed.</param>
/// <param name="Entries">Entry lines checked.</param>
/// <param name="Checkpoints">Checkpoint lines checked.</param>
/// <param name="FirstBadPosition">When not valid: the audit position that failed, when the failure is about one.</param>
/// <param name="Line">When not valid: the line (1-based) that failed, or the line after the last for a missing end line.</param>
/// <param name="Problem">When not valid: what is wrong.</param>
/// <param name="Contiguous">The header's contiguous flag (whether the entries were checked to chain).</param>
public sealed record AuditExportVerification(bool IsValid, long Entries, long Checkpoints, long? FirstBadPosition, long? Line, string? Problem,
    bool Contiguous);

/// <summary>
/// Verifies an audit export (<c>globe-audit-export/1</c>) offline, with no server (docs/audit.md
/// "Verification"): every entry's link is recomputed from its fields and its previous hash; in a
/// contiguous export the entries must chain without gaps, and the first must start the chain
/// (position 1, 32 zero bytes) or continue from a checkpoint in the file at the position before it;
/// every checkpoint must be signed by a header key that the caller trusts, and sign the link of
/// its entry when the entry is in the file; the end line's counts must match. The first failure
/// names its position (when it is about one) and line, and stops.
/// </summary>
public static class AuditExportVerifier
{
    /// <summary>Verifies the export at <paramref name="path"/>.</summary>
    /// <param name="path">The JSON Lines file.</param>
    /// <param name="trustedKeys">The server checkpoint keys to trust (pinned); null trusts the keys the header lists.</param>
    public static AuditExportVerification Verify(string path, IEnumerable<SigningPublicKey>? trustedKeys = null)
    {
        using var stream = File.OpenRead(path);
        return Verify(stream, trustedKeys);
    }

    /// <summary>Verifies an export read from <paramref name="stream"/> (see the other overload); the stream is left open.</summary>
    public static AuditExportVerification Verify(Stream stream, IEnumerable<SigningPublicKey>? trustedKeys = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var run = new Run(trustedKeys?.ToList());
        try
        {
            run.Read(stream);
            return run.Result(null);
        }
        catch (Failure failure)
        {
            return run.Result(failure);
        }
    }

    private sealed class Failure(long? position, string problem) : Exception(problem)
    {
        public long? Position { get; } = position;
    }

    private sealed class Run(List<SigningPublicKey>? trusted)
    {
        private static readonly string[] EntryProperties =
        [
            "type", "position", "entryId", "occurredAt", "action", "outcome", "actorUserId", "actorDeviceId", "actorAuthorityId",
            "target", "reason", "peer", "traceId", "previousHash", "hash",
        ];

        private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);
        private readonly Dictionary<string, SigningPublicKey> _keys = new(StringComparer.Ordinal);
        private readonly Dictionary<long, byte[]> _checkpointHashes = [];
        private Guid _network;
        private bool _contiguous;
        private long _line;
        private long _entries;
        private long _checkpoints;
        private long _lastEntry;
        private long _lastCheckpoint;
        private byte[]? _lastHash;
        private AuditExportEntry? _first;
        private long _firstLine;
        // Every entry's position and link, in order (positions ascend), for the checkpoints that follow.
        private readonly List<long> _positions = [];
        private readonly ArrayBufferWriter<byte> _links = new(1024 * ChainLinks.HashLength);
        private bool _ended;

        public AuditExportVerification Result(Failure? failure) => failure is null
            ? new AuditExportVerification(true, _entries, _checkpoints, null, null, null, _contiguous)
            : new AuditExportVerification(false, _entries, _checkpoints, failure.Position, _line, failure.Message, _contiguous);

        public void Read(Stream stream)
        {
            using var reader = new StreamReader(stream, StrictUtf8, detectEncodingFromByteOrderMarks: false, bufferSize: 1 << 16, leaveOpen: true);
            while (true)
            {
                string? text;
                try
                {
                    text = reader.ReadLine();
                }
                catch (DecoderFallbackException)
                {
                    _line++;
                    throw new Failure(null, "the line is not valid UTF-8");
                }

                if (text is null)
                {
                    break;
                }

                _line++;
                if (_ended)
                {
                    throw new Failure(null, "a line follows the end line");
                }

                Line(text);
            }

            if (!_ended)
            {
                _line++;
                throw new Failure(null, _line == 1 ? "the file is empty" : "the file ends without its end line (truncated)");
            }
        }

        private void Line(string text)
        {
            JsonDocument document;
            try
            {
                document = JsonDocument.Parse(text);
            }
            catch (JsonException)
            {
                throw new Failure(null, "not a JSON object");
            }

            using (document)
            {
                var root = document.RootElement;
                if (root.ValueKind != JsonValueKind.Object)
                {
                    throw new Failure(null, "not a JSON object");
                }

                var type = String(root, "type", null);
                if (_line == 1 && type != "header")
                {
                    throw new Failure(null, "the first line is not the header");
                }

                switch (type)
                {
                    case "header" when _line == 1:
                        Header(root);
                        break;
                    case "entry":
                        Entry(root);
                        break;
                    case "checkpoint":
                        Checkpoint(root);
                        break;
                    case "end":
                        End(root);
                        break;
                    default:
                        throw new Failure(null, $"unexpected line type '{type}'");
                }
            }
        }

        private void Header(JsonElement root)
        {
            Only(root, null, "type", "format", "exportedAt", "networkId", "contiguous", "filter", "keys");
            if (String(root, "format", null) != AuditExportWriter.Format)
            {
                throw new Failure(null, $"the format is not {AuditExportWriter.Format}");
            }

            Time(root, "exportedAt", null);
            _network = Id(root, "networkId", null) ?? throw new Failure(null, "the header has no networkId");
            _contiguous = Bool(root, "contiguous", null);
            if (!root.TryGetProperty("filter", out var filter) || filter.ValueKind != JsonValueKind.Object)
            {
                throw new Failure(null, "the header's filter is not an object");
            }

            if (!root.TryGetProperty("keys", out var keys) || keys.ValueKind != JsonValueKind.Array)
            {
                throw new Failure(null, "the header's keys are not a list");
            }

            foreach (var key in keys.EnumerateArray())
            {
                if (key.ValueKind != JsonValueKind.Object)
                {
                    throw new Failure(null, "a header key is not an object");
                }

                Only(key, null, "keyId", "publicKey");
                SigningPublicKey publicKey;
                try
                {
                    publicKey = new SigningPublicKey(Hex(key, "publicKey", null, 32));
                }
                catch (MalformedInputException)
                {
                    throw new Failure(null, "a header key is not an Ed25519 public key");
                }

                var keyId = String(key, "keyId", null);
                if (keyId != publicKey.Fingerprint)
                {
                    throw new Failure(null, $"header key {keyId} is not the fingerprint of its public key");
                }

                // An untrusted key is left out: checkpoints it signed fail, naming their position.
                if (trusted is null || trusted.Contains(publicKey))
                {
                    _keys[keyId] = publicKey;
                }
            }
        }

        private void Entry(JsonElement root)
        {
            var position = Int(root, "position", null);
            if (_checkpoints > 0)
            {
                throw new Failure(position, "an entry follows the checkpoints (entries come first)");
            }

            Only(root, position, EntryProperties);
            var entry = new AuditExportEntry(position, Id(root, "entryId", position) ?? throw new Failure(position, "the entry has no entryId"),
                Time(root, "occurredAt", position), String(root, "action", position), String(root, "outcome", position),
                Id(root, "actorUserId", position), Id(root, "actorDeviceId", position), Id(root, "actorAuthorityId", position),
                Optional(root, "target", position), Optional(root, "reason", position), Optional(root, "peer", position),
                Optional(root, "traceId", position), Hex(root, "previousHash", position, ChainLinks.HashLength), Hex(root, "hash", position, ChainLinks.HashLength));
            if (entry.Outcome is not ("allowed" or "denied" or "failed"))
            {
                throw new Failure(position, $"unknown outcome '{entry.Outcome}'");
            }

            if (_entries > 0 && position <= _lastEntry)
            {
                throw new Failure(position, $"position {position} comes after position {_lastEntry} (out of order or repeated)");
            }

            if (_contiguous && _entries > 0)
            {
                if (position != _lastEntry + 1)
                {
                    throw new Failure(_lastEntry + 1, $"position {_lastEntry + 1} is missing (the next line is position {position})");
                }

                if (!entry.PreviousHash.AsSpan().SequenceEqual(_lastHash))
                {
                    throw new Failure(position, "its previous hash is not the link of the entry before it");
                }
            }

            if (!entry.ComputeLink().AsSpan().SequenceEqual(entry.Hash))
            {
                throw new Failure(position, "its hash does not match its content and previous hash");
            }

            if (_entries == 0)
            {
                _first = entry;
                _firstLine = _line;
            }

            _positions.Add(position);
            _links.Write(entry.Hash);
            _entries++;
            _lastEntry = position;
            _lastHash = entry.Hash;
        }

        private void Checkpoint(JsonElement root)
        {
            var position = Int(root, "position", null);
            Only(root, position, "type", "position", "hash", "signedAt", "keyId", "signature", "retentionCut");
            var checkpoint = new AuditExportCheckpoint(position, Hex(root, "hash", position, ChainLinks.HashLength), Time(root, "signedAt", position),
                String(root, "keyId", position), Hex(root, "signature", position, 64), Bool(root, "retentionCut", position));
            if (_checkpoints > 0 && position <= _lastCheckpoint)
            {
                throw new Failure(position, $"checkpoint {position} comes after checkpoint {_lastCheckpoint} (out of order or repeated)");
            }

            if (!_keys.TryGetValue(checkpoint.KeyId, out var key))
            {
                throw new Failure(position, $"the checkpoint is signed by key {checkpoint.KeyId}, which is not a trusted key of the header");
            }

            if (!CheckpointSignature.Verify(key, _network, position, checkpoint.Hash, checkpoint.SignedAt, checkpoint.KeyId, checkpoint.Signature))
            {
                throw new Failure(position, $"the checkpoint's signature does not verify under key {checkpoint.KeyId}");
            }

            var index = _positions.BinarySearch(position);
            if (index >= 0 && !_links.WrittenSpan.Slice(index * ChainLinks.HashLength, ChainLinks.HashLength).SequenceEqual(checkpoint.Hash))
            {
                throw new Failure(position, "the checkpoint signs another hash than the entry's link");
            }

            _checkpointHashes[position] = checkpoint.Hash;
            _checkpoints++;
            _lastCheckpoint = position;
        }

        private void End(JsonElement root)
        {
            Only(root, null, "type", "entries", "checkpoints");
            var entries = Int(root, "entries", null);
            var checkpoints = Int(root, "checkpoints", null);
            if (entries != _entries || checkpoints != _checkpoints)
            {
                throw new Failure(null, $"the end line counts {entries} entries and {checkpoints} checkpoints, the file holds {_entries} and {_checkpoints}");
            }

            // The start of a contiguous export is anchored: the chain's start, or a checkpoint just before it.
            if (_contiguous && _first is { } first)
            {
                var anchor = first.Position == 1 ? new byte[ChainLinks.HashLength] : _checkpointHashes.GetValueOrDefault(first.Position - 1);
                if (anchor is null || !anchor.AsSpan().SequenceEqual(first.PreviousHash))
                {
                    _line = _firstLine;
                    throw new Failure(first.Position, first.Position == 1
                        ? "position 1's previous hash is not 32 zero bytes"
                        : $"its previous hash is not the hash of a signed checkpoint at position {first.Position - 1} in the file");
                }
            }

            _ended = true;
        }

        private static void Only(JsonElement element, long? position, params string[] names)
        {
            var seen = 0L;
            foreach (var property in element.EnumerateObject())
            {
                var index = Array.IndexOf(names, property.Name);
                if (index < 0)
                {
                    throw new Failure(position, $"unknown property '{property.Name}'");
                }

                if ((seen & (1L << index)) != 0)
                {
                    throw new Failure(position, $"property '{property.Name}' is repeated");
                }

                seen |= 1L << index;
            }
        }

        private static string String(JsonElement element, string name, long? position) =>
            element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String
                ? value.GetString()!
                : throw new Failure(position, $"'{name}' is missing or not text");

        private static string? Optional(JsonElement element, string name, long? position) =>
            !element.TryGetProperty(name, out var value) ? null
            : value.ValueKind == JsonValueKind.String && value.GetString() is { Length: > 0 } text ? text
            : throw new Failure(position, $"'{name}' is not text (an absent value is omitted)");

        private static long Int(JsonElement element, string name, long? position) =>
            element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out var number) && number >= 0
                ? number
                : throw new Failure(position, $"'{name}' is missing or not a whole number");

        private static bool Bool(JsonElement element, string name, long? position) =>
            element.TryGetProperty(name, out var value) && value.ValueKind is JsonValueKind.True or JsonValueKind.False
                ? value.GetBoolean()
                : throw new Failure(position, $"'{name}' is missing or not true/false");

        private static Guid? Id(JsonElement element, string name, long? position)
        {
            if (Optional(element, name, position) is not { } text)
            {
                return null;
            }

            // Lower-case canonical form only, so that no byte of an id can change unnoticed.
            return Guid.TryParseExact(text, "D", out var id) && id.ToString() == text ? id : throw new Failure(position, $"'{name}' is not a UUID in lower case");
        }

        private static DateTimeOffset Time(JsonElement element, string name, long? position) =>
            AuditExportWriter.TryParseTime(String(element, name, position), out var value)
                ? value
                : throw new Failure(position, $"'{name}' is not an RFC 3339 UTC time with six fraction digits");

        private static byte[] Hex(JsonElement element, string name, long? position, int length)
        {
            var text = String(element, name, position);
            if (text.Length != length * 2 || text.Any(c => c is not (>= '0' and <= '9' or >= 'a' and <= 'f')))
            {
                throw new Failure(position, $"'{name}' is not {length} bytes of lower-case hex");
            }

            return Convert.FromHexString(text);
        }
    }
}
