using System.Text.Json;

namespace GlobeSecure.Cli.Tests;

/// <summary>`globe template` against the real server, as a network administrator and an investigator.</summary>
public sealed class TemplateCliTests(CliNetworkFixture server) : IClassFixture<CliNetworkFixture>, IDisposable
{
    private const string Investigator = "kenya-investigator";
    private const string Administrator = "amina";
    private readonly CliRunner _cli = new();

    public void Dispose() => _cli.Dispose();

    private CliNetworkDriver Network => new(server, _cli);

    private static string ExampleDraft => Path.Combine(AppContext.BaseDirectory, "Templates", "request-for-information.draft.json");

    [Fact]
    public async Task ListAndShow_SeededTemplate_ListedAndShownWithItsFields()
    {
        await Network.SetUpAsync();

        var listed = await Network.RunJsonAsync(Investigator, "template", "list");
        var shown = await _cli.RunAsync("--profile", Investigator, "template", "show", "request-for-information");
        var json = await Network.RunJsonAsync(Investigator, "template", "show", "request-for-information", "--version", "1");

        Assert.Contains("request-for-information", listed.EnumerateArray().Select(t => t.GetProperty("templateId").GetString()));
        Assert.True(shown.ExitCode == 0, shown.Error);
        Assert.Contains("Request for information", shown.Output, StringComparison.Ordinal);
        Assert.Contains("list of enum", shown.Output, StringComparison.Ordinal);
        Assert.Contains("bribery_of_foreign_public_officials", shown.Output, StringComparison.Ordinal);
        Assert.Equal("1", json.GetProperty("version").GetString());
    }

    [Fact]
    public async Task Check_ExampleDraft_IsCompleteAndExitsZero()
    {
        await Network.SetUpAsync();

        var result = await _cli.RunAsync("--profile", Investigator, "template", "check", "request-for-information", ExampleDraft);

        Assert.True(result.ExitCode == 0, result.Error);
        Assert.Contains("complete", result.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Check_IncompleteDraft_ListsEveryProblemAndExitsOne()
    {
        await Network.SetUpAsync();
        var draft = _cli.WriteFile("draft.json", """
            { "parties": { "requested_state": "Kenya" }, "request": { "urgency": "soon" }, "extra": {} }
            """);

        var result = await _cli.RunAsync("--profile", Investigator, "--json", "template", "check", "request-for-information", draft);

        Assert.Equal(1, result.ExitCode);
        using var problems = JsonDocument.Parse(result.Output);
        var paths = problems.RootElement.EnumerateArray().Select(p => p.GetProperty("path").GetString()).ToList();
        Assert.Contains("extra", paths);
        Assert.Contains("parties.requesting_authority", paths);
        Assert.Contains("parties.requested_state", paths);
        Assert.Contains("request.urgency", paths);
        Assert.Contains("facts.summary_of_facts", paths);
        Assert.Contains("problem(s) in the draft", result.ErrorLine, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Publish_ShownTemplateAsNextVersion_AdministratorPublishesInvestigatorIsRefusedAndCheckWorksOffline()
    {
        await Network.SetUpAsync();
        var id = $"cli-{Guid.CreateVersion7():N}"[..24];
        var file = _cli.WriteFile("template.json", $$"""
            {
              "templateId": "{{id}}", "version": "1", "name": "Asset tracing",
              "sections": [{ "sectionId": "subjects", "title": "Subjects",
                "fields": [{ "fieldId": "accounts", "label": "Accounts", "type": "FIELD_TYPE_BANK_ACCOUNT", "list": true, "required": true }] }]
            }
            """);
        var draft = _cli.WriteFile("accounts.json", """{ "subjects": { "accounts": [{ "iban": "DE00 0000" }] } }""");

        var refused = await _cli.RunAsync("--profile", Investigator, "template", "publish", file);
        var published = await Network.RunJsonAsync(Administrator, "template", "publish", file);
        var offline = await _cli.RunAsync("template", "check", file, draft);

        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("permission denied", refused.ErrorLine, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(id, published.GetProperty("templateId").GetString());
        Assert.Equal(1, offline.ExitCode);
        Assert.Contains("subjects.accounts[0].iban", offline.Output, StringComparison.Ordinal);
    }
}
