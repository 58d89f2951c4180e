using GlobeSecure.Server.Infrastructure;
using GlobeSecure.Server.Requests;

namespace GlobeSecure.Server.Tests.Requests;

/// <summary>Given(events).When(command).Then(events or error) for the information-request lifecycle: no database.</summary>
public sealed class RequestDeciderTests
{
    private static readonly DateTimeOffset At = new(2026, 11, 24, 12, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset SentAt = At.AddHours(1);
    private readonly Guid _request = Guid.CreateVersion7();
    private readonly string _template = "request-for-information";
    private readonly Guid _channel = Guid.CreateVersion7();
    private readonly RequestActor _requester = new(Guid.CreateVersion7(), Guid.CreateVersion7());
    private readonly RequestActor _requested = new(Guid.CreateVersion7(), Guid.CreateVersion7());
    private readonly Guid _question = Guid.CreateVersion7();

    private static RequestState Given(params object[] events) => events.Aggregate(RequestState.Initial, RequestDecider.Evolve);

    private CreateRequest Create(UrgencyLevel urgency = UrgencyLevel.Normal, DateTimeOffset? answerBy = null, bool spontaneous = false) =>
        new(_request, _requester, _requested.AuthorityId, _template, 3, urgency, answerBy, spontaneous, _channel, RequestDeadlinePolicy.Default, At);

    private RequestDrafted Drafted(UrgencyLevel urgency = UrgencyLevel.Normal, DateTimeOffset? answerBy = null) =>
        (RequestDrafted)RequestDecider.Decide(Create(urgency, answerBy), RequestState.Initial)[0];

    private RequestSent Sent() => new(_request, _requester.UserId, SentAt.AddDays(7), SentAt.AddDays(7), SentAt);

    private object[] Disclosed() => [.. RequestDecider.Decide(Create(spontaneous: true), RequestState.Initial)];

    private ActOnRequest Act(RequestAction action, RequestActor by, Guid? question = null, DeclineReason? decline = null, WithdrawReason? withdraw = null) =>
        new(_request, action, by, SentAt.AddHours(2), question, decline, withdraw);

    private ActOnRequest ByRequested(RequestAction action, Guid? question = null, DeclineReason? decline = null) => Act(action, _requested, question, decline);

    private ActOnRequest ByRequester(RequestAction action, Guid? question = null, WithdrawReason? withdraw = null) => Act(action, _requester, question, withdraw: withdraw);

    private object[] Then(RequestState state, ActOnRequest act) => [.. RequestDecider.Decide(act, state)];

    private RequestAcknowledged Acknowledged() => new(_request, _requested.UserId, SentAt.AddHours(1));

    private RequestWorkStarted Started() => new(_request, _requested.UserId, SentAt.AddHours(2));

    private ClarificationRequested Asked() => new(_request, _question, _requested.UserId, SentAt.AddHours(3));

    [Fact]
    public void Create_ValidDraft_RecordsDraftedWithTheParties()
    {
        var drafted = Assert.IsType<RequestDrafted>(Assert.Single(RequestDecider.Decide(Create(UrgencyLevel.Urgent), RequestState.Initial)));

        Assert.Equal((_requester.AuthorityId, _requested.AuthorityId, _template, 3, UrgencyLevel.Urgent, false, _channel),
            (drafted.RequestingAuthorityId, drafted.RequestedAuthorityId, drafted.TemplateId, drafted.TemplateVersion, drafted.Urgency, drafted.Spontaneous,
                drafted.ChannelId));
        Assert.Equal(RequestStage.Draft, Given(drafted).Stage);
    }

    [Fact]
    public void Create_SameCommandRetried_RecordsNothing() => Assert.Empty(RequestDecider.Decide(Create(), Given(Drafted())));

    [Fact]
    public void Create_OtherContentUnderTheSameId_AlreadyExists() =>
        Assert.Throws<AlreadyExistsException>(() => RequestDecider.Decide(Create(UrgencyLevel.Emergency), Given(Drafted())));

    [Fact]
    public void Create_EverythingMissing_ValidationNamesEachField()
    {
        var bad = new CreateRequest(_request, _requester, _requester.AuthorityId, "", 0, (UrgencyLevel)9, null, false, Guid.Empty,
            RequestDeadlinePolicy.Default, At);

        var refused = Assert.Throws<ValidationException>(() => RequestDecider.Decide(bad, RequestState.Initial));

        Assert.Equal(["requested_authority_id", "template_id", "template_version", "urgency", "channel_id"], refused.Violations.Select(v => v.Field));
    }

    [Fact]
    public void Create_SpontaneousDisclosure_IsSentAtOnceWithOnlyAnAcknowledgeDeadline()
    {
        var events = Disclosed();

        Assert.IsType<RequestDrafted>(events[0]);
        var sent = Assert.IsType<RequestSent>(events[1]);
        Assert.Equal((At.AddDays(7), (DateTimeOffset?)null), (sent.AcknowledgeBy, sent.AnswerBy));
        Assert.Equal(RequestStage.Sent, Given(events).Stage);
    }

    [Fact]
    public void Create_SpontaneousDisclosureWithAnAnswerDeadline_ValidationFailsOnAnswerBy()
    {
        var refused = Assert.Throws<ValidationException>(() => RequestDecider.Decide(Create(answerBy: At.AddDays(1), spontaneous: true), RequestState.Initial));

        Assert.Equal("answer_by", Assert.Single(refused.Violations).Field);
    }

    [Fact]
    public void Send_Draft_RecordsSentWithThePolicyDeadlines()
    {
        var sent = Assert.IsType<RequestSent>(Assert.Single(RequestDecider.Decide(
            new SendRequest(_request, _requester, RequestDeadlinePolicy.Default, SentAt), Given(Drafted(UrgencyLevel.Emergency)))));

        Assert.Equal((SentAt.AddHours(8), (DateTimeOffset?)SentAt.AddHours(8)), (sent.AcknowledgeBy, sent.AnswerBy));
    }

    [Fact]
    public void Send_EarlierAnswerDeadlineRequested_KeepsItAndCapsTheAcknowledgeDeadline()
    {
        var sent = Assert.IsType<RequestSent>(Assert.Single(RequestDecider.Decide(
            new SendRequest(_request, _requester, RequestDeadlinePolicy.Default, SentAt), Given(Drafted(answerBy: SentAt.AddDays(2))))));

        Assert.Equal((SentAt.AddDays(2), (DateTimeOffset?)SentAt.AddDays(2)), (sent.AcknowledgeBy, sent.AnswerBy));
    }

    [Fact]
    public void Send_LaterAnswerDeadlineThanThePolicy_ValidationFailsOnAnswerBy()
    {
        var refused = Assert.Throws<ValidationException>(() => RequestDecider.Decide(
            new SendRequest(_request, _requester, RequestDeadlinePolicy.Default, SentAt), Given(Drafted(UrgencyLevel.Urgent, answerBy: SentAt.AddDays(4)))));

        Assert.Equal("answer_by", Assert.Single(refused.Violations).Field);
        Assert.Contains("3 days", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Send_AlreadySent_RecordsNothing() =>
        Assert.Empty(RequestDecider.Decide(new SendRequest(_request, _requester, RequestDeadlinePolicy.Default, SentAt), Given(Drafted(), Sent())));

    [Fact]
    public void Send_ByTheRequestedAuthority_NotFoundWhileADraft() =>
        Assert.Throws<NotFoundException>(() => RequestDecider.Decide(new SendRequest(_request, _requested, RequestDeadlinePolicy.Default, SentAt), Given(Drafted())));

    [Fact]
    public void Act_UnknownRequest_NotFound() =>
        Assert.Throws<NotFoundException>(() => RequestDecider.Decide(ByRequested(RequestAction.Acknowledge), RequestState.Initial));

    [Fact]
    public void Act_ByAThirdAuthority_NotFound() =>
        Assert.Throws<NotFoundException>(() => RequestDecider.Decide(Act(RequestAction.Acknowledge, new RequestActor(Guid.NewGuid(), Guid.NewGuid())),
            Given(Drafted(), Sent())));

    [Fact]
    public void Lifecycle_HappyPath_GoesFromSentToClosed()
    {
        var state = Given(Drafted(), Sent());
        foreach (var (act, stage) in new[]
                 {
                     (ByRequested(RequestAction.Acknowledge), RequestStage.Acknowledged),
                     (ByRequested(RequestAction.Start), RequestStage.InProgress),
                     (ByRequested(RequestAction.Answer), RequestStage.Answered),
                     (ByRequester(RequestAction.Close), RequestStage.Closed),
                 })
        {
            state = RequestDecider.Decide(act, state).Aggregate(state, RequestDecider.Evolve);
            Assert.Equal(stage, state.Stage);
        }
    }

    [Theory]
    [InlineData((int)RequestAction.Acknowledge)]
    [InlineData((int)RequestAction.Start)]
    [InlineData((int)RequestAction.Answer)]
    [InlineData((int)RequestAction.PartiallyAnswer)]
    [InlineData((int)RequestAction.RequestClarification)]
    [InlineData((int)RequestAction.Decline)]
    public void Act_RequestedSideActionByTheRequester_PermissionDenied(int action) =>
        Assert.Throws<PermissionDeniedException>(() => RequestDecider.Decide(ByRequester((RequestAction)action, _question), Given(Drafted(), Sent(), Acknowledged())));

    [Theory]
    [InlineData((int)RequestAction.ProvideClarification)]
    [InlineData((int)RequestAction.Withdraw)]
    [InlineData((int)RequestAction.Close)]
    public void Act_RequestingSideActionByTheRequested_PermissionDenied(int action) =>
        Assert.Throws<PermissionDeniedException>(() => RequestDecider.Decide(ByRequested((RequestAction)action, _question), Given(Drafted(), Sent(), Asked())));

    [Fact]
    public void Answer_WhileOnlySent_WrongStateNamingTheStatusAndAllowedActions()
    {
        var refused = Assert.Throws<WrongStateException>(() => RequestDecider.Decide(ByRequested(RequestAction.Answer), Given(Drafted(), Sent())));

        Assert.Equal(
            "Cannot answer: the request is SENT; allowed now: acknowledge (requested authority), request clarification (requested authority), "
            + "decline (requested authority), withdraw (requesting authority).",
            refused.Message);
    }

    [Fact]
    public void Close_WhileInProgress_WrongState() =>
        Assert.Throws<WrongStateException>(() => RequestDecider.Decide(ByRequester(RequestAction.Close), Given(Drafted(), Sent(), Acknowledged(), Started())));

    [Fact]
    public void Withdraw_AfterClosing_WrongStateSayingNothingIsAllowed()
    {
        var closed = Given(Drafted(), Sent(), new RequestWithdrawn(_request, _requester.UserId, null, SentAt), new RequestClosed(_request, _requester.UserId, SentAt));

        var refused = Assert.Throws<WrongStateException>(() => RequestDecider.Decide(ByRequester(RequestAction.Withdraw, withdraw: WithdrawReason.Other), closed));

        Assert.Contains("CLOSED; allowed now: none", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Acknowledge_Repeated_RecordsNothing() => Assert.Empty(Then(Given(Drafted(), Sent(), Acknowledged()), ByRequested(RequestAction.Acknowledge)));

    [Fact]
    public void Acknowledge_AfterWorkStarted_WrongState() =>
        Assert.Throws<WrongStateException>(() => RequestDecider.Decide(ByRequested(RequestAction.Acknowledge), Given(Drafted(), Sent(), Acknowledged(), Started())));

    [Fact]
    public void Decline_WithoutReason_ValidationFailsOnReason()
    {
        var refused = Assert.Throws<ValidationException>(() => RequestDecider.Decide(ByRequested(RequestAction.Decline), Given(Drafted(), Sent())));

        Assert.Equal("reason", Assert.Single(refused.Violations).Field);
    }

    [Fact]
    public void Decline_WithReason_RecordsDeclinedAndOnlyCloseRemains()
    {
        var declined = Assert.IsType<RequestDeclined>(Assert.Single(Then(Given(Drafted(), Sent()),
            ByRequested(RequestAction.Decline, decline: DeclineReason.LegalImpediment))));

        var state = Given(Drafted(), Sent(), declined);
        Assert.Equal(DeclineReason.LegalImpediment, declined.Reason);
        Assert.Equal([RequestAction.Close], RequestDecider.AllowedNow(state));
        Assert.Empty(Then(state, ByRequested(RequestAction.Decline, decline: DeclineReason.LegalImpediment)));
        Assert.Throws<WrongStateException>(() => RequestDecider.Decide(ByRequested(RequestAction.Decline, decline: DeclineReason.Other), state));
    }

    [Fact]
    public void Withdraw_WithoutReason_RecordsWithdrawn()
    {
        var withdrawn = Assert.IsType<RequestWithdrawn>(Assert.Single(Then(Given(Drafted(), Sent(), Acknowledged()), ByRequester(RequestAction.Withdraw))));

        Assert.Null(withdrawn.Reason);
    }

    [Theory]
    [InlineData((int)RequestStage.Sent)]
    [InlineData((int)RequestStage.Acknowledged)]
    [InlineData((int)RequestStage.InProgress)]
    public void Clarification_RequestedAndProvided_ReturnsToTheInterruptedStage(int interrupted)
    {
        var stage = (RequestStage)interrupted;
        List<object> history = [Drafted(), Sent()];
        if (stage >= RequestStage.Acknowledged)
        {
            history.Add(Acknowledged());
        }

        if (stage >= RequestStage.InProgress)
        {
            history.Add(Started());
        }

        var asked = Assert.IsType<ClarificationRequested>(Assert.Single(Then(Given([.. history]), ByRequested(RequestAction.RequestClarification, _question))));
        history.Add(asked);
        Assert.Equal(RequestStage.ClarificationRequested, Given([.. history]).Stage);

        var provided = Assert.IsType<ClarificationProvided>(Assert.Single(Then(Given([.. history]), ByRequester(RequestAction.ProvideClarification, _question))));
        history.Add(provided);

        Assert.Equal((stage, _question), (Given([.. history]).Stage, provided.QuestionId));
    }

    [Fact]
    public void RequestClarification_SameQuestionAgain_RecordsNothing() =>
        Assert.Empty(Then(Given(Drafted(), Sent(), Asked()), ByRequested(RequestAction.RequestClarification, _question)));

    [Fact]
    public void RequestClarification_AnotherWhileOneIsOpen_WrongState() =>
        Assert.Throws<WrongStateException>(() =>
            RequestDecider.Decide(ByRequested(RequestAction.RequestClarification, Guid.NewGuid()), Given(Drafted(), Sent(), Asked())));

    [Fact]
    public void RequestClarification_WithoutQuestionId_ValidationFailsOnQuestionId() =>
        Assert.Equal("question_id", Assert.Single(Assert.Throws<ValidationException>(() =>
            RequestDecider.Decide(ByRequested(RequestAction.RequestClarification), Given(Drafted(), Sent()))).Violations).Field);

    [Fact]
    public void ProvideClarification_OtherQuestion_ValidationFailsOnQuestionId() =>
        Assert.Equal("question_id", Assert.Single(Assert.Throws<ValidationException>(() =>
            RequestDecider.Decide(ByRequester(RequestAction.ProvideClarification, Guid.NewGuid()), Given(Drafted(), Sent(), Asked()))).Violations).Field);

    [Fact]
    public void ProvideClarification_Repeated_RecordsNothing() =>
        Assert.Empty(Then(Given(Drafted(), Sent(), Asked(), new ClarificationProvided(_request, _question, _requester.UserId, SentAt.AddHours(4))),
            ByRequester(RequestAction.ProvideClarification, _question)));

    [Fact]
    public void ProvideClarification_NoneAsked_WrongState() =>
        Assert.Throws<WrongStateException>(() => RequestDecider.Decide(ByRequester(RequestAction.ProvideClarification, _question), Given(Drafted(), Sent())));

    [Fact]
    public void Answer_AfterPartialAnswer_CompletesTheRequest()
    {
        var state = Given(Drafted(), Sent(), Acknowledged(), new RequestPartiallyAnswered(_request, _requested.UserId, SentAt.AddDays(1)));

        Assert.IsType<RequestAnswered>(Assert.Single(Then(state, ByRequested(RequestAction.Answer))));
        Assert.Equal(SentAt.AddDays(1), state.FirstAnswerAt);
    }

    [Theory]
    [InlineData((int)RequestAction.Start)]
    [InlineData((int)RequestAction.Answer)]
    [InlineData((int)RequestAction.Decline)]
    public void Act_AnswerStepsOnASpontaneousDisclosure_WrongState(int action)
    {
        var refused = Assert.Throws<WrongStateException>(() =>
            RequestDecider.Decide(ByRequested((RequestAction)action, decline: DeclineReason.Other), Given([.. Disclosed(), Acknowledged()])));

        Assert.Contains("spontaneous disclosure is ACKNOWLEDGED", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Close_AcknowledgedSpontaneousDisclosure_RecordsClosed()
    {
        var state = Given([.. Disclosed(), Acknowledged()]);

        Assert.Equal([RequestAction.RequestClarification, RequestAction.Withdraw, RequestAction.Close], RequestDecider.AllowedNow(state));
        Assert.IsType<RequestClosed>(Assert.Single(Then(state, ByRequester(RequestAction.Close))));
    }

    [Fact]
    public void Withdraw_Draft_RecordsWithdrawnAndOnlyCloseRemains()
    {
        var withdrawn = Assert.IsType<RequestWithdrawn>(Assert.Single(Then(Given(Drafted()), ByRequester(RequestAction.Withdraw, withdraw: WithdrawReason.SentInError))));

        Assert.Equal([RequestAction.Close], RequestDecider.AllowedNow(Given(Drafted(), withdrawn)));
    }

    [Fact]
    public void Withdraw_UnknownReason_ValidationFailsOnReason() =>
        Assert.Equal("reason", Assert.Single(Assert.Throws<ValidationException>(() =>
            RequestDecider.Decide(ByRequester(RequestAction.Withdraw, withdraw: (WithdrawReason)42), Given(Drafted(), Sent()))).Violations).Field);

    [Fact]
    public void Decline_WhileClarificationPending_RecordsDeclinedAndClosesTheQuestion()
    {
        var declined = Assert.Single(Then(Given(Drafted(), Sent(), Asked()), ByRequested(RequestAction.Decline, decline: DeclineReason.InsufficientInformation)));

        Assert.Null(Given(Drafted(), Sent(), Asked(), declined).OpenQuestionId);
    }

    [Fact]
    public void Act_SendThroughActOnRequest_IsAProgrammingError() =>
        Assert.Throws<ArgumentException>(() => RequestDecider.Decide(ByRequester(RequestAction.Send), Given(Drafted())));

    [Fact]
    public void Allowed_EveryStageAfterCreation_HasARowAndEveryActionHasOneSide()
    {
        var stages = Enum.GetValues<RequestStage>().Where(s => s != RequestStage.None);

        Assert.All(stages, s => Assert.True(RequestDecider.Allowed.ContainsKey(s), $"{s} has no row"));
        Assert.Equal(4, Enum.GetValues<RequestAction>().Count(a => RequestDecider.SideOf(a) == RequestSide.Requesting));
    }
}
