namespace GlobeSecure.EventStore;

/// <summary>An event serialized in the caller's thread, so the single writer only does I/O.</summary>
internal sealed record SerializedEvent(Guid EventId, string Type, string Json, EventMetadata? Metadata, string? MetadataJson, object Data);

/// <summary>One queued append (events and/or an audit entry) awaiting its group commit.</summary>
internal sealed class PendingWrite
{
    public PendingWrite(string? streamId, ExpectedVersion expected, IReadOnlyList<SerializedEvent> events, AuditEntry? audit, CancellationToken cancellationToken,
        IReadOnlyList<StreamCondition>? conditions = null)
    {
        StreamId = streamId;
        Conditions = conditions ?? [];
        Expected = expected;
        Events = events;
        Audit = audit;
        CancellationToken = cancellationToken;
    }

    public string? StreamId { get; }

    public ExpectedVersion Expected { get; }

    /// <summary>Other streams that must be at exactly these versions for the append to commit.</summary>
    public IReadOnlyList<StreamCondition> Conditions { get; }

    public IReadOnlyList<SerializedEvent> Events { get; }

    public AuditEntry? Audit { get; }

    public CancellationToken CancellationToken { get; }

    public TaskCompletionSource<AppendResult> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    // Filled by the writer while it plans the batch; committed only if the batch commits.
    public AppendResult? Planned { get; set; }

    public Exception? Rejected { get; set; }

    public List<StoredEvent> NewEvents { get; } = [];

    public StoredAuditEntry? NewAudit { get; set; }
}
