using GlobeSecure.Contracts.V1;
using GlobeSecure.EventStore;
using GlobeSecure.Server.Audit;
using Grpc.Core;

namespace GlobeSecure.Server.Infrastructure;

/// <summary>
/// The authenticated caller of a call, resolved once per call from its bearer token by
/// <see cref="AuthenticationInterceptor"/>. Anonymous calls have none.
/// </summary>
internal sealed record Caller(Guid UserId, Guid DeviceId, Guid AuthorityId, Role Role, string DisplayName, DateTimeOffset SessionExpiresAt)
{
    public Actor Actor => new(UserId, DeviceId, AuthorityId);
}

/// <summary>Turns a bearer token into a caller: null when the token is unknown, expired or no longer valid.</summary>
internal interface ICallerResolver
{
    Task<Caller?> ResolveAsync(string token, CancellationToken cancellationToken);
}

/// <summary>
/// Every rpc states who may call it by calling one of these first. The audited action is the
/// rpc's full method name (e.g. <c>/globesecure.v1.MembershipService/Approve</c>). A refusal is
/// audited (denied, with the reason) before the error leaves; an allowed write is audited with
/// its events, in the same transaction (<see cref="Allowed"/>); an allowed read with
/// <see cref="RecordReadAsync"/>. Any other failure is audited by the error-mapping interceptor
/// (<see cref="RecordUnauditedErrorAsync"/>). <see cref="Audit.AuditCatalog"/> lists every action.
/// </summary>
internal sealed class Access(AuditTrail audit)
{
    private const string CallerKey = "globe.caller";
    private const string AuditedKey = "globe.audited";

    /// <summary>True once a refusal of this call has been audited (the interceptor then records nothing more).</summary>
    public static bool IsAudited(ServerCallContext call) => call.UserState.ContainsKey(AuditedKey);

    private static void MarkAudited(ServerCallContext call) => call.UserState[AuditedKey] = true;

    public static void SetCaller(ServerCallContext call, Caller caller) => call.UserState[CallerKey] = caller;

    public static Caller? CallerOf(ServerCallContext call) => call.UserState.TryGetValue(CallerKey, out var c) ? c as Caller : null;

    /// <summary>The actor of a call for audit entries: the caller, or anonymous.</summary>
    public static Actor ActorOf(ServerCallContext call) => CallerOf(call)?.Actor ?? Actor.Anonymous;

    /// <summary>Any authenticated caller; otherwise UNAUTHENTICATED (audited).</summary>
    public async Task<Caller> RequireAuthenticatedAsync(ServerCallContext call, string? target = null)
    {
        if (CallerOf(call) is { } caller)
        {
            return caller;
        }

        MarkAudited(call);
        await audit.RecordAsync(call, Actor.Anonymous, call.Method, AuditOutcome.Denied, target, "not authenticated");
        throw new UnauthenticatedException("This call needs a session: authenticate the device (AuthService) and send 'authorization: Bearer <token>'.");
    }

    /// <summary>An authenticated caller with one of <paramref name="roles"/>; otherwise UNAUTHENTICATED or PERMISSION_DENIED (audited).</summary>
    public async Task<Caller> RequireRoleAsync(ServerCallContext call, string? target, params Role[] roles)
    {
        var caller = await RequireAuthenticatedAsync(call, target);
        if (!roles.Contains(caller.Role))
        {
            await DenyAsync(call, caller, target, $"the role {caller.Role} may not call {call.Method}");
        }

        return caller;
    }

    /// <summary>Audits a refusal that is not about roles (a rate limit, a bad code); the caller throws its own error.</summary>
    public Task RecordDeniedAsync(ServerCallContext call, string? target, string reason)
    {
        MarkAudited(call);
        return audit.RecordAsync(call, ActorOf(call), call.Method, AuditOutcome.Denied, target, reason);
    }

    /// <summary>Audits a call whose credentials were refused (the caller throws UNAUTHENTICATED).</summary>
    public Task DenyUnauthenticatedAsync(ServerCallContext call, string reason)
    {
        MarkAudited(call);
        return audit.RecordAsync(call, Actor.Anonymous, call.Method, AuditOutcome.Denied, null, reason);
    }

    /// <summary>Audits a refusal and throws PERMISSION_DENIED with <paramref name="reason"/>.</summary>
    public async Task DenyAsync(ServerCallContext call, Caller? caller, string? target, string reason)
    {
        MarkAudited(call);
        await audit.RecordAsync(call, caller?.Actor ?? Actor.Anonymous, call.Method, AuditOutcome.Denied, target, reason);
        throw new PermissionDeniedException($"Permission denied: {reason}.");
    }

    /// <summary>The audit entry of an allowed write, to append with its events.</summary>
    public AuditEntry Allowed(ServerCallContext call, string? target = null) =>
        audit.Entry(call, ActorOf(call), call.Method, AuditOutcome.Allowed, target);

    /// <summary>Records an allowed read (no events to carry the entry).</summary>
    public Task RecordReadAsync(ServerCallContext call, string? target = null) =>
        audit.RecordAsync(call, ActorOf(call), call.Method, AuditOutcome.Allowed, target);

    /// <summary>
    /// Records a call that ended in an error nobody audited yet (the error-mapping interceptor's
    /// last resort), with its status as the reason. A refusal thrown deeper down (a decider's
    /// membership check: PERMISSION_DENIED, a bad code or signature: UNAUTHENTICATED) is a
    /// denial like any other, so auditors find every refusal under "denied"; the rest failed.
    /// </summary>
    public static Task RecordUnauditedErrorAsync(AuditTrail audit, ServerCallContext call, StatusCode status)
    {
        MarkAudited(call);
        var outcome = status is StatusCode.PermissionDenied or StatusCode.Unauthenticated ? AuditOutcome.Denied : AuditOutcome.Failed;
        return audit.RecordAsync(call, ActorOf(call), call.Method, outcome, null, status.ToString());
    }
}
