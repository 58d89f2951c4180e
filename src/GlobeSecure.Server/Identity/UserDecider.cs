using System.Collections.Immutable;
using GlobeSecure.Contracts.V1;
using GlobeSecure.Server.Infrastructure;

namespace GlobeSecure.Server.Identity;

internal sealed record DeviceState(
    Guid DeviceId,
    DeviceKeysData Keys,
    string Label,
    DeviceStatus Status,
    CertificateData? Certificate,
    RevocationData? Revocation,
    DateTimeOffset EnrolledAt);

/// <summary>A user, its current enrolment code (hashed) and its devices. <see cref="Status"/> is UNSPECIFIED before the first event.</summary>
internal sealed record UserState(
    Guid UserId,
    Guid AuthorityId,
    string DisplayName,
    Role Role,
    UserStatus Status,
    DateTimeOffset InvitedAt,
    byte[]? CodeHash,
    DateTimeOffset CodeExpiresAt,
    bool CodeUsed,
    ImmutableDictionary<Guid, DeviceState> Devices)
{
    public static UserState Initial { get; } = new(Guid.Empty, Guid.Empty, "", Role.Unspecified, UserStatus.Unspecified,
        DateTimeOffset.MinValue, null, DateTimeOffset.MinValue, false, ImmutableDictionary<Guid, DeviceState>.Empty);

    public bool Exists => Status != UserStatus.Unspecified;
}

internal abstract record UserCommand(Guid UserId, DateTimeOffset At);

internal sealed record InviteUser(Guid UserId, Guid AuthorityId, string DisplayName, Role Role, Guid? InvitedBy, byte[] CodeHash,
    DateTimeOffset CodeExpiresAt, DateTimeOffset At) : UserCommand(UserId, At);

/// <summary>An authority's (first or replacement) administrator: invites them, or supersedes the code of one not yet enrolled.</summary>
internal sealed record IssueAdministratorCode(Guid UserId, Guid AuthorityId, string DisplayName, byte[] CodeHash, DateTimeOffset CodeExpiresAt,
    DateTimeOffset At) : UserCommand(UserId, At);

/// <summary>The first network administrator with its root-certified device (bootstrap).</summary>
internal sealed record RegisterAdministrator(Guid UserId, Guid AuthorityId, string DisplayName, DeviceKeysData Keys, CertificateData Certificate,
    DateTimeOffset At) : UserCommand(UserId, At);

internal sealed record EnrolDevice(Guid UserId, byte[] CodeHash, DeviceKeysData Keys, string Label, DateTimeOffset At) : UserCommand(UserId, At);

internal sealed record CertifyDevice(Guid UserId, Guid DeviceId, CertificateData Certificate, Guid CertifiedBy, DateTimeOffset At)
    : UserCommand(UserId, At);

internal sealed record RevokeDevice(Guid UserId, Guid DeviceId, RevocationData Revocation, Guid RevokedBy, DateTimeOffset At)
    : UserCommand(UserId, At);

internal sealed record RevokeUser(Guid UserId, string Reason, IReadOnlyList<RevocationData> Revocations, Guid RevokedBy, DateTimeOffset At)
    : UserCommand(UserId, At);

/// <summary>
/// The rules of users and devices: an enrolment code is usable once, before it expires, and only
/// the latest one (inviting an existing user again gives a code for another of their devices); a device enrols pending and can only then be certified, once, with a
/// certificate matching exactly what it enrolled and its user's role and authority; a revocation
/// names the device's certificate; revoking a user revokes every device, each certified one with
/// its own signed revocation. Signatures and issuers are checked by the caller (they need the
/// directory); everything here is pure.
/// </summary>
internal static class UserDecider
{
    public const string BadCode = "The enrolment code is wrong, used or expired: ask your administrator for a new one.";

    public static string StreamOf(Guid userId) => $"user-{userId}";

    public static UserState Evolve(UserState state, object @event) => @event switch
    {
        UserInvited e => state with
        {
            UserId = e.UserId, AuthorityId = e.AuthorityId, DisplayName = e.DisplayName, Role = e.Role, Status = UserStatus.Invited,
            InvitedAt = e.InvitedAt,
        },
        UserRegistered e => state with
        {
            UserId = e.UserId, AuthorityId = e.AuthorityId, DisplayName = e.DisplayName, Role = e.Role, Status = UserStatus.Active,
            InvitedAt = e.RegisteredAt,
        },
        EnrolmentCodeIssued e => state with { CodeHash = e.CodeHash, CodeExpiresAt = e.ExpiresAt, CodeUsed = false },
        DeviceEnrolled e => state with
        {
            Status = state.Status == UserStatus.Invited ? UserStatus.Active : state.Status,
            CodeUsed = state.CodeUsed || e.CodeHash is not null,
            Devices = state.Devices.SetItem(e.DeviceId, new DeviceState(e.DeviceId, e.Keys, e.Label, DeviceStatus.Pending, null, null, e.EnrolledAt)),
        },
        DeviceCertified e => state with
        {
            Devices = state.Devices.SetItem(e.DeviceId, state.Devices[e.DeviceId] with { Status = DeviceStatus.Certified, Certificate = e.Certificate }),
        },
        DeviceRevoked e => state with
        {
            Devices = state.Devices.SetItem(e.DeviceId, state.Devices[e.DeviceId] with { Status = DeviceStatus.Revoked, Revocation = e.Revocation }),
        },
        UserRevoked => state with { Status = UserStatus.Revoked },
        _ => state,
    };

    public static IReadOnlyList<object> Decide(UserCommand command, UserState state) => command switch
    {
        InviteUser c when !state.Exists =>
            [new UserInvited(c.UserId, c.AuthorityId, c.DisplayName, c.Role, c.InvitedBy, c.At), new EnrolmentCodeIssued(c.UserId, c.CodeHash, c.CodeExpiresAt, c.At)],
        // The same user invited again: a new code, for another device of theirs (it supersedes any unused one).
        InviteUser c when state.AuthorityId == c.AuthorityId && state.Role == c.Role && state.Status != UserStatus.Revoked =>
            [new EnrolmentCodeIssued(c.UserId, c.CodeHash, c.CodeExpiresAt, c.At)],
        InviteUser c => throw new AlreadyExistsException("user", c.UserId.ToString()),
        IssueAdministratorCode c => IssueAdministratorCodeFor(c, state),
        RegisterAdministrator c => state.Exists
            ? throw new AlreadyExistsException("user", c.UserId.ToString())
            :
            [
                new UserRegistered(c.UserId, c.AuthorityId, c.DisplayName, Role.NetworkAdministrator, c.At),
                new DeviceEnrolled(c.UserId, c.Keys.DeviceId, c.AuthorityId, Role.NetworkAdministrator, c.Keys, "", null, c.At),
                new DeviceCertified(c.UserId, c.Keys.DeviceId, c.Certificate, null, c.At),
            ],
        EnrolDevice c => Enrol(c, state),
        CertifyDevice c => Certify(c, state),
        RevokeDevice c => Revoke(c, state),
        RevokeUser c => RevokeAll(c, state),
        _ => throw new InvalidOperationException($"Unhandled command {command.GetType().Name}."),
    };

    /// <summary>The one answer for a code that does not enrol: no hint whether it was wrong, used, superseded or expired.</summary>
    public static bool CodeIsUsable(UserState state, byte[] codeHash, DateTimeOffset at) =>
        state.Status is UserStatus.Invited or UserStatus.Active && !state.CodeUsed && Secrets.SameHash(state.CodeHash, codeHash) && at < state.CodeExpiresAt;

    private static IReadOnlyList<object> IssueAdministratorCodeFor(IssueAdministratorCode c, UserState state)
    {
        if (!state.Exists)
        {
            return [new UserInvited(c.UserId, c.AuthorityId, c.DisplayName, Role.AuthorityAdministrator, null, c.At),
                new EnrolmentCodeIssued(c.UserId, c.CodeHash, c.CodeExpiresAt, c.At)];
        }

        if (state.AuthorityId != c.AuthorityId || state.Role != Role.AuthorityAdministrator)
        {
            throw new AlreadyExistsException("user", c.UserId.ToString());
        }

        return state.Status == UserStatus.Invited
            ? [new EnrolmentCodeIssued(c.UserId, c.CodeHash, c.CodeExpiresAt, c.At)]
            : throw new WrongStateException("This administrator has already enrolled (or was revoked): invite a new user id instead.");
    }

    private static IReadOnlyList<object> Enrol(EnrolDevice c, UserState state)
    {
        if (!CodeIsUsable(state, c.CodeHash, c.At))
        {
            throw new UnauthenticatedException(BadCode);
        }

        return state.Devices.ContainsKey(c.Keys.DeviceId)
            ? throw new AlreadyExistsException("device", c.Keys.DeviceId.ToString())
            : [new DeviceEnrolled(c.UserId, c.Keys.DeviceId, state.AuthorityId, state.Role, c.Keys, c.Label, c.CodeHash, c.At)];
    }

    private static IReadOnlyList<object> Certify(CertifyDevice c, UserState state)
    {
        var device = DeviceOf(state, c.DeviceId);
        if (state.Status != UserStatus.Active)
        {
            throw new WrongStateException("The device's user is revoked: its devices cannot be certified.");
        }

        if (device.Status != DeviceStatus.Pending)
        {
            throw new WrongStateException($"Only a device waiting for certification can be certified; this one is {Describe(device.Status)}.");
        }

        var cert = c.Certificate;
        var violations = new List<FieldViolation>();
        if (cert.UserId != state.UserId)
        {
            violations.Add(new("certificate.user_id", "must be the device's user"));
        }

        if (cert.AuthorityId != state.AuthorityId)
        {
            violations.Add(new("certificate.authority_id", "must be the user's authority"));
        }

        if (cert.Role != state.Role)
        {
            violations.Add(new("certificate.role", $"must be the user's role, {state.Role}"));
        }

        if (!cert.SigningKey.AsSpan().SequenceEqual(device.Keys.SigningKey))
        {
            violations.Add(new("certificate.signing_key", "must be the signing key the device enrolled"));
        }

        if (!cert.BoxKey.AsSpan().SequenceEqual(device.Keys.BoxKey))
        {
            violations.Add(new("certificate.box_key", "must be the box key the device enrolled"));
        }

        return violations.Count > 0
            ? throw new ValidationException(violations)
            : [new DeviceCertified(c.UserId, c.DeviceId, cert, c.CertifiedBy, c.At)];
    }

    private static IReadOnlyList<object> Revoke(RevokeDevice c, UserState state)
    {
        var device = DeviceOf(state, c.DeviceId);
        if (device.Status != DeviceStatus.Certified)
        {
            throw new WrongStateException($"Only a certified device can be revoked with a signed revocation; this one is {Describe(device.Status)}.");
        }

        return c.Revocation.CertificateId != device.Certificate!.CertificateId || c.Revocation.DeviceId != c.DeviceId
            ? throw new ValidationException("revocation.certificate_id", "must name the device's current certificate")
            : [new DeviceRevoked(c.UserId, c.DeviceId, c.Revocation, c.RevokedBy, c.At)];
    }

    private static IReadOnlyList<object> RevokeAll(RevokeUser c, UserState state)
    {
        if (!state.Exists)
        {
            throw new NotFoundException("user", c.UserId.ToString());
        }

        if (state.Status == UserStatus.Revoked)
        {
            throw new WrongStateException("The user is already revoked.");
        }

        var events = new List<object>();
        var violations = new List<FieldViolation>();
        var used = new HashSet<Guid>();
        foreach (var device in state.Devices.Values.OrderBy(d => d.DeviceId))
        {
            switch (device.Status)
            {
                case DeviceStatus.Certified:
                    var revocation = c.Revocations.FirstOrDefault(r => r.DeviceId == device.DeviceId && r.CertificateId == device.Certificate!.CertificateId);
                    if (revocation is null)
                    {
                        violations.Add(new("revocations", $"missing a signed revocation of device {device.DeviceId} (certificate {device.Certificate!.CertificateId})"));
                    }
                    else
                    {
                        used.Add(revocation.RevocationId);
                        events.Add(new DeviceRevoked(c.UserId, device.DeviceId, revocation, c.RevokedBy, c.At));
                    }

                    break;
                case DeviceStatus.Pending:
                    events.Add(new DeviceRevoked(c.UserId, device.DeviceId, null, c.RevokedBy, c.At));
                    break;
            }
        }

        for (var i = 0; i < c.Revocations.Count; i++)
        {
            if (!used.Contains(c.Revocations[i].RevocationId))
            {
                violations.Add(new($"revocations[{i}]", "does not revoke a certified device of this user"));
            }
        }

        if (violations.Count > 0)
        {
            throw new ValidationException(violations);
        }

        events.Add(new UserRevoked(c.UserId, c.RevokedBy, c.Reason, c.At));
        return events;
    }

    private static DeviceState DeviceOf(UserState state, Guid deviceId) =>
        state.Devices.TryGetValue(deviceId, out var device) ? device : throw new NotFoundException("device", deviceId.ToString());

    public static string Describe(DeviceStatus status) => status switch
    {
        DeviceStatus.Pending => "waiting for certification",
        DeviceStatus.Certified => "certified",
        DeviceStatus.Revoked => "revoked",
        _ => "unknown",
    };
}
