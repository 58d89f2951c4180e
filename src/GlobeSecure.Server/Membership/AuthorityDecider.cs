using GlobeSecure.Contracts.V1;
using GlobeSecure.Server.Infrastructure;

namespace GlobeSecure.Server.Membership;

/// <summary>An authority as its stream tells it. <see cref="Status"/> is UNSPECIFIED before the first event.</summary>
internal sealed record AuthorityState(
    Guid AuthorityId,
    AuthorityStatus Status,
    AuthorityKind Kind,
    string Name,
    IReadOnlyList<Guid> Approvals)
{
    public static AuthorityState Initial { get; } = new(Guid.Empty, AuthorityStatus.Unspecified, AuthorityKind.Unspecified, "", []);

    public bool Exists => Status != AuthorityStatus.Unspecified;
}

internal abstract record AuthorityCommand(Guid AuthorityId, DateTimeOffset At);

internal sealed record ApplyForMembership(AuthorityApplied Application) : AuthorityCommand(Application.AuthorityId, Application.AppliedAt);

internal sealed record RegisterSecretariat(Guid AuthorityId, string Name, DateTimeOffset At) : AuthorityCommand(AuthorityId, At);

internal sealed record ApproveAuthority(Guid AuthorityId, Guid AdministratorUserId, DateTimeOffset At) : AuthorityCommand(AuthorityId, At);

internal sealed record RejectAuthority(Guid AuthorityId, Guid AdministratorUserId, string Reason, DateTimeOffset At) : AuthorityCommand(AuthorityId, At);

internal sealed record SuspendAuthority(Guid AuthorityId, Guid AdministratorUserId, string Reason, DateTimeOffset At) : AuthorityCommand(AuthorityId, At);

internal sealed record ReinstateAuthority(Guid AuthorityId, Guid AdministratorUserId, DateTimeOffset At) : AuthorityCommand(AuthorityId, At);

internal sealed record WithdrawAuthority(Guid AuthorityId, Guid AdministratorUserId, string Reason, DateTimeOffset At) : AuthorityCommand(AuthorityId, At);

/// <summary>
/// The rules of membership: an application is approved only by two different network
/// administrators (four eyes); rejection needs a reason; only an active authority can be
/// suspended, only a suspended one reinstated; withdrawal is final; the secretariat is never
/// suspended or withdrawn. Pure: time comes in with the command.
/// </summary>
internal static class AuthorityDecider
{
    /// <summary>Approvals needed to activate an authority.</summary>
    public const int RequiredApprovals = 2;

    public static AuthorityState Evolve(AuthorityState state, object @event) => @event switch
    {
        AuthorityApplied e => new AuthorityState(e.AuthorityId, AuthorityStatus.Pending, e.Kind, e.Name, []),
        SecretariatRegistered e => new AuthorityState(e.AuthorityId, AuthorityStatus.Active, AuthorityKind.NetworkSecretariat, e.Name, []),
        AuthorityApprovalGiven e => state with { Approvals = [.. state.Approvals, e.AdministratorUserId] },
        AuthorityApproved => state with { Status = AuthorityStatus.Active },
        AuthorityRejected => state with { Status = AuthorityStatus.Rejected },
        AuthoritySuspended => state with { Status = AuthorityStatus.Suspended },
        AuthorityReinstated => state with { Status = AuthorityStatus.Active },
        AuthorityWithdrawn => state with { Status = AuthorityStatus.Withdrawn },
        _ => state,
    };

    public static IReadOnlyList<object> Decide(AuthorityCommand command, AuthorityState state) => (command, state) switch
    {
        (ApplyForMembership apply, { Exists: false }) => [apply.Application],
        // A retried application with the same id is answered with what exists, nothing new.
        (ApplyForMembership apply, { Status: AuthorityStatus.Pending }) when apply.Application.Name == state.Name => [],
        (ApplyForMembership apply, _) => throw new AlreadyExistsException("authority", apply.AuthorityId.ToString()),

        (RegisterSecretariat register, { Exists: false }) => [new SecretariatRegistered(register.AuthorityId, register.Name, register.At)],
        (RegisterSecretariat, { Kind: AuthorityKind.NetworkSecretariat }) => [],
        (RegisterSecretariat register, _) => throw new AlreadyExistsException("authority", register.AuthorityId.ToString()),

        (_, { Exists: false }) => throw new NotFoundException("authority", command.AuthorityId.ToString()),

        (ApproveAuthority approve, { Status: AuthorityStatus.Pending }) when state.Approvals.Contains(approve.AdministratorUserId) =>
            throw new WrongStateException(
                "You have already approved this authority: four-eyes approval needs a second, different network administrator."),
        (ApproveAuthority approve, { Status: AuthorityStatus.Pending }) => state.Approvals.Count + 1 >= RequiredApprovals
            ? [new AuthorityApprovalGiven(approve.AuthorityId, approve.AdministratorUserId, approve.At), new AuthorityApproved(approve.AuthorityId, approve.At)]
            : [new AuthorityApprovalGiven(approve.AuthorityId, approve.AdministratorUserId, approve.At)],
        (ApproveAuthority, _) => throw WrongState(state, "approved", AuthorityStatus.Pending),

        (RejectAuthority reject, { Status: AuthorityStatus.Pending }) =>
            [new AuthorityRejected(reject.AuthorityId, reject.AdministratorUserId, reject.Reason, reject.At)],
        (RejectAuthority, _) => throw WrongState(state, "rejected", AuthorityStatus.Pending),

        (SuspendAuthority or WithdrawAuthority, { Kind: AuthorityKind.NetworkSecretariat }) =>
            throw new WrongStateException("The network secretariat cannot be suspended or withdrawn."),

        (SuspendAuthority suspend, { Status: AuthorityStatus.Active }) =>
            [new AuthoritySuspended(suspend.AuthorityId, suspend.AdministratorUserId, suspend.Reason, suspend.At)],
        (SuspendAuthority, _) => throw WrongState(state, "suspended", AuthorityStatus.Active),

        (ReinstateAuthority reinstate, { Status: AuthorityStatus.Suspended }) =>
            [new AuthorityReinstated(reinstate.AuthorityId, reinstate.AdministratorUserId, reinstate.At)],
        (ReinstateAuthority, _) => throw WrongState(state, "reinstated", AuthorityStatus.Suspended),

        (WithdrawAuthority withdraw, { Status: AuthorityStatus.Active or AuthorityStatus.Suspended }) =>
            [new AuthorityWithdrawn(withdraw.AuthorityId, withdraw.AdministratorUserId, withdraw.Reason, withdraw.At)],
        (WithdrawAuthority, _) => throw new WrongStateException(
            $"Only an active or suspended authority can be withdrawn; this one is {Describe(state.Status)}."),

        _ => throw new InvalidOperationException($"Unhandled command {command.GetType().Name}."),
    };

    public static string Describe(AuthorityStatus status) => status switch
    {
        AuthorityStatus.Pending => "pending approval",
        AuthorityStatus.Active => "active",
        AuthorityStatus.Rejected => "rejected",
        AuthorityStatus.Suspended => "suspended",
        AuthorityStatus.Withdrawn => "withdrawn",
        _ => "unknown",
    };

    private static WrongStateException WrongState(AuthorityState state, string verb, AuthorityStatus required) =>
        new($"Only a {Describe(required)} authority can be {verb}; this one is {Describe(state.Status)}.");
}
