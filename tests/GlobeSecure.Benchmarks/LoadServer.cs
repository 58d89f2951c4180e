using System.Diagnostics;
using System.Globalization;
using GlobeSecure.Server;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace GlobeSecure.Benchmarks;

/// <summary>One sample of the server process's memory.</summary>
/// <param name="At">Time since the load started.</param>
/// <param name="RssMiB">Resident set size (VmRSS) before anything else is done for the sample.</param>
/// <param name="HeapAfterLastGcMiB">Managed heap size at the end of the server's last collection, as the GC reports it (not forced).</param>
/// <param name="LiveHeapMiB">Managed bytes still reachable after a forced full, blocking collection: the figure a leak moves.</param>
/// <param name="Collections">Gen 0, 1 and 2 collections so far.</param>
/// <param name="Phase">before (the load), warm-up, load, drain, or after (the drain).</param>
internal sealed record MemorySample(TimeSpan At, double RssMiB, double HeapAfterLastGcMiB, double LiveHeapMiB, string Collections, string Phase = "");

/// <summary>
/// The load run's server: the real server (<see cref="GlobeServerHost.Build"/>, as
/// <c>Program.cs</c> builds it, in the Production environment) in a child process of its own, so
/// that the memory measured is the server's alone and not the load clients'. The driver talks to
/// it over its standard streams, one line each way: "LISTENING address" once started; "BOOTSTRAP"
/// → "CODE code" (a one-time bootstrap code, the operator's <c>bootstrap-code</c> command);
/// "SAMPLE" → "MEM rss-KiB heap-after-last-gc-bytes live-heap-bytes gen0 gen1 gen2"; "STOP" or the
/// end of its input stops it. Its logs go to standard error, which the driver keeps in a file.
/// </summary>
internal static class LoadServer
{
    public const string Flag = "--load-server";

    /// <summary>
    /// Configuration the load run gives the server on top of the defaults, as environment
    /// variables (the same keys ops/run.sh and an operator set).
    /// </summary>
    /// <remarks>
    /// Deliberately the defaults otherwise: the soak measures the server as shipped. The per-device
    /// and per-address call limits (Globe:Limits, issue 9) are not raised. At the default 4
    /// operations per second a client makes about 9 calls a second (GetChannel and SendMessage per
    /// message; BeginUpload, UploadChunks and SealDocument per document; now and then a download,
    /// a rotation, a subscription), so 50 clients from 127.0.0.1 make about 430 calls a second:
    /// under the default per-address refill of 500 a second (burst 2,000) and far under the
    /// per-device 200. A RESOURCE_EXHAUSTED during the run is therefore reported as unexpected. A
    /// run that means to go past them (more clients, a higher --rate, or --rate 0) raises them
    /// here and says so in its report, e.g. ["Globe__Limits__PerAddress__Refill"] = "5000",
    /// ["Globe__Limits__PerAddress__Burst"] = "20000" (Globe:Limits:PerDevice:* and
    /// Globe:Limits:MaxStreamsPerDevice likewise).
    /// </remarks>
    public static IReadOnlyDictionary<string, string> Configuration { get; } = new Dictionary<string, string>();

    /// <summary>The child: starts the server and answers the driver until told to stop.</summary>
    public static async Task<int> RunAsync(string[] args)
    {
        var app = GlobeServerHost.Build([.. args, "--contentRoot", AppContext.BaseDirectory], builder =>
        {
            builder.Configuration["Globe:Listen"] = "http://127.0.0.1:0";
            // Standard output is the driver's control channel: every log line goes to standard error.
            builder.Logging.ClearProviders();
            builder.Logging.AddConsole(console => console.LogToStandardErrorThreshold = LogLevel.Trace);
        });
        await using var running = app;
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        var output = Console.Out;
        await output.WriteLineAsync("LISTENING " + address);
        await output.FlushAsync();
        while (await Console.In.ReadLineAsync() is { } command && command != "STOP")
        {
            var answer = command switch
            {
                "BOOTSTRAP" => "CODE " + await app.Services.GetRequiredService<Server.Identity.BootstrapCodes>().IssueAsync(CancellationToken.None),
                "SAMPLE" => Sample(),
                _ => "ERROR unknown command",
            };
            await output.WriteLineAsync(answer);
            await output.FlushAsync();
        }

        await app.StopAsync();
        return 0;
    }

    private static string Sample()
    {
        // Resident size and the GC's own figure first, as the load left them; then a forced full
        // collection for the live bytes (a few milliseconds of pause per sample).
        var rssKiB = ProcessMemory.CurrentMiB() * 1024;
        var afterLastGc = GC.GetGCMemoryInfo().HeapSizeBytes;
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: false);
        var live = GC.GetTotalMemory(forceFullCollection: false);
        return string.Create(CultureInfo.InvariantCulture,
            $"MEM {rssKiB:0} {afterLastGc} {live} {GC.CollectionCount(0)} {GC.CollectionCount(1)} {GC.CollectionCount(2)}");
    }
}

/// <summary>The driver's handle on the server child process.</summary>
internal sealed class LoadServerProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly Task _logCopy;
    private readonly SemaphoreSlim _gate = new(1, 1);

    private LoadServerProcess(Process process, Task logCopy, Uri address)
    {
        _process = process;
        _logCopy = logCopy;
        Address = address;
    }

    public Uri Address { get; }

    public int ProcessId => _process.Id;

    /// <summary>Starts the server on <paramref name="connectionString"/> and waits until it listens; its logs go to <paramref name="logFile"/>.</summary>
    public static async Task<LoadServerProcess> StartAsync(string connectionString, string checkpointKeyFile, string logFile)
    {
        var start = ChildProcess.Of(LoadServer.Flag);
        start.Environment["ConnectionStrings__Globe"] = connectionString;
        start.Environment["Globe__Audit__CheckpointKeyFile"] = checkpointKeyFile;
        start.Environment.Remove("ASPNETCORE_ENVIRONMENT");
        start.Environment.Remove("DOTNET_ENVIRONMENT");
        foreach (var (name, value) in LoadServer.Configuration)
        {
            start.Environment[name] = value;
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException("cannot start the server process");
        var log = new StreamWriter(logFile) { AutoFlush = true };
        var logCopy = Task.Run(async () =>
        {
            await using (log)
            {
                while (await process.StandardError.ReadLineAsync() is { } line)
                {
                    await log.WriteLineAsync(line);
                }
            }
        });
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        while (true)
        {
            var line = await process.StandardOutput.ReadLineAsync(timeout.Token);
            if (line is null)
            {
                await process.WaitForExitAsync(CancellationToken.None);
                await logCopy;
                throw new InvalidOperationException($"the server process exited with {process.ExitCode} before it listened; see {logFile}");
            }

            if (line.StartsWith("LISTENING ", StringComparison.Ordinal))
            {
                return new LoadServerProcess(process, logCopy, new Uri(line["LISTENING ".Length..]));
            }
        }
    }

    /// <summary>A one-time network bootstrap code.</summary>
    public async Task<string> IssueBootstrapCodeAsync() => (await AskAsync("BOOTSTRAP", "CODE "))["CODE ".Length..];

    /// <summary>The server's memory now.</summary>
    public async Task<MemorySample> SampleAsync(TimeSpan at, string phase)
    {
        var f = (await AskAsync("SAMPLE", "MEM ")).Split(' ');
        double Mib(string bytes) => double.Parse(bytes, CultureInfo.InvariantCulture) / (1024.0 * 1024.0);
        return new MemorySample(at, double.Parse(f[1], CultureInfo.InvariantCulture) / 1024.0, Mib(f[2]), Mib(f[3]), $"{f[4]}/{f[5]}/{f[6]}", phase);
    }

    private async Task<string> AskAsync(string command, string answerPrefix)
    {
        await _gate.WaitAsync();
        try
        {
            await _process.StandardInput.WriteLineAsync(command);
            await _process.StandardInput.FlushAsync();
            var line = await _process.StandardOutput.ReadLineAsync() ?? throw new InvalidOperationException("the server process ended");
            return line.StartsWith(answerPrefix, StringComparison.Ordinal)
                ? line
                : throw new InvalidOperationException($"the server process answered '{line}' to {command}");
        }
        finally
        {
            _gate.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                await _process.StandardInput.WriteLineAsync("STOP");
                await _process.StandardInput.FlushAsync();
                using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(30));
                try
                {
                    await _process.WaitForExitAsync(wait.Token);
                }
                catch (OperationCanceledException)
                {
                    _process.Kill(entireProcessTree: true);
                    await _process.WaitForExitAsync(CancellationToken.None);
                }
            }
        }
        catch (IOException)
        {
            // Its input is closed: it is already going.
            await _process.WaitForExitAsync(CancellationToken.None);
        }

        await _logCopy;
        _process.Dispose();
        _gate.Dispose();
    }
}
