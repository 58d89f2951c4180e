namespace GlobeSecure.Crypto;

/// <summary>The role a device certificate grants. The wire name is what canonical bytes carry.</summary>
public enum DeviceRole
{
    /// <summary>Certified by a network root key; certifies authority administrators and network auditors.</summary>
    NetworkAdministrator = 1,

    /// <summary>Certified by a network administrator; certifies the devices of its own authority.</summary>
    AuthorityAdministrator = 2,

    /// <summary>A member authority's investigator.</summary>
    Investigator = 3,

    /// <summary>Reviews the audit trail, never content.</summary>
    Auditor = 4,

    /// <summary>Reads what it is shown; takes no action.</summary>
    Observer = 5,

    /// <summary>A partner system integrating through the client library.</summary>
    PartnerTool = 6,
}

/// <summary>Wire names of roles and the rule of who may certify whom.</summary>
public static class DeviceRoles
{
    /// <summary>The role's name in canonical bytes (for example <c>authority-administrator</c>).</summary>
    public static string ToWire(this DeviceRole role) => role switch
    {
        DeviceRole.NetworkAdministrator => "network-administrator",
        DeviceRole.AuthorityAdministrator => "authority-administrator",
        DeviceRole.Investigator => "investigator",
        DeviceRole.Auditor => "auditor",
        DeviceRole.Observer => "observer",
        DeviceRole.PartnerTool => "partner-tool",
        _ => throw new MalformedInputException($"Unknown device role {(int)role}."),
    };

    /// <summary>Parses a wire name; throws <see cref="MalformedInputException"/> for anything else.</summary>
    public static DeviceRole FromWire(string wire) => wire switch
    {
        "network-administrator" => DeviceRole.NetworkAdministrator,
        "authority-administrator" => DeviceRole.AuthorityAdministrator,
        "investigator" => DeviceRole.Investigator,
        "auditor" => DeviceRole.Auditor,
        "observer" => DeviceRole.Observer,
        "partner-tool" => DeviceRole.PartnerTool,
        _ => throw new MalformedInputException($"Unknown device role '{wire}'."),
    };

    /// <summary>
    /// Who may certify whom: a network root key certifies network administrators; a network
    /// administrator certifies authority administrators and auditors; an authority administrator
    /// certifies its own authority's investigators, auditors, observers and partner tools.
    /// <paramref name="issuer"/> null means a network root key.
    /// </summary>
    public static bool MayIssue(DeviceRole? issuer, DeviceRole subject) => (issuer, subject) switch
    {
        (null, DeviceRole.NetworkAdministrator) => true,
        (DeviceRole.NetworkAdministrator, DeviceRole.AuthorityAdministrator or DeviceRole.Auditor) => true,
        (DeviceRole.AuthorityAdministrator, DeviceRole.Investigator or DeviceRole.Auditor or DeviceRole.Observer or DeviceRole.PartnerTool) => true,
        _ => false,
    };
}

/// <summary>
/// A device certificate: binds a device to its user, authority, role, both public keys and a
/// validity window [NotBefore, NotAfter), signed by the issuer's device signing key (or a network
/// root key, when <see cref="IssuerDeviceId"/> is null). Signed bytes: <c>globe/v1/certificate</c>
/// then certificate id, device id, user id, authority id, role, signing key, box key, not before,
/// not after, issuer device id, issuer signing key.
/// </summary>
public sealed record DeviceCertificate(
    Guid CertificateId,
    Guid DeviceId,
    Guid UserId,
    Guid AuthorityId,
    DeviceRole Role,
    SigningPublicKey SigningKey,
    BoxPublicKey BoxKey,
    DateTimeOffset NotBefore,
    DateTimeOffset NotAfter,
    Guid? IssuerDeviceId,
    SigningPublicKey IssuerSigningKey,
    byte[] Signature)
{
    /// <summary>Context string of certificates.</summary>
    public const string Context = "globe/v1/certificate";

    /// <summary>The bytes the issuer signs.</summary>
    public byte[] SigningInput() => new CanonicalWriter(Context)
        .Guid(CertificateId)
        .Guid(DeviceId)
        .Guid(UserId)
        .Guid(AuthorityId)
        .Text(Role.ToWire())
        .Bytes(SigningKey.Span)
        .Bytes(BoxKey.Span)
        .Time(NotBefore)
        .Time(NotAfter)
        .Guid(IssuerDeviceId)
        .Bytes(IssuerSigningKey.Span)
        .ToArray();

    /// <summary>
    /// Issues a certificate for <paramref name="subject"/>. <paramref name="issuerDeviceId"/> is null
    /// when <paramref name="issuerKey"/> is a network root key. The device's box-key signature is
    /// checked first, so an issuer never certifies a pairing the device did not make.
    /// </summary>
    public static DeviceCertificate Issue(Guid certificateId, PublicDeviceKeys subject, Guid userId, Guid authorityId,
        DeviceRole role, DateTimeOffset notBefore, DateTimeOffset notAfter, SigningKeyPair issuerKey, Guid? issuerDeviceId)
    {
        subject.Verify();
        if (notAfter <= notBefore)
        {
            throw new MalformedInputException("A certificate's NotAfter must be later than its NotBefore.");
        }

        var unsigned = new DeviceCertificate(certificateId, subject.DeviceId, userId, authorityId, role, subject.SigningKey,
            subject.BoxKey, CanonicalWriter.TruncateToMicroseconds(notBefore), CanonicalWriter.TruncateToMicroseconds(notAfter),
            issuerDeviceId, issuerKey.PublicKey, []);
        return unsigned with { Signature = issuerKey.Sign(unsigned.SigningInput()) };
    }

    /// <summary>True when the issuer's signature verifies.</summary>
    public bool HasValidSignature() => IssuerSigningKey.Verify(SigningInput(), Signature);

    /// <inheritdoc />
    public override string ToString() =>
        $"DeviceCertificate({CertificateId}, device {DeviceId}, {Role.ToWire()}, key {SigningKey.Fingerprint})";
}

/// <summary>
/// A signed revocation of a certificate, effective from <see cref="RevokedAt"/>. It counts only
/// when signed by a network root key or by a certificate above the revoked one in its chain.
/// Signed bytes: <c>globe/v1/revocation</c> then revocation id, certificate id, device id, revoked
/// at, reason, issuer device id, issuer signing key.
/// </summary>
public sealed record Revocation(
    Guid RevocationId,
    Guid CertificateId,
    Guid DeviceId,
    DateTimeOffset RevokedAt,
    string Reason,
    Guid? IssuerDeviceId,
    SigningPublicKey IssuerSigningKey,
    byte[] Signature)
{
    /// <summary>Context string of revocations.</summary>
    public const string Context = "globe/v1/revocation";

    /// <summary>The bytes the issuer signs.</summary>
    public byte[] SigningInput() => new CanonicalWriter(Context)
        .Guid(RevocationId)
        .Guid(CertificateId)
        .Guid(DeviceId)
        .Time(RevokedAt)
        .Text(Reason)
        .Guid(IssuerDeviceId)
        .Bytes(IssuerSigningKey.Span)
        .ToArray();

    /// <summary>Signs a revocation of <paramref name="certificate"/>.</summary>
    public static Revocation Issue(Guid revocationId, DeviceCertificate certificate, DateTimeOffset revokedAt, string reason,
        SigningKeyPair issuerKey, Guid? issuerDeviceId)
    {
        var unsigned = new Revocation(revocationId, certificate.CertificateId, certificate.DeviceId,
            CanonicalWriter.TruncateToMicroseconds(revokedAt), reason, issuerDeviceId, issuerKey.PublicKey, []);
        return unsigned with { Signature = issuerKey.Sign(unsigned.SigningInput()) };
    }

    /// <summary>True when the issuer's signature verifies.</summary>
    public bool HasValidSignature() => IssuerSigningKey.Verify(SigningInput(), Signature);
}

/// <summary>The network root keys a client pins (their fingerprints are in its configuration).</summary>
public sealed class TrustAnchors
{
    private readonly List<SigningPublicKey> _roots;

    /// <summary>Pins the given root keys; at least one.</summary>
    public TrustAnchors(IEnumerable<SigningPublicKey> roots)
    {
        _roots = [.. roots];
        if (_roots.Count == 0)
        {
            throw new ArgumentException("At least one network root key must be pinned.", nameof(roots));
        }
    }

    /// <summary>True when <paramref name="key"/> is a pinned root.</summary>
    public bool Contains(SigningPublicKey key) => _roots.Contains(key);
}

/// <summary>Revocations known to the verifier. Only revocations whose signature verifies are kept.</summary>
public sealed class RevocationSet
{
    private readonly Dictionary<Guid, List<Revocation>> _byCertificate = [];

    /// <summary>An empty set.</summary>
    public static RevocationSet Empty => new();

    /// <summary>Adds a revocation; throws <see cref="SignatureInvalidException"/> when its signature fails.</summary>
    public RevocationSet Add(Revocation revocation)
    {
        if (!revocation.HasValidSignature())
        {
            throw new SignatureInvalidException("revocation");
        }

        if (!_byCertificate.TryGetValue(revocation.CertificateId, out var list))
        {
            _byCertificate[revocation.CertificateId] = list = [];
        }

        list.Add(revocation);
        return this;
    }

    internal IEnumerable<Revocation> For(Guid certificateId) =>
        _byCertificate.TryGetValue(certificateId, out var list) ? list : [];
}

/// <summary>A device whose certificate chain verified at <see cref="VerifiedAt"/>: the only thing other checks accept.</summary>
public sealed class VerifiedDevice
{
    internal VerifiedDevice(IReadOnlyList<DeviceCertificate> chain, DateTimeOffset verifiedAt)
    {
        Chain = chain;
        VerifiedAt = verifiedAt;
    }

    /// <summary>The chain, leaf first.</summary>
    public IReadOnlyList<DeviceCertificate> Chain { get; }

    /// <summary>The leaf certificate.</summary>
    public DeviceCertificate Certificate => Chain[0];

    /// <summary>The time the chain was verified for.</summary>
    public DateTimeOffset VerifiedAt { get; }

    /// <summary>The device.</summary>
    public Guid DeviceId => Certificate.DeviceId;

    /// <summary>The device's user.</summary>
    public Guid UserId => Certificate.UserId;

    /// <summary>The device's authority.</summary>
    public Guid AuthorityId => Certificate.AuthorityId;

    /// <summary>The device's role.</summary>
    public DeviceRole Role => Certificate.Role;

    /// <summary>The device's signing key.</summary>
    public SigningPublicKey SigningKey => Certificate.SigningKey;

    /// <summary>The device's box key.</summary>
    public BoxPublicKey BoxKey => Certificate.BoxKey;

    /// <inheritdoc />
    public override string ToString() => $"VerifiedDevice({DeviceId}, {Role.ToWire()})";
}

/// <summary>Verifies certificate chains against pinned roots, a time and a revocation set.</summary>
public static class CertificateChain
{
    /// <summary>The longest chain: root → network administrator → authority administrator → user device.</summary>
    public const int MaxLength = 3;

    /// <summary>
    /// Verifies <paramref name="chain"/> (leaf first; the last certificate is issued by a root key)
    /// at time <paramref name="at"/>. Checks, from the root down: each signature; that each
    /// certificate names the next one up as issuer (device id and signing key); that the issuer's
    /// role may certify the subject's role (and an authority administrator only its own
    /// authority); that every certificate is valid at <paramref name="at"/>; and that none is
    /// revoked by a revocation signed by a root or by a certificate above it, effective at or
    /// before <paramref name="at"/>. Each failure throws its own <see cref="GlobeCryptoException"/>.
    /// </summary>
    public static VerifiedDevice Verify(IReadOnlyList<DeviceCertificate> chain, TrustAnchors anchors, DateTimeOffset at,
        RevocationSet? revocations = null)
    {
        ArgumentNullException.ThrowIfNull(chain);
        ArgumentNullException.ThrowIfNull(anchors);
        if (chain.Count is 0 or > MaxLength)
        {
            throw new CertificateChainBrokenException($"A certificate chain has 1 to {MaxLength} certificates, not {chain.Count}.");
        }

        revocations ??= RevocationSet.Empty;
        var top = chain[^1];
        if (top.IssuerDeviceId is not null || !anchors.Contains(top.IssuerSigningKey))
        {
            throw new UntrustedRootException(
                $"Certificate {top.CertificateId} is not issued by a pinned network root key (issuer key {top.IssuerSigningKey.Fingerprint}).");
        }

        for (var i = chain.Count - 1; i >= 0; i--)
        {
            var certificate = chain[i];
            var issuer = i == chain.Count - 1 ? null : chain[i + 1];
            if (!certificate.HasValidSignature())
            {
                throw new SignatureInvalidException("certificate");
            }

            if (issuer is not null &&
                (certificate.IssuerDeviceId != issuer.DeviceId || !certificate.IssuerSigningKey.Equals(issuer.SigningKey)))
            {
                throw new CertificateChainBrokenException(
                    $"Certificate {certificate.CertificateId} names issuer device {certificate.IssuerDeviceId}, but the next certificate is for device {issuer.DeviceId}.");
            }

            if (!DeviceRoles.MayIssue(issuer?.Role, certificate.Role))
            {
                throw new IssuerNotAllowedException(
                    $"A {(issuer is null ? "network root key" : issuer.Role.ToWire())} may not certify a {certificate.Role.ToWire()} (certificate {certificate.CertificateId}).");
            }

            if (issuer is { Role: DeviceRole.AuthorityAdministrator } && issuer.AuthorityId != certificate.AuthorityId)
            {
                throw new IssuerNotAllowedException(
                    $"An authority administrator of authority {issuer.AuthorityId} may not certify a device of authority {certificate.AuthorityId}.");
            }

            if (at < certificate.NotBefore)
            {
                throw new CertificateNotYetValidException(certificate.CertificateId, certificate.NotBefore);
            }

            if (at >= certificate.NotAfter)
            {
                throw new CertificateExpiredException(certificate.CertificateId, certificate.NotAfter);
            }

            foreach (var revocation in revocations.For(certificate.CertificateId))
            {
                if (revocation.RevokedAt <= at && revocation.DeviceId == certificate.DeviceId &&
                    IsAuthorisedRevoker(revocation, chain, i, anchors))
                {
                    throw new CertificateRevokedException(certificate.CertificateId, revocation.RevokedAt);
                }
            }
        }

        return new VerifiedDevice([.. chain], at);
    }

    private static bool IsAuthorisedRevoker(Revocation revocation, IReadOnlyList<DeviceCertificate> chain, int index,
        TrustAnchors anchors)
    {
        if (revocation.IssuerDeviceId is null)
        {
            return anchors.Contains(revocation.IssuerSigningKey);
        }

        for (var above = index + 1; above < chain.Count; above++)
        {
            if (chain[above].DeviceId == revocation.IssuerDeviceId && chain[above].SigningKey.Equals(revocation.IssuerSigningKey))
            {
                return true;
            }
        }

        return false;
    }
}
