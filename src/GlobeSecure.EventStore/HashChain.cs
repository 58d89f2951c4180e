using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using Sodium;

namespace GlobeSecure.EventStore;

/// <summary>
/// The tamper-evident link: <c>hash = BLAKE2b-256(previous hash ‖ canonical bytes)</c>. Canonical
/// bytes are a context string followed by fields in a fixed order, each written as a 4-byte
/// big-endian length and then its bytes; integers are 8-byte big-endian, ids their 16 RFC 4122
/// bytes, text UTF-8, absent values zero-length. The first link's previous hash is 32 zero
/// bytes. docs/event-store.md documents the layout with a test vector.
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
        writer.Int64(ToUnixMicroseconds(recordedAt));
        return writer.Link(previous);
    }

    /// <summary>Computes the link of an audit entry.</summary>
    public static byte[] AuditLink(ReadOnlySpan<byte> previous, long position, AuditEntry entry)
    {
        var writer = new CanonicalWriter(AuditContext);
        writer.Int64(position);
        writer.Guid(entry.EntryId);
        writer.Int64(ToUnixMicroseconds(entry.OccurredAt));
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
    public static DateTimeOffset TruncateToMicroseconds(DateTimeOffset value) =>
        new(value.UtcTicks - (value.UtcTicks % 10), TimeSpan.Zero);

    private static long ToUnixMicroseconds(DateTimeOffset value) =>
        (value.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) / 10;

    private sealed class CanonicalWriter
    {
        private readonly ArrayBufferWriter<byte> _buffer = new(256);

        public CanonicalWriter(string context) => Text(context);

        public void Int64(long value)
        {
            Length(8);
            BinaryPrimitives.WriteInt64BigEndian(_buffer.GetSpan(8), value);
            _buffer.Advance(8);
        }

        public void Guid(Guid? value)
        {
            if (value is not { } id)
            {
                Length(0);
                return;
            }

            Length(16);
            id.TryWriteBytes(_buffer.GetSpan(16), bigEndian: true, out _);
            _buffer.Advance(16);
        }

        public void Text(string? value)
        {
            var count = value is null ? 0 : Encoding.UTF8.GetByteCount(value);
            Length(count);
            if (count > 0)
            {
                Encoding.UTF8.GetBytes(value, _buffer.GetSpan(count));
                _buffer.Advance(count);
            }
        }

        public byte[] Link(ReadOnlySpan<byte> previous)
        {
            if (previous.Length != HashLength)
            {
                throw new ArgumentException($"A previous link is {HashLength} bytes.", nameof(previous));
            }

            var input = new byte[HashLength + _buffer.WrittenCount];
            previous.CopyTo(input);
            _buffer.WrittenSpan.CopyTo(input.AsSpan(HashLength));
            return GenericHash.Hash(input, (byte[]?)null!, HashLength);
        }

        private void Length(int length)
        {
            BinaryPrimitives.WriteUInt32BigEndian(_buffer.GetSpan(4), checked((uint)length));
            _buffer.Advance(4);
        }
    }
}
