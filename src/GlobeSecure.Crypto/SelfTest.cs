using System.Text;

namespace GlobeSecure.Crypto;

/// <summary>A known-answer check of the self-test failed: the primitives on this machine cannot be trusted.</summary>
public sealed class SelfTestFailedException(string checkName, string detail)
    : GlobeCryptoException($"Cryptographic self-test '{checkName}' failed: {detail}.")
{
    /// <summary>The check that failed.</summary>
    public string CheckName { get; } = checkName;
}

/// <summary>
/// Known-answer tests of suite v1, run through this library's own wrappers (not the native
/// library directly), so that a broken binding, a wrong length or a swapped argument shows up
/// as well as a broken primitive. Vectors: RFC 8032 §7.1 (Ed25519), RFC 7748 §5.2 and §6.1
/// (X25519), draft-irtf-cfrg-xchacha-03 §A.3.1 (XChaCha20-Poly1305) and BLAKE2b-256 of two
/// short inputs (computed independently with Python's hashlib).
/// </summary>
public static class CryptoSelfTest
{
    private static readonly (string Name, string Seed, string PublicKey, string Message, string Signature)[] Ed25519Vectors =
    [
        ("ed25519/rfc8032-7.1-test1",
            "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
            "",
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"),
        ("ed25519/rfc8032-7.1-test2",
            "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
            "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
            "72",
            "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"),
        ("ed25519/rfc8032-7.1-test3",
            "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
            "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
            "af82",
            "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a"),
    ];

    private static readonly (string Name, string Scalar, string U, string Output)[] X25519Vectors =
    [
        ("x25519/rfc7748-5.2-vector1",
            "a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4",
            "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c",
            "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552"),
        ("x25519/rfc7748-5.2-vector2",
            "4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d",
            "e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493",
            "95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957"),
    ];

    private const string AlicePrivate = "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a";
    private const string AlicePublic = "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a";
    private const string BobPrivate = "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb";
    private const string BobPublic = "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f";
    private const string DhShared = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742";

    private const string AeadPlaintext =
        "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.";
    private const string AeadAad = "50515253c0c1c2c3c4c5c6c7";
    private const string AeadKey = "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f";
    private const string AeadNonce = "404142434445464748494a4b4c4d4e4f5051525354555657";
    private const string AeadCiphertextAndTag =
        "bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb731c7f1b0b4aa6440bf3a82f4eda7e39ae64c6708c54c216cb96b72e1213b4522f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff921f9664c97637da9768812f615c68b13b52e" +
        "c0875924c1c7987947deafd8780acf49";

    private const string Blake2bEmpty = "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8";
    private const string Blake2bAbc = "bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319";

    /// <summary>
    /// Runs every check; returns their names in order. Throws <see cref="SelfTestFailedException"/>
    /// naming the first check that fails (none of the vectors is secret, so nothing leaks).
    /// </summary>
    public static IReadOnlyList<string> Run()
    {
        var passed = new List<string>();
        foreach (var (name, seed, publicKey, message, signature) in Ed25519Vectors)
        {
            Check(passed, name, () => Ed25519(seed, publicKey, message, signature));
        }

        foreach (var (name, scalar, u, output) in X25519Vectors)
        {
            Check(passed, name, () => X25519(scalar, u, output));
        }

        Check(passed, "x25519/rfc7748-6.1-alice-public", () => BoxPublic(AlicePrivate, AlicePublic));
        Check(passed, "x25519/rfc7748-6.1-bob-public", () => BoxPublic(BobPrivate, BobPublic));
        Check(passed, "x25519/rfc7748-6.1-shared-secret-alice", () => X25519(AlicePrivate, BobPublic, DhShared));
        Check(passed, "x25519/rfc7748-6.1-shared-secret-bob", () => X25519(BobPrivate, AlicePublic, DhShared));
        Check(passed, "xchacha20poly1305/draft-03-a.3.1-encrypt", AeadEncrypt);
        Check(passed, "xchacha20poly1305/draft-03-a.3.1-decrypt", AeadDecrypt);
        Check(passed, "xchacha20poly1305/draft-03-a.3.1-rejects-flipped-tag", AeadRejectsFlippedTag);
        Check(passed, "blake2b-256/empty", () => Hex(Primitives.Hash([])) == Blake2bEmpty);
        Check(passed, "blake2b-256/abc", () => Hex(Primitives.Hash("abc"u8)) == Blake2bAbc);
        return passed;
    }

    /// <summary>Runs one check: adds its name when it passes, throws naming it otherwise.</summary>
    internal static void Check(List<string> passed, string name, Func<bool> check)
    {
        bool ok;
        try
        {
            ok = check();
        }
        catch (Exception e) when (e is not SelfTestFailedException)
        {
            // The type only: a native error's message is not ours to vouch for.
            throw new SelfTestFailedException(name, $"threw {e.GetType().Name}");
        }

        if (!ok)
        {
            throw new SelfTestFailedException(name, "wrong answer");
        }

        passed.Add(name);
    }

    private static bool Ed25519(string seed, string publicKey, string message, string signature)
    {
        using var pair = SigningKeyPair.FromSeed(Convert.FromHexString(seed));
        var messageBytes = Convert.FromHexString(message);
        var expected = Convert.FromHexString(signature);
        var flipped = (byte[])expected.Clone();
        flipped[0] ^= 0x01;
        return Hex(pair.PublicKey.Span) == publicKey &&
               Hex(pair.Sign(messageBytes)) == signature &&
               pair.PublicKey.Verify(messageBytes, expected) &&
               !pair.PublicKey.Verify(messageBytes, flipped);
    }

    private static bool X25519(string scalar, string peer, string output)
    {
        using var pair = BoxKeyPair.FromPrivateKey(Convert.FromHexString(scalar));
        return Hex(pair.SharedSecret(new BoxPublicKey(Convert.FromHexString(peer)))) == output;
    }

    private static bool BoxPublic(string privateKey, string publicKey)
    {
        using var pair = BoxKeyPair.FromPrivateKey(Convert.FromHexString(privateKey));
        return Hex(pair.PublicKey.Span) == publicKey;
    }

    private static bool AeadEncrypt()
    {
        var plaintext = Encoding.ASCII.GetBytes(AeadPlaintext);
        var output = new byte[plaintext.Length + Primitives.TagBytes];
        var written = Primitives.Encrypt(output, plaintext, Convert.FromHexString(AeadAad), Convert.FromHexString(AeadNonce),
            Convert.FromHexString(AeadKey));
        return written == output.Length && Hex(output) == AeadCiphertextAndTag;
    }

    private static bool AeadDecrypt()
    {
        var ciphertext = Convert.FromHexString(AeadCiphertextAndTag);
        var output = new byte[ciphertext.Length - Primitives.TagBytes];
        return Primitives.TryDecrypt(output, ciphertext, Convert.FromHexString(AeadAad), Convert.FromHexString(AeadNonce),
                   Convert.FromHexString(AeadKey), out var written) &&
               written == output.Length && Encoding.ASCII.GetString(output) == AeadPlaintext;
    }

    private static bool AeadRejectsFlippedTag()
    {
        var ciphertext = Convert.FromHexString(AeadCiphertextAndTag);
        ciphertext[^1] ^= 0x80;
        var output = new byte[ciphertext.Length - Primitives.TagBytes];
        return !Primitives.TryDecrypt(output, ciphertext, Convert.FromHexString(AeadAad), Convert.FromHexString(AeadNonce),
            Convert.FromHexString(AeadKey), out _);
    }

    private static string Hex(ReadOnlySpan<byte> bytes) => Convert.ToHexStringLower(bytes);
}
