// Benchmarks of what the issues set goals for, each next to a raw baseline measured in the same
// run (ops/bench.sh): the cryptography (document cipher, envelopes, Argon2id, known-answer
// self-test) against raw libsodium, event store appends against raw Npgsql INSERTs, and channel
// messaging (send → delivered to a subscriber) against a unary gRPC echo on the same server, and
// document upload and download against raw gRPC streaming of the same bytes, and audit export and
// verification against raw COPY and raw BLAKE2b.
// A report, not a test: it exits 0 whether or not the goals are met. With --load, the load and
// soak run instead (ops/load.sh, LoadDriver), which exits 1 when one of its goals is not met.
using GlobeSecure.Benchmarks;

if (args is [DocumentWorker.Flag, var mode])
{
    // The document benchmark's client side, started by the driver below in a process of its own.
    return await DocumentWorker.RunAsync(mode);
}

if (args is [LoadServer.Flag, .. var serverArgs])
{
    // The load run's server, started by the load driver in a process of its own.
    return await LoadServer.RunAsync(serverArgs);
}

if (args is [LoadSettings.Flag, .. var loadArgs])
{
    // The load and soak run (ops/load.sh): a report with goals, exit 1 when one is not met.
    return await LoadDriver.RunAsync(loadArgs);
}

var settings = BenchSettings.Parse(args, out var error);
if (settings is null)
{
    if (!string.IsNullOrEmpty(error))
    {
        await Console.Error.WriteLineAsync("error: " + error);
    }

    await Console.Error.WriteLineAsync(BenchSettings.Usage);
    return string.IsNullOrEmpty(error) ? 0 : 2;
}

// Crypto first: it needs only the CPU, and runs before the store's load leaves the database
// checkpointing in the background.
if (settings.RunsCrypto)
{
    await CryptoBenchmark.RunAsync(settings);
}

if (settings.RunsStore)
{
    var code = await StoreBenchmark.RunAsync(settings);
    if (code != 0)
    {
        return code;
    }
}

if (settings.RunsChannels)
{
    var code = await ChannelBenchmark.RunAsync(settings);
    if (code != 0)
    {
        return code;
    }
}

if (settings.RunsDocuments)
{
    var code = await DocumentBenchmark.RunAsync(settings);
    if (code != 0)
    {
        return code;
    }
}

if (settings.RunsAudit)
{
    return await AuditBenchmark.RunAsync(settings);
}

return 0;
