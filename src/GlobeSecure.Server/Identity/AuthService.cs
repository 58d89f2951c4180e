using GlobeSecure.Contracts.V1;
using GlobeSecure.Crypto;
using GlobeSecure.EventStore;
using GlobeSecure.Server.Infrastructure;
using Google.Protobuf;
using Grpc.Core;
using Microsoft.Extensions.Options;
using Timestamp = Google.Protobuf.WellKnownTypes.Timestamp;

namespace GlobeSecure.Server.Identity;

/// <summary>
/// Session tokens → callers, on every call: the session must be unexpired and not ended, its
/// device certified (not revoked), its user active and its authority active — so revocation and
/// suspension take effect on the very next call. Anything else is null (UNAUTHENTICATED).
/// </summary>
internal sealed class SessionResolver(IdentityReadModel read, IAuthorities authorities, TimeProvider clock) : ICallerResolver
{
    public async Task<Caller?> ResolveAsync(string token, CancellationToken cancellationToken)
    {
        var session = await read.SessionAsync(Secrets.Hash(token), cancellationToken);
        var now = clock.GetUtcNow();
        if (session is null || !Admits(session with { Ended = false }, now))
        {
            return null;
        }

        if (!session.Ended)
        {
            // A session that has not ended belongs to an active authority: suspension and
            // withdrawal end every session of the authority in their own transaction
            // (IdentityProjection), and authentication refuses an authority that is not active.
            // So the authority needs no look-up on this, every call's, path.
            return new Caller(session.UserId, session.DeviceId, session.AuthorityId, session.Role, session.DisplayName, session.ExpiresAt);
        }

        var authority = await authorities.FindAsync(session.AuthorityId, cancellationToken);
        if (authority?.Status == AuthorityStatus.Suspended)
        {
            // The suspension ended the session; while it lasts, the user's calls are refused as
            // such, not as a mere expiry.
            throw new PermissionDeniedException(
                $"Permission denied: authority {session.AuthorityId} is suspended, and its users' calls are refused until a network administrator reinstates it.");
        }

        return null;
    }

    /// <summary>
    /// The rule, pure: a session counts while not ended and unexpired, its device certified and its
    /// user active. (Its authority is active whenever it has not ended: see <see cref="ResolveAsync"/>.)
    /// </summary>
    public static bool Admits(SessionRow session, DateTimeOffset now) =>
        !session.Ended && now < session.ExpiresAt && session.DeviceStatus == DeviceStatus.Certified && session.UserStatus == UserStatus.Active;
}

/// <summary>Challenge–response authentication, sessions, and who the caller is.</summary>
internal sealed class AuthService(
    PostgresEventStore store,
    Access access,
    TimeProvider clock,
    IAuthorities authorities,
    IdentityReadModel read,
    IDeviceDirectory directory,
    IOptions<IdentityOptions> options) : Contracts.V1.AuthService.AuthServiceBase
{
    /// <summary>
    /// Anyone. A challenge is issued whether or not the device exists (the answer tells nothing);
    /// refused with RESOURCE_EXHAUSTED while the address has too many recent failures. Each call
    /// stores a challenge and an audit entry: bounded by the per-address call limit (CallLimits).
    /// </summary>
    public override async Task<Challenge> BeginAuthentication(BeginAuthenticationRequest request, ServerCallContext context)
    {
        var v = new Violations();
        var deviceId = v.Id("device_id", request.DeviceId);
        v.ThrowIfAny();
        var now = clock.GetUtcNow();
        await CheckFailureLimitAsync(context, deviceId, now);
        var network = await read.NetworkAsync(context.CancellationToken) ?? throw new WrongStateException("The network is not bootstrapped yet.");
        var challengeId = Guid.CreateVersion7();
        // Times travel in canonical bytes as whole microseconds: store what the device will sign.
        var issuedAt = CanonicalWriter.TruncateToMicroseconds(now);
        var command = new IssueChallenge(challengeId, deviceId, AuthChallenge.NewChallenge(), network.Name, issuedAt + options.Value.ChallengeLifetime, issuedAt);
        var (state, _) = await store.DecideAsync(AuthDecider.StreamOf(challengeId), AuthState.Initial, AuthDecider.Evolve,
            s => AuthDecider.Decide(command, s), access.Allowed(context, deviceId.ToString()), cancellationToken: context.CancellationToken);
        var challenge = state.Challenge!;
        return new Challenge
        {
            ChallengeId = challengeId.ToString(),
            Challenge_ = ByteString.CopyFrom(challenge.Challenge),
            Audience = challenge.Audience,
            IssuedAt = Timestamp.FromDateTimeOffset(challenge.IssuedAt),
            ExpiresAt = Timestamp.FromDateTimeOffset(challenge.ExpiresAt),
        };
    }

    /// <summary>
    /// Anyone. A certified, unrevoked device of an active user and authority that signed the
    /// challenge gets a session token, returned once. Every failure gets the same UNAUTHENTICATED,
    /// is audited with its reason, and counts towards the failure limit.
    /// </summary>
    public override async Task<Session> CompleteAuthentication(CompleteAuthenticationRequest request, ServerCallContext context)
    {
        var v = new Violations();
        var challengeId = v.Id("challenge_id", request.ChallengeId);
        var deviceId = v.Id("device_id", request.DeviceId);
        var signature = v.Bytes("signature", request.Signature, IdentityWire.SignatureBytes);
        v.ThrowIfAny();
        var now = clock.GetUtcNow();
        await CheckFailureLimitAsync(context, deviceId, now);

        var standing = await StandingAsync(deviceId, context.CancellationToken);
        var token = Secrets.NewSecret();
        var command = new AnswerChallenge(challengeId, deviceId, signature, standing, Secrets.Hash(token), now + options.Value.SessionLifetime, now);
        try
        {
            var (state, _) = await store.DecideAsync(AuthDecider.StreamOf(challengeId), AuthState.Initial, AuthDecider.Evolve,
                s => AuthDecider.Decide(command, s), access.Allowed(context, deviceId.ToString()), cancellationToken: context.CancellationToken);
            return new Session { Token = token, ExpiresAt = Timestamp.FromDateTimeOffset(state.Session!.ExpiresAt) };
        }
        catch (Exception e) when (e is AuthenticationRefusedException or WrongExpectedVersionException)
        {
            // A lost race for the same challenge is a reuse like any other.
            var reason = e is AuthenticationRefusedException ? e.Message : "challenge already used";
            await access.DenyUnauthenticatedAsync(context, reason);
            await store.AppendAsync(AuthDecider.FailureStreamOf(deviceId), ExpectedVersion.Any,
                [NewEvent.From(new AuthenticationFailed(deviceId, CallLimits.AddressOf(context.Peer), reason, now))],
                cancellationToken: CancellationToken.None);
            throw new UnauthenticatedException(AuthDecider.Refused);
        }
    }

    /// <summary>Any authenticated caller: ends its own session.</summary>
    public override async Task<SignOutResponse> SignOut(SignOutRequest request, ServerCallContext context)
    {
        var caller = await access.RequireAuthenticatedAsync(context);
        var header = context.RequestHeaders.GetValue("authorization") ?? "";
        var session = await read.SessionAsync(Secrets.Hash(header["Bearer ".Length..].Trim()), context.CancellationToken);
        if (session is not null)
        {
            await store.DecideAsync(AuthDecider.StreamOf(session.SessionId), AuthState.Initial, AuthDecider.Evolve,
                s => AuthDecider.Decide(new EndSession(session.SessionId, clock.GetUtcNow()), s), access.Allowed(context, caller.DeviceId.ToString()),
                cancellationToken: context.CancellationToken);
        }

        return new SignOutResponse();
    }

    /// <summary>Any authenticated caller.</summary>
    public override async Task<WhoAmIResponse> WhoAmI(WhoAmIRequest request, ServerCallContext context)
    {
        var caller = await access.RequireAuthenticatedAsync(context);
        await access.RecordReadAsync(context, caller.DeviceId.ToString());
        return new WhoAmIResponse
        {
            UserId = caller.UserId.ToString(),
            DeviceId = caller.DeviceId.ToString(),
            AuthorityId = caller.AuthorityId.ToString(),
            Role = caller.Role,
            DisplayName = caller.DisplayName,
            SessionExpiresAt = Timestamp.FromDateTimeOffset(caller.SessionExpiresAt),
        };
    }

    private async Task CheckFailureLimitAsync(ServerCallContext context, Guid deviceId, DateTimeOffset now)
    {
        var limits = options.Value;
        var peer = CallLimits.AddressOf(context.Peer);
        var recent = await read.RecentFailuresAsync(peer, now - limits.FailureWindow, context.CancellationToken);
        try
        {
            FailureLimit.Check(recent, deviceId, peer, limits.MaxFailures, limits.FailureWindow, now);
        }
        catch (LimitExceededException)
        {
            await access.RecordDeniedAsync(context, deviceId.ToString(), "authentication failure limit");
            throw;
        }
    }

    private async Task<DeviceStanding?> StandingAsync(Guid deviceId, CancellationToken cancellationToken)
    {
        var device = await read.DeviceAsync(deviceId, cancellationToken);
        if (device is null)
        {
            return null;
        }

        var user = await read.UserAsync(device.UserId, cancellationToken);
        var authority = await authorities.FindAsync(device.AuthorityId, cancellationToken);
        // Certified means its whole chain verifies now: a device below a revoked (or expired)
        // issuer is not trusted by clients (protocol §5.2), so it gets no session either.
        var certified = device.Status == DeviceStatus.Certified && await directory.VerifiedDeviceAsync(deviceId, cancellationToken) is not null;
        return new DeviceStanding(device.DeviceId, device.UserId, device.Certificate?.SigningKey, certified,
            user?.Status == UserStatus.Active, authority?.Status == AuthorityStatus.Active);
    }
}
