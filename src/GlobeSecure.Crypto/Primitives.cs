using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Sodium;

namespace GlobeSecure.Crypto;

/// <summary>
/// Suite v1's primitives in one place, with their sizes: Ed25519, X25519, sealed boxes,
/// XChaCha20-Poly1305 (IETF), BLAKE2b-256. Every caller above this class checks lengths of
/// attacker-controlled input first and gets a typed error; this class only asserts.
/// </summary>
internal static unsafe class Primitives
{
    public const int SymmetricKeyBytes = 32;
    public const int NonceBytes = 24;
    public const int TagBytes = 16;
    public const int HashBytes = 32;
    public const int SignatureBytes = 64;
    public const int PublicKeyBytes = 32;
    public const int SeedBytes = 32;
    public const int Ed25519SecretKeyBytes = 64;
    public const int X25519PrivateKeyBytes = 32;
    public const int SealOverheadBytes = 48;

    static Primitives() => SodiumCore.Init();

    /// <summary>Forces libsodium's initialisation (sodium_init) before a native call.</summary>
    public static void EnsureInitialized()
    {
    }

    public static void Random(Span<byte> buffer)
    {
        fixed (byte* p = buffer)
        {
            Native.randombytes_buf(p, (nuint)buffer.Length);
        }
    }

    public static byte[] Random(int count)
    {
        var bytes = new byte[count];
        Random(bytes);
        return bytes;
    }

    /// <summary>Ed25519 key pair from a 32-byte seed: returns the 64-byte secret key (seed ‖ public key).</summary>
    public static byte[] Ed25519SecretKeyFromSeed(ReadOnlySpan<byte> seed, out byte[] publicKey)
    {
        Check(seed, SeedBytes);
        var seedCopy = seed.ToArray();
        try
        {
            using var pair = PublicKeyAuth.GenerateKeyPair(seedCopy);
            publicKey = pair.PublicKey;
            return pair.PrivateKey;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(seedCopy);
        }
    }

    public static byte[] Sign(ReadOnlySpan<byte> message, byte[] secretKey)
    {
        Check(secretKey, Ed25519SecretKeyBytes);
        return PublicKeyAuth.SignDetached(message.ToArray(), secretKey);
    }

    public static bool Verify(ReadOnlySpan<byte> signature, ReadOnlySpan<byte> message, ReadOnlySpan<byte> publicKey) =>
        signature.Length == SignatureBytes && publicKey.Length == PublicKeyBytes &&
        PublicKeyAuth.VerifyDetached(signature.ToArray(), message.ToArray(), publicKey.ToArray());

    public static byte[] X25519Base(byte[] privateKey)
    {
        Check(privateKey, X25519PrivateKeyBytes);
        return ScalarMult.Base(privateKey);
    }

    public static byte[] X25519(byte[] privateKey, ReadOnlySpan<byte> publicKey)
    {
        Check(privateKey, X25519PrivateKeyBytes);
        Check(publicKey, PublicKeyBytes);
        return ScalarMult.Mult(privateKey, publicKey.ToArray());
    }

    public static byte[] Seal(ReadOnlySpan<byte> message, ReadOnlySpan<byte> recipientPublicKey)
    {
        Check(recipientPublicKey, PublicKeyBytes);
        return SealedPublicKeyBox.Create(message.ToArray(), recipientPublicKey.ToArray());
    }

    /// <summary>Opens a sealed box; null when it was not sealed to this key or was altered.</summary>
    public static byte[]? OpenSealed(ReadOnlySpan<byte> sealedBox, byte[] privateKey, ReadOnlySpan<byte> publicKey)
    {
        if (sealedBox.Length < SealOverheadBytes)
        {
            return null;
        }

        try
        {
            return SealedPublicKeyBox.Open(sealedBox.ToArray(), privateKey, publicKey.ToArray());
        }
        catch (CryptographicException)
        {
            return null;
        }
    }

    /// <summary>XChaCha20-Poly1305 (IETF): writes ciphertext ‖ tag into <paramref name="output"/>; returns its length.</summary>
    public static int Encrypt(Span<byte> output, ReadOnlySpan<byte> plaintext, ReadOnlySpan<byte> associatedData,
        ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> key)
    {
        Check(nonce, NonceBytes);
        Check(key, SymmetricKeyBytes);
        if (output.Length < plaintext.Length + TagBytes)
        {
            throw new ArgumentException("The output buffer is too small.", nameof(output));
        }

        ulong written;
        fixed (byte* c = output)
        fixed (byte* m = plaintext)
        fixed (byte* ad = associatedData)
        fixed (byte* n = nonce)
        fixed (byte* k = key)
        {
            if (Native.crypto_aead_xchacha20poly1305_ietf_encrypt(c, &written, m, (ulong)plaintext.Length, ad,
                    (ulong)associatedData.Length, null, n, k) != 0)
            {
                throw new CryptographicException("XChaCha20-Poly1305 encryption failed.");
            }
        }

        return checked((int)written);
    }

    /// <summary>XChaCha20-Poly1305 (IETF) decryption; false when the tag does not verify (nothing useful is written).</summary>
    public static bool TryDecrypt(Span<byte> output, ReadOnlySpan<byte> ciphertext, ReadOnlySpan<byte> associatedData,
        ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> key, out int written)
    {
        Check(nonce, NonceBytes);
        Check(key, SymmetricKeyBytes);
        written = 0;
        if (ciphertext.Length < TagBytes)
        {
            return false;
        }

        if (output.Length < ciphertext.Length - TagBytes)
        {
            throw new ArgumentException("The output buffer is too small.", nameof(output));
        }

        ulong length;
        fixed (byte* m = output)
        fixed (byte* c = ciphertext)
        fixed (byte* ad = associatedData)
        fixed (byte* n = nonce)
        fixed (byte* k = key)
        {
            if (Native.crypto_aead_xchacha20poly1305_ietf_decrypt(m, &length, null, c, (ulong)ciphertext.Length, ad,
                    (ulong)associatedData.Length, n, k) != 0)
            {
                return false;
            }
        }

        written = checked((int)length);
        return true;
    }

    /// <summary>BLAKE2b-256, unkeyed.</summary>
    public static byte[] Hash(ReadOnlySpan<byte> input)
    {
        using var hash = new IncrementalHash();
        hash.Append(input);
        return hash.Finish();
    }

    /// <summary>BLAKE2b with a chosen output length (16–64 bytes), unkeyed.</summary>
    public static byte[] Hash(ReadOnlySpan<byte> input, int outputBytes)
    {
        using var hash = new IncrementalHash(outputBytes);
        hash.Append(input);
        return hash.Finish();
    }

    public static byte[] Argon2id(ReadOnlySpan<byte> password, ReadOnlySpan<byte> salt, long opsLimit, int memLimitBytes, int outputBytes)
    {
        var passwordCopy = password.ToArray();
        try
        {
            return PasswordHash.ArgonHashBinary(passwordCopy, salt.ToArray(), opsLimit, memLimitBytes, outputBytes,
                PasswordHash.ArgonAlgorithm.Argon_2ID13);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(passwordCopy);
        }
    }

    private static void Check(ReadOnlySpan<byte> value, int length)
    {
        if (value.Length != length)
        {
            throw new ArgumentException($"Expected {length} bytes, got {value.Length}.");
        }
    }
}

/// <summary>Incremental BLAKE2b over libsodium's state (which must be 64-byte aligned).</summary>
internal sealed unsafe class IncrementalHash : IDisposable
{
    private readonly int _outputBytes;
    private byte* _state;

    public IncrementalHash(int outputBytes = Primitives.HashBytes)
    {
        Primitives.EnsureInitialized();
        _outputBytes = outputBytes;
        var size = Native.crypto_generichash_blake2b_statebytes();
        _state = (byte*)NativeMemory.AlignedAlloc(size, 64);
        if (Native.crypto_generichash_blake2b_init(_state, null, 0, (nuint)outputBytes) != 0)
        {
            Dispose();
            throw new ArgumentOutOfRangeException(nameof(outputBytes), "BLAKE2b output is 16 to 64 bytes.");
        }
    }

    public void Append(ReadOnlySpan<byte> input)
    {
        ObjectDisposedException.ThrowIf(_state is null, this);
        fixed (byte* p = input)
        {
            _ = Native.crypto_generichash_blake2b_update(_state, p, (ulong)input.Length);
        }
    }

    public byte[] Finish()
    {
        ObjectDisposedException.ThrowIf(_state is null, this);
        var output = new byte[_outputBytes];
        fixed (byte* p = output)
        {
            _ = Native.crypto_generichash_blake2b_final(_state, p, (nuint)_outputBytes);
        }

        Dispose();
        return output;
    }

    public void Dispose()
    {
        if (_state is not null)
        {
            NativeMemory.Clear(_state, Native.crypto_generichash_blake2b_statebytes());
            NativeMemory.AlignedFree(_state);
            _state = null;
        }
    }
}
