using System.Globalization;
using System.Runtime.InteropServices;
using Npgsql;

namespace GlobeSecure.Benchmarks;

/// <summary>The machine and the PostgreSQL server the numbers were taken on.</summary>
internal static class SystemReport
{
    public static IReadOnlyList<(string Name, string Value)> Machine() =>
    [
        ("nproc", Environment.ProcessorCount.ToString(CultureInfo.InvariantCulture)),
        ("CPU", CpuModel()),
        ("memory", TotalMemory()),
        ("OS", RuntimeInformation.OSDescription),
        (".NET", RuntimeInformation.FrameworkDescription),
    ];

    /// <summary>The 1-, 5- and 15-minute load averages ("0.52 0.40 0.31"): how busy the shared cores were.</summary>
    public static string LoadAverage()
    {
        try
        {
            return string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return "(unknown)";
        }
    }

    /// <summary>The vector extensions libsodium's ChaCha20, Poly1305 and BLAKE2b pick from, as the CPU reports them.</summary>
    public static string CryptoCpuFlags()
    {
        try
        {
            var line = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("flags", StringComparison.Ordinal));
            if (line is null)
            {
                return "(unknown)";
            }

            var flags = line[(line.IndexOf(':', StringComparison.Ordinal) + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries).ToHashSet();
            var present = new[] { "ssse3", "sse4_1", "avx", "avx2", "avx512f", "avx512vl" }.Where(flags.Contains).ToArray();
            return present.Length == 0 ? "(none of ssse3, sse4_1, avx, avx2, avx512f)" : string.Join(' ', present);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return "(unknown)";
        }
    }

    public static async Task<IReadOnlyList<(string Name, string Value)>> ServerAsync(NpgsqlDataSource dataSource)
    {
        var rows = new List<(string, string)>();
        await using var connection = await dataSource.OpenConnectionAsync();
        rows.Add(("PostgreSQL", await ScalarAsync(connection, "select version()")));
        foreach (var setting in new[] { "fsync", "synchronous_commit", "wal_sync_method", "full_page_writes", "commit_delay", "commit_siblings", "shared_buffers", "max_connections" })
        {
            rows.Add((setting, await ScalarAsync(connection, $"show {setting}")));
        }

        // Where the WAL is fsynced to: ext4 on a disk, or a tmpfs that makes fsync free.
        var dataDirectory = await ScalarAsync(connection, "select current_setting('data_directory', true)");
        if (!string.IsNullOrEmpty(dataDirectory) && !dataDirectory.StartsWith('('))
        {
            rows.Add(("data_directory", $"{dataDirectory}{FileSystemOf(dataDirectory)}"));
        }

        return rows;
    }

    /// <summary>A setting as a connection of <paramref name="dataSource"/> sees it (so the connection string's options count).</summary>
    public static async Task<string> SettingAsync(NpgsqlDataSource dataSource, string name)
    {
        await using var connection = await dataSource.OpenConnectionAsync();
        return await ScalarAsync(connection, $"show {name}");
    }

    private static async Task<string> ScalarAsync(NpgsqlConnection connection, string sql)
    {
        try
        {
            await using var command = new NpgsqlCommand(sql, connection);
            return Convert.ToString(await command.ExecuteScalarAsync(), CultureInfo.InvariantCulture) ?? "(null)";
        }
        catch (PostgresException ex)
        {
            return $"(unavailable: {ex.MessageText})";
        }
    }

    private static string CpuModel()
    {
        try
        {
            var line = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal));
            return line is null ? RuntimeInformation.ProcessArchitecture.ToString() : line[(line.IndexOf(':', StringComparison.Ordinal) + 1)..].Trim();
        }
        catch (IOException)
        {
            return "(unknown)";
        }
    }

    private static string TotalMemory()
    {
        try
        {
            var line = File.ReadLines("/proc/meminfo").FirstOrDefault(l => l.StartsWith("MemTotal:", StringComparison.Ordinal));
            var kib = line?.Split(' ', StringSplitOptions.RemoveEmptyEntries).ElementAtOrDefault(1);
            if (long.TryParse(kib, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value))
            {
                return string.Create(CultureInfo.InvariantCulture, $"{value / 1024.0 / 1024.0:0.0} GiB");
            }
        }
        catch (IOException)
        {
        }

        var bytes = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
        return string.Create(CultureInfo.InvariantCulture, $"{bytes / 1024.0 / 1024.0 / 1024.0:0.0} GiB (as seen by .NET)");
    }

    /// <summary>" (ext4 on /dev/vda)" for a local path, from /proc/mounts; empty when unknown (e.g. a remote server).</summary>
    private static string FileSystemOf(string path)
    {
        try
        {
            if (!Directory.Exists(path) || !File.Exists("/proc/mounts"))
            {
                return string.Empty;
            }

            var best = File.ReadLines("/proc/mounts")
                .Select(l => l.Split(' '))
                .Where(f => f.Length >= 3 && IsUnder(path, f[1]))
                .OrderByDescending(f => f[1].Length)
                .FirstOrDefault();
            return best is null ? string.Empty : $" ({best[2]} on {best[0]}, mounted at {best[1]})";
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return string.Empty;
        }
    }

    private static bool IsUnder(string path, string mountPoint) =>
        mountPoint == "/" || path == mountPoint || path.StartsWith(mountPoint + "/", StringComparison.Ordinal);
}
