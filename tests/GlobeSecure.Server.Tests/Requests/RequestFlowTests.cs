using GlobeSecure.Contracts.V1;
using GlobeSecure.EventStore;
using GlobeSecure.Server.Tests.Channels;
using GlobeSecure.Server.Tests.Identity;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;

namespace GlobeSecure.Server.Tests.Requests;

/// <summary>The channel world plus a third authority (Dave's) that is party to none of the requests.</summary>
public class RequestFixture : ChannelFixture
{
    private Member? _dave;

    public async Task<(ChannelWorld World, Member Dave)> RequestWorldAsync(NetworkDriver driver)
    {
        var world = await WorldAsync(driver);
        if (_dave is null)
        {
            var bureau = await driver.AdmitAuthorityAsync(world.Network.Administrator, world.SecondAdmin, "Financial Intelligence Unit", "TZ");
            _dave = await InvestigatorAsync(driver, bureau, "Dave");
        }

        return (world, _dave);
    }
}

/// <summary>Information requests through a real gRPC channel to a real server on real PostgreSQL: Alice (commission) asks Carol (police).</summary>
public sealed class RequestFlowTests(RequestFixture server) : IClassFixture<RequestFixture>, IDisposable
{
    private const string SeedTemplate = "request-for-information";
    private readonly NetworkDriver _driver = new(server);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private RequestService.RequestServiceClient Requests => new(_driver.Channel);

    public void Dispose() => _driver.Dispose();

    private async Task<(ChannelWorld World, Member Dave, Channel Thread)> ArrangeAsync()
    {
        var (world, dave) = await server.RequestWorldAsync(_driver);
        var channels = new ChannelDriver(_driver, world.Network);
        var thread = await channels.CreateAsync(world.Alice, world.Alice, world.Bob);
        thread = await channels.AddAuthorityAsync(world.Alice, thread, world.Carol.AuthorityId, world.Alice, world.Bob, world.Carol);
        return (world, dave, thread);
    }

    private async Task<InformationRequest> DraftAsync(Member by, Member to, Channel thread, Urgency urgency = Urgency.Normal, bool spontaneous = false) =>
        await Requests.CreateRequestAsync(new CreateRequestRequest
        {
            RequestId = Guid.CreateVersion7().ToString(), RequestedAuthorityId = to.AuthorityId.ToString(), TemplateId = SeedTemplate, TemplateVersion = 1,
            Urgency = urgency, Spontaneous = spontaneous, ChannelId = thread.ChannelId,
        }, by.Headers, cancellationToken: Ct);

    private static RequestActionRequest Act(InformationRequest r) => new() { RequestId = r.RequestId };

    /// <summary>A normal request from Alice to Carol, drafted and sent.</summary>
    private async Task<InformationRequest> SentAsync(ChannelWorld w, Channel thread)
    {
        var draft = await DraftAsync(w.Alice, w.Carol, thread);
        return await Requests.SendRequestAsync(new SendRequestRequest { RequestId = draft.RequestId }, w.Alice.Headers, cancellationToken: Ct);
    }

    private async Task<RequestStatus> StatusAsync(Member reader, InformationRequest request) =>
        (await Requests.GetRequestAsync(new GetRequestRequest { RequestId = request.RequestId }, reader.Headers, cancellationToken: Ct)).Status;

    private async Task<IReadOnlyList<StoredAuditEntry>> AuditAsync() =>
        await server.Services.GetRequiredService<PostgresEventStore>().ReadAuditAsync(0, 100_000, Ct);

    [Fact]
    public async Task Lifecycle_TwoAuthoritiesWithClarification_ReachesClosedWithDeadlinesAndAudit()
    {
        var (w, _, thread) = await ArrangeAsync();
        var draft = await DraftAsync(w.Alice, w.Carol, thread, Urgency.Urgent);
        Assert.Equal(RequestStatus.Draft, draft.Status);
        Assert.Equal(SeedTemplate, draft.TemplateId);
        Assert.Equal(["send", "withdraw"], draft.AllowedActions);

        var sent = await Requests.SendRequestAsync(new SendRequestRequest { RequestId = draft.RequestId }, w.Alice.Headers, cancellationToken: Ct);
        Assert.Equal(RequestStatus.Sent, sent.Status);
        Assert.Equal(TimeSpan.FromDays(3), sent.AnswerBy.ToDateTimeOffset() - sent.SentAt.ToDateTimeOffset());

        var asCarol = await Requests.GetRequestAsync(new GetRequestRequest { RequestId = draft.RequestId }, w.Carol.Headers, cancellationToken: Ct);
        Assert.Contains("acknowledge", asCarol.AllowedActions);
        Assert.DoesNotContain("withdraw", asCarol.AllowedActions);

        await Requests.AcknowledgeAsync(Act(draft), w.Carol.Headers, cancellationToken: Ct);
        await Requests.StartWorkAsync(Act(draft), w.Carol.Headers, cancellationToken: Ct);
        var question = Guid.CreateVersion7().ToString();
        var asked = await Requests.RequestClarificationAsync(new ClarificationRequest { RequestId = draft.RequestId, QuestionId = question }, w.Carol.Headers,
            cancellationToken: Ct);
        Assert.Equal(RequestStatus.ClarificationRequested, asked.Status);
        Assert.Equal(question, asked.OpenQuestionId);

        var resumed = await Requests.ProvideClarificationAsync(new ClarificationRequest { RequestId = draft.RequestId, QuestionId = question }, w.Alice.Headers,
            cancellationToken: Ct);
        Assert.Equal(RequestStatus.InProgress, resumed.Status);

        await Requests.PartiallyAnswerAsync(Act(draft), w.Carol.Headers, cancellationToken: Ct);
        var answered = await Requests.AnswerAsync(Act(draft), w.Carol.Headers, cancellationToken: Ct);
        Assert.Equal(RequestStatus.Answered, answered.Status);
        Assert.NotNull(answered.FirstAnswerAt);

        var closed = await Requests.CloseAsync(Act(draft), w.Alice.Headers, cancellationToken: Ct);
        Assert.Equal(RequestStatus.Closed, closed.Status);
        Assert.Empty(closed.AllowedActions);

        var audit = await AuditAsync();
        Assert.Contains(audit, e => e.Entry.Action == "/globesecure.v1.RequestService/Close" && e.Entry.Outcome == AuditOutcome.Allowed
            && e.Entry.Target == draft.RequestId);
    }

    [Fact]
    public async Task Decline_WithReason_IsRecordedAndOnlyCloseRemains()
    {
        var (w, _, thread) = await ArrangeAsync();
        var draft = await SentAsync(w, thread);

        var declined = await Requests.DeclineAsync(
            new DeclineInformationRequest { RequestId = draft.RequestId, Reason = DeclineReasonCategory.LegalImpediment }, w.Carol.Headers, cancellationToken: Ct);

        Assert.Equal(RequestStatus.Declined, declined.Status);
        Assert.Equal(DeclineReasonCategory.LegalImpediment, declined.DeclineReason);
        Assert.Empty(declined.AllowedActions);
        var asAlice = await Requests.GetRequestAsync(new GetRequestRequest { RequestId = draft.RequestId }, w.Alice.Headers, cancellationToken: Ct);
        Assert.Equal(["close"], asAlice.AllowedActions);
    }

    [Fact]
    public async Task Answer_BeforeAcknowledged_FailedPreconditionNamingAllowedActionsAndChangesNothing()
    {
        var (w, _, thread) = await ArrangeAsync();
        var draft = await SentAsync(w, thread);

        var error = await Assert.ThrowsAsync<RpcException>(() => Requests.AnswerAsync(Act(draft), w.Carol.Headers, cancellationToken: Ct).ResponseAsync);

        Assert.Equal(StatusCode.FailedPrecondition, error.StatusCode);
        Assert.Contains("allowed now: acknowledge (requested authority)", error.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(RequestStatus.Sent, await StatusAsync(w.Alice, draft));
    }

    [Fact]
    public async Task Acknowledge_ByRequestingSide_PermissionDeniedAndChangesNothing()
    {
        var (w, _, thread) = await ArrangeAsync();
        var draft = await SentAsync(w, thread);

        var error = await Assert.ThrowsAsync<RpcException>(() => Requests.AcknowledgeAsync(Act(draft), w.Alice.Headers, cancellationToken: Ct).ResponseAsync);

        Assert.Equal(StatusCode.PermissionDenied, error.StatusCode);
        Assert.Equal(RequestStatus.Sent, await StatusAsync(w.Carol, draft));
    }

    [Fact]
    public async Task AnyCall_ByThirdAuthority_NotFoundAuditedAndChangesNothing()
    {
        var (w, dave, thread) = await ArrangeAsync();
        var draft = await SentAsync(w, thread);

        var read = await Assert.ThrowsAsync<RpcException>(() =>
            Requests.GetRequestAsync(new GetRequestRequest { RequestId = draft.RequestId }, dave.Headers, cancellationToken: Ct).ResponseAsync);
        var ack = await Assert.ThrowsAsync<RpcException>(() => Requests.AcknowledgeAsync(Act(draft), dave.Headers, cancellationToken: Ct).ResponseAsync);
        var withdraw = await Assert.ThrowsAsync<RpcException>(() =>
            Requests.WithdrawAsync(new WithdrawInformationRequest { RequestId = draft.RequestId }, dave.Headers, cancellationToken: Ct).ResponseAsync);

        Assert.All([read, ack, withdraw], e => Assert.Equal(StatusCode.NotFound, e.StatusCode));
        Assert.Equal(RequestStatus.Sent, await StatusAsync(w.Alice, draft));
        var audit = await AuditAsync();
        Assert.Contains(audit, e => e.Entry.Action == "/globesecure.v1.RequestService/Acknowledge" && e.Entry.Outcome != AuditOutcome.Allowed
            && e.Entry.ActorUserId == dave.UserId);
    }

    [Fact]
    public async Task Draft_ReadByRequestedAuthority_NotFound()
    {
        var (w, _, thread) = await ArrangeAsync();
        var draft = await DraftAsync(w.Alice, w.Carol, thread);

        var error = await Assert.ThrowsAsync<RpcException>(() =>
            Requests.GetRequestAsync(new GetRequestRequest { RequestId = draft.RequestId }, w.Carol.Headers, cancellationToken: Ct).ResponseAsync);

        Assert.Equal(StatusCode.NotFound, error.StatusCode);
    }

    [Fact]
    public async Task Create_UnknownTemplateVersionAndChannelWithoutRequestedAuthority_InvalidArgumentAndNothingStored()
    {
        var (w, dave, thread) = await ArrangeAsync();
        var requestId = Guid.CreateVersion7().ToString();

        var badTemplate = await Assert.ThrowsAsync<RpcException>(() => Requests.CreateRequestAsync(new CreateRequestRequest
        {
            RequestId = requestId, RequestedAuthorityId = w.Carol.AuthorityId.ToString(), TemplateId = SeedTemplate, TemplateVersion = 99,
            Urgency = Urgency.Normal, ChannelId = thread.ChannelId,
        }, w.Alice.Headers, cancellationToken: Ct).ResponseAsync);
        var wrongThread = await Assert.ThrowsAsync<RpcException>(() => Requests.CreateRequestAsync(new CreateRequestRequest
        {
            RequestId = requestId, RequestedAuthorityId = dave.AuthorityId.ToString(), TemplateId = SeedTemplate, TemplateVersion = 1,
            Urgency = Urgency.Normal, ChannelId = thread.ChannelId,
        }, w.Alice.Headers, cancellationToken: Ct).ResponseAsync);

        Assert.Equal(StatusCode.InvalidArgument, badTemplate.StatusCode);
        Assert.Equal(StatusCode.InvalidArgument, wrongThread.StatusCode);
        var missing = await Assert.ThrowsAsync<RpcException>(() =>
            Requests.GetRequestAsync(new GetRequestRequest { RequestId = requestId }, w.Alice.Headers, cancellationToken: Ct).ResponseAsync);
        Assert.Equal(StatusCode.NotFound, missing.StatusCode);
    }

    [Fact]
    public async Task Acknowledge_ByNetworkAdministrator_PermissionDeniedAuditedAndChangesNothing()
    {
        var (w, _, thread) = await ArrangeAsync();
        var draft = await SentAsync(w, thread);

        var error = await Assert.ThrowsAsync<RpcException>(() =>
            Requests.AcknowledgeAsync(Act(draft), w.Network.Administrator.Headers, cancellationToken: Ct).ResponseAsync);

        Assert.Equal(StatusCode.PermissionDenied, error.StatusCode);
        Assert.Equal(RequestStatus.Sent, await StatusAsync(w.Carol, draft));
        Assert.Contains(await AuditAsync(), e => e.Entry.Action == "/globesecure.v1.RequestService/Acknowledge" && e.Entry.Outcome == AuditOutcome.Denied
            && e.Entry.ActorUserId == w.Network.Administrator.UserId && e.Entry.Target == draft.RequestId);
    }

    [Fact]
    public async Task GetRequest_Anonymous_UnauthenticatedAndAudited()
    {
        var (w, _, thread) = await ArrangeAsync();
        var draft = await SentAsync(w, thread);

        var error = await Assert.ThrowsAsync<RpcException>(() =>
            Requests.GetRequestAsync(new GetRequestRequest { RequestId = draft.RequestId }, cancellationToken: Ct).ResponseAsync);

        Assert.Equal(StatusCode.Unauthenticated, error.StatusCode);
        Assert.Contains(await AuditAsync(), e => e.Entry.Action == "/globesecure.v1.RequestService/GetRequest" && e.Entry.Outcome == AuditOutcome.Denied
            && e.Entry.ActorUserId is null && e.Entry.Target == draft.RequestId);
    }

    [Fact]
    public async Task Create_SameIdAgain_ReturnsTheRequestAndOtherContentAlreadyExists()
    {
        var (w, _, thread) = await ArrangeAsync();
        var create = new CreateRequestRequest
        {
            RequestId = Guid.CreateVersion7().ToString(), RequestedAuthorityId = w.Carol.AuthorityId.ToString(), TemplateId = SeedTemplate, TemplateVersion = 1,
            Urgency = Urgency.Urgent, ChannelId = thread.ChannelId,
        };
        var first = await Requests.CreateRequestAsync(create, w.Alice.Headers, cancellationToken: Ct);

        var again = await Requests.CreateRequestAsync(create, w.Alice.Headers, cancellationToken: Ct);
        create.Urgency = Urgency.Emergency;
        var conflict = await Assert.ThrowsAsync<RpcException>(() => Requests.CreateRequestAsync(create, w.Alice.Headers, cancellationToken: Ct).ResponseAsync);

        Assert.Equal(first, again);
        Assert.Equal(StatusCode.AlreadyExists, conflict.StatusCode);
        Assert.Equal(Urgency.Urgent, (await Requests.GetRequestAsync(new GetRequestRequest { RequestId = first.RequestId }, w.Alice.Headers,
            cancellationToken: Ct)).Urgency);
    }

    [Fact]
    public async Task SpontaneousDisclosure_Acknowledged_IsSentAtOnceNeverAnsweredAndClosable()
    {
        var (w, _, thread) = await ArrangeAsync();

        var disclosure = await DraftAsync(w.Alice, w.Carol, thread, Urgency.Normal, spontaneous: true);
        Assert.Equal(RequestStatus.Sent, disclosure.Status);
        Assert.Null(disclosure.AnswerBy);
        var asCarol = await Requests.AcknowledgeAsync(Act(disclosure), w.Carol.Headers, cancellationToken: Ct);
        var answer = await Assert.ThrowsAsync<RpcException>(() => Requests.AnswerAsync(Act(disclosure), w.Carol.Headers, cancellationToken: Ct).ResponseAsync);
        var closed = await Requests.CloseAsync(Act(disclosure), w.Alice.Headers, cancellationToken: Ct);

        Assert.Equal(["request clarification"], asCarol.AllowedActions);
        Assert.Equal(StatusCode.FailedPrecondition, answer.StatusCode);
        Assert.Equal(RequestStatus.Closed, closed.Status);
    }

    [Fact]
    public async Task Send_AnswerByEarlierThanDefault_SetsBothDeadlinesAndLaterIsInvalidArgument()
    {
        var (w, _, thread) = await ArrangeAsync();
        var now = DateTimeOffset.UtcNow;
        var early = await Requests.CreateRequestAsync(new CreateRequestRequest
        {
            RequestId = Guid.CreateVersion7().ToString(), RequestedAuthorityId = w.Carol.AuthorityId.ToString(), TemplateId = SeedTemplate, TemplateVersion = 1,
            Urgency = Urgency.Normal, ChannelId = thread.ChannelId, AnswerBy = Google.Protobuf.WellKnownTypes.Timestamp.FromDateTimeOffset(now.AddDays(2)),
        }, w.Alice.Headers, cancellationToken: Ct);
        var late = await Requests.CreateRequestAsync(new CreateRequestRequest
        {
            RequestId = Guid.CreateVersion7().ToString(), RequestedAuthorityId = w.Carol.AuthorityId.ToString(), TemplateId = SeedTemplate, TemplateVersion = 1,
            Urgency = Urgency.Normal, ChannelId = thread.ChannelId, AnswerBy = Google.Protobuf.WellKnownTypes.Timestamp.FromDateTimeOffset(now.AddDays(30)),
        }, w.Alice.Headers, cancellationToken: Ct);

        var sent = await Requests.SendRequestAsync(new SendRequestRequest { RequestId = early.RequestId }, w.Alice.Headers, cancellationToken: Ct);
        var error = await Assert.ThrowsAsync<RpcException>(() =>
            Requests.SendRequestAsync(new SendRequestRequest { RequestId = late.RequestId }, w.Alice.Headers, cancellationToken: Ct).ResponseAsync);

        Assert.Equal(early.AnswerBy, sent.AnswerBy);
        Assert.Equal(early.AnswerBy, sent.AcknowledgeBy);
        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.Contains("answer_by", error.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(RequestStatus.Draft, await StatusAsync(w.Alice, late));
    }

    [Fact]
    public async Task List_PagesOfTwo_ReturnEveryRequestOnceInOrderAndAForeignTokenIsInvalidArgument()
    {
        var (w, _, thread) = await ArrangeAsync();
        for (var i = 0; i < 5; i++)
        {
            await DraftAsync(w.Alice, w.Carol, thread);
        }

        var whole = await Requests.ListRequestsAsync(new ListRequestsRequest { Direction = RequestDirection.Outgoing, Limit = 500 }, w.Alice.Headers,
            cancellationToken: Ct);
        var paged = new List<string>();
        var pages = 0;
        var token = "";
        do
        {
            var page = await Requests.ListRequestsAsync(new ListRequestsRequest { Direction = RequestDirection.Outgoing, Limit = 2, PageToken = token },
                w.Alice.Headers, cancellationToken: Ct);
            Assert.InRange(page.Requests.Count, 1, 2);
            paged.AddRange(page.Requests.Select(r => r.RequestId));
            token = page.NextPageToken;
            pages++;
        }
        while (token.Length > 0);
        var error = await Assert.ThrowsAsync<RpcException>(() => Requests.ListRequestsAsync(
            new ListRequestsRequest { PageToken = "r1.bm90LWEtdG9rZW4" }, w.Alice.Headers, cancellationToken: Ct).ResponseAsync);

        Assert.True(whole.Requests.Count >= 5);
        Assert.Empty(whole.NextPageToken);
        Assert.Equal(whole.Requests.Select(r => r.RequestId), paged);
        Assert.Equal((whole.Requests.Count + 1) / 2, pages);
        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.Contains("page_token", error.Status.Detail, StringComparison.Ordinal);
    }
}
