namespace GlobeSecure.Crypto;

/// <summary>
/// Argon2id (version 1.3) cost parameters. They are stored next to whatever they protect so that
/// they can be raised later without breaking old files.
/// </summary>
public sealed record Argon2idParameters(long OpsLimit, int MemLimitBytes)
{
    /// <summary>Smallest accepted passes (Sodium.Core's floor for Argon2id).</summary>
    public const long MinOpsLimit = 3;

    /// <summary>Largest accepted passes: a file asking for more is refused rather than obeyed.</summary>
    public const long MaxOpsLimit = 64;

    /// <summary>Smallest accepted memory (libsodium's floor).</summary>
    public const int MinMemLimitBytes = 8 * 1024;

    /// <summary>Largest accepted memory: a file asking for more is refused rather than obeyed.</summary>
    public const int MaxMemLimitBytes = 1024 * 1024 * 1024;

    /// <summary>
    /// The default: 3 passes over 384 MiB, about half a second on the reference machine (2-core
    /// AMD EPYC; ops/bench.sh reports the time). Raising it only affects files written afterwards.
    /// </summary>
    public static Argon2idParameters Default { get; } = new(3, 384 * 1024 * 1024);

    /// <summary>The cheapest accepted parameters, for tests only: they protect nothing.</summary>
    public static Argon2idParameters InsecureForTests { get; } = new(MinOpsLimit, MinMemLimitBytes);

    /// <summary>Throws <see cref="MalformedInputException"/> when the parameters are outside the accepted range.</summary>
    public void Validate()
    {
        if (OpsLimit is < MinOpsLimit or > MaxOpsLimit)
        {
            throw new MalformedInputException($"Argon2id passes must be {MinOpsLimit} to {MaxOpsLimit}, not {OpsLimit}.");
        }

        if (MemLimitBytes is < MinMemLimitBytes or > MaxMemLimitBytes)
        {
            throw new MalformedInputException($"Argon2id memory must be {MinMemLimitBytes} to {MaxMemLimitBytes} bytes, not {MemLimitBytes}.");
        }
    }
}

/// <summary>Derives a 32-byte key from a passphrase with Argon2id.</summary>
public static class PassphraseKdf
{
    /// <summary>Salt length in bytes.</summary>
    public const int SaltBytes = 16;

    /// <summary>Derived key length in bytes.</summary>
    public const int KeyBytes = 32;

    /// <summary>A fresh random salt.</summary>
    public static byte[] NewSalt() => Primitives.Random(SaltBytes);

    /// <summary>
    /// Argon2id(passphrase as UTF-8, salt, parameters) → 32 bytes. The caller clears the result
    /// (and its own copy of the passphrase) after use.
    /// </summary>
    public static byte[] DeriveKey(ReadOnlySpan<byte> passphraseUtf8, ReadOnlySpan<byte> salt, Argon2idParameters parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        parameters.Validate();
        if (salt.Length != SaltBytes)
        {
            throw new MalformedInputException($"An Argon2id salt is {SaltBytes} bytes, not {salt.Length}.");
        }

        return Primitives.Argon2id(passphraseUtf8, salt, parameters.OpsLimit, parameters.MemLimitBytes, KeyBytes);
    }
}

/// <summary>Authenticated symmetric encryption of small secrets (the keystore's payload): XChaCha20-Poly1305.</summary>
public static class SecretBox
{
    /// <summary>Nonce length.</summary>
    public const int NonceBytes = Primitives.NonceBytes;

    /// <summary>Tag length added to the plaintext.</summary>
    public const int TagBytes = Primitives.TagBytes;

    /// <summary>Encrypts with a fresh random nonce; returns (nonce, ciphertext ‖ tag).</summary>
    public static (byte[] Nonce, byte[] Ciphertext) Encrypt(ReadOnlySpan<byte> plaintext, ReadOnlySpan<byte> associatedData, ReadOnlySpan<byte> key)
    {
        CheckKey(key);
        var nonce = Primitives.Random(NonceBytes);
        var ciphertext = new byte[plaintext.Length + TagBytes];
        Primitives.Encrypt(ciphertext, plaintext, associatedData, nonce, key);
        return (nonce, ciphertext);
    }

    /// <summary>Decrypts; null when the key, nonce, associated data or ciphertext is wrong.</summary>
    public static byte[]? TryDecrypt(ReadOnlySpan<byte> ciphertext, ReadOnlySpan<byte> associatedData, ReadOnlySpan<byte> nonce,
        ReadOnlySpan<byte> key)
    {
        CheckKey(key);
        if (nonce.Length != NonceBytes || ciphertext.Length < TagBytes)
        {
            return null;
        }

        var plaintext = new byte[ciphertext.Length - TagBytes];
        return Primitives.TryDecrypt(plaintext, ciphertext, associatedData, nonce, key, out _) ? plaintext : null;
    }

    private static void CheckKey(ReadOnlySpan<byte> key)
    {
        if (key.Length != Primitives.SymmetricKeyBytes)
        {
            throw new MalformedInputException($"A secret-box key is {Primitives.SymmetricKeyBytes} bytes, not {key.Length}.");
        }
    }
}
