using System.Text;

namespace GlobeSecure.Crypto.Tests;

/// <summary>
/// Published known-answer vectors through our wrappers. Every hex string was cross-checked with
/// Python's <c>cryptography</c> package (Ed25519, X25519; XChaCha20 via HChaCha20 +
/// ChaCha20Poly1305) and <c>hashlib.blake2b(digest_size=32)</c>.
/// </summary>
public sealed class StandardVectorTests
{
    [Fact]
    public void SelfTest_Run_PassesEveryCheck()
    {
        var passed = CryptoSelfTest.Run();

        Assert.Equal(
        [
            "ed25519/rfc8032-7.1-test1",
            "ed25519/rfc8032-7.1-test2",
            "ed25519/rfc8032-7.1-test3",
            "x25519/rfc7748-5.2-vector1",
            "x25519/rfc7748-5.2-vector2",
            "x25519/rfc7748-6.1-alice-public",
            "x25519/rfc7748-6.1-bob-public",
            "x25519/rfc7748-6.1-shared-secret-alice",
            "x25519/rfc7748-6.1-shared-secret-bob",
            "xchacha20poly1305/draft-03-a.3.1-encrypt",
            "xchacha20poly1305/draft-03-a.3.1-decrypt",
            "xchacha20poly1305/draft-03-a.3.1-rejects-flipped-tag",
            "blake2b-256/empty",
            "blake2b-256/abc",
        ], passed);
    }

    [Fact]
    public void SelfTestCheck_WrongAnswer_ThrowsNamingTheCheck()
    {
        var error = Assert.Throws<SelfTestFailedException>(() => CryptoSelfTest.Check([], "demo/check", () => false));

        Assert.Equal("demo/check", error.CheckName);
        Assert.Contains("demo/check", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void SelfTestCheck_CheckThrows_WrapsInSelfTestFailed()
    {
        var error = Assert.Throws<SelfTestFailedException>(
            () => CryptoSelfTest.Check([], "demo/throws", () => throw new InvalidOperationException("secret detail")));

        Assert.Equal("demo/throws", error.CheckName);
        Assert.DoesNotContain("secret detail", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void SelfTestCheck_Passes_RecordsTheName()
    {
        var passed = new List<string>();

        CryptoSelfTest.Check(passed, "demo/ok", () => true);

        Assert.Equal(["demo/ok"], passed);
    }

    [Theory]
    [InlineData("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b")]
    [InlineData("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
        "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
        "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00")]
    [InlineData("c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
        "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", "af82",
        "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a")]
    public void Ed25519_Rfc8032Vector_MatchesPublicKeyAndSignature(string seed, string publicKey, string message, string signature)
    {
        using var pair = SigningKeyPair.FromSeed(Convert.FromHexString(seed));
        var messageBytes = Convert.FromHexString(message);

        Assert.Equal(publicKey, Convert.ToHexStringLower(pair.PublicKey.Span));
        Assert.Equal(signature, Convert.ToHexStringLower(pair.Sign(messageBytes)));
        Assert.True(new SigningPublicKey(Convert.FromHexString(publicKey)).Verify(messageBytes, Convert.FromHexString(signature)));
        Assert.False(pair.PublicKey.Verify([.. messageBytes, 0], Convert.FromHexString(signature)));
    }

    [Theory]
    [InlineData("a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4",
        "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c",
        "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552")]
    [InlineData("4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d",
        "e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493",
        "95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957")]
    public void X25519_Rfc7748ScalarMultiplication_MatchesOutput(string scalar, string u, string output)
    {
        using var pair = BoxKeyPair.FromPrivateKey(Convert.FromHexString(scalar));

        Assert.Equal(output, Convert.ToHexStringLower(pair.SharedSecret(new BoxPublicKey(Convert.FromHexString(u)))));
    }

    [Fact]
    public void X25519_Rfc7748DiffieHellman_BothSidesDeriveTheVectorSecret()
    {
        using var alice = BoxKeyPair.FromPrivateKey(Convert.FromHexString("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"));
        using var bob = BoxKeyPair.FromPrivateKey(Convert.FromHexString("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb"));

        Assert.Equal("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a", Convert.ToHexStringLower(alice.PublicKey.Span));
        Assert.Equal("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f", Convert.ToHexStringLower(bob.PublicKey.Span));
        const string shared = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742";
        Assert.Equal(shared, Convert.ToHexStringLower(alice.SharedSecret(bob.PublicKey)));
        Assert.Equal(shared, Convert.ToHexStringLower(bob.SharedSecret(alice.PublicKey)));
    }

    private static readonly byte[] AeadKey = Convert.FromHexString("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f");
    private static readonly byte[] AeadNonce = Convert.FromHexString("404142434445464748494a4b4c4d4e4f5051525354555657");
    private static readonly byte[] AeadAad = Convert.FromHexString("50515253c0c1c2c3c4c5c6c7");
    private static readonly byte[] AeadPlaintext = Encoding.ASCII.GetBytes(
        "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.");
    private const string AeadCiphertext =
        "bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb731c7f1b0b4aa6440bf3a82f4eda7e39ae64c6708c54c216cb96b72e1213b4522f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff921f9664c97637da9768812f615c68b13b52e";
    private const string AeadTag = "c0875924c1c7987947deafd8780acf49";

    [Fact]
    public void XChaCha20Poly1305_DraftA31Vector_EncryptsToCiphertextAndTag()
    {
        var output = new byte[AeadPlaintext.Length + Primitives.TagBytes];

        var written = Primitives.Encrypt(output, AeadPlaintext, AeadAad, AeadNonce, AeadKey);

        Assert.Equal(output.Length, written);
        Assert.Equal(AeadCiphertext + AeadTag, Convert.ToHexStringLower(output));
    }

    [Fact]
    public void XChaCha20Poly1305_DraftA31Vector_DecryptsToPlaintext()
    {
        var output = new byte[AeadPlaintext.Length];

        Assert.True(Primitives.TryDecrypt(output, Convert.FromHexString(AeadCiphertext + AeadTag), AeadAad, AeadNonce, AeadKey, out var written));
        Assert.Equal(AeadPlaintext.Length, written);
        Assert.Equal(AeadPlaintext, output);
    }

    [Theory]
    [InlineData("tag", 0)]
    [InlineData("tag", 7)]
    [InlineData("ciphertext", 0)]
    [InlineData("aad", 0)]
    [InlineData("nonce", 0)]
    [InlineData("nonce", 23)]
    [InlineData("key", 31)]
    public void XChaCha20Poly1305_AnyInputBitFlipped_Rejects(string input, int index)
    {
        var sealedBytes = Convert.FromHexString(AeadCiphertext + AeadTag);
        byte[] aad = AeadAad, nonce = AeadNonce, key = AeadKey;
        switch (input)
        {
            case "tag": sealedBytes = Bytes.FlipBit(sealedBytes, sealedBytes.Length - Primitives.TagBytes + index); break;
            case "ciphertext": sealedBytes = Bytes.FlipBit(sealedBytes, index); break;
            case "aad": aad = Bytes.FlipBit(aad, index); break;
            case "nonce": nonce = Bytes.FlipBit(nonce, index); break;
            case "key": key = Bytes.FlipBit(key, index); break;
        }

        Assert.False(Primitives.TryDecrypt(new byte[AeadPlaintext.Length], sealedBytes, aad, nonce, key, out _));
    }

    [Theory]
    [InlineData("", "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8")]
    [InlineData("abc", "bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319")]
    public void Blake2b256_KnownInput_MatchesPythonHashlib(string input, string expected)
    {
        Assert.Equal(expected, Convert.ToHexStringLower(Primitives.Hash(Encoding.ASCII.GetBytes(input))));
    }

    [Fact]
    public void IncrementalHash_SplitInput_EqualsOneShotHash()
    {
        var data = Bytes.Random(1000);
        using var hash = new IncrementalHash();
        hash.Append(data.AsSpan(0, 1));
        hash.Append(data.AsSpan(1, 499));
        hash.Append([]);
        hash.Append(data.AsSpan(500));

        Assert.Equal(Primitives.Hash(data), hash.Finish());
    }
}
