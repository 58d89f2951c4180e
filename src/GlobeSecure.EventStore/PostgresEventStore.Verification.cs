namespace GlobeSecure.EventStore;

public sealed partial class PostgresEventStore
{
    /// <summary>
    /// Walks the event hash chain from the first event, recomputing every link, and names the
    /// first position that does not verify (changed, missing or reordered), or a head that does
    /// not match the last event.
    /// </summary>
    public async Task<ChainVerification> VerifyEventsAsync(CancellationToken cancellationToken = default)
    {
        await using var command = _dataSource.CreateCommand($"select position, event_id, stream_id, version, type, data, metadata, recorded_at, hash from {_schema}.events order by position");
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        ReadOnlyMemory<byte> previous = HashChain.Genesis;
        long expected = 1, count = 0;
        while (await reader.ReadAsync(cancellationToken))
        {
            var position = reader.GetInt64(0);
            if (position != expected)
            {
                return ChainVerification.Broken(count, expected, $"position {expected} is missing (next stored is {position})");
            }

            var link = HashChain.EventLink(previous.Span, position, reader.GetGuid(1), reader.GetString(2), reader.GetInt64(3),
                reader.GetString(4), reader.GetString(5), NullableString(reader, 6),
                new DateTimeOffset(reader.GetFieldValue<DateTime>(7), TimeSpan.Zero));
            var stored = reader.GetFieldValue<byte[]>(8);
            count++;
            if (!link.AsSpan().SequenceEqual(stored))
            {
                return ChainVerification.Broken(count, position, "the stored hash does not match the event's content and the previous link");
            }

            previous = stored;
            expected++;
        }

        return await CheckHeadAsync("event_position", "event_hash", expected - 1, previous, count, cancellationToken);
    }

    /// <summary>Walks the audit hash chain like <see cref="VerifyEventsAsync"/>.</summary>
    public async Task<ChainVerification> VerifyAuditAsync(CancellationToken cancellationToken = default)
    {
        await using var command = _dataSource.CreateCommand($"select {AuditColumns} from {_schema}.audit order by position");
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        ReadOnlyMemory<byte> previous = HashChain.Genesis;
        long expected = 1, count = 0;
        while (await reader.ReadAsync(cancellationToken))
        {
            var stored = ReadAudit(reader);
            if (stored.Position != expected)
            {
                return ChainVerification.Broken(count, expected, $"position {expected} is missing (next stored is {stored.Position})");
            }

            var link = HashChain.AuditLink(previous.Span, stored.Position, stored.Entry);
            count++;
            if (!link.AsSpan().SequenceEqual(stored.Hash.Span))
            {
                return ChainVerification.Broken(count, stored.Position, "the stored hash does not match the entry's content and the previous link");
            }

            previous = stored.Hash;
            expected++;
        }

        return await CheckHeadAsync("audit_position", "audit_hash", expected - 1, previous, count, cancellationToken);
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
