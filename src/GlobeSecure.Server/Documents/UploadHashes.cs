using System.Collections.Concurrent;
using GlobeSecure.Crypto;

namespace GlobeSecure.Server.Documents;

/// <summary>
/// The running BLAKE2b-256 of each upload this process is receiving, over header ‖ chunk 0 ‖ …,
/// with how many chunks it covers, so that a chunk is hashed once, as it arrives. When a hash is
/// missing or does not cover exactly the chunks held (another process took part of the upload, a
/// restart, a write that failed half-way), it is recomputed by streaming the held chunks from
/// storage. One upload call at a time per document in this process (a resumed stream waits for
/// the broken one to let go).
/// </summary>
internal sealed class UploadHashes(IDocumentStorage storage)
{
    private readonly ConcurrentDictionary<Guid, Running> _running = new();

    /// <summary>Takes the document's hash for one call; dispose the lease to let the next call have it.</summary>
    public async Task<Lease> AcquireAsync(Guid documentId, CancellationToken cancellationToken)
    {
        var running = _running.GetOrAdd(documentId, _ => new Running());
        await running.Gate.WaitAsync(cancellationToken);
        return new Lease(this, documentId, running);
    }

    /// <summary>The documents this process holds a hash for.</summary>
    public IReadOnlyList<Guid> DocumentIds => [.. _running.Keys];

    /// <summary>Drops the document's hash (sealed, expired or deleted), once no call holds it.</summary>
    public async Task ForgetAsync(Guid documentId, CancellationToken cancellationToken)
    {
        if (_running.TryRemove(documentId, out var running))
        {
            await running.Gate.WaitAsync(cancellationToken);
            running.Drop();
            running.Gate.Release();
        }
    }

    internal sealed class Running
    {
        public SemaphoreSlim Gate { get; } = new(1, 1);

        public Blake2b256? Hash { get; set; }

        public long Covered { get; set; } = -1;

        public byte[]? Final { get; set; }

        public void Drop()
        {
            Hash?.Dispose();
            Hash = null;
            Final = null;
            Covered = -1;
        }
    }

    /// <summary>One call's hold on an upload's running hash.</summary>
    public sealed class Lease(UploadHashes owner, Guid documentId, UploadHashes.Running running) : IDisposable
    {
        /// <summary>Makes the hash cover exactly the first <paramref name="chunksHeld"/> chunks, recomputing from storage when it does not.</summary>
        public async Task CoverAsync(byte[] header, long chunksHeld, long chunkCount, CancellationToken cancellationToken)
        {
            if (running.Covered == chunksHeld && (running.Hash is not null || running.Final is not null))
            {
                return;
            }

            running.Drop();
            var hash = new Blake2b256();
            hash.Append(header);
            long covered = 0;
            await foreach (var chunk in owner.Storage.ReadAsync(documentId, 0, cancellationToken))
            {
                if (chunk.Index >= chunksHeld)
                {
                    break;
                }

                hash.Append(chunk.Data);
                covered++;
            }

            if (covered != chunksHeld)
            {
                hash.Dispose();
                throw new InvalidOperationException($"Document {documentId}: storage holds {covered} chunks in a row, not {chunksHeld}.");
            }

            running.Hash = hash;
            running.Covered = covered;
            Finish(chunkCount);
        }

        /// <summary>Adds chunks just stored (in order, right after those covered).</summary>
        public void Append(IReadOnlyList<ReadOnlyMemory<byte>> chunks, long chunkCount)
        {
            var hash = running.Hash ?? throw new InvalidOperationException("The upload's hash is complete or was not prepared.");
            foreach (var chunk in chunks)
            {
                hash.Append(chunk.Span);
            }

            running.Covered += chunks.Count;
            Finish(chunkCount);
        }

        /// <summary>The hash of the whole ciphertext, once every chunk is covered.</summary>
        public byte[]? Final => running.Final;

        /// <summary>Forgets what the hash covers, so the next call recomputes it (after a write whose outcome is unknown).</summary>
        public void Invalidate() => running.Drop();

        public void Dispose() => running.Gate.Release();

        private void Finish(long chunkCount)
        {
            if (running.Covered == chunkCount && running.Hash is { } hash)
            {
                running.Final = hash.Finish();
                hash.Dispose();
                running.Hash = null;
            }
        }
    }

    private IDocumentStorage Storage => storage;
}
