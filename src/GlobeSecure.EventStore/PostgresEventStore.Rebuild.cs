using System.Text.RegularExpressions;
using Npgsql;

namespace GlobeSecure.EventStore;

/// <summary>What <see cref="PostgresEventStore.RebuildProjectionsAsync"/> did.</summary>
/// <param name="Events">Events replayed (every event up to <paramref name="HeadPosition"/>).</param>
/// <param name="HeadPosition">The event head the projections were rebuilt to.</param>
/// <param name="Tables">Each rebuilt table and its row count afterwards, by name.</param>
/// <param name="Kept">Tables of the projections that hold state not derived from events, left alone.</param>
public sealed record ProjectionRebuild(long Events, long HeadPosition, IReadOnlyList<(string Table, long Rows)> Tables, IReadOnlyList<string> Kept);

public sealed partial class PostgresEventStore
{
    /// <summary>How many events a rebuild reads and applies per round.</summary>
    private const int RebuildPageSize = 1000;

    /// <summary>
    /// The tables the inline projections' migrations create (<c>create table {schema}.name</c>),
    /// less those a projection keeps (<see cref="IInlineProjection.KeptTables"/>): the read models
    /// a rebuild empties and replays.
    /// </summary>
    public IReadOnlyList<string> ProjectionTables() =>
        _options.Projections
            .SelectMany(p => p.Migrations.SelectMany(m => CreatedTables(m.Sql)).Except(p.KeptTables, StringComparer.Ordinal))
            .Distinct(StringComparer.Ordinal)
            .ToList();

    /// <summary>
    /// Empties every projection table and replays every event, in position order, through the
    /// inline projections, in one transaction that holds the heads row lock — the lock every
    /// writer of every server process takes to commit — from start to commit. Appends wait
    /// meanwhile (they are not refused); reads of the projection tables wait from the moment they
    /// are emptied until the commit, and never see a half-built state. If anything fails, nothing
    /// has changed. Events, audit, checkpoints, server keys and the kept tables are never touched.
    /// </summary>
    /// <param name="lockTimeout">How long to wait for the heads lock (a writer holds it for one commit).</param>
    /// <param name="progress">Told the position reached after each page.</param>
    /// <param name="cancellationToken">Cancels the rebuild; nothing has changed then.</param>
    /// <exception cref="TimeoutException">The heads lock was not free within <paramref name="lockTimeout"/>; nothing changed.</exception>
    public async Task<ProjectionRebuild> RebuildProjectionsAsync(TimeSpan lockTimeout, IProgress<long>? progress = null, CancellationToken cancellationToken = default)
    {
        using var activity = ActivitySource.StartActivity("eventstore.rebuild-projections");
        IReadOnlyList<string> tables = ProjectionTables();
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);

        long head;
        try
        {
            // A whole number of milliseconds: no quoting needed (set takes no parameters).
            await using (var timeout = new NpgsqlCommand($"set local lock_timeout = {Math.Max(1, (long)lockTimeout.TotalMilliseconds)}", connection, transaction))
            {
                await timeout.ExecuteNonQueryAsync(cancellationToken);
            }

            await using var locking = new NpgsqlCommand($"select event_position from {_schema}.heads where id = 1 for update", connection, transaction);
            head = await locking.ExecuteScalarAsync(cancellationToken) as long?
                ?? throw new InvalidOperationException($"The event store's heads row is missing in schema '{_schema}'; the schema is damaged.");
        }
        catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.LockNotAvailable)
        {
            throw new TimeoutException($"The event store's writer lock (schema '{_schema}') was not free within {lockTimeout}; nothing was changed.", ex);
        }

        await using (var reset = new NpgsqlCommand("set local lock_timeout = 0", connection, transaction))
        {
            await reset.ExecuteNonQueryAsync(cancellationToken);
        }

        // A table a later migration dropped is no longer there to empty.
        await using (var existing = new NpgsqlCommand("select table_name::text from information_schema.tables where table_schema = $1", connection, transaction))
        {
            existing.Parameters.Add(new NpgsqlParameter<string> { TypedValue = _schema });
            var present = new HashSet<string>(StringComparer.Ordinal);
            await using var reader = await existing.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                present.Add(reader.GetString(0));
            }

            tables = [.. tables.Where(present.Contains)];
        }

        if (tables.Count > 0)
        {
            await using var truncate = new NpgsqlCommand($"truncate {string.Join(", ", tables.Select(t => $"{_schema}.{t}"))} restart identity", connection, transaction);
            await truncate.ExecuteNonQueryAsync(cancellationToken);
        }

        long replayed = 0;
        long after = 0;
        while (after < head)
        {
            IReadOnlyList<StoredEvent> page;
            await using (var read = new NpgsqlCommand(
                $"select {EventColumns} from {_schema}.events where position > $1 and position <= $2 order by position limit $3", connection, transaction))
            {
                read.Parameters.Add(new NpgsqlParameter<long> { TypedValue = after });
                read.Parameters.Add(new NpgsqlParameter<long> { TypedValue = head });
                read.Parameters.Add(new NpgsqlParameter<int> { TypedValue = RebuildPageSize });
                page = await ReadEventsAsync(read, cancellationToken);
            }

            if (page.Count == 0)
            {
                throw new InvalidOperationException($"The events after position {after} are missing (the head says {head}); verify the event chain.");
            }

            await ReplayAsync(new ProjectionContext(connection, _schema), page, cancellationToken);
            replayed += page.Count;
            after = page[^1].Position;
            progress?.Report(after);
        }

        var counts = new List<(string, long)>(tables.Count);
        foreach (var table in tables)
        {
            await using var count = new NpgsqlCommand($"select count(*) from {_schema}.{table}", connection, transaction);
            counts.Add((table, (long)(await count.ExecuteScalarAsync(cancellationToken))!));
        }

        await transaction.CommitAsync(cancellationToken);
        activity?.SetTag("globe.events", replayed);
        var kept = _options.Projections.SelectMany(p => p.KeptTables).Distinct(StringComparer.Ordinal).ToList();
        return new ProjectionRebuild(replayed, head, counts, kept);
    }

    /// <summary>
    /// Applies a page of events as the writer applies appends: each run of consecutive events of
    /// one stream (an append, or appends of one stream one after the other) goes to every
    /// projection that handles some of them, in registration order. A projection that reads the
    /// connection first sees everything before it (the deferred statements are sent first), as if
    /// every append had committed alone; the rest is sent at the end of the page.
    /// </summary>
    private async Task ReplayAsync(ProjectionContext context, IReadOnlyList<StoredEvent> page, CancellationToken cancellationToken)
    {
        var start = 0;
        while (start < page.Count)
        {
            var end = start + 1;
            while (end < page.Count && page[end].StreamId == page[start].StreamId)
            {
                end++;
            }

            var run = page.Skip(start).Take(end - start).ToList();
            foreach (var projection in _options.Projections)
            {
                var handled = run.Where(e => projection.Handles(e.Data.GetType())).ToList();
                if (handled.Count == 0)
                {
                    continue;
                }

                if (!projection.OnlyDefers)
                {
                    await context.FlushAsync(cancellationToken);
                }

                await projection.ApplyAsync(context, handled, cancellationToken);
            }

            start = end;
        }

        await context.FlushAsync(cancellationToken);
    }

    private static IEnumerable<string> CreatedTables(string sql) =>
        CreateTable().Matches(sql).Select(m => m.Groups["name"].Value);

    [GeneratedRegex(@"create\s+(?:unlogged\s+)?table\s+(?:if\s+not\s+exists\s+)?\{schema\}\.(?<name>[a-z_][a-z0-9_]*)", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex CreateTable();
}
