using System.Globalization;
using Npgsql;

namespace GlobeSecure.Benchmarks;

/// <summary>What the driver measures and against which database (from GLOBE_BENCH_DB and the command line).</summary>
internal sealed record BenchSettings(string ConnectionString, TimeSpan Measure, TimeSpan Warmup, int Repeats)
{
    public const string DatabaseVariable = "GLOBE_BENCH_DB";

    public const string Usage = """
        usage: GlobeSecure.Benchmarks [--seconds N] [--warmup N] [--repeats N]

          --seconds N   length of each measurement window in seconds (default 5)
          --warmup N    seconds run before each window and not counted (default 1)
          --repeats N   measurements per workload; the median is reported (default 3)

        GLOBE_BENCH_DB (required) is an Npgsql connection string to an empty database the
        driver may write to: it drops and recreates schema "bench" and table "bench_raw".
        ops/bench.sh starts a throwaway cluster and sets it when it is not set.
        """;

    /// <summary>Parses the arguments; returns null and writes why to <paramref name="error"/> when they are wrong.</summary>
    public static BenchSettings? Parse(string[] args, out string? error)
    {
        error = null;
        double seconds = 5, warmup = 1;
        var repeats = 3;
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
                case "--seconds" when double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var s) && s > 0:
                    seconds = s;
                    break;
                case "--warmup" when double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var w) && w >= 0:
                    warmup = w;
                    break;
                case "--repeats" when int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var r) && r >= 1:
                    repeats = r;
                    break;
                default:
                    error = $"unknown option or bad value: {arg} {value}";
                    return null;
            }
        }

        var configured = Environment.GetEnvironmentVariable(DatabaseVariable);
        if (string.IsNullOrWhiteSpace(configured))
        {
            error = $"{DatabaseVariable} is not set. Set it to an Npgsql connection string (e.g. "
                + "\"Host=127.0.0.1;Port=5432;Username=postgres;Database=bench\"), or run ops/bench.sh, "
                + "which starts a throwaway PostgreSQL cluster and sets it.";
            return null;
        }

        NpgsqlConnectionStringBuilder builder;
        try
        {
            builder = new NpgsqlConnectionStringBuilder(configured);
        }
        catch (ArgumentException ex)
        {
            error = $"{DatabaseVariable} is not a valid Npgsql connection string: {ex.Message}";
            return null;
        }

        // Durable commits for both sides, whatever the server's default is; the run prints the
        // value each side's connections actually see.
        builder.Options = string.IsNullOrWhiteSpace(builder.Options)
            ? "-c synchronous_commit=on"
            : builder.Options + " -c synchronous_commit=on";
        builder.Pooling = true;
        builder.MaxPoolSize = Math.Max(builder.MaxPoolSize, 64);
        builder.ApplicationName ??= "globe-bench";
        return new BenchSettings(builder.ConnectionString, TimeSpan.FromSeconds(seconds), TimeSpan.FromSeconds(warmup), repeats);
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
