using System.Text.RegularExpressions;

namespace GlobeSecure.Cli.Tests;

/// <summary>`globe request export` and `globe verify-package` against the real server: Brazil answers Kenya with an attachment; Kenya exports; anyone verifies offline.</summary>
public sealed partial class RequestExportCliTests(CliNetworkFixture server) : IClassFixture<CliNetworkFixture>, IDisposable
{
    private const string Kenyan = "kenya-investigator";
    private const string Brazilian = "brazil-investigator";
    private readonly CliRunner _cli = new();

    public void Dispose() => _cli.Dispose();

    private CliNetworkDriver Network => new(server, _cli);

    private static string ExampleDraft => Path.Combine(AppContext.BaseDirectory, "Templates", "request-for-information.draft.json");

    [GeneratedRegex("--root-key ([0-9a-f]{64})")]
    private static partial Regex RootKeyHint();

    [Fact]
    public async Task ExportAndVerifyPackage_AnsweredWithAttachment_VerifiesOfflineAndAChangedByteFailsNamingTheFile()
    {
        var network = await Network.SetUpAsync();
        var sent = await Network.RunJsonAsync(Kenyan, "request", "new", "--template", "request-for-information", "--to", network.Brazil, ExampleDraft);
        var id = sent.GetProperty("requestId").GetString()!;
        var channel = sent.GetProperty("channelId").GetString()!;
        await Network.RunJsonAsync(Brazilian, "request", "ack", id);
        var evidence = _cli.WriteFile("statement.txt", "Bank statement 2025-11, account held by Mwangi Holdings Ltd.");
        await Network.RunJsonAsync(Brazilian, "send", channel, "Statement attached.", "--attach", evidence);
        await Network.RunJsonAsync(Brazilian, "request", "answer", id);
        var package = Path.Combine(_cli.Home, "export-" + id);

        var export = await _cli.RunAsync("--profile", Kenyan, "request", "export", id, "--out", package);
        var rootKey = RootKeyHint().Match(export.Output).Groups[1].Value;
        var verified = await _cli.RunAsync("--profile", "no-such-profile", "verify-package", package, "--root-key", rootKey);
        var withProfileRoot = await Network.RunJsonAsync(Brazilian, "verify-package", package);
        var attachment = Directory.EnumerateFiles(Path.Combine(package, "attachments"), "statement.txt", SearchOption.AllDirectories).Single();
        var relative = Path.GetRelativePath(package, attachment).Replace(Path.DirectorySeparatorChar, '/');
        await File.WriteAllTextAsync(attachment, "Bank statement 2025-11, account held by Mwangi Holdings Ltd!", TestContext.Current.CancellationToken);
        var tampered = await _cli.RunAsync("--profile", "no-such-profile", "verify-package", package, "--root-key", rootKey);
        var again = await _cli.RunAsync("--profile", Kenyan, "request", "export", id, "--out", package);

        Assert.True(export.ExitCode == 0, export.Error);
        Assert.Contains($"Request {id} exported", export.Output, StringComparison.Ordinal);
        Assert.Contains("keep it as confidential as the case", export.Output, StringComparison.Ordinal);
        Assert.True(verified.ExitCode == 0, verified.Error);
        Assert.Contains("decrypts to the included plaintext", verified.Output, StringComparison.Ordinal);
        Assert.Contains($"Package of request {id} verifies", verified.Output, StringComparison.Ordinal);
        Assert.True(withProfileRoot.GetProperty("valid").GetBoolean());
        Assert.Equal(1, tampered.ExitCode);
        Assert.Contains($"the package does not verify: {relative}: its SHA-256 is not", tampered.ErrorLine, StringComparison.Ordinal);
        Assert.Equal(1, again.ExitCode);
        Assert.Contains("not empty", again.ErrorLine, StringComparison.Ordinal);
    }

    [Fact]
    public async Task VerifyPackage_MalformedRootKeyOrMissingPackage_UsageErrorOrFailure()
    {
        var badKey = await _cli.RunAsync("verify-package", _cli.Home, "--root-key", "abc");
        var missing = await _cli.RunAsync("verify-package", Path.Combine(_cli.Home, "nowhere"), "--root-key", new string('0', 64));

        Assert.Equal(2, badKey.ExitCode);
        Assert.Contains("64 hex characters", badKey.ErrorLine, StringComparison.Ordinal);
        Assert.Equal(1, missing.ExitCode);
        Assert.Contains("no such package", missing.ErrorLine, StringComparison.Ordinal);
    }
}
