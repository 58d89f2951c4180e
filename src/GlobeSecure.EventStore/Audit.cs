namespace GlobeSecure.EventStore;

/// <summary>How an audited action ended.</summary>
public enum AuditOutcome
{
    /// <summary>The caller was allowed and the action succeeded.</summary>
    Allowed = 1,

    /// <summary>The caller was refused (authentication, role or membership).</summary>
    Denied = 2,

    /// <summary>The caller was allowed but the action failed (validation, conflict, wrong state, error).</summary>
    Failed = 3,
}

/// <summary>
/// One audit record: who did what to what, with which outcome, when, from where. Ids and codes
/// only — never content, keys, tokens, codes or personal data.
/// </summary>
/// <param name="EntryId">Unique id; recording the same id twice stores it once.</param>
/// <param name="OccurredAt">When the action happened.</param>
/// <param name="Action">What was done, e.g. "membership.approve-authority" or a gRPC method name.</param>
/// <param name="Outcome">Allowed, denied or failed.</param>
/// <param name="ActorUserId">The acting user, when authenticated.</param>
/// <param name="ActorDeviceId">The acting device, when authenticated.</param>
/// <param name="ActorAuthorityId">The acting user's authority, when known.</param>
/// <param name="Target">The id of what was acted on, if any.</param>
/// <param name="Reason">A machine reason for a denial or failure (an ErrorReason name), never free text from the caller.</param>
/// <param name="Peer">The caller's network address.</param>
/// <param name="TraceId">The W3C trace id of the call.</param>
public sealed record AuditEntry(
    Guid EntryId,
    DateTimeOffset OccurredAt,
    string Action,
    AuditOutcome Outcome,
    Guid? ActorUserId = null,
    Guid? ActorDeviceId = null,
    Guid? ActorAuthorityId = null,
    string? Target = null,
    string? Reason = null,
    string? Peer = null,
    string? TraceId = null);

/// <summary>An audit entry as stored, with its place in the chain.</summary>
/// <param name="Position">Gap-free position in the audit chain, starting at 1.</param>
/// <param name="Entry">The entry.</param>
/// <param name="Hash">Its BLAKE2b-256 link.</param>
public sealed record StoredAuditEntry(long Position, AuditEntry Entry, ReadOnlyMemory<byte> Hash);

/// <summary>The wire names of audit outcomes, as the audit chain hashes them.</summary>
public static class AuditOutcomeWire
{
    /// <summary>"allowed", "denied" or "failed".</summary>
    public static string ToWire(this AuditOutcome outcome) => outcome switch
    {
        AuditOutcome.Allowed => "allowed",
        AuditOutcome.Denied => "denied",
        AuditOutcome.Failed => "failed",
        _ => throw new ArgumentOutOfRangeException(nameof(outcome), outcome, "Unknown audit outcome."),
    };

    /// <summary>The outcome of a wire name.</summary>
    public static AuditOutcome FromWire(string value) => value switch
    {
        "allowed" => AuditOutcome.Allowed,
        "denied" => AuditOutcome.Denied,
        "failed" => AuditOutcome.Failed,
        _ => throw new InvalidDataException($"Unknown audit outcome '{value}'."),
    };
}
