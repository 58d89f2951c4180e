using Npgsql;

namespace GlobeSecure.EventStore;

/// <summary>
/// Creates and migrates the store's schema at start-up. Each component (the core store, each
/// projection) has numbered steps recorded in <c>schema_version</c>; a transaction-scoped
/// advisory lock makes concurrent start-ups of several server processes take turns, so starting
/// twice, or twice at once, is harmless.
/// </summary>
internal static class SchemaMigrator
{
    public const string CoreComponent = "core";

    // Arbitrary constant shared by every process migrating this database.
    private const long MigrationLockKey = 0x476C6F6265_5365;

    public static IReadOnlyList<SchemaMigration> CoreMigrations { get; } =
    [
        new(1, "event store, audit log, hash-chain heads", """
            create table {schema}.heads (
                id smallint primary key check (id = 1),
                event_position bigint not null,
                event_hash bytea not null,
                audit_position bigint not null,
                audit_hash bytea not null);
            insert into {schema}.heads values (1, 0, decode(repeat('00', 32), 'hex'), 0, decode(repeat('00', 32), 'hex'));

            create table {schema}.streams (
                stream_id text primary key,
                version bigint not null,
                created_at timestamptz not null,
                updated_at timestamptz not null);

            create table {schema}.events (
                position bigint primary key,
                event_id uuid not null,
                stream_id text not null,
                version bigint not null,
                type text not null,
                data json not null,
                metadata json,
                recorded_at timestamptz not null,
                hash bytea not null,
                constraint events_event_id_key unique (event_id),
                constraint events_stream_version_key unique (stream_id, version));

            create table {schema}.audit (
                position bigint primary key,
                entry_id uuid not null,
                occurred_at timestamptz not null,
                action text not null,
                outcome text not null check (outcome in ('allowed', 'denied', 'failed')),
                actor_user_id uuid,
                actor_device_id uuid,
                actor_authority_id uuid,
                target text,
                reason text,
                peer text,
                trace_id text,
                hash bytea not null,
                constraint audit_entry_id_key unique (entry_id));
            create index audit_occurred_at_idx on {schema}.audit (occurred_at);

            -- History is append-only. The hash chain catches a change made around this guard.
            create function {schema}.forbid_history_change() returns trigger language plpgsql as $$
            begin
                raise exception 'table %.% is append-only', tg_table_schema, tg_table_name
                    using errcode = 'insufficient_privilege';
            end $$;
            create trigger events_append_only before update or delete or truncate on {schema}.events
                for each statement execute function {schema}.forbid_history_change();
            create trigger audit_append_only before update or delete or truncate on {schema}.audit
                for each statement execute function {schema}.forbid_history_change();
            """),
        // An export package's audit extract reads the entries of one target (a request id).
        new(2, "audit entries by target", """
            create index audit_target_idx on {schema}.audit (target, position) where target is not null;
            """),
        // Signed checkpoints of the audit chain's head (docs/audit.md "Checkpoints"), the keys that
        // signed them, and the one deliberate way past the audit table's append-only guard: a
        // retention purge, which sets globe.audit_retention_cut for its own transaction only
        // (PurgeAuditThroughAsync; docs/event-store.md "Retention of the audit log").
        new(3, "audit checkpoints, server keys, audit retention purge", """
            create table {schema}.audit_checkpoints (
                position bigint primary key,
                hash bytea not null,
                signed_at timestamptz not null,
                key_id text not null,
                signature bytea not null,
                retention_cut boolean not null);
            create index audit_checkpoints_cut_idx on {schema}.audit_checkpoints (position) where retention_cut;
            create trigger audit_checkpoints_append_only before update or delete or truncate on {schema}.audit_checkpoints
                for each statement execute function {schema}.forbid_history_change();

            create table {schema}.server_keys (
                key_id text primary key,
                public_key bytea not null,
                purpose text not null,
                first_used_at timestamptz not null);

            create or replace function {schema}.forbid_history_change() returns trigger language plpgsql as $$
            begin
                if tg_op = 'DELETE' and tg_table_name = 'audit' and coalesce(current_setting('globe.audit_retention_cut', true), '') <> '' then
                    return null;
                end if;
                raise exception 'table %.% is append-only', tg_table_schema, tg_table_name
                    using errcode = 'insufficient_privilege';
            end $$;
            """),
    ];

    public static async Task<int> MigrateAsync(NpgsqlDataSource dataSource, EventStoreOptions options, CancellationToken cancellationToken)
    {
        var schema = options.Schema;
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);

        await ExecuteAsync(connection, transaction, $"""
            select pg_advisory_xact_lock({MigrationLockKey});
            create schema if not exists {schema};
            create table if not exists {schema}.schema_version (
                component text not null,
                version int not null,
                description text not null,
                applied_at timestamptz not null default now(),
                primary key (component, version));
            """, cancellationToken);

        var applied = 0;
        applied += await ApplyAsync(connection, transaction, schema, CoreComponent, CoreMigrations, cancellationToken);
        foreach (var projection in options.Projections)
        {
            applied += await ApplyAsync(connection, transaction, schema, "projection:" + projection.Name, projection.Migrations, cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
        return applied;
    }

    public static async Task<int> CurrentVersionAsync(NpgsqlDataSource dataSource, string schema, string component, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand($"select coalesce(max(version), 0) from {schema}.schema_version where component = $1");
        command.Parameters.Add(new NpgsqlParameter { Value = component });
        return (int)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    private static async Task<int> ApplyAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string schema,
        string component, IReadOnlyList<SchemaMigration> migrations, CancellationToken cancellationToken)
    {
        await using var current = new NpgsqlCommand($"select coalesce(max(version), 0) from {schema}.schema_version where component = $1", connection, transaction);
        current.Parameters.Add(new NpgsqlParameter { Value = component });
        var version = (int)(await current.ExecuteScalarAsync(cancellationToken))!;

        var applied = 0;
        foreach (var migration in migrations.Where(m => m.Version > version).OrderBy(m => m.Version))
        {
            if (migration.Version != version + applied + 1)
            {
                throw new InvalidOperationException($"Schema component '{component}' skips from version {version + applied} to {migration.Version}.");
            }

            await ExecuteAsync(connection, transaction, migration.Sql.Replace("{schema}", schema, StringComparison.Ordinal), cancellationToken);
            await using var record = new NpgsqlCommand($"insert into {schema}.schema_version (component, version, description) values ($1, $2, $3)", connection, transaction);
            record.Parameters.Add(new NpgsqlParameter { Value = component });
            record.Parameters.Add(new NpgsqlParameter { Value = migration.Version });
            record.Parameters.Add(new NpgsqlParameter { Value = migration.Description });
            await record.ExecuteNonQueryAsync(cancellationToken);
            applied++;
        }

        return applied;
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string sql, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(sql, connection, transaction);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
