using System.Runtime.InteropServices;

namespace GlobeSecure.Benchmarks;

/// <summary>
/// Direct imports of the libsodium that GlobeSecure.Crypto loads (through Sodium.Core), for the
/// raw Ed25519 baselines: Sodium.Core's wrappers copy and allocate per call, and a baseline must
/// cost only the primitive. The AEAD and BLAKE2b baselines use GlobeSecure.Crypto's own span-based
/// imports (Primitives, IncrementalHash), which already allocate nothing.
/// </summary>
internal static unsafe partial class RawSodium
{
    private const string Library = "libsodium";

    public const int Ed25519PublicKeyBytes = 32;
    public const int Ed25519SecretKeyBytes = 64;
    public const int Ed25519SignatureBytes = 64;

    /// <summary>libsodium's version, e.g. "1.0.20".</summary>
    public static string Version => Marshal.PtrToStringUTF8((nint)sodium_version_string()) ?? "(unknown)";

    public static void Ed25519KeyPair(Span<byte> publicKey, Span<byte> secretKey, ReadOnlySpan<byte> seed)
    {
        fixed (byte* pk = publicKey)
        fixed (byte* sk = secretKey)
        fixed (byte* s = seed)
        {
            if (crypto_sign_ed25519_seed_keypair(pk, sk, s) != 0)
            {
                throw new InvalidOperationException("crypto_sign_ed25519_seed_keypair failed.");
            }
        }
    }

    public static void Ed25519Sign(Span<byte> signature, ReadOnlySpan<byte> message, ReadOnlySpan<byte> secretKey)
    {
        fixed (byte* sig = signature)
        fixed (byte* m = message)
        fixed (byte* sk = secretKey)
        {
            _ = crypto_sign_ed25519_detached(sig, null, m, (ulong)message.Length, sk);
        }
    }

    public static bool Ed25519Verify(ReadOnlySpan<byte> signature, ReadOnlySpan<byte> message, ReadOnlySpan<byte> publicKey)
    {
        fixed (byte* sig = signature)
        fixed (byte* m = message)
        fixed (byte* pk = publicKey)
        {
            return crypto_sign_ed25519_verify_detached(sig, m, (ulong)message.Length, pk) == 0;
        }
    }

    [LibraryImport(Library)]
    private static partial byte* sodium_version_string();

    [LibraryImport(Library)]
    private static partial int crypto_sign_ed25519_seed_keypair(byte* pk, byte* sk, byte* seed);

    [LibraryImport(Library)]
    private static partial int crypto_sign_ed25519_detached(byte* sig, ulong* siglen, byte* m, ulong mlen, byte* sk);

    [LibraryImport(Library)]
    private static partial int crypto_sign_ed25519_verify_detached(byte* sig, byte* m, ulong mlen, byte* pk);
}
