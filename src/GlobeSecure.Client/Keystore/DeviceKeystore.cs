using GlobeSecure.Crypto;

namespace GlobeSecure.Client.Keystore;

/// <summary>
/// A device's key file: its Ed25519 signing seed and X25519 box private key, encrypted under a
/// passphrase (Argon2id, then XChaCha20-Poly1305), next to the device's public keys in clear.
/// docs/keystore.md specifies the format.
/// </summary>
/// <remarks>
/// An instance is a snapshot of a file as it was read: its clear fields, which are only
/// authenticated once the passphrase opens it (<see cref="Unlock"/>). It holds no private key and
/// its text form names the device only. Files are written atomically with owner-only permissions
/// (0600 on Unix). Argon2id runs on the thread pool in the asynchronous methods; it takes about
/// half a second with <see cref="Argon2idParameters.Default"/>.
/// </remarks>
public sealed class DeviceKeystore
{
    /// <summary>Longest accepted label, in UTF-16 characters.</summary>
    public const int MaxLabelLength = KeystoreFile.MaxLabelLength;

    private readonly KeystoreFile _file;

    private DeviceKeystore(string path, KeystoreFile file)
    {
        Path = path;
        _file = file;
    }

    /// <summary>The path the file was read from or written to.</summary>
    public string Path { get; }

    /// <summary>The file format version (currently 1).</summary>
    public int FormatVersion => _file.Version;

    /// <summary>Whether this is a device's working key file or a backup.</summary>
    public KeystorePurpose Purpose => _file.Purpose;

    /// <summary>The device the keys belong to.</summary>
    public Guid DeviceId => _file.DeviceId;

    /// <summary>The device's public keys and box-key signature, as stored in clear (a copy).</summary>
    public PublicDeviceKeys PublicKeys => _file.PublicKeys with { BoxKeySignature = (byte[])_file.PublicKeys.BoxKeySignature.Clone() };

    /// <summary>The user the device belongs to, when recorded.</summary>
    public Guid? UserId => _file.UserId;

    /// <summary>The authority the device belongs to, when recorded.</summary>
    public Guid? AuthorityId => _file.AuthorityId;

    /// <summary>The human label, when recorded.</summary>
    public string? Label => _file.Label;

    /// <summary>The Argon2id parameters the passphrase was stretched with.</summary>
    public Argon2idParameters KdfParameters => _file.Kdf;

    /// <summary>
    /// Encrypts <paramref name="keys"/> under <paramref name="passphrase"/> and writes a new device key
    /// file at <paramref name="path"/>.
    /// </summary>
    /// <param name="path">Where to write the file; its directory must exist.</param>
    /// <param name="keys">The device's keys (not disposed by this method).</param>
    /// <param name="passphrase">The passphrase; not empty. Converted to UTF-8 in a buffer that is cleared afterwards.</param>
    /// <param name="options">Cost, overwrite and clear metadata; null for the defaults.</param>
    /// <param name="cancellationToken">Cancels before the file is replaced.</param>
    /// <returns>The written file's clear fields.</returns>
    /// <exception cref="ArgumentException">The passphrase is empty or not valid text, or an option is invalid.</exception>
    /// <exception cref="KeystoreAlreadyExistsException">A file exists at the path and overwriting was not asked for.</exception>
    /// <exception cref="DirectoryNotFoundException">The path's directory does not exist.</exception>
    public static async Task<DeviceKeystore> CreateAsync(string path, DeviceKeys keys, ReadOnlyMemory<char> passphrase,
        KeystoreOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(keys);
        options ??= new KeystoreOptions();
        var parameters = CheckedParameters(options);
        var label = CheckedLabel(options.Label);
        using var secret = PassphraseBuffer.From(passphrase.Span, nameof(passphrase));
        return await WriteAsync(path, keys, KeystorePurpose.Device, options.UserId, options.AuthorityId, label, parameters, secret,
            options.OverwriteExisting, cancellationToken);
    }

    /// <summary>
    /// Reads a key file's clear fields without the passphrase (for example to show which device
    /// it belongs to). They are checked for format and self-consistency, but only
    /// <see cref="Unlock"/> proves nobody altered them.
    /// </summary>
    /// <exception cref="KeystoreNotFoundException">No file exists at the path.</exception>
    /// <exception cref="KeystoreFormatException">The file is not a key file this library reads.</exception>
    /// <exception cref="KeystoreCorruptException">The public keys do not match their signature.</exception>
    public static async Task<DeviceKeystore> ReadAsync(string path, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var bytes = await KeyFileIo.ReadAsync(path, cancellationToken);
        return new DeviceKeystore(path, KeystoreFile.Parse(bytes));
    }

    /// <summary>
    /// Reads the device key file at <paramref name="path"/> and decrypts its keys. The caller owns
    /// (and disposes) the result.
    /// </summary>
    /// <exception cref="ArgumentException">The passphrase is empty or not valid text.</exception>
    /// <exception cref="KeystoreNotFoundException">No file exists at the path.</exception>
    /// <exception cref="KeystoreFormatException">The file is not a device key file this library reads (a backup is refused).</exception>
    /// <exception cref="WrongPassphraseException">The passphrase is wrong or the file was altered.</exception>
    /// <exception cref="KeystoreCorruptException">The file is inconsistent.</exception>
    public static async Task<DeviceKeys> OpenAsync(string path, ReadOnlyMemory<char> passphrase, CancellationToken cancellationToken = default)
    {
        using var secret = PassphraseBuffer.From(passphrase.Span, nameof(passphrase));
        var keystore = await ReadExpectingAsync(path, KeystorePurpose.Device, cancellationToken);
        return await Task.Run(() => keystore._file.Unseal(secret), cancellationToken);
    }

    /// <summary>
    /// Decrypts this file's keys (synchronously: Argon2id takes about half a second at the default
    /// cost). The caller owns (and disposes) the result.
    /// </summary>
    /// <exception cref="ArgumentException">The passphrase is empty or not valid text.</exception>
    /// <exception cref="WrongPassphraseException">The passphrase is wrong or the file was altered.</exception>
    /// <exception cref="KeystoreCorruptException">The file is inconsistent.</exception>
    public DeviceKeys Unlock(ReadOnlySpan<char> passphrase)
    {
        using var secret = PassphraseBuffer.From(passphrase, nameof(passphrase));
        return _file.Unseal(secret);
    }

    /// <summary>
    /// Re-encrypts the device key file under a new passphrase, with a new salt and nonce, and
    /// replaces it atomically. With no <paramref name="options"/>, the Argon2id cost becomes the
    /// stronger of the file's and <see cref="Argon2idParameters.Default"/> (never lower); with
    /// options, exactly <see cref="KeystoreOptions.KdfParameters"/>. User, authority and label are kept.
    /// </summary>
    /// <exception cref="WrongPassphraseException">The old passphrase is wrong or the file was altered; the file is untouched.</exception>
    public static async Task<DeviceKeystore> ChangePassphraseAsync(string path, ReadOnlyMemory<char> oldPassphrase,
        ReadOnlyMemory<char> newPassphrase, KeystoreOptions? options = null, CancellationToken cancellationToken = default)
    {
        var parameters = options is null ? null : CheckedParameters(options);
        using var oldSecret = PassphraseBuffer.From(oldPassphrase.Span, nameof(oldPassphrase));
        using var newSecret = PassphraseBuffer.From(newPassphrase.Span, nameof(newPassphrase));
        var current = await ReadExpectingAsync(path, KeystorePurpose.Device, cancellationToken);
        using var keys = await Task.Run(() => current._file.Unseal(oldSecret), cancellationToken);
        return await WriteAsync(path, keys, KeystorePurpose.Device, current.UserId, current.AuthorityId, current.Label,
            parameters ?? Stronger(current.KdfParameters, Argon2idParameters.Default), newSecret, overwrite: true, cancellationToken);
    }

    /// <summary>
    /// Writes a backup of the device key file: the same format with purpose <c>"backup"</c>,
    /// encrypted under its own backup passphrase (use a different one, kept apart from the device).
    /// </summary>
    /// <exception cref="WrongPassphraseException">The device passphrase is wrong; nothing is written.</exception>
    /// <exception cref="KeystoreAlreadyExistsException">A file exists at the backup path and overwriting was not asked for.</exception>
    public static async Task<DeviceKeystore> ExportBackupAsync(string keystorePath, ReadOnlyMemory<char> passphrase, string backupPath,
        ReadOnlyMemory<char> backupPassphrase, KeystoreOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(backupPath);
        options ??= new KeystoreOptions();
        var parameters = CheckedParameters(options);
        using var secret = PassphraseBuffer.From(passphrase.Span, nameof(passphrase));
        using var backupSecret = PassphraseBuffer.From(backupPassphrase.Span, nameof(backupPassphrase));
        CheckDistinct(keystorePath, backupPath);
        var device = await ReadExpectingAsync(keystorePath, KeystorePurpose.Device, cancellationToken);
        using var keys = await Task.Run(() => device._file.Unseal(secret), cancellationToken);
        return await WriteAsync(backupPath, keys, KeystorePurpose.Backup, device.UserId, device.AuthorityId, device.Label, parameters,
            backupSecret, options.OverwriteExisting, cancellationToken);
    }

    /// <summary>
    /// Restores a backup into a new device key file under a new passphrase. A device key file given
    /// as the backup is refused.
    /// </summary>
    /// <exception cref="KeystoreFormatException">The backup is not a backup key file (for example a device key file).</exception>
    /// <exception cref="WrongPassphraseException">The backup passphrase is wrong or the backup was altered; nothing is written.</exception>
    /// <exception cref="KeystoreAlreadyExistsException">A file exists at the key file path and overwriting was not asked for.</exception>
    public static async Task<DeviceKeystore> ImportBackupAsync(string backupPath, ReadOnlyMemory<char> backupPassphrase, string keystorePath,
        ReadOnlyMemory<char> newPassphrase, KeystoreOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(keystorePath);
        options ??= new KeystoreOptions();
        var parameters = CheckedParameters(options);
        using var backupSecret = PassphraseBuffer.From(backupPassphrase.Span, nameof(backupPassphrase));
        using var newSecret = PassphraseBuffer.From(newPassphrase.Span, nameof(newPassphrase));
        CheckDistinct(keystorePath, backupPath);
        var backup = await ReadExpectingAsync(backupPath, KeystorePurpose.Backup, cancellationToken);
        using var keys = await Task.Run(() => backup._file.Unseal(backupSecret), cancellationToken);
        return await WriteAsync(keystorePath, keys, KeystorePurpose.Device, backup.UserId, backup.AuthorityId, backup.Label, parameters,
            newSecret, options.OverwriteExisting, cancellationToken);
    }

    /// <summary>The purpose, device id and signing-key fingerprint: never key material.</summary>
    public override string ToString() =>
        $"DeviceKeystore({KeystoreFile.PurposeName(Purpose)}, device {DeviceId}, signing key {PublicKeys.SigningKey.Fingerprint})";

    /// <summary>The file's contents as parsed (tests).</summary>
    internal KeystoreFile Contents => _file;

    /// <summary>The stronger of two parameter sets, field by field: a passphrase change never lowers the cost.</summary>
    internal static Argon2idParameters Stronger(Argon2idParameters a, Argon2idParameters b) =>
        new(Math.Max(a.OpsLimit, b.OpsLimit), Math.Max(a.MemLimitBytes, b.MemLimitBytes));

    private static async Task<DeviceKeystore> ReadExpectingAsync(string path, KeystorePurpose purpose, CancellationToken cancellationToken)
    {
        var keystore = await ReadAsync(path, cancellationToken);
        if (keystore.Purpose != purpose)
        {
            throw new KeystoreFormatException(purpose == KeystorePurpose.Device
                ? $"'{path}' is a backup, not a device key file: import it with ImportBackupAsync."
                : $"'{path}' is a device key file, not a backup.");
        }

        return keystore;
    }

    private static async Task<DeviceKeystore> WriteAsync(string path, DeviceKeys keys, KeystorePurpose purpose, Guid? userId,
        Guid? authorityId, string? label, Argon2idParameters parameters, PassphraseBuffer secret, bool overwrite,
        CancellationToken cancellationToken)
    {
        // Fail before the expensive derivation when the write is bound to fail; checked again when writing.
        KeyFileIo.CheckTarget(path, overwrite);
        cancellationToken.ThrowIfCancellationRequested();
        var file = await Task.Run(() => KeystoreFile.Seal(keys, purpose, userId, authorityId, label, parameters, secret), cancellationToken);
        await KeyFileIo.WriteAtomicAsync(path, file.ToJson(), overwrite, cancellationToken);
        return new DeviceKeystore(path, file);
    }

    private static Argon2idParameters CheckedParameters(KeystoreOptions options)
    {
        var parameters = options.KdfParameters;
        if (parameters is null)
        {
            throw new ArgumentException("KeystoreOptions.KdfParameters is null.", nameof(options));
        }

        try
        {
            parameters.Validate();
        }
        catch (MalformedInputException e)
        {
            throw new ArgumentException(e.Message, nameof(options), e);
        }

        return parameters;
    }

    private static void CheckDistinct(string keystorePath, string backupPath)
    {
        ArgumentException.ThrowIfNullOrEmpty(keystorePath);
        ArgumentException.ThrowIfNullOrEmpty(backupPath);
        if (string.Equals(System.IO.Path.GetFullPath(keystorePath), System.IO.Path.GetFullPath(backupPath), StringComparison.Ordinal))
        {
            throw new ArgumentException("The backup and the device key file must be different files.", nameof(backupPath));
        }
    }

    private static string? CheckedLabel(string? label) =>
        label switch
        {
            null or "" => null,
            { Length: > MaxLabelLength } => throw new ArgumentException($"The label is longer than {MaxLabelLength} characters.", "options"),
            _ => label,
        };
}
