using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using DotNet.Testcontainers.Builders;
using Npgsql;
using Testcontainers.PostgreSql;

namespace GlobeSecure.Testing;

/// <summary>
/// The PostgreSQL server of one test run, shared by every test class of the assembly, chosen in
/// this order: <c>GLOBE_TEST_DB</c> (a connection string to a server where databases may be
/// created); Testcontainers when a Docker engine answers; otherwise a throwaway cluster from the
/// machine's own binaries (initdb + pg_ctl, fsync off), removed when the run ends.
/// </summary>
public sealed class PostgresServer : IAsyncDisposable
{
    private static readonly SemaphoreSlim Gate = new(1, 1);
    private static PostgresServer? _shared;

    private readonly Func<ValueTask> _stop;
    private readonly LocalCluster.Control? _control;

    private PostgresServer(string adminConnectionString, string kind, Func<ValueTask> stop, LocalCluster.Control? control = null)
    {
        AdminConnectionString = adminConnectionString;
        Kind = kind;
        _stop = stop;
        _control = control;
    }

    /// <summary>A connection string with the right to create databases.</summary>
    public string AdminConnectionString { get; }

    /// <summary>"GLOBE_TEST_DB", "testcontainers" or "local binaries".</summary>
    public string Kind { get; }

    /// <summary>The run's server, started on first use.</summary>
    public static async Task<PostgresServer> SharedAsync()
    {
        await Gate.WaitAsync();
        try
        {
            return _shared ??= await StartAsync();
        }
        finally
        {
            Gate.Release();
        }
    }

    /// <summary>
    /// A cluster of the caller's own from the machine's binaries, whatever <c>GLOBE_TEST_DB</c> says, for a
    /// test that stops and starts its database (<see cref="StopClusterAsync"/>) without disturbing the
    /// run's shared server. The caller disposes it.
    /// </summary>
    /// <remarks>
    /// Its commits are durable against a crash of PostgreSQL (<c>synchronous_commit=on</c>; fsync
    /// stays off, which only matters if the machine itself fails): the shared cluster's
    /// <c>synchronous_commit=off</c> acknowledges a commit before its WAL is written, so an immediate
    /// shutdown would lose acknowledged writes — as it would in production with that setting.
    /// </remarks>
    public static Task<PostgresServer> StartPrivateAsync() => LocalCluster.StartAsync(durableCommits: true);

    /// <summary>
    /// A private cluster only: shuts the server down, its data kept — <c>pg_ctl stop -m fast</c> (sessions
    /// are ended, FATAL 57P01) or, with <paramref name="immediate"/>, <c>-m immediate</c> (like a crash:
    /// recovery runs at the next start).
    /// </summary>
    public Task StopClusterAsync(bool immediate = false) =>
        (_control ?? throw new InvalidOperationException("Only a private local cluster can be stopped and started.")).StopAsync(immediate);

    /// <summary>A private cluster only: starts it again, on the same port, and returns once it accepts connections.</summary>
    public Task StartClusterAsync() =>
        (_control ?? throw new InvalidOperationException("Only a private local cluster can be stopped and started.")).StartAsync();

    /// <summary>Stops the run's server, if one was started (called once at the end of the run).</summary>
    public static async Task StopSharedAsync()
    {
        await Gate.WaitAsync();
        try
        {
            if (_shared is not null)
            {
                await _shared.DisposeAsync();
                _shared = null;
            }
        }
        finally
        {
            Gate.Release();
        }
    }

    /// <summary>Creates an empty database and returns its connection string.</summary>
    public async Task<string> CreateDatabaseAsync(string name)
    {
        await using var connection = new NpgsqlConnection(AdminConnectionString);
        await connection.OpenAsync();
        await using (var command = new NpgsqlCommand($"create database \"{name}\"", connection))
        {
            await command.ExecuteNonQueryAsync();
        }

        return new NpgsqlConnectionStringBuilder(AdminConnectionString) { Database = name, Pooling = true }.ConnectionString;
    }

    /// <summary>Drops a database, disconnecting whoever still uses it.</summary>
    public async Task DropDatabaseAsync(string name)
    {
        await using var connection = new NpgsqlConnection(AdminConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand($"drop database if exists \"{name}\" with (force)", connection);
        await command.ExecuteNonQueryAsync();
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync() => _stop();

    private static async Task<PostgresServer> StartAsync()
    {
        if (Environment.GetEnvironmentVariable("GLOBE_TEST_DB") is { Length: > 0 } configured)
        {
            return new PostgresServer(configured, "GLOBE_TEST_DB", () => ValueTask.CompletedTask);
        }

        if (await TryTestcontainersAsync() is { } container)
        {
            return container;
        }

        return await LocalCluster.StartAsync();
    }

    private static async Task<PostgresServer?> TryTestcontainersAsync()
    {
        // Without a socket or DOCKER_HOST there is no engine to ask; skip the slow probe.
        if (Environment.GetEnvironmentVariable("DOCKER_HOST") is not { Length: > 0 } && !File.Exists("/var/run/docker.sock"))
        {
            return null;
        }

        try
        {
            var container = new PostgreSqlBuilder("postgres:15-alpine")
                .WithCommand("-c", "fsync=off", "-c", "max_connections=300")
                .Build();
            await container.StartAsync();
            return new PostgresServer(container.GetConnectionString(), "testcontainers", container.DisposeAsync);
        }
        catch (Exception ex) when (ex is DockerUnavailableException or HttpRequestException or TimeoutException or InvalidOperationException or IOException)
        {
            return null;
        }
    }

    /// <summary>A cluster in a temporary folder, run as the postgres user when the tests run as root.</summary>
    private static class LocalCluster
    {
        private const string Prefix = "globe-test-pg-";

        public static async Task<PostgresServer> StartAsync(bool durableCommits = false)
        {
            var bin = FindBinaries();
            RemoveAbandoned(bin);
            var root = Path.Combine(Path.GetTempPath(), Prefix + Guid.NewGuid().ToString("N")[..12]);
            var data = Path.Combine(root, "data");
            Directory.CreateDirectory(root);
            await File.WriteAllTextAsync(Path.Combine(root, "owner.pid"), Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture));
            var asRoot = Environment.UserName == "root";
            if (asRoot)
            {
                await RunAsync("chown", ["-R", "postgres:postgres", root]);
            }

            await RunPostgresToolAsync(asRoot, Path.Combine(bin, "initdb"), ["-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"]);
            var port = FreePort();
            var options = $"-c listen_addresses=127.0.0.1 -p {port} -k {root} -c fsync=off -c synchronous_commit={(durableCommits ? "on" : "off")} -c full_page_writes=off -c max_connections=300";
            var control = new Control(bin, asRoot, data, Path.Combine(root, "postgres.log"), options);
            await control.StartAsync();

            // A private cluster is stopped under its pool: its admin connections are not pooled (a pooled one would be dead after a restart).
            var connectionString = $"Host=127.0.0.1;Port={port};Username=postgres;Database=postgres;" + (durableCommits ? "Pooling=false" : "Pooling=true;Maximum Pool Size=40");
            return new PostgresServer(connectionString, "local binaries", async () =>
            {
                NpgsqlConnection.ClearAllPools();
                await StopAsync(bin, asRoot, data);
                TryDelete(root);
            }, control);
        }

        /// <summary>Starts and stops one cluster's server with its settings (port included) unchanged.</summary>
        public sealed class Control(string bin, bool asRoot, string data, string log, string options)
        {
            public Task StartAsync() =>
                RunPostgresToolAsync(asRoot, Path.Combine(bin, "pg_ctl"), ["-D", data, "-l", log, "-o", options, "-w", "-t", "60", "start"]);

            public Task StopAsync(bool immediate) =>
                RunPostgresToolAsync(asRoot, Path.Combine(bin, "pg_ctl"), ["-D", data, "-m", immediate ? "immediate" : "fast", "-w", "-t", "60", "stop"]);
        }

        private static string FindBinaries()
        {
            var candidates = new List<string>();
            if (Environment.GetEnvironmentVariable("GLOBE_PG_BINDIR") is { Length: > 0 } configured)
            {
                candidates.Add(configured);
            }

            if (Directory.Exists("/usr/lib/postgresql"))
            {
                candidates.AddRange(Directory.GetDirectories("/usr/lib/postgresql")
                    .OrderByDescending(d => int.TryParse(Path.GetFileName(d), out var v) ? v : 0)
                    .Select(d => Path.Combine(d, "bin")));
            }

            candidates.AddRange((Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(':', StringSplitOptions.RemoveEmptyEntries));
            return candidates.FirstOrDefault(d => File.Exists(Path.Combine(d, "initdb")) && File.Exists(Path.Combine(d, "pg_ctl")))
                ?? throw new InvalidOperationException(
                    "No PostgreSQL server binaries (initdb, pg_ctl) were found: run ops/test.sh, which installs them, set GLOBE_PG_BINDIR, or set GLOBE_TEST_DB to a server.");
        }

        /// <summary>Clusters left by a test process that was killed are stopped and removed.</summary>
        private static void RemoveAbandoned(string bin)
        {
            foreach (var dir in Directory.GetDirectories(Path.GetTempPath(), Prefix + "*"))
            {
                try
                {
                    var owner = int.Parse(File.ReadAllText(Path.Combine(dir, "owner.pid")), System.Globalization.CultureInfo.InvariantCulture);
                    if (IsAlive(owner))
                    {
                        continue;
                    }

                    StopAsync(bin, Environment.UserName == "root", Path.Combine(dir, "data")).GetAwaiter().GetResult();
                    TryDelete(dir);
                }
                catch (Exception ex) when (ex is IOException or FormatException or UnauthorizedAccessException or InvalidOperationException)
                {
                    // Not ours, or already half gone: leave it.
                }
            }
        }

        private static bool IsAlive(int pid)
        {
            try
            {
                using var process = Process.GetProcessById(pid);
                return !process.HasExited;
            }
            catch (ArgumentException)
            {
                return false;
            }
        }

        private static async Task StopAsync(string bin, bool asRoot, string data)
        {
            if (File.Exists(Path.Combine(data, "postmaster.pid")))
            {
                await RunPostgresToolAsync(asRoot, Path.Combine(bin, "pg_ctl"), ["-D", data, "-m", "immediate", "-w", "stop"], throwOnFailure: false);
            }
        }

        private static void TryDelete(string dir)
        {
            try
            {
                Directory.Delete(dir, recursive: true);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
            }
        }

        private static int FreePort()
        {
            using var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            return ((IPEndPoint)listener.LocalEndpoint).Port;
        }

        private static Task RunPostgresToolAsync(bool asRoot, string tool, string[] args, bool throwOnFailure = true) =>
            asRoot
                ? RunAsync(File.Exists("/usr/sbin/runuser") ? "/usr/sbin/runuser" : "runuser", ["-u", "postgres", "--", tool, .. args], throwOnFailure)
                : RunAsync(tool, args, throwOnFailure);

        private static async Task RunAsync(string file, string[] args, bool throwOnFailure = true)
        {
            var start = new ProcessStartInfo(file)
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                WorkingDirectory = Path.GetTempPath(),
            };
            foreach (var arg in args)
            {
                start.ArgumentList.Add(arg);
            }

            using var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {file}.");
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            await process.WaitForExitAsync();
            if (process.ExitCode != 0 && throwOnFailure)
            {
                throw new InvalidOperationException($"{file} {string.Join(' ', args)} exited with {process.ExitCode}: {await stderr}{await stdout}");
            }
        }
    }
}
