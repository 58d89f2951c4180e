using System.Globalization;
using Npgsql;

namespace GlobeSecure.Benchmarks;

/// <summary>What a load run does (<c>GlobeSecure.Benchmarks --load …</c>, run by ops/load.sh).</summary>
/// <param name="ConnectionString">The PostgreSQL server the run creates the server's own database on (GLOBE_BENCH_DB).</param>
/// <param name="Clients">Concurrent enrolled clients, each an investigator with its own device, session and connection.</param>
/// <param name="Duration">The whole load, warm-up included.</param>
/// <param name="Warmup">The first part of the load, not counted in throughput, latency or memory growth.</param>
/// <param name="Rate">Operations per second per client (paced, with jitter); 0: as fast as each client can.</param>
/// <param name="SampleEvery">How often the server's memory is sampled.</param>
/// <param name="ReportPath">The Markdown report; the JSON goes beside it (same name, .json).</param>
internal sealed record LoadSettings(string ConnectionString, int Clients, TimeSpan Duration, TimeSpan Warmup, double Rate, TimeSpan SampleEvery,
    string ReportPath)
{
    public const string Flag = "--load";

    /// <summary>Members per channel: every message is delivered to this many subscribers (its sender's included).</summary>
    public const int ChannelSize = 5;

    /// <summary>Every this many operations of a client is a document upload instead of a message.</summary>
    public const int DocumentEvery = 10;

    /// <summary>Every this many uploads of a client is downloaded again and compared byte for byte (by SHA-256).</summary>
    public const int VerifyEvery = 5;

    /// <summary>Size of each message's plaintext.</summary>
    public const int MessageBytes = 1024;

    /// <summary>Size of each document's plaintext.</summary>
    public const int DocumentBytes = 32 * 1024;

    /// <summary>A subscription is closed and reopened (resuming after its last position) after 20 to 40 s.</summary>
    public static readonly TimeSpan ReopenMin = TimeSpan.FromSeconds(20);

    /// <summary>How long the run waits after the load for the subscribers to deliver every acknowledged message.</summary>
    public static readonly TimeSpan DrainTimeout = TimeSpan.FromSeconds(60);

    /// <summary>The memory goal: growth after the warm-up, in percent.</summary>
    public const double MemoryGrowthGoalPercent = 10;

    public const string Usage = """
        usage: GlobeSecure.Benchmarks --load [--clients N] [--duration 10m] [--warmup 1m] [--rate R]
                                             [--sample 10s] [--report FILE.md]

          --clients N    concurrent enrolled clients (investigators, each with its own device, session
                         and HTTP/2 connection), 2 to 500 (default 50)
          --duration D   the whole load, warm-up included: 90s, 2m, 10m, 1h (default 10m)
          --warmup D     the first part, not counted in throughput, latency or memory growth (default 1m,
                         or a quarter of a --duration under 4m)
          --rate R       operations per second per client, paced with jitter (default 4); 0: as fast as
                         each client can (closed loop)
          --sample D     how often the server's memory is sampled (default 10s)
          --report FILE  the Markdown report (default TestResults/load/load-<UTC time>.md); the JSON
                         report goes beside it with the extension .json

        Every client sends 1 KiB messages into its channel of 5 members (3 of the channel's own
        authority, 2 of a partner authority every channel shares), uploads a 32 KiB
        document every 10th operation and downloads every 5th upload again, and holds a Subscribe stream
        that it reopens every 20-40 s from its last position. The server runs in a child process.
        GLOBE_BENCH_DB is an Npgsql connection string to the PostgreSQL server the run creates the
        server's database on (and drops afterwards); ops/load.sh starts a throwaway cluster and sets it.
        Exit code: 0 when every goal is met, 1 when one is not, 2 for a usage error.
        """;

    /// <summary>Parses the arguments after <see cref="Flag"/>; null with the reason in <paramref name="error"/> (empty for --help).</summary>
    public static LoadSettings? Parse(string[] args, out string? error)
    {
        error = null;
        var clients = 50;
        var duration = TimeSpan.FromMinutes(10);
        TimeSpan? warmupGiven = null;
        var rate = 4.0;
        var sample = TimeSpan.FromSeconds(10);
        string? report = null;
        for (var i = 0; i < args.Length; i++)
        {
            var arg = args[i];
            if (arg is "-h" or "--help")
            {
                error = string.Empty;
                return null;
            }

            if (i + 1 >= args.Length)
            {
                error = $"{arg} needs a value (or is unknown).";
                return null;
            }

            var value = args[++i];
            switch (arg)
            {
                case "--clients" when int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var c) && c is >= 2 and <= 500:
                    clients = c;
                    break;
                case "--duration" when ParseDuration(value) is { } d && d >= TimeSpan.FromSeconds(10) && d <= TimeSpan.FromHours(24):
                    duration = d;
                    break;
                case "--warmup" when ParseDuration(value) is { } w:
                    warmupGiven = w;
                    break;
                case "--rate" when double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var r) && r is >= 0 and <= 1000:
                    rate = r;
                    break;
                case "--sample" when ParseDuration(value) is { } s && s >= TimeSpan.FromSeconds(1):
                    sample = s;
                    break;
                case "--report" when value.Length > 0:
                    report = value;
                    break;
                default:
                    error = $"unknown option or bad value: {arg} {value}";
                    return null;
            }
        }

        // Default: a minute, or a quarter of a run shorter than four minutes.
        var warmup = warmupGiven ?? TimeSpan.FromTicks(Math.Min(TimeSpan.FromMinutes(1).Ticks, duration.Ticks / 4));
        if (warmup >= duration)
        {
            error = $"--warmup ({Format.Invariant($"{warmup.TotalSeconds:0} s")}) must be shorter than --duration ({Format.Invariant($"{duration.TotalSeconds:0} s")}).";
            return null;
        }

        var configured = Environment.GetEnvironmentVariable(BenchSettings.DatabaseVariable);
        if (string.IsNullOrWhiteSpace(configured))
        {
            error = $"{BenchSettings.DatabaseVariable} is not set: set it to an Npgsql connection string of a PostgreSQL server the run may create a database on, or run ops/load.sh, which starts a throwaway cluster.";
            return null;
        }

        NpgsqlConnectionStringBuilder builder;
        try
        {
            builder = new NpgsqlConnectionStringBuilder(configured);
        }
        catch (ArgumentException ex)
        {
            error = $"{BenchSettings.DatabaseVariable} is not a valid Npgsql connection string: {ex.Message}";
            return null;
        }

        // Loopback only: a load run never sends traffic off this machine (the server listens on 127.0.0.1 too).
        if (!IsLoopback(builder.Host))
        {
            error = $"{BenchSettings.DatabaseVariable} names host '{builder.Host}': a load run uses a PostgreSQL server on this machine only (127.0.0.1, localhost, ::1 or a Unix socket directory).";
            return null;
        }

        report ??= Path.Combine("TestResults", "load", $"load-{DateTime.UtcNow:yyyyMMdd'T'HHmmss'Z'}.md");
        return new LoadSettings(configured, clients, duration, warmup, rate, sample, Path.GetFullPath(report));
    }

    private static bool IsLoopback(string? host) =>
        string.IsNullOrEmpty(host) || host.StartsWith('/') || host == "localhost"
        || (System.Net.IPAddress.TryParse(host.Trim('[', ']'), out var address) && System.Net.IPAddress.IsLoopback(address));

    /// <summary>"90s", "2m", "1h", "1m30s" or plain seconds ("120"); null when it is none of these.</summary>
    public static TimeSpan? ParseDuration(string value)
    {
        if (double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var plain))
        {
            return plain >= 0 ? TimeSpan.FromSeconds(plain) : null;
        }

        var total = TimeSpan.Zero;
        var number = string.Empty;
        foreach (var ch in value)
        {
            if (char.IsAsciiDigit(ch) || ch == '.')
            {
                number += ch;
                continue;
            }

            if (number.Length == 0 || !double.TryParse(number, NumberStyles.Float, CultureInfo.InvariantCulture, out var n))
            {
                return null;
            }

            switch (ch)
            {
                case 'h':
                    total += TimeSpan.FromHours(n);
                    break;
                case 'm':
                    total += TimeSpan.FromMinutes(n);
                    break;
                case 's':
                    total += TimeSpan.FromSeconds(n);
                    break;
                default:
                    return null;
            }

            number = string.Empty;
        }

        return number.Length == 0 && value.Length > 0 ? total : null;
    }

    /// <summary>The connection string with any password masked, for the report.</summary>
    public string RedactedConnectionString
    {
        get
        {
            var builder = new NpgsqlConnectionStringBuilder(ConnectionString);
            if (!string.IsNullOrEmpty(builder.Password))
            {
                builder.Password = "***";
            }

            return builder.ConnectionString;
        }
    }
}
