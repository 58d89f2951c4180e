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

    /// <summary>Walks the audit hash chain like <see cref="VerifyEventsAsync"/>, checking the stored checkpoints' hashes (not their signatures).</summary>
    public Task<ChainVerification> VerifyAuditAsync(CancellationToken cancellationToken = default) => VerifyAuditAsync(null, cancellationToken);

    /// <summary>
    /// Walks the audit hash chain like <see cref="VerifyEventsAsync"/>, and checks every stored
    /// checkpoint (docs/audit.md "Verification"): its signature through <paramref name="checkSignature"/>
    /// (null when it verifies under a known server key, else what is wrong; null skips the check),
    /// and its hash against the link at its position. When entries were purged under retention, the
    /// walk starts after the last retention-cut checkpoint, from its signed hash. The first failure,
    /// by position, is reported.
    /// </summary>
    public async Task<ChainVerification> VerifyAuditAsync(Func<StoredCheckpoint, string?>? checkSignature, CancellationToken cancellationToken = default)
    {
        var checkpoints = new List<StoredCheckpoint>();
        for (IReadOnlyList<StoredCheckpoint> page; (page = await ReadCheckpointsAsync(checkpoints.Count == 0 ? 0 : checkpoints[^1].Position, 1000,
            cancellationToken)).Count > 0;)
        {
            checkpoints.AddRange(page);
        }

        var cut = checkpoints.LastOrDefault(c => c.RetentionCut);
        var start = cut?.Position ?? 0;
        var checkedCheckpoints = 0L;
        string? Signature(StoredCheckpoint checkpoint)
        {
            checkedCheckpoints++;
            return checkSignature?.Invoke(checkpoint) is { } problem ? $"checkpoint at position {checkpoint.Position}: {problem}" : null;
        }

        // Checkpoints of purged entries (the cut among them) can only have their signatures checked.
        foreach (var checkpoint in checkpoints.TakeWhile(c => c.Position <= start))
        {
            if (Signature(checkpoint) is { } problem)
            {
                return ChainVerification.Broken(0, checkpoint.Position, problem) with { Checkpoints = checkedCheckpoints };
            }
        }

        var byPosition = checkpoints.Where(c => c.Position > start).ToDictionary(c => c.Position);
        string? CheckLink(long position, byte[] link)
        {
            if (!byPosition.Remove(position, out var checkpoint))
            {
                return null;
            }

            return Signature(checkpoint)
                ?? (checkpoint.Hash.Span.SequenceEqual(link) ? null : $"the checkpoint at position {position} signs another hash than the stored link");
        }

        var result = await WalkChainAsync($"select {AuditColumns} from {_schema}.audit where position > {start} order by position", "entry",
            "audit_position", "audit_hash",
            (reader, previous) =>
            {
                var stored = ReadAudit(reader);
                return (stored.Position, stored.Hash.ToArray(), HashChain.AuditLink(previous, stored.Position, stored.Entry));
            },
            cancellationToken, start, cut?.Hash ?? HashChain.Genesis, CheckLink);
        if (result.IsValid && byPosition.Count > 0)
        {
            var beyond = byPosition.Keys.Min();
            result = ChainVerification.Broken(result.Checked, beyond, $"a checkpoint at position {beyond} is beyond the end of the chain");
        }

        return result with { Checkpoints = checkedCheckpoints };
    }

    private delegate (long Position, byte[] Stored, byte[] Recomputed) ChainLinkReader(Npgsql.NpgsqlDataReader reader, ReadOnlySpan<byte> previous);

    private async Task<ChainVerification> WalkChainAsync(string sql, string what, string headPositionColumn, string headHashColumn,
        ChainLinkReader read, CancellationToken cancellationToken, long startAfter = 0, ReadOnlyMemory<byte>? startHash = null,
        Func<long, byte[], string?>? checkLink = null)
    {
        await using var command = _dataSource.CreateCommand(sql);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var previous = startHash ?? HashChain.Genesis;
        long expected = startAfter + 1, count = 0;
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

            if (checkLink?.Invoke(position, stored) is { } problem)
            {
                return ChainVerification.Broken(count, position, problem);
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
