using System.Text;

namespace GlobeSecure.Crypto.Tests;

public sealed class PassphraseKdfTests
{
    private static readonly byte[] Salt = [.. Enumerable.Range(0, 16).Select(i => (byte)i)];

    [Fact]
    public void DeriveKey_KnownInput_MatchesPythonCryptographyArgon2id()
    {
        // cryptography 48: Argon2id(salt=00..0f, length=32, iterations=3, lanes=1, memory_cost=8 KiB)
        var key = PassphraseKdf.DeriveKey(Encoding.UTF8.GetBytes("correct horse battery staple"), Salt, Argon2idParameters.InsecureForTests);

        Assert.Equal("7744e9ee1925ffcab43d94e81f1e845b930f4beb49226906b5da0ecaefff4c73", Convert.ToHexStringLower(key));
    }

    [Fact]
    public void DeriveKey_DifferentPassphraseOrSalt_GivesDifferentKeys()
    {
        var parameters = Argon2idParameters.InsecureForTests;
        var baseline = PassphraseKdf.DeriveKey("one"u8, Salt, parameters);

        Assert.Equal(baseline, PassphraseKdf.DeriveKey("one"u8, Salt, parameters));
        Assert.NotEqual(baseline, PassphraseKdf.DeriveKey("two"u8, Salt, parameters));
        Assert.NotEqual(baseline, PassphraseKdf.DeriveKey("one"u8, Bytes.FlipBit(Salt, 0), parameters));
        Assert.NotEqual(baseline, PassphraseKdf.DeriveKey("one"u8, Salt, parameters with { OpsLimit = 4 }));
        Assert.Equal(PassphraseKdf.KeyBytes, baseline.Length);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(15)]
    [InlineData(17)]
    public void DeriveKey_SaltOfWrongLength_ThrowsMalformedInput(int length)
    {
        Assert.Throws<MalformedInputException>(
            () => PassphraseKdf.DeriveKey("x"u8, new byte[length], Argon2idParameters.InsecureForTests));
    }

    [Theory]
    [InlineData(2L, 8 * 1024)]
    [InlineData(0L, 8 * 1024)]
    [InlineData(-1L, 8 * 1024)]
    [InlineData(65L, 8 * 1024)]
    [InlineData(long.MaxValue, 8 * 1024)]
    [InlineData(3L, 8 * 1024 - 1)]
    [InlineData(3L, 0)]
    [InlineData(3L, -1)]
    [InlineData(3L, 1024 * 1024 * 1024 + 1)]
    [InlineData(3L, int.MaxValue)]
    public void Validate_ParametersOutOfRange_ThrowsMalformedInput(long opsLimit, int memLimitBytes)
    {
        var parameters = new Argon2idParameters(opsLimit, memLimitBytes);

        Assert.Throws<MalformedInputException>(parameters.Validate);
        Assert.Throws<MalformedInputException>(() => PassphraseKdf.DeriveKey("x"u8, Salt, parameters));
    }

    [Theory]
    [InlineData(3L, 8 * 1024)]
    [InlineData(64L, 8 * 1024)]
    [InlineData(3L, 1024 * 1024 * 1024)]
    public void Validate_ParametersAtTheLimits_Accepts(long opsLimit, int memLimitBytes)
    {
        new Argon2idParameters(opsLimit, memLimitBytes).Validate();
        Argon2idParameters.Default.Validate();
    }

    [Fact]
    public void NewSalt_Twice_GivesDistinctSixteenByteSalts()
    {
        var a = PassphraseKdf.NewSalt();
        var b = PassphraseKdf.NewSalt();

        Assert.Equal(PassphraseKdf.SaltBytes, a.Length);
        Assert.NotEqual(a, b);
    }

    [Fact]
    public void SecretBox_RoundTrip_ReturnsPlaintext()
    {
        var key = Bytes.Random(32);

        var (nonce, ciphertext) = SecretBox.Encrypt("keystore"u8, "ad"u8, key);

        Assert.Equal("keystore"u8.ToArray(), SecretBox.TryDecrypt(ciphertext, "ad"u8, nonce, key));
    }

    [Theory]
    [InlineData("ciphertext")]
    [InlineData("tag")]
    [InlineData("nonce")]
    [InlineData("ad")]
    [InlineData("key")]
    [InlineData("short-nonce")]
    [InlineData("short-ciphertext")]
    public void SecretBox_AnyInputAltered_ReturnsNull(string altered)
    {
        var key = Bytes.Random(32);
        var (nonce, ciphertext) = SecretBox.Encrypt("keystore"u8, "ad"u8, key);
        var ad = "ad"u8.ToArray();
        switch (altered)
        {
            case "ciphertext": ciphertext = Bytes.FlipBit(ciphertext, 0); break;
            case "tag": ciphertext = Bytes.FlipBit(ciphertext, ciphertext.Length - 1); break;
            case "nonce": nonce = Bytes.FlipBit(nonce, 5); break;
            case "ad": ad = Bytes.FlipBit(ad, 1); break;
            case "key": key = Bytes.FlipBit(key, 31); break;
            case "short-nonce": nonce = nonce[..23]; break;
            case "short-ciphertext": ciphertext = ciphertext[..15]; break;
        }

        Assert.Null(SecretBox.TryDecrypt(ciphertext, ad, nonce, key));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(31)]
    [InlineData(33)]
    public void SecretBox_KeyOfWrongLength_ThrowsMalformedInput(int length)
    {
        Assert.Throws<MalformedInputException>(() => SecretBox.Encrypt("x"u8, [], new byte[length]));
        Assert.Throws<MalformedInputException>(() => SecretBox.TryDecrypt(new byte[32], [], new byte[24], new byte[length]));
    }
}
