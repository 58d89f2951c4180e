using GlobeSecure.Client.Keystore;
using GlobeSecure.Crypto;

namespace GlobeSecure.Client;

/// <summary>
/// The network root key: the Ed25519 key that certifies network administrators' devices, created
/// by <see cref="GlobeClient.NetworkInitAsync"/> and meant to be kept offline.
/// </summary>
/// <remarks>
/// Stored in the device keystore format (docs/keystore.md), passphrase-encrypted: the file holds
/// a <see cref="DeviceKeys"/> whose signing key is the root key, under a random key-file id and
/// the label <see cref="Label"/>. Its box key is generated with it and never used. Reading it back
/// checks the label, so a device key file is not mistaken for the root key.
/// </remarks>
public sealed class NetworkRootKey : IDisposable
{
    /// <summary>The clear label of a root key file.</summary>
    public const string Label = "globe network root key";

    private readonly DeviceKeys _keys;

    private NetworkRootKey(DeviceKeys keys) => _keys = keys;

    /// <summary>The root key pair (signs certificates and revocations).</summary>
    public SigningKeyPair KeyPair => _keys.Signing;

    /// <summary>The public root key clients pin.</summary>
    public SigningPublicKey PublicKey => _keys.Signing.PublicKey;

    /// <summary>The root key's fingerprint (docs/protocol.md §1), to compare out of band.</summary>
    public string Fingerprint => PublicKey.Fingerprint;

    /// <summary>A new random root key.</summary>
    public static NetworkRootKey Generate() => new(DeviceKeys.Generate(Guid.CreateVersion7()));

    /// <summary>Writes the root key to a new passphrase-encrypted file (refuses to overwrite unless the options say so).</summary>
    public Task<DeviceKeystore> SaveAsync(string path, ReadOnlyMemory<char> passphrase, KeystoreOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        var withLabel = new KeystoreOptions
        {
            KdfParameters = options?.KdfParameters ?? Argon2idParameters.Default,
            OverwriteExisting = options?.OverwriteExisting ?? false,
            Label = Label,
        };
        return DeviceKeystore.CreateAsync(path, _keys, passphrase, withLabel, cancellationToken);
    }

    /// <summary>Opens a root key file.</summary>
    /// <exception cref="KeystoreFormatException">The file is not a network root key file.</exception>
    /// <exception cref="WrongPassphraseException">The passphrase is wrong or the file was altered.</exception>
    public static async Task<NetworkRootKey> OpenAsync(string path, ReadOnlyMemory<char> passphrase, CancellationToken cancellationToken = default)
    {
        var file = await DeviceKeystore.ReadAsync(path, cancellationToken);
        if (file.Label != Label)
        {
            throw new KeystoreFormatException($"'{path}' is not a network root key file.");
        }

        return new NetworkRootKey(await DeviceKeystore.OpenAsync(path, passphrase, cancellationToken));
    }

    /// <summary>Clears the private key.</summary>
    public void Dispose() => _keys.Dispose();

    /// <inheritdoc />
    public override string ToString() => $"NetworkRootKey({Fingerprint})";
}
