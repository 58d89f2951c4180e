using GlobeSecure.Contracts.V1;
using GlobeSecure.Server.Infrastructure;
using GlobeSecure.Server.Membership;

namespace GlobeSecure.Server.Tests.Membership;

/// <summary>Given(events).When(command).Then(events or error): the membership rules, no database.</summary>
public sealed class AuthorityDeciderTests
{
    private static readonly DateTimeOffset At = new(2026, 11, 24, 12, 0, 0, TimeSpan.Zero);
    private static readonly Guid Id = Guid.CreateVersion7();
    private static readonly Guid Alice = Guid.CreateVersion7();
    private static readonly Guid Bob = Guid.CreateVersion7();

    private static AuthorityApplied Applied => new(Id, "Ethics and Anti-Corruption Commission", "KE", AuthorityKind.AntiCorruptionAgency,
        "UNCAC art. 36", "Focal Point", "focal@example.org", null, At);

    private static IReadOnlyList<object> When(AuthorityCommand command, params object[] given) =>
        AuthorityDecider.Decide(command, given.Aggregate(AuthorityState.Initial, AuthorityDecider.Evolve));

    [Fact]
    public void Apply_NewAuthority_RecordsTheApplication()
    {
        Assert.Equal([Applied], When(new ApplyForMembership(Applied)));
    }

    [Fact]
    public void Apply_SameApplicationRetried_RecordsNothing()
    {
        Assert.Empty(When(new ApplyForMembership(Applied), Applied));
    }

    [Fact]
    public void Apply_IdOfAnotherAuthority_ThrowsAlreadyExists()
    {
        Assert.Throws<AlreadyExistsException>(() => When(new ApplyForMembership(Applied with { Name = "Other" }), Applied));
    }

    [Fact]
    public void Approve_FirstApproval_IsRecordedButNotYetActive()
    {
        var events = When(new ApproveAuthority(Id, Alice, At), Applied);

        Assert.Equal([new AuthorityApprovalGiven(Id, Alice, At)], events);
    }

    [Fact]
    public void Approve_SecondDifferentAdministrator_ActivatesTheAuthority()
    {
        var events = When(new ApproveAuthority(Id, Bob, At), Applied, new AuthorityApprovalGiven(Id, Alice, At));

        Assert.Equal([new AuthorityApprovalGiven(Id, Bob, At), new AuthorityApproved(Id, At)], events);
    }

    [Fact]
    public void Approve_SameAdministratorTwice_ThrowsWrongStateFourEyes()
    {
        var error = Assert.Throws<WrongStateException>(() => When(new ApproveAuthority(Id, Alice, At), Applied, new AuthorityApprovalGiven(Id, Alice, At)));

        Assert.Contains("second, different network administrator", error.Message);
    }

    [Fact]
    public void Approve_AlreadyActive_ThrowsWrongState()
    {
        Assert.Throws<WrongStateException>(() => When(new ApproveAuthority(Id, Guid.CreateVersion7(), At),
            Applied, new AuthorityApprovalGiven(Id, Alice, At), new AuthorityApprovalGiven(Id, Bob, At), new AuthorityApproved(Id, At)));
    }

    [Fact]
    public void Approve_UnknownAuthority_ThrowsNotFound()
    {
        Assert.Throws<NotFoundException>(() => When(new ApproveAuthority(Id, Alice, At)));
    }

    [Fact]
    public void Reject_Pending_RecordsWhoWhyAndWhen()
    {
        Assert.Equal([new AuthorityRejected(Id, Alice, "no legal basis", At)], When(new RejectAuthority(Id, Alice, "no legal basis", At), Applied));
    }

    [Fact]
    public void Reject_AfterActivation_ThrowsWrongState()
    {
        Assert.Throws<WrongStateException>(() => When(new RejectAuthority(Id, Alice, "late", At), Active()));
    }

    [Fact]
    public void Suspend_Active_IsRecorded_AndReinstateRestoresIt()
    {
        var suspended = new AuthoritySuspended(Id, Alice, "investigation", At);
        Assert.Equal([suspended], When(new SuspendAuthority(Id, Alice, "investigation", At), Active()));
        Assert.Equal([new AuthorityReinstated(Id, Bob, At)], When(new ReinstateAuthority(Id, Bob, At), [.. Active(), suspended]));
    }

    [Fact]
    public void Suspend_Pending_ThrowsWrongState()
    {
        Assert.Throws<WrongStateException>(() => When(new SuspendAuthority(Id, Alice, "x", At), Applied));
    }

    [Fact]
    public void Reinstate_Active_ThrowsWrongState()
    {
        Assert.Throws<WrongStateException>(() => When(new ReinstateAuthority(Id, Alice, At), Active()));
    }

    [Fact]
    public void Withdraw_IsFinal_NothingAfterwards()
    {
        var withdrawn = new AuthorityWithdrawn(Id, Alice, "left the network", At);
        Assert.Equal([withdrawn], When(new WithdrawAuthority(Id, Alice, "left the network", At), Active()));
        object[] history = [.. Active(), withdrawn];
        Assert.Throws<WrongStateException>(() => When(new ReinstateAuthority(Id, Alice, At), history));
        Assert.Throws<WrongStateException>(() => When(new SuspendAuthority(Id, Alice, "x", At), history));
        Assert.Throws<WrongStateException>(() => When(new WithdrawAuthority(Id, Alice, "again", At), history));
    }

    [Fact]
    public void SuspendOrWithdraw_Secretariat_ThrowsWrongState()
    {
        var secretariat = new SecretariatRegistered(Id, "Secretariat", At);
        Assert.Throws<WrongStateException>(() => When(new SuspendAuthority(Id, Alice, "x", At), secretariat));
        Assert.Throws<WrongStateException>(() => When(new WithdrawAuthority(Id, Alice, "x", At), secretariat));
    }

    [Fact]
    public void RegisterSecretariat_Twice_RecordsOnce()
    {
        var registered = When(new RegisterSecretariat(Id, "Secretariat", At));
        Assert.Single(registered);
        Assert.Empty(When(new RegisterSecretariat(Id, "Secretariat", At), registered[0]));
    }

    private static object[] Active() =>
        [Applied, new AuthorityApprovalGiven(Id, Alice, At), new AuthorityApprovalGiven(Id, Bob, At), new AuthorityApproved(Id, At)];
}

public sealed class GroupDeciderTests
{
    private static readonly DateTimeOffset At = new(2026, 11, 24, 12, 0, 0, TimeSpan.Zero);
    private static readonly Guid Group = Guid.CreateVersion7();
    private static readonly Guid Kenya = Guid.CreateVersion7();
    private static readonly Guid Uganda = Guid.CreateVersion7();

    private static IReadOnlyList<object> When(GroupCommand command, params object[] given) =>
        GroupDecider.Decide(command, given.Aggregate(GroupState.Initial, GroupDecider.Evolve));

    [Fact]
    public void Create_WithMembers_RecordsGroupAndEachMemberOnce()
    {
        var admin = Guid.CreateVersion7();
        var events = When(new CreateGroup(Group, "East Africa", [Kenya, Uganda, Kenya], admin, At));

        Assert.Equal([new GroupCreated(Group, "East Africa", admin, At), new AuthorityAddedToGroup(Group, Kenya, At), new AuthorityAddedToGroup(Group, Uganda, At)], events);
    }

    [Fact]
    public void AddAndRemove_AreIdempotent()
    {
        var created = new GroupCreated(Group, "East Africa", Guid.Empty, At);
        var added = new AuthorityAddedToGroup(Group, Kenya, At);

        Assert.Empty(When(new AddToGroup(Group, Kenya, At), created, added));
        Assert.Empty(When(new RemoveFromGroup(Group, Uganda, At), created, added));
        Assert.Equal([new AuthorityRemovedFromGroup(Group, Kenya, At)], When(new RemoveFromGroup(Group, Kenya, At), created, added));
    }

    [Fact]
    public void Add_UnknownGroup_ThrowsNotFound()
    {
        Assert.Throws<NotFoundException>(() => When(new AddToGroup(Group, Kenya, At)));
    }
}
