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

    [Fact]
    public async Task RequestStory_ClarifyPartlyAnswerWithAttachmentAndClose_EachStepInTheThreadAndStatsCountIt()
    {
        var network = await Network.SetUpAsync();
        var sent = await Network.RunJsonAsync(Kenyan, "request", "new", "--template", "request-for-information", "--to", network.Brazil, ExampleDraft);
        var id = sent.GetProperty("requestId").GetString()!;
        var channel = sent.GetProperty("channelId").GetString()!;
        var evidence = _cli.WriteFile("register-extract.txt", "Company register extract: Mwangi Holdings Ltd, director J. K. Mwangi.");

        var early = await _cli.RunAsync("--profile", Kenyan, "request", "clarify", id, "--answer", "Too early.");
        var asked = await Network.RunJsonAsync(Brazilian, "request", "clarify", id, "--question", "Which accounts exactly?");
        var clarified = await Network.RunJsonAsync(Kenyan, "request", "clarify", id, "--answer", "The two accounts listed under subjects.");
        var acknowledged = await Network.RunJsonAsync(Brazilian, "request", "ack", id);
        var started = await Network.RunJsonAsync(Brazilian, "request", "start", id);
        var partly = await Network.RunJsonAsync(Brazilian, "request", "answer", id, "--partial", "--message", "First account's statements follow later.");
        var answered = await Network.RunJsonAsync(Brazilian, "request", "answer", id, "--message", "Register extract attached.", "--attach", evidence);
        var closed = await Network.RunJsonAsync(Kenyan, "request", "close", id);
        var history = await Network.RunJsonAsync(Kenyan, "history", channel);
        var stats = await Network.RunJsonAsync(Kenyan, "stats");
        var table = await _cli.RunAsync("--profile", Kenyan, "stats");
        var answerMessage = history.EnumerateArray().Single(m => Text(m) == "Register extract attached.");
        var into = Path.Combine(_cli.Home, "from-brazil") + Path.DirectorySeparatorChar;
        var downloaded = await _cli.RunAsync("--profile", Kenyan, "doc", "download", answerMessage.GetProperty("messageId").GetString()!, "--channel", channel, "--out", into);

        Assert.Equal(1, early.ExitCode);
        Assert.Contains("Cannot provide clarification", early.Error, StringComparison.Ordinal);
        Assert.Equal("REQUEST_STATUS_CLARIFICATION_REQUESTED", asked.GetProperty("status").GetString());
        Assert.Equal("REQUEST_STATUS_SENT", clarified.GetProperty("status").GetString());
        Assert.Equal("REQUEST_STATUS_ACKNOWLEDGED", acknowledged.GetProperty("status").GetString());
        Assert.Equal("REQUEST_STATUS_IN_PROGRESS", started.GetProperty("status").GetString());
        Assert.Equal("REQUEST_STATUS_PARTIALLY_ANSWERED", partly.GetProperty("status").GetString());
        Assert.Equal("REQUEST_STATUS_ANSWERED", answered.GetProperty("status").GetString());
        Assert.Equal("REQUEST_STATUS_CLOSED", closed.GetProperty("status").GetString());
        var texts = history.EnumerateArray().Select(Text).ToList();
        Assert.Contains("Which accounts exactly?", texts);
        Assert.Contains("The two accounts listed under subjects.", texts);
        Assert.Contains("First account's statements follow later.", texts);
        Assert.DoesNotContain("Too early.", texts);
        Assert.Equal(id, answerMessage.GetProperty("replyTo").GetString());
        Assert.True(downloaded.ExitCode == 0, downloaded.Error);
        Assert.Equal("Company register extract: Mwangi Holdings Ltd, director J. K. Mwangi.",
            await File.ReadAllTextAsync(Path.Combine(into, "register-extract.txt"), TestContext.Current.CancellationToken));
        var kenyaRequesting = stats.GetProperty("groups").EnumerateArray().Single(g =>
            g.GetProperty("scope").GetString() == "STATISTICS_SCOPE_AUTHORITY" && g.GetProperty("as").GetString() == "REQUEST_PARTY_REQUESTING");
        Assert.Contains(kenyaRequesting.GetProperty("byStatus").EnumerateArray(),
            c => c.GetProperty("status").GetString() == "REQUEST_STATUS_CLOSED" && c.GetProperty("count").GetInt32() >= 1);
        Assert.True(table.ExitCode == 0, table.Error);
        Assert.Contains("requesting", table.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Withdraw_RequestingSideWithReasonAndMessage_WithdrawnAndTheRequestedSideCannot()
    {
        var network = await Network.SetUpAsync();
        var sent = await Network.RunJsonAsync(Kenyan, "request", "new", "--template", "request-for-information", "--to", network.Brazil, ExampleDraft);
        var id = sent.GetProperty("requestId").GetString()!;

        var refused = await _cli.RunAsync("--profile", Brazilian, "request", "withdraw", id);
        var withdrawn = await Network.RunJsonAsync(Kenyan, "request", "withdraw", id, "--reason", "obtained-elsewhere", "--message", "Obtained through the FIU.");
        var brazilSees = await Network.RunJsonAsync(Brazilian, "request", "show", id);

        Assert.NotEqual(0, refused.ExitCode);
        Assert.Equal("REQUEST_STATUS_WITHDRAWN", withdrawn.GetProperty("status").GetString());
        Assert.Equal("WITHDRAW_REASON_CATEGORY_OBTAINED_ELSEWHERE", brazilSees.GetProperty("withdrawReason").GetString());
        Assert.False(brazilSees.TryGetProperty("allowedActions", out _));
    }

    private static string? Text(JsonElement message) => message.TryGetProperty("text", out var text) ? text.GetString() : null;
}
