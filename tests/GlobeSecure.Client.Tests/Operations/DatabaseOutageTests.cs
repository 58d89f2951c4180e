using System.Collections.Concurrent;
using GlobeSecure.Client.Tests.Story;
using GlobeSecure.Contracts.V1;
using GlobeSecure.Crypto;
using GlobeSecure.EventStore;
using GlobeSecure.Testing;
using Grpc.Core;
using Grpc.Health.V1;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;

namespace GlobeSecure.Client.Tests.Operations;

/// <summary>
/// The story server on a PostgreSQL cluster of its own (the run's shared one serves every other
/// test class at the same time), which the test stops and starts; every gRPC status the server
/// answers is recorded.
/// </summary>
public sealed class OutageServerFixture : StoryServerFixture
{
    private readonly PrivateCluster _cluster;

    public OutageServerFixture()
        : this(new PrivateCluster())
    {
    }

    private OutageServerFixture(PrivateCluster cluster)
        : base(PostgresDatabase.On(cluster.StartAsync)) => _cluster = cluster;

    /// <summary>The private cluster (started with the fixture).</summary>
    public PostgresServer Cluster => _cluster.Server ?? throw new InvalidOperationException("The cluster is not started.");

    /// <summary>Every call answered, as (service/method, status), in completion order.</summary>
    internal ConcurrentQueue<(string Method, StatusCode Status)> Answers { get; } = new();

    protected override void Map(WebApplication app) =>
        app.Use(async (HttpContext context, RequestDelegate next) =>
        {
            await next(context);
            // A status after messages is a trailer; a call refused before any message has it in the headers.
            var status = context.Features.Get<IHttpResponseTrailersFeature>()?.Trailers["grpc-status"].ToString() is { Length: > 0 } trailer
                ? trailer
                : context.Response.Headers["grpc-status"].ToString();
            if (int.TryParse(status, System.Globalization.CultureInfo.InvariantCulture, out var code))
            {
                Answers.Enqueue((context.Request.Path.Value?.TrimStart('/') ?? "", (StatusCode)code));
            }
        });

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        if (_cluster.Server is { } server)
        {
            await server.DisposeAsync();
        }
    }

    private sealed class PrivateCluster
    {
        public PostgresServer? Server { get; private set; }

        public async Task<PostgresServer> StartAsync() => Server ??= await PostgresServer.StartPrivateAsync();
    }
}

/// <summary>
/// Issue 9, faults: PostgreSQL stopped under a running network — once with a fast shutdown in the
/// middle of a document upload (between two chunks), once with an immediate one (a crash) after
/// acknowledged sends — and started again on the same port. Clients see UNAVAILABLE (never
/// INTERNAL or UNKNOWN, never a wrong answer), the health service NOT_SERVING; the client library
/// retries with back-off by itself, so the upload and the sends made during the outage finish;
/// afterwards every acknowledged message is stored and delivered exactly once, the document
/// downloads hash-identical, and both hash chains verify.
/// </summary>
public sealed class DatabaseOutageTests(OutageServerFixture server) : IClassFixture<OutageServerFixture>, IDisposable
{
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<OutageServerFixture, Task<CaseCast>> Casts = new();
    private readonly DocumentFiles _files = new();

    private Task<CaseCast> CastAsync() => Casts.GetValue(server, s => CaseCast.CreateAsync(s));

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose() => _files.Dispose();

    [Fact]
    public async Task Outage_DatabaseStoppedDuringUploadAndSends_ClientsRetryAndEveryAcknowledgedWriteIsStoredOnceWithChainsVerifying()
    {
        var c = await CastAsync();
        var channelId = await c.SharedChannelAsync("Case 2026-970: the outage");
        var retries = new ConcurrentQueue<(string Who, CallRetry Retry)>();
        using var retried = new SemaphoreSlim(0);
        await using var otieno = ClientFor(c, c.Otieno, r => Record("otieno", r));
        await using var wanjiru = ClientFor(c, c.Wanjiru, r => Record("wanjiru", r));
        await using var probe = ClientFor(c, c.Wanjiru, null, retries: 0);
        await probe.ListChannelsAsync(Ct); // a session that exists before the outage
        using var health = server.CreateChannel();
        var healthClient = new Health.HealthClient(health);

        // Ana follows the channel from the start.
        using var following = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        var delivered = new ConcurrentQueue<Guid>();
        var acknowledged = new ConcurrentQueue<Guid>();
        var caughtUp = new SemaphoreSlim(0);
        var subscription = Task.Run(async () =>
        {
            await foreach (var e in c.Ana.Client.SubscribeAsync(0, following.Token))
            {
                if (e.EventCase == ChannelEvent.EventOneofCase.Message && e.ChannelId == channelId.ToString())
                {
                    delivered.Enqueue(Guid.Parse(e.Message.Envelope.Header.MessageId));
                    caughtUp.Release();
                }
            }
        }, CancellationToken.None);

        void Record(string who, CallRetry retry)
        {
            retries.Enqueue((who, retry));
            retried.Release();
        }

        // Waits, retry by retry, until the clients' retries make the condition true.
        async Task RetriedUntilAsync(Func<bool> condition)
        {
            while (!condition())
            {
                Assert.True(await retried.WaitAsync(TimeSpan.FromSeconds(30), Ct), "The clients stopped retrying.");
            }
        }

        async Task SendAsync(GlobeClient client, string text) =>
            acknowledged.Enqueue(Guid.Parse((await client.SendTextAsync(channelId, text, cancellationToken: Ct)).Envelope.Header.MessageId));

        for (var i = 0; i < 3; i++)
        {
            await SendAsync(otieno, $"Before the outage, {i}.");
        }

        // Outage 1: a fast shutdown while the upload has sent 4 of its 24 chunks.
        var stopped = new TaskCompletionSource();
        server.Forge.DuringNextUpload(4, async () =>
        {
            await server.Cluster.StopClusterAsync();
            stopped.SetResult();
        });
        var original = _files.Random("ledger.pdf", (23 * 65_536) + 999, seed: 970);
        var upload = otieno.UploadDocumentAsync(channelId, original, cancellationToken: Ct);
        await stopped.Task.WaitAsync(Ct);

        var healthDuring = (await healthClient.CheckAsync(new HealthCheckRequest(), cancellationToken: Ct)).Status;
        var withSession = await Assert.ThrowsAsync<GlobeClientException>(() => probe.GetChannelAsync(channelId, Ct));
        await using (var fresh = ClientFor(c, c.Ana, null, retries: 0))
        {
            var withoutSession = await Assert.ThrowsAsync<GlobeClientException>(() => fresh.ListChannelsAsync(Ct));
            Assert.Equal((StatusCode.Unavailable, StatusCode.Unavailable), (withSession.Status, withoutSession.Status));
            Assert.Equal(ErrorReason.Unavailable, withSession.ReasonCode);
        }

        var sentDuring = SendAsync(wanjiru, "Sent while the database was down.");
        // Start the database again once both retrying clients have met the outage.
        await RetriedUntilAsync(() => retries.Any(r => r.Who == "wanjiru") && retries.Any(r => r.Retry.Operation == "document upload"));
        await server.Cluster.StartClusterAsync();
        var attachment = await upload;
        await sentDuring;
        var withDocument = await otieno.SendTextAsync(channelId, "The ledger, uploaded through the outage.", new SendOptions(Attachments: [attachment]), Ct);
        acknowledged.Enqueue(Guid.Parse(withDocument.Envelope.Header.MessageId));

        // Outage 2: a crash (immediate shutdown) after two more acknowledged sends; a send meets it.
        await SendAsync(otieno, "After the first outage, 1.");
        await SendAsync(wanjiru, "After the first outage, 2.");
        var retriesBefore = retries.Count(r => r.Who == "otieno" && r.Retry.Operation.StartsWith("ChannelService", StringComparison.Ordinal));
        await server.Cluster.StopClusterAsync(immediate: true);
        var sentDuringCrash = SendAsync(otieno, "Sent while the database was crashed.");
        await RetriedUntilAsync(() => retries.Count(r => r.Who == "otieno" && r.Retry.Operation.StartsWith("ChannelService", StringComparison.Ordinal)) > retriesBefore);
        await server.Cluster.StartClusterAsync();
        await sentDuringCrash;
        await SendAsync(wanjiru, "After the second outage.");

        // Everything acknowledged reaches Ana's subscription, which lived through both outages.
        while (delivered.Count < acknowledged.Count)
        {
            Assert.True(await caughtUp.WaitAsync(TimeSpan.FromSeconds(30), Ct), $"The subscription delivered {delivered.Count} of {acknowledged.Count} messages (missing {string.Join(", ", acknowledged.Except(delivered).Select(m => $"#{acknowledged.ToList().IndexOf(m)}"))}; subscription {subscription.Status} {subscription.Exception?.InnerException}).");
        }

        await following.CancelAsync();
        await subscription;
        var healthAfter = (await healthClient.CheckAsync(new HealthCheckRequest(), cancellationToken: Ct)).Status;
        var history = await c.Ana.Client.HistoryAsync(channelId, cancellationToken: Ct);
        var documents = await otieno.ListDocumentsAsync(channelId, Ct);
        var opened = await c.Ana.Client.OpenAsync(history.Single(m => m.Envelope.Header.MessageId == withDocument.Envelope.Header.MessageId), Ct);
        var downloaded = _files.PathFor("ledger-received.pdf");
        await c.Ana.Client.DownloadDocumentAsync(opened.Attachments.Single(), downloaded, cancellationToken: Ct);
        var store = server.Services.GetRequiredService<PostgresEventStore>();
        var events = await store.VerifyEventsAsync(Ct);
        var audit = await store.VerifyAuditAsync(Ct);

        Assert.Equal(HealthCheckResponse.Types.ServingStatus.NotServing, healthDuring);
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, healthAfter);
        Assert.Equal(9, acknowledged.Count);
        Assert.Equal(acknowledged.Order(), history.Select(m => Guid.Parse(m.Envelope.Header.MessageId)).Order()); // each once, nothing else
        Assert.Equal(acknowledged.Order(), delivered.Order());
        Assert.Equal(attachment.DocumentId.ToString(), Assert.Single(documents).DocumentId);
        Assert.Equal(DocumentStatus.Sealed, documents[0].Status);
        Assert.Equal(DocumentFiles.Hash(original), DocumentFiles.Hash(downloaded));
        Assert.True(events.IsValid, events.Problem);
        Assert.True(audit.IsValid, audit.Problem);
        Assert.Contains(server.Answers, a => a.Status == StatusCode.Unavailable && a.Method.StartsWith("globesecure.v1.DocumentService/", StringComparison.Ordinal));
        Assert.Contains(server.Answers, a => a.Status == StatusCode.Unavailable && a.Method.StartsWith("globesecure.v1.ChannelService/", StringComparison.Ordinal));
        Assert.DoesNotContain(server.Answers, a => a.Status is StatusCode.Internal or StatusCode.Unknown);
    }

    [Fact]
    public async Task Send_AnswerLostAfterTheCommit_RepeatedWithTheSameEnvelopeAndStoredOnce()
    {
        var c = await CastAsync();
        var channelId = await c.SharedChannelAsync("Case 2026-971: a lost answer");
        var retries = new ConcurrentQueue<CallRetry>();
        await using var otieno = ClientFor(c, c.Otieno, retries.Enqueue);
        await otieno.ListChannelsAsync(Ct);
        server.Forge.LoseNextAnswer("ChannelService/SendMessage");

        var sent = await otieno.SendTextAsync(channelId, "Stored once, though its first answer was lost.", cancellationToken: Ct);

        var history = await c.Ana.Client.HistoryAsync(channelId, cancellationToken: Ct);
        Assert.Equal([sent.Envelope.Header.MessageId], history.Select(m => m.Envelope.Header.MessageId));
        Assert.Equal(sent.Position, history[0].Position);
        Assert.Equal(new CallRetry("ChannelService/SendMessage", 2, StatusCode.Unavailable), Assert.Single(retries));
    }

    [Fact]
    public async Task CreateChannel_AnswerLostAfterTheCommit_RepeatedAndAnsweredWithTheOneChannelCreated()
    {
        var c = await CastAsync();
        var retries = new ConcurrentQueue<CallRetry>();
        await using var otieno = ClientFor(c, c.Otieno, retries.Enqueue);
        var before = await otieno.ListChannelsAsync(Ct);
        server.Forge.LoseNextAnswer("ChannelService/CreateChannel");

        var created = await otieno.CreateChannelAsync("Case 2026-972: created once", cancellationToken: Ct);

        // The identical request again (same channel id): the server refuses a second channel, and
        // the library answers with the one its first try created.
        Assert.Equal(new CallRetry("ChannelService/CreateChannel", 2, StatusCode.Unavailable), Assert.Single(retries));
        var after = await otieno.ListChannelsAsync(Ct);
        Assert.Equal(before.Count + 1, after.Count);
        Assert.Contains(after, ch => ch.ChannelId == created.ChannelId);
        var message = await otieno.SendTextAsync(Guid.Parse(created.ChannelId), "the creator holds the first epoch's key", cancellationToken: Ct);
        Assert.Equal(created.ChannelId, message.Envelope.Header.ChannelId);
    }

    private static GlobeClient ClientFor(CaseCast c, Participant who, Action<CallRetry>? onRetry, int retries = 8) => new(new GlobeClientOptions
    {
        Address = c.Otieno.Client.Address,
        Device = who.Keys,
        PinnedRootKeys = [c.Network.RootKey.PublicKey],
        NetworkName = c.Network.Created.Network.Name,
        CallRetries = retries,
        CallRetryDelay = TimeSpan.FromMilliseconds(100),
        TransferRetries = retries,
        TransferRetryDelay = TimeSpan.FromMilliseconds(100),
        OnRetry = onRetry,
    });
}
