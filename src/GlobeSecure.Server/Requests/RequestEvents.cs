namespace GlobeSecure.Server.Requests;

// Events of the information-request lifecycle, stream request-{id} (docs/requests.md, "Lifecycle";
// docs/adr/0007-requests.md). Metadata only: the filled form, attachments and any free-text
// explanation travel end-to-end encrypted in the request's channel thread, never here.

/// <summary>How fast the requesting authority needs the reply; it selects the default deadlines.</summary>
internal enum UrgencyLevel
{
    Normal = 1,
    Urgent = 2,
    Emergency = 3,
}

/// <summary>Which deadline an overdue mark is about.</summary>
internal enum RequestDeadline
{
    Acknowledge = 1,
    Answer = 2,
}

/// <summary>Why the requested authority declines, as a category (details go in the encrypted thread).</summary>
internal enum DeclineReason
{
    OutsideCompetence = 1,
    InsufficientInformation = 2,
    LegalImpediment = 3,
    ConfidentialityConditionsUnacceptable = 4,
    InformationNotHeld = 5,
    Other = 6,
}

/// <summary>Why the requesting authority withdraws, as a category (optional).</summary>
internal enum WithdrawReason
{
    NoLongerNeeded = 1,
    ObtainedElsewhere = 2,
    SentInError = 3,
    Other = 4,
}

/// <summary>
/// A requesting authority's user drafted a request (or, when <see cref="Spontaneous"/>, a
/// disclosure, which is sent in the same decision) to <see cref="RequestedAuthorityId"/> with a
/// template version; <see cref="RequestedAnswerBy"/> is the requester's earlier answer deadline,
/// if any; <see cref="ChannelId"/> is the request's discussion thread.
/// </summary>
internal sealed record RequestDrafted(Guid RequestId, Guid RequestingAuthorityId, Guid RequestingUserId, Guid RequestedAuthorityId, string TemplateId,
    int TemplateVersion, UrgencyLevel Urgency, DateTimeOffset? RequestedAnswerBy, bool Spontaneous, Guid ChannelId, DateTimeOffset DraftedAt);

/// <summary>The requester sent the request; the deadlines are fixed at this moment (<see cref="AnswerBy"/> is null for a spontaneous disclosure).</summary>
internal sealed record RequestSent(Guid RequestId, Guid ByUserId, DateTimeOffset AcknowledgeBy, DateTimeOffset? AnswerBy, DateTimeOffset SentAt);

/// <summary>The requested authority confirmed receipt.</summary>
internal sealed record RequestAcknowledged(Guid RequestId, Guid ByUserId, DateTimeOffset AcknowledgedAt);

/// <summary>The requested authority started working on the request (in progress).</summary>
internal sealed record RequestWorkStarted(Guid RequestId, Guid ByUserId, DateTimeOffset StartedAt);

/// <summary>The requested authority answered in full.</summary>
internal sealed record RequestAnswered(Guid RequestId, Guid ByUserId, DateTimeOffset AnsweredAt);

/// <summary>The requested authority answered in part; it may still answer in full.</summary>
internal sealed record RequestPartiallyAnswered(Guid RequestId, Guid ByUserId, DateTimeOffset PartiallyAnsweredAt);

/// <summary>The requested authority declined, with a reason.</summary>
internal sealed record RequestDeclined(Guid RequestId, Guid ByUserId, DeclineReason Reason, DateTimeOffset DeclinedAt);

/// <summary>The requester withdrew the request; the reason is optional.</summary>
internal sealed record RequestWithdrawn(Guid RequestId, Guid ByUserId, WithdrawReason? Reason, DateTimeOffset WithdrawnAt);

/// <summary>The requester closed the request after its outcome.</summary>
internal sealed record RequestClosed(Guid RequestId, Guid ByUserId, DateTimeOffset ClosedAt);

/// <summary>The requested authority asked question <see cref="QuestionId"/> (its text is in the encrypted thread); work pauses until it is answered.</summary>
internal sealed record ClarificationRequested(Guid RequestId, Guid QuestionId, Guid ByUserId, DateTimeOffset RequestedAt);

/// <summary>The requester answered question <see cref="QuestionId"/>; the request returns to the stage it was in.</summary>
internal sealed record ClarificationProvided(Guid RequestId, Guid QuestionId, Guid ByUserId, DateTimeOffset ProvidedAt);

/// <summary>A deadline passed without the step it asks for: recorded once per deadline by the overdue pass.</summary>
internal sealed record RequestMarkedOverdue(Guid RequestId, RequestDeadline Deadline, DateTimeOffset DueAt, DateTimeOffset MarkedAt);
