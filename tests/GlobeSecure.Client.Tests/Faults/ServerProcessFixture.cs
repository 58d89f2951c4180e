using System.Threading.Channels;
using GlobeSecure.Client.Tests.Story;
using GlobeSecure.Contracts.V1;
using GlobeSecure.EventStore;
using GlobeSecure.Testing;

namespace GlobeSecure.Client.Tests.Faults;

/// <summary>
/// The real server as a separate process (<see cref="ServerProcess"/>) on a database of its own,
/// a second process on the same database on demand (a replica), and the case story's people
/// (Kenya's Otieno and Wanjiru investigate), set up once through the first process.
/// </summary>
public sealed class ServerProcessFixture : IAsyncLifetime
{
    private readonly PostgresDatabase _database = new();
    private readonly string _keyDirectory = Directory.CreateTempSubdirectory("globe-faults-").FullName;
    private readonly List<GlobeClient> _clients = [];
    private ServerProcess? _server;
    private ServerProcess? _replica;
    private CaseCast? _cast;

    /// <summary>The first server process (the cast was set up through it).</summary>
    public ServerProcess Server => _server ?? throw new InvalidOperationException("Not started.");

    internal CaseCast Cast => _cast ?? throw new InvalidOperationException("Not started.");

    private ServerProcessOptions Options => new()
    {
        ConnectionString = _database.ConnectionString,
        CheckpointKeyFile = Path.Combine(_keyDirectory, "audit-checkpoint.key"),
    };

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>A second server process on the same database and checkpoint key: a replica.</summary>
    public ServerProcess Replica => _replica ?? throw new InvalidOperationException("Not started.");

    /// <summary>Starts the first server (and, when asked, the replica) again if a test left it killed.</summary>
    public async Task RunningAsync(bool replicaToo = false)
    {
        await Task.WhenAll(new[] { Server, replicaToo ? Replica : Server }.Distinct().Where(s => !s.IsRunning).Select(s => s.RestartAsync(Ct)));
    }

    /// <summary>
    /// A client of its own for a participant's device, on <paramref name="addresses"/>, patient
    /// enough to outlast a server restart (about two seconds here): more call retries and quicker
    /// transfer resumes than the defaults. Disposed with the fixture.
    /// </summary>
    internal GlobeClient ClientFor(Participant participant, IReadOnlyList<Uri> addresses, HttpMessageHandler? handler = null)
    {
        var client = new GlobeClient(new GlobeClientOptions
        {
            Address = addresses[0],
            OtherAddresses = [.. addresses.Skip(1)],
            HttpHandler = handler,
            Device = participant.Keys,
            PinnedRootKeys = [Cast.Network.RootKey.PublicKey],
            NetworkName = Cast.Network.Created.Network.Name,
            CallRetries = 20,
            TransferRetries = 30,
            TransferRetryDelay = TimeSpan.FromMilliseconds(100),
        });
        lock (_clients)
        {
            _clients.Add(client);
        }

        return client;
    }

    /// <summary>Both hash chains of the database, walked from the first entry.</summary>
    public async Task<(ChainVerification Events, ChainVerification Audit)> VerifyChainsAsync()
    {
        var store = await _database.CreateStoreAsync(new EventTypeRegistry());
        return (await store.VerifyEventsAsync(Ct), await store.VerifyAuditAsync(Ct));
    }

    /// <summary>A number from the database (SQL of the test's own, on the server's schema <c>globe</c>).</summary>
    public async Task<long> CountAsync(string sql, Guid id)
    {
        await using var command = _database.DataSource.CreateCommand(sql);
        command.Parameters.AddWithValue(id);
        return Convert.ToInt64(await command.ExecuteScalarAsync(Ct), System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>Runs a test body; when it fails, every server process's output goes to the test's output.</summary>
    public async Task WithServerLogsAsync(Func<Task> body)
    {
        try
        {
            await body();
        }
        catch
        {
            var output = TestContext.Current.TestOutputHelper;
            output?.WriteLine($"==== server process (port {Server.Port}) ====\n{Server.Log}");
            if (_replica is not null)
            {
                output?.WriteLine($"==== replica process (port {_replica.Port}) ====\n{_replica.Log}");
            }

            throw;
        }
    }

    /// <inheritdoc />
    public async ValueTask InitializeAsync()
    {
        await _database.InitializeAsync();
        // Both processes start together (their migrations take turns).
        var server = ServerProcess.StartAsync(Options, Ct);
        var replica = ServerProcess.StartAsync(Options, Ct);
        try
        {
            await Task.WhenAll(server, replica);
        }
        finally
        {
            // Whatever started is disposed with the fixture, even when another start failed.
            _server = server.IsCompletedSuccessfully ? server.Result : null;
            _replica = replica.IsCompletedSuccessfully ? replica.Result : null;
        }

        var network = await TestNetwork.BootstrapAsync(Server.Address, Server.IssueBootstrapCodeAsync);
        _cast = await CaseCast.CreateAsync(network);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        foreach (var client in _clients)
        {
            await client.DisposeAsync();
        }

        if (_cast is not null)
        {
            await _cast.Network.DisposeAsync();
        }

        if (_replica is not null)
        {
            await _replica.DisposeAsync();
        }

        if (_server is not null)
        {
            await _server.DisposeAsync();
        }

        await _database.DisposeAsync();
        Directory.Delete(_keyDirectory, recursive: true);
    }
}

/// <summary>A subscription read in the background: the messages of one channel, in the order they arrive.</summary>
internal sealed class ChannelWatch : IAsyncDisposable
{
    private readonly Channel<StoredMessage> _messages = System.Threading.Channels.Channel.CreateUnbounded<StoredMessage>();
    private readonly CancellationTokenSource _stop = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
    private readonly Task _pump;

    public ChannelWatch(GlobeClient client, Guid channelId)
    {
        _pump = Task.Run(async () =>
        {
            try
            {
                await foreach (var e in client.SubscribeAsync(0, _stop.Token))
                {
                    if (e.EventCase == ChannelEvent.EventOneofCase.Message && e.ChannelId == channelId.ToString())
                    {
                        await _messages.Writer.WriteAsync(e.Message, _stop.Token);
                    }
                }
            }
            catch (OperationCanceledException) when (_stop.IsCancellationRequested)
            {
            }
            finally
            {
                _messages.Writer.TryComplete();
            }
        });
    }

    /// <summary>Message ids in arrival order up to and including <paramref name="last"/> (the subscription fails the test if it ends).</summary>
    public async Task<List<Guid>> ReadThroughAsync(Guid last)
    {
        var ids = new List<Guid>();
        while (true)
        {
            if (!await _messages.Reader.WaitToReadAsync(_stop.Token))
            {
                await _pump; // Throws what ended the subscription.
                throw new InvalidOperationException("The subscription ended.");
            }

            while (_messages.Reader.TryRead(out var message))
            {
                var id = Guid.Parse(message.Envelope.Header.MessageId);
                ids.Add(id);
                if (id == last)
                {
                    return ids;
                }
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        try
        {
            await _pump;
        }
        catch (OperationCanceledException)
        {
        }

        _stop.Dispose();
    }
}

/// <summary>
/// The plaintext of an upload, readable again from any position (so the upload can resume), that
/// runs <paramref name="onReach"/> once, before the read that reaches <paramref name="at"/> bytes:
/// the upload cannot go further until it returns.
/// </summary>
internal sealed class PausingStream(byte[] content, long at, Func<Task> onReach) : Stream
{
    private readonly MemoryStream _inner = new(content, writable: false);
    private int _reached;

    public override bool CanRead => true;

    public override bool CanSeek => true;

    public override bool CanWrite => false;

    public override long Length => _inner.Length;

    public override long Position { get => _inner.Position; set => _inner.Position = value; }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (_inner.Position + buffer.Length > at && Interlocked.Exchange(ref _reached, 1) == 0)
        {
            await onReach();
        }

        return await _inner.ReadAsync(buffer, cancellationToken);
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer, offset, count).GetAwaiter().GetResult();

    public override long Seek(long offset, SeekOrigin origin) => _inner.Seek(offset, origin);

    public override void Flush()
    {
    }

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _inner.Dispose();
        }

        base.Dispose(disposing);
    }
}

/// <summary>
/// The client's connection, able to lose one SendMessage acknowledgement for real: once armed, the
/// next SendMessage call goes through, and when its answer's headers arrive (the server has stored
/// the message: a unary answer starts only after the handler returned) the server process is
/// SIGKILLed and the answer dropped, as when a server dies between its commit and the reply.
/// </summary>
internal sealed class AcknowledgementLoss(ServerProcess server) : DelegatingHandler(new SocketsHttpHandler())
{
    private const string SendMessagePath = "/globesecure.v1.ChannelService/SendMessage";
    private int _state; // 0 idle, 1 armed, 2 fired
    private int _attempts;

    /// <summary>Completed once the server was killed with an answer in flight.</summary>
    public TaskCompletionSource Killed { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>SendMessage calls sent since arming (the first, and the client's retries of it).</summary>
    public int AttemptsSinceArmed => Volatile.Read(ref _attempts);

    public void LoseNextSendAcknowledgement() => Volatile.Write(ref _state, 1);

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var isSend = request.RequestUri?.AbsolutePath == SendMessagePath;
        if (isSend && Volatile.Read(ref _state) != 0)
        {
            Interlocked.Increment(ref _attempts);
        }

        var response = await base.SendAsync(request, cancellationToken);
        if (isSend && Interlocked.CompareExchange(ref _state, 2, 1) == 1)
        {
            response.Dispose();
            server.Kill();
            Killed.TrySetResult();
            throw new HttpRequestException("The test dropped this answer: the server process was killed before the client read it.");
        }

        return response;
    }
}
