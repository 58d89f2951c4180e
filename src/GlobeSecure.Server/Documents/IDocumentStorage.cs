namespace GlobeSecure.Server.Documents;

/// <summary>One stored cipher chunk.</summary>
internal readonly record struct StoredChunk(long Index, byte[] Data);

/// <summary>
/// Where cipher chunks live, apart from the event log (docs/adr/0006-documents.md). Small on
/// purpose, so that an S3-compatible store can be added without touching the feature. Chunks are
/// written in index order as a contiguous prefix (the feature never writes past a gap), and a
/// write is durable when its task completes.
/// </summary>
internal interface IDocumentStorage
{
    /// <summary>Stores chunks <paramref name="firstIndex"/>, <paramref name="firstIndex"/> + 1, … as one durable unit (all or none).</summary>
    Task WriteAsync(Guid documentId, long firstIndex, IReadOnlyList<ReadOnlyMemory<byte>> chunks, CancellationToken cancellationToken);

    /// <summary>How many chunks are held, contiguous from index 0: the next index to write. Only committed chunks count.</summary>
    Task<long> ChunksHeldAsync(Guid documentId, CancellationToken cancellationToken);

    /// <summary>The held chunks from <paramref name="fromIndex"/> on, in order, read in bounded pages (constant memory whatever the size).</summary>
    IAsyncEnumerable<StoredChunk> ReadAsync(Guid documentId, long fromIndex, CancellationToken cancellationToken);

    /// <summary>Deletes every chunk of the document (idempotent).</summary>
    Task DeleteAsync(Guid documentId, CancellationToken cancellationToken);

    /// <summary>Bytes the document's chunks take in storage (the header is not a chunk).</summary>
    Task<long> BytesUsedAsync(Guid documentId, CancellationToken cancellationToken);
}
