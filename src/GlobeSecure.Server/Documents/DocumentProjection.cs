using GlobeSecure.EventStore;
using GlobeSecure.Server.Channels;
using Npgsql;

namespace GlobeSecure.Server.Documents;

/// <summary>
/// Documents, the messages that carry them, and each authority's reserved bytes, updated in each
/// append's transaction. The usage row is the exact quota: an upload's reservation and its
/// UploadStarted event commit together, and the row's check constraint refuses a reservation
/// past the quota even when several processes begin uploads at once (the row lock orders them).
/// </summary>
internal sealed class DocumentProjection : IInlineProjection
{
    /// <summary>The usage row's constraint; its violation is a quota refusal.</summary>
    public const string QuotaConstraint = "document_quota";

    private static readonly HashSet<Type> Types = [typeof(UploadStarted), typeof(DocumentSealed), typeof(UploadExpired), typeof(DocumentDeleted), typeof(MessageAccepted)];

    public string Name => "documents";

    public bool OnlyDefers => true;

    /// <summary>The cipher chunks (<see cref="PostgresDocumentStorage"/>) are uploaded bytes, not derived from events: a rebuild keeps them.</summary>
    public IReadOnlyList<string> KeptTables { get; } = ["document_chunks"];

    public IReadOnlyList<SchemaMigration> Migrations { get; } =
    [
        new(1, "documents, the messages carrying them, authority usage, and the PostgreSQL chunk storage", $"""
            create table {"{schema}"}.documents (
                document_id uuid primary key,
                channel_id uuid not null,
                uploader_user_id uuid not null,
                uploader_device_id uuid not null,
                authority_id uuid not null,
                status text not null,
                header bytea not null,
                ciphertext_length bigint not null,
                chunk_size int not null,
                chunk_count bigint not null,
                ciphertext_hash bytea,
                created_at timestamptz not null,
                expires_at timestamptz not null,
                sealed_at timestamptz,
                ended_at timestamptz);
            create index documents_by_channel on {"{schema}"}.documents (channel_id, created_at desc);
            create index documents_uploading on {"{schema}"}.documents (expires_at) where status = 'Uploading';
            create index documents_sealed on {"{schema}"}.documents (sealed_at) where status = 'Sealed';
            create index documents_ended on {"{schema}"}.documents (ended_at) where ended_at is not null;
            create table {"{schema}"}.document_messages (
                document_id uuid not null,
                message_id uuid not null,
                channel_id uuid not null,
                primary key (document_id, message_id));
            -- Bytes reserved by the authority's UPLOADING and SEALED documents, and the quota in force at the last reservation.
            create table {"{schema}"}.document_usage (
                authority_id uuid primary key,
                bytes bigint not null check (bytes >= 0),
                quota_bytes bigint not null,
                constraint {QuotaConstraint} check (bytes <= quota_bytes));
            -- PostgresDocumentStorage: cipher chunks, outside the event log. Ciphertext does not compress: no pglz.
            create table {"{schema}"}.document_chunks (
                document_id uuid not null,
                index bigint not null,
                data bytea not null,
                primary key (document_id, index));
            alter table {"{schema}"}.document_chunks alter column data set storage external;
            """),
    ];

    public bool Handles(Type eventType) => Types.Contains(eventType);

    public Task ApplyAsync(ProjectionContext context, IReadOnlyList<StoredEvent> events, CancellationToken cancellationToken)
    {
        var s = context.Schema;
        foreach (var stored in events)
        {
            switch (stored.Data)
            {
                case UploadStarted e:
                    Defer(context, $"""
                        insert into {s}.documents (document_id, channel_id, uploader_user_id, uploader_device_id, authority_id, status, header,
                            ciphertext_length, chunk_size, chunk_count, created_at, expires_at)
                        values ($1, $2, $3, $4, $5, 'Uploading', $6, $7, $8, $9, $10, $11)
                        """, e.DocumentId, e.ChannelId, e.UploaderUserId, e.UploaderDeviceId, e.UploaderAuthorityId, e.Header, e.CiphertextLength, e.ChunkSize,
                        e.ChunkCount, e.StartedAt, e.ExpiresAt);
                    Defer(context, $"""
                        insert into {s}.document_usage (authority_id, bytes, quota_bytes) values ($1, $2, $3)
                        on conflict (authority_id) do update set bytes = document_usage.bytes + excluded.bytes, quota_bytes = excluded.quota_bytes
                        """, e.UploaderAuthorityId, e.CiphertextLength, e.QuotaBytes);
                    break;
                case DocumentSealed e:
                    Defer(context, $"update {s}.documents set status = 'Sealed', ciphertext_hash = $2, sealed_at = $3 where document_id = $1",
                        e.DocumentId, e.CiphertextHash, e.SealedAt);
                    break;
                case UploadExpired e:
                    End(context, e.DocumentId, "Expired", e.ExpiredAt, e.UploaderAuthorityId, e.CiphertextLength);
                    break;
                case DocumentDeleted e:
                    End(context, e.DocumentId, "Deleted", e.DeletedAt, e.UploaderAuthorityId, e.CiphertextLength);
                    break;
                case MessageAccepted e when e.Envelope.DocumentIds.Count > 0:
                    Defer(context, $"""
                        insert into {s}.document_messages (document_id, message_id, channel_id)
                        select unnest($1::uuid[]), $2, $3 on conflict do nothing
                        """, e.Envelope.DocumentIds.ToArray(), e.MessageId, e.ChannelId);
                    break;
            }
        }

        return Task.CompletedTask;
    }

    /// <summary>The document's chunks are gone: its reservation is released.</summary>
    private static void End(ProjectionContext context, Guid documentId, string status, DateTimeOffset at, Guid authorityId, long length)
    {
        Defer(context, $"update {context.Schema}.documents set status = $2, ended_at = $3 where document_id = $1", documentId, status, at);
        Defer(context, $"update {context.Schema}.document_usage set bytes = bytes - $2 where authority_id = $1", authorityId, length);
    }

    private static void Defer(ProjectionContext context, string sql, params object[] parameters)
    {
        var command = new NpgsqlBatchCommand(sql);
        foreach (var value in parameters)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = value });
        }

        context.Defer(command);
    }
}
