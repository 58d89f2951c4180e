using System.Runtime.CompilerServices;
using GlobeSecure.EventStore;
using Npgsql;
using NpgsqlTypes;

namespace GlobeSecure.Server.Documents;

/// <summary>
/// The default storage: table <c>document_chunks</c> (created by <see cref="DocumentProjection"/>'s
/// migrations), one row per chunk, stored without compression (ciphertext does not compress). A
/// write is one binary COPY, so a batch of chunks costs one round trip and one commit.
/// </summary>
internal sealed class PostgresDocumentStorage(NpgsqlDataSource dataSource, PostgresEventStore store) : IDocumentStorage
{
    // A download page: this many chunks (of the default 64 KiB) or about this many bytes, whichever is fewer.
    private const int PageChunks = 16;
    private const int PageBytes = 1024 * 1024;

    private string Table => $"{store.Schema}.document_chunks";

    public async Task WriteAsync(Guid documentId, long firstIndex, IReadOnlyList<ReadOnlyMemory<byte>> chunks, CancellationToken cancellationToken)
    {
        if (chunks.Count == 0)
        {
            return;
        }

        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var copy = await connection.BeginBinaryImportAsync($"copy {Table} (document_id, index, data) from stdin (format binary)", cancellationToken);
        for (var i = 0; i < chunks.Count; i++)
        {
            await copy.StartRowAsync(cancellationToken);
            await copy.WriteAsync(documentId, NpgsqlDbType.Uuid, cancellationToken);
            await copy.WriteAsync(firstIndex + i, NpgsqlDbType.Bigint, cancellationToken);
            await copy.WriteAsync(chunks[i], NpgsqlDbType.Bytea, cancellationToken);
        }

        await copy.CompleteAsync(cancellationToken);
    }

    public async Task<long> ChunksHeldAsync(Guid documentId, CancellationToken cancellationToken)
    {
        // Chunks are only ever written as a prefix, so the highest index says how many there are (an index probe, not a count).
        await using var command = dataSource.CreateCommand($"select coalesce(max(index) + 1, 0) from {Table} where document_id = $1");
        command.Parameters.Add(new NpgsqlParameter { Value = documentId });
        return (long)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    public async IAsyncEnumerable<StoredChunk> ReadAsync(Guid documentId, long fromIndex, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        // Each page is read whole and its connection given back before the caller writes it out
        // (a slow reader never holds a database connection); the next page is read while this
        // one is written, so at most two pages are in memory.
        Task<Page>? reading = PageAsync(documentId, fromIndex, PageChunks, cancellationToken);
        try
        {
            while (reading is not null)
            {
                var page = await reading;
                reading = null;
                if (page.Chunks.Count > 0 && page.Chunks.Count == page.Limit)
                {
                    var chunks = page.Chunks;
                    reading = PageAsync(documentId, chunks[^1].Index + 1, Math.Clamp(PageBytes / Math.Max(1, chunks[0].Data.Length), 1, PageChunks),
                        cancellationToken);
                }

                foreach (var chunk in page.Chunks)
                {
                    yield return chunk;
                }
            }
        }
        finally
        {
            if (reading is not null)
            {
                // The reader stopped early: let the prefetch end before the enumeration does.
                try
                {
                    await reading;
                }
                catch (Exception e) when (e is OperationCanceledException or NpgsqlException)
                {
                    // Nobody wants that page any more.
                }
            }
        }
    }

    /// <summary>Up to <paramref name="Limit"/> chunks; fewer means the end.</summary>
    private sealed record Page(List<StoredChunk> Chunks, int Limit);

    private async Task<Page> PageAsync(Guid documentId, long from, int limit, CancellationToken cancellationToken)
    {
        var page = new List<StoredChunk>(limit);
        await using var command = dataSource.CreateCommand($"select index, data from {Table} where document_id = $1 and index >= $2 order by index limit $3");
        command.Parameters.Add(new NpgsqlParameter { Value = documentId });
        command.Parameters.Add(new NpgsqlParameter { Value = from });
        command.Parameters.Add(new NpgsqlParameter { Value = limit });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            page.Add(new StoredChunk(reader.GetInt64(0), reader.GetFieldValue<byte[]>(1)));
        }

        return new Page(page, limit);
    }

    public async Task DeleteAsync(Guid documentId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand($"delete from {Table} where document_id = $1");
        command.Parameters.Add(new NpgsqlParameter { Value = documentId });
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task<long> BytesUsedAsync(Guid documentId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand($"select coalesce(sum(octet_length(data)), 0)::bigint from {Table} where document_id = $1");
        command.Parameters.Add(new NpgsqlParameter { Value = documentId });
        return (long)(await command.ExecuteScalarAsync(cancellationToken))!;
    }
}
