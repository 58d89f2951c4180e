using System.Runtime.InteropServices;

namespace GlobeSecure.Crypto;

/// <summary>
/// Span-based imports of the libsodium that Sodium.Core loads, for the two hot paths whose
/// Sodium.Core wrappers allocate per call (AEAD) or do not exist (incremental BLAKE2b). Everything
/// else goes through Sodium.Core. Callers check lengths before calling; these are unchecked.
/// </summary>
internal static unsafe partial class Native
{
    private const string Library = "libsodium";

    [LibraryImport(Library)]
    internal static partial int crypto_aead_xchacha20poly1305_ietf_encrypt(byte* c, ulong* clen, byte* m, ulong mlen,
        byte* ad, ulong adlen, byte* nsec, byte* npub, byte* k);

    [LibraryImport(Library)]
    internal static partial int crypto_aead_xchacha20poly1305_ietf_decrypt(byte* m, ulong* mlen, byte* nsec, byte* c,
        ulong clen, byte* ad, ulong adlen, byte* npub, byte* k);

    [LibraryImport(Library)]
    internal static partial nuint crypto_generichash_blake2b_statebytes();

    [LibraryImport(Library)]
    internal static partial int crypto_generichash_blake2b_init(byte* state, byte* key, nuint keylen, nuint outlen);

    [LibraryImport(Library)]
    internal static partial int crypto_generichash_blake2b_update(byte* state, byte* input, ulong inlen);

    [LibraryImport(Library)]
    internal static partial int crypto_generichash_blake2b_final(byte* state, byte* output, nuint outlen);

    [LibraryImport(Library)]
    internal static partial void randombytes_buf(byte* buf, nuint size);
}
