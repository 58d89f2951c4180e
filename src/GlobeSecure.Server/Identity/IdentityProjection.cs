using System.Text.Json;
using GlobeSecure.Crypto;
using GlobeSecure.EventStore;
using Npgsql;
using NpgsqlTypes;

namespace GlobeSecure.Server.Identity;

/// <summary>
/// The identity read model (network, users, devices, sessions, recent authentication failures)
/// and the directory log, all updated in the transaction of each append.
/// </summary>
/// <remarks>
/// The directory log is written here rather than to a stream of its own: every append holds the
/// store's heads lock until it commits, so appends (and their projections) are serialised across
/// all server processes, and "previous entry + 1" is gap-free. Writing it in the same transaction
/// as the certification or revocation means a key can never be in use without being in the log,
/// nor in the log without being in use.
/// </remarks>
internal sealed class IdentityProjection : IInlineProjection
{
    private static readonly HashSet<Type> Types =
    [
        typeof(NetworkBootstrapped), typeof(UserInvited), typeof(UserRegistered), typeof(EnrolmentCodeIssued), typeof(UserRevoked),
        typeof(DeviceEnrolled), typeof(DeviceCertified), typeof(DeviceRevoked), typeof(SessionStarted), typeof(SessionEnded),
        typeof(AuthenticationFailed),
        // Membership's events that end sessions: a suspended or withdrawn authority's users are
        // signed out at once, and stay signed out after a reinstatement.
        typeof(Membership.AuthoritySuspended), typeof(Membership.AuthorityWithdrawn),
    ];

    public string Name => "identity";

    public IReadOnlyList<SchemaMigration> Migrations { get; } =
    [
        new(1, "network, users, devices, sessions, authentication failures, directory log", """
            create table {schema}.identity_network (
                id int primary key check (id = 1),
                name text not null,
                root_key bytea not null,
                secretariat_id uuid not null,
                bootstrapped_at timestamptz not null);
            create table {schema}.identity_users (
                user_id uuid primary key,
                authority_id uuid not null,
                display_name text not null,
                role text not null,
                status text not null,
                invited_at timestamptz not null,
                code_hash bytea,
                code_expires_at timestamptz);
            create index identity_users_authority on {schema}.identity_users (authority_id);
            create index identity_users_code on {schema}.identity_users (code_hash) where code_hash is not null;
            create table {schema}.identity_devices (
                device_id uuid primary key,
                user_id uuid not null,
                authority_id uuid not null,
                role text not null,
                status text not null,
                keys json not null,
                label text not null,
                enrolled_at timestamptz not null,
                certificate json,
                revocation json);
            create index identity_devices_user on {schema}.identity_devices (user_id);
            create index identity_devices_authority on {schema}.identity_devices (authority_id);
            create table {schema}.identity_sessions (
                session_id uuid primary key,
                token_hash bytea not null unique,
                device_id uuid not null,
                user_id uuid not null,
                expires_at timestamptz not null,
                ended_at timestamptz);
            create index identity_sessions_device on {schema}.identity_sessions (device_id);
            create table {schema}.identity_auth_failures (
                device_id uuid not null,
                peer text not null,
                reason text not null,
                failed_at timestamptz not null);
            create index identity_auth_failures_at on {schema}.identity_auth_failures (failed_at);
            create table {schema}.directory_log (
                position bigint primary key,
                kind text not null,
                content bytea not null,
                signature bytea not null,
                link bytea not null,
                root_key bytea,
                certificate json,
                revocation json,
                recorded_at timestamptz not null);
            """),
    ];

    public bool Handles(Type eventType) => Types.Contains(eventType);

    public async Task ApplyAsync(ProjectionContext context, IReadOnlyList<StoredEvent> events, CancellationToken cancellationToken)
    {
        var s = context.Schema;
        foreach (var stored in events)
        {
            switch (stored.Data)
            {
                case NetworkBootstrapped e:
                    await ExecuteAsync(context, $"insert into {s}.identity_network values (1, $1, $2, $3, $4)", cancellationToken,
                        e.Name, e.RootKey, e.SecretariatId, e.BootstrappedAt);
                    await AppendLogAsync(context, stored, DirectoryEntryKind.RootKey, e.RootKey, [], e.RootKey, null, null, cancellationToken);
                    break;
                case UserInvited e:
                    await ExecuteAsync(context, $"insert into {s}.identity_users (user_id, authority_id, display_name, role, status, invited_at) values ($1, $2, $3, $4, 'Invited', $5)",
                        cancellationToken, e.UserId, e.AuthorityId, e.DisplayName, e.Role.ToString(), e.InvitedAt);
                    break;
                case UserRegistered e:
                    await ExecuteAsync(context, $"insert into {s}.identity_users (user_id, authority_id, display_name, role, status, invited_at) values ($1, $2, $3, $4, 'Active', $5)",
                        cancellationToken, e.UserId, e.AuthorityId, e.DisplayName, e.Role.ToString(), e.RegisteredAt);
                    break;
                case EnrolmentCodeIssued e:
                    await ExecuteAsync(context, $"update {s}.identity_users set code_hash = $2, code_expires_at = $3 where user_id = $1",
                        cancellationToken, e.UserId, e.CodeHash, e.ExpiresAt);
                    break;
                case UserRevoked e:
                    await ExecuteAsync(context, $"update {s}.identity_users set status = 'Revoked', code_hash = null where user_id = $1", cancellationToken, e.UserId);
                    break;
                case DeviceEnrolled e:
                    await ExecuteAsync(context, $"""
                        insert into {s}.identity_devices (device_id, user_id, authority_id, role, status, keys, label, enrolled_at)
                        values ($1, $2, $3, $4, 'Pending', $5::json, $6, $7)
                        """, cancellationToken, e.DeviceId, e.UserId, e.AuthorityId, e.Role.ToString(), Json(e.Keys), e.Label, e.EnrolledAt);
                    if (e.CodeHash is not null)
                    {
                        // The code is used up: it no longer finds the user.
                        await ExecuteAsync(context, $"update {s}.identity_users set status = case when status = 'Invited' then 'Active' else status end, code_hash = null where user_id = $1",
                            cancellationToken, e.UserId);
                    }

                    break;
                case DeviceCertified e:
                    await ExecuteAsync(context, $"update {s}.identity_devices set status = 'Certified', certificate = $2::json where device_id = $1",
                        cancellationToken, e.DeviceId, Json(e.Certificate));
                    var certificate = e.Certificate.ToCrypto();
                    await AppendLogAsync(context, stored, DirectoryEntryKind.Certificate, certificate.SigningInput(), certificate.Signature, null,
                        e.Certificate, null, cancellationToken);
                    break;
                case DeviceRevoked e:
                    await ExecuteAsync(context, $"update {s}.identity_devices set status = 'Revoked', revocation = $2::json where device_id = $1",
                        cancellationToken, e.DeviceId, e.Revocation is null ? null : Json(e.Revocation));
                    await EndSessionsAtAndBelowAsync(context, e.DeviceId, stored.RecordedAt, cancellationToken);
                    if (e.Revocation is not null)
                    {
                        var revocation = e.Revocation.ToCrypto();
                        await AppendLogAsync(context, stored, DirectoryEntryKind.Revocation, revocation.SigningInput(), revocation.Signature, null,
                            null, e.Revocation, cancellationToken);
                    }

                    break;
                case SessionStarted e:
                    await ExecuteAsync(context, $"insert into {s}.identity_sessions values ($1, $2, $3, $4, $5, null)", cancellationToken,
                        e.SessionId, e.TokenHash, e.DeviceId, e.UserId, e.ExpiresAt);
                    break;
                case Membership.AuthoritySuspended e:
                    await EndAuthoritySessionsAsync(context, e.AuthorityId, e.SuspendedAt, cancellationToken);
                    break;
                case Membership.AuthorityWithdrawn e:
                    await EndAuthoritySessionsAsync(context, e.AuthorityId, e.WithdrawnAt, cancellationToken);
                    break;
                case SessionEnded e:
                    await ExecuteAsync(context, $"update {s}.identity_sessions set ended_at = $2 where session_id = $1", cancellationToken, e.SessionId, e.EndedAt);
                    break;
                case AuthenticationFailed e:
                    await ExecuteAsync(context, $"insert into {s}.identity_auth_failures values ($1, $2, $3, $4)", cancellationToken,
                        e.DeviceId, e.PeerAddress, e.Reason, e.FailedAt);
                    // Only recent failures matter; older ones stay in the events and the audit trail.
                    await ExecuteAsync(context, $"delete from {s}.identity_auth_failures where failed_at < $1", cancellationToken, e.FailedAt.AddDays(-1));
                    break;
            }
        }
    }

    internal static string Json<T>(T value) => JsonSerializer.Serialize(value, EventTypeRegistry.JsonOptions);

    private static async Task AppendLogAsync(ProjectionContext context, StoredEvent stored, DirectoryEntryKind kind, byte[] content, byte[] signature,
        byte[]? rootKey, CertificateData? certificate, RevocationData? revocation, CancellationToken cancellationToken)
    {
        var s = context.Schema;
        long position = 0;
        var previous = DirectoryLog.Genesis.ToArray();
        await using (var last = context.CreateCommand($"select position, link from {s}.directory_log order by position desc limit 1"))
        await using (var reader = await last.ExecuteReaderAsync(cancellationToken))
        {
            if (await reader.ReadAsync(cancellationToken))
            {
                position = reader.GetInt64(0);
                previous = reader.GetFieldValue<byte[]>(1);
            }
        }

        var link = DirectoryLog.Link(previous, position + 1, kind, content, signature);
        await ExecuteAsync(context, $"insert into {s}.directory_log values ($1, $2, $3, $4, $5, $6, $7::json, $8::json, $9)", cancellationToken,
            position + 1, kind.ToString(), content, signature, link, rootKey, certificate is null ? null : Json(certificate),
            revocation is null ? null : Json(revocation), stored.RecordedAt);
    }

    /// <summary>
    /// Ends the sessions of a revoked device and of every device certified below it, at any depth:
    /// their certificate chains stop verifying with it (protocol §5.2), so they lose their sessions
    /// at once, as clients stop trusting them.
    /// </summary>
    private static Task EndSessionsAtAndBelowAsync(ProjectionContext context, Guid deviceId, DateTimeOffset at, CancellationToken cancellationToken) =>
        ExecuteAsync(context, $"""
            with recursive chain(device_id) as (
                select $1::uuid
                union
                select d.device_id from {context.Schema}.identity_devices d
                join chain c on (d.certificate->>'issuerDeviceId')::uuid = c.device_id)
            update {context.Schema}.identity_sessions set ended_at = $2
            where ended_at is null and device_id in (select device_id from chain)
            """, cancellationToken, deviceId, at);

    private static Task EndAuthoritySessionsAsync(ProjectionContext context, Guid authorityId, DateTimeOffset at, CancellationToken cancellationToken) =>
        ExecuteAsync(context, $"""
            update {context.Schema}.identity_sessions set ended_at = $2
            where ended_at is null and user_id in (select user_id from {context.Schema}.identity_users where authority_id = $1)
            """, cancellationToken, authorityId, at);

    private static async Task ExecuteAsync(ProjectionContext context, string sql, CancellationToken cancellationToken, params object?[] parameters)
    {
        await using var command = context.CreateCommand(sql);
        foreach (var value in parameters)
        {
            command.Parameters.Add(value switch
            {
                null => new NpgsqlParameter { Value = DBNull.Value, NpgsqlDbType = NpgsqlDbType.Unknown },
                _ => new NpgsqlParameter { Value = value },
            });
        }

        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
