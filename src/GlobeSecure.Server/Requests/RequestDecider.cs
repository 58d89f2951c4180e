using GlobeSecure.Server.Infrastructure;

namespace GlobeSecure.Server.Requests;

/// <summary>Where a request's lifecycle stands (docs/requests.md, "Lifecycle").</summary>
internal enum RequestStage
{
    None = 0,
    Draft = 1,
    Sent = 2,
    Acknowledged = 3,
    InProgress = 4,
    ClarificationRequested = 5,
    Answered = 6,
    PartiallyAnswered = 7,
    Declined = 8,
    Withdrawn = 9,
    Closed = 10,
}

/// <summary>The two parties of a request.</summary>
internal enum RequestSide
{
    Requesting = 1,
    Requested = 2,
}

/// <summary>What a party may do to a request (each action belongs to one side).</summary>
internal enum RequestAction
{
    Send = 1,
    Acknowledge = 2,
    Start = 3,
    Answer = 4,
    PartiallyAnswer = 5,
    Decline = 6,
    RequestClarification = 7,
    ProvideClarification = 8,
    Withdraw = 9,
    Close = 10,
}

/// <summary>
/// A request as its stream tells it. <see cref="ResumeStage"/> is the open stage a pending
/// clarification interrupted; <see cref="FirstResponseAt"/> is the requested side's first reply of
/// any kind (acknowledge, clarification request, decline), which meets the acknowledge deadline.
/// </summary>
internal sealed record RequestState(
    RequestDrafted? Draft,
    RequestStage Stage,
    RequestStage ResumeStage,
    Guid? OpenQuestionId,
    Guid? LastProvidedQuestionId,
    DateTimeOffset? SentAt,
    DateTimeOffset? AcknowledgeBy,
    DateTimeOffset? AnswerBy,
    DateTimeOffset? FirstResponseAt,
    DateTimeOffset? AcknowledgedAt,
    DateTimeOffset? FirstAnswerAt,
    DeclineReason? DeclineReason,
    WithdrawReason? WithdrawReason,
    bool AcknowledgeOverdue,
    bool AnswerOverdue)
{
    public static RequestState Initial { get; } = new(null, RequestStage.None, RequestStage.None, null, null, null, null, null, null, null, null, null, null, false, false);

    /// <summary>Sent and not yet finished: the stages where a clarification may be asked and the requester may withdraw.</summary>
    public bool IsOpen => Stage is RequestStage.Sent or RequestStage.Acknowledged or RequestStage.InProgress or RequestStage.ClarificationRequested;
}

/// <summary>Who acts: a user of an authority (the authority decides the side).</summary>
internal sealed record RequestActor(Guid UserId, Guid AuthorityId);

/// <summary>
/// Drafts a request, or a spontaneous disclosure (created already sent, so it needs the
/// <paramref name="Policy"/>); <paramref name="AnswerBy"/> is the requester's earlier answer
/// deadline, checked when the request is sent.
/// </summary>
internal sealed record CreateRequest(Guid RequestId, RequestActor By, Guid RequestedAuthorityId, string TemplateId, int TemplateVersion, UrgencyLevel Urgency,
    DateTimeOffset? AnswerBy, bool Spontaneous, Guid ChannelId, RequestDeadlinePolicy Policy, DateTimeOffset At);

/// <summary>The requester sends a draft; the deadlines are computed from <paramref name="Policy"/> at <paramref name="At"/>.</summary>
internal sealed record SendRequest(Guid RequestId, RequestActor By, RequestDeadlinePolicy Policy, DateTimeOffset At);

/// <summary>
/// Any other step: <paramref name="QuestionId"/> for the clarification actions,
/// <paramref name="Decline"/> (required) for declining, <paramref name="Withdraw"/> (optional) for withdrawing.
/// </summary>
internal sealed record ActOnRequest(Guid RequestId, RequestAction Action, RequestActor By, DateTimeOffset At, Guid? QuestionId = null,
    DeclineReason? Decline = null, WithdrawReason? Withdraw = null);

/// <summary>
/// The information-request lifecycle: draft → sent → acknowledged → in progress → answered /
/// partially answered / declined / withdrawn → closed, with clarification requested ↔ provided at
/// any open stage. Pure; refusals produce no event; a repeat of the step just done produces none.
/// </summary>
internal static class RequestDecider
{
    /// <summary>The actions allowed at each stage (who may take them is <see cref="SideOf"/>).</summary>
    internal static readonly IReadOnlyDictionary<RequestStage, IReadOnlyList<RequestAction>> Allowed = new Dictionary<RequestStage, IReadOnlyList<RequestAction>>
    {
        [RequestStage.Draft] = [RequestAction.Send, RequestAction.Withdraw],
        [RequestStage.Sent] = [RequestAction.Acknowledge, RequestAction.RequestClarification, RequestAction.Decline, RequestAction.Withdraw],
        [RequestStage.Acknowledged] =
        [
            RequestAction.Start, RequestAction.Answer, RequestAction.PartiallyAnswer, RequestAction.Decline, RequestAction.RequestClarification,
            RequestAction.Withdraw,
        ],
        [RequestStage.InProgress] =
            [RequestAction.Answer, RequestAction.PartiallyAnswer, RequestAction.Decline, RequestAction.RequestClarification, RequestAction.Withdraw],
        [RequestStage.ClarificationRequested] = [RequestAction.ProvideClarification, RequestAction.Decline, RequestAction.Withdraw],
        [RequestStage.PartiallyAnswered] = [RequestAction.Answer, RequestAction.Close],
        [RequestStage.Answered] = [RequestAction.Close],
        [RequestStage.Declined] = [RequestAction.Close],
        [RequestStage.Withdrawn] = [RequestAction.Close],
        [RequestStage.Closed] = [],
    };

    /// <summary>The actions a spontaneous disclosure never has: nothing was asked, so nothing is answered.</summary>
    private static readonly HashSet<RequestAction> NotForDisclosures = [RequestAction.Start, RequestAction.Answer, RequestAction.PartiallyAnswer, RequestAction.Decline];

    public static string StreamId(Guid requestId) => $"request-{requestId}";

    public static RequestSide SideOf(RequestAction action) =>
        action is RequestAction.Send or RequestAction.ProvideClarification or RequestAction.Withdraw or RequestAction.Close
            ? RequestSide.Requesting
            : RequestSide.Requested;

    /// <summary>
    /// The actions allowed now. A spontaneous disclosure asks nothing, so it is never started,
    /// answered or declined; its acknowledgement is its outcome, after which the discloser may close it.
    /// </summary>
    public static IReadOnlyList<RequestAction> AllowedNow(RequestState state)
    {
        if (!Allowed.TryGetValue(state.Stage, out var actions) || state.Draft is not { Spontaneous: true })
        {
            return actions ?? [];
        }

        List<RequestAction> forDisclosure = [.. actions.Where(a => !NotForDisclosures.Contains(a))];
        if (state.Stage == RequestStage.Acknowledged)
        {
            forDisclosure.Add(RequestAction.Close);
        }

        return forDisclosure;
    }

    public static RequestState Evolve(RequestState state, object @event) => @event switch
    {
        RequestDrafted e => RequestState.Initial with { Draft = e, Stage = RequestStage.Draft },
        RequestSent e => state with { Stage = RequestStage.Sent, SentAt = e.SentAt, AcknowledgeBy = e.AcknowledgeBy, AnswerBy = e.AnswerBy },
        RequestAcknowledged e => state with
        {
            Stage = RequestStage.Acknowledged, AcknowledgedAt = e.AcknowledgedAt, FirstResponseAt = state.FirstResponseAt ?? e.AcknowledgedAt,
        },
        RequestWorkStarted => state with { Stage = RequestStage.InProgress },
        RequestAnswered e => state with { Stage = RequestStage.Answered, FirstAnswerAt = state.FirstAnswerAt ?? e.AnsweredAt },
        RequestPartiallyAnswered e => state with { Stage = RequestStage.PartiallyAnswered, FirstAnswerAt = state.FirstAnswerAt ?? e.PartiallyAnsweredAt },
        RequestDeclined e => state with
        {
            Stage = RequestStage.Declined, DeclineReason = e.Reason, FirstResponseAt = state.FirstResponseAt ?? e.DeclinedAt, OpenQuestionId = null,
        },
        RequestWithdrawn e => state with { Stage = RequestStage.Withdrawn, WithdrawReason = e.Reason, OpenQuestionId = null },
        RequestClosed => state with { Stage = RequestStage.Closed },
        ClarificationRequested e => state with
        {
            Stage = RequestStage.ClarificationRequested, ResumeStage = state.Stage, OpenQuestionId = e.QuestionId,
            FirstResponseAt = state.FirstResponseAt ?? e.RequestedAt,
        },
        ClarificationProvided e => state with
        {
            Stage = state.ResumeStage, ResumeStage = RequestStage.None, OpenQuestionId = null, LastProvidedQuestionId = e.QuestionId,
        },
        RequestMarkedOverdue { Deadline: RequestDeadline.Acknowledge } => state with { AcknowledgeOverdue = true },
        RequestMarkedOverdue { Deadline: RequestDeadline.Answer } => state with { AnswerOverdue = true },
        _ => state,
    };

    public static IReadOnlyList<object> Decide(CreateRequest create, RequestState state)
    {
        if (state.Draft is { } existing)
        {
            return existing.RequestingAuthorityId == create.By.AuthorityId && existing.RequestingUserId == create.By.UserId
                && existing.RequestedAuthorityId == create.RequestedAuthorityId && existing.TemplateId == create.TemplateId
                && existing.TemplateVersion == create.TemplateVersion && existing.Urgency == create.Urgency && existing.RequestedAnswerBy == create.AnswerBy
                && existing.Spontaneous == create.Spontaneous && existing.ChannelId == create.ChannelId
                    ? []
                    : throw new AlreadyExistsException("request", create.RequestId.ToString());
        }

        var violations = new List<FieldViolation>();
        if (create.RequestedAuthorityId == Guid.Empty)
        {
            violations.Add(new FieldViolation("requested_authority_id", "name the authority the request is addressed to"));
        }
        else if (create.RequestedAuthorityId == create.By.AuthorityId)
        {
            violations.Add(new FieldViolation("requested_authority_id", "must be another authority than your own"));
        }

        if (string.IsNullOrWhiteSpace(create.TemplateId))
        {
            violations.Add(new FieldViolation("template_id", "name the template the request was written with"));
        }

        if (create.TemplateVersion < 1)
        {
            violations.Add(new FieldViolation("template_version", "must be a published version, 1 or more"));
        }

        if (!Enum.IsDefined(create.Urgency))
        {
            violations.Add(new FieldViolation("urgency", "must be normal, urgent or emergency"));
        }

        if (create.ChannelId == Guid.Empty)
        {
            violations.Add(new FieldViolation("channel_id", "name the channel thread that carries the request's discussion"));
        }

        if (create.Spontaneous && create.AnswerBy is not null)
        {
            violations.Add(new FieldViolation("answer_by", "a spontaneous disclosure asks for no answer: leave it empty"));
        }

        if (violations.Count > 0)
        {
            throw new ValidationException(violations);
        }

        var drafted = new RequestDrafted(create.RequestId, create.By.AuthorityId, create.By.UserId, create.RequestedAuthorityId, create.TemplateId,
            create.TemplateVersion, create.Urgency, create.AnswerBy, create.Spontaneous, create.ChannelId, create.At);
        if (!create.Spontaneous)
        {
            return [drafted];
        }

        var deadlines = create.Policy.Compute(create.Urgency, create.At, null, spontaneous: true);
        return [drafted, new RequestSent(create.RequestId, create.By.UserId, deadlines.AcknowledgeBy, deadlines.AnswerBy, create.At)];
    }

    public static IReadOnlyList<object> Decide(SendRequest send, RequestState state)
    {
        var draft = Authorise(send.RequestId, RequestAction.Send, send.By, state);
        if (state.Stage == RequestStage.Sent)
        {
            return [];
        }

        Require(state, RequestAction.Send);
        var deadlines = send.Policy.Compute(draft.Urgency, send.At, draft.RequestedAnswerBy, spontaneous: false);
        return [new RequestSent(send.RequestId, send.By.UserId, deadlines.AcknowledgeBy, deadlines.AnswerBy, send.At)];
    }

    public static IReadOnlyList<object> Decide(ActOnRequest act, RequestState state)
    {
        if (act.Action == RequestAction.Send)
        {
            throw new ArgumentException("Sending computes deadlines: use SendRequest.", nameof(act));
        }

        _ = Authorise(act.RequestId, act.Action, act.By, state);
        if (IsRepeat(act, state))
        {
            return [];
        }

        Require(state, act.Action);
        var (id, by, at) = (act.RequestId, act.By.UserId, act.At);
        return act.Action switch
        {
            RequestAction.Acknowledge => [new RequestAcknowledged(id, by, at)],
            RequestAction.Start => [new RequestWorkStarted(id, by, at)],
            RequestAction.Answer => [new RequestAnswered(id, by, at)],
            RequestAction.PartiallyAnswer => [new RequestPartiallyAnswered(id, by, at)],
            RequestAction.Decline => [new RequestDeclined(id, by, DeclineReasonOf(act), at)],
            RequestAction.Withdraw => [new RequestWithdrawn(id, by, WithdrawReasonOf(act), at)],
            RequestAction.Close => [new RequestClosed(id, by, at)],
            RequestAction.RequestClarification => [new ClarificationRequested(id, QuestionOf(act), by, at)],
            RequestAction.ProvideClarification => [ProvidedFor(act, state)],
            _ => throw new ArgumentOutOfRangeException(nameof(act), act.Action, "Unknown action."),
        };
    }

    /// <summary>
    /// The overdue marks due at <paramref name="now"/>: the acknowledge deadline passed while the
    /// requested side has not replied at all and the request is still sent; the answer deadline
    /// passed while no full answer, decline, withdrawal or closing came. Each deadline is marked once.
    /// </summary>
    public static IReadOnlyList<object> OverdueAt(RequestState state, DateTimeOffset now)
    {
        if (state.Draft is not { } draft || state.SentAt is null)
        {
            return [];
        }

        var marks = new List<object>(2);
        if (!state.AcknowledgeOverdue && state.AcknowledgeBy is { } acknowledgeBy && now > acknowledgeBy && state.FirstResponseAt is null
            && state.Stage == RequestStage.Sent)
        {
            marks.Add(new RequestMarkedOverdue(draft.RequestId, RequestDeadline.Acknowledge, acknowledgeBy, now));
        }

        if (!state.AnswerOverdue && state.AnswerBy is { } answerBy && now > answerBy
            && state.Stage is RequestStage.Sent or RequestStage.Acknowledged or RequestStage.InProgress or RequestStage.ClarificationRequested
                or RequestStage.PartiallyAnswered)
        {
            marks.Add(new RequestMarkedOverdue(draft.RequestId, RequestDeadline.Answer, answerBy, now));
        }

        return marks;
    }

    /// <summary>One line per allowed action with its side, e.g. "acknowledge (requested authority)".</summary>
    public static string DescribeAllowed(RequestState state)
    {
        var actions = AllowedNow(state);
        return actions.Count == 0
            ? "none (the request is finished)"
            : string.Join(", ", actions.Select(a => $"{Name(a)} ({(SideOf(a) == RequestSide.Requesting ? "requesting" : "requested")} authority)"));
    }

    public static string Name(RequestAction action) => action switch
    {
        RequestAction.Send => "send",
        RequestAction.Acknowledge => "acknowledge",
        RequestAction.Start => "start work",
        RequestAction.Answer => "answer",
        RequestAction.PartiallyAnswer => "answer partially",
        RequestAction.Decline => "decline",
        RequestAction.RequestClarification => "request clarification",
        RequestAction.ProvideClarification => "provide clarification",
        RequestAction.Withdraw => "withdraw",
        RequestAction.Close => "close",
        _ => action.ToString(),
    };

    public static string Name(RequestStage stage) => stage switch
    {
        RequestStage.Draft => "DRAFT",
        RequestStage.Sent => "SENT",
        RequestStage.Acknowledged => "ACKNOWLEDGED",
        RequestStage.InProgress => "IN_PROGRESS",
        RequestStage.ClarificationRequested => "CLARIFICATION_REQUESTED",
        RequestStage.Answered => "ANSWERED",
        RequestStage.PartiallyAnswered => "PARTIALLY_ANSWERED",
        RequestStage.Declined => "DECLINED",
        RequestStage.Withdrawn => "WITHDRAWN",
        RequestStage.Closed => "CLOSED",
        _ => "NONE",
    };

    private static RequestDrafted Authorise(Guid requestId, RequestAction action, RequestActor by, RequestState state)
    {
        var draft = state.Draft ?? throw new NotFoundException("request", requestId.ToString());
        var side = by.AuthorityId == draft.RequestingAuthorityId ? RequestSide.Requesting
            : by.AuthorityId == draft.RequestedAuthorityId ? RequestSide.Requested
            : throw new NotFoundException("request", requestId.ToString());
        if (side == RequestSide.Requested && state.Stage == RequestStage.Draft)
        {
            // A draft is the requester's alone: the requested side does not see it before it is sent.
            throw new NotFoundException("request", requestId.ToString());
        }

        if (side != SideOf(action))
        {
            throw new PermissionDeniedException(
                $"Permission denied: only the {(SideOf(action) == RequestSide.Requesting ? "requesting" : "requested")} authority may {Name(action)} a request.");
        }

        return draft;
    }

    private static void Require(RequestState state, RequestAction action)
    {
        if (!AllowedNow(state).Contains(action))
        {
            var kind = state.Draft is { Spontaneous: true } ? "spontaneous disclosure" : "request";
            throw new WrongStateException(
                $"Cannot {Name(action)}: the {kind} is {Name(state.Stage)}; allowed now: {DescribeAllowed(state)}.");
        }
    }

    /// <summary>The same step again, just done (a retry): nothing to record.</summary>
    private static bool IsRepeat(ActOnRequest act, RequestState state) => act.Action switch
    {
        RequestAction.Acknowledge => state.Stage == RequestStage.Acknowledged,
        RequestAction.Start => state.Stage == RequestStage.InProgress,
        RequestAction.Answer => state.Stage == RequestStage.Answered,
        RequestAction.PartiallyAnswer => state.Stage == RequestStage.PartiallyAnswered,
        RequestAction.Decline => state.Stage == RequestStage.Declined && state.DeclineReason == act.Decline,
        RequestAction.Withdraw => state.Stage == RequestStage.Withdrawn && state.WithdrawReason == act.Withdraw,
        RequestAction.Close => state.Stage == RequestStage.Closed,
        RequestAction.RequestClarification => state.Stage == RequestStage.ClarificationRequested && state.OpenQuestionId == act.QuestionId,
        RequestAction.ProvideClarification => state.OpenQuestionId is null && act.QuestionId is not null && state.LastProvidedQuestionId == act.QuestionId,
        _ => false,
    };

    private static DeclineReason DeclineReasonOf(ActOnRequest act) =>
        act.Decline is { } reason && Enum.IsDefined(reason) ? reason : throw new ValidationException("reason", "a decline needs a reason");

    private static WithdrawReason? WithdrawReasonOf(ActOnRequest act) =>
        act.Withdraw is not { } reason || Enum.IsDefined(reason) ? act.Withdraw : throw new ValidationException("reason", "unknown withdrawal reason");

    private static Guid QuestionOf(ActOnRequest act) =>
        act.QuestionId is { } id && id != Guid.Empty ? id : throw new ValidationException("question_id", "name the question (a client-chosen UUID)");

    private static ClarificationProvided ProvidedFor(ActOnRequest act, RequestState state)
    {
        var question = QuestionOf(act);
        return question == state.OpenQuestionId
            ? new ClarificationProvided(act.RequestId, question, act.By.UserId, act.At)
            : throw new ValidationException("question_id", "is not the open clarification question of this request");
    }
}
