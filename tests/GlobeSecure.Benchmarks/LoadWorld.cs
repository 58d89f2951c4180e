using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using GlobeSecure.Client;
using GlobeSecure.Contracts.V1;
using Grpc.Core;
using Grpc.Net.Client;

using static GlobeSecure.Benchmarks.Format;

namespace GlobeSecure.Benchmarks;

/// <summary>
/// The load run's network and clients: investigators, each with its own certified device,
/// grouped into channels of <see cref="LoadSettings.ChannelSize"/> members: three of an
/// authority of the channel's own and two of a partner authority that every channel shares. Each client is a
/// <see cref="GlobeClient"/> of its own (its own session and HTTP/2 connection), as a member's
/// application would be, plus a raw Subscribe stream so that duplicates are seen on the wire
/// (the client library's own subscription skips positions it has seen).
/// </summary>
internal sealed class LoadWorld : IAsyncDisposable
{
    private static readonly byte[] Message = RandomNumberGenerator.GetBytes(LoadSettings.MessageBytes);
    private static readonly byte[] Document = RandomNumberGenerator.GetBytes(LoadSettings.DocumentBytes);
    private static readonly byte[] DocumentSha256 = SHA256.HashData(Document);
    private static readonly string[] Countries = ["KE", "BR", "TZ", "AR", "RW", "CL", "GH", "PE", "NG", "CO", "ZA", "MX"];

    private readonly LoadSettings _settings;
    private readonly string _directory;
    private readonly GrpcChannel _setupChannel;
    private readonly BenchNetwork _network;
    private readonly List<LoadClientState> _clients;
    private readonly DeliveryLedger _ledger;
    private readonly List<LoadSubscriber> _subscribers;
    private readonly OperationStats _send = new("send message");
    private readonly OperationStats _upload = new("upload document");
    private readonly OperationStats _download = new("download and verify document");
    private readonly OperationStats _subscribe = new("open subscription");
    private readonly OperationStats _session = new("renew session (subscription token)");
    private LoadClock? _clock;
    private long _uploaded;
    private long _verified;
    private long _mismatched;

    private LoadWorld(LoadSettings settings, string directory, GrpcChannel setupChannel, BenchNetwork network, List<LoadClientState> clients,
        List<LoadSubscriber> subscribers, DeliveryLedger ledger)
    {
        _settings = settings;
        _directory = directory;
        _setupChannel = setupChannel;
        _network = network;
        _clients = clients;
        _subscribers = subscribers;
        _ledger = ledger;
    }

    public static async Task<LoadWorld> CreateAsync(LoadServerProcess server, LoadSettings settings, string directory)
    {
        var setup = GrpcChannel.ForAddress(server.Address, new GrpcChannelOptions { DisposeHttpClient = true });
        var network = new BenchNetwork(server.IssueBootstrapCodeAsync, setup);
        await network.BootstrapAsync();
        var second = await network.AddNetworkAdministratorAsync();
        // Channels of ChannelSize consecutive clients; a short last group joins the one before.
        var groups = Enumerable.Range(0, settings.Clients).GroupBy(i => i / LoadSettings.ChannelSize).Select(g => g.ToList()).ToList();
        if (groups.Count > 1 && groups[^1].Count < 2)
        {
            groups[^2].AddRange(groups[^1]);
            groups.RemoveAt(groups.Count - 1);
        }

        // A channel starts with every investigator of its creator's authority, so each channel has
        // an authority of its own (all but two of its members) and adds the last two by name from
        // one partner authority that every channel shares.
        BenchMember partner;
        using (var applicant = ApplicantChannel(server.Address, 0))
        {
            partner = await network.AdmitAuthorityAsync(second, "Police Investigations", "UG", AuthorityKind.Police, applicant);
        }

        var subscribers = Enumerable.Range(0, settings.Clients).Select(i => new LoadSubscriber(i)).ToList();
        var channelMembers = groups.Select(g => (IReadOnlyList<LoadSubscriber>)[.. g.Select(i => subscribers[i])]).ToList();
        var ledger = new DeliveryLedger(subscribers, channelMembers);
        var clients = new List<LoadClientState>();
        for (var c = 0; c < groups.Count; c++)
        {
            var group = groups[c];
            BenchMember home;
            using (var applicant = ApplicantChannel(server.Address, c + 1))
            {
                home = await network.AdmitAuthorityAsync(second, $"Anti-Corruption Commission {c + 1}", Countries[c % Countries.Length],
                    AuthorityKind.AntiCorruptionAgency, applicant);
            }

            var homeCount = Math.Max(1, group.Count - 2);
            var first = new List<BenchMember>();
            var added = new List<BenchMember>();
            foreach (var index in group)
            {
                var own = first.Count < homeCount;
                var member = await network.InvestigatorAsync(own ? home : partner, $"Load client {index + 1}");
                (own ? first : added).Add(member);
            }

            var channel = await network.SharedChannelAsync(first[0], first, added);
            foreach (var (index, member) in group.Zip(first.Concat(added)))
            {
                clients.Add(new LoadClientState(index, c, Guid.Parse(channel.ChannelId), member, subscribers[index]));
            }
        }

        clients.Sort((a, b) => a.Index.CompareTo(b.Index));
        foreach (var client in clients)
        {
            client.Client = new GlobeClient(new GlobeClientOptions
            {
                Address = server.Address,
                Device = client.Member.Device,
                PinnedRootKeys = [network.RootPublicKey],
                NetworkName = BenchNetwork.NetworkName,
            });
            await client.Client.AuthenticateAsync();
            client.Stream = GrpcChannel.ForAddress(server.Address, new GrpcChannelOptions { DisposeHttpClient = true });
            client.Token = client.Member.Token;
            client.TokenAt = Stopwatch.GetTimestamp();
        }

        Progress($"Load: {clients.Count} clients enrolled and authenticated in {groups.Count} channels of {LoadSettings.ChannelSize} ({groups.Count + 1} authorities).");
        return new LoadWorld(settings, directory, setup, network, clients, subscribers, ledger);
    }

    /// <summary>
    /// A channel whose connections come from 127.0.0.(2 + n): each authority applies from an
    /// address of its own, as separate applicants do (the server takes at most 10 anonymous
    /// applications per address and hour, and a 50-client run admits 11 authorities). Loopback
    /// still: Linux routes all of 127.0.0.0/8 to the loopback interface.
    /// </summary>
    private static GrpcChannel ApplicantChannel(Uri server, int n)
    {
        var local = new IPEndPoint(IPAddress.Parse(Invariant($"127.0.0.{2 + n}")), 0);
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (context, cancellationToken) =>
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                try
                {
                    socket.Bind(local);
                    await socket.ConnectAsync(context.DnsEndPoint, cancellationToken);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        };
        return GrpcChannel.ForAddress(server, new GrpcChannelOptions { HttpHandler = handler, DisposeHttpClient = true });
    }

    /// <summary>The run: subscriptions open, the load for the duration, then the drain; memory sampled throughout.</summary>
    public async Task<LoadResult> RunAsync(LoadServerProcess server)
    {
        var samples = new List<MemorySample> { await server.SampleAsync(TimeSpan.Zero, "before") };
        using var stopSubscriptions = new CancellationTokenSource();
        var subscriptions = _clients.Select(c => Task.Run(() => SubscribeLoopAsync(c, stopSubscriptions.Token))).ToArray();
        // Every stream open before the first message, so the first minute's deliveries are not all catch-up.
        var opened = Stopwatch.StartNew();
        while (_clients.Any(c => !c.Subscribed) && opened.Elapsed < TimeSpan.FromSeconds(30))
        {
            await Task.Delay(50);
        }

        var clock = _clock = new LoadClock(_settings.Warmup, _settings.Duration);
        Progress($"Load: {LoadReport.Span(_settings.Duration)} with {_clients.Count} clients ({Invariant($"{_settings.Warmup.TotalSeconds:0}")} s warm-up), {(_settings.Rate > 0 ? Invariant($"{_settings.Rate:0.##} operations/s per client") : "as fast as each client can")}…");
        var load = _clients.Select(c => Task.Run(() => OperationLoopAsync(c, clock))).ToArray();
        using var stopSampling = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            var next = _settings.SampleEvery;
            while (!stopSampling.IsCancellationRequested)
            {
                var wait = next - clock.Elapsed;
                if (wait > TimeSpan.Zero)
                {
                    try
                    {
                        await Task.Delay(wait, stopSampling.Token);
                    }
                    catch (OperationCanceledException)
                    {
                        break;
                    }
                }

                var at = clock.Elapsed;
                var sample = await server.SampleAsync(at, at < _settings.Warmup ? "warm-up" : clock.Running ? "load" : "drain");
                lock (samples)
                {
                    samples.Add(sample);
                }

                Progress($"  {sample.At.TotalSeconds,5:0} s: server RSS {sample.RssMiB,6:0.0} MiB, live heap {sample.LiveHeapMiB,6:0.0} MiB; {_send.Result(clock.Window).Completed:N0} messages, {Interlocked.Read(ref _uploaded):N0} documents; errors {Errors():N0}");
                next += _settings.SampleEvery;
            }
        });

        await Task.WhenAll(load);
        var loadEnded = clock.Elapsed;
        Progress($"Load: done after {loadEnded.TotalSeconds:0} s; waiting for the subscribers to receive every acknowledged message…");
        var drain = Stopwatch.StartNew();
        long outstanding;
        while ((outstanding = _ledger.Outstanding()) > 0 && drain.Elapsed < LoadSettings.DrainTimeout)
        {
            await Task.Delay(250);
        }

        var drained = drain.Elapsed;
        await stopSampling.CancelAsync();
        await sampler;
        samples.Add(await server.SampleAsync(clock.Elapsed, "after"));
        await stopSubscriptions.CancelAsync();
        await Task.WhenAll(subscriptions);
        Progress($"Load: drained in {drained.TotalSeconds:0.0} s ({outstanding} deliveries outstanding).");

        var window = clock.Window;
        return new LoadResult
        {
            Clients = _clients.Count,
            Channels = _clients.Select(c => c.Channel).Distinct().Count(),
            LoadSeconds = loadEnded.TotalSeconds,
            DrainSeconds = drained.TotalSeconds,
            Operations = [_send.Result(window), _upload.Result(window), _download.Result(window), _subscribe.Result(window), _session.Result(window)],
            Delivery = _ledger.Result(),
            Documents = new DocumentResult(Interlocked.Read(ref _uploaded), Interlocked.Read(ref _verified), Interlocked.Read(ref _mismatched)),
            Memory = [.. samples],
        };
    }

    private long Errors() => new[] { _send, _upload, _download, _subscribe, _session }.Sum(o => o.Result(TimeSpan.FromSeconds(1)).Errors.Values.Sum());

    /// <summary>Messages, with a document every <see cref="LoadSettings.DocumentEvery"/>th operation, paced at the client's rate.</summary>
    private async Task OperationLoopAsync(LoadClientState client, LoadClock clock)
    {
        var interval = _settings.Rate > 0 ? TimeSpan.FromSeconds(1 / _settings.Rate) : TimeSpan.Zero;
        // Clients start spread over one interval, so their operations do not arrive in step.
        var next = clock.Elapsed + (interval * Random.Shared.NextDouble());
        for (var k = 0; clock.Running; k++)
        {
            if (interval > TimeSpan.Zero)
            {
                var wait = next - clock.Elapsed;
                if (wait > TimeSpan.Zero)
                {
                    await Task.Delay(wait);
                }

                // Jittered by ±50 %; a client that fell behind does not burst to catch up.
                next = TimeSpan.FromTicks(Math.Max(next.Ticks, clock.Elapsed.Ticks - interval.Ticks)) + (interval * (0.5 + Random.Shared.NextDouble()));
                if (!clock.Running)
                {
                    break;
                }
            }

            if (k % LoadSettings.DocumentEvery == LoadSettings.DocumentEvery - 1)
            {
                await UploadAsync(client, clock);
            }
            else
            {
                await SendAsync(client, clock);
            }
        }
    }

    private async Task SendAsync(LoadClientState client, LoadClock clock)
    {
        var id = Guid.CreateVersion7();
        var start = Stopwatch.GetTimestamp();
        var counted = clock.IsCounted(start);
        _ledger.Sending(id, client.Channel, start, counted);
        try
        {
            await client.Client.SendAsync(client.ChannelId, Message, new SendOptions(MessageId: id));
            _ledger.Acknowledged(id);
            _send.Completed(start, counted);
        }
        catch (Exception ex) when (StatusOf(ex) is { } code)
        {
            _send.Failed(code, DetailOf(ex));
        }
    }

    private async Task UploadAsync(LoadClientState client, LoadClock clock)
    {
        var start = Stopwatch.GetTimestamp();
        var counted = clock.IsCounted(start);
        DocumentAttachment attachment;
        try
        {
            using var content = new MemoryStream(Document, writable: false);
            attachment = await client.Client.UploadDocumentAsync(client.ChannelId, content, "load.bin", "application/octet-stream");
            _upload.Completed(start, counted);
            Interlocked.Increment(ref _uploaded);
        }
        catch (Exception ex) when (StatusOf(ex) is { } code)
        {
            _upload.Failed(code, DetailOf(ex));
            return;
        }

        if (++client.Uploads % LoadSettings.VerifyEvery != 0)
        {
            return;
        }

        start = Stopwatch.GetTimestamp();
        counted = clock.IsCounted(start);
        var path = Path.Combine(_directory, $"{attachment.DocumentId:N}.bin");
        try
        {
            await client.Client.DownloadDocumentAsync(attachment, path);
            var identical = CryptographicOperations.FixedTimeEquals(SHA256.HashData(await File.ReadAllBytesAsync(path)), DocumentSha256);
            if (identical)
            {
                Interlocked.Increment(ref _verified);
            }
            else
            {
                Interlocked.Increment(ref _mismatched);
            }

            _download.Completed(start, counted);
        }
        catch (Exception ex) when (StatusOf(ex) is { } code)
        {
            _download.Failed(code, DetailOf(ex));
        }
        finally
        {
            File.Delete(path);
        }
    }

    /// <summary>The client's Subscribe stream: opened, read, closed after 20–40 s and reopened after its last position, until stopped.</summary>
    private async Task SubscribeLoopAsync(LoadClientState client, CancellationToken stop)
    {
        var channels = new ChannelService.ChannelServiceClient(client.Stream);
        while (!stop.IsCancellationRequested)
        {
            if (Stopwatch.GetElapsedTime(client.TokenAt) > TimeSpan.FromMinutes(10))
            {
                // Sessions last 15 minutes: a soak outlives the one from the enrolment.
                var renewStart = Stopwatch.GetTimestamp();
                try
                {
                    client.Token = await _network.AuthenticateAsync(client.Member.Device);
                    client.TokenAt = Stopwatch.GetTimestamp();
                    _session.Completed(renewStart, _clock?.IsCounted(renewStart) ?? false);
                }
                catch (Exception ex) when (StatusOf(ex) is { } code)
                {
                    _session.Failed(code, DetailOf(ex));
                    await PauseAsync(stop);
                    continue;
                }
            }

            using var reopen = CancellationTokenSource.CreateLinkedTokenSource(stop);
            reopen.CancelAfter(LoadSettings.ReopenMin + (LoadSettings.ReopenMin * Random.Shared.NextDouble()));
            var start = Stopwatch.GetTimestamp();
            try
            {
                using var call = channels.Subscribe(new SubscribeRequest { AfterPosition = client.Subscriber.Position },
                    new Metadata { { "authorization", $"Bearer {client.Token}" } }, cancellationToken: reopen.Token);
                await call.ResponseHeadersAsync;
                _subscribe.Completed(start, _clock?.IsCounted(start) ?? false);
                client.Subscribed = true;
                await foreach (var e in call.ResponseStream.ReadAllAsync(reopen.Token))
                {
                    client.Subscriber.Event(e, _ledger);
                }

                // The server ended the stream by itself: not expected while the client holds it.
                _subscribe.Failed("stream ended by the server");
            }
            catch (Exception ex) when (reopen.IsCancellationRequested && ex is OperationCanceledException or RpcException { StatusCode: StatusCode.Cancelled })
            {
                // The client closed it (to reopen it, or at the end of the run).
                _subscribe.Expected("CANCELLED by the client (reopen or end of run)");
            }
            catch (RpcException ex) when (reopen.IsCancellationRequested)
            {
                // The client had already cancelled the call when this status arrived: its own
                // closing, which grpc-dotnet sometimes reports as the aborted HTTP/2 request
                // (UNAVAILABLE, "Error reading next message. IOException: The request was aborted.")
                // rather than CANCELLED. Counted apart, with the status it gave.
                _subscribe.Expected($"{ex.StatusCode} after the client had cancelled it (reopen or end of run)");
            }
            catch (Exception ex) when (StatusOf(ex) is { } code)
            {
                _subscribe.Failed(code, DetailOf(ex));
                await PauseAsync(stop);
            }
        }
    }

    private static async Task PauseAsync(CancellationToken stop)
    {
        try
        {
            await Task.Delay(TimeSpan.FromMilliseconds(500), stop);
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>The failure's gRPC status code name (or its kind when it is not a status); ids only ever reach these messages.</summary>
    private static string? StatusOf(Exception ex) => ex switch
    {
        GlobeClientException g => g.Status.ToString(),
        RpcException r => r.StatusCode.ToString(),
        GlobeTrustException => "client trust check failed",
        OperationCanceledException => "cancelled",
        IOException or HttpRequestException => "connection: " + ex.GetType().Name,
        _ => "exception: " + ex.GetType().Name,
    };

    /// <summary>
    /// What the failure says, for the report: the status detail and the innermost cause's type
    /// and message (the server's details and the client library's messages carry ids only).
    /// </summary>
    private static string DetailOf(Exception ex)
    {
        var inner = ex;
        while (inner.InnerException is { } next)
        {
            inner = next;
        }

        var detail = ex is RpcException r ? r.Status.Detail : ex.Message;
        var text = ReferenceEquals(inner, ex) ? detail : $"{detail} ({inner.GetType().Name}: {inner.Message})";
        return text.ReplaceLineEndings(" ");
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var client in _clients)
        {
            if (client.Client is { } c)
            {
                await c.DisposeAsync();
            }

            client.Stream?.Dispose();
        }

        _setupChannel.Dispose();
    }

    /// <summary>One load client: its member, channel, library client, stream connection and subscription.</summary>
    private sealed class LoadClientState(int index, int channel, Guid channelId, BenchMember member, LoadSubscriber subscriber)
    {
        public int Index => index;

        public int Channel => channel;

        public Guid ChannelId => channelId;

        public BenchMember Member => member;

        public LoadSubscriber Subscriber => subscriber;

        public GlobeClient Client { get; set; } = null!;

        public GrpcChannel? Stream { get; set; }

        public string Token { get; set; } = string.Empty;

        public long TokenAt { get; set; }

        public int Uploads { get; set; }

        private volatile bool _subscribed;

        /// <summary>The first stream has been answered.</summary>
        public bool Subscribed
        {
            get => _subscribed;
            set => _subscribed = value;
        }
    }
}
