using System.Globalization;
using Npgsql;

using static GlobeSecure.Benchmarks.Format;

namespace GlobeSecure.Benchmarks;

/// <summary>
/// Event store append throughput next to raw Npgsql single-row INSERTs, on the same server in
/// the same run: measures, then writes its markdown section to stdout (progress to stderr).
/// </summary>
internal static class StoreBenchmark
{
    /// <summary>Runs the store workloads; returns the process exit code (1 when the database cannot be reached).</summary>
    public static async Task<int> RunAsync(BenchSettings settings)
    {
        int[] writerCounts = [1, 4, 16];
        var runs = settings.Repeats * (writerCounts.Length * 2 + 2);
        var perRun = settings.Warmup + settings.Measure;
        Progress($"{runs} measurements of {perRun.TotalSeconds:0.#} s ({settings.Warmup.TotalSeconds:0.#} s warm-up + {settings.Measure.TotalSeconds:0.#} s counted): about {(runs * perRun).TotalMinutes:0.0} min");

        await using var dataSource = NpgsqlDataSource.Create(settings.ConnectionString!);
        IReadOnlyList<(string Name, string Value)> server;
        string sessionSynchronousCommit;
        try
        {
            server = await SystemReport.ServerAsync(dataSource);
            sessionSynchronousCommit = await SystemReport.SettingAsync(dataSource, "synchronous_commit");
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException or System.Net.Sockets.SocketException)
        {
            await Console.Error.WriteLineAsync($"error: cannot reach the database of {BenchSettings.DatabaseVariable} ({settings.RedactedConnectionString}): {ex.Message}");
            return 1;
        }

        var store = new Dictionary<int, List<Measurement>>();
        var raw = new Dictionary<int, List<Measurement>>();
        var tenEvent = new List<Measurement>();
        var singleEvent = new List<Measurement>();

        await using (var workloads = await Workloads.CreateAsync(dataSource, settings.Warmup, settings.Measure))
        {
            // Pairs are interleaved (store and raw back to back, alternating which goes first, writer
            // counts cycled inside each repeat) so that drift — WAL growth, checkpoints, a noisy
            // neighbour — lands on both sides alike.
            for (var rep = 0; rep < settings.Repeats; rep++)
            {
                for (var k = 0; k < writerCounts.Length; k++)
                {
                    var writers = writerCounts[k];
                    var storeFirst = (rep + k) % 2 == 0;
                    for (var side = 0; side < 2; side++)
                    {
                        if ((side == 0) == storeFirst)
                        {
                            var m = await workloads.StoreAppendsAsync(writers);
                            Add(store, writers, m);
                            Progress($"[{rep + 1}/{settings.Repeats}] event store, {writers,2} writers: {Rate(m.OpsPerSecond),8} appends/s, {m.AppendsPerCommit:0.0} appends/commit, {m.MicrosecondsPerCommit:0} µs/commit{Failure(m)}");
                        }
                        else
                        {
                            var m = await workloads.RawInsertsAsync(writers);
                            Add(raw, writers, m);
                            Progress($"[{rep + 1}/{settings.Repeats}] raw INSERT,  {writers,2} writers: {Rate(m.OpsPerSecond),8} tx/s{Failure(m)}");
                        }
                    }
                }
            }

            for (var rep = 0; rep < settings.Repeats; rep++)
            {
                for (var side = 0; side < 2; side++)
                {
                    if ((side == 0) == (rep % 2 == 0))
                    {
                        var m = await workloads.StoreTenEventAppendsAsync();
                        tenEvent.Add(m);
                        Progress($"[{rep + 1}/{settings.Repeats}] one 10-event append:  {Rate(m.EventsPerSecond),8} events/s{Failure(m)}");
                    }
                    else
                    {
                        var m = await workloads.StoreSingleEventAppendsAsync();
                        singleEvent.Add(m);
                        Progress($"[{rep + 1}/{settings.Repeats}] ten 1-event appends: {Rate(m.EventsPerSecond),8} events/s{Failure(m)}");
                    }
                }
            }
        }

        // ---- Report (stdout) ----
        var o = Console.Out;
        o.WriteLine();
        o.WriteLine("# Event store append throughput vs raw Npgsql INSERT");
        o.WriteLine();
        o.WriteLine(Invariant($"Each measurement: {settings.Warmup.TotalSeconds:0.#} s warm-up, then {settings.Measure.TotalSeconds:0.#} s counted; {settings.Repeats} interleaved repeats, median shown."));
        o.WriteLine(Invariant($"Event store: one PostgresEventStore (schema \"{Workloads.Schema}\"), each writer appends one event ({Workloads.PayloadLength}-character payload) per append to its own stream with ExpectedVersion.Exactly(n)."));
        o.WriteLine(Invariant($"Raw: each writer holds one connection and runs a prepared autocommit `insert into {Workloads.RawTable} (stream, payload)` ({Workloads.PayloadLength}-character payload), one row per transaction."));
        o.WriteLine();
        o.WriteLine("| writers | event store appends/s | raw INSERT tx/s | ratio |");
        o.WriteLine("|--------:|----------------------:|----------------:|------:|");
        foreach (var w in writerCounts)
        {
            var s = Median(store[w], m => m.OpsPerSecond);
            var r = Median(raw[w], m => m.OpsPerSecond);
            o.WriteLine(Invariant($"| {w} | {Rate(s)}{Invalid(store[w])} | {Rate(r)}{Invalid(raw[w])} | {Ratio(s, r)} |"));
        }

        o.WriteLine();
        o.WriteLine("Per run (in run order), and the store's group commits (from its batch_size histogram and eventstore.commit activity;");
        o.WriteLine("writer busy = share of the window its single writer spent inside a commit):");
        o.WriteLine();
        o.WriteLine("| writers | event store appends/s per run | raw INSERT tx/s per run | appends per commit (mean) | largest commit | commits/s | writer time per commit | writer busy |");
        o.WriteLine("|--------:|------------------------------:|------------------------:|--------------------------:|---------------:|----------:|-----------------------:|------------:|");
        foreach (var w in writerCounts)
        {
            var commits = store[w].Sum(m => m.Commits);
            var appends = store[w].Sum(m => m.AppendsCommitted);
            var perCommit = commits == 0 ? 0 : (double)appends / commits;
            var window = settings.Measure.TotalSeconds * store[w].Count;
            var commitRate = commits / window;
            var commitTime = store[w].Sum(m => m.CommitTime.TotalSeconds);
            var perCommitMicros = commits == 0 ? 0 : commitTime * 1e6 / commits;
            o.WriteLine(Invariant($"| {w} | {string.Join(", ", store[w].Select(m => Rate(m.OpsPerSecond)))} | {string.Join(", ", raw[w].Select(m => Rate(m.OpsPerSecond)))} | {perCommit:0.00} | {store[w].Max(m => m.LargestBatch)} | {Rate(commitRate)} | {perCommitMicros:0} µs | {commitTime / window:0%} |"));
        }

        var tenRate = Median(tenEvent, m => m.EventsPerSecond);
        var singleRate = Median(singleEvent, m => m.EventsPerSecond);
        o.WriteLine();
        o.WriteLine("One writer, sequential: a 10-event append against ten 1-event appends (same stream kind, same payload).");
        o.WriteLine();
        o.WriteLine("| workload | appends/s | events/s |");
        o.WriteLine("|----------|----------:|---------:|");
        o.WriteLine(Invariant($"| one 10-event append | {Rate(Median(tenEvent, m => m.OpsPerSecond))}{Invalid(tenEvent)} | {Rate(tenRate)} |"));
        o.WriteLine(Invariant($"| ten 1-event appends | {Rate(Median(singleEvent, m => m.OpsPerSecond))}{Invalid(singleEvent)} | {Rate(singleRate)} |"));
        o.WriteLine(Invariant($"| ratio (events/s, 10-event ÷ 1-event) | | {Ratio(tenRate, singleRate)} |"));

        o.WriteLine();
        o.WriteLine("Goals:");
        Goal(store, raw, 16, 1.0);
        Goal(store, raw, 1, 0.5);

        o.WriteLine();
        o.WriteLine("Machine:");
        foreach (var (name, value) in SystemReport.Machine())
        {
            o.WriteLine($"- {name}: {value}");
        }

        o.WriteLine();
        o.WriteLine("PostgreSQL:");
        foreach (var (name, value) in server)
        {
            o.WriteLine($"- {name}{(name == "PostgreSQL" ? string.Empty : " (server)")}: {value}");
        }

        o.WriteLine($"- synchronous_commit on the benchmark's connections (store and raw share one data source): {sessionSynchronousCommit}");
        if (sessionSynchronousCommit != "on")
        {
            o.WriteLine("- WARNING: synchronous_commit is not 'on' for the benchmark's connections; the numbers are not durable-commit numbers.");
        }

        o.WriteLine($"- database: {settings.RedactedConnectionString}");

        foreach (var failed in store.Values.Concat(raw.Values).Append(tenEvent).Append(singleEvent).SelectMany(l => l).Where(m => m.Error is not null).Take(3))
        {
            o.WriteLine();
            o.WriteLine($"A writer failed (its run is marked INVALID): {failed.Error}");
        }

        return 0;
    }

    private static void Goal(Dictionary<int, List<Measurement>> store, Dictionary<int, List<Measurement>> raw, int writers, double target)
    {
        var s = Median(store[writers], m => m.OpsPerSecond);
        var r = Median(raw[writers], m => m.OpsPerSecond);
        var valid = !store[writers].Concat(raw[writers]).Any(m => m.Error is not null);
        var met = valid && r > 0 && s / r >= target;
        Console.Out.WriteLine(Invariant($"- event store ≥ {target:0.0}× raw at {writers} writer{(writers == 1 ? string.Empty : "s")}: {Ratio(s, r)} ({Rate(s)} vs {Rate(r)}){(valid ? string.Empty : " [INVALID: a writer failed]")} — {(met ? "GOAL MET" : "GOAL MISSED")}"));
    }

    private static void Add(Dictionary<int, List<Measurement>> results, int writers, Measurement m)
    {
        if (!results.TryGetValue(writers, out var list))
        {
            results[writers] = list = [];
        }

        list.Add(m);
    }

    private static double Median(List<Measurement> runs, Func<Measurement, double> value)
    {
        var sorted = runs.Select(value).Order().ToArray();
        if (sorted.Length == 0)
        {
            return 0;
        }

        var mid = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }

    private static string Rate(double perSecond) => perSecond.ToString("N0", CultureInfo.InvariantCulture);

    private static string Invalid(List<Measurement> runs) => runs.Any(m => m.Error is not null) ? " (INVALID)" : string.Empty;

    private static string Failure(Measurement m) => m.Error is null ? string.Empty : $" — FAILED: {m.Error.GetType().Name}: {m.Error.Message}";
}
