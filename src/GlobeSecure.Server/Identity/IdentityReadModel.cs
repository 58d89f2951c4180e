using System.Text.Json;
using GlobeSecure.Contracts.V1;
using GlobeSecure.EventStore;
using GlobeSecure.Server.Infrastructure;
using Npgsql;
using NpgsqlTypes;

namespace GlobeSecure.Server.Identity;

internal sealed record NetworkRow(string Name, byte[] RootKey, Guid SecretariatId);

internal sealed record UserRow(Guid UserId, Guid AuthorityId, string DisplayName, Role Role, UserStatus Status, DateTimeOffset InvitedAt);

internal sealed record DeviceRow(Guid DeviceId, Guid UserId, Guid AuthorityId, Role Role, DeviceStatus Status, DeviceKeysData Keys, string Label,
    DateTimeOffset EnrolledAt, CertificateData? Certificate, RevocationData? Revocation)
{
    public DeviceState ToState() => new(DeviceId, Keys, Label, Status, Certificate, Revocation, EnrolledAt);
}

internal sealed record SessionRow(Guid SessionId, Guid DeviceId, DateTimeOffset ExpiresAt, DeviceStatus DeviceStatus, Guid UserId, UserStatus UserStatus,
    Role Role, string DisplayName, Guid AuthorityId, bool Ended = false);

internal sealed record LogRow(long Position, byte[] Link, byte[]? RootKey, CertificateData? Certificate, RevocationData? Revocation, DateTimeOffset RecordedAt);

/// <summary>Queries over the identity projection's tables (never writes).</summary>
internal sealed class IdentityReadModel(NpgsqlDataSource dataSource, PostgresEventStore store)
{
    private const string DeviceColumns = "device_id, user_id, authority_id, role, status, keys::text, label, enrolled_at, certificate::text, revocation::text";

    public async Task<NetworkRow?> NetworkAsync(CancellationToken cancellationToken)
    {
        await using var command = Command("select name, root_key, secretariat_id from {schema}.identity_network where id = 1");
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken)
            ? new NetworkRow(reader.GetString(0), reader.GetFieldValue<byte[]>(1), reader.GetGuid(2))
            : null;
    }

    /// <summary>The user an unused enrolment code belongs to (by its hash).</summary>
    public async Task<Guid?> UserOfCodeAsync(byte[] codeHash, CancellationToken cancellationToken)
    {
        await using var command = Command("select user_id from {schema}.identity_users where code_hash = $1", codeHash);
        return await command.ExecuteScalarAsync(cancellationToken) is Guid id ? id : null;
    }

    public async Task<UserRow?> UserAsync(Guid userId, CancellationToken cancellationToken) =>
        (await UsersAsync("where user_id = $1", userId, cancellationToken)).FirstOrDefault();

    public Task<IReadOnlyList<UserRow>> UsersAsync(Guid authorityId, CancellationToken cancellationToken) =>
        UsersAsync("where authority_id = $1", authorityId, cancellationToken);

    private async Task<IReadOnlyList<UserRow>> UsersAsync(string where, Guid id, CancellationToken cancellationToken)
    {
        await using var command = Command(
            "select user_id, authority_id, display_name, role, status, invited_at from {schema}.identity_users " + where + " order by user_id", id);
        var result = new List<UserRow>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            result.Add(new UserRow(reader.GetGuid(0), reader.GetGuid(1), reader.GetString(2), Enum.Parse<Role>(reader.GetString(3)),
                Enum.Parse<UserStatus>(reader.GetString(4)), reader.GetFieldValue<DateTimeOffset>(5)));
        }

        return result;
    }

    public async Task<DeviceRow?> DeviceAsync(Guid deviceId, CancellationToken cancellationToken) =>
        (await DevicesAsync($"select {DeviceColumns} from {{schema}}.identity_devices where device_id = $1", cancellationToken, deviceId)).FirstOrDefault();

    public Task<IReadOnlyList<DeviceRow>> DevicesAsync(Guid? authorityId, Guid? userId, bool pendingOnly, bool certifiedOnly, CancellationToken cancellationToken) =>
        DevicesAsync("select " + DeviceColumns + """
             from {schema}.identity_devices
            where ($1::uuid is null or authority_id = $1) and ($2::uuid is null or user_id = $2)
              and (not $3 or status = 'Pending') and (not $4 or status = 'Certified')
            order by device_id
            """, cancellationToken, Nullable(authorityId), Nullable(userId), pendingOnly, certifiedOnly);

    /// <summary>The certified devices of any of the users, ordered by device id.</summary>
    public Task<IReadOnlyList<DeviceRow>> CertifiedDevicesOfUsersAsync(Guid[] userIds, CancellationToken cancellationToken) =>
        DevicesAsync($"select {DeviceColumns} from {{schema}}.identity_devices where user_id = any($1) and status = 'Certified' order by device_id",
            cancellationToken, userIds);

    /// <summary>Which of the devices are certified now.</summary>
    public async Task<HashSet<Guid>> CertifiedAmongAsync(Guid[] deviceIds, CancellationToken cancellationToken)
    {
        await using var command = Command("select device_id from {schema}.identity_devices where device_id = any($1) and status = 'Certified'", deviceIds);
        var certified = new HashSet<Guid>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            certified.Add(reader.GetGuid(0));
        }

        return certified;
    }

    /// <summary>True when every one of the devices is certified now (none pending, revoked or unknown).</summary>
    public async Task<bool> AllCertifiedAsync(IReadOnlyList<Guid> deviceIds, CancellationToken cancellationToken)
    {
        await using var command = Command("select count(*) from {schema}.identity_devices where device_id = any($1) and status = 'Certified'",
            deviceIds.ToArray());
        return (long)(await command.ExecuteScalarAsync(cancellationToken))! == deviceIds.Distinct().Count();
    }

    /// <summary>
    /// The certificate chain of a certified device, leaf first, up to the root-issued certificate;
    /// null when the device or one of its issuers is not certified (or revoked) any more.
    /// </summary>
    public async Task<IReadOnlyList<CertificateData>?> ChainAsync(Guid deviceId, CancellationToken cancellationToken)
    {
        var chain = new List<CertificateData>();
        Guid? next = deviceId;
        while (next is { } id && chain.Count < Crypto.CertificateChain.MaxLength)
        {
            var device = await DeviceAsync(id, cancellationToken);
            if (device is not { Status: DeviceStatus.Certified, Certificate: { } certificate })
            {
                return null;
            }

            chain.Add(certificate);
            next = certificate.IssuerDeviceId;
        }

        return next is null ? chain : null;
    }

    public async Task<SessionRow?> SessionAsync(byte[] tokenHash, CancellationToken cancellationToken)
    {
        await using var command = Command("""
            select s.session_id, s.device_id, s.expires_at, d.status, u.user_id, u.status, u.role, u.display_name, u.authority_id,
                s.ended_at is not null
            from {schema}.identity_sessions s
            join {schema}.identity_devices d on d.device_id = s.device_id
            join {schema}.identity_users u on u.user_id = s.user_id
            where s.token_hash = $1
            """, tokenHash);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken)
            ? new SessionRow(reader.GetGuid(0), reader.GetGuid(1), reader.GetFieldValue<DateTimeOffset>(2), Enum.Parse<DeviceStatus>(reader.GetString(3)),
                reader.GetGuid(4), Enum.Parse<UserStatus>(reader.GetString(5)), Enum.Parse<Role>(reader.GetString(6)), reader.GetString(7), reader.GetGuid(8), reader.GetBoolean(9))
            : null;
    }

    /// <summary>Failures from the address since <paramref name="since"/> (whichever devices they named).</summary>
    public async Task<IReadOnlyList<AuthenticationFailed>> RecentFailuresAsync(string peer, DateTimeOffset since, CancellationToken cancellationToken)
    {
        await using var command = Command("""
            select device_id, peer, reason, failed_at from {schema}.identity_auth_failures
            where failed_at > $2 and peer = $1
            """, peer, since);
        var result = new List<AuthenticationFailed>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            result.Add(new AuthenticationFailed(reader.GetGuid(0), reader.GetString(1), reader.GetString(2), reader.GetFieldValue<DateTimeOffset>(3)));
        }

        return result;
    }

    public async Task<IReadOnlyList<LogRow>> LogAsync(long afterPosition, int max, CancellationToken cancellationToken)
    {
        await using var command = Command("""
            select position, link, root_key, certificate::text, revocation::text, recorded_at from {schema}.directory_log
            where position > $1 order by position limit $2
            """, afterPosition, max);
        var result = new List<LogRow>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            result.Add(new LogRow(reader.GetInt64(0), reader.GetFieldValue<byte[]>(1), reader.IsDBNull(2) ? null : reader.GetFieldValue<byte[]>(2),
                FromJson<CertificateData>(reader, 3), FromJson<RevocationData>(reader, 4), reader.GetFieldValue<DateTimeOffset>(5)));
        }

        return result;
    }

    public async Task<(long Position, byte[] Link)> LogHeadAsync(CancellationToken cancellationToken)
    {
        await using var command = Command("select position, link from {schema}.directory_log order by position desc limit 1");
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? (reader.GetInt64(0), reader.GetFieldValue<byte[]>(1)) : (0, []);
    }

    private async Task<IReadOnlyList<DeviceRow>> DevicesAsync(string sql, CancellationToken cancellationToken, params object?[] parameters)
    {
        await using var command = Command(sql, parameters);
        var result = new List<DeviceRow>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            result.Add(new DeviceRow(reader.GetGuid(0), reader.GetGuid(1), reader.GetGuid(2), Enum.Parse<Role>(reader.GetString(3)),
                Enum.Parse<DeviceStatus>(reader.GetString(4)), JsonSerializer.Deserialize<DeviceKeysData>(reader.GetString(5), EventTypeRegistry.JsonOptions)!,
                reader.GetString(6), reader.GetFieldValue<DateTimeOffset>(7), FromJson<CertificateData>(reader, 8), FromJson<RevocationData>(reader, 9)));
        }

        return result;
    }

    private static T? FromJson<T>(NpgsqlDataReader reader, int ordinal) where T : class =>
        reader.IsDBNull(ordinal) ? null : JsonSerializer.Deserialize<T>(reader.GetString(ordinal), EventTypeRegistry.JsonOptions);

    private static NpgsqlParameter Nullable(Guid? id) => new() { Value = (object?)id ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Uuid };

    private NpgsqlCommand Command(string sql, params object?[] parameters) => dataSource.SchemaCommand(store, sql, parameters);
}
