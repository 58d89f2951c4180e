using System.Collections.Concurrent;
using System.Diagnostics;
using GlobeSecure.Contracts.V1;
using GlobeSecure.Testing;
using HdrHistogram;

using static GlobeSecure.Benchmarks.Format;

namespace GlobeSecure.Benchmarks;

/// <summary>
/// The load and soak run (ops/load.sh): N enrolled clients send messages, hold and reopen
/// subscriptions and upload small documents for a fixed time against the real server in a child
/// process; every subscriber checks that it receives every acknowledged message of its channel
/// exactly once; the server's memory is sampled throughout. Writes the report (Markdown on
/// standard output and to a file, JSON beside it) and exits 1 when a goal is not met.
/// </summary>
internal static class LoadDriver
{
    public static async Task<int> RunAsync(string[] args)
    {
        var settings = LoadSettings.Parse(args, out var error);
        if (settings is null)
        {
            if (!string.IsNullOrEmpty(error))
            {
                await Console.Error.WriteLineAsync("error: " + error);
            }

            await Console.Error.WriteLineAsync(LoadSettings.Usage);
            return string.IsNullOrEmpty(error) ? 0 : 2;
        }

        Directory.CreateDirectory(Path.GetDirectoryName(settings.ReportPath)!);
        var work = Directory.CreateTempSubdirectory("globe-load-");
        var loadBefore = SystemReport.LoadAverage();
        var startedAt = DateTimeOffset.UtcNow;
        // The server's database, created on GLOBE_BENCH_DB's server and dropped at the end (the tests' fixture code).
        Environment.SetEnvironmentVariable("GLOBE_TEST_DB", settings.ConnectionString);
        var database = new PostgresDatabase();
        LoadResult result;
        try
        {
            await database.InitializeAsync();
            var serverLog = Path.ChangeExtension(settings.ReportPath, ".server.log");
            Progress($"Load: starting the server in a child process (its log: {serverLog})…");
            await using var server = await LoadServerProcess.StartAsync(database.ConnectionString, Path.Combine(work.FullName, "audit-checkpoint.key"), serverLog);
            Progress($"Load: server pid {server.ProcessId} on {server.Address}; enrolling {settings.Clients} clients…");
            await using var world = await LoadWorld.CreateAsync(server, settings, work.FullName);
            var postgres = await SystemReport.ServerAsync(database.DataSource);
            result = await world.RunAsync(server);
            result = (result with
            {
                StartedAt = startedAt,
                LoadAverageBefore = loadBefore,
                LoadAverageAfter = SystemReport.LoadAverage(),
                Machine = [.. SystemReport.Machine().Select(m => $"{m.Name}: {m.Value}"), .. postgres.Select(p => $"{p.Name}: {p.Value}")],
                ServerLog = serverLog,
            }).Judged(settings);
        }
        finally
        {
            await database.DisposeAsync();
            await PostgresServer.StopSharedAsync();
            work.Delete(recursive: true);
        }

        var markdown = LoadReport.Markdown(settings, result);
        await Console.Out.WriteAsync(markdown);
        await File.WriteAllTextAsync(settings.ReportPath, markdown);
        var json = Path.ChangeExtension(settings.ReportPath, ".json");
        await File.WriteAllTextAsync(json, LoadReport.Json(settings, result));
        Progress($"Load: report written to {settings.ReportPath} and {json}.");
        return result.Verdicts.All(v => v.Passed is not false) ? 0 : 1;
    }
}

/// <summary>Counts and latencies of one kind of operation.</summary>
internal sealed class OperationStats(string name)
{
    private readonly Lock _gate = new();
    private readonly LongHistogram _latency = new(TimeStamp.Seconds(120), 3);
    private readonly Dictionary<string, long> _errors = [];
    private readonly Dictionary<string, long> _expected = [];
    private readonly Dictionary<string, string> _firstDetail = [];
    private long _completed;
    private long _counted;

    public string Name => name;

    public void Completed(long start, bool counted)
    {
        var micros = Math.Max(1, (Stopwatch.GetTimestamp() - start) * 1_000_000 / Stopwatch.Frequency);
        lock (_gate)
        {
            _completed++;
            if (counted)
            {
                _counted++;
                _latency.RecordValue(Math.Min(micros, _latency.HighestTrackableValue));
            }
        }
    }

    /// <summary>A failed operation (every one counts, warm-up included), by its status code; the first one's detail is kept.</summary>
    public void Failed(string code, string? detail = null)
    {
        lock (_gate)
        {
            _errors[code] = _errors.GetValueOrDefault(code) + 1;
            if (detail is not null)
            {
                _firstDetail.TryAdd(code, detail);
            }
        }
    }

    /// <summary>An outcome that is not a failure, by its status (the client's own cancellation of a subscription it reopens).</summary>
    public void Expected(string code)
    {
        lock (_gate)
        {
            _expected[code] = _expected.GetValueOrDefault(code) + 1;
        }
    }

    public OperationResult Result(TimeSpan window)
    {
        lock (_gate)
        {
            return new OperationResult(name, _completed, _counted, _counted / window.TotalSeconds, Percentile(50), Percentile(99), Percentile(100),
                new SortedDictionary<string, long>(_errors), new SortedDictionary<string, long>(_expected), new SortedDictionary<string, string>(_firstDetail));
        }
    }

    private double Percentile(double p) => _latency.TotalCount == 0 ? 0 : _latency.GetValueAtPercentile(p) / 1000.0;
}

/// <summary>What the run sent, and what each subscriber received: the exactly-once check.</summary>
internal sealed class DeliveryLedger(IReadOnlyList<LoadSubscriber> subscribers, IReadOnlyList<IReadOnlyList<LoadSubscriber>> channelMembers)
{
    private readonly ConcurrentDictionary<Guid, SentMessage> _sent = new();
    private readonly LongHistogram _latency = new(TimeStamp.Seconds(120), 3);
    private readonly Lock _gate = new();
    private long _attempted;

    /// <summary>Registered before the send starts: a subscriber may see the message before the call returns.</summary>
    public void Sending(Guid messageId, int channel, long start, bool counted)
    {
        _sent[messageId] = new SentMessage(channel, start, counted);
        Interlocked.Increment(ref _attempted);
    }

    public void Acknowledged(Guid messageId) => _sent[messageId].Acknowledged = true;

    /// <summary>A subscriber received a message: its latency if it was counted; false when the id is not one this run sent.</summary>
    public bool Received(Guid messageId, long at)
    {
        if (!_sent.TryGetValue(messageId, out var sent))
        {
            return false;
        }

        if (sent.Counted)
        {
            var micros = Math.Max(1, (at - sent.Start) * 1_000_000 / Stopwatch.Frequency);
            lock (_gate)
            {
                _latency.RecordValue(Math.Min(micros, _latency.HighestTrackableValue));
            }
        }

        return true;
    }

    /// <summary>(acknowledged message, member subscriber) pairs not delivered yet.</summary>
    public long Outstanding()
    {
        long missing = 0;
        foreach (var (id, sent) in _sent)
        {
            if (sent.Acknowledged)
            {
                missing += channelMembers[sent.Channel].Count(s => !s.Holds(id));
            }
        }

        return missing;
    }

    public DeliveryResult Result()
    {
        long acknowledged = 0, expected = 0, missing = 0, unacknowledgedDelivered = 0;
        foreach (var (id, sent) in _sent)
        {
            var members = channelMembers[sent.Channel];
            if (sent.Acknowledged)
            {
                acknowledged++;
                expected += members.Count;
                missing += members.Count(s => !s.Holds(id));
            }
            else
            {
                unacknowledgedDelivered += members.Count(s => s.Holds(id));
            }
        }

        double p50, p99;
        lock (_gate)
        {
            p50 = _latency.TotalCount == 0 ? 0 : _latency.GetValueAtPercentile(50) / 1000.0;
            p99 = _latency.TotalCount == 0 ? 0 : _latency.GetValueAtPercentile(99) / 1000.0;
        }

        return new DeliveryResult(Interlocked.Read(ref _attempted), acknowledged, expected, expected - missing, missing,
            subscribers.Sum(s => s.Duplicates), subscribers.Sum(s => s.OutOfOrder), subscribers.Sum(s => s.Unknown), unacknowledgedDelivered, p50, p99);
    }

    private sealed class SentMessage(int channel, long start, bool counted)
    {
        public int Channel => channel;

        public long Start => start;

        public bool Counted => counted;

        public volatile bool Acknowledged;
    }
}

/// <summary>One client's Subscribe stream, on the wire (no client-side filtering): what it received, and how often twice.</summary>
internal sealed class LoadSubscriber(int index)
{
    private readonly HashSet<Guid> _received = [];
    private readonly Lock _gate = new();
    private long _duplicates;
    private long _outOfOrder;
    private long _unknown;

    public int Index => index;

    /// <summary>The position after which a reopened stream resumes.</summary>
    public long Position { get; private set; }

    public long Duplicates => Interlocked.Read(ref _duplicates);

    public long OutOfOrder => Interlocked.Read(ref _outOfOrder);

    public long Unknown => Interlocked.Read(ref _unknown);

    public bool Holds(Guid messageId)
    {
        lock (_gate)
        {
            return _received.Contains(messageId);
        }
    }

    /// <summary>An event from the stream: checks its position and, for a message, that it is new here.</summary>
    public void Event(ChannelEvent e, DeliveryLedger ledger)
    {
        if (e.Position <= Position)
        {
            Interlocked.Increment(ref _outOfOrder);
        }

        Position = Math.Max(Position, e.Position);
        if (e.EventCase != ChannelEvent.EventOneofCase.Message)
        {
            return;
        }

        var id = Guid.Parse(e.Message.Envelope.Header.MessageId);
        bool added;
        lock (_gate)
        {
            added = _received.Add(id);
        }

        if (!added)
        {
            Interlocked.Increment(ref _duplicates);
        }
        else if (!ledger.Received(id, Stopwatch.GetTimestamp()))
        {
            Interlocked.Increment(ref _unknown);
        }
    }
}

/// <summary>The timeline of a run: warm-up, then the counted window, on one clock.</summary>
internal sealed class LoadClock(TimeSpan warmup, TimeSpan duration)
{
    private readonly long _origin = Stopwatch.GetTimestamp();

    public TimeSpan Elapsed => Stopwatch.GetElapsedTime(_origin);

    public bool Running => Elapsed < duration;

    public bool IsCounted(long timestamp)
    {
        var at = Stopwatch.GetElapsedTime(_origin, timestamp);
        return at >= warmup && at < duration;
    }

    public TimeSpan Window => duration - warmup;
}
