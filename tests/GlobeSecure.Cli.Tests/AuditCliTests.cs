using System.Text.Json;

namespace GlobeSecure.Cli.Tests;

/// <summary>`globe audit` against the real server: a network auditor queries, exports, and verifies offline; others are refused.</summary>
public sealed class AuditCliTests(CliNetworkFixture server) : IClassFixture<CliNetworkFixture>, IDisposable
{
    private const string Auditor = "zainab-auditor";
    private readonly CliRunner _cli = new();

    public void Dispose() => _cli.Dispose();

    private CliNetworkDriver Network => new(server, _cli);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>Amina invites Zainab as an auditor of the secretariat (a network auditor), who enrols; Amina certifies her device.</summary>
    private async Task EnsureNetworkAuditorAsync()
    {
        await Network.SetUpAsync();
        if (Directory.Exists(Path.Combine(server.Home, "profiles", Auditor)))
        {
            return;
        }

        var network = await Network.RunJsonAsync("amina", "network", "show");
        var secretariat = network.GetProperty("networkAuthorityId").GetString()!;
        var root = network.GetProperty("pinned").GetString()!;
        var code = (await Network.RunJsonAsync("amina", "user", "invite", "--name", "Zainab Auditor", "--role", "auditor")).GetProperty("code").GetString()!;
        var enrolled = await Network.RunJsonAsync(Auditor, "device", "enrol", "--code", code, "--root-fingerprint", root);
        await Network.RunJsonAsync("amina", "device", "certify", enrolled.GetProperty("deviceId").GetString()!, "--authority", secretariat,
            "--fingerprint", enrolled.GetProperty("signingKeyFingerprint").GetString()!);
    }

    [Fact]
    public async Task AuditStory_InvestigatorRefused_AuditorFindsTheRefusalExportsAndVerifiesOfflineAndTamperingIsNamed()
    {
        await EnsureNetworkAuditorAsync();
        var investigator = (await Network.RunJsonAsync("kenya-investigator", "whoami")).GetProperty("userId").GetString()!;

        var refused = await _cli.RunAsync("--profile", "kenya-investigator", "audit", "query");
        var denied = await Network.RunJsonAsync(Auditor, "audit", "query", "--outcome", "denied", "--action", "/globesecure.v1.AuditService/", "--limit", "1000");
        var table = await _cli.RunAsync("--profile", Auditor, "audit", "query", "--actor-user", investigator, "--action",
            "/globesecure.v1.AuditService/QueryAudit");
        var file = Path.Combine(_cli.Home, "trail.jsonl");
        var exported = await Network.RunJsonAsync(Auditor, "audit", "export", "--out", file);
        var key = (await Network.RunJsonAsync(Auditor, "audit", "keys"))[0].GetProperty("publicKey").GetString()!;
        var verified = await Network.RunJsonAsync(null, "audit", "verify", file, "--key", key);
        var onServer = await Network.RunJsonAsync(Auditor, "audit", "verify", "--server");
        var checkpoints = await Network.RunJsonAsync(Auditor, "audit", "checkpoints");

        Assert.NotEqual(0, refused.ExitCode);
        Assert.Contains("permission denied", refused.Error, StringComparison.OrdinalIgnoreCase);
        Assert.Contains(denied.EnumerateArray(), e => e.GetProperty("actorUserId").GetString() == investigator
            && e.GetProperty("action").GetString() == "/globesecure.v1.AuditService/QueryAudit");
        Assert.True(table.ExitCode == 0, table.Error);
        Assert.Contains("denied", table.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("allowed", table.Output, StringComparison.Ordinal);
        Assert.True(exported.GetProperty("entries").GetInt64() > 10);
        Assert.True(exported.GetProperty("checkpoints").GetInt64() >= 1);
        Assert.True(verified.GetProperty("valid").GetBoolean());
        Assert.True(verified.GetProperty("pinned").GetBoolean());
        Assert.True(verified.GetProperty("contiguous").GetBoolean());
        Assert.Equal(exported.GetProperty("entries").GetInt64(), verified.GetProperty("entries").GetInt64());
        Assert.True(onServer.GetProperty("valid").GetBoolean());
        Assert.NotEqual(0, checkpoints.GetArrayLength());

        // Offline verification names the first bad position after any change to the file.
        var lines = await File.ReadAllLinesAsync(file, Ct);
        var entries = lines.Select((l, i) => (Line: l, Index: i)).Where(x => x.Line.StartsWith("{\"type\":\"entry\"", StringComparison.Ordinal)).ToList();
        var victim = entries[entries.Count / 2];
        var position = JsonDocument.Parse(victim.Line).RootElement.GetProperty("position").GetInt64();
        var changed = lines.ToArray();
        changed[victim.Index] = victim.Line.Replace("\"outcome\":\"", "\"outcome\":\"x", StringComparison.Ordinal);
        var deleted = lines.Where((_, i) => i != victim.Index).ToArray();
        var swapped = lines.ToArray();
        (swapped[victim.Index], swapped[victim.Index + 1]) = (swapped[victim.Index + 1], swapped[victim.Index]);

        foreach (var (name, content) in new[] { ("changed", changed), ("deleted", deleted), ("swapped", swapped) })
        {
            var tampered = _cli.WriteFile($"{name}.jsonl", string.Join('\n', content) + "\n");
            var result = await _cli.RunAsync("audit", "verify", tampered, "--key", key);
            Assert.True(result.ExitCode == 1, $"{name}: {result.Output} {result.Error}");
            Assert.Contains($"position {position}", result.Error, StringComparison.Ordinal);
        }

        var foreign = await _cli.RunAsync("audit", "verify", file, "--key", new string('a', 64));
        Assert.Equal(1, foreign.ExitCode);
    }

    [Fact]
    public async Task Verify_BadUsage_ExitsTwoWithWhatToFix()
    {
        await Network.SetUpAsync();

        var neither = await _cli.RunAsync("audit", "verify");
        var badKey = await _cli.RunAsync("audit", "verify", _cli.WriteFile("x.jsonl", "{}\n"), "--key", "not-hex");

        Assert.Equal(2, neither.ExitCode);
        Assert.Contains("--server", neither.Error, StringComparison.Ordinal);
        Assert.Equal(2, badKey.ExitCode);
        Assert.Contains("64 hex characters", badKey.Error, StringComparison.Ordinal);
    }
}
