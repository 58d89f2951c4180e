using Google.Protobuf;
using GlobeSecure.Contracts.V1;
using GlobeSecure.Crypto;
using GlobeSecure.Testing;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using CertificateChain = GlobeSecure.Contracts.V1.CertificateChain;
using CryptoCertificate = GlobeSecure.Crypto.DeviceCertificate;

namespace GlobeSecure.Client.Tests.Story;

/// <summary>How the compromised server tampers with what DirectoryService.FindDevices serves.</summary>
public enum Forgery
{
    /// <summary>Serves what it stores.</summary>
    None,

    /// <summary>Swaps each device's keys for the server's own, keeping the certificates' signatures.</summary>
    SwapKeys,

    /// <summary>Adds a device whose chain the server made up itself, ending in a root key of its own.</summary>
    OwnChain,

    /// <summary>Adds a device certified by a real administrator's device id and key, but signed by the server.</summary>
    ImpersonatedIssuer,

    /// <summary>Flips a bit of every receipt signature that ChannelService.ListReceipts serves.</summary>
    TamperReceipts,
}

/// <summary>
/// The real server with a switch that makes it behave like a compromised one: an interceptor
/// (the innermost, next to the service) rewrites FindDevices answers. The network is bootstrapped
/// once per fixture through <see cref="GlobeClient"/>. It can also break a document upload once
/// (<see cref="ForgerySwitch.AbortUploadAfter"/>), as a dropped connection would.
/// </summary>
public class StoryServerFixture : GlobeServerFixture
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private TestNetwork? _network;

    /// <summary>A story server over a fresh database on the run's shared PostgreSQL.</summary>
    public StoryServerFixture()
    {
    }

    /// <summary>A story server over <paramref name="database"/> (a private cluster the test stops and starts).</summary>
    protected StoryServerFixture(PostgresDatabase database)
        : base(database)
    {
    }

    internal ForgerySwitch Forge { get; } = new();

    internal async Task<TestNetwork> NetworkAsync()
    {
        await _gate.WaitAsync(TestContext.Current.CancellationToken);
        try
        {
            return _network ??= await TestNetwork.BootstrapAsync(this);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Small, so that a channel test reaches it and the client's automatic rotation runs.</summary>
    public const int RotateAfterMessages = 4;

    protected override void Configure(WebApplicationBuilder builder)
    {
        builder.Configuration["Globe:Channels:RotateAfterMessages"] = RotateAfterMessages.ToString(System.Globalization.CultureInfo.InvariantCulture);
        builder.Services.AddSingleton(Forge);
        builder.Services.AddGrpc(options => options.Interceptors.Add<ForgingInterceptor>());
        ConfigureDocuments(builder);
    }

    /// <summary>Document limits of this fixture's server (the defaults here).</summary>
    protected virtual void ConfigureDocuments(WebApplicationBuilder builder)
    {
    }

    public override async ValueTask DisposeAsync()
    {
        if (_network is not null)
        {
            await _network.DisposeAsync();
        }

        _gate.Dispose();
        await base.DisposeAsync();
    }
}

internal sealed class ForgerySwitch
{
    private Func<Task>? _beforeNextSend;

    public Forgery Mode { get; set; }

    /// <summary>Runs once, inside the next SendMessage call, before the server handles it (to change the channel under the sender).</summary>
    public void BeforeNextSend(Func<Task> action) => _beforeNextSend = action;

    public Func<Task>? TakeBeforeNextSend() => Interlocked.Exchange(ref _beforeNextSend, null);

    private int _abortUploadAfter;

    /// <summary>The next UploadChunks call is aborted (its HTTP/2 stream reset) once it has read this many chunks.</summary>
    public void AbortUploadAfter(int chunks) => _abortUploadAfter = chunks;

    public int TakeAbortUploadAfter() => Interlocked.Exchange(ref _abortUploadAfter, 0);

    private (int Chunks, Func<Task> Action)? _duringUpload;

    /// <summary>Runs once, inside the next UploadChunks call, after it has read <paramref name="chunks"/> chunks and before it reads the next.</summary>
    public void DuringNextUpload(int chunks, Func<Task> action) => _duringUpload = (chunks, action);

    public (int Chunks, Func<Task> Action)? TakeDuringUpload()
    {
        var taken = _duringUpload;
        _duringUpload = null;
        return taken;
    }

    private string? _loseNextAnswer;

    /// <summary>The next call of <paramref name="method"/> (e.g. <c>ChannelService/SendMessage</c>) runs, and then answers UNAVAILABLE, as if the answer was lost.</summary>
    public void LoseNextAnswer(string method) => _loseNextAnswer = method;

    public bool TakeLoseAnswer(string method) =>
        _loseNextAnswer is { } lose && method.EndsWith("." + lose, StringComparison.Ordinal) && Interlocked.CompareExchange(ref _loseNextAnswer, null, lose) == lose;

    private int _abortDownloadAfter;

    /// <summary>The next DownloadDocument call is aborted (its HTTP/2 stream reset) once it has written this many chunks.</summary>
    public void AbortDownloadAfter(int chunks) => _abortDownloadAfter = chunks;

    public int TakeAbortDownloadAfter() => Interlocked.Exchange(ref _abortDownloadAfter, 0);

    /// <summary>Every DownloadDocument call's document and from_chunk, in arrival order.</summary>
    public System.Collections.Concurrent.ConcurrentQueue<(Guid DocumentId, long FromChunk)> DownloadCalls { get; } = new();

    /// <summary>Every UploadChunks call's document and first chunk index, in arrival order.</summary>
    public System.Collections.Concurrent.ConcurrentQueue<(Guid DocumentId, long FirstIndex)> UploadCalls { get; } = new();
}

/// <summary>Reads an UploadChunks stream for the service, recording where it starts and aborting it when told to.</summary>
internal sealed class WatchedUploadReader(IAsyncStreamReader<UploadChunkRequest> inner, ServerCallContext context, ForgerySwitch forge)
    : IAsyncStreamReader<UploadChunkRequest>
{
    private readonly int _abortAfter = forge.TakeAbortUploadAfter();
    private (int Chunks, Func<Task> Action)? _during = forge.TakeDuringUpload();
    private int _read;

    public UploadChunkRequest Current => inner.Current;

    public async Task<bool> MoveNext(CancellationToken cancellationToken)
    {
        if (_during is { } during && _read == during.Chunks)
        {
            _during = null;
            await during.Action();
        }

        if (_abortAfter > 0 && _read == _abortAfter)
        {
            // A real broken call: the stream is reset on the wire; the service sees its body fail.
            context.GetHttpContext().Abort();
            throw new IOException("The test dropped the upload's connection.");
        }

        if (!await inner.MoveNext(cancellationToken))
        {
            return false;
        }

        if (_read++ == 0 && Guid.TryParse(inner.Current.DocumentId, out var id))
        {
            forge.UploadCalls.Enqueue((id, inner.Current.Index));
        }

        return true;
    }
}

/// <summary>Writes a DownloadDocument stream for the service, aborting it after a number of chunks when told to.</summary>
internal sealed class WatchedDownloadWriter(IServerStreamWriter<DocumentChunk> inner, ServerCallContext context, int abortAfter)
    : IServerStreamWriter<DocumentChunk>
{
    private int _written;

    public WriteOptions? WriteOptions
    {
        get => inner.WriteOptions;
        set => inner.WriteOptions = value;
    }

    public Task WriteAsync(DocumentChunk message) => WriteAsync(message, CancellationToken.None);

    public async Task WriteAsync(DocumentChunk message, CancellationToken cancellationToken)
    {
        if (abortAfter > 0 && _written == abortAfter)
        {
            context.GetHttpContext().Abort();
            throw new IOException("The test dropped the download's connection.");
        }

        await inner.WriteAsync(message, cancellationToken);
        _written++;
    }
}

internal sealed class ForgingInterceptor(ForgerySwitch forge) : Interceptor
{
    public override Task ServerStreamingServerHandler<TRequest, TResponse>(TRequest request, IServerStreamWriter<TResponse> responseStream,
        ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        if (request is not DownloadDocumentRequest download || responseStream is not IServerStreamWriter<DocumentChunk> chunks)
        {
            return continuation(request, responseStream, context);
        }

        if (Guid.TryParse(download.DocumentId, out var id))
        {
            forge.DownloadCalls.Enqueue((id, download.FromChunk));
        }

        return continuation(request, (IServerStreamWriter<TResponse>)(object)new WatchedDownloadWriter(chunks, context, forge.TakeAbortDownloadAfter()),
            context);
    }

    public override Task<TResponse> ClientStreamingServerHandler<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream,
        ServerCallContext context, ClientStreamingServerMethod<TRequest, TResponse> continuation) =>
        requestStream is IAsyncStreamReader<UploadChunkRequest> upload
            ? continuation((IAsyncStreamReader<TRequest>)(object)new WatchedUploadReader(upload, context, forge), context)
            : continuation(requestStream, context);

    public override async Task<TResponse> UnaryServerHandler<TRequest, TResponse>(TRequest request, ServerCallContext context,
        UnaryServerMethod<TRequest, TResponse> continuation)
    {
        if (request is SendMessageRequest && forge.TakeBeforeNextSend() is { } before)
        {
            await before();
        }

        var response = await continuation(request, context);
        if (forge.TakeLoseAnswer(context.Method))
        {
            throw new RpcException(new Grpc.Core.Status(StatusCode.Unavailable, "The test lost the answer."));
        }

        if (response is FindDevicesResponse found && request is FindDevicesRequest find && forge.Mode is not (Forgery.None or Forgery.TamperReceipts))
        {
            Tamper(found, find, forge.Mode);
        }

        if (response is ListReceiptsResponse receipts && forge.Mode == Forgery.TamperReceipts)
        {
            foreach (var receipt in receipts.Receipts)
            {
                var signature = receipt.Signature.ToByteArray();
                signature[0] ^= 1;
                receipt.Signature = ByteString.CopyFrom(signature);
            }
        }

        return response;
    }

    private static void Tamper(FindDevicesResponse response, FindDevicesRequest request, Forgery mode)
    {
        using var attacker = DeviceKeys.Generate(Guid.CreateVersion7());
        var now = DateTimeOffset.UtcNow;
        switch (mode)
        {
            case Forgery.SwapKeys:
                foreach (var chain in response.Devices)
                {
                    chain.Certificates[0].SigningKey = ByteString.CopyFrom(attacker.Public.SigningKey.Span);
                    chain.Certificates[0].BoxKey = ByteString.CopyFrom(attacker.Public.BoxKey.Span);
                }

                break;
            case Forgery.OwnChain:
            {
                using var fakeRoot = SigningKeyPair.Generate();
                using var fakeAdmin = DeviceKeys.Generate(Guid.CreateVersion7());
                var authorityId = Guid.TryParse(request.AuthorityId, out var a) ? a : Guid.CreateVersion7();
                var admin = CryptoCertificate.Issue(Guid.CreateVersion7(), fakeAdmin.Public, Guid.CreateVersion7(), Guid.CreateVersion7(),
                    DeviceRole.NetworkAdministrator, now.AddDays(-1), now.AddDays(30), fakeRoot, null);
                var leaf = CryptoCertificate.Issue(Guid.CreateVersion7(), attacker.Public, Guid.CreateVersion7(), authorityId,
                    DeviceRole.AuthorityAdministrator, now.AddDays(-1), now.AddDays(30), fakeAdmin.Signing, fakeAdmin.DeviceId);
                response.Devices.Add(new CertificateChain { Certificates = { leaf.ToProto(), admin.ToProto() } });
                break;
            }

            case Forgery.ImpersonatedIssuer:
            {
                var genuine = response.Devices.First();
                var issuer = genuine.Certificates[0];
                var leaf = new CryptoCertificate(Guid.CreateVersion7(), attacker.DeviceId, Guid.CreateVersion7(), Guid.Parse(issuer.AuthorityId),
                    DeviceRole.Investigator, new SigningPublicKey(attacker.Public.SigningKey.Span), new BoxPublicKey(attacker.Public.BoxKey.Span),
                    now.AddDays(-1), now.AddDays(30), Guid.Parse(issuer.DeviceId), new SigningPublicKey(issuer.SigningKey.Span), []);
                leaf = leaf with { Signature = attacker.Sign(leaf.SigningInput()) };
                response.Devices.Add(new CertificateChain { Certificates = { leaf.ToProto(), genuine.Certificates } });
                break;
            }
        }
    }
}
