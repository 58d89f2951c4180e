using GlobeSecure.Crypto;
using Sodium;

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
    public const int HashLength = 32;

    /// <summary>Context string of event links.</summary>
    public const string EventContext = "globe/v1/event";

    /// <summary>Context string of audit links.</summary>
    public const string AuditContext = "globe/v1/audit";

    /// <summary>The previous hash of the first link.</summary>
    public static ReadOnlyMemory<byte> Genesis { get; } = new byte[HashLength];

    /// <summary>Computes the link of an event.</summary>
    public static byte[] EventLink(ReadOnlySpan<byte> previous, long position, Guid eventId, string streamId, long version,
        string type, string json, string? metadataJson, DateTimeOffset recordedAt)
    {
        var writer = new CanonicalWriter(EventContext);
        writer.Int64(position);
        writer.Guid(eventId);
        writer.Text(streamId);
        writer.Int64(version);
        writer.Text(type);
        writer.Text(json);
        writer.Text(metadataJson);
        writer.Time(recordedAt);
        return writer.Link(previous);
    }

    /// <summary>Computes the link of an audit entry.</summary>
    public static byte[] AuditLink(ReadOnlySpan<byte> previous, long position, AuditEntry entry)
    {
        var writer = new CanonicalWriter(AuditContext);
        writer.Int64(position);
        writer.Guid(entry.EntryId);
        writer.Time(entry.OccurredAt);
        writer.Text(entry.Action);
        writer.Text(entry.Outcome.ToWire());
        writer.Guid(entry.ActorUserId);
        writer.Guid(entry.ActorDeviceId);
        writer.Guid(entry.ActorAuthorityId);
        writer.Text(entry.Target);
        writer.Text(entry.Reason);
        writer.Text(entry.Peer);
        writer.Text(entry.TraceId);
        return writer.Link(previous);
    }

    /// <summary>PostgreSQL stores microseconds; hashing the same precision keeps a re-read link identical.</summary>
    public static DateTimeOffset TruncateToMicroseconds(DateTimeOffset value) => CanonicalWriter.TruncateToMicroseconds(value);

    private static byte[] Link(this CanonicalWriter writer, ReadOnlySpan<byte> previous)
    {
        if (previous.Length != HashLength)
        {
            throw new ArgumentException($"A previous link is {HashLength} bytes.", nameof(previous));
        }

        var canonical = writer.WrittenSpan;
        var input = new byte[HashLength + canonical.Length];
        previous.CopyTo(input);
        canonical.CopyTo(input.AsSpan(HashLength));
        return GenericHash.Hash(input, (byte[]?)null!, HashLength);
    }
}
