using System.Diagnostics;
using System.Globalization;
using GlobeSecure.Benchmarks.Streams;
using GlobeSecure.Client;
using GlobeSecure.Client.Keystore;
using GlobeSecure.Crypto;
using Google.Protobuf;
using Grpc.Net.Client;

namespace GlobeSecure.Benchmarks;

/// <summary>
/// The client side of the document benchmark, in a process of its own so that its memory is
/// measured apart from the server's: <c>GlobeSecure.Benchmarks --document-worker raw|document</c>,
/// configured through <see cref="Variables"/>. It talks to the driver over its standard streams,
/// one line each way per phase: "READY phase" → "GO" (the driver has reset its own peak) →
/// "DONE phase bytes seconds peak-MiB [error]".
/// </summary>
internal static class DocumentWorker
{
    public const string Flag = "--document-worker";

    /// <summary>Environment variables the driver sets for the worker.</summary>
    public static class Variables
    {
        public const string Address = "GLOBE_BENCH_WORKER_ADDRESS";
        public const string File = "GLOBE_BENCH_WORKER_FILE";
        public const string OutputDirectory = "GLOBE_BENCH_WORKER_OUT";
        public const string Keystore = "GLOBE_BENCH_WORKER_KEYSTORE";
        public const string Passphrase = "GLOBE_BENCH_WORKER_PASSPHRASE";
        public const string RootKey = "GLOBE_BENCH_WORKER_ROOT_KEY";
        public const string Network = "GLOBE_BENCH_WORKER_NETWORK";
        public const string Channel = "GLOBE_BENCH_WORKER_CHANNEL";
    }

    /// <summary>Bytes per gRPC message: one cipher chunk of the default chunk size.</summary>
    public const int MessageBytes = DocumentCipher.DefaultChunkSize + 16;

    public static async Task<int> RunAsync(string mode)
    {
        var address = new Uri(Required(Variables.Address));
        var file = Required(Variables.File);
        try
        {
            switch (mode)
            {
                case "raw":
                    await RawAsync(address, file);
                    return 0;
                case "document":
                    await DocumentAsync(address, file);
                    return 0;
                default:
                    await Console.Error.WriteLineAsync($"error: unknown worker mode '{mode}' (raw or document)");
                    return 2;
            }
        }
        catch (Exception ex)
        {
            await Console.Error.WriteLineAsync($"worker failed: {ex.GetType().Name}: {ex.Message}");
            return 1;
        }
    }

    private static async Task RawAsync(Uri address, string file)
    {
        using var channel = GrpcChannel.ForAddress(address, new GrpcChannelOptions { MaxReceiveMessageSize = 4 * 1024 * 1024 });
        var raw = new RawStreamService.RawStreamServiceClient(channel);
        var length = new FileInfo(file).Length;
        await PhaseAsync("raw-upload", async () =>
        {
            using var call = raw.Upload();
            var buffer = new byte[MessageBytes];
            await using var input = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan);
            long index = 0, sent = 0;
            var id = Guid.CreateVersion7().ToString();
            while (true)
            {
                var count = await input.ReadAtLeastAsync(buffer, buffer.Length, throwOnEndOfStream: false);
                if (count == 0)
                {
                    break;
                }

                // The message is serialised before WriteAsync returns, so the buffer can be reused.
                await call.RequestStream.WriteAsync(new RawChunk { DocumentId = id, Index = index++, Data = UnsafeByteOperations.UnsafeWrap(buffer.AsMemory(0, count)) });
                sent += count;
            }

            await call.RequestStream.CompleteAsync();
            var summary = await call;
            return summary.Bytes == sent ? sent : throw new InvalidOperationException($"the server counted {summary.Bytes} bytes of {sent}");
        });

        await PhaseAsync("raw-download", async () =>
        {
            var chunks = Math.Max(1, (length + MessageBytes - 1) / MessageBytes);
            var last = (int)(length - ((chunks - 1) * MessageBytes));
            using var call = raw.Download(new RawDownloadRequest { Chunks = chunks, ChunkBytes = MessageBytes, LastChunkBytes = last });
            long received = 0;
            while (await call.ResponseStream.MoveNext(CancellationToken.None))
            {
                received += call.ResponseStream.Current.Data.Length;
            }

            return received == length ? received : throw new InvalidOperationException($"received {received} bytes of {length}");
        });
    }

    private static async Task DocumentAsync(Uri address, string file)
    {
        var passphrase = Required(Variables.Passphrase).ToCharArray();
        using var device = await DeviceKeystore.OpenAsync(Required(Variables.Keystore), passphrase);
        await using var client = new GlobeClient(new GlobeClientOptions
        {
            Address = address,
            Device = device,
            PinnedRootKeys = [new SigningPublicKey(Convert.FromHexString(Required(Variables.RootKey)))],
            NetworkName = Required(Variables.Network),
        });
        await client.AuthenticateAsync();
        var channelId = Guid.Parse(Required(Variables.Channel));
        var output = Path.Combine(Required(Variables.OutputDirectory), "downloaded.bin");
        DocumentAttachment? uploaded = null;
        await PhaseAsync("upload", async () =>
        {
            uploaded = await client.UploadDocumentAsync(channelId, file, "application/octet-stream");
            return uploaded.PlaintextLength;
        });

        await PhaseAsync("download", async () =>
        {
            var document = uploaded ?? throw new InvalidOperationException("nothing was uploaded");
            var downloaded = await client.DownloadDocumentAsync(document, output);
            File.Delete(output);
            return downloaded.Length == document.PlaintextLength
                ? downloaded.Length
                : throw new InvalidOperationException($"downloaded {downloaded.Length} bytes of {document.PlaintextLength}");
        });
    }

    /// <summary>Waits for the driver's go, runs one timed phase, reports bytes, seconds and this process's peak memory.</summary>
    private static async Task PhaseAsync(string phase, Func<Task<long>> run)
    {
        Console.WriteLine($"READY {phase}");
        if (await Console.In.ReadLineAsync() != "GO")
        {
            throw new InvalidOperationException("the driver did not answer GO");
        }

        ProcessMemory.ResetPeak();
        var clock = Stopwatch.StartNew();
        string? error = null;
        long bytes = 0;
        try
        {
            bytes = await run();
        }
        catch (Exception ex)
        {
            // Ids only ever reach these messages (the client library's errors carry no content or keys).
            error = $"{ex.GetType().Name}: {ex.Message}".ReplaceLineEndings(" ");
        }

        var seconds = clock.Elapsed.TotalSeconds;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"DONE {phase} {bytes} {seconds:R} {ProcessMemory.PeakMiB():0.0} {error}").TrimEnd());
        if (error is not null)
        {
            throw new InvalidOperationException($"{phase} failed");
        }
    }

    private static string Required(string variable) =>
        Environment.GetEnvironmentVariable(variable) is { Length: > 0 } value
            ? value
            : throw new InvalidOperationException($"{variable} is not set (the worker is started by the document benchmark).");
}
