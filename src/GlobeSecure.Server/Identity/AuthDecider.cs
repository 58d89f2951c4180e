using GlobeSecure.Crypto;

namespace GlobeSecure.Server.Identity;

/// <summary>One authentication: its challenge and, once answered, its session.</summary>
internal sealed record AuthState(ChallengeIssued? Challenge, SessionStarted? Session, bool Ended)
{
    public static AuthState Initial { get; } = new(null, null, false);
}

/// <summary>What the server knows of a device when it answers a challenge (null fields: unknown device).</summary>
internal sealed record DeviceStanding(Guid DeviceId, Guid UserId, byte[]? CertifiedSigningKey, bool DeviceCertified, bool UserActive, bool AuthorityActive);

internal abstract record AuthCommand(Guid ChallengeId, DateTimeOffset At);

internal sealed record IssueChallenge(Guid ChallengeId, Guid DeviceId, byte[] Challenge, string Audience, DateTimeOffset ExpiresAt, DateTimeOffset At)
    : AuthCommand(ChallengeId, At);

internal sealed record AnswerChallenge(Guid ChallengeId, Guid DeviceId, byte[] Signature, DeviceStanding? Device, byte[] TokenHash,
    DateTimeOffset SessionExpiresAt, DateTimeOffset At) : AuthCommand(ChallengeId, At);

internal sealed record EndSession(Guid ChallengeId, DateTimeOffset At) : AuthCommand(ChallengeId, At);

/// <summary>
/// An authentication was refused. <see cref="Exception.Message"/> is the reason for the audit
/// trail only; the caller always gets the same UNAUTHENTICATED answer.
/// </summary>
internal sealed class AuthenticationRefusedException(string reason) : Exception(reason);

/// <summary>
/// Challenge–response rules: a challenge is answered once, before it expires, by the device it
/// was issued for, with a valid signature by that device's certified key; the device must be
/// certified and unrevoked, its user and authority active. A session ends once.
/// </summary>
internal static class AuthDecider
{
    public const string Refused = "Authentication failed: the challenge, device or signature is not valid. Begin again with a new challenge.";

    public static string StreamOf(Guid challengeId) => $"auth-{challengeId}";

    public static string FailureStreamOf(Guid deviceId) => $"auth-failures-{deviceId}";

    public static AuthState Evolve(AuthState state, object @event) => @event switch
    {
        ChallengeIssued e => state with { Challenge = e },
        SessionStarted e => state with { Session = e },
        SessionEnded => state with { Ended = true },
        _ => state,
    };

    public static IReadOnlyList<object> Decide(AuthCommand command, AuthState state) => command switch
    {
        IssueChallenge c => state.Challenge is null
            ? [new ChallengeIssued(c.ChallengeId, c.DeviceId, c.Challenge, c.Audience, c.At, c.ExpiresAt)]
            : throw new InvalidOperationException("A challenge id is never reused."),
        AnswerChallenge c => [Answer(c, state)],
        EndSession c => state.Session is not null && !state.Ended ? [new SessionEnded(c.ChallengeId, c.At)] : [],
        _ => throw new InvalidOperationException($"Unhandled command {command.GetType().Name}."),
    };

    private static SessionStarted Answer(AnswerChallenge c, AuthState state)
    {
        var challenge = state.Challenge ?? throw new AuthenticationRefusedException("unknown challenge");
        if (state.Session is not null)
        {
            throw new AuthenticationRefusedException("challenge already used");
        }

        if (c.At >= challenge.ExpiresAt)
        {
            throw new AuthenticationRefusedException("challenge expired");
        }

        if (challenge.DeviceId != c.DeviceId)
        {
            throw new AuthenticationRefusedException("challenge issued for another device");
        }

        var device = c.Device;
        if (device is null || !device.DeviceCertified || device.CertifiedSigningKey is null)
        {
            throw new AuthenticationRefusedException("device unknown, not certified or revoked");
        }

        if (!device.UserActive || !device.AuthorityActive)
        {
            throw new AuthenticationRefusedException("user or authority not active");
        }

        try
        {
            AuthChallenge.Verify(new SigningPublicKey(device.CertifiedSigningKey), challenge.Challenge, c.DeviceId, challenge.Audience,
                challenge.IssuedAt, c.Signature);
        }
        catch (GlobeCryptoException)
        {
            throw new AuthenticationRefusedException("bad signature");
        }

        return new SessionStarted(c.ChallengeId, c.DeviceId, device.UserId, c.TokenHash, c.SessionExpiresAt, c.At);
    }
}

/// <summary>
/// Failed authentications allowed per peer address within a window; counted from the database so every
/// server process sees them. Per address, not per device: a stranger who knows a device id and fails
/// from elsewhere locks out only their own address, never the device (threat model, adversary 1).
/// </summary>
internal static class FailureLimit
{
    /// <summary>Throws RESOURCE_EXHAUSTED when the recent failures from the address reach the limit (whichever devices they named).</summary>
    public static void Check(IReadOnlyList<AuthenticationFailed> recent, Guid deviceId, string peerAddress, int maxFailures, TimeSpan window,
        DateTimeOffset at)
    {
        var since = at - window;
        var fromAddress = recent.Count(f => f.PeerAddress == peerAddress && f.FailedAt > since);
        if (fromAddress >= maxFailures)
        {
            throw new Infrastructure.LimitExceededException(
                $"Too many failed authentications from this address: at most {maxFailures} in {window.TotalMinutes:0} minutes. Wait and try again.");
        }
    }
}
