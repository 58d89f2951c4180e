using Grpc.Core;

namespace GlobeSecure.Client.Tests.Model;

/// <summary>
/// Who takes part: three authorities and six devices. Authority A has one investigator with two
/// devices (a1, a2); B and C have two investigators with one device each. Indices everywhere.
/// </summary>
internal static class Cast
{
    public static readonly string[] Devices = ["a1", "a2", "b1", "b2", "c1", "c2"];

    public static readonly int[] UserOfDevice = [0, 0, 1, 2, 3, 4];

    public static readonly string[] Users = ["A", "B1", "B2", "C1", "C2"];

    public static readonly int[] AuthorityOfUser = [0, 1, 1, 2, 2];

    public static readonly string[] Authorities = ["A", "B", "C"];

    public static int AuthorityOfDevice(int device) => AuthorityOfUser[UserOfDevice[device]];

    public static IEnumerable<int> UsersOf(int authority) => Enumerable.Range(0, Users.Length).Where(u => AuthorityOfUser[u] == authority);

    public static int FirstDeviceOf(int authority) => Enumerable.Range(0, Devices.Length).First(d => AuthorityOfDevice(d) == authority);
}

/// <summary>An acting device: one named directly (maybe not a member), or the n-th device of the channel's current members.</summary>
internal readonly record struct Who(bool Member, int N)
{
    public override string ToString() => Member ? $"member#{N}" : Cast.Devices[N % Cast.Devices.Length];
}

/// <summary>What a send does besides sending: nothing, the same id with other text, or the answer lost on the way back (the server stored it).</summary>
internal enum Twist
{
    None,
    OtherText,
    AnswerLost,
}

/// <summary>One step of a generated sequence. Steps are interpreted against the model's state, so any sequence is valid.</summary>
internal abstract record ModelOp;

/// <summary>A device sends the text of message slot <see cref="Slot"/> under the slot's message id (a second send of a slot is a retry).</summary>
internal sealed record Send(Who By, int Slot, Twist Twist) : ModelOp
{
    public override string ToString() => $"send({By}, #{Slot}{Twist switch { Twist.OtherText => ", other text", Twist.AnswerLost => ", answer lost", _ => "" }})";
}

/// <summary>Reads the device's open subscription up to now (a no-op when it is dropped).</summary>
internal sealed record Poll(int Device) : ModelOp
{
    public override string ToString() => $"poll({Cast.Devices[Device]})";
}

/// <summary>The application stops the device's subscription; its cursor stays.</summary>
internal sealed record Drop(int Device) : ModelOp
{
    public override string ToString() => $"drop({Cast.Devices[Device]})";
}

/// <summary>The application subscribes again from the device's last cursor: the <see cref="N"/>-th device whose subscription is dropped, if any.</summary>
internal sealed record Reconnect(int N) : ModelOp
{
    public override string ToString() => $"reconnect(dropped#{N})";
}

/// <summary>The connection under the device's subscription breaks; the client library resumes by itself.</summary>
internal sealed record BreakConnection(int Device) : ModelOp
{
    public override string ToString() => $"break({Cast.Devices[Device]})";
}

internal sealed record AddAuthority(Who By, int Authority) : ModelOp
{
    public override string ToString() => $"add-authority({By}, {Cast.Authorities[Authority]})";
}

internal sealed record AddUser(Who By, int User) : ModelOp
{
    public override string ToString() => $"add-user({By}, {Cast.Users[User]})";
}

internal sealed record RemoveUser(Who By, int User) : ModelOp
{
    public override string ToString() => $"remove-user({By}, {Cast.Users[User]})";
}

internal sealed record RemoveAuthority(Who By, int Authority) : ModelOp
{
    public override string ToString() => $"remove-authority({By}, {Cast.Authorities[Authority]})";
}

internal sealed record Rotate(Who By) : ModelOp
{
    public override string ToString() => $"rotate({By})";
}

/// <summary>The device reads the channel's history and opens its latest message: refused unless it may.</summary>
internal sealed record Peek(int Device) : ModelOp
{
    public override string ToString() => $"peek({Cast.Devices[Device]})";
}

/// <summary>A generated sequence: the authority whose investigator opens a fresh channel, then the steps.</summary>
internal sealed record ChannelSequence(int Creator, IReadOnlyList<ModelOp> Ops)
{
    public override string ToString() =>
        $"channel opened by {Cast.Devices[Cast.FirstDeviceOf(Creator)]} ({Ops.Count} steps):\n  " + string.Join("\n  ", Ops.Select((o, i) => $"{i + 1}. {o}"));
}

/// <summary>An event of the channel as a member's subscription should see it, and the users who may see it.</summary>
internal sealed record ModelEvent(string Description, IReadOnlySet<int> VisibleTo);

/// <summary>A message the channel accepted: who sent it, its text and epoch, and its position once known.</summary>
internal sealed record ModelMessage(int Slot, int Device, string Text, long Epoch)
{
    public long? Position { get; set; }
}

/// <summary>
/// The plain in-memory model of one channel (docs/channels.md, ADR 0005): members are users; every
/// membership change and rotation starts the next epoch; a send is accepted from a current member
/// only, idempotent by message id (the same device and text: the stored message; anything else:
/// ALREADY_EXISTS); a subscription shows a user the channel's events while they are a member — a
/// removal is the last one they see, and a re-added member sees events again from their addition.
/// Each method says what the server must answer (null: success) and changes the model only on success.
/// </summary>
internal sealed class ChannelModel
{
    private readonly HashSet<int> _members;
    private readonly List<ModelEvent> _events = [];
    private readonly Dictionary<long, IReadOnlySet<int>> _epochMembers = [];
    private readonly Dictionary<int, ModelMessage> _bySlot = [];
    private readonly List<ModelMessage> _messages = [];
    private readonly HashSet<int> _removed = [];

    public ChannelModel(int creatorAuthority)
    {
        _members = [.. Cast.UsersOf(creatorAuthority)];
        Add("created", _members);
        StartEpoch();
    }

    public long Epoch { get; private set; }

    /// <summary>Users added again after a removal.</summary>
    public int Readditions { get; private set; }

    public IReadOnlySet<int> Members => _members;

    /// <summary>Accepted messages in the order the channel accepted them.</summary>
    public IReadOnlyList<ModelMessage> Messages => _messages;

    public bool IsMember(int device) => _members.Contains(Cast.UserOfDevice[device]);

    /// <summary>The users who were members when <paramref name="epoch"/> started: its key was sealed to exactly their devices.</summary>
    public IReadOnlySet<int> EpochMembers(long epoch) => _epochMembers[epoch];

    public ModelMessage? Stored(int slot) => _bySlot.GetValueOrDefault(slot);

    public int Resolve(Who who)
    {
        if (!who.Member)
        {
            return who.N % Cast.Devices.Length;
        }

        var devices = Enumerable.Range(0, Cast.Devices.Length).Where(IsMember).ToList();
        return devices[who.N % devices.Count];
    }

    /// <summary>What a device's subscription must have shown of this channel, in order.</summary>
    public IReadOnlyList<string> ExpectedFor(int device) =>
        [.. _events.Where(e => e.VisibleTo.Contains(Cast.UserOfDevice[device])).Select(e => e.Description)];

    public static string Describe(int slot, int device) => $"message #{slot} from {Cast.Devices[device]}";

    public StatusCode? Send(int device, int slot, string text)
    {
        if (!IsMember(device))
        {
            return StatusCode.PermissionDenied;
        }

        if (_bySlot.TryGetValue(slot, out var stored))
        {
            return stored.Device == device && stored.Text == text ? null : StatusCode.AlreadyExists;
        }

        var message = new ModelMessage(slot, device, text, Epoch);
        _bySlot[slot] = message;
        _messages.Add(message);
        Add(Describe(slot, device), _members);
        return null;
    }

    public StatusCode? AddUsers(int actor, IReadOnlyCollection<int> users)
    {
        if (!IsMember(actor))
        {
            return StatusCode.PermissionDenied;
        }

        var added = users.Where(u => !_members.Contains(u)).Order().ToList();
        if (added.Count == 0)
        {
            return StatusCode.FailedPrecondition; // "Nobody to add", or the named user is a member already.
        }

        Readditions += added.Count(_removed.Contains);
        _members.UnionWith(added);
        Add("added " + Names(added), _members);
        StartEpoch();
        return null;
    }

    public StatusCode? RemoveUsers(int actor, IReadOnlyCollection<int> users, bool wholeAuthority)
    {
        if (!IsMember(actor))
        {
            return StatusCode.PermissionDenied;
        }

        var removed = users.Where(_members.Contains).Order().ToList();
        if (removed.Count == 0 || (!wholeAuthority && removed.Count < users.Count) || removed.Count == _members.Count)
        {
            return StatusCode.FailedPrecondition; // Not a member / no members of that authority / it would remove everyone.
        }

        Add("removed " + Names(removed), _members); // The removal is the last event the removed see.
        _members.ExceptWith(removed);
        _removed.UnionWith(removed);
        StartEpoch();
        return null;
    }

    public StatusCode? Rotate(int actor)
    {
        if (!IsMember(actor))
        {
            return StatusCode.PermissionDenied;
        }

        StartEpoch();
        return null;
    }

    public static string Names(IEnumerable<int> users) => string.Join(",", users.Select(u => Cast.Users[u]).Order(StringComparer.Ordinal));

    private void StartEpoch()
    {
        Epoch++;
        _epochMembers[Epoch] = new HashSet<int>(_members);
        Add($"epoch {Epoch}", _members);
    }

    private void Add(string description, IEnumerable<int> visibleTo) => _events.Add(new ModelEvent(description, new HashSet<int>(visibleTo)));
}
