using System.Text.Json;
using GlobeSecure.Testing;

namespace GlobeSecure.Cli.Tests;

/// <summary>The `globe` command against the real server (Kestrel, real PostgreSQL).</summary>
public sealed class ServerCommandTests(GlobeServerFixture server) : IClassFixture<GlobeServerFixture>, IDisposable
{
    private readonly CliRunner _cli = new();

    public void Dispose() => _cli.Dispose();

    private string[] Apply(params string[] extra) =>
    [
        "--server", server.Address.ToString(), "authority", "apply", "--name", "Ethics and Anti-Corruption Commission", "--country", "KE",
        "--kind", "anti-corruption-agency", "--legal-basis", "UNCAC art. 36", "--focal-name", "Focal Point", "--focal-email", "focal@example.org",
        .. extra,
    ];

    [Fact]
    public async Task AuthorityApply_Json_PrintsThePendingAuthorityOnOneLine()
    {
        var result = await _cli.RunAsync(Apply("--json"));

        Assert.Equal(0, result.ExitCode);
        var line = Assert.Single(result.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        using var json = JsonDocument.Parse(line);
        Assert.Equal("pending", json.RootElement.GetProperty("status").GetString());
        Assert.True(Guid.TryParse(json.RootElement.GetProperty("authorityId").GetString(), out _));
    }

    [Fact]
    public async Task AuthorityApply_ServerFromEnvironment_IsUsed()
    {
        _cli.With("GLOBE_SERVER", server.Address.ToString());

        var result = await _cli.RunAsync(Apply()[2..]);

        Assert.Equal(0, result.ExitCode);
        Assert.Contains("pending", result.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AuthorityApply_InvalidCountry_ExitsOneWithTheFieldOnOneLine()
    {
        var args = Apply();
        args[Array.IndexOf(args, "KE")] = "XX";

        var result = await _cli.RunAsync(args);

        Assert.Equal(1, result.ExitCode);
        Assert.StartsWith("error: invalid request:", result.ErrorLine, StringComparison.Ordinal);
        Assert.Contains("country", result.ErrorLine, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AnyCommand_UnreachableServer_ExitsOneWithOneLine()
    {
        var args = Apply();
        args[1] = "http://127.0.0.1:1";

        var result = await _cli.RunAsync(args);

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("cannot be reached", result.ErrorLine, StringComparison.Ordinal);
    }
}
