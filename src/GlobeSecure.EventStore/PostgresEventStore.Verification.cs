namespace GlobeSecure.EventStore;

public sealed partial class PostgresEventStore
{
    /// <summary>
    /// Walks the event hash chain from the first event, recomputing every link, and names the
    /// first position that does not verify (changed, missing or reordered), or a head that does
    /// not match the last event.
    /// </summary>
    public Task<ChainVerification> VerifyEventsAsync(CancellationToken cancellationToken = default) =>
        WalkChainAsync($"select {EventColumns} from {_schema}.events order by position", "event", "event_position", "event_hash",
            (reader, previous) => (reader.GetInt64(0), reader.GetFieldValue<byte[]>(8), HashChain.EventLink(previous, reader.GetInt64(0),
                reader.GetGuid(1), reader.GetString(2), reader.GetInt64(3), reader.GetString(4), reader.GetString(5), NullableString(reader, 6),
                new DateTimeOffset(reader.GetFieldValue<DateTime>(7), TimeSpan.Zero))),
            cancellationToken);

    /// <summary>Walks the audit hash chain like <see cref="VerifyEventsAsync"/>.</summary>
    public Task<ChainVerification> VerifyAuditAsync(CancellationToken cancellationToken = default) =>
        WalkChainAsync($"select {AuditColumns} from {_schema}.audit order by position", "entry", "audit_position", "audit_hash",
            (reader, previous) =>
            {
                var stored = ReadAudit(reader);
                return (stored.Position, stored.Hash.ToArray(), HashChain.AuditLink(previous, stored.Position, stored.Entry));
            },
            cancellationToken);

    private delegate (long Position, byte[] Stored, byte[] Recomputed) ChainLinkReader(Npgsql.NpgsqlDataReader reader, ReadOnlySpan<byte> previous);

    private async Task<ChainVerification> WalkChainAsync(string sql, string what, string headPositionColumn, string headHashColumn,
        ChainLinkReader read, CancellationToken cancellationToken)
    {
        await using var command = _dataSource.CreateCommand(sql);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        ReadOnlyMemory<byte> previous = HashChain.Genesis;
        long expected = 1, count = 0;
        while (await reader.ReadAsync(cancellationToken))
        {
            var (position, stored, recomputed) = read(reader, previous.Span);
            if (position != expected)
            {
                return ChainVerification.Broken(count, expected, $"position {expected} is missing (next stored is {position})");
            }

            count++;
            if (!recomputed.AsSpan().SequenceEqual(stored))
            {
                return ChainVerification.Broken(count, position, $"the stored hash does not match the {what}'s content and the previous link");
            }

            previous = stored;
            expected++;
        }

        return await CheckHeadAsync(headPositionColumn, headHashColumn, expected - 1, previous, count, cancellationToken);
    }

    private async Task<ChainVerification> CheckHeadAsync(string positionColumn, string hashColumn, long last, ReadOnlyMemory<byte> lastHash,
        long count, CancellationToken cancellationToken)
    {
        await using var command = _dataSource.CreateCommand($"select {positionColumn}, {hashColumn} from {_schema}.heads where id = 1");
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
        {
            return ChainVerification.Broken(count, last + 1, "the chain head row is missing");
        }

        var headPosition = reader.GetInt64(0);
        var headHash = reader.GetFieldValue<byte[]>(1);
        if (headPosition != last)
        {
            return ChainVerification.Broken(count, Math.Min(headPosition, last) + 1,
                $"the chain ends at position {last} but its head records position {headPosition}");
        }

        return headHash.AsSpan().SequenceEqual(lastHash.Span)
            ? ChainVerification.Valid(count)
            : ChainVerification.Broken(count, last, "the chain head's hash does not match the last link");
    }
}
