using GlobeSecure.Contracts.V1;
using GlobeSecure.EventStore;
using GlobeSecure.Server.Infrastructure;
using Npgsql;

namespace GlobeSecure.Server.Documents;

/// <summary>A document as the projection holds it; <see cref="MessageIds"/> are the messages that carry it.</summary>
internal sealed record DocumentRow(Guid DocumentId, Guid ChannelId, Guid UploaderUserId, Guid UploaderDeviceId, Guid AuthorityId, DocumentStatus Status,
    byte[] Header, long CiphertextLength, int ChunkSize, long ChunkCount, byte[]? CiphertextHash, DateTimeOffset CreatedAt, DateTimeOffset ExpiresAt,
    DateTimeOffset? SealedAt, IReadOnlyList<Guid> MessageIds)
{
    public ChunkLayout Layout => ChunkLayout.Of(CiphertextLength, ChunkSize)
        ?? throw new InvalidOperationException($"Document {DocumentId} was stored with a length its chunk size cannot have.");

    public bool IsUploader(Infrastructure.Caller caller) => caller.UserId == UploaderUserId && caller.DeviceId == UploaderDeviceId;
}

/// <summary>Queries over the document projection's tables (never writes).</summary>
internal sealed class DocumentReadModel(NpgsqlDataSource dataSource, PostgresEventStore store)
{
    private const string Columns = """
        d.document_id, d.channel_id, d.uploader_user_id, d.uploader_device_id, d.authority_id, d.status, d.header, d.ciphertext_length, d.chunk_size,
        d.chunk_count, d.ciphertext_hash, d.created_at, d.expires_at, d.sealed_at,
        coalesce((select array_agg(m.message_id order by m.message_id) from {schema}.document_messages m where m.document_id = d.document_id), '{}')
        """;

    public async Task<DocumentRow?> DocumentAsync(Guid documentId, CancellationToken cancellationToken) =>
        (await RowsAsync($"select {Columns} from {{schema}}.documents d where d.document_id = $1", cancellationToken, documentId)).FirstOrDefault();

    /// <summary>The channel's documents that a message carries, and <paramref name="userId"/>'s own uploads to it, newest first.</summary>
    public Task<IReadOnlyList<DocumentRow>> ChannelDocumentsAsync(Guid channelId, Guid userId, CancellationToken cancellationToken) =>
        RowsAsync($$"""
            select {{Columns}} from {schema}.documents d
            where d.channel_id = $1
              and (d.uploader_user_id = $2 or exists (select 1 from {schema}.document_messages m where m.document_id = d.document_id))
            order by d.created_at desc, d.document_id desc
            """, cancellationToken, channelId, userId);

    /// <summary>Bytes reserved by the authority's UPLOADING and SEALED documents.</summary>
    public async Task<long> UsedBytesAsync(Guid authorityId, CancellationToken cancellationToken)
    {
        await using var command = Command("select bytes from {schema}.document_usage where authority_id = $1", authorityId);
        return await command.ExecuteScalarAsync(cancellationToken) is long bytes ? bytes : 0;
    }

    /// <summary>Uploads still UPLOADING whose expiry has passed, oldest first, at most <paramref name="limit"/>.</summary>
    public Task<IReadOnlyList<Guid>> ExpiredUploadsAsync(DateTimeOffset now, int limit, CancellationToken cancellationToken) =>
        IdsAsync("select document_id from {schema}.documents where status = 'Uploading' and expires_at <= $1 order by expires_at limit $2",
            cancellationToken, now, limit);

    /// <summary>SEALED documents sealed at or before <paramref name="cutoff"/>, oldest first, at most <paramref name="limit"/>.</summary>
    public Task<IReadOnlyList<Guid>> SealedBeforeAsync(DateTimeOffset cutoff, int limit, CancellationToken cancellationToken) =>
        IdsAsync("select document_id from {schema}.documents where status = 'Sealed' and sealed_at <= $1 order by sealed_at limit $2",
            cancellationToken, cutoff, limit);

    /// <summary>Documents that expired or were deleted at or after <paramref name="since"/>, newest first, at most <paramref name="limit"/>.</summary>
    public Task<IReadOnlyList<Guid>> EndedSinceAsync(DateTimeOffset since, int limit, CancellationToken cancellationToken) =>
        IdsAsync("select document_id from {schema}.documents where ended_at >= $1 order by ended_at desc limit $2", cancellationToken, since, limit);

    private async Task<IReadOnlyList<Guid>> IdsAsync(string sql, CancellationToken cancellationToken, params object[] parameters)
    {
        await using var command = Command(sql, parameters);
        var result = new List<Guid>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            result.Add(reader.GetGuid(0));
        }

        return result;
    }

    private async Task<IReadOnlyList<DocumentRow>> RowsAsync(string sql, CancellationToken cancellationToken, params object[] parameters)
    {
        await using var command = Command(sql, parameters);
        var result = new List<DocumentRow>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            result.Add(new DocumentRow(reader.GetGuid(0), reader.GetGuid(1), reader.GetGuid(2), reader.GetGuid(3), reader.GetGuid(4),
                Enum.Parse<DocumentStatus>(reader.GetString(5)), reader.GetFieldValue<byte[]>(6), reader.GetInt64(7), reader.GetInt32(8), reader.GetInt64(9),
                reader.IsDBNull(10) ? null : reader.GetFieldValue<byte[]>(10), reader.GetFieldValue<DateTimeOffset>(11), reader.GetFieldValue<DateTimeOffset>(12),
                reader.IsDBNull(13) ? null : reader.GetFieldValue<DateTimeOffset>(13), reader.GetFieldValue<Guid[]>(14)));
        }

        return result;
    }

    private NpgsqlCommand Command(string sql, params object[] parameters) => dataSource.SchemaCommand(store, sql, parameters);
}
