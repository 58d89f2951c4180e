using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using GlobeSecure.Server;
using Grpc.Core;
using Grpc.Health.V1;
using Grpc.Net.Client;
using Microsoft.Extensions.DependencyInjection;

namespace GlobeSecure.Testing;

/// <summary>Where and how a <see cref="ServerProcess"/> runs.</summary>
public sealed record ServerProcessOptions
{
    /// <summary>The database (e.g. <see cref="PostgresDatabase.ConnectionString"/>); replicas share one.</summary>
    public required string ConnectionString { get; init; }

    /// <summary>The audit checkpoint key file; replicas share one (the server creates it on first start).</summary>
    public required string CheckpointKeyFile { get; init; }

    /// <summary>The loopback port; 0 picks a free one below the ephemeral range, kept across restarts.</summary>
    public int Port { get; init; }

    /// <summary>Further settings, e.g. <c>["Globe:Channels:RotateAfterMessages"] = "4"</c>.</summary>
    public IReadOnlyDictionary<string, string> Settings { get; init; } = new Dictionary<string, string>();

    /// <summary>How long a start may take until the health service answers SERVING. Default 60 s.</summary>
    public TimeSpan ReadyTimeout { get; init; } = TimeSpan.FromSeconds(60);
}

/// <summary>
/// The real server as its own operating-system process (<c>dotnet GlobeSecure.Server.dll</c>, the
/// build every test project referencing GlobeSecure.Testing carries in its output), for faults an
/// in-process server cannot show: <see cref="Kill"/> is a SIGKILL — no shutdown, no flush, open
/// connections reset — and <see cref="RestartAsync"/> starts it again on the same address.
/// </summary>
/// <remarks>
/// Settings are those of <see cref="GlobeServerFixture"/>: <c>ConnectionStrings:Globe</c>,
/// <c>Globe:Listen=http://127.0.0.1:PORT</c>, <c>Globe:Audit:CheckpointKeyFile</c>,
/// <c>--environment Testing</c>, warnings-only logging. A start returns once
/// <c>grpc.health.v1.Health/Check</c> answers SERVING; its standard output and error are kept in
/// <see cref="Log"/> (failures quote it). Never leaves a process behind: disposing kills it, and a
/// watchdog (a shell reading a pipe from this process) kills it when the test host dies, even by SIGKILL.
/// Several instances on one database are replicas.
/// </remarks>
public sealed class ServerProcess : IAsyncDisposable
{
    private readonly ServerProcessOptions _options;
    private readonly StringBuilder _log = new();
    private readonly Lock _logLock = new();
    private Process? _server;
    private Process? _watchdog;
    private int _runs;

    private ServerProcess(ServerProcessOptions options, int port)
    {
        _options = options;
        Port = port;
        Address = new Uri($"http://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}");
    }

    /// <summary>The loopback port, the same for every run.</summary>
    public int Port { get; }

    /// <summary>The address, e.g. http://127.0.0.1:24617.</summary>
    public Uri Address { get; }

    /// <summary>The running process's id; null when it is not running.</summary>
    public int? ProcessId => _server is { HasExited: false } running ? running.Id : null;

    /// <summary>Whether the process runs.</summary>
    public bool IsRunning => _server is { HasExited: false };

    /// <summary>How many times it was started.</summary>
    public int Runs => _runs;

    /// <summary>Everything every run wrote to standard output and error, each run headed by its number.</summary>
    public string Log
    {
        get
        {
            lock (_logLock)
            {
                return _log.ToString();
            }
        }
    }

    /// <summary>The server build this harness runs (next to the test assembly).</summary>
    public static string ServerAssemblyPath => typeof(GlobeServerHost).Assembly.Location;

    /// <summary>Starts a server process and waits until it serves.</summary>
    public static async Task<ServerProcess> StartAsync(ServerProcessOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        var server = new ServerProcess(options, options.Port > 0 ? options.Port : FreePort());
        try
        {
            await server.RestartAsync(cancellationToken);
            return server;
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    /// <summary>A channel to this server (the caller disposes it).</summary>
    public GrpcChannel CreateChannel() => GrpcChannel.ForAddress(Address);

    /// <summary>
    /// SIGKILL: the process ends at once, mid-call, without shutting down. Returns once it has
    /// exited (its port is free again). Nothing happens when it is not running.
    /// </summary>
    public void Kill()
    {
        StopWatchdog();
        if (_server is { } server)
        {
            if (!server.HasExited)
            {
                // Process.Kill sends SIGKILL on Unix.
                server.Kill(entireProcessTree: false);
            }

            server.WaitForExit();
            Mark($"run {_runs}: killed (SIGKILL), exit code {server.ExitCode.ToString(CultureInfo.InvariantCulture)}");
            server.Dispose();
            _server = null;
        }
    }

    /// <summary>Starts the server again on the same address (killing a running one first) and waits until it serves.</summary>
    public async Task RestartAsync(CancellationToken cancellationToken = default)
    {
        Kill();
        _runs++;
        Mark($"run {_runs.ToString(CultureInfo.InvariantCulture)}: starting on {Address}");
        var start = new ProcessStartInfo(DotnetHost())
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Path.GetDirectoryName(ServerAssemblyPath)!,
        };
        start.ArgumentList.Add(ServerAssemblyPath);
        foreach (var argument in Arguments(_options, $"http://127.0.0.1:{Port.ToString(CultureInfo.InvariantCulture)}"))
        {
            start.ArgumentList.Add(argument);
        }

        var server = new Process { StartInfo = start, EnableRaisingEvents = true };
        server.OutputDataReceived += (_, e) => AppendLog(e.Data);
        server.ErrorDataReceived += (_, e) => AppendLog(e.Data);
        if (!server.Start())
        {
            throw new InvalidOperationException($"Could not start {start.FileName} {ServerAssemblyPath}.");
        }

        _server = server;
        server.BeginOutputReadLine();
        server.BeginErrorReadLine();
        StartWatchdog(server.Id);
        await WaitUntilServingAsync(server, cancellationToken);
    }

    /// <summary>
    /// Runs a server command (e.g. <c>bootstrap-code</c>, <c>rebuild-projections</c>) with this
    /// server's settings, as an operator would; returns its standard output.
    /// </summary>
    public Task<string> RunCommandAsync(string command, CancellationToken cancellationToken = default) =>
        RunCommandAsync(_options, command, cancellationToken);

    /// <summary>Runs a server command with <paramref name="options"/>' settings (no server process needed); returns its standard output.</summary>
    public static async Task<string> RunCommandAsync(ServerProcessOptions options, string command, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        var start = new ProcessStartInfo(DotnetHost())
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Path.GetDirectoryName(ServerAssemblyPath)!,
        };
        start.ArgumentList.Add(ServerAssemblyPath);
        start.ArgumentList.Add(command);
        foreach (var argument in Arguments(options, "http://127.0.0.1:0"))
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {start.FileName}.");
        var output = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var error = process.StandardError.ReadToEndAsync(cancellationToken);
        try
        {
            await process.WaitForExitAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            process.Kill();
            throw;
        }

        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"The server command '{command}' exited with {process.ExitCode}: {await error}");
        }

        return (await output).Trim();
    }

    /// <summary>
    /// Issues a one-time network bootstrap code through the same service as the operator's
    /// <c>bootstrap-code</c> command, in this process (a server host built on the same settings, never
    /// started: quicker than <see cref="RunCommandAsync(string, CancellationToken)"/>). The server must
    /// have started once (the schema exists).
    /// </summary>
    public async Task<string> IssueBootstrapCodeAsync(CancellationToken cancellationToken = default)
    {
        await using var host = GlobeServerHost.Build(["--environment", "Testing"], builder =>
        {
            foreach (var (key, value) in Settings(_options, "http://127.0.0.1:0"))
            {
                builder.Configuration[key] = value;
            }
        });
        return await host.Services.GetRequiredService<Server.Identity.BootstrapCodes>().IssueAsync(cancellationToken);
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        Kill();
        return ValueTask.CompletedTask;
    }

    private static IEnumerable<string> Arguments(ServerProcessOptions options, string listen)
    {
        yield return "--environment";
        yield return "Testing";
        foreach (var (key, value) in Settings(options, listen))
        {
            yield return $"--{key}={value}";
        }
    }

    private static Dictionary<string, string> Settings(ServerProcessOptions options, string listen)
    {
        var settings = new Dictionary<string, string>
        {
            ["ConnectionStrings:Globe"] = options.ConnectionString,
            ["Globe:Listen"] = listen,
            ["Globe:Audit:CheckpointKeyFile"] = options.CheckpointKeyFile,
            ["Logging:LogLevel:Default"] = "Warning",
        };
        foreach (var (key, value) in options.Settings)
        {
            settings[key] = value;
        }

        return settings;
    }

    private async Task WaitUntilServingAsync(Process server, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(_options.ReadyTimeout);
        using var channel = CreateChannel();
        var health = new Health.HealthClient(channel);
        while (true)
        {
            if (server.HasExited)
            {
                await server.WaitForExitAsync(CancellationToken.None); // the last lines of output
                throw new InvalidOperationException(
                    $"The server process exited with {server.ExitCode} before it served on {Address}. Its output:\n{Log}");
            }

            try
            {
                var reply = await health.CheckAsync(new HealthCheckRequest(), deadline: DateTime.UtcNow.AddSeconds(2),
                    cancellationToken: deadline.Token);
                if (reply.Status == HealthCheckResponse.Types.ServingStatus.Serving)
                {
                    Mark($"run {_runs.ToString(CultureInfo.InvariantCulture)}: serving (pid {server.Id.ToString(CultureInfo.InvariantCulture)})");
                    return;
                }
            }
            catch (RpcException) when (!deadline.IsCancellationRequested)
            {
                // Not listening yet.
            }
            catch (RpcException) when (!cancellationToken.IsCancellationRequested)
            {
                throw new TimeoutException($"The server on {Address} did not serve within {_options.ReadyTimeout}. Its output:\n{Log}");
            }

            try
            {
                await Task.Delay(50, deadline.Token);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw new TimeoutException($"The server on {Address} did not serve within {_options.ReadyTimeout}. Its output:\n{Log}");
            }
        }
    }

    /// <summary>
    /// A shell that kills the server when its standard input closes: this process holds the only
    /// write end (close-on-exec), so the kernel closes it when the test host ends however it ends.
    /// </summary>
    private void StartWatchdog(int pid)
    {
        var start = new ProcessStartInfo("/bin/sh")
        {
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add("read -r _; kill -KILL \"$1\" 2>/dev/null");
        start.ArgumentList.Add("globe-server-watchdog");
        start.ArgumentList.Add(pid.ToString(CultureInfo.InvariantCulture));
        _watchdog = Process.Start(start);
    }

    private void StopWatchdog()
    {
        if (_watchdog is { } watchdog)
        {
            // Killed rather than told: told, it would signal a pid that is no longer the server's.
            if (!watchdog.HasExited)
            {
                watchdog.Kill();
            }

            watchdog.WaitForExit();
            watchdog.Dispose();
            _watchdog = null;
        }
    }

    private void Mark(string what) =>
        AppendLog($"---- {DateTime.UtcNow.ToString("HH:mm:ss.fff", CultureInfo.InvariantCulture)} {what}");

    private void AppendLog(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_logLock)
        {
            _log.AppendLine(line);
        }
    }

    private static string DotnetHost() =>
        Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host : "dotnet";

    /// <summary>
    /// A free loopback port below the ephemeral range: while a killed server is down, no outgoing
    /// connection of this machine can take its port, so the restart gets it back.
    /// </summary>
    private static int FreePort()
    {
        var low = 32768;
        try
        {
            var range = File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range").Split((char[])['\t', ' ', '\n'], StringSplitOptions.RemoveEmptyEntries);
            low = int.Parse(range[0], CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
        }

        var top = Math.Max(low, 12000);
        for (var attempt = 0; attempt < 200; attempt++)
        {
            var port = Random.Shared.Next(10000, top);
            try
            {
                using var listener = new TcpListener(IPAddress.Loopback, port);
                listener.Start();
                return port;
            }
            catch (SocketException)
            {
                // Taken: another.
            }
        }

        throw new InvalidOperationException("No free loopback port below the ephemeral range was found.");
    }
}
