using System.Runtime.CompilerServices;
using GlobeSecure.Contracts.V1;

namespace GlobeSecure.Client.Tests.Story;

/// <summary>
/// Information requests through <see cref="GlobeClient"/> against the real server and PostgreSQL:
/// the draft is checked offline, the form travels only as an encrypted message in the request's thread.
/// </summary>
public sealed class RequestStoryTests(StoryServerFixture server) : IClassFixture<StoryServerFixture>
{
    private const string Rfi = "request-for-information";

    private static readonly ConditionalWeakTable<StoryServerFixture, Task<CaseCast>> Casts = new();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>Kenya's Otieno requests; Brazil's Ana is asked.</summary>
    private Task<CaseCast> CastAsync() => Casts.GetValue(server, CaseCast.CreateAsync);

    private static Task<string> ExampleDraftAsync() =>
        File.ReadAllTextAsync(Path.Combine(AppContext.BaseDirectory, "Templates", "request-for-information.draft.json"), Ct);

    [Fact]
    public async Task Submit_IncompleteDraft_RefusedWithEveryProblemAndNothingSent()
    {
        var c = await CastAsync();
        var channelsBefore = (await c.Otieno.Client.ListChannelsAsync(Ct)).Count;
        var requestsBefore = (await c.Otieno.Client.ListRequestsAsync(RequestDirection.Outgoing, cancellationToken: Ct)).Count;
        var requestId = Guid.CreateVersion7();

        var refused = await Assert.ThrowsAsync<DraftRejectedException>(() => c.Otieno.Client.SubmitRequestAsync(
            new RequestSubmission(Rfi, 0, c.Brazil, """{ "parties": { "case_reference": "EACC/INV/2026/0413" } }""", RequestId: requestId), Ct));
        var channelsAfter = (await c.Otieno.Client.ListChannelsAsync(Ct)).Count;
        var requestsAfter = (await c.Otieno.Client.ListRequestsAsync(RequestDirection.Outgoing, cancellationToken: Ct)).Count;
        var lookup = await Assert.ThrowsAsync<GlobeClientException>(() => c.Otieno.Client.GetRequestAsync(requestId, Ct));

        Assert.Contains(refused.Problems, p => p.Path == "facts.offences");
        Assert.Contains(refused.Problems, p => p.Path == "request.intended_use");
        Assert.All(refused.Problems, p => Assert.Contains(p.Path, refused.Message, StringComparison.Ordinal));
        Assert.Equal(Rfi, refused.TemplateId);
        Assert.Equal(channelsBefore, channelsAfter);
        Assert.Equal(requestsBefore, requestsAfter);
        Assert.Equal(Grpc.Core.StatusCode.NotFound, lookup.Status);
    }

    [Fact]
    public async Task Submit_ExampleDraft_RequestedAuthorityReadsFormAcknowledgesAndAnswersAndBothSeeAnswered()
    {
        var c = await CastAsync();
        var draft = await ExampleDraftAsync();

        var submitted = await c.Otieno.Client.SubmitRequestAsync(new RequestSubmission(Rfi, 0, c.Brazil, draft, Urgency.Urgent), Ct);
        var requestId = Guid.Parse(submitted.Request.RequestId);
        var incoming = await c.Ana.Client.ListRequestsAsync(RequestDirection.Incoming, cancellationToken: Ct);
        var seen = Assert.Single(incoming, r => r.RequestId == submitted.Request.RequestId);
        var form = await c.Ana.Client.ReadRequestFormAsync(seen, Ct);
        var acknowledged = await c.Ana.Client.AcknowledgeRequestAsync(requestId, Ct);
        await c.Ana.Client.SendTextAsync(submitted.ChannelId, "Register extract and statements attached to follow; beneficial owner is J. K. Mwangi.",
            new SendOptions(ReplyTo: submitted.FormMessageId), Ct);
        var answered = await c.Ana.Client.AnswerRequestAsync(requestId, Ct);
        var requesterSees = await c.Otieno.Client.GetRequestAsync(requestId, Ct);
        var answerMessage = await c.Otieno.Client.OpenAsync((await c.Otieno.Client.HistoryAsync(submitted.ChannelId, cancellationToken: Ct))[0], Ct);
        var requestedSees = await c.Ana.Client.GetRequestAsync(requestId, Ct);

        Assert.Equal(RequestStatus.Sent, submitted.Request.Status);
        Assert.Equal((c.Kenya.ToString(), c.Brazil.ToString()), (seen.RequestingAuthorityId, seen.RequestedAuthorityId));
        Assert.Equal((Rfi, Urgency.Urgent, submitted.ChannelId.ToString()), (seen.TemplateId, seen.Urgency, seen.ChannelId));
        Assert.Equal(draft, form.Json);
        Assert.Equal(GlobeClient.RequestFormContentType, form.Message.ContentType);
        Assert.Equal(c.Otieno.UserId, form.Message.SenderUserId);
        Assert.Equal(RequestStatus.Acknowledged, acknowledged.Status);
        Assert.Equal(RequestStatus.Answered, answered.Status);
        Assert.Equal(RequestStatus.Answered, requesterSees.Status);
        Assert.Equal(RequestStatus.Answered, requestedSees.Status);
        Assert.NotNull(requesterSees.FirstAnswerAt);
        Assert.Equal("Register extract and statements attached to follow; beneficial owner is J. K. Mwangi.", answerMessage.Text);
        Assert.Equal(c.Brazil, answerMessage.SenderAuthorityId);
    }

    [Fact]
    public async Task Submit_RetriedAfterFailingPartWay_FinishesWithOneThreadAndOneForm()
    {
        var c = await CastAsync();
        var draft = await ExampleDraftAsync();
        var requestId = Guid.CreateVersion7();
        var channelsBefore = (await c.Otieno.Client.ListChannelsAsync(Ct)).Count;
        // The first attempt got as far as opening the thread (whose id is the request id) and died.
        await c.Otieno.Client.CreateChannelAsync($"Request {requestId}", channelId: requestId, cancellationToken: Ct);

        var retried = await c.Otieno.Client.SubmitRequestAsync(new RequestSubmission(Rfi, 0, c.Brazil, draft, RequestId: requestId), Ct);
        var again = await c.Otieno.Client.SubmitRequestAsync(new RequestSubmission(Rfi, 0, c.Brazil, draft, RequestId: requestId), Ct);
        var changed = await Assert.ThrowsAsync<GlobeClientException>(() => c.Otieno.Client.SubmitRequestAsync(
            new RequestSubmission(Rfi, 0, c.Kenya, draft, RequestId: requestId), Ct));
        var channelsAfter = (await c.Otieno.Client.ListChannelsAsync(Ct)).Count;
        var thread = await c.Otieno.Client.HistoryAsync(requestId, cancellationToken: Ct);

        Assert.Equal(RequestStatus.Sent, retried.Request.Status);
        Assert.Equal((requestId, requestId), (retried.ChannelId, retried.FormMessageId));
        Assert.Equal(retried.Request.RequestId, again.Request.RequestId);
        Assert.Equal(RequestStatus.Sent, again.Request.Status);
        Assert.Equal(channelsBefore + 1, channelsAfter);
        Assert.Single(thread, m => m.Envelope.Header.MessageId == requestId.ToString());
        Assert.Equal(Grpc.Core.StatusCode.AlreadyExists, changed.Status);
    }

    [Fact]
    public async Task Submit_WithoutUrgency_TakesTheDraftsAndAContradictingOneIsADraftProblem()
    {
        var c = await CastAsync();
        var draft = await ExampleDraftAsync();

        var submitted = await c.Otieno.Client.SubmitRequestAsync(new RequestSubmission(Rfi, 0, c.Brazil, draft, SendNow: false), Ct);
        var refused = await Assert.ThrowsAsync<DraftRejectedException>(() =>
            c.Otieno.Client.SubmitRequestAsync(new RequestSubmission(Rfi, 0, c.Brazil, draft, Urgency.Emergency, SendNow: false), Ct));

        Assert.Equal(Urgency.Urgent, submitted.Request.Urgency);
        Assert.Equal(RequestStatus.Draft, submitted.Request.Status);
        var problem = Assert.Single(refused.Problems);
        Assert.Equal("request.urgency", problem.Path);
        Assert.Contains("urgent", problem.Problem, StringComparison.Ordinal);
    }
}
