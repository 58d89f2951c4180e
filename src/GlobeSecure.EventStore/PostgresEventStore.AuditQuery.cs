using System.Text;
using Npgsql;

namespace GlobeSecure.EventStore;

public sealed partial class PostgresEventStore
{
    // The uuid a target starts with (a target is an id, or an id and a qualifier after '/'), or null.
    private const string TargetIdSql =
        "case when a.target ~ '^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}(/|$)' then left(a.target, 36)::uuid end";

    /// <summary>
    /// Up to <paramref name="maxCount"/> audit entries of <paramref name="selection"/>, in chain
    /// order, each with the link of the entry before it in the chain (32 zero bytes at position 1),
    /// so that each link can be recomputed on its own. Page by passing the last position read as
    /// the next selection's <see cref="AuditSelection.AfterPosition"/>.
    /// </summary>
    public async Task<IReadOnlyList<LinkedAuditEntry>> ReadAuditLinkedAsync(AuditSelection selection, int maxCount,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(selection);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxCount);
        var columns = string.Join(", ", AuditColumns.Split(", ").Select(c => "a." + c));
        await using var command = _dataSource.CreateCommand();
        var (from, where) = AuditWhere(command, selection);
        command.CommandText = $"select {columns}, coalesce(p.hash, cut.hash) from {from} left join {_schema}.audit p on p.position = a.position - 1 "
            + $"left join {_schema}.audit_checkpoints cut on cut.position = a.position - 1 and cut.retention_cut where {where} "
            + $"order by a.position limit {Parameter(command, maxCount)}";
        var entries = new List<LinkedAuditEntry>(Math.Min(maxCount, 1024));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            entries.Add(new LinkedAuditEntry(ReadAudit(reader), reader.IsDBNull(13) ? HashChain.Genesis : reader.GetFieldValue<byte[]>(13)));
        }

        return entries;
    }

    /// <summary>How many entries <paramref name="selection"/> holds, and its first and last positions.</summary>
    public async Task<AuditRange> AuditRangeAsync(AuditSelection selection, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(selection);
        await using var command = _dataSource.CreateCommand();
        var (from, where) = AuditWhere(command, selection);
        command.CommandText = $"select count(*), coalesce(min(a.position), 0), coalesce(max(a.position), 0) from {from} where {where}";
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        return new AuditRange(reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2));
    }

    /// <summary>The position of the last audit entry (0 when there is none).</summary>
    public async Task<long> AuditHeadPositionAsync(CancellationToken cancellationToken = default)
    {
        await using var command = _dataSource.CreateCommand($"select audit_position from {_schema}.heads where id = 1");
        return (long)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    private (string From, string Where) AuditWhere(NpgsqlCommand command, AuditSelection s)
    {
        var where = new StringBuilder($"a.position > {Parameter(command, s.AfterPosition)}");
        void And(string clause) => where.Append(" and ").Append(clause);

        if (s.ThroughPosition is { } through)
        {
            And($"a.position <= {Parameter(command, through)}");
        }

        if (s.ActorUserId is { } user)
        {
            And($"a.actor_user_id = {Parameter(command, user)}");
        }

        if (s.ActorDeviceId is { } device)
        {
            And($"a.actor_device_id = {Parameter(command, device)}");
        }

        if (s.Action is { } action)
        {
            And($"a.action = {Parameter(command, action)}");
        }

        if (s.ActionPrefix is { } prefix)
        {
            And($"starts_with(a.action, {Parameter(command, prefix)})");
        }

        if (s.Target is { } target)
        {
            And($"a.target = {Parameter(command, target)}");
        }

        if (s.Outcome is { } outcome)
        {
            And($"a.outcome = {Parameter(command, outcome.ToWire())}");
        }

        if (s.From is { } fromTime)
        {
            And($"a.occurred_at >= {Parameter(command, fromTime.UtcDateTime)}");
        }

        if (s.To is { } toTime)
        {
            And($"a.occurred_at < {Parameter(command, toTime.UtcDateTime)}");
        }

        foreach (var scope in s.Scopes)
        {
            var authority = Parameter(command, scope.AuthorityId);
            var rule = scope.TargetRule.Replace("{schema}", _schema, StringComparison.Ordinal)
                .Replace("{authority}", authority, StringComparison.Ordinal)
                .Replace("{target}", "t.id", StringComparison.Ordinal);
            And($"(a.actor_authority_id = {authority} or ({rule}))");
        }

        // The target's uuid is computed once per entry, for every scope's rule.
        var from = s.Scopes.Count == 0 ? $"{_schema}.audit a" : $"{_schema}.audit a cross join lateral (select {TargetIdSql} as id) t";
        return (from, where.ToString());
    }

    private static string Parameter<T>(NpgsqlCommand command, T value)
    {
        command.Parameters.Add(new NpgsqlParameter<T> { TypedValue = value });
        return "$" + command.Parameters.Count.ToString(System.Globalization.CultureInfo.InvariantCulture);
    }
}
