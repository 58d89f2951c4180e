namespace GlobeSecure.EventStore;

/// <summary>
/// Which audit entries a filtered read returns (<see cref="PostgresEventStore.ReadAuditLinkedAsync"/>):
/// every criterion that is set narrows the result (AND); unset ones select everything.
/// </summary>
public sealed record AuditSelection
{
    /// <summary>Entries after this position (0: from the start).</summary>
    public long AfterPosition { get; init; }

    /// <summary>Entries up to and including this position (an export's snapshot of the head), if set.</summary>
    public long? ThroughPosition { get; init; }

    /// <summary>The acting user.</summary>
    public Guid? ActorUserId { get; init; }

    /// <summary>The acting device.</summary>
    public Guid? ActorDeviceId { get; init; }

    /// <summary>The exact action name.</summary>
    public string? Action { get; init; }

    /// <summary>Actions starting with this text (e.g. "/globesecure.v1.DocumentService/").</summary>
    public string? ActionPrefix { get; init; }

    /// <summary>The exact target.</summary>
    public string? Target { get; init; }

    /// <summary>The outcome.</summary>
    public AuditOutcome? Outcome { get; init; }

    /// <summary>Entries that occurred at or after this time.</summary>
    public DateTimeOffset? From { get; init; }

    /// <summary>Entries that occurred before this time.</summary>
    public DateTimeOffset? To { get; init; }

    /// <summary>Each scope must hold (an auditor's own authority, and an authority the filter names).</summary>
    public IReadOnlyList<AuditScope> Scopes { get; init; } = [];

    /// <summary>True when nothing but positions and times narrows the selection (no criterion on an entry's fields, no scope).</summary>
    public bool OnlyPositionsAndTimes =>
        ActorUserId is null && ActorDeviceId is null && Action is null && ActionPrefix is null && Target is null && Outcome is null && Scopes.Count == 0;
}

/// <summary>
/// The entries that belong to an authority: those its users acted (the entry's actor authority),
/// and those whose target <paramref name="TargetRule"/> says is the authority's.
/// </summary>
/// <param name="AuthorityId">The authority.</param>
/// <param name="TargetRule">
/// A SQL boolean expression, the owner's rule over its own read models, in which <c>{schema}</c> is
/// the store's schema, <c>{authority}</c> the authority id (uuid) and <c>{target}</c> the uuid that
/// leads the entry's target (the target itself, or its part before a '/', e.g. a channel in
/// "channel/epoch"; null when the target does not start with a UUID).
/// </param>
public sealed record AuditScope(Guid AuthorityId, string TargetRule);

/// <summary>How many entries a selection holds and where they lie.</summary>
/// <param name="Count">Entries selected.</param>
/// <param name="FirstPosition">The first one's position (0 when none).</param>
/// <param name="LastPosition">The last one's position (0 when none).</param>
public sealed record AuditRange(long Count, long FirstPosition, long LastPosition)
{
    /// <summary>True when the selected entries are every stored entry from the first to the last (no gap).</summary>
    public bool IsContiguous => Count == 0 || LastPosition - FirstPosition + 1 == Count;
}
