using GlobeSecure.Crypto;

namespace GlobeSecure.EventStore;

/// <summary>
/// The tamper-evident link: <c>hash = BLAKE2b-256(previous hash ‖ canonical bytes)</c>. Canonical
/// bytes are a context string followed by fields in a fixed order, each written as a 4-byte
/// big-endian length and then its bytes; integers are 8-byte big-endian, ids their 16 RFC 4122
/// bytes, text UTF-8, absent values zero-length. The first link's previous hash is 32 zero
/// bytes. The layout is GlobeSecure.Crypto's <see cref="CanonicalWriter"/>, shared with every signed
/// object; docs/event-store.md documents it with a test vector.
/// </summary>
public static class HashChain
{
    /// <summary>Length of every link in bytes.</summary>
    public const int HashLength = ChainLinks.HashLength;

    /// <summary>Context string of event links.</summary>
    public const string EventContext = ChainLinks.EventContext;

    /// <summary>Context string of audit links.</summary>
    public const string AuditContext = ChainLinks.AuditContext;

    /// <summary>The previous hash of the first link.</summary>
    public static ReadOnlyMemory<byte> Genesis { get; } = new byte[HashLength];

    /// <summary>Computes the link of an event.</summary>
    public static byte[] EventLink(ReadOnlySpan<byte> previous, long position, Guid eventId, string streamId, long version,
        string type, string json, string? metadataJson, DateTimeOffset recordedAt) =>
        ChainLinks.EventLink(previous, position, eventId, streamId, version, type, json, metadataJson, recordedAt);

    /// <summary>Computes the link of an audit entry.</summary>
    public static byte[] AuditLink(ReadOnlySpan<byte> previous, long position, AuditEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        return ChainLinks.AuditLink(previous, position, entry.EntryId, entry.OccurredAt, entry.Action, entry.Outcome.ToWire(), entry.ActorUserId,
            entry.ActorDeviceId, entry.ActorAuthorityId, entry.Target, entry.Reason, entry.Peer, entry.TraceId);
    }

    /// <summary>PostgreSQL stores microseconds; hashing the same precision keeps a re-read link identical.</summary>
    public static DateTimeOffset TruncateToMicroseconds(DateTimeOffset value) => CanonicalWriter.TruncateToMicroseconds(value);
}
