namespace GlobeSecure.Crypto.Tests;

/// <summary>A device with its private keys, its certificate and the chain up to the root (leaf first).</summary>
internal sealed record TestDevice(DeviceKeys Keys, Guid UserId, Guid AuthorityId, DeviceRole Role, IReadOnlyList<DeviceCertificate> Chain)
{
    public Guid DeviceId => Keys.DeviceId;

    public DeviceCertificate Certificate => Chain[0];

    public SigningKeyPair Signing => Keys.Signing;
}

/// <summary>
/// A small network: one root key, one network administrator device and, on demand, authority
/// administrators and user devices, all with real certificates. Times are fixed so that tests
/// never depend on the clock.
/// </summary>
internal sealed class TestPki
{
    public static readonly DateTimeOffset Now = new(2026, 6, 1, 12, 0, 0, TimeSpan.Zero);
    public static readonly DateTimeOffset NotBefore = Now.AddDays(-30);
    public static readonly DateTimeOffset NotAfter = Now.AddDays(365);

    private readonly Dictionary<Guid, TestDevice> _authorityAdmins = [];

    public TestPki()
    {
        Root = SigningKeyPair.Generate();
        Anchors = new TrustAnchors([Root.PublicKey]);
        NetworkAuthorityId = Guid.CreateVersion7();
        NetworkAdmin = Enrol(DeviceRole.NetworkAdministrator, NetworkAuthorityId, issuer: null);
    }

    public SigningKeyPair Root { get; }

    public TrustAnchors Anchors { get; }

    /// <summary>The authority id network-level devices carry.</summary>
    public Guid NetworkAuthorityId { get; }

    public TestDevice NetworkAdmin { get; }

    /// <summary>The authority's administrator device (one per authority, created on first use).</summary>
    public TestDevice AuthorityAdmin(Guid authorityId)
    {
        if (!_authorityAdmins.TryGetValue(authorityId, out var admin))
        {
            _authorityAdmins[authorityId] = admin = Enrol(DeviceRole.AuthorityAdministrator, authorityId, NetworkAdmin);
        }

        return admin;
    }

    public TestDevice Investigator(Guid authorityId) => Enrol(DeviceRole.Investigator, authorityId, AuthorityAdmin(authorityId));

    public TestDevice Auditor(Guid authorityId) => Enrol(DeviceRole.Auditor, authorityId, AuthorityAdmin(authorityId));

    public TestDevice Observer(Guid authorityId) => Enrol(DeviceRole.Observer, authorityId, AuthorityAdmin(authorityId));

    public TestDevice PartnerTool(Guid authorityId) => Enrol(DeviceRole.PartnerTool, authorityId, AuthorityAdmin(authorityId));

    /// <summary>An auditor certified directly by the network administrator.</summary>
    public TestDevice NetworkAuditor() => Enrol(DeviceRole.Auditor, NetworkAuthorityId, NetworkAdmin);

    /// <summary>
    /// A new device with a certificate issued by <paramref name="issuer"/> (null: the root key),
    /// whether or not the rules allow it: negative tests build forbidden chains this way.
    /// </summary>
    public TestDevice Enrol(DeviceRole role, Guid authorityId, TestDevice? issuer, Guid? userId = null,
        DateTimeOffset? notBefore = null, DateTimeOffset? notAfter = null)
    {
        var keys = DeviceKeys.Generate(Guid.CreateVersion7());
        var user = userId ?? Guid.CreateVersion7();
        var certificate = DeviceCertificate.Issue(Guid.CreateVersion7(), keys.Public, user, authorityId, role,
            notBefore ?? NotBefore, notAfter ?? NotAfter, issuer?.Signing ?? Root, issuer?.DeviceId);
        IReadOnlyList<DeviceCertificate> chain = issuer is null ? [certificate] : [certificate, .. issuer.Chain];
        return new TestDevice(keys, user, authorityId, role, chain);
    }

    public VerifiedDevice Verify(TestDevice device, RevocationSet? revocations = null) =>
        CertificateChain.Verify(device.Chain, Anchors, Now, revocations);

    public VerifiedDevice Verify(IReadOnlyList<DeviceCertificate> chain, RevocationSet? revocations = null) =>
        CertificateChain.Verify(chain, Anchors, Now, revocations);
}

/// <summary>Small byte helpers for tampering.</summary>
internal static class Bytes
{
    public static byte[] FlipBit(byte[] value, int index, int bit = 0)
    {
        var copy = (byte[])value.Clone();
        copy[index] ^= (byte)(1 << bit);
        return copy;
    }

    public static byte[] Random(int length)
    {
        var bytes = new byte[length];
        System.Security.Cryptography.RandomNumberGenerator.Fill(bytes);
        return bytes;
    }
}
