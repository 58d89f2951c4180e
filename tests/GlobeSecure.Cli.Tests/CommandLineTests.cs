using System.Text.Json;
using GlobeSecure.Client;
using GlobeSecure.Client.Keystore;
using GlobeSecure.Client.Profiles;
using GlobeSecure.Crypto;

namespace GlobeSecure.Cli.Tests;

/// <summary>The command line itself: usage errors, passphrase sources, output — without a server.</summary>
public sealed class CommandLineTests : IDisposable
{
    private readonly CliRunner _cli = new();

    public void Dispose() => _cli.Dispose();

    [Theory]
    [InlineData("authority")]
    [InlineData("authority", "apply", "--name", "X")]
    [InlineData("authority", "approve", "not-a-uuid")]
    [InlineData("device", "list", "--pending", "--no-such-option")]
    [InlineData("user", "invite", "--name", "X", "--role", "network-god")]
    [InlineData("group", "create", "--name", "G", "--authority", "kenya")]
    [InlineData("channel", "create")]
    [InlineData("channel", "share-history", "0190a5b2-0000-7000-8000-000000000001", "--user", "0190a5b2-0000-7000-8000-000000000002", "--epoch", "one")]
    [InlineData("channel", "create", "--title", "T", "--handling", "H4")]
    [InlineData("channel", "invite", "0190a5b2-0000-7000-8000-000000000001")]
    [InlineData("channel", "remove", "0190a5b2-0000-7000-8000-000000000001", "--authority", "kenya")]
    [InlineData("channel", "share-history", "0190a5b2-0000-7000-8000-000000000001", "--user", "0190a5b2-0000-7000-8000-000000000002", "--epoch", "0")]
    [InlineData("send", "0190a5b2-0000-7000-8000-000000000001", "hello", "--handling", "secret")]
    [InlineData("send", "0190a5b2-0000-7000-8000-000000000001", "hello", "--reply-to", "yesterday")]
    [InlineData("send", "not-a-channel", "hello")]
    [InlineData("history", "0190a5b2-0000-7000-8000-000000000001", "--limit", "0")]
    [InlineData("history", "0190a5b2-0000-7000-8000-000000000001", "--limit", "501")]
    [InlineData("watch", "--count", "0")]
    [InlineData("watch", "--timeout", "-1")]
    [InlineData("consent", "request", "0190a5b2-0000-7000-8000-000000000001", "--reason", "r")]
    [InlineData("consent", "deny", "0190a5b2-0000-7000-8000-000000000001")]
    [InlineData("receipts", "0190a5b2-0000-7000-8000-000000000001")]
    public async Task Run_UsageError_ExitsTwoWithOneLine(params string[] args)
    {
        var result = await _cli.RunAsync(args);

        Assert.Equal(2, result.ExitCode);
        Assert.StartsWith("error: ", result.ErrorLine, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Help_Root_ListsEveryCommandAndExitsZero()
    {
        var result = await _cli.RunAsync("--help");

        Assert.Equal(0, result.ExitCode);
        foreach (var command in new[] { "network", "authority", "group", "user", "device", "whoami", "fingerprint", "directory",
                     "channel", "send", "history", "watch", "consent", "receipts" })
        {
            Assert.Contains(command, result.Output, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("")]
    [InlineData("   \n")]
    public async Task Send_EmptyStandardInput_IsAUsageErrorBeforeConnecting(string input)
    {
        _cli.Input = input;

        var result = await _cli.RunAsync("send", "0190a5b2-0000-7000-8000-000000000001");

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("empty", result.ErrorLine, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Send_TooLongForOneMessage_IsAUsageError()
    {
        var result = await _cli.RunAsync("send", "0190a5b2-0000-7000-8000-000000000001", new string('x', 64 * 1024 + 1));

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("65537 bytes", result.ErrorLine, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Permission denied: not a member of this channel.", "permission denied: not a member of this channel.")]
    [InlineData("No.", "permission denied: No.")]
    [InlineData("permission denied", "permission denied: permission denied")]
    public void ErrorLine_ServerMessageNamingTheStatusAgain_SaysItOnce(string detail, string expected)
    {
        var line = GlobeCli.ErrorLine(new GlobeClientException(Grpc.Core.StatusCode.PermissionDenied, null, detail));

        Assert.Equal(expected, line);
    }

    [Fact]
    public void Printable_TerminalEscapes_AreNeutralisedLineBreaksKept()
    {
        var shown = Commands.Printable("title\u001b[2J\u001b]0;owned\u0007\nsecond line\tend");

        Assert.DoesNotContain('\u001b', shown);
        Assert.DoesNotContain('\u0007', shown);
        Assert.Contains("\nsecond line\tend", shown, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Apply_NoServerAnywhere_IsAUsageError()
    {
        var result = await _cli.RunAsync("authority", "apply", "--name", "X", "--country", "KE", "--kind", "police", "--legal-basis", "b",
            "--focal-name", "n", "--focal-email", "e@x.org");

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("GLOBE_SERVER", result.ErrorLine, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("http://127.0.0.1:1,ftp://127.0.0.1:2", "ftp://127.0.0.1:2")]
    [InlineData("http://127.0.0.1:1,https://127.0.0.1:2", "mix")]
    public async Task Apply_BadServerList_IsAUsageErrorNamingIt(string servers, string named)
    {
        var result = await _cli.RunAsync("authority", "apply", "--server", servers, "--name", "X", "--country", "KE", "--kind", "police",
            "--legal-basis", "b", "--focal-name", "n", "--focal-email", "e@x.org");

        Assert.Equal(2, result.ExitCode);
        Assert.Contains(named, result.ErrorLine, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Apply_ClientCertificateFileMissing_IsAUsageErrorNamingTheOption()
    {
        var result = await _cli.RunAsync("authority", "apply", "--name", "X", "--country", "KE", "--kind", "police", "--legal-basis", "b",
            "--focal-name", "n", "--focal-email", "e@x.org", "--server", "https://127.0.0.1:1", "--client-cert", "/no/such/partner.pfx");

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("--client-cert: there is no certificate at '/no/such/partner.pfx'", result.ErrorLine, StringComparison.Ordinal);
    }

    [Fact]
    public async Task WhoAmI_NoProfile_SaysHowToCreateOne()
    {
        var result = await _cli.RunAsync("whoami");

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("globe device enrol", result.ErrorLine, StringComparison.Ordinal);
    }

    [Fact]
    public async Task WhoAmI_NoPassphraseAndNoTerminal_SaysWhereToPutIt()
    {
        await CreateProfileAsync("default", "secret");

        var result = await _cli.RunAsync("whoami");

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("--passphrase-file", result.ErrorLine, StringComparison.Ordinal);
        Assert.Contains("GLOBE_PASSPHRASE", result.ErrorLine, StringComparison.Ordinal);
    }

    [Fact]
    public async Task WhoAmI_WrongPassphraseInFile_FailsWithoutEchoingIt()
    {
        await CreateProfileAsync("default", "right passphrase");
        var file = _cli.WriteFile("pass", "wrong passphrase\n");

        var result = await _cli.RunAsync("whoami", "--passphrase-file", file);

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("passphrase is wrong", result.ErrorLine, StringComparison.Ordinal);
        Assert.DoesNotContain("wrong passphrase", result.Error + result.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Fingerprint_Profile_PrintsPinnedRootAndDeviceSafetyNumber()
    {
        var (root, device) = await CreateProfileAsync("alice", "pass");

        var result = await _cli.RunAsync("--profile", "alice", "--json", "fingerprint");

        Assert.Equal(0, result.ExitCode);
        using var json = JsonDocument.Parse(result.Output);
        Assert.Equal(root.Fingerprint, json.RootElement.GetProperty("rootFingerprint").GetString());
        Assert.Equal(device.SigningKey.Fingerprint, json.RootElement.GetProperty("signingKeyFingerprint").GetString());
        var safety = json.RootElement.GetProperty("deviceSafetyNumber").GetString()!;
        Assert.Matches("^[0-9]{5}( [0-9]{5}){5}$", safety);
        Assert.Equal(Commands.DeviceSafetyNumber(device), safety);
    }

    [Fact]
    public void DeviceSafetyNumber_TwoDevices_IsEachOnesHalfOfTheirSafetyNumber()
    {
        using var a = DeviceKeys.Generate(Guid.CreateVersion7());
        using var b = DeviceKeys.Generate(Guid.CreateVersion7());

        var pair = SafetyNumber.Compute(a.Public, b.Public);

        Assert.Contains(Commands.DeviceSafetyNumber(a.Public), pair, StringComparison.Ordinal);
        Assert.Contains(Commands.DeviceSafetyNumber(b.Public), pair, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Passphrase_FromTerminal_IsReadWithoutEcho()
    {
        await CreateProfileAsync("default", "typed");
        _cli.TerminalAnswers = new Queue<string>(["wrong"]);

        var result = await _cli.RunAsync("whoami");

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("passphrase is wrong", result.ErrorLine, StringComparison.Ordinal);
        Assert.Empty(_cli.TerminalAnswers);
    }

    private async Task<(SigningPublicKey Root, PublicDeviceKeys Device)> CreateProfileAsync(string name, string passphrase)
    {
        var store = new ProfileStore(_cli.Home);
        using var root = SigningKeyPair.Generate();
        using var device = DeviceKeys.Generate(Guid.CreateVersion7());
        store.EnsureDirectory(name);
        await DeviceKeystore.CreateAsync(store.DeviceKeyPath(name), device, passphrase.AsMemory(),
            new KeystoreOptions { KdfParameters = Argon2idParameters.InsecureForTests }, TestContext.Current.CancellationToken);
        await store.SaveAsync(name, new GlobeProfile { Server = "http://127.0.0.1:1", DeviceId = device.DeviceId }.WithRoot(root.PublicKey),
            TestContext.Current.CancellationToken);
        return (root.PublicKey, device.Public);
    }
}
