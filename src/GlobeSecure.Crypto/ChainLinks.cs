namespace GlobeSecure.Crypto;

/// <summary>
/// The event store's tamper-evident links (docs/event-store.md): <c>BLAKE2b-256(previous ‖
/// canonical bytes)</c> under <c>globe/v1/event</c> and <c>globe/v1/audit</c>. Here, beside the
/// canonical writer, so that the server's store and an offline verifier (an export package,
/// docs/requests.md) compute them with the same code.
/// </summary>
public static class ChainLinks
{
    /// <summary>Length of every link in bytes.</summary>
    public const int HashLength = Primitives.HashBytes;

    /// <summary>Context string of event links.</summary>
    public const string EventContext = "globe/v1/event";

    /// <summary>Context string of audit links.</summary>
    public const string AuditContext = "globe/v1/audit";

    /// <summary>The link of an event: position, event id, stream id, version, type, data JSON as stored, metadata JSON (or absent), recorded at.</summary>
    public static byte[] EventLink(ReadOnlySpan<byte> previous, long position, Guid eventId, string streamId, long version,
        string type, string json, string? metadataJson, DateTimeOffset recordedAt) =>
        Link(previous, new CanonicalWriter(EventContext)
            .Int64(position)
            .Guid(eventId)
            .Text(streamId)
            .Int64(version)
            .Text(type)
            .Text(json)
            .Text(metadataJson)
            .Time(recordedAt));

    /// <summary>
    /// The link of an audit entry: position, entry id, occurred at, action, outcome wire name
    /// (<c>allowed</c>, <c>denied</c>, <c>failed</c>), actor user, device and authority ids, target,
    /// reason, peer, trace id (absent values as zero-length fields).
    /// </summary>
    public static byte[] AuditLink(ReadOnlySpan<byte> previous, long position, Guid entryId, DateTimeOffset occurredAt, string action,
        string outcome, Guid? actorUserId, Guid? actorDeviceId, Guid? actorAuthorityId, string? target, string? reason, string? peer,
        string? traceId) =>
        Link(previous, new CanonicalWriter(AuditContext)
            .Int64(position)
            .Guid(entryId)
            .Time(occurredAt)
            .Text(action)
            .Text(outcome)
            .Guid(actorUserId)
            .Guid(actorDeviceId)
            .Guid(actorAuthorityId)
            .Text(target)
            .Text(reason)
            .Text(peer)
            .Text(traceId));

    private static byte[] Link(ReadOnlySpan<byte> previous, CanonicalWriter writer)
    {
        if (previous.Length != HashLength)
        {
            throw new ArgumentException($"A previous link is {HashLength} bytes.", nameof(previous));
        }

        var canonical = writer.WrittenSpan;
        var input = new byte[HashLength + canonical.Length];
        previous.CopyTo(input);
        canonical.CopyTo(input.AsSpan(HashLength));
        return Primitives.Hash(input);
    }
}
