namespace GlobeSecure.Crypto.Tests;

public sealed class ChannelInfoTests
{
    private readonly Guid _channel = Guid.CreateVersion7();

    [Fact]
    public void Open_SealedUnderTheSameEpochKey_ReturnsTitleAndDescription()
    {
        using var key = EpochKey.Generate(_channel, 1);
        var info = new ChannelInfo("Case 2026-117: port concession", "Bribery of a port official — Mombasa, €2 m");

        var opened = ChannelInfo.Open(info.Seal(key), key);

        Assert.Equal(info, opened);
    }

    [Fact]
    public void Seal_SameInfoTwice_UsesAFreshNonceEachTime()
    {
        using var key = EpochKey.Generate(_channel, 1);
        var info = new ChannelInfo("Case", "");

        Assert.NotEqual(info.Seal(key), info.Seal(key));
    }

    [Fact]
    public void Open_KeyOfAnotherEpochOrChannel_ThrowsDecryptionFailed()
    {
        using var key = EpochKey.Generate(_channel, 1);
        var sealedInfo = new ChannelInfo("Case", "d").Seal(key);
        using var sameBytesOtherEpoch = EpochKey.FromBytes(_channel, 2, key.Key);
        using var sameBytesOtherChannel = EpochKey.FromBytes(Guid.CreateVersion7(), 1, key.Key);

        var otherEpoch = Assert.Throws<DecryptionFailedException>(() => ChannelInfo.Open(sealedInfo, sameBytesOtherEpoch));
        Assert.Throws<DecryptionFailedException>(() => ChannelInfo.Open(sealedInfo, sameBytesOtherChannel));
        Assert.Equal("channel info", otherEpoch.ObjectKind);
    }

    [Fact]
    public void Open_AnyByteChanged_ThrowsDecryptionFailed()
    {
        using var key = EpochKey.Generate(_channel, 1);
        var sealedInfo = new ChannelInfo("Case", "description").Seal(key);

        for (var i = 0; i < sealedInfo.Length; i++)
        {
            var altered = (byte[])sealedInfo.Clone();
            altered[i] ^= 0x80;
            Assert.Throws<DecryptionFailedException>(() => ChannelInfo.Open(altered, key));
        }

        Assert.Throws<DecryptionFailedException>(() => ChannelInfo.Open(sealedInfo.AsSpan(0, 39), key));
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    public void Seal_EmptyTitle_ThrowsArgument(string title)
    {
        using var key = EpochKey.Generate(_channel, 1);

        Assert.Throws<ArgumentException>(() => new ChannelInfo(title, "").Seal(key));
    }

    [Fact]
    public void Seal_TitleAndDescriptionTooLargeToStore_ThrowsArgumentNamingTheLimit()
    {
        using var key = EpochKey.Generate(_channel, 1);
        var longest = new ChannelInfo(new string('t', ChannelInfo.MaxTitleLength), new string('d', 3000));

        var tooLong = Assert.Throws<ArgumentException>(() => new ChannelInfo(new string('t', ChannelInfo.MaxTitleLength + 1), "").Seal(key));
        var tooLarge = Assert.Throws<ArgumentException>(() => (longest with { Description = new string('d', 4000) }).Seal(key));
        Assert.True(longest.Seal(key).Length <= ChannelInfo.MaxSealedBytes);
        Assert.Contains("200", tooLong.Message, StringComparison.Ordinal);
        Assert.Contains("4096", tooLarge.Message, StringComparison.Ordinal);
    }
}
