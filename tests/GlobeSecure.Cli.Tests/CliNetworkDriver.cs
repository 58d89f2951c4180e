using System.Text.Json;

namespace GlobeSecure.Cli.Tests;

/// <summary>
/// Sets up, once per <see cref="CliNetworkFixture"/>, a network with two authorities through the
/// `globe` command itself (as ops/demo.sh does), and runs commands as its profiles.
/// </summary>
internal sealed class CliNetworkDriver(CliNetworkFixture server, CliRunner cli)
{
    public async Task<CliNetwork> SetUpAsync()
    {
        cli.With("GLOBE_SERVER", server.Address.ToString())
            .With("GLOBE_PASSPHRASE", "device passphrase for the test")
            .With("GLOBE_ROOT_PASSPHRASE", "root passphrase for the test")
            .With("GLOBE_HOME", server.Home);
        await server.Gate.WaitAsync(TestContext.Current.CancellationToken);
        try
        {
            if (server.Network is { } known)
            {
                return known;
            }

            var codeFile = Path.Combine(server.Home, "bootstrap");
            await File.WriteAllTextAsync(codeFile, await server.IssueBootstrapCodeAsync(TestContext.Current.CancellationToken),
                TestContext.Current.CancellationToken);
            var init = await RunJsonAsync("amina", "network", "init", "--code-file", codeFile, "--admin-name", "Amina Diallo");
            var root = init.GetProperty("rootFingerprint").GetString()!;
            var lukas = await EnrolAsync("lukas", (await RunJsonAsync("amina", "user", "invite", "--name", "Lukas Berger", "--role", "network-administrator"))
                .GetProperty("code").GetString()!, root);
            await RunJsonAsync("amina", "device", "certify", lukas.DeviceId, "--authority", init.GetProperty("networkAuthorityId").GetString()!,
                "--with-root-key", "--fingerprint", lukas.Fingerprint);

            async Task<(string Authority, string Investigator)> AuthorityAsync(string name, string country, string kind, string prefix)
            {
                var applied = await RunJsonAsync(null, "authority", "apply", "--name", name, "--country", country, "--kind", kind,
                    "--legal-basis", "UNCAC art. 36", "--focal-name", "Focal Point", "--focal-email", "focal@example.org");
                var authority = applied.GetProperty("authorityId").GetString()!;
                await RunJsonAsync("amina", "authority", "approve", authority);
                var approved = await RunJsonAsync("lukas", "authority", "approve", authority);
                var admin = await EnrolAsync($"{prefix}-admin", approved.GetProperty("code").GetString()!, root);
                await RunJsonAsync("amina", "device", "certify", admin.DeviceId, "--authority", authority, "--fingerprint", admin.Fingerprint);
                var invited = await RunJsonAsync($"{prefix}-admin", "user", "invite", "--name", $"{prefix} investigator", "--role", "investigator");
                var investigator = await EnrolAsync($"{prefix}-investigator", invited.GetProperty("code").GetString()!, root);
                await RunJsonAsync($"{prefix}-admin", "device", "certify", investigator.DeviceId, "--fingerprint", investigator.Fingerprint);
                return (authority, invited.GetProperty("userId").GetString()!);
            }

            var kenya = await AuthorityAsync("Ethics and Anti-Corruption Commission", "KE", "anti-corruption-agency", "kenya");
            var brazil = await AuthorityAsync("Polícia Federal", "BR", "police", "brazil");
            return server.Network = new CliNetwork(kenya.Authority, brazil.Authority, kenya.Investigator, brazil.Investigator);
        }
        finally
        {
            server.Gate.Release();
        }
    }

    private async Task<(string DeviceId, string Fingerprint)> EnrolAsync(string profile, string code, string rootFingerprint)
    {
        var enrolled = await RunJsonAsync(profile, "device", "enrol", "--code", code, "--root-fingerprint", rootFingerprint);
        return (enrolled.GetProperty("deviceId").GetString()!, enrolled.GetProperty("signingKeyFingerprint").GetString()!);
    }

    public async Task<JsonElement> RunJsonAsync(string? profile, params string[] args)
    {
        var result = await cli.RunAsync([.. profile is null ? [] : new[] { "--profile", profile }, "--json", .. args]);
        Assert.True(result.ExitCode == 0, $"globe {string.Join(' ', args)}: {result.Error}");
        using var json = JsonDocument.Parse(result.Output);
        return json.RootElement.Clone();
    }
}
