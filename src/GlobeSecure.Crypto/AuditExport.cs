using System.Buffers;
using System.Globalization;
using System.Text.Json;
namespace GlobeSecure.Crypto;

/// <summary>One audit entry as an export carries it (docs/audit.md "Export format").</summary>
/// <param name="Position">Its position in the audit chain.</param>
/// <param name="EntryId">Its id.</param>
/// <param name="OccurredAt">When it happened (whole microseconds, as hashed).</param>
/// <param name="Action">The action's name.</param>
/// <param name="Outcome"><c>allowed</c>, <c>denied</c> or <c>failed</c>.</param>
/// <param name="ActorUserId">The acting user, if known.</param>
/// <param name="ActorDeviceId">The acting device, if known.</param>
/// <param name="ActorAuthorityId">The acting user's authority, if known.</param>
/// <param name="Target">What was acted on, if anything.</param>
/// <param name="Reason">A machine reason for a refusal or failure.</param>
/// <param name="Peer">The caller's network address.</param>
/// <param name="TraceId">The W3C trace id of the call.</param>
/// <param name="PreviousHash">The link before it (32 zero bytes before position 1).</param>
/// <param name="Hash">Its link: BLAKE2b-256(previous hash ‖ canonical bytes).</param>
public sealed record AuditExportEntry(long Position, Guid EntryId, DateTimeOffset OccurredAt, string Action, string Outcome,
    Guid? ActorUserId, Guid? ActorDeviceId, Guid? ActorAuthorityId, string? Target, string? Reason, string? Peer, string? TraceId,
    byte[] PreviousHash, byte[] Hash)
{
    /// <summary>The link recomputed from the entry's fields and its previous hash.</summary>
    public byte[] ComputeLink() => ChainLinks.AuditLink(PreviousHash, Position, EntryId, OccurredAt, Action, Outcome, ActorUserId,
        ActorDeviceId, ActorAuthorityId, Target, Reason, Peer, TraceId);
}

/// <summary>A signed checkpoint as an export carries it.</summary>
/// <param name="Position">The position signed.</param>
/// <param name="Hash">The link at that position.</param>
/// <param name="SignedAt">When it was signed.</param>
/// <param name="KeyId">The server key's fingerprint.</param>
/// <param name="Signature">Ed25519 signature over <c>globe/v1/audit-checkpoint</c> canonical bytes (docs/protocol.md §9.2).</param>
/// <param name="RetentionCut">True when the entries up to it were purged under retention.</param>
public sealed record AuditExportCheckpoint(long Position, byte[] Hash, DateTimeOffset SignedAt, string KeyId, byte[] Signature, bool RetentionCut);

/// <summary>A server checkpoint key as the export header lists it.</summary>
/// <param name="KeyId">Its fingerprint.</param>
/// <param name="PublicKey">The Ed25519 public key (32 bytes).</param>
public sealed record AuditExportKey(string KeyId, byte[] PublicKey);

/// <summary>The header line of an export.</summary>
/// <param name="ExportedAt">When the export was made.</param>
/// <param name="NetworkId">The network id (the secretariat's authority id) the checkpoints are signed over.</param>
/// <param name="Contiguous">True when the export holds every stored entry from its first position to its last.</param>
/// <param name="FilterJson">The request's filter as a JSON object (proto JSON names); null for <c>{}</c>.</param>
/// <param name="Keys">The server's checkpoint keys.</param>
public sealed record AuditExportHeader(DateTimeOffset ExportedAt, Guid NetworkId, bool Contiguous, string? FilterJson, IReadOnlyList<AuditExportKey> Keys);

/// <summary>
/// Writes the audit export format (<c>globe-audit-export/1</c>, docs/audit.md "Export format"): a
/// header line, entry lines in ascending position, checkpoint lines, and an end line with the
/// counts. Here, beside <see cref="ChainLinks"/> and <see cref="CheckpointSignature"/>, so that the
/// server's ExportAudit and the client library's offline verifier (GlobeSecure.Client
/// AuditExportVerifier) share one definition of the format.
/// </summary>
public sealed class AuditExportWriter : IDisposable
{
    /// <summary>The format name of the header.</summary>
    public const string Format = "globe-audit-export/1";

    private const string TimeFormat = "yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'";
    private static readonly JsonWriterOptions Options = new() { Indented = false, SkipValidation = false };
    private readonly IBufferWriter<byte> _output;
    private readonly Utf8JsonWriter _json;
    private readonly Stream? _stream;
    private readonly ArrayBufferWriter<byte>? _buffer;
    private long _entries;
    private long _checkpoints;

    /// <summary>Writes to a buffer the caller drains (e.g. into stream chunks).</summary>
    public AuditExportWriter(IBufferWriter<byte> output)
    {
        _output = output ?? throw new ArgumentNullException(nameof(output));
        _json = new Utf8JsonWriter(output, Options);
    }

    /// <summary>Writes to a stream (flushed at every <see cref="Flush"/> and at the end line).</summary>
    public AuditExportWriter(Stream stream)
    {
        _stream = stream ?? throw new ArgumentNullException(nameof(stream));
        _buffer = new ArrayBufferWriter<byte>(64 * 1024);
        _output = _buffer;
        _json = new Utf8JsonWriter(_buffer, Options);
    }

    /// <summary>Entry lines written so far.</summary>
    public long Entries => _entries;

    /// <summary>Checkpoint lines written so far.</summary>
    public long Checkpoints => _checkpoints;

    /// <summary>The first line.</summary>
    public void WriteHeader(AuditExportHeader header)
    {
        ArgumentNullException.ThrowIfNull(header);
        _json.WriteStartObject();
        _json.WriteString("type", "header");
        _json.WriteString("format", Format);
        _json.WriteString("exportedAt", Time(header.ExportedAt));
        _json.WriteString("networkId", header.NetworkId.ToString());
        _json.WriteBoolean("contiguous", header.Contiguous);
        _json.WritePropertyName("filter");
        _json.WriteRawValue(string.IsNullOrWhiteSpace(header.FilterJson) ? "{}" : header.FilterJson);
        _json.WriteStartArray("keys");
        foreach (var key in header.Keys)
        {
            _json.WriteStartObject();
            _json.WriteString("keyId", key.KeyId);
            _json.WriteString("publicKey", Convert.ToHexStringLower(key.PublicKey));
            _json.WriteEndObject();
        }

        _json.WriteEndArray();
        _json.WriteEndObject();
        EndLine();
    }

    /// <summary>An entry line.</summary>
    public void WriteEntry(AuditExportEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        _json.WriteStartObject();
        _json.WriteString("type", "entry");
        _json.WriteNumber("position", entry.Position);
        _json.WriteString("entryId", entry.EntryId.ToString());
        _json.WriteString("occurredAt", Time(entry.OccurredAt));
        _json.WriteString("action", entry.Action);
        _json.WriteString("outcome", entry.Outcome);
        Optional("actorUserId", entry.ActorUserId?.ToString());
        Optional("actorDeviceId", entry.ActorDeviceId?.ToString());
        Optional("actorAuthorityId", entry.ActorAuthorityId?.ToString());
        Optional("target", entry.Target);
        Optional("reason", entry.Reason);
        Optional("peer", entry.Peer);
        Optional("traceId", entry.TraceId);
        _json.WriteString("previousHash", Convert.ToHexStringLower(entry.PreviousHash));
        _json.WriteString("hash", Convert.ToHexStringLower(entry.Hash));
        _json.WriteEndObject();
        EndLine();
        _entries++;
    }

    /// <summary>A checkpoint line.</summary>
    public void WriteCheckpoint(AuditExportCheckpoint checkpoint)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        _json.WriteStartObject();
        _json.WriteString("type", "checkpoint");
        _json.WriteNumber("position", checkpoint.Position);
        _json.WriteString("hash", Convert.ToHexStringLower(checkpoint.Hash));
        _json.WriteString("signedAt", Time(checkpoint.SignedAt));
        _json.WriteString("keyId", checkpoint.KeyId);
        _json.WriteString("signature", Convert.ToHexStringLower(checkpoint.Signature));
        _json.WriteBoolean("retentionCut", checkpoint.RetentionCut);
        _json.WriteEndObject();
        EndLine();
        _checkpoints++;
    }

    /// <summary>The last line, with the counts written; flushes.</summary>
    public void WriteEnd()
    {
        _json.WriteStartObject();
        _json.WriteString("type", "end");
        _json.WriteNumber("entries", _entries);
        _json.WriteNumber("checkpoints", _checkpoints);
        _json.WriteEndObject();
        EndLine();
        Flush();
    }

    /// <summary>Passes what is buffered to the stream (a no-op for a buffer writer).</summary>
    public void Flush()
    {
        if (_stream is not null && _buffer is not null)
        {
            _stream.Write(_buffer.WrittenSpan);
            _buffer.ResetWrittenCount();
        }
    }

    /// <inheritdoc />
    public void Dispose() => _json.Dispose();

    /// <summary>RFC 3339 UTC with exactly six fraction digits (the precision the chain hashes).</summary>
    public static string Time(DateTimeOffset value) =>
        CanonicalWriter.TruncateToMicroseconds(value).UtcDateTime.ToString(TimeFormat, CultureInfo.InvariantCulture);

    /// <summary>Parses a time written by <see cref="Time"/> (exactly that form, nothing else).</summary>
    public static bool TryParseTime(string? text, out DateTimeOffset value) =>
        DateTimeOffset.TryParseExact(text, TimeFormat, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal,
            out value);

    private void Optional(string name, string? value)
    {
        if (!string.IsNullOrEmpty(value))
        {
            _json.WriteString(name, value);
        }
    }

    private void EndLine()
    {
        _json.Flush();
        _json.Reset();
        _output.Write("\n"u8);
        if (_buffer is { WrittenCount: > 60 * 1024 })
        {
            Flush();
        }
    }
}
