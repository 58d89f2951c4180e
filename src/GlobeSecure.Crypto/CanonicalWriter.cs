using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace GlobeSecure.Crypto;

/// <summary>
/// Canonical bytes: the only thing GlobeSecure ever signs, hashes into a chain or uses as
/// associated data. A context string names the kind of object (for example
/// <c>globe/v1/message</c>), then come the fields in a fixed, documented order. Every field,
/// the context included, is a 4-byte big-endian length followed by its bytes: integers are 8-byte
/// big-endian two's complement, ids their 16 bytes in RFC 4122 (big-endian) order, times Unix
/// microseconds as an integer, text UTF-8, and an absent value has length zero. Protobuf
/// encodings are never signed: they are not canonical across implementations.
/// docs/protocol.md specifies every layout.
/// </summary>
public sealed class CanonicalWriter
{
    private readonly ArrayBufferWriter<byte> _buffer;

    /// <summary>Starts canonical bytes for an object of the given kind.</summary>
    public CanonicalWriter(string context, int initialCapacity = 256)
    {
        ArgumentException.ThrowIfNullOrEmpty(context);
        _buffer = new ArrayBufferWriter<byte>(initialCapacity);
        Text(context);
    }

    /// <summary>The bytes written so far.</summary>
    public ReadOnlySpan<byte> WrittenSpan => _buffer.WrittenSpan;

    /// <summary>A signed 64-bit integer, 8 bytes big-endian.</summary>
    public CanonicalWriter Int64(long value)
    {
        Length(8);
        BinaryPrimitives.WriteInt64BigEndian(_buffer.GetSpan(8), value);
        _buffer.Advance(8);
        return this;
    }

    /// <summary>An id as its 16 RFC 4122 bytes; null is written as a zero-length field.</summary>
    public CanonicalWriter Guid(Guid? value)
    {
        if (value is not { } id)
        {
            return Length(0);
        }

        Length(16);
        id.TryWriteBytes(_buffer.GetSpan(16), bigEndian: true, out _);
        _buffer.Advance(16);
        return this;
    }

    /// <summary>A point in time as Unix microseconds (sub-microsecond precision is dropped).</summary>
    public CanonicalWriter Time(DateTimeOffset value) => Int64(ToUnixMicroseconds(value));

    /// <summary>UTF-8 text; null and empty are both a zero-length field.</summary>
    public CanonicalWriter Text(string? value)
    {
        var count = value is null ? 0 : Encoding.UTF8.GetByteCount(value);
        Length(count);
        if (count > 0)
        {
            Encoding.UTF8.GetBytes(value, _buffer.GetSpan(count));
            _buffer.Advance(count);
        }

        return this;
    }

    /// <summary>Raw bytes (a key, a hash, or another object's canonical bytes).</summary>
    public CanonicalWriter Bytes(ReadOnlySpan<byte> value)
    {
        Length(value.Length);
        _buffer.Write(value);
        return this;
    }

    /// <summary>A copy of the canonical bytes.</summary>
    public byte[] ToArray() => _buffer.WrittenSpan.ToArray();

    /// <summary>Unix microseconds of a time: the precision every signed or hashed time has.</summary>
    /// <remarks>Floors, like <see cref="TruncateToMicroseconds"/>, so the two agree before 1970 too.</remarks>
    public static long ToUnixMicroseconds(DateTimeOffset value) =>
        (TruncateToMicroseconds(value).UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) / 10;

    /// <summary>The time as it survives canonical encoding (and PostgreSQL): whole microseconds, UTC.</summary>
    public static DateTimeOffset TruncateToMicroseconds(DateTimeOffset value) =>
        new(value.UtcTicks - (value.UtcTicks % 10), TimeSpan.Zero);

    private CanonicalWriter Length(int length)
    {
        BinaryPrimitives.WriteUInt32BigEndian(_buffer.GetSpan(4), checked((uint)length));
        _buffer.Advance(4);
        return this;
    }
}
