using System.Text.Json;

namespace GlobeSecure.Cli.Tests;

/// <summary>`globe request` against the real server: Kenya's investigator requests, Brazil's answers or declines.</summary>
public sealed class RequestCliTests(CliNetworkFixture server) : IClassFixture<CliNetworkFixture>, IDisposable
{
    private const string Kenyan = "kenya-investigator";
    private const string Brazilian = "brazil-investigator";
    private readonly CliRunner _cli = new();

    public void Dispose() => _cli.Dispose();

    private CliNetworkDriver Network => new(server, _cli);

    private static string ExampleDraft => Path.Combine(AppContext.BaseDirectory, "Templates", "request-for-information.draft.json");

    [Fact]
    public async Task RequestStory_ExampleDraft_ListedShownWithFormAcknowledgedAndAnsweredForBothSides()
    {
        var network = await Network.SetUpAsync();

        var sent = await Network.RunJsonAsync(Kenyan, "request", "new", "--template", "request-for-information", "--to", network.Brazil,
            "--urgency", "urgent", ExampleDraft);
        var id = sent.GetProperty("requestId").GetString()!;
        var incoming = await Network.RunJsonAsync(Brazilian, "request", "list", "--incoming");
        var shown = await Network.RunJsonAsync(Brazilian, "request", "show", id, "--form");
        var acknowledged = await Network.RunJsonAsync(Brazilian, "request", "ack", id);
        var answered = await Network.RunJsonAsync(Brazilian, "request", "answer", id, "--message", "Register extract to follow.");
        var kenyaList = await _cli.RunAsync("--profile", Kenyan, "request", "list", "--outgoing");
        var history = await Network.RunJsonAsync(Kenyan, "history", sent.GetProperty("channelId").GetString()!);

        Assert.Equal("REQUEST_STATUS_SENT", sent.GetProperty("status").GetString());
        Assert.Contains(id, incoming.EnumerateArray().Select(r => r.GetProperty("requestId").GetString()));
        Assert.Equal("EACC/INV/2026/0412", shown.GetProperty("form").GetProperty("parties").GetProperty("case_reference").GetString());
        Assert.Equal("REQUEST_STATUS_ACKNOWLEDGED", acknowledged.GetProperty("status").GetString());
        Assert.Equal("REQUEST_STATUS_ANSWERED", answered.GetProperty("status").GetString());
        Assert.True(kenyaList.ExitCode == 0, kenyaList.Error);
        Assert.Contains(id, kenyaList.Output, StringComparison.Ordinal);
        Assert.Contains("answered", kenyaList.Output, StringComparison.Ordinal);
        Assert.Contains("Register extract to follow.", history.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task New_IncompleteDraft_ListsEveryProblemExitsOneAndSendsNothing()
    {
        var network = await Network.SetUpAsync();
        var before = (await Network.RunJsonAsync(Kenyan, "request", "list", "--outgoing")).GetArrayLength();
        var draft = _cli.WriteFile("draft.json", """{ "parties": { "requested_state": "Kenya" } }""");

        var result = await _cli.RunAsync("--profile", Kenyan, "--json", "request", "new", "--template", "request-for-information", "--to", network.Brazil, draft);
        var after = (await Network.RunJsonAsync(Kenyan, "request", "list", "--outgoing")).GetArrayLength();

        Assert.Equal(1, result.ExitCode);
        using var problems = JsonDocument.Parse(result.Output);
        var paths = problems.RootElement.EnumerateArray().Select(p => p.GetProperty("path").GetString()).ToList();
        Assert.Contains("parties.requested_state", paths);
        Assert.Contains("facts.offences", paths);
        Assert.Contains("nothing was sent", result.Error, StringComparison.Ordinal);
        Assert.Equal(before, after);
    }

    [Fact]
    public async Task Decline_RequestedSideWithReason_DeclinedWithThatCategory()
    {
        var network = await Network.SetUpAsync();
        var sent = await Network.RunJsonAsync(Kenyan, "request", "new", "--template", "request-for-information", "--to", network.Brazil, ExampleDraft);
        var id = sent.GetProperty("requestId").GetString()!;

        var declined = await Network.RunJsonAsync(Brazilian, "request", "decline", id, "--reason", "information-not-held");
        var kenyaSees = await Network.RunJsonAsync(Kenyan, "request", "show", id);

        Assert.Equal("REQUEST_STATUS_DECLINED", declined.GetProperty("status").GetString());
        Assert.Equal("DECLINE_REASON_CATEGORY_INFORMATION_NOT_HELD", kenyaSees.GetProperty("declineReason").GetString());
    }
}
