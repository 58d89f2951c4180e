using System.Text.Json;
using GlobeSecure.Server;
using GlobeSecure.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace GlobeSecure.Cli.Tests;

/// <summary>The beginning of the story with the `globe` command itself, against the real server.</summary>
public sealed class CliStoryTests(GlobeServerFixture server) : IClassFixture<GlobeServerFixture>, IDisposable
{
    private readonly CliRunner _cli = new();

    public void Dispose() => _cli.Dispose();

    [Fact]
    public async Task NetworkInit_ThenInviteEnrolCertifyWithRootKey_SecondAdministratorAuthenticates()
    {
        var code = await IssueBootstrapCodeAsync();
        _cli.With("GLOBE_SERVER", server.Address.ToString())
            .With("GLOBE_PASSPHRASE", "device passphrase for the test")
            .With("GLOBE_ROOT_PASSPHRASE", "root passphrase for the test");
        var codeFile = _cli.WriteFile("bootstrap", code + "\n");

        var init = await _cli.RunAsync("--profile", "amina", "--json", "network", "init", "--code-file", codeFile, "--admin-name", "Amina Diallo");
        Assert.Equal(0, init.ExitCode);
        var reuse = await _cli.RunAsync("--profile", "again", "network", "init", "--code-file", codeFile, "--admin-name", "Mallory");
        var invite = await _cli.RunAsync("--profile", "amina", "--json", "user", "invite", "--name", "Lukas Berger", "--role", "network-administrator");
        var enrolmentCode = Field(invite, "code");
        var rootFingerprint = Field(init, "rootFingerprint");
        var enrol = await _cli.RunAsync("--profile", "lukas", "--json", "device", "enrol", "--code", enrolmentCode, "--root-fingerprint", rootFingerprint);
        var pending = await _cli.RunAsync("--profile", "lukas", "whoami");
        var certify = await _cli.RunAsync("--profile", "amina", "--json", "device", "certify", Field(enrol, "deviceId"),
            "--authority", Field(init, "networkAuthorityId"), "--with-root-key", "--fingerprint", Field(enrol, "signingKeyFingerprint"));
        var whoami = await _cli.RunAsync("--profile", "lukas", "--json", "whoami");
        var directory = await _cli.RunAsync("--profile", "lukas", "--json", "directory");

        Assert.Equal(1, reuse.ExitCode);
        Assert.Contains("bootstrap code", reuse.ErrorLine, StringComparison.Ordinal);
        Assert.Equal(0, enrol.ExitCode);
        Assert.Equal(1, pending.ExitCode);
        Assert.StartsWith("error: not authenticated", pending.ErrorLine, StringComparison.Ordinal);
        Assert.Equal("certified", Field(certify, "status"));
        Assert.Equal("network-administrator", Field(whoami, "role"));
        Assert.Equal("Lukas Berger", Field(whoami, "displayName"));
        Assert.Equal(0, directory.ExitCode);
        Assert.True(File.Exists(Path.Combine(_cli.Home, "profiles", "amina", "root.key")));
        Assert.False(File.Exists(Path.Combine(_cli.Home, "profiles", "lukas", "root.key")));
        Assert.DoesNotContain(code, string.Concat(init.Output, init.Error, reuse.Error), StringComparison.Ordinal);
    }

    [Fact]
    public async Task DeviceEnrol_WrongRootFingerprint_IsRefusedBeforeEnrolling()
    {
        var result = await _cli.RunAsync("--server", server.Address.ToString(), "device", "enrol", "--code", "whatever",
            "--root-fingerprint", "0000000000000000");

        Assert.Equal(1, result.ExitCode);
        Assert.False(Directory.Exists(Path.Combine(_cli.Home, "profiles", "default")) &&
            File.Exists(Path.Combine(_cli.Home, "profiles", "default", "device.key")));
    }

    private static string Field(CliResult result, string name)
    {
        Assert.True(result.ExitCode == 0, result.Error);
        using var json = JsonDocument.Parse(result.Output);
        return json.RootElement.GetProperty(name).GetString()!;
    }

    private Task<string> IssueBootstrapCodeAsync() => server.IssueBootstrapCodeAsync(TestContext.Current.CancellationToken);
}
