using System.Diagnostics;
using System.Globalization;
using CsCheck;
using GlobeSecure.Contracts.V1;
using Grpc.Core;

namespace GlobeSecure.Client.Tests.Model;

/// <summary>
/// Issue 9, the stateful model-based test: random sequences of send, receive, drop, reconnect,
/// broken connections, retries (also of a send whose answer was lost), membership changes and
/// reads by non-members, across three authorities with two devices each, through the real client
/// library, server and PostgreSQL, checked step by step against <see cref="ChannelModel"/>: every
/// accepted message reaches every device of its epoch's members exactly once, in order, with its
/// plaintext; nobody else gets it or can open it. A failure names the seed and the shortest failing
/// sequence CsCheck found.
/// GLOBE_MODEL_SEQUENCES (default 30) and GLOBE_FUZZ_SEED (default fixed) run more or other sequences;
/// GLOBE_MODEL_REPLAY=&lt;CsCheck seed&gt; replays (and shrinks) the one sequence a failure printed.
/// </summary>
public sealed class ChannelModelTests(ChannelModelFixture server) : IClassFixture<ChannelModelFixture>
{
    private static int Sequences =>
        int.TryParse(Environment.GetEnvironmentVariable("GLOBE_MODEL_SEQUENCES"), out var n) && n > 0 ? n : 30;

    /// <summary>How long CsCheck looks for a shorter failing sequence once one failed (it re-runs candidates against the server).</summary>
    private const int ShrinkSeconds = 60;

    private static ulong Seed => ulong.TryParse(Environment.GetEnvironmentVariable("GLOBE_FUZZ_SEED"), out var seed) ? seed : 20_261_124UL;

    /// <summary>The CsCheck seed of sequence <paramref name="index"/>: each sequence replays alone from it.</summary>
    private static string SeedOf(int index) => new PCG(0x6d6f64u, Seed * 1_000_003UL + (ulong)index).ToString();

    [Fact]
    public async Task RandomSequences_AgainstTheModel_EveryAcceptedMessageExactlyOnceToItsEpochsMembersInOrderAndToNobodyElse()
    {
        var cast = await server.CastAsync();
        var clock = Stopwatch.StartNew();
        var tally = new ModelTally();
        if (Environment.GetEnvironmentVariable("GLOBE_MODEL_REPLAY") is { Length: > 0 } replay)
        {
            // One sequence from the CsCheck seed a failure printed, shrunk again if it fails.
            await ChannelSequences.SampleAsync(s => new SequenceRun(cast, s, tally).RunAsync(), seed: replay, iter: 300, time: ShrinkSeconds, threads: 1,
                print: s => s.ToString());
            return;
        }

        for (var i = 0; i < Sequences; i++)
        {
            CsCheckException? failed = null;
            try
            {
                await ChannelSequences.SampleAsync(s => new SequenceRun(cast, s, tally).RunAsync(), seed: SeedOf(i), iter: 1, threads: 1,
                    print: s => s.ToString());
            }
            catch (CsCheckException e)
            {
                failed = e;
            }

            if (failed is not null)
            {
                // Shrink: CsCheck starts from the failing seed and keeps the simplest sequence that still fails.
                await ChannelSequences.SampleAsync(s => new SequenceRun(cast, s, new ModelTally()).RunAsync(), seed: SeedOf(i), iter: 300, time: ShrinkSeconds, threads: 1,
                    print: s => s.ToString());
                Assert.Fail($"Sequence {i} (seed {Seed}) failed once but not again when shrinking:\n{failed.Message}");
            }
        }

        TestContext.Current.TestOutputHelper?.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{Sequences} sequences in {clock.Elapsed.TotalSeconds:F1} s (seed {Seed}): {tally}"));

        // The sequences reached what the model is about (else a passing run would prove little).
        Assert.True(tally.Delivered > 0 && tally.Refused.Count >= 3 && tally.RetriesAnswered > 0 && tally.LostAnswers > 0 && tally.Removals > 0 &&
                    tally.Readditions > 0 && tally.Reconnects > 0 && tally.Breaks > 0,
            $"The generated sequences missed part of the model: {tally}");
    }

    private static readonly Gen<int> Device = Gen.Int[0, Cast.Devices.Length - 1];

    // Mostly a current member acts (so the channel gets somewhere), sometimes any device (so refusals are tested).
    private static readonly Gen<Who> Actor = Gen.Frequency((3, Gen.Int[0, 11].Select(n => new Who(true, n))), (1, Device.Select(n => new Who(false, n))));

    private static readonly Gen<ModelOp> Op = Gen.Frequency(
        (30, Gen.Select(Actor, Gen.Int[0, 5], Gen.Int[0, 9], (by, slot, twist) =>
            (ModelOp)new Send(by, slot, twist switch { 0 => Twist.OtherText, 1 => Twist.AnswerLost, _ => Twist.None }))),
        (12, Device.Select(d => (ModelOp)new Poll(d))),
        (5, Device.Select(d => (ModelOp)new Drop(d))),
        (5, Device.Select(n => (ModelOp)new Reconnect(n))),
        (4, Device.Select(d => (ModelOp)new BreakConnection(d))),
        (8, Gen.Select(Actor, Gen.Int[0, Cast.Authorities.Length - 1], (by, a) => (ModelOp)new AddAuthority(by, a))),
        (6, Gen.Select(Actor, Gen.Int[0, Cast.Users.Length - 1], (by, u) => (ModelOp)new AddUser(by, u))),
        (6, Gen.Select(Actor, Gen.Int[0, Cast.Users.Length - 1], (by, u) => (ModelOp)new RemoveUser(by, u))),
        (3, Gen.Select(Actor, Gen.Int[0, Cast.Authorities.Length - 1], (by, a) => (ModelOp)new RemoveAuthority(by, a))),
        (3, Actor.Select(by => (ModelOp)new Rotate(by))),
        (5, Device.Select(d => (ModelOp)new Peek(d))));

    private static readonly Gen<ChannelSequence> ChannelSequences =
        Gen.Select(Gen.Int[0, Cast.Authorities.Length - 1], Op.Array[5, 25], (creator, ops) => new ChannelSequence(creator, ops));
}

/// <summary>What a run exercised, for its report and to check that the sequences reach the interesting cases.</summary>
internal sealed class ModelTally
{
    public int Sequences { get; set; }

    public int Steps { get; set; }

    public int Accepted { get; set; }

    public int Delivered { get; set; }

    public int RetriesAnswered { get; set; }

    public int LostAnswers { get; set; }

    public int Removals { get; set; }

    public int Readditions { get; set; }

    public int Reconnects { get; set; }

    public int Breaks { get; set; }

    public Dictionary<StatusCode, int> Refused { get; } = [];

    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture,
            $"{Sequences} run, {Steps} steps; {Accepted} messages accepted, {Delivered} deliveries checked; {RetriesAnswered} retries answered with the stored message, {LostAnswers} lost answers; {Removals} removals, {Readditions} re-additions; {Reconnects} reconnects, {Breaks} broken connections; refusals: ")
        + string.Join(", ", Refused.OrderBy(r => r.Key).Select(r => string.Create(CultureInfo.InvariantCulture, $"{r.Key} {r.Value}")));
}

/// <summary>Thrown when the system and the model disagree: says at which step and how.</summary>
internal sealed class ModelDivergenceException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>One sequence against a fresh channel: each step on the real clients and on the model, compared as it goes.</summary>
internal sealed class SequenceRun(ModelCast cast, ChannelSequence sequence, ModelTally tally)
{
    private readonly Guid[] _slotIds = [.. Enumerable.Range(0, 6).Select(_ => Guid.CreateVersion7())];
    private readonly Dictionary<int, StoredMessage> _sent = [];
    private readonly List<string>[] _received = [.. cast.Devices.Select(_ => new List<string>())];
    private ChannelModel _model = null!;
    private Guid _channelId;
    private string _step = "setup";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async Task RunAsync()
    {
        // A fresh channel; every device subscribed and caught up (a failed run may have left them otherwise).
        if (!cast.Settled)
        {
            await cast.SettleAsync(_ => { });
        }

        cast.Settled = false;
        tally.Sequences++;
        tally.Steps += sequence.Ops.Count;
        var creator = cast.Devices[Cast.FirstDeviceOf(sequence.Creator)];
        _channelId = Guid.Parse((await creator.Client.CreateChannelAsync("Model case", cancellationToken: Ct)).ChannelId);
        _model = new ChannelModel(sequence.Creator);
        for (var i = 0; i < sequence.Ops.Count; i++)
        {
            _step = $"step {i + 1}, {sequence.Ops[i]}";
            await StepAsync(sequence.Ops[i]);
        }

        _step = "the end: every device subscribed again and caught up";
        var seen = new List<(ModelDevice Device, ChannelEvent Event)>();
        await cast.SettleAsync(seen.Add);
        foreach (var e in seen)
        {
            Seen(e);
        }

        foreach (var device in cast.Devices)
        {
            CheckReceived(device);
        }

        foreach (var (device, e) in seen.Where(s => s.Event.ChannelId == _channelId.ToString() && s.Event.EventCase == ChannelEvent.EventOneofCase.Message))
        {
            await CheckOpensAsync(device, e.Message);
            tally.Delivered++;
        }

        await CheckHistoryAsync(cast.Devices[_model.Resolve(new Who(true, 0))]);
        tally.Readditions += _model.Readditions;
        cast.Settled = true;
    }

    private Task StepAsync(ModelOp op) => op switch
    {
        Send s => SendAsync(s),
        Poll p => PollAsync(cast.Devices[p.Device]),
        Drop d => cast.Devices[d.Device].UnsubscribeAsync(),
        Reconnect r => Do(() => tally.Reconnects += Dropped() is { Count: > 0 } dropped && dropped[r.N % dropped.Count].Subscribe() ? 1 : 0),
        BreakConnection b => Do(() => tally.Breaks += cast.Devices[b.Device].BreakConnection() ? 1 : 0),
        AddAuthority a => MembershipAsync(a.By, m => m.AddUsers(Actor(a.By), [.. Cast.UsersOf(a.Authority)]),
            (c, ch) => c.AddMembersAsync(ch, authorityIds: [cast.AuthorityIds[a.Authority]], cancellationToken: Ct)),
        AddUser a => MembershipAsync(a.By, m => m.AddUsers(Actor(a.By), [a.User]),
            (c, ch) => c.AddMembersAsync(ch, userIds: [cast.UserId(a.User)], cancellationToken: Ct)),
        RemoveUser r => MembershipAsync(r.By, m => m.RemoveUsers(Actor(r.By), [r.User], wholeAuthority: false),
            (c, ch) => c.RemoveMembersAsync(ch, userIds: [cast.UserId(r.User)], cancellationToken: Ct)),
        RemoveAuthority r => MembershipAsync(r.By, m => m.RemoveUsers(Actor(r.By), [.. Cast.UsersOf(r.Authority)], wholeAuthority: true),
            (c, ch) => c.RemoveMembersAsync(ch, authorityIds: [cast.AuthorityIds[r.Authority]], cancellationToken: Ct)),
        Rotate r => MembershipAsync(r.By, m => m.Rotate(Actor(r.By)), (c, ch) => c.RotateEpochAsync(ch, Ct)),
        Peek p => PeekAsync(cast.Devices[p.Device]),
        _ => throw new InvalidOperationException($"Unknown step {op}."),
    };

    private int Actor(Who who) => _model.Resolve(who);

    private List<ModelDevice> Dropped() => [.. cast.Devices.Where(d => !d.Subscribed)];

    private static Task Do(Action action)
    {
        action();
        return Task.CompletedTask;
    }

    private static string TextOf(int slot, int device, Twist twist) =>
        $"Message {slot} from {Cast.Devices[device]}{(twist == Twist.OtherText ? ", other text" : "")}";

    private async Task SendAsync(Send send)
    {
        var device = cast.Devices[Actor(send.By)];
        var text = TextOf(send.Slot, device.Index, send.Twist);
        var stored = _model.Stored(send.Slot);
        var expected = _model.Send(device.Index, send.Slot, text);
        var loseAnswer = send.Twist == Twist.AnswerLost && expected is null;
        device.Network.LoseNextSendAnswer(loseAnswer);
        StoredMessage? result;
        try
        {
            result = await OutcomeAsync(expected, () => device.Client.SendTextAsync(_channelId, text, new SendOptions(MessageId: _slotIds[send.Slot]), Ct),
                loseAnswer ? [StatusCode.Unavailable, StatusCode.Internal] : []);
        }
        finally
        {
            device.Network.LoseNextSendAnswer(false);
        }

        tally.Accepted += expected is null && stored is null ? 1 : 0;
        // A lost answer: the library's retry sends the identical envelope and is answered with the
        // stored message (result), or gives up with UNAVAILABLE (null) when retries are off.
        tally.LostAnswers += loseAnswer ? 1 : 0;
        if (result is null)
        {
            return;
        }

        tally.RetriesAnswered += stored is not null ? 1 : 0;
        var message = _model.Stored(send.Slot)!;
        var header = result.Envelope.Header;
        if (header.MessageId != _slotIds[send.Slot].ToString() || header.SenderDeviceId != device.Participant.DeviceId.ToString() ||
            header.Epoch != message.Epoch)
        {
            throw Divergence($"the answer is message {header.MessageId} of device {header.SenderDeviceId} in epoch {header.Epoch}, " +
                             $"not the model's #{send.Slot} from {Cast.Devices[message.Device]} in epoch {message.Epoch}");
        }

        if (stored?.Position is { } position && result.Position != position)
        {
            throw Divergence($"a retry was answered with position {result.Position}; the message was stored at {position}");
        }

        message.Position ??= result.Position;
        _sent[send.Slot] = result;
    }

    private async Task MembershipAsync(Who by, Func<ChannelModel, StatusCode?> model, Func<GlobeClient, Guid, Task<Channel>> call)
    {
        var actor = cast.Devices[Actor(by)];
        var before = _model.Members.Count;
        var expected = model(_model);
        var channel = await OutcomeAsync(expected, () => call(actor.Client, _channelId));
        if (channel is null)
        {
            return;
        }

        tally.Removals += _model.Members.Count < before ? 1 : 0;

        var members = ChannelModel.Names(_model.Members);
        var actual = string.Join(",", channel.Members.Select(m => cast.UserName(Guid.Parse(m.UserId))).Order(StringComparer.Ordinal));
        if (channel.CurrentEpoch != _model.Epoch || actual != members)
        {
            throw Divergence($"the channel is at epoch {channel.CurrentEpoch} with {actual}; the model says epoch {_model.Epoch} with {members}");
        }
    }

    private async Task PollAsync(ModelDevice device)
    {
        if (!device.Subscribed)
        {
            return;
        }

        var beacon = await cast.BeaconAsync(device);
        var seen = new List<ChannelEvent>();
        await device.ReadUntilAsync(beacon, seen.Add);
        foreach (var e in seen)
        {
            Seen((device, e));
        }

        CheckReceived(device);
        foreach (var e in seen.Where(e => e.ChannelId == _channelId.ToString() && e.EventCase == ChannelEvent.EventOneofCase.Message))
        {
            await CheckOpensAsync(device, e.Message);
            tally.Delivered++;
        }
    }

    private void Seen((ModelDevice Device, ChannelEvent Event) seen)
    {
        var (device, e) = seen;
        if (e.ChannelId == _channelId.ToString())
        {
            _received[device.Index].Add(Describe(e));
        }
    }

    private string Describe(ChannelEvent e) => e.EventCase switch
    {
        ChannelEvent.EventOneofCase.Created => "created",
        ChannelEvent.EventOneofCase.EpochStarted => $"epoch {e.EpochStarted.Epoch}",
        ChannelEvent.EventOneofCase.MembersChanged when e.MembersChanged.Added.Count > 0 =>
            "added " + string.Join(",", e.MembersChanged.Added.Select(m => cast.UserName(Guid.Parse(m.UserId))).Order(StringComparer.Ordinal)),
        ChannelEvent.EventOneofCase.MembersChanged =>
            "removed " + string.Join(",", e.MembersChanged.RemovedUserIds.Select(u => cast.UserName(Guid.Parse(u))).Order(StringComparer.Ordinal)),
        ChannelEvent.EventOneofCase.Message => DescribeMessage(e.Message),
        _ => $"unexpected {e.EventCase}",
    };

    private string DescribeMessage(StoredMessage message)
    {
        var slot = Array.IndexOf(_slotIds, Guid.Parse(message.Envelope.Header.MessageId));
        var sender = cast.Devices.FirstOrDefault(d => d.Participant.DeviceId.ToString() == message.Envelope.Header.SenderDeviceId);
        return slot < 0 || sender is null ? $"message {message.Envelope.Header.MessageId} (unknown)" : ChannelModel.Describe(slot, sender.Index);
    }

    private void CheckReceived(ModelDevice device)
    {
        var expected = _model.ExpectedFor(device.Index);
        var actual = _received[device.Index];
        if (!expected.SequenceEqual(actual))
        {
            throw Divergence($"{device.Name}'s subscription gave\n    [{string.Join("; ", actual)}]\n  the model expects\n    [{string.Join("; ", expected)}]");
        }
    }

    /// <summary>
    /// A delivered message opens to its text for a current member. A removed one may still hold the
    /// key (opened before) or be refused it — never a wrong text, never a trust failure.
    /// </summary>
    private async Task CheckOpensAsync(ModelDevice device, StoredMessage message)
    {
        var slot = Array.IndexOf(_slotIds, Guid.Parse(message.Envelope.Header.MessageId));
        var model = _model.Stored(slot) ?? throw Divergence($"{device.Name} was given message {message.Envelope.Header.MessageId}, which the model never accepted");
        try
        {
            var opened = await device.Client.OpenAsync(message, Ct);
            if (opened.Text != model.Text)
            {
                throw Divergence($"{device.Name} opened #{slot} to other text than was sent");
            }
        }
        catch (GlobeClientException e) when (!_model.IsMember(device.Index) && e.Status == StatusCode.PermissionDenied)
        {
        }
        catch (GlobeClientException e)
        {
            throw Divergence($"{device.Name}, {(_model.IsMember(device.Index) ? "a member" : "removed")}, could not open #{slot}: {e.Status} ({e.Message})", e);
        }
    }

    /// <summary>A member reads the whole history; anyone else is refused. The latest message opens exactly for its epoch's members.</summary>
    private async Task PeekAsync(ModelDevice device)
    {
        if (_model.IsMember(device.Index))
        {
            await CheckHistoryAsync(device);
        }
        else
        {
            await OutcomeAsync(StatusCode.PermissionDenied, () => device.Client.HistoryAsync(_channelId, cancellationToken: Ct));
        }

        var latest = _model.Messages.LastOrDefault(m => _sent.ContainsKey(m.Slot));
        if (latest is null)
        {
            return;
        }

        var recipient = _model.EpochMembers(latest.Epoch).Contains(Cast.UserOfDevice[device.Index]);
        var member = _model.IsMember(device.Index);
        try
        {
            var opened = await device.Client.OpenAsync(_sent[latest.Slot], Ct);
            if (!recipient)
            {
                throw Divergence($"{device.Name} opened #{latest.Slot} of epoch {latest.Epoch}, whose key was never sealed to it");
            }

            if (opened.Text != latest.Text)
            {
                throw Divergence($"{device.Name} opened #{latest.Slot} to other text than was sent");
            }
        }
        catch (GlobeClientException e) when (!member && e.Status == StatusCode.PermissionDenied)
        {
            // Not a member now: refused every key (one it opened before may still be in its memory).
        }
        catch (GlobeClientException e) when (member && !recipient && e.Status == StatusCode.NotFound)
        {
            // A member now, but not when the epoch started: its key was never sealed to this device.
        }
        catch (GlobeClientException e)
        {
            throw Divergence($"{device.Name} opening #{latest.Slot} of epoch {latest.Epoch}: {e.Status} ({e.Message})", e);
        }
    }

    private async Task CheckHistoryAsync(ModelDevice device)
    {
        var history = await OutcomeAsync(null, () => device.Client.HistoryAsync(_channelId, pageSize: 500, cancellationToken: Ct));
        var actual = history!.Reverse().Select(DescribeMessage).ToList();
        var expected = _model.Messages.Select(m => ChannelModel.Describe(m.Slot, m.Device)).ToList();
        if (!expected.SequenceEqual(actual))
        {
            throw Divergence($"{device.Name}'s history is\n    [{string.Join("; ", actual)}]\n  the model expects\n    [{string.Join("; ", expected)}]");
        }
    }

    /// <summary>
    /// Runs a call whose outcome the model predicted: null for success, else the refusal's status.
    /// <paramref name="alsoAllowed"/> are statuses that stand for success too (a lost answer: the
    /// client library calls a transport failure Unavailable or Internal).
    /// </summary>
    private async Task<T?> OutcomeAsync<T>(StatusCode? expected, Func<Task<T>> call, StatusCode[]? alsoAllowed = null)
        where T : class
    {
        try
        {
            var result = await call();
            return expected is { } refusal ? throw Divergence($"expected {refusal}, the call succeeded") : result;
        }
        catch (GlobeClientException e) when (e.Status == expected || (expected is null && alsoAllowed?.Contains(e.Status) == true))
        {
            if (expected is { } refusal)
            {
                tally.Refused[refusal] = tally.Refused.GetValueOrDefault(refusal) + 1;
            }

            return null;
        }
        catch (GlobeClientException e)
        {
            throw Divergence($"expected {expected?.ToString() ?? "success"}, got {e.Status} ({e.Message})", e);
        }
    }

    private ModelDivergenceException Divergence(string what, Exception? inner = null) => new($"{_step}: {what}", inner);
}
