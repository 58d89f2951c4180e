using GlobeSecure.Contracts.V1;
using GlobeSecure.EventStore;
using RequestOverdue = GlobeSecure.Server.Requests.RequestOverdue;
using GlobeSecure.Server.Tests.Channels;
using GlobeSecure.Server.Tests.Identity;
using Google.Protobuf.WellKnownTypes;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using RequestService = GlobeSecure.Contracts.V1.RequestService;

namespace GlobeSecure.Server.Tests.Requests;

/// <summary>Emergency deadlines of minutes (so sessions outlive them) and no timed pass: the test runs the pass.</summary>
public sealed class RequestOverdueFixture : RequestFixture
{
    protected override void Configure(WebApplicationBuilder builder)
    {
        base.Configure(builder);
        builder.Configuration["Globe:Requests:Deadlines:Emergency:Acknowledge"] = "00:04:00";
        builder.Configuration["Globe:Requests:Deadlines:Emergency:Answer"] = "00:06:00";
        builder.Configuration["Globe:Requests:Overdue:Interval"] = "365.00:00:00";
    }
}

/// <summary>The overdue pass, lists and statistics over one scenario on its own database: Alice (commission, KE) asks Carol (police, UG) three times.</summary>
public sealed class RequestOverdueTests(RequestOverdueFixture server) : IClassFixture<RequestOverdueFixture>, IDisposable
{
    private readonly NetworkDriver _driver = new(server);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private RequestService.RequestServiceClient Requests => new(_driver.Channel);

    public void Dispose() => _driver.Dispose();

    private async Task<InformationRequest> SendAsync(Member by, Member to, Channel thread, Urgency urgency)
    {
        var draft = await Requests.CreateRequestAsync(new CreateRequestRequest
        {
            RequestId = Guid.CreateVersion7().ToString(), RequestedAuthorityId = to.AuthorityId.ToString(), TemplateId = "request-for-information",
            TemplateVersion = 1, Urgency = urgency, ChannelId = thread.ChannelId,
        }, by.Headers, cancellationToken: Ct);
        return await Requests.SendRequestAsync(new SendRequestRequest { RequestId = draft.RequestId }, by.Headers, cancellationToken: Ct);
    }

    [Fact]
    public async Task OverduePass_EmergencyUnanswered_MarksOnceAndListsAndStatisticsShowIt()
    {
        var (w, dave) = await server.RequestWorldAsync(_driver);
        var channels = new ChannelDriver(_driver, w.Network);
        var thread = await channels.CreateAsync(w.Alice, w.Alice, w.Bob);
        thread = await channels.AddAuthorityAsync(w.Alice, thread, w.Carol.AuthorityId, w.Alice, w.Bob, w.Carol);
        var pass = server.Services.GetRequiredService<RequestOverdue>();

        var answered = await SendAsync(w.Alice, w.Carol, thread, Urgency.Normal);
        var emergency = await SendAsync(w.Alice, w.Carol, thread, Urgency.Emergency);
        var declined = await SendAsync(w.Alice, w.Carol, thread, Urgency.Normal);
        Assert.Equal(TimeSpan.FromMinutes(4), emergency.AcknowledgeBy.ToDateTimeOffset() - emergency.SentAt.ToDateTimeOffset());
        Assert.Equal(0, await pass.RunOnceAsync(Ct));

        int firstPass, secondPass;
        try
        {
            server.Clock.Advance(TimeSpan.FromMinutes(2));
            await Requests.AcknowledgeAsync(new RequestActionRequest { RequestId = answered.RequestId }, w.Carol.Headers, cancellationToken: Ct);
            await Requests.DeclineAsync(new DeclineInformationRequest { RequestId = declined.RequestId, Reason = DeclineReasonCategory.InformationNotHeld },
                w.Carol.Headers, cancellationToken: Ct);
            server.Clock.Advance(TimeSpan.FromMinutes(3));
            await Requests.AnswerAsync(new RequestActionRequest { RequestId = answered.RequestId }, w.Carol.Headers, cancellationToken: Ct);
            server.Clock.Advance(TimeSpan.FromMinutes(2));
            firstPass = await pass.RunOnceAsync(Ct);
            secondPass = await pass.RunOnceAsync(Ct);
        }
        finally
        {
            server.Clock.Advance(TimeSpan.FromMinutes(-7));
        }

        Assert.Equal(2, firstPass);
        Assert.Equal(0, secondPass);
        var marked = await Requests.GetRequestAsync(new GetRequestRequest { RequestId = emergency.RequestId }, w.Alice.Headers, cancellationToken: Ct);
        Assert.True(marked.AcknowledgeOverdue);
        Assert.True(marked.AnswerOverdue);
        var audit = await server.Services.GetRequiredService<PostgresEventStore>().ReadAuditAsync(0, 100_000, Ct);
        Assert.Single(audit, e => e.Entry.Action == RequestOverdue.MarkAction && e.Entry.Target == emergency.RequestId);

        var overdue = await Requests.ListRequestsAsync(new ListRequestsRequest { Direction = RequestDirection.Incoming, OverdueOnly = true }, w.Carol.Headers,
            cancellationToken: Ct);
        Assert.Equal([emergency.RequestId], overdue.Requests.Select(r => r.RequestId));
        var outgoingAnswered = await Requests.ListRequestsAsync(
            new ListRequestsRequest { Direction = RequestDirection.Outgoing, Statuses = { RequestStatus.Answered } }, w.Alice.Headers, cancellationToken: Ct);
        Assert.Equal([answered.RequestId], outgoingAnswered.Requests.Select(r => r.RequestId));
        var davesList = await Requests.ListRequestsAsync(new ListRequestsRequest(), dave.Headers, cancellationToken: Ct);
        Assert.Empty(davesList.Requests);

        var all = await Requests.GetStatisticsAsync(new GetStatisticsRequest(), w.Network.Administrator.Headers, cancellationToken: Ct);
        var police = Assert.Single(all.Groups, g => g is { Scope: StatisticsScope.Authority, As: RequestParty.Requested } && g.Id == w.Carol.AuthorityId.ToString());
        Assert.Equal(3, police.Total);
        Assert.Equal(
            [(RequestStatus.Sent, 1), (RequestStatus.Answered, 1), (RequestStatus.Declined, 1)],
            police.ByStatus.Select(s => (s.Status, s.Count)));
        Assert.Equal([(Urgency.Normal, 2), (Urgency.Emergency, 1)], police.ByUrgency.Select(u => (u.Urgency, u.Count)));
        Assert.Equal(1, police.TimeToAcknowledge.Count);
        // The test clock is the real one moved ahead, so the durations are the advances plus the calls' own time.
        Assert.InRange(police.TimeToAcknowledge.Median.ToTimeSpan(), TimeSpan.FromMinutes(2), TimeSpan.FromMinutes(2.5));
        Assert.InRange(police.TimeToAnswer.Percentile90.ToTimeSpan(), TimeSpan.FromMinutes(5), TimeSpan.FromMinutes(5.5));
        Assert.Equal(1, police.TimeToAnswer.Count);
        Assert.Equal((1, 1), (police.AcknowledgeOverdue, police.AnswerOverdue));
        var uganda = Assert.Single(all.Groups, g => g is { Scope: StatisticsScope.Country, As: RequestParty.Requested });
        Assert.Equal(("UG", 3), (uganda.Id, uganda.Total));
        Assert.Contains(all.Groups, g => g is { Scope: StatisticsScope.Country, As: RequestParty.Requesting, Id: "KE", Total: 3 });

        var carols = await Requests.GetStatisticsAsync(new GetStatisticsRequest(), w.Carol.Headers, cancellationToken: Ct);
        Assert.Equal(police, Assert.Single(carols.Groups));
        var later = await Requests.GetStatisticsAsync(new GetStatisticsRequest { From = Timestamp.FromDateTimeOffset(server.Clock.GetUtcNow().AddHours(1)) },
            w.Network.Administrator.Headers, cancellationToken: Ct);
        Assert.Empty(later.Groups);
        var davesFigures = await Requests.GetStatisticsAsync(new GetStatisticsRequest(), dave.Headers, cancellationToken: Ct);
        Assert.Empty(davesFigures.Groups);
    }
}
