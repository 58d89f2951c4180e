using GlobeSecure.Contracts.V1;
using GlobeSecure.Crypto;

namespace GlobeSecure.Server.Identity;

// Events of the Identity feature. Secrets (bootstrap codes, enrolment codes, session tokens)
// appear only as their BLAKE2b-256 hashes. Signed objects are stored field by field so that
// their canonical bytes (and so their signatures) can be recomputed from the event alone.

/// <summary>A device certificate as stored in events and read models.</summary>
internal sealed record CertificateData(
    Guid CertificateId, Guid DeviceId, Guid UserId, Guid AuthorityId, Role Role, byte[] SigningKey, byte[] BoxKey,
    DateTimeOffset NotBefore, DateTimeOffset NotAfter, Guid? IssuerDeviceId, byte[] IssuerSigningKey, byte[] Signature)
{
    public DeviceCertificate ToCrypto() => new(CertificateId, DeviceId, UserId, AuthorityId, (DeviceRole)(int)Role,
        new SigningPublicKey(SigningKey), new BoxPublicKey(BoxKey), NotBefore, NotAfter, IssuerDeviceId,
        new SigningPublicKey(IssuerSigningKey), Signature);

    public static CertificateData From(DeviceCertificate c) => new(c.CertificateId, c.DeviceId, c.UserId, c.AuthorityId,
        (Role)(int)c.Role, c.SigningKey.ToArray(), c.BoxKey.ToArray(), c.NotBefore, c.NotAfter, c.IssuerDeviceId,
        c.IssuerSigningKey.ToArray(), c.Signature);
}

/// <summary>A signed revocation as stored in events and read models.</summary>
internal sealed record RevocationData(
    Guid RevocationId, Guid CertificateId, Guid DeviceId, DateTimeOffset RevokedAt, string Reason, Guid? IssuerDeviceId,
    byte[] IssuerSigningKey, byte[] Signature)
{
    public Crypto.Revocation ToCrypto() => new(RevocationId, CertificateId, DeviceId, RevokedAt, Reason, IssuerDeviceId,
        new SigningPublicKey(IssuerSigningKey), Signature);

    public static RevocationData From(Crypto.Revocation r) => new(r.RevocationId, r.CertificateId, r.DeviceId, r.RevokedAt, r.Reason,
        r.IssuerDeviceId, r.IssuerSigningKey.ToArray(), r.Signature);
}

/// <summary>A device's published keys as stored in events.</summary>
internal sealed record DeviceKeysData(Guid DeviceId, byte[] SigningKey, byte[] BoxKey, byte[] BoxKeySignature)
{
    public PublicDeviceKeys ToCrypto() =>
        new(DeviceId, new SigningPublicKey(SigningKey), new BoxPublicKey(BoxKey), BoxKeySignature);
}

// Stream "network": the bootstrap code and the bootstrap itself.

internal sealed record BootstrapCodeIssued(string NetworkStreamId, byte[] CodeHash, DateTimeOffset ExpiresAt, DateTimeOffset IssuedAt);

/// <summary>The network exists: its name, root key and secretariat. The bootstrap code is used up.</summary>
internal sealed record NetworkBootstrapped(string NetworkStreamId, string Name, byte[] RootKey, Guid SecretariatId, Guid AdministratorUserId,
    DateTimeOffset BootstrappedAt);

// Stream "user-{id}": a user, its enrolment codes and its devices (so enrolment, certification
// and revocation of a user's devices are decided on one consistent state).

internal sealed record UserInvited(Guid UserId, Guid AuthorityId, string DisplayName, Role Role, Guid? InvitedBy, DateTimeOffset InvitedAt);

/// <summary>The first network administrator, active from the start (bootstrap).</summary>
internal sealed record UserRegistered(Guid UserId, Guid AuthorityId, string DisplayName, Role Role, DateTimeOffset RegisteredAt);

/// <summary>A one-time enrolment code; it supersedes any earlier one of the user.</summary>
internal sealed record EnrolmentCodeIssued(Guid UserId, byte[] CodeHash, DateTimeOffset ExpiresAt, DateTimeOffset IssuedAt);

internal sealed record UserRevoked(Guid UserId, Guid RevokedBy, string Reason, DateTimeOffset RevokedAt);

/// <summary>A device registered its keys; <paramref name="CodeHash"/> is the enrolment code it used up (null at bootstrap).</summary>
internal sealed record DeviceEnrolled(Guid UserId, Guid DeviceId, Guid AuthorityId, Role Role, DeviceKeysData Keys, string Label,
    byte[]? CodeHash, DateTimeOffset EnrolledAt);

internal sealed record DeviceCertified(Guid UserId, Guid DeviceId, CertificateData Certificate, Guid? CertifiedBy, DateTimeOffset CertifiedAt);

/// <summary>A device revoked by a signed revocation, or (while still pending, without a certificate) by its user's revocation.</summary>
internal sealed record DeviceRevoked(Guid UserId, Guid DeviceId, RevocationData? Revocation, Guid RevokedBy, DateTimeOffset RevokedAt);

// Stream "auth-{challenge id}": one authentication, from challenge to the end of its session.

internal sealed record ChallengeIssued(Guid ChallengeId, Guid DeviceId, byte[] Challenge, string Audience, DateTimeOffset IssuedAt,
    DateTimeOffset ExpiresAt);

/// <summary>The challenge was answered: a session (id = challenge id) whose token is stored only hashed.</summary>
internal sealed record SessionStarted(Guid SessionId, Guid DeviceId, Guid UserId, byte[] TokenHash, DateTimeOffset ExpiresAt,
    DateTimeOffset StartedAt);

internal sealed record SessionEnded(Guid SessionId, DateTimeOffset EndedAt);

// Stream "auth-failures-{device id}": failed authentications, counted per peer address for the lockout across
// server processes (the projection keeps a table of recent failures).

internal sealed record AuthenticationFailed(Guid DeviceId, string PeerAddress, string Reason, DateTimeOffset FailedAt);
