using System.Runtime.CompilerServices;
using System.Text.Json.Nodes;
using GlobeSecure.Contracts.V1;
using GlobeSecure.EventStore;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using static GlobeSecure.Client.Tests.Story.RequestLifecycleScenario;

namespace GlobeSecure.Client.Tests.Story;

/// <summary>
/// Issue 7's end-to-end story through <see cref="GlobeClient"/>, the real server and PostgreSQL:
/// the whole lifecycle between Kenya and Brazil with a clarification and an attached answer, a
/// decline with its reason, a withdrawal, an emergency request that goes overdue on the server's
/// clock, an incomplete draft refused, and statistics checked figure by figure against the story
/// (<see cref="RequestLifecycleScenario"/>, played once per fixture; the tests only read it, and
/// refusals change nothing).
/// </summary>
public sealed class RequestLifecycleStoryTests(RequestLifecycleFixture server) : IClassFixture<RequestLifecycleFixture>
{
    private static readonly ConditionalWeakTable<RequestLifecycleFixture, Task<RequestLifecycleScenario>> Scenarios = new();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private Task<RequestLifecycleScenario> ScenarioAsync() => Scenarios.GetValue(server, RequestLifecycleScenario.PlayAsync);

    private static TimeSpan Hours(double hours) => TimeSpan.FromHours(hours);

    private static string[] Sorted(IEnumerable<string> actions) => [.. actions.Order(StringComparer.Ordinal)];

    private static void AssertStep(InformationRequest seen, RequestStatus status, params string[] allowed)
    {
        Assert.Equal(status, seen.Status);
        Assert.Equal(Sorted(allowed), Sorted(seen.AllowedActions));
    }

    [Fact]
    public async Task Lifecycle_ClarifiedPartlyThenFullyAnsweredWithDocumentAndClosed_EachSideSeesItsActionsAndTheOtherSidesWords()
    {
        var s = await ScenarioAsync();
        var (kenya, brazil, t0) = (s.Kenya, s.Brazil, s.Start);

        AssertStep(s["R1 sent", kenya], RequestStatus.Sent, "withdraw");
        AssertStep(s["R1 sent", brazil], RequestStatus.Sent, "acknowledge", "request clarification", "decline");
        AssertStep(s["R1 clarification requested", brazil], RequestStatus.ClarificationRequested, "decline");
        AssertStep(s["R1 clarification requested", kenya], RequestStatus.ClarificationRequested, "provide clarification", "withdraw");
        AssertStep(s["R1 clarified", kenya], RequestStatus.Sent, "withdraw");
        AssertStep(s["R1 clarified", brazil], RequestStatus.Sent, "acknowledge", "request clarification", "decline");
        AssertStep(s["R1 acknowledged", brazil], RequestStatus.Acknowledged, "start work", "answer", "answer partially", "decline", "request clarification");
        AssertStep(s["R1 acknowledged", kenya], RequestStatus.Acknowledged, "withdraw");
        AssertStep(s["R1 in progress", brazil], RequestStatus.InProgress, "answer", "answer partially", "decline", "request clarification");
        AssertStep(s["R1 partially answered", brazil], RequestStatus.PartiallyAnswered, "answer");
        AssertStep(s["R1 partially answered", kenya], RequestStatus.PartiallyAnswered, "close");
        AssertStep(s["R1 answered", brazil], RequestStatus.Answered);
        AssertStep(s["R1 answered", kenya], RequestStatus.Answered, "close");
        AssertStep(s["R1 closed", kenya], RequestStatus.Closed);
        AssertStep(s["R1 closed", brazil], RequestStatus.Closed);

        Assert.Equal(s.QuestionId.ToString(), s["R1 clarification requested", kenya].OpenQuestionId);
        Assert.Equal("", s["R1 clarified", brazil].OpenQuestionId);
        var closed = s["R1 closed", brazil];
        Assert.Equal((kenya.ToString(), brazil.ToString(), s.Cast.Otieno.UserId.ToString()),
            (closed.RequestingAuthorityId, closed.RequestedAuthorityId, closed.RequestingUserId));
        Assert.Equal((Rfi, 1L, Urgency.Normal, s.R1.ChannelId.ToString()), (closed.TemplateId, closed.TemplateVersion, closed.Urgency, closed.ChannelId));
        Assert.Equal(
            (t0, t0, t0 + TimeSpan.FromDays(7), t0 + TimeSpan.FromDays(7), t0 + Hours(4), t0 + Hours(25)),
            (closed.DraftedAt.ToDateTimeOffset(), closed.SentAt.ToDateTimeOffset(), closed.AcknowledgeBy.ToDateTimeOffset(),
                closed.AnswerBy.ToDateTimeOffset(), closed.AcknowledgedAt.ToDateTimeOffset(), closed.FirstAnswerAt.ToDateTimeOffset()));
        Assert.False(closed.AcknowledgeOverdue || closed.AnswerOverdue);

        Assert.Equal((Question, brazil, s.R1.FormMessageId), (s.Read["question"].Text, s.Read["question"].SenderAuthorityId, s.Read["question"].ReplyTo));
        Assert.Equal(s.QuestionId, s.Read["question"].MessageId);
        Assert.Equal((Clarification, kenya, s.QuestionId), (s.Read["clarification"].Text, s.Read["clarification"].SenderAuthorityId, s.Read["clarification"].ReplyTo));
        Assert.Equal((PartialAnswer, brazil), (s.Read["partial answer"].Text, s.Read["partial answer"].SenderAuthorityId));
        var answer = s.Read["full answer"];
        Assert.Equal((FullAnswer, brazil, s.Cast.Ana.UserId), (answer.Text, answer.SenderAuthorityId, answer.SenderUserId));
        var received = Assert.Single(answer.Attachments);
        Assert.Equal((s.Attachment.DocumentId, "statements-2023-2025.pdf", "application/pdf", 150_000L),
            (received.DocumentId, received.FileName, received.MediaType, received.PlaintextLength));
        Assert.Equal(s.AttachedBytes, s.DownloadedBytes);
    }

    [Fact]
    public async Task Act_StepTheStatusDoesNotAllow_FailedPreconditionNamingTheAllowedActionsAndNothingChanges()
    {
        var s = await ScenarioAsync();
        var (otieno, ana) = (s.Cast.Otieno, s.Cast.Ana);

        var answerClosed = await Assert.ThrowsAsync<GlobeClientException>(() => ana.Client.AnswerRequestAsync(Guid.Parse(s.R1.Request.RequestId), Ct));
        var startWithdrawn = await Assert.ThrowsAsync<GlobeClientException>(() => ana.Client.StartWorkOnRequestAsync(Guid.Parse(s.R3.Request.RequestId), Ct));
        var clarifyDeclined = await Assert.ThrowsAsync<GlobeClientException>(
            () => ana.Client.RequestClarificationAsync(Guid.Parse(s.R2.Request.RequestId), Guid.CreateVersion7(), Ct));
        var r1 = await otieno.Client.GetRequestAsync(Guid.Parse(s.R1.Request.RequestId), Ct);
        var r3 = await ana.Client.GetRequestAsync(Guid.Parse(s.R3.Request.RequestId), Ct);

        Assert.Equal(StatusCode.FailedPrecondition, s.AnswerWhileSent.Status);
        Assert.Equal("Cannot answer: the request is SENT; allowed now: acknowledge (requested authority), request clarification (requested authority), "
            + "decline (requested authority), withdraw (requesting authority).", s.AnswerWhileSent.Detail);
        Assert.Equal(StatusCode.FailedPrecondition, answerClosed.Status);
        Assert.Equal("Cannot answer: the request is CLOSED; allowed now: none (the request is finished).", answerClosed.Detail);
        Assert.Equal(StatusCode.FailedPrecondition, startWithdrawn.Status);
        Assert.Equal("Cannot start work: the request is WITHDRAWN; allowed now: close (requesting authority).", startWithdrawn.Detail);
        Assert.Equal(StatusCode.FailedPrecondition, clarifyDeclined.Status);
        Assert.Contains("allowed now: close (requesting authority)", clarifyDeclined.Detail, StringComparison.Ordinal);
        Assert.Equal(s["R1 closed", s.Kenya], r1);
        Assert.Equal(s["R3 withdrawn", s.Brazil], r3);
    }

    [Fact]
    public async Task Act_WrongSideOrThirdAuthority_PermissionDeniedOrNotFoundAndNothingChanges()
    {
        var s = await ScenarioAsync();
        var (otieno, ana, tendo) = (s.Cast.Otieno, s.Cast.Ana, s.Tendo);
        var r1 = Guid.Parse(s.R1.Request.RequestId);
        var r5 = Guid.Parse(s.R5.Request.RequestId);

        var requesterAnswers = await Assert.ThrowsAsync<GlobeClientException>(() => otieno.Client.AnswerRequestAsync(r5, Ct));
        var requestedCloses = await Assert.ThrowsAsync<GlobeClientException>(() => ana.Client.CloseRequestAsync(r5, Ct));
        var thirdReads = await Assert.ThrowsAsync<GlobeClientException>(() => tendo.Client.GetRequestAsync(r1, Ct));
        var thirdAcknowledges = await Assert.ThrowsAsync<GlobeClientException>(() => tendo.Client.AcknowledgeRequestAsync(r5, Ct));
        var thirdCloses = await Assert.ThrowsAsync<GlobeClientException>(() => tendo.Client.CloseRequestAsync(r5, Ct));
        var thirdLists = await tendo.Client.ListRequestsAsync(cancellationToken: Ct);
        var r5Now = await otieno.Client.GetRequestAsync(r5, Ct);

        Assert.Equal(StatusCode.PermissionDenied, s.AcknowledgeByRequester.Status);
        Assert.Contains("only the requested authority may acknowledge", s.AcknowledgeByRequester.Detail, StringComparison.Ordinal);
        Assert.Equal(StatusCode.PermissionDenied, requesterAnswers.Status);
        Assert.Equal(StatusCode.PermissionDenied, requestedCloses.Status);
        Assert.Contains("only the requesting authority may close", requestedCloses.Detail, StringComparison.Ordinal);
        Assert.Equal(new[] { StatusCode.NotFound, StatusCode.NotFound, StatusCode.NotFound }, new[] { thirdReads.Status, thirdAcknowledges.Status, thirdCloses.Status });
        Assert.Empty(thirdLists);
        AssertStep(r5Now, RequestStatus.Answered, "close");
        Assert.Equal(s["R5 answered", s.Brazil].FirstAnswerAt, r5Now.FirstAnswerAt);
    }

    [Fact]
    public async Task Decline_WithReasonAndExplanationInTheThread_RequesterSeesTheReasonAndReadsWhyAndARepeatRecordsNothing()
    {
        var s = await ScenarioAsync();
        var declined = s["R2 declined", s.Kenya];
        var r2 = Guid.Parse(declined.RequestId);
        var store = server.Services.GetRequiredService<PostgresEventStore>();
        var version = await store.StreamVersionAsync($"request-{r2}", Ct);

        var repeated = await s.Cast.Ana.Client.DeclineRequestAsync(r2, DeclineReasonCategory.InformationNotHeld, Ct);
        var otherReason = await Assert.ThrowsAsync<GlobeClientException>(() => s.Cast.Ana.Client.DeclineRequestAsync(r2, DeclineReasonCategory.LegalImpediment, Ct));
        var versionAfter = await store.StreamVersionAsync($"request-{r2}", Ct);

        AssertStep(s["R2 acknowledged", s.Brazil], RequestStatus.Acknowledged, "start work", "answer", "answer partially", "decline", "request clarification");
        AssertStep(declined, RequestStatus.Declined, "close");
        AssertStep(s["R2 declined", s.Brazil], RequestStatus.Declined);
        Assert.Equal(DeclineReasonCategory.InformationNotHeld, declined.DeclineReason);
        Assert.Equal((s.Start + Hours(50), s.Start + Hours(56)), (declined.SentAt.ToDateTimeOffset(), declined.AcknowledgedAt.ToDateTimeOffset()));
        Assert.Null(declined.FirstAnswerAt);
        Assert.Equal(s["R2 declined", s.Brazil], repeated);
        Assert.Equal(StatusCode.FailedPrecondition, otherReason.Status);
        Assert.Equal(version, versionAfter);
        Assert.Equal((DeclineExplanation, s.Brazil, s.R2.FormMessageId),
            (s.Read["decline explanation"].Text, s.Read["decline explanation"].SenderAuthorityId, s.Read["decline explanation"].ReplyTo));
    }

    [Fact]
    public async Task Withdraw_ByTheRequester_BothSidesSeeWithdrawnWithTheReasonAndOnlyTheRequesterMayClose()
    {
        var s = await ScenarioAsync();
        var withdrawn = s["R3 withdrawn", s.Brazil];

        AssertStep(s["R3 withdrawn", s.Kenya], RequestStatus.Withdrawn, "close");
        AssertStep(withdrawn, RequestStatus.Withdrawn);
        Assert.Equal(WithdrawReasonCategory.ObtainedElsewhere, withdrawn.WithdrawReason);
        Assert.Null(withdrawn.AcknowledgedAt);
        Assert.Equal((WithdrawExplanation, s.Kenya), (s.Read["withdraw explanation"].Text, s.Read["withdraw explanation"].SenderAuthorityId));
    }

    [Fact]
    public async Task OverduePass_EmergencyNotAcknowledgedAfterEightHours_MarkedOnceShownToBothSidesAndKeptAfterTheLateAcknowledgement()
    {
        var s = await ScenarioAsync();
        var sent = s["R4 sent", s.Brazil];
        var r4 = sent.RequestId;

        Assert.Equal(Urgency.Emergency, sent.Urgency);
        Assert.Equal((s.Start + Hours(60), s.Start + Hours(68), s.Start + Hours(84)),
            (sent.SentAt.ToDateTimeOffset(), sent.AcknowledgeBy.ToDateTimeOffset(), sent.AnswerBy.ToDateTimeOffset()));
        // At sending, at the deadline itself, an hour after it (the mark), at once again, after the late answer.
        Assert.Equal([0, 0, 1, 0, 0], s.Passes);
        Assert.Equal(s.R4VersionAroundRepeat.Before, s.R4VersionAroundRepeat.After);
        foreach (var side in new[] { s.Kenya, s.Brazil })
        {
            var overdue = s["R4 overdue", side];
            Assert.Equal((RequestStatus.Sent, true, false), (overdue.Status, overdue.AcknowledgeOverdue, overdue.AnswerOverdue));
        }

        Assert.Equal([r4], s.KenyaOverdueIncoming.Select(r => r.RequestId));
        Assert.Equal([r4], s.BrazilOverdueOutgoing.Select(r => r.RequestId));
        var late = s["R4 acknowledged late", s.Kenya];
        Assert.Equal((RequestStatus.Acknowledged, true, s.Start + Hours(70)), (late.Status, late.AcknowledgeOverdue, late.AcknowledgedAt.ToDateTimeOffset()));
        var answered = s["R4 answered", s.Brazil];
        Assert.Equal((RequestStatus.Answered, true, false), (answered.Status, answered.AcknowledgeOverdue, answered.AnswerOverdue));
        Assert.Equal((EmergencyAnswer, s.Kenya), (s.Read["emergency answer"].Text, s.Read["emergency answer"].SenderAuthorityId));

        var stillListed = await s.Cast.Ana.Client.ListRequestsAsync(RequestDirection.Outgoing, statuses: [RequestStatus.Answered], overdueOnly: true,
            cancellationToken: Ct);
        var events = await server.Services.GetRequiredService<PostgresEventStore>().ReadStreamAsync($"request-{r4}", cancellationToken: Ct);
        var audit = await server.Services.GetRequiredService<PostgresEventStore>().ReadAuditAsync(0, 100_000, Ct);
        Assert.Equal([r4], stillListed.Select(r => r.RequestId));
        Assert.Single(events, e => e.Type == "requests.marked-overdue");
        Assert.Single(audit, e => e.Entry.Action == "globesecure.requests/mark-overdue" && e.Entry.Target == r4);
    }

    [Fact]
    public async Task OverduePass_EarlierAnswerDeadlineSetByTheRequesterMissed_AnswerOverdueOnlyAndListedForBothSides()
    {
        var s = await ScenarioAsync();
        var sent = s["R6 sent", s.Brazil];
        var r6 = sent.RequestId;

        var kenyaOverdue = await s.Cast.Otieno.Client.ListRequestsAsync(RequestDirection.Incoming, overdueOnly: true, cancellationToken: Ct);
        var brazilOverdue = await s.Cast.Ana.Client.ListRequestsAsync(RequestDirection.Outgoing, overdueOnly: true, cancellationToken: Ct);

        // The earlier answer deadline also caps the acknowledge deadline (the week's default would be later).
        Assert.Equal((s.Start + Hours(75), s.Start + Hours(123), s.Start + Hours(123)),
            (sent.SentAt.ToDateTimeOffset(), sent.AcknowledgeBy.ToDateTimeOffset(), sent.AnswerBy.ToDateTimeOffset()));
        Assert.Equal(1, s.AnswerDeadlinePass);
        foreach (var side in new[] { s.Kenya, s.Brazil })
        {
            var overdue = s["R6 answer overdue", side];
            Assert.Equal((RequestStatus.Acknowledged, false, true), (overdue.Status, overdue.AcknowledgeOverdue, overdue.AnswerOverdue));
        }

        // Newest first: R6, then R4 (still marked after its late acknowledgement and answer).
        Assert.Equal([r6, s.R4.Request.RequestId], kenyaOverdue.Select(r => r.RequestId));
        Assert.Equal([r6, s.R4.Request.RequestId], brazilOverdue.Select(r => r.RequestId));
    }

    [Fact]
    public async Task Submit_DraftWithSeveralProblems_EachListedByItsPathAndNothingSent()
    {
        var s = await ScenarioAsync();
        var otieno = s.Cast.Otieno;
        var draft = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(AppContext.BaseDirectory, "Templates", "request-for-information.draft.json"), Ct))!;
        draft["parties"]!.AsObject().Remove("case_reference");
        draft["parties"]!["requested_state"] = "Brazil";
        draft["subjects"]!["persons"]![0]!["date_of_birth"] = "12/04/1979";
        draft["facts"]!["offences"]![1] = "tax_evasion";
        draft["request"]!["urgency"] = "asap";
        draft["subjects"]!["bank_accounts"]![0]!["iban"] = "DE89 3704 0044 0532 0130 01";
        var channelsBefore = (await otieno.Client.ListChannelsAsync(Ct)).Count;
        var requestsBefore = await otieno.Client.ListRequestsAsync(cancellationToken: Ct);
        var requestId = Guid.CreateVersion7();

        var refused = await Assert.ThrowsAsync<DraftRejectedException>(() => otieno.Client.SubmitRequestAsync(
            new RequestSubmission(Rfi, 0, s.Brazil, draft.ToJsonString(), Urgency.Urgent, RequestId: requestId), Ct));
        var channelsAfter = (await otieno.Client.ListChannelsAsync(Ct)).Count;
        var requestsAfter = await otieno.Client.ListRequestsAsync(cancellationToken: Ct);
        var lookup = await Assert.ThrowsAsync<GlobeClientException>(() => otieno.Client.GetRequestAsync(requestId, Ct));

        Assert.Equal(
            Sorted(["parties.case_reference", "parties.requested_state", "subjects.persons[0].date_of_birth", "facts.offences[1]", "request.urgency",
                "subjects.bank_accounts[0].iban"]),
            Sorted(refused.Problems.Select(p => p.Path)));
        Assert.Contains("required", refused.Problems.Single(p => p.Path == "parties.case_reference").Problem, StringComparison.Ordinal);
        Assert.Contains("bribery_of_national_public_officials", refused.Problems.Single(p => p.Path == "facts.offences[1]").Problem, StringComparison.Ordinal);
        Assert.Contains("emergency", refused.Problems.Single(p => p.Path == "request.urgency").Problem, StringComparison.Ordinal);
        Assert.All(refused.Problems, p => Assert.Contains(p.Path, refused.Message, StringComparison.Ordinal));
        Assert.Equal(channelsBefore, channelsAfter);
        Assert.Equal(requestsBefore.Select(r => r.RequestId), requestsAfter.Select(r => r.RequestId));
        Assert.Equal(StatusCode.NotFound, lookup.Status);
    }

    /// <summary>Before the fix the client opened the thread first: the refusal came after it and left an orphan channel "Request …".</summary>
    [Theory]
    [InlineData("own", StatusCode.InvalidArgument)]
    [InlineData("unknown", StatusCode.NotFound)]
    public async Task Submit_ToOwnOrUnknownAuthority_RefusedAndNoThreadIsLeftBehind(string to, StatusCode expected)
    {
        var s = await ScenarioAsync();
        var otieno = s.Cast.Otieno;
        var draft = await File.ReadAllTextAsync(Path.Combine(AppContext.BaseDirectory, "Templates", "request-for-information.draft.json"), Ct);
        var channelsBefore = (await otieno.Client.ListChannelsAsync(Ct)).Select(c => c.ChannelId).ToList();
        var requestId = Guid.CreateVersion7();

        var refused = await Assert.ThrowsAsync<GlobeClientException>(() => otieno.Client.SubmitRequestAsync(
            new RequestSubmission(Rfi, 0, to == "own" ? s.Kenya : Guid.CreateVersion7(), draft, RequestId: requestId), Ct));
        var channelsAfter = (await otieno.Client.ListChannelsAsync(Ct)).Select(c => c.ChannelId).ToList();
        var lookup = await Assert.ThrowsAsync<GlobeClientException>(() => otieno.Client.GetRequestAsync(requestId, Ct));

        Assert.Equal(expected, refused.Status);
        if (to == "own")
        {
            Assert.Equal("requested_authority_id", Assert.Single(refused.Violations).Field);
        }

        Assert.Equal(channelsBefore, channelsAfter);
        Assert.Equal(StatusCode.NotFound, lookup.Status);
    }

    [Fact]
    public async Task CreateRequest_EveryFieldMissing_InvalidArgumentListsEachFieldAndNothingIsStored()
    {
        var s = await ScenarioAsync();
        var requestId = Guid.CreateVersion7();

        var refused = await Assert.ThrowsAsync<GlobeClientException>(() => s.Cast.Otieno.Client.CreateRequestAsync(
            new CreateRequestRequest { RequestId = requestId.ToString() }, Ct));
        var lookup = await Assert.ThrowsAsync<GlobeClientException>(() => s.Cast.Otieno.Client.GetRequestAsync(requestId, Ct));

        Assert.Equal(StatusCode.InvalidArgument, refused.Status);
        Assert.Equal(Sorted(["requested_authority_id", "channel_id", "urgency", "template_id", "template_version"]),
            Sorted(refused.Violations.Select(v => v.Field)));
        Assert.Equal(StatusCode.NotFound, lookup.Status);
    }

    // ------------------------------------------------------------------ statistics

    private static StatisticsGroup Group(StatisticsScope scope, RequestParty side, string id, int total, (RequestStatus Status, int Count)[] statuses,
        (Urgency Urgency, int Count)[] urgencies, (int Count, TimeSpan? Median, TimeSpan? P90) acknowledge, (int Count, TimeSpan? Median, TimeSpan? P90) answer,
        int acknowledgeOverdue = 0, int answerOverdue = 0)
    {
        var group = new StatisticsGroup
        {
            Scope = scope, As = side, Id = id, Total = total, AcknowledgeOverdue = acknowledgeOverdue, AnswerOverdue = answerOverdue,
            TimeToAcknowledge = Figures(acknowledge), TimeToAnswer = Figures(answer),
        };
        group.ByStatus.Add(statuses.OrderBy(p => p.Status).Select(p => new StatusCount { Status = p.Status, Count = p.Count }));
        group.ByUrgency.Add(urgencies.OrderBy(p => p.Urgency).Select(p => new UrgencyCount { Urgency = p.Urgency, Count = p.Count }));
        return group;

        static DurationFigures Figures((int Count, TimeSpan? Median, TimeSpan? P90) f) => new()
        {
            Count = f.Count,
            Median = f.Median is { } m ? Duration.FromTimeSpan(m) : null,
            Percentile90 = f.P90 is { } p ? Duration.FromTimeSpan(p) : null,
        };
    }

    private static (StatisticsScope, RequestParty, string) Key(StatisticsGroup g) => (g.Scope, g.As, g.Id);

    private static void AssertGroups(IEnumerable<StatisticsGroup> expected, IEnumerable<StatisticsGroup> actual)
    {
        var want = expected.OrderBy(Key).ToList();
        var got = actual.OrderBy(Key).ToList();
        Assert.Equal(want.Select(Key), got.Select(Key));
        foreach (var (w, g) in want.Zip(got))
        {
            Assert.Equal(w, g);
        }
    }

    /// <summary>Kenya's four requests to Brazil: R1 (normal; acknowledged after 4 h, first answered after 25 h), R2 (urgent; 6 h, declined),
    /// R3 (normal; withdrawn), R5 (urgent; 1 h, 3 h). Acknowledged in {1, 4, 6} h: median (rank 2 of 3) 4 h, 90th percentile (rank 3) 6 h;
    /// answered in {3, 25} h: median (rank 1 of 2) 3 h, 90th percentile (rank 2) 25 h.</summary>
    private static StatisticsGroup KenyaToBrazil(StatisticsScope scope, RequestParty side, string id) => Group(scope, side, id, 4,
        [(RequestStatus.Closed, 1), (RequestStatus.Declined, 1), (RequestStatus.Withdrawn, 1), (RequestStatus.Answered, 1)],
        [(Urgency.Normal, 2), (Urgency.Urgent, 2)], (3, Hours(4), Hours(6)), (2, Hours(3), Hours(25)));

    /// <summary>Brazil's two requests to Kenya: R4 (emergency; acknowledged late after 10 h, marked acknowledge-overdue; answered after 12 h
    /// within its day) and R6 (normal; acknowledged after 1 h, marked answer-overdue). Acknowledged in {1, 10} h: median (rank 1 of 2) 1 h,
    /// 90th percentile (rank 2) 10 h; answered in {12} h.</summary>
    private static StatisticsGroup BrazilToKenya(StatisticsScope scope, RequestParty side, string id) => Group(scope, side, id, 2,
        [(RequestStatus.Answered, 1), (RequestStatus.Acknowledged, 1)], [(Urgency.Emergency, 1), (Urgency.Normal, 1)], (2, Hours(1), Hours(10)),
        (1, Hours(12), Hours(12)), acknowledgeOverdue: 1, answerOverdue: 1);

    /// <summary>R4 alone (the period test).</summary>
    private static StatisticsGroup EmergencyR4(StatisticsScope scope, RequestParty side, string id) => Group(scope, side, id, 1,
        [(RequestStatus.Answered, 1)], [(Urgency.Emergency, 1)], (1, Hours(10), Hours(10)), (1, Hours(12), Hours(12)), acknowledgeOverdue: 1);

    [Fact]
    public async Task Statistics_NetworkAdministrator_EveryAuthorityAndStateAsRequestingAndRequestedMatchTheStory()
    {
        var s = await ScenarioAsync();
        var (kenya, brazil) = (s.Kenya.ToString(), s.Brazil.ToString());

        var all = await s.Cast.SecondAdministrator.Client.GetRequestStatisticsAsync(cancellationToken: Ct);

        AssertGroups(
        [
            KenyaToBrazil(StatisticsScope.Authority, RequestParty.Requesting, kenya),
            KenyaToBrazil(StatisticsScope.Authority, RequestParty.Requested, brazil),
            KenyaToBrazil(StatisticsScope.Country, RequestParty.Requesting, "KE"),
            KenyaToBrazil(StatisticsScope.Country, RequestParty.Requested, "BR"),
            BrazilToKenya(StatisticsScope.Authority, RequestParty.Requesting, brazil),
            BrazilToKenya(StatisticsScope.Authority, RequestParty.Requested, kenya),
            BrazilToKenya(StatisticsScope.Country, RequestParty.Requesting, "BR"),
            BrazilToKenya(StatisticsScope.Country, RequestParty.Requested, "KE"),
        ], all.Groups);
    }

    [Fact]
    public async Task Statistics_InvestigatorsAndAuthorityAdministrators_OnlyTheirOwnAuthorityAsRequestingAndRequested()
    {
        var s = await ScenarioAsync();
        var (kenya, brazil) = (s.Kenya.ToString(), s.Brazil.ToString());

        var otienos = await s.Cast.Otieno.Client.GetRequestStatisticsAsync(cancellationToken: Ct);
        var kenyaAdmins = await s.Cast.KenyaAdmin.Client.GetRequestStatisticsAsync(cancellationToken: Ct);
        var anas = await s.Cast.Ana.Client.GetRequestStatisticsAsync(cancellationToken: Ct);
        var tendos = await s.Tendo.Client.GetRequestStatisticsAsync(cancellationToken: Ct);

        AssertGroups(
            [KenyaToBrazil(StatisticsScope.Authority, RequestParty.Requesting, kenya), BrazilToKenya(StatisticsScope.Authority, RequestParty.Requested, kenya)],
            otienos.Groups);
        Assert.Equal(otienos, kenyaAdmins);
        AssertGroups(
            [BrazilToKenya(StatisticsScope.Authority, RequestParty.Requesting, brazil), KenyaToBrazil(StatisticsScope.Authority, RequestParty.Requested, brazil)],
            anas.Groups);
        Assert.Empty(tendos.Groups);
    }

    [Fact]
    public async Task Statistics_PeriodFromR2ToR5_CountsOnlyTheRequestsSentInIt()
    {
        var s = await ScenarioAsync();
        var (kenya, brazil) = (s.Kenya.ToString(), s.Brazil.ToString());
        // From R2's sending (inclusive) to R5's (exclusive): R2, R3 and R4; R1 was sent before, R5 and R6 at the end and after.
        var (from, to) = (s.Start + Hours(50), s.Start + Hours(72));
        var kenyaInPeriod = (StatisticsScope scope, RequestParty side, string id) => Group(scope, side, id, 2,
            [(RequestStatus.Declined, 1), (RequestStatus.Withdrawn, 1)], [(Urgency.Normal, 1), (Urgency.Urgent, 1)], (1, Hours(6), Hours(6)), (0, null, null));

        var all = await s.Cast.SecondAdministrator.Client.GetRequestStatisticsAsync(from, to, Ct);
        var otienos = await s.Cast.Otieno.Client.GetRequestStatisticsAsync(from, to, Ct);
        var afterEverything = await s.Cast.SecondAdministrator.Client.GetRequestStatisticsAsync(s.Start + Hours(75) + TimeSpan.FromSeconds(1), cancellationToken: Ct);

        AssertGroups(
        [
            kenyaInPeriod(StatisticsScope.Authority, RequestParty.Requesting, kenya),
            kenyaInPeriod(StatisticsScope.Authority, RequestParty.Requested, brazil),
            kenyaInPeriod(StatisticsScope.Country, RequestParty.Requesting, "KE"),
            kenyaInPeriod(StatisticsScope.Country, RequestParty.Requested, "BR"),
            EmergencyR4(StatisticsScope.Authority, RequestParty.Requesting, brazil),
            EmergencyR4(StatisticsScope.Authority, RequestParty.Requested, kenya),
            EmergencyR4(StatisticsScope.Country, RequestParty.Requesting, "BR"),
            EmergencyR4(StatisticsScope.Country, RequestParty.Requested, "KE"),
        ], all.Groups);
        AssertGroups(
            [kenyaInPeriod(StatisticsScope.Authority, RequestParty.Requesting, kenya), EmergencyR4(StatisticsScope.Authority, RequestParty.Requested, kenya)],
            otienos.Groups);
        Assert.Empty(afterEverything.Groups);
    }

    [Fact]
    public async Task Statistics_PeriodEndingBeforeItStarts_InvalidArgumentOnTo()
    {
        var s = await ScenarioAsync();

        var refused = await Assert.ThrowsAsync<GlobeClientException>(
            () => s.Cast.SecondAdministrator.Client.GetRequestStatisticsAsync(s.Start + Hours(72), s.Start + Hours(50), Ct));

        Assert.Equal(StatusCode.InvalidArgument, refused.Status);
        Assert.Equal("to", Assert.Single(refused.Violations).Field);
    }
}
