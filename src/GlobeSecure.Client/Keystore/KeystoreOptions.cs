using GlobeSecure.Crypto;

namespace GlobeSecure.Client.Keystore;

/// <summary>What a key file is for: it is checked on every read, so one cannot stand in for the other.</summary>
public enum KeystorePurpose
{
    /// <summary>The device's working key file (<c>"device"</c>).</summary>
    Device,

    /// <summary>An explicit backup under its own passphrase (<c>"backup"</c>).</summary>
    Backup,
}

/// <summary>Options for writing a key file.</summary>
public sealed class KeystoreOptions
{
    /// <summary>
    /// Argon2id cost of the passphrase. Stored in the file, so it can be raised later without
    /// breaking files written before. Default <see cref="Argon2idParameters.Default"/>.
    /// </summary>
    public Argon2idParameters KdfParameters { get; init; } = Argon2idParameters.Default;

    /// <summary>Replace a file that already exists at the target path. Default false: refuse.</summary>
    public bool OverwriteExisting { get; init; }

    /// <summary>
    /// The user the device belongs to, stored in clear (authenticated). Used by
    /// <see cref="DeviceKeystore.CreateAsync"/> only: other operations keep the file's own value.
    /// </summary>
    public Guid? UserId { get; init; }

    /// <summary>
    /// The authority the device belongs to, stored in clear (authenticated). Used by
    /// <see cref="DeviceKeystore.CreateAsync"/> only: other operations keep the file's own value.
    /// </summary>
    public Guid? AuthorityId { get; init; }

    /// <summary>
    /// A human label (for example "work laptop"), stored in clear (authenticated), at most
    /// <see cref="DeviceKeystore.MaxLabelLength"/> characters. Not secret: anyone holding the file reads
    /// it. Used by <see cref="DeviceKeystore.CreateAsync"/> only: other operations keep the file's own value.
    /// </summary>
    public string? Label { get; init; }
}
