namespace GlobeSecure.Crypto.Tests;

/// <summary>
/// Exact bytes for each field kind, written by hand from the documented layout: every field is a
/// 4-byte big-endian length then its bytes; integers 8-byte big-endian; ids in RFC 4122 order;
/// times Unix microseconds; absent text or id a zero-length field.
/// </summary>
public sealed class CanonicalWriterTests
{
    // "t" = 00000001 74
    private const string ContextT = "0000000174";

    private static string Hex(CanonicalWriter writer) => Convert.ToHexStringLower(writer.WrittenSpan);

    [Fact]
    public void Time_Before1970WithSubMicrosecondTicks_AgreesWithTruncation()
    {
        // 1969-12-31T23:59:59.9999995Z: 5 ticks before the epoch. Flooring gives -1 µs, and the
        // truncated time must encode to the same value (it once rounded toward zero instead).
        var time = DateTimeOffset.UnixEpoch.AddTicks(-5);

        Assert.Equal(-1, CanonicalWriter.ToUnixMicroseconds(time));
        Assert.Equal(CanonicalWriter.ToUnixMicroseconds(time),
            CanonicalWriter.ToUnixMicroseconds(CanonicalWriter.TruncateToMicroseconds(time)));
    }

    [Fact]
    public void Constructor_Context_WritesLengthPrefixedUtf8()
    {
        Assert.Equal("00000010" + "676c6f62652f76312f6d657373616765", Hex(new CanonicalWriter("globe/v1/message")));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    public void Constructor_NoContext_Throws(string? context)
    {
        Assert.ThrowsAny<ArgumentException>(() => new CanonicalWriter(context!));
    }

    [Theory]
    [InlineData(0L, "00000008" + "0000000000000000")]
    [InlineData(1L, "00000008" + "0000000000000001")]
    [InlineData(-1L, "00000008" + "ffffffffffffffff")]
    [InlineData(-2L, "00000008" + "fffffffffffffffe")]
    [InlineData(0x0102030405060708L, "00000008" + "0102030405060708")]
    [InlineData(long.MaxValue, "00000008" + "7fffffffffffffff")]
    [InlineData(long.MinValue, "00000008" + "8000000000000000")]
    public void Int64_Value_WritesEightBytesBigEndian(long value, string expected)
    {
        Assert.Equal(ContextT + expected, Hex(new CanonicalWriter("t").Int64(value)));
    }

    [Fact]
    public void Guid_Value_WritesRfc4122ByteOrder()
    {
        var id = Guid.Parse("00112233-4455-6677-8899-aabbccddeeff");

        Assert.Equal(ContextT + "00000010" + "00112233445566778899aabbccddeeff", Hex(new CanonicalWriter("t").Guid(id)));
    }

    [Fact]
    public void Guid_Null_WritesZeroLength()
    {
        Assert.Equal(ContextT + "00000000", Hex(new CanonicalWriter("t").Guid(null)));
    }

    [Fact]
    public void Guid_Empty_WritesSixteenZeroBytesNotZeroLength()
    {
        Assert.Equal(ContextT + "00000010" + new string('0', 32), Hex(new CanonicalWriter("t").Guid(Guid.Empty)));
    }

    [Fact]
    public void Time_SubMicrosecondTicks_WritesWholeUnixMicroseconds()
    {
        // 1.5 s + 7 ticks after the epoch = 1 500 000 µs = 0x16e360; the 700 ns are dropped.
        var time = DateTimeOffset.UnixEpoch.AddSeconds(1.5).AddTicks(7);

        Assert.Equal(ContextT + "00000008" + "000000000016e360", Hex(new CanonicalWriter("t").Time(time)));
    }

    [Fact]
    public void Time_OffsetOtherThanUtc_WritesTheSameInstant()
    {
        var utc = new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero);
        var local = utc.ToOffset(TimeSpan.FromHours(5.5));

        Assert.Equal(Hex(new CanonicalWriter("t").Time(utc)), Hex(new CanonicalWriter("t").Time(local)));
        // 2026-01-02T03:04:05Z = 1767323045 s = 1767323045000000 µs = 0x0006475ef64cf340
        Assert.Equal(ContextT + "00000008" + "0006475ef64cf340", Hex(new CanonicalWriter("t").Time(utc)));
    }

    [Fact]
    public void TruncateToMicroseconds_DropsTicksBelowAMicrosecondAndNormalisesToUtc()
    {
        var time = new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.FromHours(2)).AddTicks(19);

        var truncated = CanonicalWriter.TruncateToMicroseconds(time);

        Assert.Equal(TimeSpan.Zero, truncated.Offset);
        Assert.Equal(time.UtcTicks - 9, truncated.UtcTicks);
        Assert.Equal(CanonicalWriter.ToUnixMicroseconds(time), CanonicalWriter.ToUnixMicroseconds(truncated));
    }

    [Theory]
    [InlineData("a", "00000001" + "61")]
    [InlineData("é", "00000002" + "c3a9")]
    [InlineData("€1", "00000004" + "e282ac31")]
    [InlineData("", "00000000")]
    [InlineData(null, "00000000")]
    public void Text_Value_WritesUtf8WithLength(string? value, string expected)
    {
        Assert.Equal(ContextT + expected, Hex(new CanonicalWriter("t").Text(value)));
    }

    [Fact]
    public void Bytes_Value_WritesLengthAndBytes()
    {
        Assert.Equal(ContextT + "00000003" + "010203", Hex(new CanonicalWriter("t").Bytes([1, 2, 3])));
        Assert.Equal(ContextT + "00000000", Hex(new CanonicalWriter("t").Bytes([])));
    }

    [Fact]
    public void Fields_Chained_AreConcatenatedInOrder()
    {
        var writer = new CanonicalWriter("ab", initialCapacity: 1)
            .Int64(5)
            .Guid(Guid.Parse("ffffffff-0000-0000-0000-000000000001"))
            .Text("x")
            .Guid(null)
            .Bytes([0xaa]);

        Assert.Equal(
            "00000002" + "6162" +
            "00000008" + "0000000000000005" +
            "00000010" + "ffffffff000000000000000000000001" +
            "00000001" + "78" +
            "00000000" +
            "00000001" + "aa",
            Hex(writer));
        Assert.Equal(writer.WrittenSpan.ToArray(), writer.ToArray());
    }

    [Fact]
    public void Text_BytesMovedBetweenAdjacentFields_ChangesTheEncoding()
    {
        Assert.NotEqual(Hex(new CanonicalWriter("t").Text("ab").Text("c")), Hex(new CanonicalWriter("t").Text("a").Text("bc")));
    }

    [Fact]
    public void Bytes_LargeValue_GrowsTheBuffer()
    {
        var value = Bytes.Random(100_000);

        var written = new CanonicalWriter("t", initialCapacity: 8).Bytes(value).ToArray();

        Assert.Equal(5 + 4 + value.Length, written.Length);
        Assert.Equal(value, written[9..]);
        Assert.Equal([0x00, 0x01, 0x86, 0xa0], written[5..9]);
    }
}
