using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

using static GlobeSecure.Benchmarks.Format;

namespace GlobeSecure.Benchmarks;

/// <summary>One kind of operation: completions (all, and those started in the counted window), throughput and latency in the window, failures by status.</summary>
internal sealed record OperationResult(string Name, long Completed, long Counted, double PerSecond, double P50Ms, double P99Ms, double MaxMs,
    IReadOnlyDictionary<string, long> Errors, IReadOnlyDictionary<string, long> Expected, IReadOnlyDictionary<string, string> FirstDetail);

/// <summary>
/// The exactly-once check. A delivery is one (acknowledged message, member subscriber) pair; every
/// member of a channel, the sender included, must receive each of its acknowledged messages once.
/// </summary>
/// <param name="Attempted">Messages the clients tried to send.</param>
/// <param name="Acknowledged">Messages the server acknowledged (SendMessage answered OK).</param>
/// <param name="ExpectedDeliveries">Acknowledged messages × members of their channel.</param>
/// <param name="Delivered">Expected deliveries that arrived (the first time).</param>
/// <param name="Lost">Expected deliveries that never arrived by the end of the drain.</param>
/// <param name="Duplicated">Messages a subscriber received again (on the wire, before any client-side filtering).</param>
/// <param name="OutOfOrder">Events whose position was not above the last one the stream had given.</param>
/// <param name="Unknown">Messages received that this run never sent.</param>
/// <param name="UnacknowledgedDelivered">Deliveries of messages whose send failed on the client side (stored anyway); neither lost nor duplicated.</param>
/// <param name="P50Ms">Send start → received by a member, median (messages started in the window).</param>
/// <param name="P99Ms">The same, 99th percentile.</param>
internal sealed record DeliveryResult(long Attempted, long Acknowledged, long ExpectedDeliveries, long Delivered, long Lost, long Duplicated, long OutOfOrder,
    long Unknown, long UnacknowledgedDelivered, double P50Ms, double P99Ms);

/// <summary>Documents uploaded, and of the sample downloaded again, those identical to what was uploaded (SHA-256) and those not.</summary>
internal sealed record DocumentResult(long Uploaded, long Verified, long Mismatched);

/// <summary>The growth of one memory figure over the counted window.</summary>
/// <param name="StartMiB">Median of the first samples after the warm-up (the first tenth, at least 3).</param>
/// <param name="EndMiB">Median of the last samples of the load (the last tenth, at least 3).</param>
/// <param name="PeakMiB">Largest sample after the warm-up.</param>
/// <param name="Percent">(end − start) ÷ start, in percent.</param>
internal sealed record Growth(string Figure, double StartMiB, double EndMiB, double PeakMiB, double Percent, int Samples);

/// <summary>One goal and whether it was met; null when the run was too short to tell.</summary>
internal sealed record Verdict(string Goal, string Measured, bool? Passed);

/// <summary>Everything a load run measured.</summary>
internal sealed record LoadResult
{
    public DateTimeOffset StartedAt { get; init; }

    public int Clients { get; init; }

    public int Channels { get; init; }

    public double LoadSeconds { get; init; }

    public double DrainSeconds { get; init; }

    public IReadOnlyList<OperationResult> Operations { get; init; } = [];

    public DeliveryResult Delivery { get; init; } = null!;

    public DocumentResult Documents { get; init; } = null!;

    public IReadOnlyList<MemorySample> Memory { get; init; } = [];

    public string LoadAverageBefore { get; init; } = string.Empty;

    public string LoadAverageAfter { get; init; } = string.Empty;

    public IReadOnlyList<string> Machine { get; init; } = [];

    public string ServerLog { get; init; } = string.Empty;

    public long UnexpectedErrors => Operations.Sum(o => o.Errors.Values.Sum());

    /// <summary>Memory samples taken after the warm-up and before the load ended (the drain's are left out).</summary>
    public IReadOnlyList<MemorySample> CountedSamples(LoadSettings settings) =>
        [.. Memory.Where(m => m.Phase == "load")];

    public IReadOnlyList<Growth> Growths(LoadSettings settings)
    {
        var counted = CountedSamples(settings);
        return [GrowthOf("server RSS", counted, m => m.RssMiB), GrowthOf("server managed heap, live after a full collection", counted, m => m.LiveHeapMiB)];
    }

    public IReadOnlyList<Verdict> Verdicts => _verdicts ?? [];

    private IReadOnlyList<Verdict>? _verdicts;

    /// <summary>Computes the verdicts (kept for <see cref="Verdicts"/>).</summary>
    public LoadResult Judged(LoadSettings settings)
    {
        var d = Delivery;
        var verdicts = new List<Verdict>
        {
            new("zero lost or duplicated messages", Invariant($"{d.Acknowledged:N0} acknowledged, {d.Delivered:N0} of {d.ExpectedDeliveries:N0} deliveries, {d.Lost:N0} lost, {d.Duplicated:N0} duplicated, {d.OutOfOrder:N0} out of order"),
                d.Acknowledged > 0 && d.Lost == 0 && d.Duplicated == 0 && d.OutOfOrder == 0),
            new("zero unexpected errors", Invariant($"{UnexpectedErrors:N0}"), UnexpectedErrors == 0),
            new("documents downloaded again are identical", Invariant($"{Documents.Verified:N0} identical, {Documents.Mismatched:N0} different, of {Documents.Uploaded:N0} uploaded"),
                Documents.Uploaded == 0 ? null : Documents.Verified > 0 && Documents.Mismatched == 0),
        };
        foreach (var g in Growths(settings))
        {
            verdicts.Add(new Verdict($"{g.Figure}: growth after the warm-up ≤ {LoadSettings.MemoryGrowthGoalPercent:0} %",
                g.Samples < 4 ? Invariant($"{g.Samples} samples after the warm-up: too few to tell") : Invariant($"{g.StartMiB:0.0} → {g.EndMiB:0.0} MiB ({g.Percent:+0.0;-0.0} %), peak {g.PeakMiB:0.0} MiB, {g.Samples} samples"),
                g.Samples < 4 ? null : g.Percent <= LoadSettings.MemoryGrowthGoalPercent));
        }

        return this with { _verdicts = verdicts };
    }

    private static Growth GrowthOf(string figure, IReadOnlyList<MemorySample> samples, Func<MemorySample, double> value)
    {
        if (samples.Count == 0)
        {
            return new Growth(figure, 0, 0, 0, 0, 0);
        }

        // A tenth of the samples, at least 3, at most half of them (and at least one).
        var k = Math.Max(1, Math.Min(Math.Max(3, samples.Count / 10), samples.Count / 2));
        var start = Median(samples.Take(k).Select(value));
        var end = Median(samples.TakeLast(k).Select(value));
        return new Growth(figure, start, end, samples.Max(value), start > 0 ? (end - start) / start * 100 : 0, samples.Count);
    }

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        var mid = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }
}

/// <summary>The load run's report: Markdown for people (and the README), JSON for tools.</summary>
internal static class LoadReport
{
    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        // A report read by people too: "≤" and "→" as they are.
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    };

    public static string Markdown(LoadSettings settings, LoadResult r)
    {
        var o = new StringBuilder();
        void Line(string text = "") => o.Append(text).Append('\n');
        Line("# Load and soak");
        Line();
        Line(Invariant($"Started {r.StartedAt:yyyy-MM-dd HH:mm} UTC: {r.Clients} clients in {r.Channels} channels, {Span(settings.Duration)} of load ({settings.Warmup.TotalSeconds:0} s warm-up, not counted), {(settings.Rate > 0 ? $"{settings.Rate:0.##} operations/s per client, paced" : "closed loop, as fast as each client can")}; the load ran {r.LoadSeconds:0} s, the drain {r.DrainSeconds:0.0} s."));
        Line(Invariant($"Each client: an investigator with its own certified device, GlobeClient (session, HTTP/2 connection) and Subscribe stream (reopened every {LoadSettings.ReopenMin.TotalSeconds:0}–{LoadSettings.ReopenMin.TotalSeconds * 2:0} s after its last position); {LoadSettings.MessageBytes / 1024} KiB messages sealed and signed by GlobeClient.SendAsync into its channel of {LoadSettings.ChannelSize} members (three of the channel's own authority, two of a partner authority all channels share); every {LoadSettings.DocumentEvery}th operation a {LoadSettings.DocumentBytes / 1024} KiB document (UploadDocumentAsync), every {LoadSettings.VerifyEvery}th of those downloaded again (DownloadDocumentAsync, verified) and compared by SHA-256."));
        Line("Server: the real server (GlobeServerHost, Production environment, default settings) in a child process on loopback; its memory is its own.");
        Line();
        Line("## Verdicts");
        Line();
        Line("| goal | measured | verdict |");
        Line("|------|----------|---------|");
        foreach (var v in r.Verdicts)
        {
            Line($"| {v.Goal} | {v.Measured} | {(v.Passed switch { true => "PASS", false => "**FAIL**", null => "n/a" })} |");
        }

        Line();
        Line("## Operations");
        Line();
        Line(Invariant($"Throughput and latency count operations started in the {(settings.Duration - settings.Warmup).TotalSeconds:0} s after the warm-up; completions and errors count the whole run."));
        Line();
        Line("| operation | completed | in window | per second | p50 | p99 | max | errors |");
        Line("|-----------|----------:|----------:|-----------:|----:|----:|----:|-------:|");
        foreach (var op in r.Operations)
        {
            Line(op.Counted == 0
                ? Invariant($"| {op.Name} | {op.Completed:N0} | 0 | | | | | {op.Errors.Values.Sum():N0} |")
                : Invariant($"| {op.Name} | {op.Completed:N0} | {op.Counted:N0} | {op.PerSecond:N1} | {op.P50Ms:0.0} ms | {op.P99Ms:0.0} ms | {op.MaxMs:0.0} ms | {op.Errors.Values.Sum():N0} |"));
        }

        var d = r.Delivery;
        Line(Invariant($"| message delivered to a member (send start → its stream) | {d.Delivered:N0} | | | {d.P50Ms:0.0} ms | {d.P99Ms:0.0} ms | | |"));
        Line();
        Line("Errors by status code:");
        Line();
        Line("| operation | status | count | expected? | first one's detail |");
        Line("|-----------|--------|------:|-----------|--------------------|");
        var any = false;
        foreach (var op in r.Operations)
        {
            foreach (var (code, count) in op.Errors)
            {
                Line(Invariant($"| {op.Name} | {code} | {count:N0} | no | {op.FirstDetail.GetValueOrDefault(code, "").Replace('|', '/')} |"));
                any = true;
            }

            foreach (var (code, count) in op.Expected)
            {
                Line(Invariant($"| {op.Name} | {code} | {count:N0} | yes (not an error) | |"));
                any = true;
            }
        }

        if (!any)
        {
            Line("| (none) | | | | |");
        }

        Line();
        Line("No error is expected at this load: it stays within every server limit, so any status other than OK counts against the goal (RESOURCE_EXHAUSTED included; it would be expected only from a run that deliberately exceeds Globe:Limits, which this one does not).");
        Line();
        Line("## Messages (exactly once)");
        Line();
        Line("| sent | acknowledged | deliveries expected | delivered | lost | duplicated | out of order | unknown | delivered, send failed |");
        Line("|-----:|-------------:|--------------------:|----------:|-----:|-----------:|-------------:|--------:|-----------------------:|");
        Line(Invariant($"| {d.Attempted:N0} | {d.Acknowledged:N0} | {d.ExpectedDeliveries:N0} | {d.Delivered:N0} | {d.Lost:N0} | {d.Duplicated:N0} | {d.OutOfOrder:N0} | {d.Unknown:N0} | {d.UnacknowledgedDelivered:N0} |"));
        Line();
        Line("A delivery is one (acknowledged message, member) pair: every member of the channel, the sender included, must receive each acknowledged message exactly once on its raw Subscribe stream, across its reopenings (positions checked to increase).");
        Line();
        Line("## Documents");
        Line();
        Line(Invariant($"{r.Documents.Uploaded:N0} uploaded and sealed; {r.Documents.Verified + r.Documents.Mismatched:N0} downloaded again: {r.Documents.Verified:N0} identical (SHA-256), {r.Documents.Mismatched:N0} different."));
        Line();
        Line("## Server memory");
        Line();
        Line(Invariant($"Sampled every {settings.SampleEvery.TotalSeconds:0} s from the server process: resident set (VmRSS), the managed heap at the end of its last collection (as the GC reports it), and the live managed bytes after a forced full blocking collection (which the sample triggers). Growth compares the median of the first tenth (at least 3) of the samples after the warm-up with the median of the last tenth of the load."));
        Line();
        Line("| figure | after warm-up | end of load | peak | growth |");
        Line("|--------|--------------:|------------:|-----:|-------:|");
        foreach (var g in r.Growths(settings))
        {
            Line(Invariant($"| {g.Figure} | {g.StartMiB:0.0} MiB | {g.EndMiB:0.0} MiB | {g.PeakMiB:0.0} MiB | {g.Percent:+0.0;-0.0} % |"));
        }

        Line();
        Line("| time | phase | RSS | heap after last GC | live heap | GCs (gen 0/1/2) |");
        Line("|-----:|-------|----:|-------------------:|----------:|----------------:|");
        foreach (var m in r.Memory)
        {
            Line(Invariant($"| {m.At.TotalSeconds:0} s | {m.Phase} | {m.RssMiB:0.0} MiB | {m.HeapAfterLastGcMiB:0.0} MiB | {m.LiveHeapMiB:0.0} MiB | {m.Collections} |"));
        }

        Line();
        Line("## Machine");
        Line();
        foreach (var m in r.Machine)
        {
            Line("- " + m);
        }

        Line($"- load average before: {r.LoadAverageBefore}; after: {r.LoadAverageAfter} (other processes on the same cores count too)");
        Line($"- database server: {settings.RedactedConnectionString} (the server's own database is created on it and dropped afterwards)");
        Line($"- server log: {r.ServerLog}");
        return o.ToString();
    }

    /// <summary>"40 s", "10 min", "1 h 30 min".</summary>
    public static string Span(TimeSpan t) =>
        t < TimeSpan.FromMinutes(2) ? Invariant($"{t.TotalSeconds:0} s")
        : t < TimeSpan.FromHours(2) ? Invariant($"{t.TotalMinutes:0.#} min")
        : Invariant($"{Math.Floor(t.TotalHours):0} h {t.Minutes} min");

    public static string Json(LoadSettings settings, LoadResult r) => JsonSerializer.Serialize(new
    {
        settings = new
        {
            clients = settings.Clients,
            durationSeconds = settings.Duration.TotalSeconds,
            warmupSeconds = settings.Warmup.TotalSeconds,
            ratePerClient = settings.Rate,
            sampleSeconds = settings.SampleEvery.TotalSeconds,
            channelSize = LoadSettings.ChannelSize,
            messageBytes = LoadSettings.MessageBytes,
            documentBytes = LoadSettings.DocumentBytes,
        },
        startedAt = r.StartedAt,
        r.Clients,
        r.Channels,
        r.LoadSeconds,
        r.DrainSeconds,
        verdicts = r.Verdicts.Select(v => new { v.Goal, v.Measured, verdict = v.Passed switch { true => "PASS", false => "FAIL", null => "n/a" } }),
        r.Operations,
        r.Delivery,
        r.Documents,
        r.UnexpectedErrors,
        memoryGrowth = r.Growths(settings),
        memory = r.Memory.Select(m => new { atSeconds = m.At.TotalSeconds, m.Phase, m.RssMiB, m.HeapAfterLastGcMiB, m.LiveHeapMiB, m.Collections }),
        r.LoadAverageBefore,
        r.LoadAverageAfter,
        r.Machine,
    }, JsonOptions);
}
