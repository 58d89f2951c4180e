using GlobeSecure.Client.Keystore;
using GlobeSecure.Crypto;

namespace GlobeSecure.Client.Tests;

public sealed class NetworkRootKeyTests : IDisposable
{
    private static readonly KeystoreOptions Fast = new() { KdfParameters = Argon2idParameters.InsecureForTests };
    private readonly string _directory = Directory.CreateTempSubdirectory("globe-root-").FullName;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task SaveThenOpen_SamePassphrase_GivesTheSameRootKey()
    {
        var path = Path.Combine(_directory, "root.key");
        using var root = NetworkRootKey.Generate();

        await root.SaveAsync(path, "root passphrase".AsMemory(), Fast, Ct);
        using var opened = await NetworkRootKey.OpenAsync(path, "root passphrase".AsMemory(), Ct);

        Assert.Equal(root.PublicKey, opened.PublicKey);
        var message = "certificate bytes"u8.ToArray();
        Assert.True(root.PublicKey.Verify(message, opened.KeyPair.Sign(message)));
    }

    [Fact]
    public async Task Open_WrongPassphrase_IsRefused()
    {
        var path = Path.Combine(_directory, "root.key");
        using var root = NetworkRootKey.Generate();
        await root.SaveAsync(path, "right".AsMemory(), Fast, Ct);

        await Assert.ThrowsAsync<WrongPassphraseException>(() => NetworkRootKey.OpenAsync(path, "wrong".AsMemory(), Ct));
    }

    [Fact]
    public async Task Open_DeviceKeyFile_IsNotTakenForTheRootKey()
    {
        var path = Path.Combine(_directory, "device.key");
        using var device = DeviceKeys.Generate(Guid.CreateVersion7());
        await DeviceKeystore.CreateAsync(path, device, "pass".AsMemory(), Fast, Ct);

        await Assert.ThrowsAsync<KeystoreFormatException>(() => NetworkRootKey.OpenAsync(path, "pass".AsMemory(), Ct));
    }
}
