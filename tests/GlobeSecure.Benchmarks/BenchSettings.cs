using System.Globalization;
using Npgsql;

namespace GlobeSecure.Benchmarks;

/// <summary>Which workloads a run measures (<c>--only</c>).</summary>
internal enum BenchSelection
{
    All,
    Store,
    Crypto,
    Channels,
    Documents,
    Audit,
}

/// <summary>What the driver measures and against which database (from GLOBE_BENCH_DB and the command line).</summary>
/// <param name="ConnectionString">
/// The store benchmark's database, and the server the channel benchmark creates its own database
/// on; null when only the crypto benchmark runs (it needs none).
/// </param>
/// <param name="DocumentMiB">Size of the document the crypto benchmark encrypts and decrypts.</param>
/// <param name="TransferGiB">Size of the document the document benchmark uploads and downloads.</param>
/// <param name="AuditEntries">How many entries the audit benchmark stores, exports and verifies.</param>
internal sealed record BenchSettings(string? ConnectionString, TimeSpan Measure, TimeSpan Warmup, int Repeats, BenchSelection Only, int DocumentMiB,
    int TransferGiB = BenchSettings.DefaultTransferGiB, int AuditEntries = BenchSettings.DefaultAuditEntries)
{
    public const int DefaultAuditEntries = 1_000_000;

    public const int DefaultTransferGiB = 1;

    public const string DatabaseVariable = "GLOBE_BENCH_DB";

    public const int DefaultDocumentMiB = 256;

    public const string Usage = """
        usage: GlobeSecure.Benchmarks [--only all|store|crypto|channels|documents|audit] [--seconds N] [--warmup N]
                                      [--repeats N] [--document-mib N] [--transfer-gib N] [--audit-entries N]

          --only W          which workloads: store (event store vs raw INSERT), crypto (document
                            cipher, envelopes, Argon2id, self-test vs raw libsodium), channels
                            (1 KiB channel messages from 64 callers, send → delivered to a
                            subscriber, vs a unary 1 KiB gRPC echo on the same in-process server),
                            documents (a document uploaded and downloaded through the client
                            library vs raw gRPC client- and server-streaming of the same bytes,
                            with each side's peak memory), audit (export and verification of a
                            stored audit chain vs raw COPY and raw BLAKE2b), or all (default)
          --seconds N       length of each measurement window in seconds (default 5); the crypto
                            benchmark uses it for envelope and signature rates
          --warmup N        seconds run before each window and not counted (default 1); for the
                            crypto benchmark, 0 skips its untimed first pass of each workload
          --repeats N       measurements per workload; the median is reported (default 3)
          --document-mib N  document size for the crypto benchmark, in MiB, 1 to 1024 (default 256)
          --transfer-gib N  document size for the document benchmark, in GiB, 1 to 16 (default 1);
                            needs about three times as much free disk (the file, its stored
                            chunks and their WAL)
          --audit-entries N entries the audit benchmark stores, exports and verifies, 1000 to
                            10000000 (default 1000000; about 1 GiB of memory and disk at the default)

        GLOBE_BENCH_DB (required unless --only crypto) is an Npgsql connection string to an empty
        database the driver may write to: the store benchmark drops and recreates schema "bench"
        and table "bench_raw"; the channel benchmark connects as the same user to create a
        database of its own for the server (t_…), dropped at the end. ops/bench.sh starts a
        throwaway cluster and sets it when it is not set (and starts none for --only crypto).
        """;

    public bool RunsStore => Only is BenchSelection.All or BenchSelection.Store;

    public bool RunsCrypto => Only is BenchSelection.All or BenchSelection.Crypto;

    public bool RunsChannels => Only is BenchSelection.All or BenchSelection.Channels;

    public bool RunsDocuments => Only is BenchSelection.All or BenchSelection.Documents;

    public bool RunsAudit => Only is BenchSelection.All or BenchSelection.Audit;

    /// <summary>Parses the arguments; returns null and writes why to <paramref name="error"/> when they are wrong.</summary>
    public static BenchSettings? Parse(string[] args, out string? error)
    {
        error = null;
        double seconds = 5, warmup = 1;
        var repeats = 3;
        var only = BenchSelection.All;
        var documentMiB = DefaultDocumentMiB;
        var transferGiB = DefaultTransferGiB;
        var auditEntries = DefaultAuditEntries;
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
                case "--only" when SelectionOf(value) is { } o:
                    only = o;
                    break;
                case "--document-mib" when int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var d) && d is >= 1 and <= 1024:
                    documentMiB = d;
                    break;
                case "--transfer-gib" when int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var t) && t is >= 1 and <= 16:
                    transferGiB = t;
                    break;
                case "--audit-entries" when int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var a) && a is >= 1000 and <= 10_000_000:
                    auditEntries = a;
                    break;
                default:
                    error = $"unknown option or bad value: {arg} {value}";
                    return null;
            }
        }

        if (only == BenchSelection.Crypto)
        {
            return new BenchSettings(null, TimeSpan.FromSeconds(seconds), TimeSpan.FromSeconds(warmup), repeats, only, documentMiB, transferGiB, auditEntries);
        }

        var configured = Environment.GetEnvironmentVariable(DatabaseVariable);
        if (string.IsNullOrWhiteSpace(configured))
        {
            error = $"{DatabaseVariable} is not set. Set it to an Npgsql connection string (e.g. "
                + "\"Host=127.0.0.1;Port=5432;Username=postgres;Database=bench\"), or run ops/bench.sh, "
                + "which starts a throwaway PostgreSQL cluster and sets it. --only crypto needs no database.";
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
        return new BenchSettings(builder.ConnectionString, TimeSpan.FromSeconds(seconds), TimeSpan.FromSeconds(warmup), repeats, only, documentMiB, transferGiB, auditEntries);
    }

    private static BenchSelection? SelectionOf(string value) => value switch
    {
        "all" => BenchSelection.All,
        "store" => BenchSelection.Store,
        "crypto" => BenchSelection.Crypto,
        "channels" => BenchSelection.Channels,
        "documents" => BenchSelection.Documents,
        "audit" => BenchSelection.Audit,
        _ => null,
    };

    /// <summary>The connection string with any password masked, for the report.</summary>
    public string RedactedConnectionString
    {
        get
        {
            if (ConnectionString is null)
            {
                return "(none)";
            }

            var builder = new NpgsqlConnectionStringBuilder(ConnectionString);
            if (!string.IsNullOrEmpty(builder.Password))
            {
                builder.Password = "***";
            }

            return builder.ConnectionString;
        }
    }
}
