using System.Buffers;
using System.Globalization;
using System.Text.Json;
using GlobeSecure.Contracts.V1;
using GlobeSecure.EventStore;
using Google.Protobuf;
using Grpc.Core;

namespace GlobeSecure.Server.Audit;

/// <summary>
/// Writes the JSON Lines of an export (docs/audit.md, "Export format", <c>globe-audit-export/1</c>)
/// to the response stream in chunks of about <see cref="ChunkBytes"/>: a line is appended to the
/// buffer, and the buffer leaves as one chunk once it holds that much. Memory stays flat however
/// many lines go through.
/// </summary>
internal sealed class AuditExportStream(IServerStreamWriter<AuditExportChunk> stream, CancellationToken cancellationToken) : IDisposable
{
    public const string Format = "globe-audit-export/1";
    public const int ChunkBytes = 64 * 1024;

    private readonly ArrayBufferWriter<byte> _buffer = new(ChunkBytes + 4096);
    private Utf8JsonWriter? _json;

    public long Entries { get; private set; }

    public long Checkpoints { get; private set; }

    public async Task HeaderAsync(DateTimeOffset exportedAt, Guid networkId, bool contiguous, AuditFilter filter, IReadOnlyList<ServerKey> keys)
    {
        var w = Begin("header");
        w.WriteString("format", Format);
        w.WriteString("exportedAt", Time(exportedAt));
        w.WriteString("networkId", networkId.ToString());
        w.WriteBoolean("contiguous", contiguous);
        w.WritePropertyName("filter");
        w.WriteRawValue(JsonFormatter.Default.Format(filter), skipInputValidation: true);
        w.WriteStartArray("keys");
        foreach (var key in keys)
        {
            w.WriteStartObject();
            w.WriteString("keyId", key.KeyId);
            w.WriteString("publicKey", Hex(key.PublicKey.Span));
            w.WriteEndObject();
        }

        w.WriteEndArray();
        await EndAsync();
    }

    public async Task EntryAsync(LinkedAuditEntry linked)
    {
        var (position, e, hash) = linked.Entry;
        var w = Begin("entry");
        w.WriteNumber("position", position);
        w.WriteString("entryId", e.EntryId.ToString());
        w.WriteString("occurredAt", Time(e.OccurredAt));
        w.WriteString("action", e.Action);
        w.WriteString("outcome", e.Outcome.ToWire());
        Optional(w, "actorUserId", e.ActorUserId?.ToString());
        Optional(w, "actorDeviceId", e.ActorDeviceId?.ToString());
        Optional(w, "actorAuthorityId", e.ActorAuthorityId?.ToString());
        Optional(w, "target", e.Target);
        Optional(w, "reason", e.Reason);
        Optional(w, "peer", e.Peer);
        Optional(w, "traceId", e.TraceId);
        w.WriteString("previousHash", Hex(linked.Previous.Span));
        w.WriteString("hash", Hex(hash.Span));
        Entries++;
        await EndAsync();
    }

    public async Task CheckpointAsync(AuditCheckpoint checkpoint)
    {
        var w = Begin("checkpoint");
        w.WriteNumber("position", checkpoint.Position);
        w.WriteString("hash", Hex(checkpoint.Hash.Span));
        w.WriteString("signedAt", Time(checkpoint.SignedAt.ToDateTimeOffset()));
        w.WriteString("keyId", checkpoint.KeyId);
        w.WriteString("signature", Hex(checkpoint.Signature.Span));
        w.WriteBoolean("retentionCut", checkpoint.RetentionCut);
        Checkpoints++;
        await EndAsync();
    }

    /// <summary>The end line with the counts, then whatever is still buffered.</summary>
    public async Task CompleteAsync()
    {
        var w = Begin("end");
        w.WriteNumber("entries", Entries);
        w.WriteNumber("checkpoints", Checkpoints);
        await EndAsync();
        await SendAsync();
    }

    /// <summary>RFC 3339 UTC with exactly six fraction digits: the precision the chain hashes.</summary>
    public static string Time(DateTimeOffset value) =>
        HashChain.TruncateToMicroseconds(value).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture);

    private static string Hex(ReadOnlySpan<byte> bytes) => Convert.ToHexStringLower(bytes);

    /// <summary>An absent value is omitted, and so is an empty one: both hash as a zero-length field.</summary>
    private static void Optional(Utf8JsonWriter w, string name, string? value)
    {
        if (!string.IsNullOrEmpty(value))
        {
            w.WriteString(name, value);
        }
    }

    private Utf8JsonWriter Begin(string type)
    {
        if (_json is null)
        {
            _json = new Utf8JsonWriter(_buffer);
        }
        else
        {
            _json.Reset(_buffer);
        }

        _json.WriteStartObject();
        _json.WriteString("type", type);
        return _json;
    }

    private async Task EndAsync()
    {
        _json!.WriteEndObject();
        _json.Flush();
        _buffer.Write("\n"u8);
        if (_buffer.WrittenCount >= ChunkBytes)
        {
            await SendAsync();
        }
    }

    public void Dispose() => _json?.Dispose();

    private async Task SendAsync()
    {
        if (_buffer.WrittenCount == 0)
        {
            return;
        }

        await stream.WriteAsync(new AuditExportChunk { Data = ByteString.CopyFrom(_buffer.WrittenSpan) }, cancellationToken);
        _buffer.ResetWrittenCount();
    }
}
