using GlobeSecure.Contracts.V1;
using GlobeSecure.Crypto;
using GlobeSecure.EventStore;
using GlobeSecure.Server.Tests.Channels;
using GlobeSecure.Server.Tests.Identity;
using Google.Rpc;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;

namespace GlobeSecure.Server.Tests.Requests;

/// <summary>
/// GetRequestRecord (the server's part of an export package) through a real gRPC channel on real
/// PostgreSQL: Alice (commission) asks Carol (police); Dave's authority is party to nothing.
/// </summary>
public sealed class RequestRecordTests(RequestFixture server) : IClassFixture<RequestFixture>, IDisposable
{
    private const string Action = "/globesecure.v1.RequestService/GetRequestRecord";
    private readonly NetworkDriver _driver = new(server);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private RequestService.RequestServiceClient Requests => new(_driver.Channel);

    public void Dispose() => _driver.Dispose();

    private async Task<(ChannelWorld World, Member Dave, InformationRequest Request)> AnsweredAsync()
    {
        var (world, dave) = await server.RequestWorldAsync(_driver);
        var channels = new ChannelDriver(_driver, world.Network);
        var thread = await channels.CreateAsync(world.Alice, world.Alice, world.Bob);
        thread = await channels.AddAuthorityAsync(world.Alice, thread, world.Carol.AuthorityId, world.Alice, world.Bob, world.Carol);
        var request = await Requests.CreateRequestAsync(new CreateRequestRequest
        {
            RequestId = Guid.CreateVersion7().ToString(), RequestedAuthorityId = world.Carol.AuthorityId.ToString(), TemplateId = "request-for-information",
            TemplateVersion = 1, Urgency = Urgency.Normal, ChannelId = thread.ChannelId,
        }, world.Alice.Headers, cancellationToken: Ct);
        var act = new RequestActionRequest { RequestId = request.RequestId };
        await Requests.SendRequestAsync(new SendRequestRequest { RequestId = request.RequestId }, world.Alice.Headers, cancellationToken: Ct);
        await Requests.AcknowledgeAsync(act, world.Carol.Headers, cancellationToken: Ct);
        await Requests.AnswerAsync(act, world.Carol.Headers, cancellationToken: Ct);
        return (world, dave, request);
    }

    private Task<RequestRecord> RecordAsync(Member caller, string requestId) =>
        Requests.GetRequestRecordAsync(new GetRequestRecordRequest { RequestId = requestId }, caller.Headers, cancellationToken: Ct).ResponseAsync;

    private async Task<IReadOnlyList<StoredAuditEntry>> AuditAsync() =>
        await server.Services.GetRequiredService<PostgresEventStore>().ReadAuditAsync(0, 100_000, Ct);

    [Fact]
    public async Task GetRequestRecord_EitherParty_EventsAndAuditWhoseLinksRecomputeAndTheReadIsAudited()
    {
        var (w, dave, request) = await AnsweredAsync();
        await Assert.ThrowsAsync<RpcException>(() => RecordAsync(dave, request.RequestId));

        var asRequester = await RecordAsync(w.Alice, request.RequestId);
        var asRequested = await RecordAsync(w.Carol, request.RequestId);

        Assert.Equal(request.RequestId, asRequester.RequestId);
        Assert.Equal([1L, 2, 3, 4], asRequester.Events.Select(e => e.Version));
        Assert.All(asRequester.Events, e => Assert.Equal($"request-{request.RequestId}", e.StreamId));
        Assert.All(asRequester.Events, e => Assert.Equal(e.Hash.ToByteArray(), ChainLinks.EventLink(e.PreviousHash.Span, e.Position, Guid.Parse(e.EventId),
            e.StreamId, e.Version, e.Type, e.DataJson, e.MetadataJson, e.RecordedAt.ToDateTimeOffset())));
        Assert.Equal(["/globesecure.v1.RequestService/CreateRequest", "/globesecure.v1.RequestService/SendRequest",
            "/globesecure.v1.RequestService/Acknowledge", "/globesecure.v1.RequestService/Answer"], asRequester.Audit.Select(a => a.Action));
        Assert.All(asRequester.Audit, a => Assert.Equal(a.Hash.ToByteArray(), ChainLinks.AuditLink(a.PreviousHash.Span, a.Position, Guid.Parse(a.EntryId),
            a.OccurredAt.ToDateTimeOffset(), a.Action, a.Outcome, Id(a.ActorUserId), Id(a.ActorDeviceId), Id(a.ActorAuthorityId), a.Target, a.Reason, a.Peer,
            a.TraceId)));
        Assert.DoesNotContain(asRequested.Audit, a => a.ActorAuthorityId == dave.AuthorityId.ToString());
        Assert.Contains(asRequested.Audit, a => a.Action == Action && a.ActorUserId == w.Alice.UserId.ToString() && a.Outcome == "allowed");
        Assert.False(asRequested.AuditTruncated);
    }

    [Fact]
    public async Task GetRequestRecord_ThirdAuthority_NotFoundAndAudited()
    {
        var (_, dave, request) = await AnsweredAsync();

        var error = await Assert.ThrowsAsync<RpcException>(() => RecordAsync(dave, request.RequestId));

        Assert.Equal(StatusCode.NotFound, error.StatusCode);
        // Like GetRequest's: the error-mapping interceptor records the failure (without a target, so the parties' record never shows the probe).
        Assert.Contains(await AuditAsync(), e => e.Entry.Action == Action && e.Entry.Outcome == AuditOutcome.Failed && e.Entry.ActorUserId == dave.UserId
            && e.Entry.Reason == nameof(StatusCode.NotFound));
    }

    [Fact]
    public async Task GetRequestRecord_NetworkAdministratorOrAnonymous_RefusedAndAudited()
    {
        var (w, _, request) = await AnsweredAsync();

        var administrator = await Assert.ThrowsAsync<RpcException>(() => RecordAsync(w.Network.Administrator, request.RequestId));
        var anonymous = await Assert.ThrowsAsync<RpcException>(() =>
            Requests.GetRequestRecordAsync(new GetRequestRecordRequest { RequestId = request.RequestId }, cancellationToken: Ct).ResponseAsync);

        Assert.Equal(StatusCode.PermissionDenied, administrator.StatusCode);
        Assert.Equal(StatusCode.Unauthenticated, anonymous.StatusCode);
        var audit = await AuditAsync();
        Assert.Contains(audit, e => e.Entry.Action == Action && e.Entry.Outcome == AuditOutcome.Denied && e.Entry.ActorUserId == w.Network.Administrator.UserId);
        Assert.Contains(audit, e => e.Entry.Action == Action && e.Entry.Outcome == AuditOutcome.Denied && e.Entry.ActorUserId is null
            && e.Entry.Target == request.RequestId);
    }

    [Fact]
    public async Task GetRequestRecord_MalformedId_InvalidArgumentNamingTheField()
    {
        var (w, _, _) = await AnsweredAsync();

        var error = await Assert.ThrowsAsync<RpcException>(() => RecordAsync(w.Alice, "not-a-uuid"));

        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.Equal(["request_id"], error.GetRpcStatus()!.GetDetail<BadRequest>().FieldViolations.Select(v => v.Field));
    }

    private static Guid? Id(string text) => text.Length == 0 ? null : Guid.Parse(text);
}
