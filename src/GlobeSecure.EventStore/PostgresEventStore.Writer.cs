using Npgsql;
using NpgsqlTypes;

namespace GlobeSecure.EventStore;

public sealed partial class PostgresEventStore
{
    private async Task WriteLoopAsync()
    {
        var batch = new List<PendingWrite>(_options.MaxBatchSize);
        while (await _queue.Reader.WaitToReadAsync())
        {
            if (batch.Count > 1)
            {
                // Several callers shared the last commit: give those just woken a moment to queue
                // their next append, so the next commit carries them all instead of half.
                await Task.Yield();
            }

            batch.Clear();
            while (batch.Count < _options.MaxBatchSize && _queue.Reader.TryRead(out var write))
            {
                if (write.CancellationToken.IsCancellationRequested)
                {
                    write.Completion.TrySetCanceled(write.CancellationToken);
                    continue;
                }

                batch.Add(write);
            }

            if (batch.Count == 0)
            {
                continue;
            }

            try
            {
                await CommitBatchAsync(batch);
                Complete(batch);
            }
            catch (Exception) when (batch.Count > 1)
            {
                // One append's projection (or an unexpected constraint) failed and took the whole
                // transaction down. Commit each append alone so only the culprit sees its error.
                foreach (var write in batch)
                {
                    var single = new List<PendingWrite>(1) { write };
                    try
                    {
                        await CommitBatchAsync(single);
                        Complete(single);
                    }
                    catch (Exception ex)
                    {
                        write.Completion.TrySetException(ex);
                    }
                }
            }
            catch (Exception ex)
            {
                batch[0].Completion.TrySetException(ex);
            }
        }
    }

    private void Complete(List<PendingWrite> batch)
    {
        OnCommitted(batch);
        foreach (var write in batch)
        {
            if (write.Rejected is { } rejected)
            {
                write.Completion.TrySetException(rejected);
            }
            else
            {
                write.Completion.TrySetResult(write.Planned!);
            }
        }
    }

    /// <summary>The chain heads as this writer last committed or read them.</summary>
    private sealed record Heads(long EventPosition, byte[] EventHash, long AuditPosition, byte[] AuditHash);

    /// <summary>What the writer knows about the database, to plan a batch.</summary>
    private sealed class Knowledge
    {
        public Dictionary<string, long> Versions { get; } = new(StringComparer.Ordinal);

        public HashSet<string> Absent { get; } = new(StringComparer.Ordinal);

        /// <summary>Streams whose version came from the cache: exact while the heads have not moved.</summary>
        public HashSet<string> Verified { get; } = new(StringComparer.Ordinal);

        public Dictionary<Guid, (string StreamId, long Version, long Position)> StoredEvents { get; } = [];

        public HashSet<Guid> StoredAudit { get; } = [];
    }

    private sealed record Plan(Heads Start, Heads End, List<StoredEvent> Events, List<string?> EventMetadata,
        List<StoredAuditEntry> Audit, Dictionary<string, long> StreamsTouched, Dictionary<string, long> Assumed, DateTimeOffset RecordedAt);

    private const int MaxCachedStreams = 100_000;
    private const string StaleCacheState = PostgresErrorCodes.DivisionByZero;

    // Owned by the single writer loop: no locking needed. Every entry is a stream's exact version
    // as of _heads, the state after our last commit: while the heads are still there, nobody else
    // has written, so cached versions need no check; a moved head sends the batch to the slow path.
    private readonly Dictionary<string, long> _versionCache = new(StringComparer.Ordinal);
    private NpgsqlConnection? _writerConnection;
    private Heads? _heads;

    /// <summary>
    /// Commits a batch. Fast path, one round trip: when the writer's cache knows the heads and
    /// every stream's version, the plan is sent as one batch whose first statement checks it
    /// (<see cref="MoveHeads"/>) and which commits as one implicit transaction. Otherwise, or when
    /// that check or a unique constraint says the cache is stale, the slow path reads the state
    /// under the heads lock first.
    /// </summary>
    private async Task CommitBatchAsync(List<PendingWrite> batch)
    {
        using var activity = ActivitySource.StartActivity("eventstore.commit");
        activity?.SetTag("globe.batch_size", batch.Count);
        var cancellationToken = _stopping.Token;
        var connection = await WriterConnectionAsync(cancellationToken);
        try
        {
            if (_heads is { } heads && TryPlanFromCache(batch, heads) is { } cached)
            {
                try
                {
                    await ExecuteAsync(connection, batch, cached, assert: true, cancellationToken);
                    activity?.SetTag("globe.path", "fast");
                    return;
                }
                catch (PostgresException ex) when (ex.SqlState is StaleCacheState or PostgresErrorCodes.UniqueViolation)
                {
                    // Someone else wrote, or an id is a retry: learn the truth under the lock.
                    await RollbackAsync(connection, cancellationToken);
                }
            }

            activity?.SetTag("globe.path", "read");
            await using (var begin = new NpgsqlCommand("begin", connection))
            {
                await begin.ExecuteNonQueryAsync(cancellationToken);
            }

            // The cache is exact only as of our last commit; someone else may have written since.
            _versionCache.Clear();
            var (start, knowledge) = await ReadStateAsync(connection, batch, cancellationToken);
            foreach (var (streamId, version) in knowledge.Versions)
            {
                _versionCache[streamId] = version;
            }

            var plan = PlanBatch(batch, start, knowledge);
            if (plan.Events.Count == 0 && plan.Audit.Count == 0)
            {
                await RollbackAsync(connection, cancellationToken);
                _heads = start;
                return;
            }

            await ExecuteAsync(connection, batch, plan, assert: false, cancellationToken);
        }
        catch (Exception ex) when (ex is not PostgresException)
        {
            // A projection threw, or the connection broke: end the transaction if we still can,
            // and start the next batch from a fresh connection and an empty cache.
            _heads = null;
            _versionCache.Clear();
            if (connection.State == System.Data.ConnectionState.Open)
            {
                try
                {
                    await RollbackAsync(connection, cancellationToken);
                }
                catch (Exception rollbackError) when (rollbackError is NpgsqlException or IOException or OperationCanceledException)
                {
                    // Closing the connection below ends the transaction anyway.
                }
            }

            await DropWriterConnectionAsync();
            throw;
        }
        catch (PostgresException)
        {
            await RollbackAsync(connection, cancellationToken);
            throw;
        }
    }

    private async Task<NpgsqlConnection> WriterConnectionAsync(CancellationToken cancellationToken)
    {
        if (_writerConnection is { State: System.Data.ConnectionState.Open } open)
        {
            return open;
        }

        await DropWriterConnectionAsync();
        _writerConnection = await _dataSource.OpenConnectionAsync(cancellationToken);
        return _writerConnection;
    }

    private async Task DropWriterConnectionAsync()
    {
        if (_writerConnection is { } connection)
        {
            _writerConnection = null;
            await connection.DisposeAsync();
        }
    }

    private static async Task RollbackAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        await using var rollback = new NpgsqlCommand("rollback", connection);
        await rollback.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>A plan from the cache alone, or null when the cache cannot answer for every write.</summary>
    private Plan? TryPlanFromCache(List<PendingWrite> batch, Heads heads)
    {
        var knowledge = new Knowledge();
        foreach (var condition in batch.SelectMany(w => w.Conditions))
        {
            // A condition's stream: the cached version when known, else the condition's own, which
            // the batch's first statement then asserts (as for an expected version).
            if (knowledge.Versions.ContainsKey(condition.StreamId) || knowledge.Absent.Contains(condition.StreamId))
            {
                continue;
            }

            if (_versionCache.TryGetValue(condition.StreamId, out var known))
            {
                knowledge.Versions[condition.StreamId] = known;
                knowledge.Verified.Add(condition.StreamId);
            }
            else if (condition.Version == 0)
            {
                knowledge.Absent.Add(condition.StreamId);
            }
            else
            {
                knowledge.Versions[condition.StreamId] = condition.Version;
            }
        }

        foreach (var write in batch)
        {
            if (write.StreamId is not { } streamId || knowledge.Versions.ContainsKey(streamId) || knowledge.Absent.Contains(streamId))
            {
                continue;
            }

            if (_versionCache.TryGetValue(streamId, out var cached))
            {
                knowledge.Versions[streamId] = cached;
                knowledge.Verified.Add(streamId);
            }
            else if (write.Expected == ExpectedVersion.NoStream)
            {
                knowledge.Absent.Add(streamId);
            }
            else if (write.Expected.Value > 0)
            {
                knowledge.Versions[streamId] = write.Expected.Value;
            }
            else
            {
                return null;
            }
        }

        var plan = PlanBatch(batch, heads, knowledge);
        // A refusal or an empty append must be confirmed by the database, not by the cache.
        return batch.Any(w => w.Rejected is not null || (w.StreamId is not null && w.Events.Count == 0)) ? null : plan;
    }

    private async Task<(Heads Heads, Knowledge Knowledge)> ReadStateAsync(NpgsqlConnection connection, List<PendingWrite> batch, CancellationToken cancellationToken)
    {
        var streamIds = batch.Where(w => w.StreamId is not null).Select(w => w.StreamId!)
            .Concat(batch.SelectMany(w => w.Conditions).Select(c => c.StreamId)).Distinct().ToArray();
        var eventIds = batch.SelectMany(w => w.Events).Select(e => e.EventId).ToArray();
        var auditIds = batch.Where(w => w.Audit is not null).Select(w => w.Audit!.EntryId).ToArray();
        var knowledge = new Knowledge();
        Heads heads;
        await using var read = new NpgsqlBatch(connection);
        read.BatchCommands.Add(new NpgsqlBatchCommand($"select event_position, event_hash, audit_position, audit_hash from {_schema}.heads where id = 1 for update"));
        read.BatchCommands.Add(Command($"select stream_id, version from {_schema}.streams where stream_id = any($1)", streamIds));
        read.BatchCommands.Add(Command($"select event_id, stream_id, version, position from {_schema}.events where event_id = any($1)", eventIds));
        read.BatchCommands.Add(Command($"select entry_id from {_schema}.audit where entry_id = any($1)", auditIds));
        await read.PrepareAsync(cancellationToken);
        await using (var reader = await read.ExecuteReaderAsync(cancellationToken))
        {
            if (!await reader.ReadAsync(cancellationToken))
            {
                throw new InvalidOperationException($"The event store's heads row is missing in schema '{_schema}'; the schema is damaged.");
            }

            heads = new Heads(reader.GetInt64(0), reader.GetFieldValue<byte[]>(1), reader.GetInt64(2), reader.GetFieldValue<byte[]>(3));
            await reader.NextResultAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                knowledge.Versions[reader.GetString(0)] = reader.GetInt64(1);
            }

            await reader.NextResultAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                knowledge.StoredEvents[reader.GetGuid(0)] = (reader.GetString(1), reader.GetInt64(2), reader.GetInt64(3));
            }

            await reader.NextResultAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                knowledge.StoredAudit.Add(reader.GetGuid(0));
            }
        }

        foreach (var streamId in streamIds.Where(id => !knowledge.Versions.ContainsKey(id)))
        {
            knowledge.Absent.Add(streamId);
        }

        return (heads, knowledge);
    }

    /// <summary>
    /// Plans the batch in memory: checks each append's expected version and ids, assigns
    /// positions, versions and links. Sets each write's outcome; nothing is final until commit.
    /// </summary>
    private Plan PlanBatch(List<PendingWrite> batch, Heads start, Knowledge knowledge)
    {
        foreach (var write in batch)
        {
            write.Planned = null;
            write.Rejected = null;
            write.NewEvents.Clear();
            write.NewAudit = null;
        }

        var recordedAt = HashChain.TruncateToMicroseconds(_options.TimeProvider.GetUtcNow());
        var eventPosition = start.EventPosition;
        var eventHash = start.EventHash;
        var auditPosition = start.AuditPosition;
        var auditHash = start.AuditHash;
        var versions = new Dictionary<string, long>(knowledge.Versions, StringComparer.Ordinal);
        var assumed = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var streamId in knowledge.Versions.Keys.Where(id => !knowledge.Verified.Contains(id)))
        {
            assumed[streamId] = knowledge.Versions[streamId];
        }

        foreach (var streamId in knowledge.Absent)
        {
            assumed[streamId] = 0;
        }

        var storedEvents = new Dictionary<Guid, (string StreamId, long Version, long Position)>(knowledge.StoredEvents);
        var storedAudit = new HashSet<Guid>(knowledge.StoredAudit);
        var events = new List<StoredEvent>();
        var metadata = new List<string?>();
        var audit = new List<StoredAuditEntry>();
        var touched = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var write in batch)
        {
            if (write.StreamId is { } streamId)
            {
                var exists = versions.TryGetValue(streamId, out var current);
                if (Replayed(write, storedEvents) is { } replay)
                {
                    if (replay.Error is not null)
                    {
                        write.Rejected = replay.Error;
                        continue;
                    }

                    write.Planned = replay.Result;
                }
                else if (!Matches(write.Expected, current, exists))
                {
                    write.Rejected = new WrongExpectedVersionException(streamId, write.Expected, current);
                    continue;
                }
                else if (write.Conditions.FirstOrDefault(c => (versions.TryGetValue(c.StreamId, out var v) ? v : 0) != c.Version) is { } unmet)
                {
                    // Checked against the versions as of this point of the batch: an earlier append
                    // of the same commit to that stream counts.
                    write.Rejected = new WrongExpectedVersionException(unmet.StreamId, ExpectedVersion.Exactly(unmet.Version),
                        versions.TryGetValue(unmet.StreamId, out var actual) ? actual : 0);
                    continue;
                }
                else
                {
                    var first = eventPosition + 1;
                    foreach (var e in write.Events)
                    {
                        eventPosition++;
                        current++;
                        eventHash = HashChain.EventLink(eventHash, eventPosition, e.EventId, streamId, current, e.Type, e.Json, e.MetadataJson, recordedAt);
                        var stored = new StoredEvent(eventPosition, e.EventId, streamId, current, e.Type, e.Data, e.Json,
                            e.Metadata,
                            recordedAt, eventHash);
                        write.NewEvents.Add(stored);
                        events.Add(stored);
                        metadata.Add(e.MetadataJson);
                        storedEvents[e.EventId] = (streamId, current, eventPosition);
                    }

                    if (write.Events.Count > 0)
                    {
                        versions[streamId] = current;
                        touched[streamId] = current;
                    }

                    write.Planned = write.Events.Count == 0
                        ? new AppendResult(streamId, current, 0, 0, AlreadyStored: false)
                        : new AppendResult(streamId, current, first, eventPosition, AlreadyStored: false);
                }
            }
            else
            {
                write.Planned = new AppendResult(string.Empty, 0, 0, 0, AlreadyStored: false);
            }

            if (write.Audit is { } entry && storedAudit.Add(entry.EntryId))
            {
                auditPosition++;
                auditHash = HashChain.AuditLink(auditHash, auditPosition, entry);
                write.NewAudit = new StoredAuditEntry(auditPosition, entry, auditHash);
                audit.Add(write.NewAudit);
            }
        }

        return new Plan(start, new Heads(eventPosition, eventHash, auditPosition, auditHash), events, metadata, audit, touched, assumed, recordedAt);
    }

    /// <summary>
    /// Writes the plan's rows, the new heads and the wake-up for subscribers (NOTIFY is
    /// delivered on commit, to listeners in every process), runs the inline projections, and
    /// commits. With <paramref name="assert"/>, the transaction begins here and first checks the
    /// cached state the plan rests on.
    /// </summary>
    private async Task ExecuteAsync(NpgsqlConnection connection, List<PendingWrite> batch, Plan plan, bool assert, CancellationToken cancellationToken)
    {
        var projecting = _options.Projections.Count > 0 && plan.Events.Any(e => _options.Projections.Any(p => p.Handles(e.Data.GetType())));
        var explicitTransaction = !assert || projecting;
        // Projections that only defer need no rows to exist first: apply them now, and send rows,
        // their statements and the commit in one round trip.
        var deferredOnly = projecting && _options.Projections.All(p => p.OnlyDefers || !plan.Events.Any(e => p.Handles(e.Data.GetType())));
        var context = new ProjectionContext(connection, _schema);
        if (deferredOnly)
        {
            await ApplyProjectionsAsync(context, batch, cancellationToken);
        }

        await using (var write = new NpgsqlBatch(connection))
        {
            if (assert && projecting)
            {
                write.BatchCommands.Add(new NpgsqlBatchCommand("begin"));
            }

            write.BatchCommands.Add(MoveHeads(plan));
            if (plan.Events.Count > 0)
            {
                write.BatchCommands.Add(InsertEvents(plan.Events, plan.EventMetadata));
                write.BatchCommands.Add(UpsertStreams(plan.StreamsTouched, plan.RecordedAt));
            }

            if (plan.Audit.Count > 0)
            {
                write.BatchCommands.Add(InsertAudit(plan.Audit));
            }

            if (deferredOnly)
            {
                // After a failed statement the rest is skipped and the transaction stays open,
                // failed, for the caller's rollback, as when a projection throws.
                foreach (var command in context.TakeDeferred())
                {
                    write.BatchCommands.Add(command);
                }

                write.BatchCommands.Add(new NpgsqlBatchCommand("commit"));
            }
            else if (explicitTransaction && !projecting)
            {
                write.BatchCommands.Add(new NpgsqlBatchCommand("commit"));
            }

            // Without an explicit transaction the batch is one implicit transaction (one Sync):
            // all of it commits, or none of it.
            await write.PrepareAsync(cancellationToken);
            await write.ExecuteNonQueryAsync(cancellationToken);
        }

        if (projecting && !deferredOnly)
        {
            // Inline projections run after the rows exist, inside the same transaction.
            await ApplyProjectionsAsync(context, batch, cancellationToken);

            // The deferred projection statements and the commit: one round trip. If a statement
            // fails, the rest (commit included) is skipped and the transaction stays open, failed,
            // for the caller's rollback, as when a projection throws.
            await using var commit = new NpgsqlBatch(connection);
            foreach (var command in context.TakeDeferred())
            {
                commit.BatchCommands.Add(command);
            }

            commit.BatchCommands.Add(new NpgsqlBatchCommand("commit"));
            await commit.ExecuteNonQueryAsync(cancellationToken);
        }

        // Committed: remember the new state for the next batch's fast path.
        _heads = plan.End;
        if (_versionCache.Count + plan.StreamsTouched.Count > MaxCachedStreams)
        {
            _versionCache.Clear();
        }

        foreach (var (streamId, version) in plan.StreamsTouched)
        {
            _versionCache[streamId] = version;
        }
    }

    private static bool Matches(ExpectedVersion expected, long current, bool exists) => expected.Value switch
    {
        -1 => true,
        0 => !exists,
        _ => exists && current == expected.Value,
    };

    /// <summary>
    /// An append whose first event id is already stored is a retry: if all its ids are stored, in
    /// order, in the same stream, it is answered with what was stored; anything else is a conflict.
    /// </summary>
    private static (AppendResult? Result, Exception? Error)? Replayed(PendingWrite write,
        Dictionary<Guid, (string StreamId, long Version, long Position)> stored)
    {
        var seen = write.Events.Where(e => stored.ContainsKey(e.EventId)).ToList();
        if (seen.Count == 0)
        {
            return null;
        }

        if (seen.Count != write.Events.Count)
        {
            var id = seen[0].EventId;
            return (null, new EventIdConflictException(id, $"Event id {id} is already stored in stream '{stored[id].StreamId}' as part of another append; use new ids for new events."));
        }

        var first = stored[write.Events[0].EventId];
        for (var i = 0; i < write.Events.Count; i++)
        {
            var s = stored[write.Events[i].EventId];
            if (s.StreamId != write.StreamId || s.Version != first.Version + i || s.Position <= (i == 0 ? 0 : stored[write.Events[i - 1].EventId].Position))
            {
                var id = write.Events[i].EventId;
                return (null, new EventIdConflictException(id, $"Event id {id} is already stored in stream '{s.StreamId}' at version {s.Version}, which does not match this append; use new ids for new events."));
            }
        }

        var last = stored[write.Events[^1].EventId];
        return (new AppendResult(write.StreamId!, last.Version, first.Position, last.Position, AlreadyStored: true), null);
    }

    private static NpgsqlBatchCommand Command<T>(string sql, T[] values)
    {
        var command = new NpgsqlBatchCommand(sql);
        command.Parameters.Add(new NpgsqlParameter<T[]> { TypedValue = values });
        return command;
    }

    private async Task ApplyProjectionsAsync(ProjectionContext context, List<PendingWrite> batch, CancellationToken cancellationToken)
    {
        foreach (var write in batch.Where(w => w.NewEvents.Count > 0))
        {
            foreach (var projection in _options.Projections)
            {
                var handled = write.NewEvents.Where(e => projection.Handles(e.Data.GetType())).ToList();
                if (handled.Count > 0)
                {
                    await projection.ApplyAsync(context, handled, cancellationToken);
                }
            }
        }
    }

    /// <summary>
    /// The batch's first statement: moves the chain heads only if they are where the plan
    /// started (which also takes, or re-takes, their row lock, serialising every writer), checks
    /// that every stream the plan assumed is at the assumed version (0 = no stream). A stale
    /// assumption divides by zero, which aborts the whole batch before it commits. Each assumed
    /// stream is looked up by its key (a correlated subquery, so one index probe each): a join
    /// let the cached generic plan hash-join against a sequential scan of every stream, a cost
    /// that grew with the store (every message is a stream).
    /// </summary>
    private NpgsqlBatchCommand MoveHeads(Plan plan)
    {
        var command = new NpgsqlBatchCommand($"""
            with moved as (
                update {_schema}.heads set event_position = $5, event_hash = $6, audit_position = $7, audit_hash = $8
                where id = 1 and event_position = $1 and audit_position = $2 returning 1)
            select 1 / ((select count(*) from moved) = 1 and not exists (
                select from unnest($3::text[], $4::bigint[]) as u(stream_id, version)
                where coalesce((select s.version from {_schema}.streams s where s.stream_id = u.stream_id), 0) <> u.version))::int
            """);
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = plan.Start.EventPosition });
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = plan.Start.AuditPosition });
        command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = plan.Assumed.Keys.ToArray() });
        command.Parameters.Add(new NpgsqlParameter<long[]> { TypedValue = plan.Assumed.Values.ToArray() });
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = plan.End.EventPosition });
        command.Parameters.Add(new NpgsqlParameter<byte[]> { TypedValue = plan.End.EventHash });
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = plan.End.AuditPosition });
        command.Parameters.Add(new NpgsqlParameter<byte[]> { TypedValue = plan.End.AuditHash });
        return command;
    }

    private NpgsqlBatchCommand InsertEvents(List<StoredEvent> events, List<string?> metadata)
    {
        var command = new NpgsqlBatchCommand($"""
            insert into {_schema}.events (position, event_id, stream_id, version, type, data, metadata, recorded_at, hash)
            select * from unnest($1::bigint[], $2::uuid[], $3::text[], $4::bigint[], $5::text[], $6::json[], $7::json[], $8::timestamptz[], $9::bytea[])
            """);
        command.Parameters.Add(new NpgsqlParameter<long[]> { TypedValue = events.Select(e => e.Position).ToArray() });
        command.Parameters.Add(new NpgsqlParameter<Guid[]> { TypedValue = events.Select(e => e.EventId).ToArray() });
        command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = events.Select(e => e.StreamId).ToArray() });
        command.Parameters.Add(new NpgsqlParameter<long[]> { TypedValue = events.Select(e => e.Version).ToArray() });
        command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = events.Select(e => e.Type).ToArray() });
        command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = events.Select(e => e.Json).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Json });
        command.Parameters.Add(new NpgsqlParameter<string?[]> { TypedValue = metadata.ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Json });
        command.Parameters.Add(new NpgsqlParameter<DateTime[]> { TypedValue = events.Select(e => e.RecordedAt.UtcDateTime).ToArray() });
        command.Parameters.Add(new NpgsqlParameter<byte[][]> { TypedValue = events.Select(e => e.Hash.ToArray()).ToArray() });
        return command;
    }

    private NpgsqlBatchCommand UpsertStreams(Dictionary<string, long> streams, DateTimeOffset now)
    {
        var command = new NpgsqlBatchCommand($"""
            insert into {_schema}.streams (stream_id, version, created_at, updated_at)
            select s, v, $3, $3 from unnest($1::text[], $2::bigint[]) as u(s, v)
            on conflict (stream_id) do update set version = excluded.version, updated_at = excluded.updated_at
            """);
        command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = streams.Keys.ToArray() });
        command.Parameters.Add(new NpgsqlParameter<long[]> { TypedValue = streams.Values.ToArray() });
        command.Parameters.Add(new NpgsqlParameter<DateTime> { TypedValue = now.UtcDateTime });
        return command;
    }

    private NpgsqlBatchCommand InsertAudit(List<StoredAuditEntry> entries)
    {
        var command = new NpgsqlBatchCommand($"""
            insert into {_schema}.audit (position, entry_id, occurred_at, action, outcome, actor_user_id, actor_device_id,
                actor_authority_id, target, reason, peer, trace_id, hash)
            select * from unnest($1::bigint[], $2::uuid[], $3::timestamptz[], $4::text[], $5::text[], $6::uuid[], $7::uuid[],
                $8::uuid[], $9::text[], $10::text[], $11::text[], $12::text[], $13::bytea[])
            """);
        command.Parameters.Add(new NpgsqlParameter<long[]> { TypedValue = entries.Select(e => e.Position).ToArray() });
        command.Parameters.Add(new NpgsqlParameter<Guid[]> { TypedValue = entries.Select(e => e.Entry.EntryId).ToArray() });
        command.Parameters.Add(new NpgsqlParameter<DateTime[]> { TypedValue = entries.Select(e => e.Entry.OccurredAt.UtcDateTime).ToArray() });
        command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = entries.Select(e => e.Entry.Action).ToArray() });
        command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = entries.Select(e => e.Entry.Outcome.ToWire()).ToArray() });
        command.Parameters.Add(new NpgsqlParameter<Guid?[]> { TypedValue = entries.Select(e => e.Entry.ActorUserId).ToArray() });
        command.Parameters.Add(new NpgsqlParameter<Guid?[]> { TypedValue = entries.Select(e => e.Entry.ActorDeviceId).ToArray() });
        command.Parameters.Add(new NpgsqlParameter<Guid?[]> { TypedValue = entries.Select(e => e.Entry.ActorAuthorityId).ToArray() });
        command.Parameters.Add(new NpgsqlParameter<string?[]> { TypedValue = entries.Select(e => e.Entry.Target).ToArray() });
        command.Parameters.Add(new NpgsqlParameter<string?[]> { TypedValue = entries.Select(e => e.Entry.Reason).ToArray() });
        command.Parameters.Add(new NpgsqlParameter<string?[]> { TypedValue = entries.Select(e => e.Entry.Peer).ToArray() });
        command.Parameters.Add(new NpgsqlParameter<string?[]> { TypedValue = entries.Select(e => e.Entry.TraceId).ToArray() });
        command.Parameters.Add(new NpgsqlParameter<byte[][]> { TypedValue = entries.Select(e => e.Hash.ToArray()).ToArray() });
        return command;
    }
}
