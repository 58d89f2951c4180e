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

    private async Task CommitBatchAsync(List<PendingWrite> batch)
    {
        using var activity = ActivitySource.StartActivity("eventstore.commit");
        activity?.SetTag("globe.batch_size", batch.Count);
        var cancellationToken = _stopping.Token;
        foreach (var write in batch)
        {
            write.Planned = null;
            write.Rejected = null;
            write.NewEvents.Clear();
            write.NewAudit = null;
        }

        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);

        // Round trip 1: lock the chain heads (serialising every writer of every process until
        // commit), then read what the plan depends on: stream versions and already-stored ids.
        var streamIds = batch.Where(w => w.StreamId is not null).Select(w => w.StreamId!).Distinct().ToArray();
        var eventIds = batch.SelectMany(w => w.Events).Select(e => e.EventId).ToArray();
        var auditIds = batch.Where(w => w.Audit is not null).Select(w => w.Audit!.EntryId).ToArray();

        long eventPosition, auditPosition;
        byte[] eventHash, auditHash;
        var versions = new Dictionary<string, long>(StringComparer.Ordinal);
        var storedEvents = new Dictionary<Guid, (string StreamId, long Version, long Position)>();
        var storedAudit = new HashSet<Guid>();
        await using (var read = new NpgsqlBatch(connection, transaction))
        {
            read.BatchCommands.Add(new NpgsqlBatchCommand($"select event_position, event_hash, audit_position, audit_hash from {_schema}.heads where id = 1 for update"));
            read.BatchCommands.Add(Command($"select stream_id, version from {_schema}.streams where stream_id = any($1)", streamIds));
            read.BatchCommands.Add(Command($"select event_id, stream_id, version, position from {_schema}.events where event_id = any($1)", eventIds));
            read.BatchCommands.Add(Command($"select entry_id from {_schema}.audit where entry_id = any($1)", auditIds));
            await using var reader = await read.ExecuteReaderAsync(cancellationToken);
            if (!await reader.ReadAsync(cancellationToken))
            {
                throw new InvalidOperationException($"The event store's heads row is missing in schema '{_schema}'; the schema is damaged.");
            }

            eventPosition = reader.GetInt64(0);
            eventHash = reader.GetFieldValue<byte[]>(1);
            auditPosition = reader.GetInt64(2);
            auditHash = reader.GetFieldValue<byte[]>(3);

            await reader.NextResultAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                versions[reader.GetString(0)] = reader.GetInt64(1);
            }

            await reader.NextResultAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                storedEvents[reader.GetGuid(0)] = (reader.GetString(1), reader.GetInt64(2), reader.GetInt64(3));
            }

            await reader.NextResultAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                storedAudit.Add(reader.GetGuid(0));
            }
        }

        // Plan in memory. The heads lock makes this read authoritative: no other writer can
        // move a stream or the chain until we commit; the unique constraints remain the backstop.
        var recordedAt = HashChain.TruncateToMicroseconds(_options.TimeProvider.GetUtcNow());
        var newEvents = new List<StoredEvent>();
        var newEventMetadata = new List<string?>();
        var newAudit = new List<StoredAuditEntry>();
        var streamsTouched = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var write in batch)
        {
            if (write.StreamId is { } streamId)
            {
                var current = versions.GetValueOrDefault(streamId);
                if (Replayed(write, storedEvents) is { } replay)
                {
                    if (replay.Error is not null)
                    {
                        write.Rejected = replay.Error;
                        continue;
                    }

                    write.Planned = replay.Result;
                }
                else if (!Matches(write.Expected, current, versions.ContainsKey(streamId)))
                {
                    write.Rejected = new WrongExpectedVersionException(streamId, write.Expected, current);
                    continue;
                }
                else
                {
                    var first = eventPosition + 1;
                    foreach (var e in write.Events)
                    {
                        eventPosition++;
                        current++;
                        var hash = HashChain.EventLink(eventHash, eventPosition, e.EventId, streamId, current, e.Type, e.Json, e.MetadataJson, recordedAt);
                        eventHash = hash;
                        var stored = new StoredEvent(eventPosition, e.EventId, streamId, current, e.Type, e.Data, e.Json,
                            e.MetadataJson is null ? null : System.Text.Json.JsonSerializer.Deserialize<EventMetadata>(e.MetadataJson, MetadataJsonOptions),
                            recordedAt, hash);
                        write.NewEvents.Add(stored);
                        newEvents.Add(stored);
                        newEventMetadata.Add(e.MetadataJson);
                        storedEvents[e.EventId] = (streamId, current, eventPosition);
                    }

                    if (write.Events.Count > 0)
                    {
                        versions[streamId] = current;
                        streamsTouched[streamId] = current;
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

            if (write.Audit is { } audit && storedAudit.Add(audit.EntryId))
            {
                auditPosition++;
                auditHash = HashChain.AuditLink(auditHash, auditPosition, audit);
                write.NewAudit = new StoredAuditEntry(auditPosition, audit, auditHash);
                newAudit.Add(write.NewAudit);
            }
        }

        if (newEvents.Count == 0 && newAudit.Count == 0)
        {
            await transaction.RollbackAsync(cancellationToken);
            return;
        }

        // Round trip 2: every row of the batch, the new heads, and the wake-up for subscribers
        // (NOTIFY is delivered on commit, to listeners in every process).
        await using (var write = new NpgsqlBatch(connection, transaction))
        {
            if (newEvents.Count > 0)
            {
                write.BatchCommands.Add(InsertEvents(newEvents, newEventMetadata));
                write.BatchCommands.Add(UpsertStreams(streamsTouched, recordedAt));
            }

            if (newAudit.Count > 0)
            {
                write.BatchCommands.Add(InsertAudit(newAudit));
            }

            var heads = new NpgsqlBatchCommand($"update {_schema}.heads set event_position = $1, event_hash = $2, audit_position = $3, audit_hash = $4 where id = 1");
            heads.Parameters.Add(new NpgsqlParameter { Value = eventPosition });
            heads.Parameters.Add(new NpgsqlParameter { Value = eventHash });
            heads.Parameters.Add(new NpgsqlParameter { Value = auditPosition });
            heads.Parameters.Add(new NpgsqlParameter { Value = auditHash });
            write.BatchCommands.Add(heads);
            if (newEvents.Count > 0)
            {
                var notify = new NpgsqlBatchCommand("select pg_notify($1, $2)");
                notify.Parameters.Add(new NpgsqlParameter { Value = _notifyChannel });
                notify.Parameters.Add(new NpgsqlParameter { Value = eventPosition.ToString(System.Globalization.CultureInfo.InvariantCulture) });
                write.BatchCommands.Add(notify);
            }

            await write.ExecuteNonQueryAsync(cancellationToken);
        }

        // Inline projections run after the rows exist, inside the same transaction.
        if (_options.Projections.Count > 0)
        {
            var context = new ProjectionContext(connection, transaction, _schema);
            foreach (var write in batch)
            {
                if (write.NewEvents.Count == 0)
                {
                    continue;
                }

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

        await transaction.CommitAsync(cancellationToken);
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
