using Npgsql;

namespace GlobeSecure.EventStore;

/// <summary>
/// A signed checkpoint of the audit chain (docs/audit.md "Checkpoints"): the link
/// <paramref name="Hash"/> at <paramref name="Position"/>, signed at <paramref name="SignedAt"/> by the
/// server key <paramref name="KeyId"/>.
/// </summary>
/// <param name="Position">The audit position signed.</param>
/// <param name="Hash">The audit link at that position (32 bytes).</param>
/// <param name="SignedAt">When it was signed (microseconds, as stored and signed).</param>
/// <param name="KeyId">The signing key's fingerprint.</param>
/// <param name="Signature">Ed25519 signature over the checkpoint's canonical bytes.</param>
/// <param name="RetentionCut">True when the entries up to <paramref name="Position"/> were purged after it was recorded.</param>
public sealed record StoredCheckpoint(long Position, ReadOnlyMemory<byte> Hash, DateTimeOffset SignedAt, string KeyId,
    ReadOnlyMemory<byte> Signature, bool RetentionCut);

/// <summary>A key the server has signed with, recorded when first used.</summary>
/// <param name="KeyId">The key's fingerprint.</param>
/// <param name="PublicKey">The Ed25519 public key (32 bytes).</param>
/// <param name="Purpose">What it signs, e.g. "audit-checkpoint".</param>
/// <param name="FirstUsedAt">When it was first recorded.</param>
public sealed record StoredServerKey(string KeyId, ReadOnlyMemory<byte> PublicKey, string Purpose, DateTimeOffset FirstUsedAt);

public sealed partial class PostgresEventStore
{
    private const string CheckpointColumns = "position, hash, signed_at, key_id, signature, retention_cut";

    /// <summary>The audit chain's head: its last position (0 when empty) and link.</summary>
    public async Task<(long Position, ReadOnlyMemory<byte> Hash)> ReadAuditHeadAsync(CancellationToken cancellationToken = default)
    {
        await using var command = _dataSource.CreateCommand($"select audit_position, audit_hash from {_schema}.heads where id = 1");
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken)
            ? (reader.GetInt64(0), reader.GetFieldValue<byte[]>(1))
            : throw new InvalidOperationException("The chain head row is missing.");
    }

    /// <summary>
    /// Stores a checkpoint if no checkpoint exists at its position yet and its hash is the stored
    /// link at that position (so a signer racing another process, or signing a stale read, stores
    /// nothing wrong). Returns whether it was stored.
    /// </summary>
    public async Task<bool> RecordCheckpointAsync(StoredCheckpoint checkpoint, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        await using var command = _dataSource.CreateCommand(
            $"""
            insert into {_schema}.audit_checkpoints ({CheckpointColumns})
            select $1, $2, $3, $4, $5, $6 where exists (select 1 from {_schema}.audit where position = $1 and hash = $2)
            on conflict (position) do nothing
            """);
        AddCheckpointParameters(command, checkpoint);
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    /// <summary>Checkpoints after <paramref name="afterPosition"/>, ascending.</summary>
    public async Task<IReadOnlyList<StoredCheckpoint>> ReadCheckpointsAsync(long afterPosition, int maxCount = 100, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxCount);
        await using var command = _dataSource.CreateCommand(
            $"select {CheckpointColumns} from {_schema}.audit_checkpoints where position > $1 order by position limit $2");
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = afterPosition });
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = maxCount });
        return await ReadCheckpointsAsync(command, cancellationToken);
    }

    /// <summary>The checkpoint with the highest position, or null when there is none.</summary>
    public async Task<StoredCheckpoint?> ReadLastCheckpointAsync(bool retentionCutOnly = false, CancellationToken cancellationToken = default)
    {
        await using var command = _dataSource.CreateCommand(
            $"select {CheckpointColumns} from {_schema}.audit_checkpoints {(retentionCutOnly ? "where retention_cut" : "")} order by position desc limit 1");
        var found = await ReadCheckpointsAsync(command, cancellationToken);
        return found.Count == 0 ? null : found[0];
    }

    /// <summary>The checkpoint with the highest position below <paramref name="position"/>, or null.</summary>
    public async Task<StoredCheckpoint?> ReadLastCheckpointBeforeAsync(long position, CancellationToken cancellationToken = default)
    {
        await using var command = _dataSource.CreateCommand(
            $"select {CheckpointColumns} from {_schema}.audit_checkpoints where position < $1 order by position desc limit 1");
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = position });
        var found = await ReadCheckpointsAsync(command, cancellationToken);
        return found.Count == 0 ? null : found[0];
    }

    /// <summary>Records a key the server signs with, the first time it is used (later calls change nothing).</summary>
    public async Task RecordServerKeyAsync(StoredServerKey key, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        await using var command = _dataSource.CreateCommand(
            $"insert into {_schema}.server_keys (key_id, public_key, purpose, first_used_at) values ($1, $2, $3, $4) on conflict (key_id) do nothing");
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = key.KeyId });
        command.Parameters.Add(new NpgsqlParameter<byte[]> { TypedValue = key.PublicKey.ToArray() });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = key.Purpose });
        command.Parameters.Add(new NpgsqlParameter<DateTime> { TypedValue = HashChain.TruncateToMicroseconds(key.FirstUsedAt).UtcDateTime });
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>Every key the server has recorded, oldest first.</summary>
    public async Task<IReadOnlyList<StoredServerKey>> ReadServerKeysAsync(CancellationToken cancellationToken = default)
    {
        await using var command = _dataSource.CreateCommand(
            $"select key_id, public_key, purpose, first_used_at from {_schema}.server_keys order by first_used_at, key_id");
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var keys = new List<StoredServerKey>();
        while (await reader.ReadAsync(cancellationToken))
        {
            keys.Add(new StoredServerKey(reader.GetString(0), reader.GetFieldValue<byte[]>(1), reader.GetString(2),
                new DateTimeOffset(reader.GetFieldValue<DateTime>(3), TimeSpan.Zero)));
        }

        return keys;
    }

    /// <summary>The last audit position whose entry occurred before <paramref name="cutoff"/>, or 0 when none did.</summary>
    public async Task<long> LastAuditPositionBeforeAsync(DateTimeOffset cutoff, CancellationToken cancellationToken = default)
    {
        await using var command = _dataSource.CreateCommand($"select coalesce(max(position), 0) from {_schema}.audit where occurred_at < $1");
        command.Parameters.Add(new NpgsqlParameter<DateTime> { TypedValue = cutoff.UtcDateTime });
        return (long)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    /// <summary>
    /// The retention purge (docs/event-store.md "Retention of the audit log"): in one transaction,
    /// records the retention-cut checkpoint that <paramref name="sign"/> makes of the unsigned one it
    /// is given (the last stored position up to <paramref name="throughPosition"/> without a plain
    /// checkpoint, and its link), then deletes the audit entries up to and including it —
    /// the only delete the append-only guard lets through, because this transaction alone sets
    /// <c>globe.audit_retention_cut</c>. The chain that remains verifies from the cut's signed hash.
    /// Returns the entries deleted (0 when the position is not stored, or another process cut there first).
    /// </summary>
    public async Task<long> PurgeAuditThroughAsync(long throughPosition, Func<StoredCheckpoint, StoredCheckpoint> sign,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(sign);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(throughPosition);
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);

        // One purge at a time across processes; the second finds the cut already recorded.
        await using (var locking = new NpgsqlCommand($"select pg_advisory_xact_lock({PurgeLockKey})", connection, transaction))
        {
            await locking.ExecuteNonQueryAsync(cancellationToken);
        }

        // The cut goes at the last stored position up to the one asked for that has no plain
        // checkpoint already (checkpoints are append-only, so one cannot become a cut).
        long through;
        byte[] hash;
        await using (var read = new NpgsqlCommand(
            $"""
            select a.position, a.hash from {_schema}.audit a
            where a.position <= $1
              and not exists (select 1 from {_schema}.audit_checkpoints c where c.position = a.position and not c.retention_cut)
            order by a.position desc limit 1
            """, connection, transaction))
        {
            read.Parameters.Add(new NpgsqlParameter<long> { TypedValue = throughPosition });
            await using var reader = await read.ExecuteReaderAsync(cancellationToken);
            if (!await reader.ReadAsync(cancellationToken))
            {
                return 0;
            }

            through = reader.GetInt64(0);
            hash = reader.GetFieldValue<byte[]>(1);
        }

        var checkpoint = sign(new StoredCheckpoint(through, hash, default, "", ReadOnlyMemory<byte>.Empty, RetentionCut: true));
        if (checkpoint.Position != through || !checkpoint.RetentionCut || !checkpoint.Hash.Span.SequenceEqual(hash))
        {
            throw new ArgumentException("The retention cut must be a retention-cut checkpoint of the given position and hash.", nameof(sign));
        }

        await using (var record = new NpgsqlCommand(
            $"insert into {_schema}.audit_checkpoints ({CheckpointColumns}) values ($1, $2, $3, $4, $5, $6) on conflict (position) do nothing",
            connection, transaction))
        {
            AddCheckpointParameters(record, checkpoint);
            await record.ExecuteNonQueryAsync(cancellationToken);
        }

        // Another process may have cut here first, with its own signature: either way it is a cut.
        await using (var check = new NpgsqlCommand($"select retention_cut from {_schema}.audit_checkpoints where position = $1", connection, transaction))
        {
            check.Parameters.Add(new NpgsqlParameter<long> { TypedValue = through });
            if (await check.ExecuteScalarAsync(cancellationToken) is not true)
            {
                return 0;
            }
        }

        await using (var allow = new NpgsqlCommand("select set_config('globe.audit_retention_cut', $1, true)", connection, transaction))
        {
            allow.Parameters.Add(new NpgsqlParameter<string> { TypedValue = through.ToString(System.Globalization.CultureInfo.InvariantCulture) });
            await allow.ExecuteNonQueryAsync(cancellationToken);
        }

        long deleted;
        await using (var purge = new NpgsqlCommand($"delete from {_schema}.audit where position <= $1", connection, transaction))
        {
            purge.Parameters.Add(new NpgsqlParameter<long> { TypedValue = through });
            deleted = await purge.ExecuteNonQueryAsync(cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
        return deleted;
    }

    // Arbitrary constant shared by every process purging this database.
    private const long PurgeLockKey = 0x476C6F6265_5075;

    private static void AddCheckpointParameters(NpgsqlCommand command, StoredCheckpoint checkpoint)
    {
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = checkpoint.Position });
        command.Parameters.Add(new NpgsqlParameter<byte[]> { TypedValue = checkpoint.Hash.ToArray() });
        command.Parameters.Add(new NpgsqlParameter<DateTime> { TypedValue = HashChain.TruncateToMicroseconds(checkpoint.SignedAt).UtcDateTime });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = checkpoint.KeyId });
        command.Parameters.Add(new NpgsqlParameter<byte[]> { TypedValue = checkpoint.Signature.ToArray() });
        command.Parameters.Add(new NpgsqlParameter<bool> { TypedValue = checkpoint.RetentionCut });
    }

    private static async Task<IReadOnlyList<StoredCheckpoint>> ReadCheckpointsAsync(NpgsqlCommand command, CancellationToken cancellationToken)
    {
        var checkpoints = new List<StoredCheckpoint>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            checkpoints.Add(ReadCheckpoint(reader));
        }

        return checkpoints;
    }

    private static StoredCheckpoint ReadCheckpoint(NpgsqlDataReader reader) =>
        new(reader.GetInt64(0), reader.GetFieldValue<byte[]>(1), new DateTimeOffset(reader.GetFieldValue<DateTime>(2), TimeSpan.Zero),
            reader.GetString(3), reader.GetFieldValue<byte[]>(4), reader.GetBoolean(5));
}
