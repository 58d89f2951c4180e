using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using GlobeSecure.Benchmarks.Streams;
using GlobeSecure.Client.Keystore;
using GlobeSecure.Contracts.V1;
using GlobeSecure.Crypto;
using Google.Protobuf;
using Grpc.Core;
using GlobeSecure.Testing;
using Grpc.Net.Client;

using static GlobeSecure.Benchmarks.Format;

namespace GlobeSecure.Benchmarks;

/// <summary>One timed phase of a worker: bytes moved, seconds, and both sides' peak resident memory.</summary>
internal sealed record TransferMeasurement(string Phase, long Bytes, double Seconds, double ClientPeakMiB, double ServerPeakMiB, string? Error)
{
    public double MiBPerSecond => Seconds > 0 ? Bytes / Seconds / (1024.0 * 1024.0) : 0;
}

/// <summary>
/// A document of <see cref="BenchSettings.TransferGiB"/> uploaded and downloaded through the
/// client library (encrypted, hashed, stored in PostgreSQL; downloaded, hash-checked, decrypted
/// to a file and checked) next to raw gRPC client-streaming of the same bytes in the same
/// 64 KiB + 16 messages to a handler that discards them, and server-streaming of them from
/// memory, on the same in-process server in the same run. The client side runs in a worker
/// process (<see cref="DocumentWorker"/>) so that each side's peak memory is its own.
/// </summary>
internal static class DocumentBenchmark
{
    public const double UploadGoal = 0.35;
    public const double DownloadGoal = 0.5;
    public const double MemoryGoalMiB = 300;

    public static async Task<int> RunAsync(BenchSettings settings)
    {
        var bytes = settings.TransferGiB * 1024L * 1024 * 1024;
        var loadBefore = SystemReport.LoadAverage();
        Progress($"Documents: {settings.TransferGiB} GiB, {settings.Repeats} interleaved repeats of raw and document transfers (each an upload and a download).");
        var server = await BenchServer.StartAsync(settings);
        if (server is null)
        {
            return 1;
        }

        var work = Directory.CreateTempSubdirectory("globe-bench-documents-");
        var raw = new List<TransferMeasurement>();
        var documents = new List<TransferMeasurement>();
        try
        {
            var file = Path.Combine(work.FullName, "evidence.bin");
            await WriteRandomFileAsync(file, bytes);
            var environment = await WorldAsync(server, work.FullName);
            environment[DocumentWorker.Variables.File] = file;
            for (var rep = 0; rep < settings.Repeats; rep++)
            {
                var storage = await StorageAloneAsync(server, file);
                raw.AddRange(storage);
                foreach (var m in storage)
                {
                    Progress($"[{rep + 1}/{settings.Repeats}] {m.Phase,-12} {m.MiBPerSecond,8:N1} MiB/s in {m.Seconds:0.00} s (PostgreSQL alone, from this process)");
                }

                foreach (var mode in rep % 2 == 0 ? new[] { "raw", "document" } : ["document", "raw"])
                {
                    var phases = await RunWorkerAsync(mode, environment);
                    (mode == "raw" ? raw : documents).AddRange(phases);
                    foreach (var m in phases)
                    {
                        Progress($"[{rep + 1}/{settings.Repeats}] {m.Phase,-12} {m.MiBPerSecond,8:N1} MiB/s in {m.Seconds:0.00} s; peak memory client {m.ClientPeakMiB:N0} MiB, server {m.ServerPeakMiB:N0} MiB{(m.Error is null ? string.Empty : " — FAILED: " + m.Error)}");
                    }
                }
            }
        }
        finally
        {
            await server.DisposeAsync();
            await PostgresServer.StopSharedAsync();
            work.Delete(recursive: true);
        }

        Report(settings, bytes, raw, documents, loadBefore);
        return 0;
    }

    /// <summary>
    /// The network the worker uploads into (not measured): two authorities, an investigator of each
    /// sharing a channel; the uploader's keys in a key file the worker opens. Returns the worker's
    /// environment.
    /// </summary>
    private static async Task<Dictionary<string, string>> WorldAsync(BenchServer server, string directory)
    {
        using var channel = GrpcChannel.ForAddress(server.Address);
        var network = new BenchNetwork(server, channel);
        await network.BootstrapAsync();
        var second = await network.AddNetworkAdministratorAsync();
        var commission = await network.AdmitAuthorityAsync(second, "Anti-Corruption Commission", "KE", AuthorityKind.AntiCorruptionAgency);
        var police = await network.AdmitAuthorityAsync(second, "Police Investigations", "UG", AuthorityKind.Police);
        var uploader = await network.InvestigatorAsync(commission, "Uploader");
        var receiver = await network.InvestigatorAsync(police, "Receiver");
        var shared = await network.SharedChannelAsync(uploader, [uploader], receiver);
        var keystore = Path.Combine(directory, "uploader.key");
        var passphrase = Convert.ToHexString(RandomNumberGenerator.GetBytes(16));
        await DeviceKeystore.CreateAsync(keystore, uploader.Device, passphrase.AsMemory(), new KeystoreOptions
        {
            // A throwaway key: the cheapest cost, so that opening it neither takes seconds nor 384 MiB.
            KdfParameters = Argon2idParameters.InsecureForTests,
            UserId = uploader.UserId,
            AuthorityId = uploader.AuthorityId,
        });
        return new Dictionary<string, string>
        {
            [DocumentWorker.Variables.Address] = server.Address.ToString(),
            [DocumentWorker.Variables.OutputDirectory] = directory,
            [DocumentWorker.Variables.Keystore] = keystore,
            [DocumentWorker.Variables.Passphrase] = passphrase,
            [DocumentWorker.Variables.RootKey] = Convert.ToHexString(network.RootPublicKey.ToArray()),
            [DocumentWorker.Variables.Network] = BenchNetwork.NetworkName,
            [DocumentWorker.Variables.Channel] = shared.ChannelId,
        };
    }

    /// <summary>
    /// What PostgreSQL alone does with the same bytes, as the server stores them: the file in
    /// 64 KiB + 16 rows into a table like document_chunks (storage external), one binary COPY and
    /// commit per batch of the server's size; then read back in the server's pages. No gRPC, no
    /// cryptography, no hashing: the ceiling the database sets on this machine.
    /// </summary>
    private static async Task<List<TransferMeasurement>> StorageAloneAsync(BenchServer server, string file)
    {
        var dataSource = server.Database.DataSource;
        await using (var create = dataSource.CreateCommand("""
            drop table if exists bench_chunks;
            create table bench_chunks (document_id uuid not null, index bigint not null, data bytea not null, primary key (document_id, index));
            alter table bench_chunks alter column data set storage external
            """))
        {
            await create.ExecuteNonQueryAsync();
        }

        var id = Guid.CreateVersion7();
        var buffer = new byte[DocumentWorker.MessageBytes];
        var clock = Stopwatch.StartNew();
        long bytes = 0, index = 0;
        await using (var input = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20))
        {
            var done = false;
            while (!done)
            {
                await using var connection = await dataSource.OpenConnectionAsync();
                await using var copy = await connection.BeginBinaryImportAsync("copy bench_chunks (document_id, index, data) from stdin (format binary)");
                for (var i = 0; i < Server.Documents.ChunkWriter.BatchChunks; i++)
                {
                    var count = await input.ReadAtLeastAsync(buffer, buffer.Length, throwOnEndOfStream: false);
                    if (count == 0)
                    {
                        done = true;
                        break;
                    }

                    await copy.StartRowAsync();
                    await copy.WriteAsync(id, NpgsqlTypes.NpgsqlDbType.Uuid);
                    await copy.WriteAsync(index++, NpgsqlTypes.NpgsqlDbType.Bigint);
                    await copy.WriteAsync(buffer.AsMemory(0, count), NpgsqlTypes.NpgsqlDbType.Bytea);
                    bytes += count;
                }

                await copy.CompleteAsync();
            }
        }

        var stored = new TransferMeasurement("store-alone", bytes, clock.Elapsed.TotalSeconds, 0, 0, null);
        clock.Restart();
        long read = 0;
        for (long next = 0; next < index; next += 16)
        {
            await using var page = dataSource.CreateCommand("select data from bench_chunks where document_id = $1 and index >= $2 order by index limit 16");
            page.Parameters.Add(new Npgsql.NpgsqlParameter { Value = id });
            page.Parameters.Add(new Npgsql.NpgsqlParameter { Value = next });
            await using var reader = await page.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                read += reader.GetFieldValue<byte[]>(0).Length;
            }
        }

        var fetched = new TransferMeasurement("fetch-alone", read, clock.Elapsed.TotalSeconds, 0, 0, read == bytes ? null : $"read {read} of {bytes} bytes");
        await using (var drop = dataSource.CreateCommand("drop table bench_chunks"))
        {
            await drop.ExecuteNonQueryAsync();
        }

        return [stored, fetched];
    }

    /// <summary>Runs one worker to its end; before each of its phases resets this process's peak, after it reads it.</summary>
    private static async Task<List<TransferMeasurement>> RunWorkerAsync(string mode, Dictionary<string, string> environment)
    {
        var start = ChildProcess.Of(DocumentWorker.Flag, mode);
        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException("cannot start the benchmark worker");
        var errors = process.StandardError.ReadToEndAsync();
        var results = new List<TransferMeasurement>();
        while (await process.StandardOutput.ReadLineAsync() is { } line)
        {
            if (line.StartsWith("READY ", StringComparison.Ordinal))
            {
                GC.Collect();
                ProcessMemory.ResetPeak();
                await process.StandardInput.WriteLineAsync("GO");
                await process.StandardInput.FlushAsync();
            }
            else if (line.StartsWith("DONE ", StringComparison.Ordinal))
            {
                var serverPeak = ProcessMemory.PeakMiB();
                var parts = line.Split(' ', 6);
                results.Add(new TransferMeasurement(parts[1], long.Parse(parts[2], CultureInfo.InvariantCulture), double.Parse(parts[3], CultureInfo.InvariantCulture),
                    double.Parse(parts[4], CultureInfo.InvariantCulture), serverPeak, parts.Length > 5 ? parts[5] : null));
            }
        }

        await process.WaitForExitAsync();
        var stderr = await errors;
        if (process.ExitCode != 0 && results.All(r => r.Error is null))
        {
            results.Add(new TransferMeasurement(mode, 0, 0, 0, 0, $"the worker exited with {process.ExitCode}: {stderr.Trim()}"));
        }

        return results;
    }

    private static async Task WriteRandomFileAsync(string path, long bytes)
    {
        Progress($"Documents: writing {bytes:N0} random bytes to a temporary file…");
        var buffer = new byte[1024 * 1024];
        await using var output = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1);
        for (long written = 0; written < bytes; written += buffer.Length)
        {
            RandomNumberGenerator.Fill(buffer);
            await output.WriteAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, bytes - written)));
        }
    }

    private static void Report(BenchSettings settings, long bytes, List<TransferMeasurement> raw, List<TransferMeasurement> documents, string loadBefore)
    {
        var o = Console.Out;
        var valid = raw.Concat(documents).All(m => m.Error is null);
        var rawUp = Median(raw, "raw-upload");
        var rawDown = Median(raw, "raw-download");
        var up = Median(documents, "upload");
        var down = Median(documents, "download");
        var clientPeak = documents.Select(m => m.ClientPeakMiB).DefaultIfEmpty(0).Max();
        var serverPeak = documents.Select(m => m.ServerPeakMiB).DefaultIfEmpty(0).Max();
        var upMet = valid && rawUp > 0 && up / rawUp >= UploadGoal;
        var downMet = valid && rawDown > 0 && down / rawDown >= DownloadGoal;
        var memoryMet = valid && clientPeak > 0 && clientPeak < MemoryGoalMiB && serverPeak < MemoryGoalMiB;
        o.WriteLine();
        o.WriteLine("# Documents: upload and download vs raw gRPC streaming");
        o.WriteLine();
        o.WriteLine(Invariant($"A {bytes:N0}-byte ({settings.TransferGiB} GiB) file of random bytes; {settings.Repeats} interleaved repeats, median shown. Server: the real GlobeSecure server in-process (Kestrel h2c on loopback, its own database on the benchmark's PostgreSQL, durable commits). Client: a worker process of its own per run (this executable, --document-worker), so each side's peak resident memory (VmHWM, reset before each phase) is its own."));
        o.WriteLine("Document upload: GlobeClient.UploadDocumentAsync from the file: document cipher (XChaCha20-Poly1305 chunks of 64 KiB, BLAKE2b-256 of the plaintext) in the client, one 64 KiB + 16 cipher chunk per UploadChunks message; the server hashes the ciphertext and writes the chunks to PostgreSQL; timed until SealDocument answers. Document download: GlobeClient.DownloadDocumentAsync to a file: chunks streamed from PostgreSQL, ciphertext hash checked, decrypted into a temporary file, plaintext hash checked, renamed; timed until it returns.");
        o.WriteLine("PostgreSQL alone: the driver itself writes the file's bytes in rows of the same size into a scratch table shaped like document_chunks, one binary COPY and commit per batch of the server's size, then reads them back in pages: the database's own ceiling on this machine, with no gRPC, cryptography or hashing.");
        o.WriteLine(Invariant($"Raw upload: RawStreamService.Upload (benchmark-only, same server and interceptors, no session) client-streaming the file's bytes in {DocumentWorker.MessageBytes:N0}-byte messages to a handler that discards them. Raw download: RawStreamService.Download server-streaming as many bytes in messages of that size from one buffer in memory to a client that counts and discards them."));
        o.WriteLine();
        o.WriteLine("| workload | throughput | ÷ raw | goal | met | peak client memory | peak server memory |");
        o.WriteLine("|----------|-----------:|------:|------|-----|-------------------:|-------------------:|");
        o.WriteLine(Invariant($"| document upload | {up:N1} MiB/s | {Ratio(up, rawUp)} | ≥ {UploadGoal:0.00}× raw | {Met(upMet)} | {Peak(documents, "upload", m => m.ClientPeakMiB)} | {Peak(documents, "upload", m => m.ServerPeakMiB)} |"));
        o.WriteLine(Invariant($"| raw client-streaming | {rawUp:N1} MiB/s | 1.00× | baseline | | {Peak(raw, "raw-upload", m => m.ClientPeakMiB)} | {Peak(raw, "raw-upload", m => m.ServerPeakMiB)} |"));
        o.WriteLine(Invariant($"| document download | {down:N1} MiB/s | {Ratio(down, rawDown)} | ≥ {DownloadGoal:0.00}× raw | {Met(downMet)} | {Peak(documents, "download", m => m.ClientPeakMiB)} | {Peak(documents, "download", m => m.ServerPeakMiB)} |"));
        o.WriteLine(Invariant($"| raw server-streaming | {rawDown:N1} MiB/s | 1.00× | baseline | | {Peak(raw, "raw-download", m => m.ClientPeakMiB)} | {Peak(raw, "raw-download", m => m.ServerPeakMiB)} |"));
        var storeAlone = Median(raw, "store-alone");
        var fetchAlone = Median(raw, "fetch-alone");
        o.WriteLine(Invariant($"| PostgreSQL alone: COPY of the same rows, {Server.Documents.ChunkWriter.BatchChunks} per commit | {storeAlone:N1} MiB/s | {Ratio(storeAlone, rawUp)} of raw upload | ceiling | | | |"));
        o.WriteLine(Invariant($"| PostgreSQL alone: reading them back in pages of 16 | {fetchAlone:N1} MiB/s | {Ratio(fetchAlone, rawDown)} of raw download | ceiling | | | |"));
        o.WriteLine();
        o.WriteLine("Per run (in run order):");
        o.WriteLine();
        o.WriteLine("| phase | MiB/s | seconds | peak client MiB | peak server MiB | error |");
        o.WriteLine("|-------|------:|--------:|----------------:|----------------:|-------|");
        foreach (var m in raw.Concat(documents).OrderBy(m => m.Phase, StringComparer.Ordinal))
        {
            o.WriteLine(Invariant($"| {m.Phase} | {m.MiBPerSecond:N1} | {m.Seconds:0.00} | {m.ClientPeakMiB:N0} | {m.ServerPeakMiB:N0} | {m.Error} |"));
        }

        o.WriteLine();
        o.WriteLine("Goals:");
        o.WriteLine(Invariant($"- upload ≥ {UploadGoal:0.00}× raw client-streaming: {Ratio(up, rawUp)} ({up:N1} vs {rawUp:N1} MiB/s){Invalid(valid)} — {Goal(upMet)}"));
        o.WriteLine(Invariant($"- download ≥ {DownloadGoal:0.00}× raw server-streaming: {Ratio(down, rawDown)} ({down:N1} vs {rawDown:N1} MiB/s){Invalid(valid)} — {Goal(downMet)}"));
        o.WriteLine(Invariant($"- peak memory < {MemoryGoalMiB:0} MiB on each side for a {settings.TransferGiB} GiB document: client {clientPeak:N0} MiB, server {serverPeak:N0} MiB (resident, whole process){Invalid(valid)} — {Goal(memoryMet)}"));
        o.WriteLine();
        o.WriteLine("Machine:");
        foreach (var (name, value) in SystemReport.Machine())
        {
            o.WriteLine($"- {name}: {value}");
        }

        o.WriteLine($"- load average before the run: {loadBefore}; after: {SystemReport.LoadAverage()}");
        o.WriteLine($"- database server: {settings.RedactedConnectionString} (the server's own database is created on it and dropped afterwards)");
    }

    private static double Median(List<TransferMeasurement> runs, string phase)
    {
        var sorted = runs.Where(m => m.Phase == phase && m.Error is null).Select(m => m.MiBPerSecond).Order().ToArray();
        if (sorted.Length == 0)
        {
            return 0;
        }

        var mid = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }

    private static string Peak(List<TransferMeasurement> runs, string phase, Func<TransferMeasurement, double> value) =>
        Invariant($"{runs.Where(m => m.Phase == phase).Select(value).DefaultIfEmpty(0).Max():N0} MiB");

    private static string Goal(bool met) => met ? "GOAL MET" : "GOAL MISSED";

    private static string Invalid(bool valid) => valid ? string.Empty : " [INVALID: a transfer failed]";

}

/// <summary>The raw baselines: a client stream whose messages are discarded, and a server stream from one buffer in memory.</summary>
internal sealed class RawStreamServer : RawStreamService.RawStreamServiceBase
{
    private const int MaxChunkBytes = 4 * 1024 * 1024;
    private static readonly byte[] Buffer = RandomNumberGenerator.GetBytes(MaxChunkBytes);

    public override async Task<RawSummary> Upload(IAsyncStreamReader<RawChunk> requestStream, ServerCallContext context)
    {
        long chunks = 0, bytes = 0;
        while (await requestStream.MoveNext(context.CancellationToken))
        {
            chunks++;
            bytes += requestStream.Current.Data.Length;
        }

        return new RawSummary { Chunks = chunks, Bytes = bytes };
    }

    public override async Task Download(RawDownloadRequest request, IServerStreamWriter<RawChunk> responseStream, ServerCallContext context)
    {
        if (request.ChunkBytes is < 1 or > MaxChunkBytes || request.LastChunkBytes is < 0 or > MaxChunkBytes || request.Chunks < 1)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, $"chunk sizes are 1 to {MaxChunkBytes} bytes and chunks at least 1"));
        }

        for (long i = 0; i < request.Chunks; i++)
        {
            var size = i == request.Chunks - 1 ? request.LastChunkBytes : request.ChunkBytes;
            await responseStream.WriteAsync(new RawChunk { Index = i, Data = UnsafeByteOperations.UnsafeWrap(Buffer.AsMemory(0, size)) }, context.CancellationToken);
        }
    }
}
