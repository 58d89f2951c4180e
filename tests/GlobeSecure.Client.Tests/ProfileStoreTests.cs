using GlobeSecure.Client;
using GlobeSecure.Client.Profiles;
using GlobeSecure.Crypto;

namespace GlobeSecure.Client.Tests;

public sealed class ProfileStoreTests : IDisposable
{
    private readonly string _home = Path.Combine(Path.GetTempPath(), "globe-profiles-" + Guid.NewGuid().ToString("N"));

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose()
    {
        if (Directory.Exists(_home))
        {
            Directory.Delete(_home, recursive: true);
        }
    }

    private ProfileStore Store() => new(_home);

    [Fact]
    public async Task SaveThenLoad_FullProfile_RoundTripsEveryField()
    {
        using var root = SigningKeyPair.Generate();
        var head = new DirectoryHead(7, Enumerable.Range(0, 32).Select(i => (byte)i).ToArray());
        var profile = new GlobeProfile
        {
            Server = "http://127.0.0.1:5080/",
            NetworkName = "GlobE Network",
            NetworkAuthorityId = Guid.CreateVersion7(),
            DeviceId = Guid.CreateVersion7(),
            UserId = Guid.CreateVersion7(),
            AuthorityId = Guid.CreateVersion7(),
            Role = "investigator",
        }.WithRoot(root.PublicKey).WithHead(head);

        await Store().SaveAsync("work", profile, Ct);
        var loaded = await Store().LoadAsync("work", Ct);

        Assert.Equal(profile, loaded);
        Assert.Equal(root.PublicKey, loaded.PinnedRootKey);
        Assert.Equal(root.PublicKey.Fingerprint, loaded.RootFingerprint);
        Assert.Equal(7, loaded.DirectoryHead.Position);
        Assert.Equal(head.Link, loaded.DirectoryHead.Link);
        Assert.Equal(["work"], Store().List());
    }

    [Fact]
    public async Task Save_NewHome_CreatesOwnerOnlyDirectories()
    {
        await Store().SaveAsync("default", new GlobeProfile { Server = "http://localhost:1" }, Ct);

        Assert.True(File.Exists(Path.Combine(_home, "profiles", "default", "profile.json")));
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute,
                File.GetUnixFileMode(Store().ProfileDirectory("default")));
        }

        Assert.Empty(Directory.GetFiles(Store().ProfileDirectory("default"), "*.tmp"));
    }

    [Fact]
    public void Paths_ProfileName_AreUnderItsDirectory()
    {
        var store = Store();

        Assert.Equal(Path.Combine(_home, "profiles", "alice", "device.key"), store.DeviceKeyPath("alice"));
        Assert.Equal(Path.Combine(_home, "profiles", "alice", "root.key"), store.RootKeyPath("alice"));
    }

    [Theory]
    [InlineData("")]
    [InlineData("..")]
    [InlineData(".hidden")]
    [InlineData("a/b")]
    [InlineData("a b")]
    public void ProfileDirectory_UnsafeName_IsRefused(string name) =>
        Assert.Throws<GlobeProfileException>(() => Store().ProfileDirectory(name));

    [Fact]
    public async Task Load_MissingProfile_SaysWhatToRun()
    {
        var error = await Assert.ThrowsAsync<GlobeProfileException>(() => Store().LoadAsync("nobody", Ct));

        Assert.Contains("globe network init", error.Message, StringComparison.Ordinal);
        Assert.Contains("globe device enrol", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Load_NotJson_IsAProfileError()
    {
        Directory.CreateDirectory(Store().ProfileDirectory("broken"));
        await File.WriteAllTextAsync(Store().ProfilePath("broken"), "{ not json", Ct);

        await Assert.ThrowsAsync<GlobeProfileException>(() => Store().LoadAsync("broken", Ct));
    }

    [Fact]
    public void PinnedRootKey_FingerprintDoesNotMatchKey_IsRefused()
    {
        using var root = SigningKeyPair.Generate();
        using var other = SigningKeyPair.Generate();
        var profile = new GlobeProfile { Server = "http://x" }.WithRoot(root.PublicKey) with { RootFingerprint = other.PublicKey.Fingerprint };

        Assert.Throws<GlobeProfileException>(() => profile.PinnedRootKey);
    }

    [Fact]
    public void DirectoryHead_MalformedLink_IsRefused()
    {
        var profile = new GlobeProfile { Server = "http://x", DirectoryHeadPosition = 3, DirectoryHeadLink = "abcd" };

        Assert.Throws<GlobeProfileException>(() => profile.DirectoryHead);
    }

    [Fact]
    public void DefaultHome_GlobeHomeSet_IsUsed()
    {
        var before = Environment.GetEnvironmentVariable("GLOBE_HOME");
        try
        {
            Environment.SetEnvironmentVariable("GLOBE_HOME", _home);
            Assert.Equal(Path.GetFullPath(_home), new ProfileStore().Home);
        }
        finally
        {
            Environment.SetEnvironmentVariable("GLOBE_HOME", before);
        }
    }
}
