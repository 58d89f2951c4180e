using GlobeSecure.Contracts.V1;
using GlobeSecure.Crypto;
using GlobeSecure.EventStore;
using GlobeSecure.Server.Documents;
using GlobeSecure.Server.Tests.Channels;
using GlobeSecure.Server.Tests.Identity;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace GlobeSecure.Server.Tests.Documents;

/// <summary>A quota small enough for tests to fill with a few declared uploads, and gRPC messages too small for the largest chunks.</summary>
public sealed class DocumentLimitFixture : DocumentFixture
{
    public const long SmallQuotaBytes = 10L * 1024 * 1024;

    protected override void Configure(WebApplicationBuilder builder)
    {
        base.Configure(builder);
        builder.Configuration["Globe:Documents:AuthorityQuotaBytes"] = SmallQuotaBytes.ToString(System.Globalization.CultureInfo.InvariantCulture);
        builder.Configuration["Globe:Limits:MaxReceiveMessageBytes"] = (512 * 1024).ToString(System.Globalization.CultureInfo.InvariantCulture);
    }
}

/// <summary>Size and quota limits, expiry and retention: each test uses a fresh authority, so its quota starts empty.</summary>
public sealed class DocumentLimitTests(DocumentLimitFixture server) : IClassFixture<DocumentLimitFixture>, IDisposable
{
    private readonly NetworkDriver _driver = new(server);


    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>An investigator of a newly admitted authority, with a channel of their own.</summary>
    private async Task<(Member Investigator, Guid ChannelId)> FreshAuthorityAsync()
    {
        var world = await server.WorldAsync(_driver);
        var admin = await _driver.AdmitAuthorityAsync(world.Network.Administrator, world.SecondAdmin, $"Authority {Guid.NewGuid():N}", "TZ");
        var investigator = await ChannelFixture.InvestigatorAsync(_driver, admin, "Dana");
        var channel = await new ChannelDriver(_driver, world.Network).CreateAsync(investigator, investigator);
        return (investigator, Guid.Parse(channel.ChannelId));
    }

    private DocumentDriver Documents => new(_driver);

    private Task<long> UsedBytesAsync(Member member) => server.Services.GetRequiredService<DocumentReadModel>().UsedBytesAsync(member.AuthorityId, Ct);

    /// <summary>The declared ciphertext length of a plaintext of <paramref name="plaintextBytes"/>.</summary>
    private static long Declared(long plaintextBytes) => DocumentCipher.CiphertextLength(plaintextBytes);

    [Fact]
    public async Task BeginUpload_LargerThanTheMaximumSize_ResourceExhaustedNamingTheLimitAndNothingReserved()
    {
        var (dana, channelId) = await FreshAuthorityAsync();
        var document = await EncryptedDocument.CreateAsync(10);

        var refused = await Assert.ThrowsAsync<RpcException>(() => Documents.BeginAsync(dana, channelId, document, Declared(DocumentFixture.MaxDocumentBytes)));

        Assert.Equal(StatusCode.ResourceExhausted, refused.StatusCode);
        Assert.Contains(DocumentFixture.MaxDocumentBytes.ToString(System.Globalization.CultureInfo.InvariantCulture), refused.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(StatusCode.NotFound, await DocumentDriver.StatusOfAsync(() => Documents.GetAsync(dana, document.DocumentId)));
        Assert.Equal(0, await UsedBytesAsync(dana));
    }

    [Fact]
    public async Task BeginUpload_BeyondTheAuthorityQuota_ResourceExhaustedNamingTheQuotaAndNothingReserved()
    {
        var (dana, channelId) = await FreshAuthorityAsync();
        var length = Declared(3 * 1024 * 1024);
        for (var i = 0; i < 3; i++)
        {
            await Documents.BeginAsync(dana, channelId, await EncryptedDocument.CreateAsync(10), length);
        }

        var fourth = await EncryptedDocument.CreateAsync(10);
        var refused = await Assert.ThrowsAsync<RpcException>(() => Documents.BeginAsync(dana, channelId, fourth, length));

        Assert.Equal(StatusCode.ResourceExhausted, refused.StatusCode);
        Assert.Contains(DocumentLimitFixture.SmallQuotaBytes.ToString(System.Globalization.CultureInfo.InvariantCulture), refused.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(StatusCode.NotFound, await DocumentDriver.StatusOfAsync(() => Documents.GetAsync(dana, fourth.DocumentId)));
        Assert.Equal(3 * length, await UsedBytesAsync(dana));
    }

    [Fact]
    public async Task BeginUpload_ConcurrentBeginsBeyondTheQuota_ExactlyThoseThatFitAreReserved()
    {
        var (dana, channelId) = await FreshAuthorityAsync();
        var length = Declared(3 * 1024 * 1024);
        var candidates = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => EncryptedDocument.CreateAsync(10)));

        var outcomes = await Task.WhenAll(candidates.Select(async d =>
        {
            try
            {
                await Documents.BeginAsync(dana, channelId, d, length);
                return StatusCode.OK;
            }
            catch (RpcException e)
            {
                return e.StatusCode;
            }
        }));

        Assert.Equal(3, outcomes.Count(s => s == StatusCode.OK));
        Assert.Equal(5, outcomes.Count(s => s == StatusCode.ResourceExhausted));
        Assert.Equal(3 * length, await UsedBytesAsync(dana));
    }

    [Fact]
    public async Task BeginUpload_ChunkSizeBeyondTheMessageLimit_InvalidArgumentBeforeAnyChunk()
    {
        var (dana, channelId) = await FreshAuthorityAsync();
        var document = await EncryptedDocument.CreateAsync(10, DocumentCipher.MaxChunkSize);

        var refused = await Assert.ThrowsAsync<RpcException>(() => Documents.BeginAsync(dana, channelId, document));

        Assert.Equal(StatusCode.InvalidArgument, refused.StatusCode);
        Assert.Contains("too large for this server's message limit", refused.Status.Detail, StringComparison.Ordinal);
    }

    /// <summary>The exact check under concurrency: whatever the pre-check saw, the usage row's constraint refuses the commit.</summary>
    [Fact]
    public async Task Append_UploadStartedBeyondTheQuotaInForce_RefusedByTheUsageConstraintAndNothingStored()
    {
        var (dana, channelId) = await FreshAuthorityAsync();
        var store = server.Services.GetRequiredService<PostgresEventStore>();
        var documentId = Guid.CreateVersion7();
        var started = new UploadStarted(documentId, channelId, dana.UserId, dana.Device.DeviceId, dana.AuthorityId, new byte[45], 1_000_000, 65536, 16,
            QuotaBytes: 999_999, DateTimeOffset.UtcNow.AddHours(1), DateTimeOffset.UtcNow);

        var refused = await Assert.ThrowsAsync<Npgsql.PostgresException>(() =>
            store.AppendAsync(DocumentDecider.StreamId(documentId), ExpectedVersion.NoStream, started));

        Assert.Equal(DocumentProjection.QuotaConstraint, refused.ConstraintName);
        Assert.Equal(0, await store.StreamVersionAsync(DocumentDecider.StreamId(documentId), Ct));
        Assert.Equal(0, await UsedBytesAsync(dana));
    }

    [Fact]
    public async Task Cleanup_UploadPastItsExpiry_ExpiresDeletesItsChunksAndReleasesTheQuota()
    {
        var (dana, channelId) = await FreshAuthorityAsync();
        var document = await EncryptedDocument.CreateAsync(5 * DocumentCipher.DefaultChunkSize);
        await Documents.BeginAsync(dana, channelId, document);
        await Documents.UploadAsync(dana, document, count: 2);
        var storage = server.Services.GetRequiredService<IDocumentStorage>();

        var early = await DocumentDriver.CleanupAsync(server.Services);
        var (expired, _) = await AfterAsync(DocumentFixture.UploadExpiry + TimeSpan.FromMinutes(1), () => DocumentDriver.CleanupAsync(server.Services));
        var after = await Documents.GetAsync(dana, document.DocumentId);

        Assert.Equal((0, 0), early);
        Assert.True(expired >= 1);
        Assert.Equal(DocumentStatus.Expired, after.Status);
        Assert.Equal(0, after.ChunksHeld);
        Assert.Equal(0, await storage.BytesUsedAsync(document.DocumentId, Ct));
        Assert.Equal(0, await UsedBytesAsync(dana));
        Assert.Equal(StatusCode.FailedPrecondition, await DocumentDriver.StatusOfAsync(() => Documents.UploadAsync(dana, document, from: 2)));
        Assert.Equal(StatusCode.FailedPrecondition, await DocumentDriver.StatusOfAsync(() => Documents.SealAsync(dana, document)));
    }

    [Fact]
    public async Task AnyUnaryRpc_MessageOverTheMaximumReceiveSize_ResourceExhaustedAndAuditedThoughRefusedBeforeTheInterceptors()
    {
        var store = server.Services.GetRequiredService<PostgresEventStore>();
        using var channel = server.CreateChannel();
        var request = new SendMessageRequest { Envelope = new GlobeSecure.Contracts.V1.MessageEnvelope { Ciphertext = Google.Protobuf.ByteString.CopyFrom(new byte[600 * 1024]) } };
        var head = await store.HeadPositionAsync(Ct);
        var before = (await store.ReadAuditAsync(0, int.MaxValue, Ct)).Count;

        var refused = await Assert.ThrowsAsync<RpcException>(() => new ChannelService.ChannelServiceClient(channel).SendMessageAsync(request, cancellationToken: Ct).ResponseAsync);

        Assert.Equal(StatusCode.ResourceExhausted, refused.StatusCode);
        Assert.Equal(head, await store.HeadPositionAsync(Ct));
        // The entry is written once the call has ended on the server: read until it is there.
        IReadOnlyList<StoredAuditEntry> added = [];
        for (var attempt = 0; attempt < 100 && added.Count == 0; attempt++)
        {
            added = [.. (await store.ReadAuditAsync(0, int.MaxValue, Ct)).Skip(before).Where(e => e.Entry.Action == "/globesecure.v1.ChannelService/SendMessage")];
            if (added.Count == 0)
            {
                await Task.Delay(50, Ct);
            }
        }

        var entry = Assert.Single(added).Entry;
        Assert.Equal((AuditOutcome.Failed, nameof(StatusCode.ResourceExhausted)), (entry.Outcome, entry.Reason));
        Assert.Null(entry.ActorDeviceId);
    }

    [Fact]
    public async Task Cleanup_SealedDocumentPastRetention_DeletedAsAnAuditedEventAndNoLongerDownloadable()
    {
        var (dana, channelId) = await FreshAuthorityAsync();
        var document = await EncryptedDocument.CreateAsync(1000);
        await Documents.PutAsync(dana, channelId, document);
        var storage = server.Services.GetRequiredService<IDocumentStorage>();
        var store = server.Services.GetRequiredService<PostgresEventStore>();

        var (_, deleted) = await AfterAsync(TimeSpan.FromDays(DocumentFixture.RetentionDays + 1), () => DocumentDriver.CleanupAsync(server.Services));
        var after = await Documents.GetAsync(dana, document.DocumentId);

        Assert.True(deleted >= 1);
        Assert.Equal(DocumentStatus.Deleted, after.Status);
        Assert.Equal(0, await storage.BytesUsedAsync(document.DocumentId, Ct));
        Assert.Equal(0, await UsedBytesAsync(dana));
        Assert.Equal(StatusCode.FailedPrecondition, await DocumentDriver.StatusOfAsync(() => Documents.DownloadAsync(dana, document.DocumentId)));
        Assert.Contains(await store.ReadStreamAsync(DocumentDecider.StreamId(document.DocumentId), cancellationToken: Ct), e => e.Data is DocumentDeleted);
        Assert.Contains(await store.ReadAuditAsync(0, int.MaxValue, Ct),
            e => e.Entry.Action == DocumentCleanup.DeleteAction && e.Entry.Target == document.DocumentId.ToString());
    }

    /// <summary>Runs <paramref name="action"/> with the server's clock moved ahead, then moves it back (sessions and later tests see the present).</summary>
    private async Task<T> AfterAsync<T>(TimeSpan ahead, Func<Task<T>> action)
    {
        server.Clock.Advance(ahead);
        try
        {
            return await action();
        }
        finally
        {
            server.Clock.Advance(-ahead);
        }
    }

    public void Dispose() => _driver.Dispose();
}
