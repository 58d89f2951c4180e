using System.Text.Json;
using GlobeSecure.Testing;

namespace GlobeSecure.Cli.Tests;

/// <summary>
/// A case channel between two authorities with the `globe` command itself, against the real
/// server: the network and both authorities are set up through the CLI as ops/demo.sh does.
/// </summary>
public sealed class ChannelCliStoryTests(CliNetworkFixture server) : IClassFixture<CliNetworkFixture>, IDisposable
{
    private readonly CliRunner _cli = new();

    public void Dispose() => _cli.Dispose();

    [Fact]
    public async Task ChannelStory_TwoAuthorities_MessagesBothWaysHistoryReceiptsAndRemovalLocksOut()
    {
        var network = await SetUpAsync();
        var kenyan = "kenya-investigator";
        var brazilian = "brazil-investigator";

        // Kenya opens the channel and writes before Brazil joins.
        var create = await RunJsonAsync(kenyan, "channel", "create", "--title", "Case 114 – procurement fraud", "--description", "Joint case", "--handling", "H1");
        var channel = create.GetProperty("channelId").GetString()!;
        var early = await RunJsonAsync(kenyan, "send", channel, "Before Brazil joined: the tender file is being collected.");
        var invited = await RunJsonAsync(kenyan, "channel", "invite", channel, "--authority", network.Brazil);
        var brazilBeforeShare = await RunJsonAsync(brazilian, "history", channel);
        var titleOnJoining = await RunJsonAsync(brazilian, "channel", "show", channel);
        var shared = await RunJsonAsync(kenyan, "channel", "share-history", channel, "--user", network.BrazilInvestigator);

        // Messages both ways: Kenya with a grade, Brazil's reply from standard input, tightened to H2.
        var fromKenya = await RunJsonAsync(kenyan, "send", channel, "Payments to the shell company went through São Paulo.", "--grade", "4x4:B2");
        var kenyaMessage = fromKenya.GetProperty("messageId").GetString()!;
        _cli.Input = "We hold the account records.\nRequest them formally for court.\n";
        var fromBrazil = await RunJsonAsync(brazilian, "send", channel, "--reply-to", kenyaMessage, "--handling", "H2", "--spontaneous");
        _cli.Input = null;
        var watched = await _cli.RunAsync("--profile", brazilian, "--json", "watch", "--channel", channel,
            "--after", early.GetProperty("position").GetInt64().ToString(System.Globalization.CultureInfo.InvariantCulture), "--count", "2", "--timeout", "60");
        var kenyaHistory = await RunJsonAsync(kenyan, "history", channel);
        var brazilHistory = await _cli.RunAsync("--profile", brazilian, "history", channel);
        var receipts = await RunJsonAsync(kenyan, "receipts", channel, kenyaMessage);

        // Brazil is removed; Kenya writes again; Brazil can no longer read.
        var removed = await RunJsonAsync(kenyan, "channel", "remove", channel, "--authority", network.Brazil);
        await RunJsonAsync(kenyan, "send", channel, "After Brazil left.");
        var brazilAfterRemoval = await _cli.RunAsync("--profile", brazilian, "history", channel);
        var brazilChannels = await RunJsonAsync(brazilian, "channel", "list");
        var kenyaShow = await RunJsonAsync(kenyan, "channel", "show", channel);

        // Brazil is invited again: the message sent in its absence stays unreadable to Ana (its key was never sealed to her device).
        await RunJsonAsync(kenyan, "channel", "invite", channel, "--authority", network.Brazil);
        var brazilAfterReturn = (await RunJsonAsync(brazilian, "history", channel)).EnumerateArray().ToList();

        Assert.Equal(1, create.GetProperty("currentEpoch").GetInt64());
        Assert.Equal("Case 114 – procurement fraud", create.GetProperty("title").GetString());
        Assert.Equal(2, invited.GetProperty("currentEpoch").GetInt64());
        var notYet = Assert.Single(brazilBeforeShare.EnumerateArray());
        Assert.False(notYet.GetProperty("readable").GetBoolean());
        Assert.Contains("share-history", notYet.GetProperty("reason").GetString(), StringComparison.Ordinal);
        // The inviting client re-sealed the title under the new epoch: the newcomer reads it at once.
        Assert.Equal("Case 114 – procurement fraud", titleOnJoining.GetProperty("title").GetString());
        Assert.Equal([1L], shared.GetProperty("epochs").EnumerateArray().Select(e => e.GetInt64()));
        Assert.Equal("H2", fromBrazil.GetProperty("handlingCode").GetString());

        Assert.True(watched.ExitCode == 0, watched.Error);
        var watchedMessages = Lines(watched.Output).Where(l => l.TryGetProperty("messageId", out _)).ToList();
        Assert.Equal(2, watchedMessages.Count);
        Assert.Equal("Payments to the shell company went through São Paulo.", watchedMessages[0].GetProperty("text").GetString());
        Assert.Equal(network.Kenya, watchedMessages[0].GetProperty("senderAuthorityId").GetString());

        var newestFirst = kenyaHistory.EnumerateArray().ToList();
        Assert.Equal(3, newestFirst.Count);
        Assert.All(newestFirst, m => Assert.True(m.GetProperty("readable").GetBoolean()));
        Assert.Equal("We hold the account records.\nRequest them formally for court.", newestFirst[0].GetProperty("text").GetString());
        Assert.Equal(network.Brazil, newestFirst[0].GetProperty("senderAuthorityId").GetString());
        Assert.Equal("H2", newestFirst[0].GetProperty("handlingCode").GetString());
        Assert.True(newestFirst[0].GetProperty("spontaneous").GetBoolean());
        Assert.Equal(kenyaMessage, newestFirst[0].GetProperty("replyTo").GetString());
        Assert.Equal("4x4:B2", newestFirst[1].GetProperty("evaluationGrade").GetString());
        Assert.Equal("H1", newestFirst[1].GetProperty("handlingCode").GetString());

        Assert.True(brazilHistory.ExitCode == 0, brazilHistory.Error);
        Assert.Contains("Before Brazil joined", brazilHistory.Output, StringComparison.Ordinal);
        Assert.Contains("Ethics and Anti-Corruption Commission (KE)", brazilHistory.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("not readable", brazilHistory.Output, StringComparison.Ordinal);

        var kinds = receipts.EnumerateArray().Select(r => r.GetProperty("kind").GetString()).Order().ToList();
        Assert.Equal(["delivered", "read"], kinds);
        Assert.All(receipts.EnumerateArray(), r =>
        {
            Assert.Equal(network.BrazilInvestigator, r.GetProperty("recipientUserId").GetString());
            Assert.Equal(network.Brazil, r.GetProperty("recipientAuthorityId").GetString());
        });

        Assert.Equal(3, removed.GetProperty("currentEpoch").GetInt64());
        Assert.Equal(1, brazilAfterRemoval.ExitCode);
        Assert.Contains("not a member", brazilAfterRemoval.ErrorLine, StringComparison.Ordinal);
        Assert.DoesNotContain("After Brazil left", brazilAfterRemoval.Output + brazilAfterRemoval.Error, StringComparison.Ordinal);
        Assert.DoesNotContain(channel, brazilChannels.EnumerateArray().Select(c => c.GetProperty("channelId").GetString()));
        Assert.Equal([network.Kenya], kenyaShow.GetProperty("authorityIds").EnumerateArray().Select(a => a.GetString()));
        Assert.Equal("Joint case", kenyaShow.GetProperty("description").GetString());
        Assert.Equal(4, brazilAfterReturn.Count);
        Assert.False(brazilAfterReturn[0].GetProperty("readable").GetBoolean());
        Assert.Equal(3, brazilAfterReturn[0].GetProperty("epoch").GetInt64());
        Assert.Contains("while you were not a member", brazilAfterReturn[0].GetProperty("reason").GetString(), StringComparison.Ordinal);
        Assert.All(brazilAfterReturn.Skip(1), m => Assert.True(m.GetProperty("readable").GetBoolean()));
    }

    [Fact]
    public async Task Consent_RequestedByAnotherAuthority_ShowsInWatchAndIsDecidedOnce()
    {
        var network = await SetUpAsync();
        var kenyan = "kenya-investigator";
        var brazilian = "brazil-investigator";
        var shared = (await RunJsonAsync(kenyan, "channel", "create", "--title", "Shared case")).GetProperty("channelId").GetString()!;
        await RunJsonAsync(kenyan, "channel", "invite", shared, "--user", network.BrazilInvestigator);
        var lead = await RunJsonAsync(kenyan, "send", shared, "A lead, not for court without our permission.");
        var leadId = lead.GetProperty("messageId").GetString()!;
        var open = await RunJsonAsync(kenyan, "send", shared, "Public registry extract.", "--handling", "H0");
        var brazilOnly = (await RunJsonAsync(brazilian, "channel", "create", "--title", "Brazilian file")).GetProperty("channelId").GetString()!;

        var request = await RunJsonAsync(brazilian, "consent", "request", leadId, "--channel", shared, "--to", brazilOnly,
            "--reason", "The prosecutor needs it for the indictment");
        var consentId = request.GetProperty("consentId").GetString()!;
        var watched = await _cli.RunAsync("--profile", kenyan, "watch", "--channel", shared,
            "--after", lead.GetProperty("position").GetInt64().ToString(System.Globalization.CultureInfo.InvariantCulture), "--timeout", "3");
        var granted = await RunJsonAsync(kenyan, "consent", "grant", consentId, "--note", "For the indictment only");
        var deniedAfterwards = await _cli.RunAsync("--profile", kenyan, "consent", "deny", consentId, "--reason", "Changed our mind");
        var needsNone = await _cli.RunAsync("--profile", brazilian, "consent", "request", open.GetProperty("messageId").GetString()!,
            "--channel", shared, "--to", brazilOnly, "--reason", "Not needed");

        Assert.Equal("pending", request.GetProperty("status").GetString());
        Assert.Equal(network.Kenya, request.GetProperty("originatorAuthorityId").GetString());
        Assert.True(watched.ExitCode == 0, watched.Error);
        Assert.Contains($"consent {consentId} requested by user {network.BrazilInvestigator}", watched.Output, StringComparison.Ordinal);
        Assert.Contains("The prosecutor needs it for the indictment", watched.Output, StringComparison.Ordinal);
        Assert.Contains("│ Public registry extract.", watched.Output, StringComparison.Ordinal);
        Assert.Equal("granted", granted.GetProperty("status").GetString());
        Assert.Equal("For the indictment only", granted.GetProperty("decisionReason").GetString());
        Assert.Equal(1, deniedAfterwards.ExitCode);
        Assert.Equal(1, needsNone.ExitCode);
        Assert.Contains("only H1 and H2", needsNone.ErrorLine, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Watch_Timeout_EndsCleanlyButAMissedCountFails()
    {
        await SetUpAsync();
        var quiet = Guid.CreateVersion7().ToString();

        var timedOut = await _cli.RunAsync("--profile", "kenya-investigator", "watch", "--channel", quiet, "--timeout", "1");
        var missed = await _cli.RunAsync("--profile", "kenya-investigator", "watch", "--channel", quiet, "--count", "1", "--timeout", "1");

        Assert.True(timedOut.ExitCode == 0, timedOut.Error);
        Assert.Equal("", timedOut.Output);
        Assert.Equal(1, missed.ExitCode);
        Assert.Equal("error: Only 0 of 1 message arrived within 1 s.", missed.ErrorLine);
    }

    [Fact]
    public async Task Watch_WithoutChannel_ResumesAfterWhatTheLastWatchShowed()
    {
        await SetUpAsync();
        var channel = (await RunJsonAsync("kenya-investigator", "channel", "create", "--title", "Resume")).GetProperty("channelId").GetString()!;
        var first = (await RunJsonAsync("kenya-investigator", "send", channel, "Shown by the first watch.")).GetProperty("messageId").GetString();

        var firstWatch = await _cli.RunAsync("--profile", "kenya-investigator", "--json", "watch", "--timeout", "2");
        var second = (await RunJsonAsync("kenya-investigator", "send", channel, "Only for the second watch.")).GetProperty("messageId").GetString();
        var secondWatch = await _cli.RunAsync("--profile", "kenya-investigator", "--json", "watch", "--timeout", "2");
        var fromStart = await _cli.RunAsync("--profile", "kenya-investigator", "--json", "watch", "--after", "0", "--timeout", "2");

        static List<string?> Ids(CliResult result) =>
            [.. Lines(result.Output).Where(l => l.TryGetProperty("messageId", out _)).Select(l => l.GetProperty("messageId").GetString())];
        Assert.True(firstWatch.ExitCode == 0 && secondWatch.ExitCode == 0, firstWatch.Error + secondWatch.Error);
        Assert.Contains(first, Ids(firstWatch));
        Assert.Equal([second], Ids(secondWatch));
        Assert.Contains(first, Ids(fromStart));
        Assert.Contains(second, Ids(fromStart));
    }

    [Fact]
    public async Task Send_NotAMember_ExitsOneWithTheServersReason()
    {
        await SetUpAsync();
        var channel = (await RunJsonAsync("kenya-investigator", "channel", "create", "--title", "Kenya only")).GetProperty("channelId").GetString()!;

        var send = await _cli.RunAsync("--profile", "brazil-investigator", "send", channel, "let me in");
        var show = await _cli.RunAsync("--profile", "brazil-investigator", "channel", "show", channel);

        Assert.Equal(1, send.ExitCode);
        Assert.StartsWith("error: ", send.ErrorLine, StringComparison.Ordinal);
        Assert.Equal(1, show.ExitCode);
    }

    [Fact]
    public async Task Documents_SendAttachListAndDownload_OtherAuthorityGetsIdenticalVerifiedFiles()
    {
        var network = await SetUpAsync();
        var channel = (await RunJsonAsync("kenya-investigator", "channel", "create", "--title", "Case 115 – evidence")).GetProperty("channelId").GetString()!;
        await RunJsonAsync("kenya-investigator", "channel", "invite", channel, "--authority", network.Brazil);
        var ledger = Path.Combine(_cli.Home, "ledger.pdf");
        var bytes = new byte[200_000];
        new Random(115).NextBytes(bytes);
        await File.WriteAllBytesAsync(ledger, bytes, TestContext.Current.CancellationToken);
        var notes = _cli.WriteFile("notes.txt", "Seized on 3 March.");

        var send = await _cli.RunAsync("--profile", "kenya-investigator", "--json", "send", channel, "Evidence attached.", "--attach", ledger, "--attach", notes);
        var sent = JsonDocument.Parse(send.Output).RootElement;
        var messageId = sent.GetProperty("messageId").GetString()!;
        var listed = await RunJsonAsync("brazil-investigator", "doc", "list", "--channel", channel);
        var into = Path.Combine(_cli.Home, "received") + Path.DirectorySeparatorChar;
        var downloaded = await RunJsonAsync("brazil-investigator", "doc", "download", messageId, "--out", into);
        var again = await _cli.RunAsync("--profile", "brazil-investigator", "doc", "download", messageId, "--channel", channel, "--out", into);
        var history = await _cli.RunAsync("--profile", "brazil-investigator", "history", channel);
        var missing = await _cli.RunAsync("--profile", "kenya-investigator", "send", channel, "--attach", Path.Combine(_cli.Home, "nowhere.pdf"));

        Assert.True(send.ExitCode == 0, send.Error);
        Assert.Contains("upload ledger.pdf: 195.3 KiB of 195.3 KiB (100%)", send.Error, StringComparison.Ordinal);
        Assert.Equal(["ledger.pdf", "notes.txt"], sent.GetProperty("documents").EnumerateArray().Select(d => d.GetProperty("fileName").GetString()));
        Assert.Equal(["ledger.pdf", "notes.txt"], listed.EnumerateArray().Select(d => d.GetProperty("fileName").GetString()).Order());
        Assert.All(listed.EnumerateArray(), d => Assert.Equal("sealed", d.GetProperty("status").GetString()));
        Assert.Contains(listed.EnumerateArray(), d => d.GetProperty("plaintextLength").GetInt64() == 200_000);
        Assert.Equal(bytes, await File.ReadAllBytesAsync(Path.Combine(into, "ledger.pdf"), TestContext.Current.CancellationToken));
        Assert.Equal("Seized on 3 March.", await File.ReadAllTextAsync(Path.Combine(into, "notes.txt"), TestContext.Current.CancellationToken));
        Assert.Equal(channel, downloaded.GetProperty("channelId").GetString());
        Assert.Equal(sent.GetProperty("documents")[0].GetProperty("plaintextHash").GetString(),
            downloaded.GetProperty("documents").EnumerateArray().Single(d => d.GetProperty("fileName").GetString() == "ledger.pdf").GetProperty("plaintextHash").GetString());
        Assert.Equal(1, again.ExitCode);
        Assert.Contains("exists", again.ErrorLine, StringComparison.Ordinal);
        Assert.True(history.ExitCode == 0, history.Error);
        Assert.Contains("│ Evidence attached.", history.Output, StringComparison.Ordinal);
        Assert.Contains("+ ledger.pdf (195.3 KiB, application/pdf)", history.Output, StringComparison.Ordinal);
        Assert.Contains($"globe doc download {messageId} --channel {channel}", history.Output, StringComparison.Ordinal);
        Assert.Equal(2, missing.ExitCode);
        Assert.Contains("--attach: there is no file", missing.ErrorLine, StringComparison.Ordinal);
    }

    /// <summary>The membership story of ops/demo.sh, once per server: two authorities, each with an investigator.</summary>
    private Task<CliNetwork> SetUpAsync() => new CliNetworkDriver(server, _cli).SetUpAsync();

    private Task<JsonElement> RunJsonAsync(string? profile, params string[] args) => new CliNetworkDriver(server, _cli).RunJsonAsync(profile, args);

    private static List<JsonElement> Lines(string output) =>
        output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l =>
        {
            using var json = JsonDocument.Parse(l);
            return json.RootElement.Clone();
        }).ToList();
}

/// <summary>The server, and the network set up on it once through the CLI, its profiles shared by the tests of a class.</summary>
public sealed class CliNetworkFixture : GlobeServerFixture
{
    /// <summary>GLOBE_HOME of every participant's profile.</summary>
    public string Home { get; } = Directory.CreateTempSubdirectory("globe-cli-network-").FullName;

    internal SemaphoreSlim Gate { get; } = new(1, 1);

    internal CliNetwork? Network { get; set; }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        Gate.Dispose();
        Directory.Delete(Home, recursive: true);
    }
}

/// <summary>Ids of the two authorities and their investigators (profiles "kenya-investigator" and "brazil-investigator").</summary>
internal sealed record CliNetwork(string Kenya, string Brazil, string KenyaInvestigator, string BrazilInvestigator);
