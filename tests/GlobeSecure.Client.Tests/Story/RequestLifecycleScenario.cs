using GlobeSecure.Contracts.V1;
using GlobeSecure.EventStore;
using Microsoft.Extensions.DependencyInjection;

namespace GlobeSecure.Client.Tests.Story;

/// <summary>
/// The request story, played once per <see cref="RequestLifecycleFixture"/> through
/// <see cref="GlobeClient"/>, with the server's clock stopped at <see cref="Start"/> and moved by
/// whole hours, so that every time and duration the server records is known exactly. Every
/// explanation travels as an encrypted message in the request's thread, read by the other side.
/// What each side saw along the way is kept for the tests to check.
/// <list type="table">
/// <item><term>R1</term><description>Kenya → Brazil, normal, sent at +0 h: clarification asked +2 h and given +3 h, acknowledged +4 h, work started +5 h,
/// partly answered +25 h, fully answered with a document +49 h, closed +50 h.</description></item>
/// <item><term>R2</term><description>Kenya → Brazil, urgent, sent +50 h: acknowledged +56 h, declined (information not held) +58 h.</description></item>
/// <item><term>R3</term><description>Kenya → Brazil, normal, sent +58 h: withdrawn (obtained elsewhere) +58.5 h.</description></item>
/// <item><term>R4</term><description>Brazil → Kenya, emergency, sent +60 h (acknowledge by +68 h, answer by +84 h): marked acknowledge-overdue
/// by the pass at +69 h, acknowledged late +70 h, answered +72 h.</description></item>
/// <item><term>R5</term><description>Kenya → Brazil, urgent, sent +72 h: acknowledged +73 h, answered +75 h.</description></item>
/// <item><term>R6</term><description>Brazil → Kenya, normal with an earlier answer deadline set by Brazil (+123 h instead of the week), sent
/// +75 h: acknowledged +76 h, never answered; marked answer-overdue by the pass at +124 h.</description></item>
/// </list>
/// </summary>
internal sealed class RequestLifecycleScenario
{
    public const string Rfi = "request-for-information";
    public const string Question = "Which of the two accounts at Example Bank is meant: the one in the company's name or the director's?";
    public const string Clarification = "The company's account, 0123456789; the director's is covered by a separate request.";
    public const string PartialAnswer = "Register extract attached to follow; the bank statements need a court order, expected within the month.";
    public const string FullAnswer = "Statements for 2023-2025 attached; beneficial owner confirmed as J. K. Mwangi.";
    public const string DeclineExplanation = "The company was struck off in 2019; the register holds no records after that date.";
    public const string WithdrawExplanation = "Obtained through the FIU channel; no longer needed.";
    public const string EmergencyAnswer = "The suspect boarded KQ 414 to Nairobi at 21:40; arrival 06:05.";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private RequestLifecycleScenario(CaseCast cast, Participant tendo, DateTimeOffset start)
    {
        Cast = cast;
        Tendo = tendo;
        Start = start;
    }

    public CaseCast Cast { get; }

    /// <summary>An investigator of a third authority (Uganda), party to no request.</summary>
    public Participant Tendo { get; }

    /// <summary>The server time the clock stopped at; R1 is sent then.</summary>
    public DateTimeOffset Start { get; }

    /// <summary>What a side saw at a step, e.g. Seen["R1 clarification requested", Kenya].</summary>
    public Dictionary<(string Step, Guid Authority), InformationRequest> Seen { get; } = [];

    /// <summary>The messages each side opened, by what they are.</summary>
    public Dictionary<string, OpenedMessage> Read { get; } = [];

    public SubmittedRequest R1 { get; private set; } = null!;

    public SubmittedRequest R2 { get; private set; } = null!;

    public SubmittedRequest R3 { get; private set; } = null!;

    public SubmittedRequest R4 { get; private set; } = null!;

    public SubmittedRequest R5 { get; private set; } = null!;

    public SubmittedRequest R6 { get; private set; } = null!;

    /// <summary>The overdue pass at +124 h (R6's answer deadline passed an hour before).</summary>
    public int AnswerDeadlinePass { get; private set; }

    public Guid QuestionId { get; private set; }

    /// <summary>Refusals met on the way: Brazil answering R1 while it is SENT, Kenya acknowledging it.</summary>
    public GlobeClientException AnswerWhileSent { get; private set; } = null!;

    public GlobeClientException AcknowledgeByRequester { get; private set; } = null!;

    /// <summary>The document Brazil attached to R1's answer, and what Kenya downloaded from it.</summary>
    public byte[] AttachedBytes { get; private set; } = [];

    public byte[] DownloadedBytes { get; private set; } = [];

    public DocumentAttachment Attachment { get; private set; } = null!;

    /// <summary>The overdue passes' marks: at R4's sending, at its acknowledge deadline, an hour after it, again at once, after the late answer.</summary>
    public IReadOnlyList<int> Passes => _passes;

    private readonly List<int> _passes = [];

    /// <summary>R4's stream version before and after the repeated pass.</summary>
    public (long Before, long After) R4VersionAroundRepeat { get; private set; }

    /// <summary>The overdue-only lists just after the mark: Kenya's incoming, Brazil's outgoing.</summary>
    public IReadOnlyList<InformationRequest> KenyaOverdueIncoming { get; private set; } = [];

    public IReadOnlyList<InformationRequest> BrazilOverdueOutgoing { get; private set; } = [];

    public Guid Kenya => Cast.Kenya;

    public Guid Brazil => Cast.Brazil;

    public InformationRequest this[string step, Guid authority] => Seen[(step, authority)];

    public static async Task<RequestLifecycleScenario> PlayAsync(RequestLifecycleFixture server)
    {
        var cast = await CaseCast.CreateAsync(server);
        var (ugandaId, ugandaCode) = await cast.Network.ApproveAuthorityAsync(cast.SecondAdministrator, $"Inspectorate of Government {Guid.NewGuid().ToString("N")[..6]}", "UG");
        var ugandaAdmin = await cast.Network.AuthorityAdministratorAsync(ugandaId, ugandaCode);
        var tendo = await cast.Network.UserAsync(ugandaAdmin, "Tendo Okello");

        var scenario = new RequestLifecycleScenario(cast, tendo, server.Clock.Stop());
        await scenario.LifecycleAsync(server);
        await scenario.DeclineAndWithdrawAsync(server);
        await scenario.OverdueEmergencyAsync(server);
        await scenario.QuickAnswerAsync(server);
        await scenario.EarlierDeadlineMissedAsync(server);
        return scenario;
    }

    /// <summary>The example draft with its urgency field set to <paramref name="urgency"/> (the client refuses a draft that says otherwise).</summary>
    private static async Task<string> DraftAsync(Urgency urgency)
    {
        var draft = System.Text.Json.Nodes.JsonNode.Parse(
            await File.ReadAllTextAsync(Path.Combine(AppContext.BaseDirectory, "Templates", "request-for-information.draft.json"), Ct))!;
        draft["request"]!["urgency"] = urgency.ToString().ToLowerInvariant();
        return draft.ToJsonString();
    }

    private static async Task<SubmittedRequest> SubmitAsync(Participant by, Guid to, Urgency urgency, DateTimeOffset? answerBy = null) =>
        await by.Client.SubmitRequestAsync(new RequestSubmission(Rfi, 0, to, await DraftAsync(urgency), urgency, answerBy), Ct);

    private static Guid IdOf(SubmittedRequest r) => Guid.Parse(r.Request.RequestId);

    private static Guid IdOf(StoredMessage m) => Guid.Parse(m.Envelope.Header.MessageId);

    private async Task SeeAsync(string step, Participant who) =>
        Seen[(step, who.AuthorityId)] = await who.Client.GetRequestAsync(Guid.Parse(Seen.First(s => s.Key.Step == step).Value.RequestId), Ct);

    private void Saw(string step, Participant who, InformationRequest request) => Seen[(step, who.AuthorityId)] = request;

    private async Task ReadAsync(string what, Participant reader, Guid channelId, Guid messageId) =>
        Read[what] = await reader.Client.OpenAsync(await reader.Client.GetMessageAsync(channelId, messageId, Ct), Ct);

    private static async Task<GlobeClientException> RefusedAsync(Func<Task> call) => await Assert.ThrowsAsync<GlobeClientException>(call);

    private async Task LifecycleAsync(RequestLifecycleFixture server)
    {
        var (otieno, ana, clock) = (Cast.Otieno, Cast.Ana, server.Clock);
        R1 = await SubmitAsync(otieno, Brazil, Urgency.Normal);
        var id = IdOf(R1);
        Saw("R1 sent", otieno, R1.Request);
        await SeeAsync("R1 sent", ana);
        AnswerWhileSent = await RefusedAsync(() => ana.Client.AnswerRequestAsync(id, Ct));
        AcknowledgeByRequester = await RefusedAsync(() => otieno.Client.AcknowledgeRequestAsync(id, Ct));

        clock.Advance(TimeSpan.FromHours(2));
        // The question's id is the id of the message that asks it, so the requester finds it without scanning the thread.
        QuestionId = Guid.CreateVersion7();
        await ana.Client.SendTextAsync(R1.ChannelId, Question, new SendOptions(ReplyTo: R1.FormMessageId, MessageId: QuestionId), Ct);
        Saw("R1 clarification requested", ana, await ana.Client.RequestClarificationAsync(id, QuestionId, Ct));
        await SeeAsync("R1 clarification requested", otieno);
        await ReadAsync("question", otieno, R1.ChannelId, Guid.Parse(this["R1 clarification requested", Kenya].OpenQuestionId));

        clock.Advance(TimeSpan.FromHours(1));
        var clarification = await otieno.Client.SendTextAsync(R1.ChannelId, Clarification, new SendOptions(ReplyTo: QuestionId), Ct);
        Saw("R1 clarified", otieno, await otieno.Client.ProvideClarificationAsync(id, QuestionId, Ct));
        await SeeAsync("R1 clarified", ana);
        await ReadAsync("clarification", ana, R1.ChannelId, IdOf(clarification));

        clock.Advance(TimeSpan.FromHours(1));
        Saw("R1 acknowledged", ana, await ana.Client.AcknowledgeRequestAsync(id, Ct));
        await SeeAsync("R1 acknowledged", otieno);

        clock.Advance(TimeSpan.FromHours(1));
        Saw("R1 in progress", ana, await ana.Client.StartWorkOnRequestAsync(id, Ct));
        await SeeAsync("R1 in progress", otieno);

        clock.Advance(TimeSpan.FromHours(20));
        var partial = await ana.Client.SendTextAsync(R1.ChannelId, PartialAnswer, new SendOptions(ReplyTo: R1.FormMessageId), Ct);
        Saw("R1 partially answered", ana, await ana.Client.PartiallyAnswerRequestAsync(id, Ct));
        await SeeAsync("R1 partially answered", otieno);
        await ReadAsync("partial answer", otieno, R1.ChannelId, IdOf(partial));

        clock.Advance(TimeSpan.FromHours(24));
        AttachedBytes = new byte[150_000];
        new Random(413).NextBytes(AttachedBytes);
        using (var content = new MemoryStream(AttachedBytes))
        {
            Attachment = await ana.Client.UploadDocumentAsync(R1.ChannelId, content, "statements-2023-2025.pdf", "application/pdf", cancellationToken: Ct);
        }

        var answer = await ana.Client.SendTextAsync(R1.ChannelId, FullAnswer, new SendOptions(ReplyTo: R1.FormMessageId, Attachments: [Attachment]), Ct);
        Saw("R1 answered", ana, await ana.Client.AnswerRequestAsync(id, Ct));
        await SeeAsync("R1 answered", otieno);
        await ReadAsync("full answer", otieno, R1.ChannelId, IdOf(answer));
        var target = Path.Combine(Directory.CreateTempSubdirectory("globe-request-").FullName, "statements.pdf");
        try
        {
            await otieno.Client.DownloadDocumentAsync(Read["full answer"].Attachments.Single(), target, cancellationToken: Ct);
            DownloadedBytes = await File.ReadAllBytesAsync(target, Ct);
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(target)!, recursive: true);
        }

        clock.Advance(TimeSpan.FromHours(1));
        Saw("R1 closed", otieno, await otieno.Client.CloseRequestAsync(id, Ct));
        await SeeAsync("R1 closed", ana);
    }

    private async Task DeclineAndWithdrawAsync(RequestLifecycleFixture server)
    {
        var (otieno, ana, clock) = (Cast.Otieno, Cast.Ana, server.Clock);
        R2 = await SubmitAsync(otieno, Brazil, Urgency.Urgent);
        clock.Advance(TimeSpan.FromHours(6));
        Saw("R2 acknowledged", ana, await ana.Client.AcknowledgeRequestAsync(IdOf(R2), Ct));
        clock.Advance(TimeSpan.FromHours(2));
        var why = await ana.Client.SendTextAsync(R2.ChannelId, DeclineExplanation, new SendOptions(ReplyTo: R2.FormMessageId), Ct);
        Saw("R2 declined", ana, await ana.Client.DeclineRequestAsync(IdOf(R2), DeclineReasonCategory.InformationNotHeld, Ct));
        await SeeAsync("R2 declined", otieno);
        await ReadAsync("decline explanation", otieno, R2.ChannelId, IdOf(why));

        R3 = await SubmitAsync(otieno, Brazil, Urgency.Normal);
        clock.Advance(TimeSpan.FromMinutes(30));
        var reason = await otieno.Client.SendTextAsync(R3.ChannelId, WithdrawExplanation, new SendOptions(ReplyTo: R3.FormMessageId), Ct);
        Saw("R3 withdrawn", otieno, await otieno.Client.WithdrawRequestAsync(IdOf(R3), WithdrawReasonCategory.ObtainedElsewhere, Ct));
        await SeeAsync("R3 withdrawn", ana);
        await ReadAsync("withdraw explanation", ana, R3.ChannelId, IdOf(reason));
    }

    private async Task OverdueEmergencyAsync(RequestLifecycleFixture server)
    {
        var (otieno, ana, clock) = (Cast.Otieno, Cast.Ana, server.Clock);
        clock.Advance(TimeSpan.FromMinutes(90));
        R4 = await SubmitAsync(ana, Kenya, Urgency.Emergency);
        var id = IdOf(R4);
        Saw("R4 sent", ana, R4.Request);
        _passes.Add(await server.RunRequestOverduePassAsync(Ct));

        // At the deadline itself the request is not yet late: overdue is strictly after it.
        clock.Advance(TimeSpan.FromHours(8));
        _passes.Add(await server.RunRequestOverduePassAsync(Ct));

        clock.Advance(TimeSpan.FromHours(1));
        _passes.Add(await server.RunRequestOverduePassAsync(Ct));
        var store = server.Services.GetRequiredService<PostgresEventStore>();
        var before = await store.StreamVersionAsync($"request-{id}", Ct);
        _passes.Add(await server.RunRequestOverduePassAsync(Ct));
        R4VersionAroundRepeat = (before, await store.StreamVersionAsync($"request-{id}", Ct));
        Saw("R4 overdue", ana, await ana.Client.GetRequestAsync(id, Ct));
        await SeeAsync("R4 overdue", otieno);
        KenyaOverdueIncoming = await otieno.Client.ListRequestsAsync(RequestDirection.Incoming, overdueOnly: true, cancellationToken: Ct);
        BrazilOverdueOutgoing = await ana.Client.ListRequestsAsync(RequestDirection.Outgoing, overdueOnly: true, cancellationToken: Ct);

        clock.Advance(TimeSpan.FromHours(1));
        Saw("R4 acknowledged late", otieno, await otieno.Client.AcknowledgeRequestAsync(id, Ct));
        clock.Advance(TimeSpan.FromHours(2));
        var answer = await otieno.Client.SendTextAsync(R4.ChannelId, EmergencyAnswer, new SendOptions(ReplyTo: R4.FormMessageId), Ct);
        Saw("R4 answered", otieno, await otieno.Client.AnswerRequestAsync(id, Ct));
        await SeeAsync("R4 answered", ana);
        await ReadAsync("emergency answer", ana, R4.ChannelId, IdOf(answer));
        _passes.Add(await server.RunRequestOverduePassAsync(Ct));
    }

    private async Task QuickAnswerAsync(RequestLifecycleFixture server)
    {
        var (ana, clock) = (Cast.Ana, server.Clock);
        R5 = await SubmitAsync(Cast.Otieno, Brazil, Urgency.Urgent);
        clock.Advance(TimeSpan.FromHours(1));
        Saw("R5 acknowledged", ana, await ana.Client.AcknowledgeRequestAsync(IdOf(R5), Ct));
        clock.Advance(TimeSpan.FromHours(2));
        await ana.Client.SendTextAsync(R5.ChannelId, "Nothing further on file beyond the register extract sent for R1.", new SendOptions(ReplyTo: R5.FormMessageId), Ct);
        Saw("R5 answered", ana, await ana.Client.AnswerRequestAsync(IdOf(R5), Ct));
    }

    private async Task EarlierDeadlineMissedAsync(RequestLifecycleFixture server)
    {
        var (otieno, ana, clock) = (Cast.Otieno, Cast.Ana, server.Clock);
        R6 = await SubmitAsync(ana, Kenya, Urgency.Normal, answerBy: clock.GetUtcNow() + TimeSpan.FromHours(48));
        Saw("R6 sent", ana, R6.Request);
        clock.Advance(TimeSpan.FromHours(1));
        Saw("R6 acknowledged", otieno, await otieno.Client.AcknowledgeRequestAsync(IdOf(R6), Ct));
        clock.Advance(TimeSpan.FromHours(48));
        AnswerDeadlinePass = await server.RunRequestOverduePassAsync(Ct);
        Saw("R6 answer overdue", ana, await ana.Client.GetRequestAsync(IdOf(R6), Ct));
        await SeeAsync("R6 answer overdue", otieno);
    }
}
