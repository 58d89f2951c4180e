using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using GlobeSecure.Benchmarks.Echo;
using GlobeSecure.Client;
using GlobeSecure.Contracts.V1;
using GlobeSecure.Crypto;
using GlobeSecure.Testing;
using Grpc.Core;
using Grpc.Net.Client;
using HdrHistogram;
using MessageEnvelope = GlobeSecure.Crypto.MessageEnvelope;
using MessageHeader = GlobeSecure.Crypto.MessageHeader;

using static GlobeSecure.Benchmarks.Format;

namespace GlobeSecure.Benchmarks;

/// <summary>One measurement window of one side: throughput and latency percentiles, in milliseconds.</summary>
/// <param name="PerSecond">Calls (messages or echoes) completed inside the window, per second.</param>
/// <param name="P50">Median latency of calls started inside the window (channel: send → delivered to the subscriber).</param>
/// <param name="P99">99th percentile of the same.</param>
/// <param name="SendP99">Channel only: p99 of the SendMessage call itself (start → response).</param>
/// <param name="Sent">Channel only: messages the server accepted during the run (warm-up included).</param>
/// <param name="Lost">Channel only: accepted messages no subscriber received within the drain time.</param>
/// <param name="Duplicated">Channel only: messages a subscriber received more than once.</param>
/// <param name="Error">The first failure of any caller (the run is then not valid).</param>
/// <param name="AppendsPerCommit">Channel only: appends the store's writer committed per group commit, in the window.</param>
/// <param name="WriterBusy">Channel only: share of the window the store's single writer spent committing.</param>
internal sealed record LatencyMeasurement(double PerSecond, double P50, double P99, double SendP99, long Sent, long Lost, long Duplicated, Exception? Error,
    double AppendsPerCommit = 0, double WriterBusy = 0);

/// <summary>
/// Channel messaging (1 KiB messages from 64 concurrent callers, sealed and signed per message,
/// latency until the receiving investigator's Subscribe stream delivers them) next to a plain
/// unary 1 KiB gRPC echo at the same concurrency, on the same in-process server in the same run.
/// </summary>
internal static class ChannelBenchmark
{
    public const int Callers = 64;
    public const int Senders = 8;
    public const int Channels = 4;
    public const double ThroughputGoal = 0.1;
    public const double LatencyGoal = 3.0;

    /// <summary>How long a run waits, after its last send, for the subscribers to deliver every accepted message.</summary>
    public static readonly TimeSpan DrainTimeout = TimeSpan.FromSeconds(15);

    public static async Task<int> RunAsync(BenchSettings settings)
    {
        var loadBefore = SystemReport.LoadAverage();
        var runs = settings.Repeats * 2;
        var perRun = settings.Warmup + settings.Measure;
        Progress($"Channels: setup, then {runs} measurements of {perRun.TotalSeconds:0.#} s ({settings.Warmup.TotalSeconds:0.#} s warm-up + {settings.Measure.TotalSeconds:0.#} s counted): about {(runs * perRun).TotalMinutes:0.0} min");

        var server = await BenchServer.StartAsync(settings);
        if (server is null)
        {
            return 1;
        }

        var channelRuns = new List<LatencyMeasurement>();
        var echoRuns = new List<LatencyMeasurement>();
        string synchronousCommit;
        try
        {
            synchronousCommit = await SystemReport.SettingAsync(server.Database.DataSource, "synchronous_commit");
            await using var world = await ChannelWorld.CreateAsync(server);
            Progress($"Channels: {Senders} senders and {Channels} channels (each shared with one receiving investigator of a second authority), {Callers} callers; subscribers open.");
            for (var rep = 0; rep < settings.Repeats; rep++)
            {
                var channelFirst = rep % 2 == 0;
                for (var side = 0; side < 2; side++)
                {
                    if ((side == 0) == channelFirst)
                    {
                        var m = await world.MessagesAsync(settings.Warmup, settings.Measure);
                        channelRuns.Add(m);
                        Progress($"[{rep + 1}/{settings.Repeats}] channel messages: {Rate(m.PerSecond),7} msg/s, delivered p50 {m.P50:0.00} ms, p99 {m.P99:0.00} ms (send p99 {m.SendP99:0.00} ms), lost {m.Lost}, duplicated {m.Duplicated}; {m.AppendsPerCommit:0.0} appends/commit, writer busy {m.WriterBusy:0%}{Failure(m)}");
                    }
                    else
                    {
                        var m = await world.EchoAsync(settings.Warmup, settings.Measure);
                        echoRuns.Add(m);
                        Progress($"[{rep + 1}/{settings.Repeats}] unary echo:       {Rate(m.PerSecond),7} calls/s, p50 {m.P50:0.00} ms, p99 {m.P99:0.00} ms{Failure(m)}");
                    }
                }
            }
        }
        finally
        {
            await server.DisposeAsync();
            await PostgresServer.StopSharedAsync();
        }

        // ---- Report (stdout) ----
        var o = Console.Out;
        var rate = Median(channelRuns, m => m.PerSecond);
        var p50 = Median(channelRuns, m => m.P50);
        var p99 = Median(channelRuns, m => m.P99);
        var echoRate = Median(echoRuns, m => m.PerSecond);
        var echoP50 = Median(echoRuns, m => m.P50);
        var echoP99 = Median(echoRuns, m => m.P99);
        var valid = !channelRuns.Concat(echoRuns).Any(m => m.Error is not null);
        var lost = channelRuns.Sum(m => m.Lost);
        var duplicated = channelRuns.Sum(m => m.Duplicated);
        o.WriteLine();
        o.WriteLine("# Channel messaging vs unary gRPC echo");
        o.WriteLine();
        o.WriteLine(Invariant($"Each measurement: {settings.Warmup.TotalSeconds:0.#} s warm-up, then {settings.Measure.TotalSeconds:0.#} s counted; {settings.Repeats} interleaved repeats, median shown."));
        o.WriteLine(Invariant($"Server: the real GlobeSecure server in-process (Kestrel h2c on loopback, its own database on the benchmark's PostgreSQL), Globe:Channels:RotateAfterMessages = {BenchServer.RotateAfterMessages:N0} (no epoch becomes due during the run; the server would only flag it)."));
        o.WriteLine(Invariant($"Channel messages: {Callers} concurrent callers over one HTTP/2 client; caller i sends as investigator i mod {Senders} (authority A) into channel (i div {Senders}) mod {Channels}; each message is 1 KiB of plaintext sealed (XChaCha20-Poly1305 under the current epoch key) and signed (Ed25519) by the sender's device inside the caller's loop, then SendMessage. Each channel is shared with one investigator of authority B, whose device holds a Subscribe stream (own HTTP/2 connection). Throughput counts SendMessage calls completed in the window; latency runs from the start of the SendMessage call to the moment that subscriber's stream yields the message (messages whose call started in the window)."));
        o.WriteLine(Invariant($"Echo: {Callers} concurrent callers, unary EchoService.Echo (benchmark-only service mapped into the same server, through the same interceptors, no session) with a 1 KiB payload returned unchanged; latency of each call."));
        o.WriteLine();
        o.WriteLine("| workload | throughput | p50 | p99 | throughput ÷ echo | p99 ÷ echo | goal | met |");
        o.WriteLine("|----------|-----------:|----:|----:|------------------:|-----------:|------|-----|");
        var throughputMet = valid && echoRate > 0 && rate / echoRate >= ThroughputGoal;
        var latencyMet = valid && echoP99 > 0 && p99 / echoP99 <= LatencyGoal && lost == 0 && duplicated == 0;
        o.WriteLine(Invariant($"| channel messages, send → delivered | {Rate(rate)} msg/s{Invalid(channelRuns)} | {p50:0.00} ms | {p99:0.00} ms | {Ratio(rate, echoRate)} | {Ratio(p99, echoP99)} | throughput ≥ {ThroughputGoal:0.0}× echo; p99 ≤ {LatencyGoal:0}× echo | {Met(throughputMet)}; {Met(latencyMet)} |"));
        o.WriteLine(Invariant($"| unary echo, 1 KiB | {Rate(echoRate)} calls/s{Invalid(echoRuns)} | {echoP50:0.00} ms | {echoP99:0.00} ms | 1.00× | 1.00× | baseline | |"));
        o.WriteLine();
        o.WriteLine("Per run (in run order):");
        o.WriteLine();
        o.WriteLine("Store writer: appends per group commit, and the share of the window the single writer spent committing (eventstore.commit).");
        o.WriteLine();
        o.WriteLine("| run | channel msg/s | delivered p50 | delivered p99 | SendMessage p99 | accepted | lost | duplicated | appends/commit | writer busy | echo calls/s | echo p50 | echo p99 |");
        o.WriteLine("|----:|--------------:|--------------:|--------------:|----------------:|---------:|-----:|-----------:|---------------:|------------:|-------------:|---------:|---------:|");
        for (var i = 0; i < settings.Repeats; i++)
        {
            var c = channelRuns[i];
            var e = echoRuns[i];
            o.WriteLine(Invariant($"| {i + 1} | {Rate(c.PerSecond)} | {c.P50:0.00} ms | {c.P99:0.00} ms | {c.SendP99:0.00} ms | {c.Sent:N0} | {c.Lost} | {c.Duplicated} | {c.AppendsPerCommit:0.0} | {c.WriterBusy:0%} | {Rate(e.PerSecond)} | {e.P50:0.00} ms | {e.P99:0.00} ms |"));
        }

        o.WriteLine();
        o.WriteLine("Goals:");
        o.WriteLine(Invariant($"- channel throughput ≥ {ThroughputGoal:0.0}× echo: {Ratio(rate, echoRate)} ({Rate(rate)} vs {Rate(echoRate)}){(valid ? string.Empty : " [INVALID: a caller failed]")} — {(throughputMet ? "GOAL MET" : "GOAL MISSED")}"));
        o.WriteLine(Invariant($"- channel p99 (send → delivered) ≤ {LatencyGoal:0}× echo p99: {Ratio(p99, echoP99)} ({p99:0.00} ms vs {echoP99:0.00} ms){(valid ? string.Empty : " [INVALID: a caller failed]")} — {(latencyMet ? "GOAL MET" : "GOAL MISSED")}"));
        o.WriteLine(Invariant($"- messages lost at the subscribers: {lost}, duplicated: {duplicated} (over every run, warm-up included; both must be 0)"));

        o.WriteLine();
        o.WriteLine("Machine:");
        foreach (var (name, value) in SystemReport.Machine())
        {
            o.WriteLine($"- {name}: {value}");
        }

        o.WriteLine($"- load average before the run: {loadBefore}; after: {SystemReport.LoadAverage()} (other processes on the same cores move both sides)");
        o.WriteLine($"- synchronous_commit on the server's connections: {synchronousCommit}");
        o.WriteLine($"- database server: {settings.RedactedConnectionString} (the server's own database is created on it and dropped afterwards)");

        foreach (var failed in channelRuns.Concat(echoRuns).Where(m => m.Error is not null).Take(3))
        {
            o.WriteLine();
            o.WriteLine($"A caller failed (its run is marked INVALID): {failed.Error}");
        }

        return 0;
    }

    private static double Median(List<LatencyMeasurement> runs, Func<LatencyMeasurement, double> value)
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

    private static string Invalid(List<LatencyMeasurement> runs) => runs.Any(m => m.Error is not null) ? " (INVALID)" : string.Empty;

    private static string Failure(LatencyMeasurement m) => m.Error is null ? string.Empty : $" — FAILED: {m.Error.GetType().Name}: {m.Error.Message}";

}

/// <summary>
/// The network the channel benchmark runs on: two authorities, the senders' keys for each
/// channel's current epoch, and one Subscribe stream per receiving investigator, open for the
/// whole run.
/// </summary>
internal sealed class ChannelWorld : IAsyncDisposable
{
    private readonly GrpcChannel _client;
    private readonly GrpcChannel _subscriberClient;
    private readonly IReadOnlyList<BenchMember> _senders;
    private readonly IReadOnlyList<Guid> _channelIds;
    private readonly EpochKey[,] _keys;
    private readonly DeliveryTracker _tracker = new();
    private readonly CommitProbe _probe = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _subscribers = [];

    private ChannelWorld(GrpcChannel client, GrpcChannel subscriberClient, IReadOnlyList<BenchMember> senders, IReadOnlyList<Guid> channelIds, EpochKey[,] keys)
    {
        _client = client;
        _subscriberClient = subscriberClient;
        _senders = senders;
        _channelIds = channelIds;
        _keys = keys;
    }

    /// <summary>Bootstraps the network, admits two authorities, enrols the investigators, creates the channels, opens the subscriptions.</summary>
    public static async Task<ChannelWorld> CreateAsync(GlobeServerFixture server)
    {
        var options = new GrpcChannelOptions { HttpHandler = new SocketsHttpHandler { EnableMultipleHttp2Connections = true }, DisposeHttpClient = true };
        var client = GrpcChannel.ForAddress(server.Address, options);
        var subscriberClient = GrpcChannel.ForAddress(server.Address, new GrpcChannelOptions
        {
            HttpHandler = new SocketsHttpHandler { EnableMultipleHttp2Connections = true },
            DisposeHttpClient = true,
        });
        var network = new BenchNetwork(server, client);
        await network.BootstrapAsync();
        var second = await network.AddNetworkAdministratorAsync();
        var commission = await network.AdmitAuthorityAsync(second, "Anti-Corruption Commission", "KE", AuthorityKind.AntiCorruptionAgency);
        var police = await network.AdmitAuthorityAsync(second, "Police Investigations", "UG", AuthorityKind.Police);
        var senders = new List<BenchMember>();
        for (var i = 0; i < ChannelBenchmark.Senders; i++)
        {
            senders.Add(await network.InvestigatorAsync(commission, $"Sender {i + 1}"));
        }

        var receivers = new List<BenchMember>();
        var channelIds = new List<Guid>();
        for (var c = 0; c < ChannelBenchmark.Channels; c++)
        {
            var receiver = await network.InvestigatorAsync(police, $"Receiver {c + 1}");
            receivers.Add(receiver);
            var channel = await network.SharedChannelAsync(senders[0], senders, receiver);
            channelIds.Add(Guid.Parse(channel.ChannelId));
        }

        var keys = new EpochKey[senders.Count, channelIds.Count];
        for (var s = 0; s < senders.Count; s++)
        {
            for (var c = 0; c < channelIds.Count; c++)
            {
                keys[s, c] = await network.CurrentEpochKeyAsync(senders[s], channelIds[c]);
            }
        }

        var world = new ChannelWorld(client, subscriberClient, senders, channelIds, keys);
        foreach (var receiver in receivers)
        {
            await world.SubscribeAsync(receiver);
        }

        return world;
    }

    /// <summary>The measured channel workload: 64 callers sealing, signing and sending 1 KiB messages; delivery tracked at the subscribers.</summary>
    public async Task<LatencyMeasurement> MessagesAsync(TimeSpan warmup, TimeSpan measure)
    {
        var messages = new ChannelService.ChannelServiceClient(_client);
        var window = new CallWindow(warmup, measure);
        var sendLatency = new LongHistogram(TimeStamp.Seconds(60), 3);
        _tracker.Reset();
        var tasks = Enumerable.Range(0, ChannelBenchmark.Callers).Select(i => Task.Run(async () =>
        {
            var s = i % _senders.Count;
            var c = i / _senders.Count % _channelIds.Count;
            var sender = _senders[s];
            var key = _keys[s, c];
            return await window.LoopAsync(async () =>
            {
                var header = new MessageHeader(key.ChannelId, Guid.CreateVersion7(), sender.UserId, sender.Device.DeviceId, key.Epoch,
                    TimeProvider.System.GetUtcNow(), "text/plain", "H1", "4x4:B2", [], Spontaneous: true);
                var envelope = MessageEnvelope.Seal(header, Payloads.OneKiB, key, sender.Device);
                var request = new SendMessageRequest { Envelope = Wire.ToProto(envelope) };
                var start = Stopwatch.GetTimestamp();
                var counted = window.IsCounted(start);
                _tracker.Expect(header.MessageId, start, counted);
                try
                {
                    await messages.SendMessageAsync(request, sender.Headers);
                }
                catch
                {
                    _tracker.Forget(header.MessageId);
                    throw;
                }

                if (counted)
                {
                    var micros = Microseconds(Stopwatch.GetTimestamp() - start);
                    lock (sendLatency)
                    {
                        sendLatency.RecordValue(micros);
                    }
                }
            });
        })).ToArray();

        _probe.Reset();
        await window.DelayUntilAsync(warmup);
        _probe.Counting = true;
        await window.DelayUntilAsync(warmup + measure);
        _probe.Counting = false;
        var (calls, error) = await window.CollectAsync(tasks);
        var (lost, duplicated, sent, delivered) = await _tracker.DrainAsync(ChannelBenchmark.DrainTimeout);
        var (commits, appends, _, commitTime) = _probe.Snapshot();
        return new LatencyMeasurement(calls / measure.TotalSeconds, Percentile(delivered, 50), Percentile(delivered, 99), Percentile(sendLatency, 99), sent, lost,
            duplicated, error, commits == 0 ? 0 : (double)appends / commits, commitTime / measure);
    }

    /// <summary>The baseline: 64 callers doing unary 1 KiB echoes on the same server.</summary>
    public async Task<LatencyMeasurement> EchoAsync(TimeSpan warmup, TimeSpan measure)
    {
        var echo = new EchoService.EchoServiceClient(_client);
        var window = new CallWindow(warmup, measure);
        var latency = new LongHistogram(TimeStamp.Seconds(60), 3);
        var tasks = Enumerable.Range(0, ChannelBenchmark.Callers).Select(_ => Task.Run(async () =>
            await window.LoopAsync(async () =>
            {
                var start = Stopwatch.GetTimestamp();
                var reply = await echo.EchoAsync(new EchoMessage { Payload = Payloads.OneKiBString });
                if (reply.Payload.Length != Payloads.OneKiB.Length)
                {
                    throw new InvalidOperationException("The echo returned a different payload.");
                }

                if (window.IsCounted(start))
                {
                    var micros = Microseconds(Stopwatch.GetTimestamp() - start);
                    lock (latency)
                    {
                        latency.RecordValue(micros);
                    }
                }
            }))).ToArray();

        var (calls, error) = await window.CollectAsync(tasks);
        return new LatencyMeasurement(calls / measure.TotalSeconds, Percentile(latency, 50), Percentile(latency, 99), 0, 0, 0, 0, error);
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        foreach (var subscriber in _subscribers)
        {
            try
            {
                await subscriber;
            }
            catch (Exception ex) when (ex is OperationCanceledException or RpcException)
            {
                // Ended by the cancellation above.
            }
        }

        foreach (var key in _keys)
        {
            key.Dispose();
        }

        _stop.Dispose();
        _probe.Dispose();
        _client.Dispose();
        _subscriberClient.Dispose();
    }

    /// <summary>Opens the receiver's Subscribe stream and waits until the server has answered it (its headers).</summary>
    private async Task SubscribeAsync(BenchMember receiver)
    {
        var channels = new ChannelService.ChannelServiceClient(_subscriberClient);
        var call = channels.Subscribe(new SubscribeRequest { AfterPosition = 0 }, receiver.Headers, cancellationToken: _stop.Token);
        await call.ResponseHeadersAsync;
        _subscribers.Add(Task.Run(async () =>
        {
            using (call)
            {
                await foreach (var e in call.ResponseStream.ReadAllAsync(_stop.Token))
                {
                    if (e.EventCase == ChannelEvent.EventOneofCase.Message)
                    {
                        _tracker.Delivered(Guid.Parse(e.Message.Envelope.Header.MessageId), Stopwatch.GetTimestamp());
                    }
                }
            }
        }));
    }

    private static long Microseconds(long ticks) => Math.Max(1, ticks * 1_000_000 / Stopwatch.Frequency);

    private static double Percentile(HistogramBase histogram, double percentile) =>
        histogram.TotalCount == 0 ? 0 : histogram.GetValueAtPercentile(percentile) / 1000.0;
}

/// <summary>
/// Which sent messages the subscribers have delivered: send start times by message id, the
/// send → delivered latency of the counted ones, and what arrived twice or never.
/// </summary>
internal sealed class DeliveryTracker
{
    private readonly ConcurrentDictionary<Guid, (long Start, bool Counted)> _pending = new();
    private readonly ConcurrentDictionary<Guid, byte> _delivered = new();
    private readonly Lock _gate = new();
    private LongHistogram _latency = NewHistogram();
    private long _duplicated;
    private long _sent;

    public void Reset()
    {
        lock (_gate)
        {
            _latency = NewHistogram();
        }

        Interlocked.Exchange(ref _duplicated, 0);
        Interlocked.Exchange(ref _sent, 0);
    }

    /// <summary>Registers a message before its SendMessage call starts (the subscriber may see it before the call returns).</summary>
    public void Expect(Guid messageId, long start, bool counted)
    {
        _pending[messageId] = (start, counted);
        Interlocked.Increment(ref _sent);
    }

    /// <summary>The send failed: the message is not expected.</summary>
    public void Forget(Guid messageId)
    {
        _pending.TryRemove(messageId, out _);
        Interlocked.Decrement(ref _sent);
    }

    public void Delivered(Guid messageId, long at)
    {
        if (!_delivered.TryAdd(messageId, 0))
        {
            Interlocked.Increment(ref _duplicated);
            return;
        }

        if (_pending.TryRemove(messageId, out var sent) && sent.Counted)
        {
            var micros = Math.Max(1, (at - sent.Start) * 1_000_000 / Stopwatch.Frequency);
            lock (_gate)
            {
                _latency.RecordValue(micros);
            }
        }
    }

    /// <summary>Waits until every accepted message was delivered (or the timeout); returns the run's counts and its latency histogram.</summary>
    public async Task<(long Lost, long Duplicated, long Sent, LongHistogram Delivered)> DrainAsync(TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (!_pending.IsEmpty && clock.Elapsed < timeout)
        {
            await Task.Delay(10);
        }

        var lost = _pending.Count;
        _pending.Clear();
        lock (_gate)
        {
            return (lost, Interlocked.Read(ref _duplicated), Interlocked.Read(ref _sent), _latency);
        }
    }

    private static LongHistogram NewHistogram() => new(TimeStamp.Seconds(60), 3);
}

/// <summary>A warm-up followed by a measurement window on one clock: callers count calls that complete inside it, and stop once it closes.</summary>
internal sealed class CallWindow(TimeSpan warmup, TimeSpan measure)
{
    private readonly long _origin = Stopwatch.GetTimestamp();
    private Exception? _error;

    /// <summary>Did a call started at this timestamp start inside the window?</summary>
    public bool IsCounted(long timestamp)
    {
        var at = Stopwatch.GetElapsedTime(_origin, timestamp);
        return at >= warmup && at < warmup + measure;
    }

    /// <summary>Runs <paramref name="call"/> until the window closes; returns the calls completed inside it.</summary>
    public async Task<long> LoopAsync(Func<Task> call)
    {
        long calls = 0;
        try
        {
            while (Stopwatch.GetElapsedTime(_origin) < warmup + measure && Volatile.Read(ref _error) is null)
            {
                await call();
                var done = Stopwatch.GetElapsedTime(_origin);
                if (done >= warmup && done < warmup + measure)
                {
                    calls++;
                }
            }
        }
        catch (Exception ex)
        {
            Interlocked.CompareExchange(ref _error, ex, null);
        }

        return calls;
    }

    public async Task DelayUntilAsync(TimeSpan at)
    {
        var wait = at - Stopwatch.GetElapsedTime(_origin);
        if (wait > TimeSpan.Zero)
        {
            await Task.Delay(wait);
        }
    }

    public async Task<(long Calls, Exception? Error)> CollectAsync(Task<long>[] callers)
    {
        var results = await Task.WhenAll(callers);
        return (results.Sum(), Volatile.Read(ref _error));
    }
}
