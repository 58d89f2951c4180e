using GlobeSecure.Server.Infrastructure;
using Npgsql;

namespace GlobeSecure.Server.Documents;

/// <summary>
/// Writes an upload's chunks to storage in batches (up to <see cref="BatchChunks"/> chunks or
/// <see cref="BatchBytes"/> bytes), one batch in flight while the next one fills, so receiving
/// and storing overlap; memory is two batches whatever the document's size. Each batch is added
/// to the running hash while it is stored, in order (and forgotten if the write fails). Writes are not cancelled with the call: a
/// batch is small, and chunks that arrived whole are worth keeping for the resumed upload. Not
/// thread-safe: one upload call, which must flush before it ends (never leaving a write running).
/// </summary>
internal sealed class ChunkWriter(IDocumentStorage storage, UploadHashes.Lease hash, Guid documentId, long firstIndex, long chunkCount)
{
    // 4 MiB per commit: at 1 MiB the commit per batch (WAL flush, round trips) held a 1 GiB upload
    // to about half the rate (ops/bench.sh --only documents); memory stays two batches per upload.
    public const int BatchChunks = 64;
    public const int BatchBytes = 4 * 1024 * 1024;

    private List<ReadOnlyMemory<byte>> _batch = new(BatchChunks);
    private int _batchBytes;
    private long _batchFrom = firstIndex;
    private Task _inFlight = Task.CompletedTask;

    /// <summary>Adds the next chunk; starts storing the batch when it is full (after the previous one is stored).</summary>
    public async Task AddAsync(ReadOnlyMemory<byte> chunk)
    {
        _batch.Add(chunk);
        _batchBytes += chunk.Length;
        if (_batch.Count >= BatchChunks || _batchBytes >= BatchBytes)
        {
            await SubmitAsync();
        }
    }

    /// <summary>Stores everything added; when it returns, every chunk is durable.</summary>
    public async Task FlushAsync()
    {
        await SubmitAsync();
        await _inFlight;
    }

    private async Task SubmitAsync()
    {
        await _inFlight;
        if (_batch.Count == 0)
        {
            return;
        }

        var batch = _batch;
        var from = _batchFrom;
        _batch = new List<ReadOnlyMemory<byte>>(BatchChunks);
        _batchBytes = 0;
        _batchFrom += batch.Count;
        _inFlight = WriteAsync(batch, from);
    }

    private async Task WriteAsync(List<ReadOnlyMemory<byte>> batch, long from)
    {
        // The batch is hashed while it is written (the two take about as long): the running hash
        // then covers it before the write is known to have succeeded, so a failed write forgets it.
        var hashing = Task.Run(() => hash.Append(batch, chunkCount));
        try
        {
            await storage.WriteAsync(documentId, from, batch, CancellationToken.None);
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UniqueViolation)
        {
            await SettleAsync(hashing);
            hash.Invalidate();
            throw new WrongStateException(
                "Another upload call of this document stored these chunks meanwhile; ask GetDocument for chunks_held and continue from there.");
        }
        catch
        {
            // Whether the batch was stored is unknown: the next call recomputes the hash from storage.
            await SettleAsync(hashing);
            hash.Invalidate();
            throw;
        }

        await hashing;
    }

    private static async Task SettleAsync(Task hashing)
    {
        try
        {
            await hashing;
        }
        catch (InvalidOperationException)
        {
            // The hash was already dropped; it is invalidated below in any case.
        }
    }
}
