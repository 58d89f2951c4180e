using GlobeSecure.EventStore;
using Npgsql;
using NpgsqlTypes;

namespace GlobeSecure.Server.Membership;

/// <summary>The authority directory and regional groups, updated in the transaction of each append.</summary>
internal sealed class MembershipProjection : IInlineProjection
{
    private static readonly HashSet<Type> Types =
    [
        typeof(AuthorityApplied), typeof(SecretariatRegistered), typeof(AuthorityApprovalGiven), typeof(AuthorityApproved),
        typeof(AuthorityRejected), typeof(AuthoritySuspended), typeof(AuthorityReinstated), typeof(AuthorityWithdrawn),
        typeof(GroupCreated), typeof(AuthorityAddedToGroup), typeof(AuthorityRemovedFromGroup),
    ];

    public string Name => "membership";

    public IReadOnlyList<SchemaMigration> Migrations { get; } =
    [
        new(1, "authorities and regional groups", """
            create table {schema}.authorities (
                authority_id uuid primary key,
                name text not null,
                country text not null,
                kind text not null,
                legal_basis text not null,
                focal_name text not null,
                focal_email text not null,
                focal_phone text,
                status text not null,
                approved_by uuid[] not null default '{}',
                status_reason text,
                applied_at timestamptz not null,
                status_changed_at timestamptz not null);
            create index authorities_country on {schema}.authorities (country);
            create table {schema}.regional_groups (
                group_id uuid primary key,
                name text not null unique);
            create table {schema}.regional_group_members (
                group_id uuid not null references {schema}.regional_groups,
                authority_id uuid not null,
                primary key (group_id, authority_id));
            """),
    ];

    public bool Handles(Type eventType) => Types.Contains(eventType);

    public async Task ApplyAsync(ProjectionContext context, IReadOnlyList<StoredEvent> events, CancellationToken cancellationToken)
    {
        var s = context.Schema;
        foreach (var stored in events)
        {
            var (sql, parameters) = stored.Data switch
            {
                AuthorityApplied e => ($"""
                    insert into {s}.authorities (authority_id, name, country, kind, legal_basis, focal_name, focal_email, focal_phone,
                        status, applied_at, status_changed_at)
                    values ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', $9, $9)
                    """, new object?[] { e.AuthorityId, e.Name, e.Country, e.Kind.ToString(), e.LegalBasis, e.FocalPointName, e.FocalPointEmail, e.FocalPointPhone, e.AppliedAt }),
                SecretariatRegistered e => ($"""
                    insert into {s}.authorities (authority_id, name, country, kind, legal_basis, focal_name, focal_email, status,
                        applied_at, status_changed_at)
                    values ($1, $2, '', 'NetworkSecretariat', '', '', '', 'active', $3, $3)
                    """, new object?[] { e.AuthorityId, e.Name, e.RegisteredAt }),
                AuthorityApprovalGiven e => ($"update {s}.authorities set approved_by = array_append(approved_by, $2) where authority_id = $1",
                    new object?[] { e.AuthorityId, e.AdministratorUserId }),
                AuthorityApproved e => Status(s, e.AuthorityId, "active", null, e.ApprovedAt),
                AuthorityRejected e => Status(s, e.AuthorityId, "rejected", e.Reason, e.RejectedAt),
                AuthoritySuspended e => Status(s, e.AuthorityId, "suspended", e.Reason, e.SuspendedAt),
                AuthorityReinstated e => Status(s, e.AuthorityId, "active", null, e.ReinstatedAt),
                AuthorityWithdrawn e => Status(s, e.AuthorityId, "withdrawn", e.Reason, e.WithdrawnAt),
                GroupCreated e => ($"insert into {s}.regional_groups (group_id, name) values ($1, $2)", new object?[] { e.GroupId, e.Name }),
                AuthorityAddedToGroup e => ($"insert into {s}.regional_group_members values ($1, $2) on conflict do nothing",
                    new object?[] { e.GroupId, e.AuthorityId }),
                AuthorityRemovedFromGroup e => ($"delete from {s}.regional_group_members where group_id = $1 and authority_id = $2",
                    new object?[] { e.GroupId, e.AuthorityId }),
                _ => throw new InvalidOperationException($"Unhandled event {stored.Type}."),
            };
            await using var command = context.CreateCommand(sql);
            foreach (var value in parameters)
            {
                command.Parameters.Add(value is null ? new NpgsqlParameter { Value = DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text } : new NpgsqlParameter { Value = value });
            }

            await command.ExecuteNonQueryAsync(cancellationToken);
        }
    }

    private static (string, object?[]) Status(string schema, Guid authorityId, string status, string? reason, DateTimeOffset at) =>
        ($"update {schema}.authorities set status = $2, status_reason = $3, status_changed_at = $4 where authority_id = $1",
            [authorityId, status, reason, at]);
}
