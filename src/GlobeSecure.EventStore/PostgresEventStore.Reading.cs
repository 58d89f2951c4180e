using System.Runtime.CompilerServices;
using System.Text.Json;
using Npgsql;

namespace GlobeSecure.EventStore;

/// <summary>State folded from a stream, with the version it was read at (the expected version of the next append).</summary>
/// <typeparam name="TState">The aggregate's state.</typeparam>
/// <param name="State">The folded state.</param>
/// <param name="Version">The stream's version (0 when it does not exist).</param>
public sealed record Aggregate<TState>(TState State, long Version);

public sealed partial class PostgresEventStore
{
    private const string EventColumns = "position, event_id, stream_id, version, type, data, metadata, recorded_at, hash";

    /// <summary>Reads a stream's events from <paramref name="fromVersion"/> on, in version order.</summary>
    public async Task<IReadOnlyList<StoredEvent>> ReadStreamAsync(string streamId, long fromVersion = 1, CancellationToken cancellationToken = default)
    {
        await using var command = _dataSource.CreateCommand($"select {EventColumns} from {_schema}.events where stream_id = $1 and version >= $2 order by version");
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = streamId });
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = fromVersion });
        return await ReadEventsAsync(command, cancellationToken);
    }

    /// <summary>Reads up to <paramref name="maxCount"/> events after global position <paramref name="afterPosition"/>, in position order.</summary>
    public async Task<IReadOnlyList<StoredEvent>> ReadAllAsync(long afterPosition, int maxCount = 500, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxCount);
        await using var command = _dataSource.CreateCommand($"select {EventColumns} from {_schema}.events where position > $1 order by position limit $2");
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = afterPosition });
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = maxCount });
        return await ReadEventsAsync(command, cancellationToken);
    }

    /// <summary>The global position of the last committed event (0 when there is none).</summary>
    public async Task<long> HeadPositionAsync(CancellationToken cancellationToken = default)
    {
        await using var command = _dataSource.CreateCommand($"select event_position from {_schema}.heads where id = 1");
        return (long)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    /// <summary>A stream's current version (0 when it does not exist).</summary>
    public async Task<long> StreamVersionAsync(string streamId, CancellationToken cancellationToken = default)
    {
        await using var command = _dataSource.CreateCommand($"select version from {_schema}.streams where stream_id = $1");
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = streamId });
        return await command.ExecuteScalarAsync(cancellationToken) is long version ? version : 0;
    }

    /// <summary>
    /// Folds a stream into state: <paramref name="evolve"/> is applied to each event in order,
    /// starting from <paramref name="initial"/> (the state of a stream that does not exist).
    /// </summary>
    public async Task<Aggregate<TState>> AggregateStreamAsync<TState>(string streamId, TState initial,
        Func<TState, object, TState> evolve, CancellationToken cancellationToken = default)
    {
        var events = await ReadStreamAsync(streamId, 1, cancellationToken);
        var state = initial;
        foreach (var e in events)
        {
            state = evolve(state, e.Data);
        }

        return new Aggregate<TState>(state, events.Count == 0 ? 0 : events[^1].Version);
    }

    /// <summary>
    /// The one write path for features: load the stream, let <paramref name="decide"/> turn the
    /// state into new events (pure; may throw a domain error), and append them expecting the
    /// version that was loaded, with the audit entry in the same transaction.
    /// </summary>
    /// <returns>The state after the new events, and what the append did.</returns>
    public async Task<(TState State, AppendResult Append)> DecideAsync<TState>(string streamId, TState initial,
        Func<TState, object, TState> evolve, Func<TState, IReadOnlyList<object>> decide, AuditEntry? audit = null,
        EventMetadata? metadata = null, CancellationToken cancellationToken = default)
    {
        var (state, version) = await AggregateStreamAsync(streamId, initial, evolve, cancellationToken);
        var events = decide(state);
        var result = await AppendAsync(streamId, ExpectedVersion.Exactly(version), events.Select(NewEvent.From).ToArray(),
            audit, metadata, cancellationToken);
        foreach (var e in events)
        {
            state = evolve(state, e);
        }

        return (state, result);
    }

    /// <summary>
    /// Every event after <paramref name="afterPosition"/>, then each new one as it is committed by
    /// any process on the database, in position order, exactly once; until cancelled.
    /// </summary>
    public async IAsyncEnumerable<StoredEvent> SubscribeAsync(long afterPosition,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        _notifier.EnsureListening();
        var position = afterPosition;
        while (!cancellationToken.IsCancellationRequested)
        {
            // Take the wake-up before reading, so a commit between the read and the wait still wakes us.
            var wake = _notifier.NextSignal;
            var page = await SharedPageAsync(position, wake).WaitAsync(cancellationToken);
            foreach (var e in page)
            {
                yield return e;
                position = e.Position;
            }

            if (page.Count < 500)
            {
                try
                {
                    await wake.WaitAsync(_options.SubscriptionPollInterval, cancellationToken);
                }
                catch (TimeoutException)
                {
                    // Poll anyway: a lost LISTEN connection delays delivery, never loses it.
                }
            }
        }
    }

    /// <summary>
    /// The page after <paramref name="afterPosition"/>, read once for every subscription that asks
    /// for the same position under the same wake-up (<paramref name="generation"/>): a read started
    /// after that wake-up was taken sees every commit it signals, so sharing it changes nothing for
    /// the subscription, and N live subscribers in step cost one query and one deserialisation
    /// instead of N.
    /// </summary>
    private Task<IReadOnlyList<StoredEvent>> SharedPageAsync(long afterPosition, Task generation)
    {
        lock (_pageGate)
        {
            if (_sharedPage is { } shared && shared.After == afterPosition && ReferenceEquals(shared.Generation, generation)
                && !shared.Page.IsFaulted && !shared.Page.IsCanceled)
            {
                return shared.Page;
            }

            var page = ReadAllAsync(afterPosition, 500, _stopping.Token);
            _sharedPage = (afterPosition, generation, page);
            return page;
        }
    }

    /// <summary>Reads the audit trail after <paramref name="afterPosition"/>, in chain order.</summary>
    public async Task<IReadOnlyList<StoredAuditEntry>> ReadAuditAsync(long afterPosition, int maxCount = 500, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxCount);
        await using var command = _dataSource.CreateCommand($"select {AuditColumns} from {_schema}.audit where position > $1 order by position limit $2");
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = afterPosition });
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = maxCount });
        var entries = new List<StoredAuditEntry>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            entries.Add(ReadAudit(reader));
        }

        return entries;
    }

    /// <summary>
    /// The audit entries whose target is <paramref name="target"/>, in chain order (at most
    /// <paramref name="maxCount"/>), each with the link of the entry before it in the chain, so that
    /// its own link can be recomputed without the rest of the chain (an export package's extract).
    /// </summary>
    public async Task<IReadOnlyList<LinkedAuditEntry>> ReadAuditOfTargetAsync(string target, int maxCount = 1000, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(target);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxCount);
        var columns = string.Join(", ", AuditColumns.Split(", ").Select(c => "a." + c));
        await using var command = _dataSource.CreateCommand(
            $"select {columns}, {PreviousAuditLinkSql} where a.target = $1 order by a.position limit $2");
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = target });
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = maxCount });
        var entries = new List<LinkedAuditEntry>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            entries.Add(new LinkedAuditEntry(ReadAudit(reader), reader.IsDBNull(13) ? HashChain.Genesis : reader.GetFieldValue<byte[]>(13)));
        }

        return entries;
    }

    // The link before each entry "a": the entry before it, or, when that one was purged, the signed
    // retention-cut checkpoint at its position (null only at position 1: the genesis).
    private string PreviousAuditLinkSql =>
        $"coalesce(p.hash, cut.hash) from {_schema}.audit a left join {_schema}.audit p on p.position = a.position - 1 "
        + $"left join {_schema}.audit_checkpoints cut on cut.position = a.position - 1 and cut.retention_cut";

    /// <summary>A stream's events in version order, each with the link of the event before it in the global chain (see <see cref="ReadAuditOfTargetAsync"/>).</summary>
    public async Task<IReadOnlyList<LinkedEvent>> ReadStreamLinkedAsync(string streamId, CancellationToken cancellationToken = default)
    {
        var columns = string.Join(", ", EventColumns.Split(", ").Select(c => "e." + c));
        await using var command = _dataSource.CreateCommand(
            $"select {columns}, p.hash from {_schema}.events e left join {_schema}.events p on p.position = e.position - 1 where e.stream_id = $1 order by e.version");
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = streamId });
        var events = new List<LinkedEvent>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            events.Add(new LinkedEvent(ReadEvent(reader), NullableString(reader, 6), reader.IsDBNull(9) ? HashChain.Genesis : reader.GetFieldValue<byte[]>(9)));
        }

        return events;
    }

    private const string AuditColumns = "position, entry_id, occurred_at, action, outcome, actor_user_id, actor_device_id, actor_authority_id, target, reason, peer, trace_id, hash";

    private async Task<StoredAuditEntry> ReadAuditEntryAsync(Guid entryId, CancellationToken cancellationToken)
    {
        await using var command = _dataSource.CreateCommand($"select {AuditColumns} from {_schema}.audit where entry_id = $1");
        command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = entryId });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken)
            ? ReadAudit(reader)
            : throw new InvalidOperationException($"Audit entry {entryId} was not stored.");
    }

    private static StoredAuditEntry ReadAudit(NpgsqlDataReader reader)
    {
        var entry = new AuditEntry(
            reader.GetGuid(1),
            new DateTimeOffset(reader.GetFieldValue<DateTime>(2), TimeSpan.Zero),
            reader.GetString(3),
            AuditOutcomeWire.FromWire(reader.GetString(4)),
            NullableGuid(reader, 5),
            NullableGuid(reader, 6),
            NullableGuid(reader, 7),
            NullableString(reader, 8),
            NullableString(reader, 9),
            NullableString(reader, 10),
            NullableString(reader, 11));
        return new StoredAuditEntry(reader.GetInt64(0), entry, reader.GetFieldValue<byte[]>(12));
    }

    private async Task<IReadOnlyList<StoredEvent>> ReadEventsAsync(NpgsqlCommand command, CancellationToken cancellationToken)
    {
        var events = new List<StoredEvent>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            events.Add(ReadEvent(reader));
        }

        return events;
    }

    private StoredEvent ReadEvent(NpgsqlDataReader reader)
    {
        var type = reader.GetString(4);
        var json = reader.GetString(5);
        var metadata = NullableString(reader, 6);
        return new StoredEvent(
            reader.GetInt64(0),
            reader.GetGuid(1),
            reader.GetString(2),
            reader.GetInt64(3),
            type,
            Types.Deserialize(type, json),
            json,
            metadata is null ? null : JsonSerializer.Deserialize<EventMetadata>(metadata, MetadataJsonOptions),
            new DateTimeOffset(reader.GetFieldValue<DateTime>(7), TimeSpan.Zero),
            reader.GetFieldValue<byte[]>(8));
    }

    private static Guid? NullableGuid(NpgsqlDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetGuid(ordinal);

    private static string? NullableString(NpgsqlDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);
}
