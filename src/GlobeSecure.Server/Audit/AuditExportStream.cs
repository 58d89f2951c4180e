using System.Buffers;
using GlobeSecure.Contracts.V1;
using GlobeSecure.Crypto;
using GlobeSecure.EventStore;
using Google.Protobuf;
using Grpc.Core;

namespace GlobeSecure.Server.Audit;

/// <summary>
/// Sends an export (docs/audit.md, "Export format") to the response stream in chunks of about
/// <see cref="ChunkBytes"/>. The lines are written by the one definition of the format,
/// <see cref="AuditExportWriter"/> (GlobeSecure.Crypto, shared with the offline verifier's
/// tests and the benchmark); a chunk leaves once the buffer holds that much, so memory stays flat
/// however many lines go through.
/// </summary>
internal sealed class AuditExportStream : IDisposable
{
    public const int ChunkBytes = 64 * 1024;

    private readonly IServerStreamWriter<AuditExportChunk> _stream;
    private readonly CancellationToken _cancellationToken;
    private readonly ArrayBufferWriter<byte> _buffer = new(ChunkBytes + 4096);
    private readonly AuditExportWriter _writer;

    public AuditExportStream(IServerStreamWriter<AuditExportChunk> stream, CancellationToken cancellationToken)
    {
        (_stream, _cancellationToken) = (stream, cancellationToken);
        _writer = new AuditExportWriter(_buffer);
    }

    public long Entries => _writer.Entries;

    public long Checkpoints => _writer.Checkpoints;

    public Task HeaderAsync(DateTimeOffset exportedAt, Guid networkId, bool contiguous, AuditFilter filter, IReadOnlyList<ServerKey> keys)
    {
        _writer.WriteHeader(new AuditExportHeader(exportedAt, networkId, contiguous, JsonFormatter.Default.Format(filter),
            [.. keys.Select(k => new AuditExportKey(k.KeyId, k.PublicKey.ToByteArray()))]));
        return SendIfFullAsync();
    }

    public Task EntryAsync(LinkedAuditEntry linked)
    {
        var (position, e, hash) = linked.Entry;
        _writer.WriteEntry(new AuditExportEntry(position, e.EntryId, e.OccurredAt, e.Action, e.Outcome.ToWire(), e.ActorUserId, e.ActorDeviceId,
            e.ActorAuthorityId, e.Target, e.Reason, e.Peer, e.TraceId, linked.Previous.ToArray(), hash.ToArray()));
        return SendIfFullAsync();
    }

    public Task CheckpointAsync(AuditCheckpoint checkpoint)
    {
        _writer.WriteCheckpoint(new AuditExportCheckpoint(checkpoint.Position, checkpoint.Hash.ToByteArray(), checkpoint.SignedAt.ToDateTimeOffset(),
            checkpoint.KeyId, checkpoint.Signature.ToByteArray(), checkpoint.RetentionCut));
        return SendIfFullAsync();
    }

    /// <summary>The end line with the counts, then whatever is still buffered.</summary>
    public Task CompleteAsync()
    {
        _writer.WriteEnd();
        return SendAsync();
    }

    public void Dispose() => _writer.Dispose();

    private Task SendIfFullAsync() => _buffer.WrittenCount >= ChunkBytes ? SendAsync() : Task.CompletedTask;

    private async Task SendAsync()
    {
        if (_buffer.WrittenCount == 0)
        {
            return;
        }

        await _stream.WriteAsync(new AuditExportChunk { Data = ByteString.CopyFrom(_buffer.WrittenSpan) }, _cancellationToken);
        _buffer.ResetWrittenCount();
    }
}
