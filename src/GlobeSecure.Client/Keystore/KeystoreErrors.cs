namespace GlobeSecure.Client.Keystore;

/// <summary>
/// Base of every error the keystore raises for a key file it cannot use. Messages name the file
/// (by path) and what is wrong, never a passphrase, key material or a decrypted payload.
/// </summary>
public abstract class KeystoreException : Exception
{
    /// <summary>Creates the error.</summary>
    protected KeystoreException(string message, Exception? innerException = null) : base(message, innerException)
    {
    }
}

/// <summary>
/// Authenticated decryption of the key file failed. Either the passphrase is wrong or one of the
/// file's clear fields (or its ciphertext) was altered: the two cannot be told apart, by design.
/// </summary>
public sealed class WrongPassphraseException : KeystoreException
{
    /// <summary>Creates the error.</summary>
    public WrongPassphraseException() : base("The passphrase is wrong, or the key file was altered.")
    {
    }
}

/// <summary>
/// The file is not a key file this library can read: not JSON, an unknown format, version or
/// algorithm, a missing or mistyped field, bad base64, a wrong length, out-of-range KDF
/// parameters, or the wrong purpose (a device key file given as a backup, or the reverse).
/// </summary>
public sealed class KeystoreFormatException : KeystoreException
{
    /// <summary>Creates the error.</summary>
    public KeystoreFormatException(string message, Exception? innerException = null) : base(message, innerException)
    {
    }
}

/// <summary>
/// The key file parses but is inconsistent: its public keys do not match their signature, or
/// the decrypted private keys do not match the public keys written next to them.
/// </summary>
public sealed class KeystoreCorruptException : KeystoreException
{
    /// <summary>Creates the error.</summary>
    public KeystoreCorruptException(string message) : base(message)
    {
    }
}

/// <summary>There is no key file at the given path.</summary>
public sealed class KeystoreNotFoundException : KeystoreException
{
    /// <summary>Creates the error.</summary>
    public KeystoreNotFoundException(string path, Exception? innerException = null)
        : base($"No key file exists at '{path}'.", innerException)
    {
        Path = path;
    }

    /// <summary>The path that was looked up.</summary>
    public string Path { get; }
}

/// <summary>A key file already exists at the path and overwriting was not asked for.</summary>
public sealed class KeystoreAlreadyExistsException : KeystoreException
{
    /// <summary>Creates the error.</summary>
    public KeystoreAlreadyExistsException(string path)
        : base($"A file already exists at '{path}'; it was left untouched. Set KeystoreOptions.OverwriteExisting to replace it.")
    {
        Path = path;
    }

    /// <summary>The path that was not overwritten.</summary>
    public string Path { get; }
}
