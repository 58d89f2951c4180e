using System.Text.Json;
using GlobeSecure.EventStore;
using Npgsql;
using NpgsqlTypes;

namespace GlobeSecure.Server.FocalPoints;

/// <summary>The current contact entries (removed ones are deleted) and each member authority's latest requirements, for the reads.</summary>
internal sealed class FocalPointProjection : IInlineProjection
{
    public string Name => "focal-points";

    public bool OnlyDefers => true;

    public IReadOnlyList<SchemaMigration> Migrations { get; } =
    [
        new(1, "contact entries and authority requirements", """
            create table {schema}.focal_point_contacts (
                contact_id uuid primary key,
                country text not null,
                kind int not null,
                name text not null,
                details jsonb not null,
                updated_at timestamptz not null,
                updated_by uuid not null);
            create index focal_point_contacts_country on {schema}.focal_point_contacts (country, kind);
            create table {schema}.authority_requirements (
                authority_id uuid primary key,
                requirements jsonb not null,
                updated_at timestamptz not null,
                updated_by uuid not null);
            """),
    ];

    public bool Handles(Type eventType) =>
        eventType == typeof(ContactAdded) || eventType == typeof(ContactUpdated) || eventType == typeof(ContactRemoved)
        || eventType == typeof(AuthorityRequirementsPublished);

    public Task ApplyAsync(ProjectionContext context, IReadOnlyList<StoredEvent> events, CancellationToken cancellationToken)
    {
        var contacts = $"{context.Schema}.focal_point_contacts";
        foreach (var stored in events)
        {
            context.Defer(stored.Data switch
            {
                ContactAdded e => Upsert(contacts, e.ContactId, e.Details, e.AddedAt, e.ByUserId),
                ContactUpdated e => Upsert(contacts, e.ContactId, e.Details, e.UpdatedAt, e.ByUserId),
                ContactRemoved e => Command($"delete from {contacts} where contact_id = $1", e.ContactId),
                AuthorityRequirementsPublished e => Command($"""
                    insert into {context.Schema}.authority_requirements (authority_id, requirements, updated_at, updated_by) values ($1, $2, $3, $4)
                    on conflict (authority_id) do update set requirements = excluded.requirements, updated_at = excluded.updated_at, updated_by = excluded.updated_by
                    """, e.AuthorityId, Json(e.Requirements), e.PublishedAt, e.ByUserId),
                _ => throw new InvalidOperationException($"Unhandled event {stored.Type}."),
            });
        }

        return Task.CompletedTask;
    }

    private static NpgsqlBatchCommand Upsert(string table, Guid contactId, ContactDetails details, DateTimeOffset at, Guid by) => Command($"""
        insert into {table} (contact_id, country, kind, name, details, updated_at, updated_by) values ($1, $2, $3, $4, $5, $6, $7)
        on conflict (contact_id) do update set country = excluded.country, kind = excluded.kind, name = excluded.name, details = excluded.details,
            updated_at = excluded.updated_at, updated_by = excluded.updated_by
        """, contactId, details.Country, (int)details.Kind, details.Name, Json(details), at, by);

    private static NpgsqlParameter Json(object value) =>
        new() { Value = JsonSerializer.Serialize(value, EventTypeRegistry.JsonOptions), NpgsqlDbType = NpgsqlDbType.Jsonb };

    private static NpgsqlBatchCommand Command(string sql, params object[] values)
    {
        var command = new NpgsqlBatchCommand(sql);
        foreach (var value in values)
        {
            command.Parameters.Add(value as NpgsqlParameter ?? new NpgsqlParameter { Value = value });
        }

        return command;
    }
}
