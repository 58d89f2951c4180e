using System.Text.Json;
using GlobeSecure.Contracts.V1;
using GlobeSecure.EventStore;
using Npgsql;
using NpgsqlTypes;

namespace GlobeSecure.Server.FocalPoints;

/// <summary>A current contact entry as the projection holds it.</summary>
internal sealed record ContactRow(Guid ContactId, ContactDetails Details, DateTimeOffset UpdatedAt, Guid UpdatedBy);

/// <summary>A member authority's latest requirements as the projection holds them.</summary>
internal sealed record RequirementsRow(Guid AuthorityId, Requirements Requirements, DateTimeOffset UpdatedAt, Guid UpdatedBy);

/// <summary>Reads of the <see cref="FocalPointProjection"/> tables.</summary>
internal sealed class FocalPointReadModel(NpgsqlDataSource db, PostgresEventStore store)
{
    private readonly string _s = store.Schema;

    /// <summary>The current entries, optionally of one country and one kind, by country, kind, then name.</summary>
    public async Task<IReadOnlyList<ContactRow>> ContactsAsync(string? country, FocalPointKind kind, CancellationToken ct)
    {
        await using var command = db.CreateCommand($"""
            select contact_id, details::text, updated_at, updated_by from {_s}.focal_point_contacts
            where ($1::text is null or country = $1) and ($2::int is null or kind = $2)
            order by country, kind, name, contact_id
            """);
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)country ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter { Value = kind == FocalPointKind.Unspecified ? DBNull.Value : (int)kind, NpgsqlDbType = NpgsqlDbType.Integer });
        await using var reader = await command.ExecuteReaderAsync(ct);
        var list = new List<ContactRow>();
        while (await reader.ReadAsync(ct))
        {
            list.Add(new ContactRow(reader.GetGuid(0), Parse<ContactDetails>(reader.GetString(1)), reader.GetFieldValue<DateTimeOffset>(2), reader.GetGuid(3)));
        }

        return list;
    }

    /// <summary>The latest requirements of each of <paramref name="authorityIds"/> that published any.</summary>
    public async Task<IReadOnlyDictionary<Guid, RequirementsRow>> RequirementsAsync(IReadOnlyCollection<Guid> authorityIds, CancellationToken ct)
    {
        var result = new Dictionary<Guid, RequirementsRow>();
        if (authorityIds.Count == 0)
        {
            return result;
        }

        await using var command = db.CreateCommand($"""
            select authority_id, requirements::text, updated_at, updated_by from {_s}.authority_requirements where authority_id = any($1)
            """);
        command.Parameters.Add(new NpgsqlParameter { Value = authorityIds.ToArray() });
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            var id = reader.GetGuid(0);
            result[id] = new RequirementsRow(id, Parse<Requirements>(reader.GetString(1)), reader.GetFieldValue<DateTimeOffset>(2), reader.GetGuid(3));
        }

        return result;
    }

    private static T Parse<T>(string json) =>
        JsonSerializer.Deserialize<T>(json, EventTypeRegistry.JsonOptions) ?? throw new InvalidDataException("A focal-point row holds null.");
}
