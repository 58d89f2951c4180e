namespace GlobeSecure.Crypto.Tests;

public sealed class Blake2b256Tests
{
    [Fact]
    public void Hash_EmptyInput_IsTheKnownBlake2b256()
    {
        // BLAKE2b-256 of the empty string (RFC 7693 parameters, 32-byte output).
        Assert.Equal("0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8", Convert.ToHexStringLower(Blake2b256.Hash([])));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(65_552)]
    public void Append_InPieces_EqualsOneShotAndCountsBytes(int piece)
    {
        var data = new byte[200_000];
        new Random(42).NextBytes(data);
        using var hash = new Blake2b256();

        for (var offset = 0; offset < data.Length; offset += piece)
        {
            hash.Append(data.AsSpan(offset, Math.Min(piece, data.Length - offset)));
        }

        Assert.Equal(data.Length, hash.Length);
        Assert.Equal(Blake2b256.Hash(data), hash.Finish());
    }

    [Fact]
    public void Finish_Twice_Throws()
    {
        using var hash = new Blake2b256();
        hash.Finish();

        Assert.Throws<ObjectDisposedException>(() => hash.Finish());
    }
}
