using System.Diagnostics;
using GlobeSecure.EventStore;
using Npgsql;

namespace GlobeSecure.Benchmarks;

/// <summary>The event the store appends: a 256-character payload (stored as JSON <c>{"payload":"…"}</c>).</summary>
internal sealed record BenchEvent(string Payload);

/// <summary>One measurement: operations (and events) completed inside the window, per second.</summary>
/// <param name="OpsPerSecond">Appends (store) or INSERT transactions (raw) per second.</param>
/// <param name="EventsPerSecond">Events (store) or rows (raw) per second.</param>
/// <param name="Commits">Store group commits in the window (0 for raw).</param>
/// <param name="AppendsCommitted">Appends those commits carried (0 for raw).</param>
/// <param name="LargestBatch">Most appends seen in one commit (0 for raw).</param>
/// <param name="CommitTime">Time the store's writer spent in those commits (zero for raw).</param>
/// <param name="Error">The first failure of any writer, if one failed (the numbers are then not valid).</param>
internal sealed record Measurement(double OpsPerSecond, double EventsPerSecond, long Commits, long AppendsCommitted, long LargestBatch, TimeSpan CommitTime, Exception? Error)
{
    public double AppendsPerCommit => Commits == 0 ? 0 : (double)AppendsCommitted / Commits;

    public double MicrosecondsPerCommit => Commits == 0 ? 0 : CommitTime.TotalMicroseconds / Commits;
}

/// <summary>The workloads: store appends, raw single-row INSERTs, and the batch comparison.</summary>
internal sealed class Workloads : IAsyncDisposable
{
    public const int PayloadLength = 256;
    public const string Schema = "bench";
    public const string RawTable = "bench_raw";

    // 256 printable ASCII characters (one byte each in UTF-8), varied so nothing compresses to nothing.
    private static readonly string Payload = string.Create(PayloadLength, 0, (span, _) =>
    {
        const string Alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_";
        for (var i = 0; i < span.Length; i++)
        {
            span[i] = Alphabet[(i * 7 + i / Alphabet.Length) % Alphabet.Length];
        }
    });

    private readonly NpgsqlDataSource _dataSource;
    private readonly PostgresEventStore _store;
    private readonly CommitProbe _probe;
    private readonly TimeSpan _warmup;
    private readonly TimeSpan _measure;
    private int _runs;

    private Workloads(NpgsqlDataSource dataSource, PostgresEventStore store, CommitProbe probe, TimeSpan warmup, TimeSpan measure)
    {
        _dataSource = dataSource;
        _store = store;
        _probe = probe;
        _warmup = warmup;
        _measure = measure;
    }

    /// <summary>Drops and recreates schema <c>bench</c> (the store) and table <c>bench_raw</c>, then opens the store.</summary>
    public static async Task<Workloads> CreateAsync(NpgsqlDataSource dataSource, TimeSpan warmup, TimeSpan measure)
    {
        await using (var reset = dataSource.CreateCommand($"""
            drop schema if exists {Schema} cascade;
            drop table if exists {RawTable};
            create table {RawTable} (id bigserial primary key, stream text not null, payload text not null);
            """))
        {
            await reset.ExecuteNonQueryAsync();
        }

        var types = new EventTypeRegistry().Register<BenchEvent>("bench.event.v1");
        var probe = new CommitProbe();
        try
        {
            var store = await PostgresEventStore.CreateAsync(dataSource, types, new EventStoreOptions { Schema = Schema });
            return new Workloads(dataSource, store, probe, warmup, measure);
        }
        catch
        {
            probe.Dispose();
            throw;
        }
    }

    /// <summary>W writers, each appending one event per append to its own stream with an exact expected version.</summary>
    public Task<Measurement> StoreAppendsAsync(int writers) => StoreAsync(writers, eventsPerAppend: 1);

    /// <summary>One writer appending ten events in one append, again and again.</summary>
    public Task<Measurement> StoreTenEventAppendsAsync() => StoreAsync(writers: 1, eventsPerAppend: 10);

    /// <summary>
    /// One writer making one-event appends one after another: ten of them store what one
    /// ten-event append does (counted per append, so the window edge cuts no group of ten).
    /// </summary>
    public Task<Measurement> StoreSingleEventAppendsAsync() => StoreAsync(writers: 1, eventsPerAppend: 1);

    /// <summary>W writers, each on its own connection, each running a prepared single-row autocommit INSERT in a loop.</summary>
    public async Task<Measurement> RawInsertsAsync(int writers)
    {
        var tag = NextTag("raw");
        var window = new Window(_warmup, _measure);
        var tasks = Enumerable.Range(0, writers).Select(i => Task.Run(async () =>
        {
            await using var connection = await _dataSource.OpenConnectionAsync();
            await using var insert = new NpgsqlCommand($"insert into {RawTable} (stream, payload) values ($1, $2)", connection);
            insert.Parameters.Add(new NpgsqlParameter<string> { TypedValue = $"{tag}-w{i}" });
            insert.Parameters.Add(new NpgsqlParameter<string> { TypedValue = Payload });
            await insert.PrepareAsync();
            return await window.LoopAsync(async () =>
            {
                await insert.ExecuteNonQueryAsync();
                return 1;
            });
        })).ToArray();

        var (ops, events, error) = await window.CollectAsync(tasks);
        return new Measurement(ops / _measure.TotalSeconds, events / _measure.TotalSeconds, 0, 0, 0, TimeSpan.Zero, error);
    }

    public async ValueTask DisposeAsync()
    {
        await _store.DisposeAsync();
        _probe.Dispose();
    }

    private async Task<Measurement> StoreAsync(int writers, int eventsPerAppend)
    {
        var tag = NextTag("store");
        var window = new Window(_warmup, _measure, _probe);
        var tasks = Enumerable.Range(0, writers).Select(i => Task.Run(async () =>
        {
            var stream = $"{tag}-w{i}";
            var events = Enumerable.Range(0, eventsPerAppend).Select(_ => (object)new BenchEvent(Payload)).ToArray();
            long version = 0;
            return await window.LoopAsync(async () =>
            {
                await _store.AppendAsync(stream, ExpectedVersion.Exactly(version), events);
                version += eventsPerAppend;
                return eventsPerAppend;
            });
        })).ToArray();

        _probe.Reset();
        var (ops, eventCount, error) = await window.CollectAsync(tasks);
        var (commits, appends, largest, commitTime) = _probe.Snapshot();
        return new Measurement(ops / _measure.TotalSeconds, eventCount / _measure.TotalSeconds, commits, appends, largest, commitTime, error);
    }

    private string NextTag(string kind) => $"{kind}-{Interlocked.Increment(ref _runs)}";

    /// <summary>
    /// A warm-up followed by a measurement window on one clock: a writer counts what completes
    /// inside the window, and stops starting work once the window has closed.
    /// </summary>
    private sealed class Window
    {
        private readonly Stopwatch _clock = Stopwatch.StartNew();
        private readonly TimeSpan _start;
        private readonly TimeSpan _end;
        private readonly CommitProbe? _probe;
        private Exception? _error;

        public Window(TimeSpan warmup, TimeSpan measure, CommitProbe? probe = null)
        {
            _start = warmup;
            _end = warmup + measure;
            _probe = probe;
        }

        /// <summary>Runs <paramref name="step"/> until the window closes; returns the steps and events counted in the window.</summary>
        /// <param name="step">One operation (an append, an INSERT transaction); returns how many events it wrote.</param>
        public async Task<(long Ops, long Events)> LoopAsync(Func<Task<int>> step)
        {
            long ops = 0, events = 0;
            try
            {
                while (_clock.Elapsed < _end && Volatile.Read(ref _error) is null)
                {
                    var written = await step();
                    var done = _clock.Elapsed;
                    if (done >= _start && done < _end)
                    {
                        ops++;
                        events += written;
                    }
                }
            }
            catch (Exception ex)
            {
                Interlocked.CompareExchange(ref _error, ex, null);
            }

            return (ops, events);
        }

        /// <summary>Switches the commit probe on for the window, waits for every writer, and sums their counts.</summary>
        public async Task<(long Ops, long Events, Exception? Error)> CollectAsync(Task<(long Ops, long Events)>[] writers)
        {
            if (_probe is not null)
            {
                await DelayUntilAsync(_start);
                _probe.Counting = true;
                await DelayUntilAsync(_end);
                _probe.Counting = false;
            }

            var results = await Task.WhenAll(writers);
            return (results.Sum(r => r.Ops), results.Sum(r => r.Events), Volatile.Read(ref _error));
        }

        private async Task DelayUntilAsync(TimeSpan at)
        {
            var wait = at - _clock.Elapsed;
            if (wait > TimeSpan.Zero)
            {
                await Task.Delay(wait);
            }
        }
    }
}
