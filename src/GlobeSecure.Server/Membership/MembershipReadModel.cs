using GlobeSecure.Contracts.V1;
using GlobeSecure.EventStore;
using GlobeSecure.Server.Infrastructure;
using Timestamp = Google.Protobuf.WellKnownTypes.Timestamp;
using Npgsql;

namespace GlobeSecure.Server.Membership;

/// <summary>Queries over the membership projection's tables.</summary>
internal sealed class MembershipReadModel(NpgsqlDataSource dataSource, PostgresEventStore store)
{
    private const string Columns = """
        a.authority_id, a.name, a.country, a.kind, a.legal_basis, a.focal_name, a.focal_email, a.focal_phone, a.status,
        a.approved_by, a.status_reason, a.applied_at, a.status_changed_at,
        coalesce((select array_agg(m.group_id) from {schema}.regional_group_members m where m.authority_id = a.authority_id), '{}')
        """;

    public async Task<Authority?> GetAsync(Guid authorityId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(Sql($"select {Columns} from {{schema}}.authorities a where a.authority_id = $1"));
        command.Parameters.Add(new NpgsqlParameter { Value = authorityId });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? Read(reader) : null;
    }

    /// <summary>One page ordered by id (version-7 ids: application order); <paramref name="after"/> is the last id of the previous page.</summary>
    public async Task<IReadOnlyList<Authority>> ListAsync(string? country, AuthorityKind kind, Guid? groupId, IReadOnlyList<string> statuses,
        Guid? after, int limit, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(Sql($$"""
            select {{Columns}} from {schema}.authorities a
            where ($1::text is null or a.country = $1)
              and ($2::text is null or a.kind = $2)
              and ($3::uuid is null or exists (select 1 from {schema}.regional_group_members m where m.group_id = $3 and m.authority_id = a.authority_id))
              and a.status = any($4)
              and ($5::uuid is null or a.authority_id > $5)
            order by a.authority_id
            limit $6
            """));
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)country ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter { Value = kind == AuthorityKind.Unspecified ? DBNull.Value : kind.ToString(), NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)groupId ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Uuid });
        command.Parameters.Add(new NpgsqlParameter { Value = statuses.ToArray() });
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)after ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Uuid });
        command.Parameters.Add(new NpgsqlParameter { Value = limit });
        var result = new List<Authority>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            result.Add(Read(reader));
        }

        return result;
    }

    public async Task<IReadOnlyList<RegionalGroup>> GroupsAsync(Guid? groupId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(Sql("""
            select g.group_id, g.name, coalesce(array_agg(m.authority_id order by m.authority_id) filter (where m.authority_id is not null), '{}')
            from {schema}.regional_groups g left join {schema}.regional_group_members m on m.group_id = g.group_id
            where ($1::uuid is null or g.group_id = $1)
            group by g.group_id, g.name order by g.name
            """));
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)groupId ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Uuid });
        var result = new List<RegionalGroup>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var group = new RegionalGroup { GroupId = reader.GetGuid(0).ToString(), Name = reader.GetString(1) };
            group.AuthorityIds.AddRange(reader.GetFieldValue<Guid[]>(2).Select(a => a.ToString()));
            result.Add(group);
        }

        return result;
    }

    public async Task<bool> GroupNameTakenAsync(string name, Guid exceptGroupId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(Sql("select exists (select 1 from {schema}.regional_groups where lower(name) = lower($1) and group_id <> $2)"));
        command.Parameters.Add(new NpgsqlParameter { Value = name });
        command.Parameters.Add(new NpgsqlParameter { Value = exceptGroupId });
        return (bool)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    public async Task<AuthorityView?> FindAsync(Guid authorityId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(Sql("select name, kind, status, country from {schema}.authorities where authority_id = $1"));
        command.Parameters.Add(new NpgsqlParameter { Value = authorityId });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken)
            ? new AuthorityView(authorityId, reader.GetString(0), Enum.Parse<AuthorityKind>(reader.GetString(1)), StatusFromWire(reader.GetString(2)),
                reader.GetString(3))
            : null;
    }

    public async Task<IReadOnlyDictionary<Guid, AuthorityView>> FindManyAsync(IReadOnlyCollection<Guid> authorityIds, CancellationToken cancellationToken)
    {
        var found = new Dictionary<Guid, AuthorityView>();
        if (authorityIds.Count == 0)
        {
            return found;
        }

        await using var command = dataSource.CreateCommand(Sql("select authority_id, name, kind, status, country from {schema}.authorities where authority_id = any($1)"));
        command.Parameters.Add(new NpgsqlParameter { Value = authorityIds.ToArray() });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var id = reader.GetGuid(0);
            found[id] = new AuthorityView(id, reader.GetString(1), Enum.Parse<AuthorityKind>(reader.GetString(2)), StatusFromWire(reader.GetString(3)),
                reader.GetString(4));
        }

        return found;
    }

    public static AuthorityStatus StatusFromWire(string status) => status switch
    {
        "pending" => AuthorityStatus.Pending,
        "active" => AuthorityStatus.Active,
        "rejected" => AuthorityStatus.Rejected,
        "suspended" => AuthorityStatus.Suspended,
        "withdrawn" => AuthorityStatus.Withdrawn,
        _ => AuthorityStatus.Unspecified,
    };

    public static string StatusToWire(AuthorityStatus status) => status switch
    {
        AuthorityStatus.Pending => "pending",
        AuthorityStatus.Active => "active",
        AuthorityStatus.Rejected => "rejected",
        AuthorityStatus.Suspended => "suspended",
        AuthorityStatus.Withdrawn => "withdrawn",
        _ => "",
    };

    private string Sql(string sql) => sql.Replace("{schema}", store.Schema, StringComparison.Ordinal);

    private static Authority Read(NpgsqlDataReader reader)
    {
        var authority = new Authority
        {
            AuthorityId = reader.GetGuid(0).ToString(),
            Name = reader.GetString(1),
            Country = reader.GetString(2),
            Kind = Enum.Parse<AuthorityKind>(reader.GetString(3)),
            LegalBasis = reader.GetString(4),
            FocalPoint = new FocalPoint
            {
                Name = reader.GetString(5),
                Email = reader.GetString(6),
                Phone = reader.IsDBNull(7) ? "" : reader.GetString(7),
            },
            Status = StatusFromWire(reader.GetString(8)),
            StatusReason = reader.IsDBNull(10) ? "" : reader.GetString(10),
            AppliedAt = Timestamp.FromDateTimeOffset(reader.GetFieldValue<DateTimeOffset>(11)),
            StatusChangedAt = Timestamp.FromDateTimeOffset(reader.GetFieldValue<DateTimeOffset>(12)),
        };
        authority.ApprovedBy.AddRange(reader.GetFieldValue<Guid[]>(9).Select(g => g.ToString()));
        authority.GroupIds.AddRange(reader.GetFieldValue<Guid[]>(13).Select(g => g.ToString()));
        return authority;
    }
}
