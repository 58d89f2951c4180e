namespace GlobeSecure.Crypto.Tests;

public sealed class CertificateChainTests
{
    private readonly TestPki _pki = new();
    private readonly Guid _authority = Guid.CreateVersion7();

    public static TheoryData<string> SignedFields =>
    [
        "certificate-id", "device-id", "user-id", "authority-id", "role", "signing-key", "box-key", "not-before", "not-after",
        "issuer-device-id", "issuer-key",
    ];

    private static DeviceCertificate Change(DeviceCertificate certificate, string field)
    {
        var stranger = SigningKeyPair.Generate().PublicKey;
        return field switch
        {
            "certificate-id" => certificate with { CertificateId = Guid.NewGuid() },
            "device-id" => certificate with { DeviceId = Guid.NewGuid() },
            "user-id" => certificate with { UserId = Guid.NewGuid() },
            "authority-id" => certificate with { AuthorityId = Guid.NewGuid() },
            "role" => certificate with { Role = certificate.Role == DeviceRole.Auditor ? DeviceRole.Observer : DeviceRole.Auditor },
            "signing-key" => certificate with { SigningKey = stranger },
            "box-key" => certificate with { BoxKey = BoxKeyPair.Generate().PublicKey },
            "not-before" => certificate with { NotBefore = certificate.NotBefore.AddMicroseconds(-1) },
            "not-after" => certificate with { NotAfter = certificate.NotAfter.AddDays(1) },
            "issuer-device-id" => certificate with { IssuerDeviceId = certificate.IssuerDeviceId is null ? Guid.NewGuid() : null },
            "issuer-key" => certificate with { IssuerSigningKey = stranger },
            _ => throw new ArgumentOutOfRangeException(nameof(field)),
        };
    }

    private static IReadOnlyList<DeviceCertificate> Replace(IReadOnlyList<DeviceCertificate> chain, int index, DeviceCertificate certificate)
    {
        var copy = chain.ToArray();
        copy[index] = certificate;
        return copy;
    }

    // ---- round trips -------------------------------------------------------------------------

    [Fact]
    public void Verify_RootToNetworkAdmin_Succeeds()
    {
        var verified = _pki.Verify(_pki.NetworkAdmin);

        Assert.Equal(DeviceRole.NetworkAdministrator, verified.Role);
        Assert.Single(verified.Chain);
        Assert.Null(verified.Certificate.IssuerDeviceId);
    }

    [Fact]
    public void Verify_NetworkAdminToAuthorityAdmin_Succeeds()
    {
        var admin = _pki.AuthorityAdmin(_authority);

        var verified = _pki.Verify(admin);

        Assert.Equal(DeviceRole.AuthorityAdministrator, verified.Role);
        Assert.Equal(_authority, verified.AuthorityId);
        Assert.Equal(2, verified.Chain.Count);
    }

    [Fact]
    public void Verify_NetworkAdminToAuditor_Succeeds()
    {
        var auditor = _pki.NetworkAuditor();

        var verified = _pki.Verify(auditor);

        Assert.Equal(DeviceRole.Auditor, verified.Role);
        Assert.Equal(2, verified.Chain.Count);
    }

    [Theory]
    [InlineData(DeviceRole.Investigator)]
    [InlineData(DeviceRole.Auditor)]
    [InlineData(DeviceRole.Observer)]
    [InlineData(DeviceRole.PartnerTool)]
    public void Verify_AuthorityAdminToUserDevice_SucceedsWithEveryField(DeviceRole role)
    {
        var device = _pki.Enrol(role, _authority, _pki.AuthorityAdmin(_authority));

        var verified = _pki.Verify(device);

        Assert.Equal(3, verified.Chain.Count);
        Assert.Equal(device.DeviceId, verified.DeviceId);
        Assert.Equal(device.UserId, verified.UserId);
        Assert.Equal(_authority, verified.AuthorityId);
        Assert.Equal(role, verified.Role);
        Assert.Equal(device.Keys.Signing.PublicKey, verified.SigningKey);
        Assert.Equal(device.Keys.Box.PublicKey, verified.BoxKey);
        Assert.Equal(TestPki.Now, verified.VerifiedAt);
        Assert.True(device.Certificate.HasValidSignature());
    }

    [Fact]
    public void Verify_ChainFromSecondPinnedRoot_Succeeds()
    {
        var other = new TestPki();
        var anchors = new TrustAnchors([_pki.Root.PublicKey, other.Root.PublicKey]);

        var verified = CertificateChain.Verify(other.Investigator(_authority).Chain, anchors, TestPki.Now);

        Assert.Equal(DeviceRole.Investigator, verified.Role);
    }

    [Fact]
    public void TrustAnchors_NoRoots_ThrowsArgumentException()
    {
        Assert.Throws<ArgumentException>(() => new TrustAnchors([]));
    }

    [Fact]
    public void Issue_TruncatesTimesToMicroseconds_SoTheyRoundTripThroughStorage()
    {
        var keys = DeviceKeys.Generate(Guid.NewGuid());
        var certificate = DeviceCertificate.Issue(Guid.NewGuid(), keys.Public, Guid.NewGuid(), _authority, DeviceRole.NetworkAdministrator,
            TestPki.NotBefore.AddTicks(3), TestPki.NotAfter.AddTicks(9), _pki.Root, null);

        Assert.Equal(TestPki.NotBefore, certificate.NotBefore);
        Assert.Equal(TestPki.NotAfter, certificate.NotAfter);
        Assert.True(certificate.HasValidSignature());
    }

    [Fact]
    public void ToString_NamesIdsOnly()
    {
        var device = _pki.Investigator(_authority);

        var text = device.Certificate.ToString();

        Assert.Contains(device.Certificate.CertificateId.ToString(), text, StringComparison.Ordinal);
        Assert.DoesNotContain(Convert.ToHexStringLower(device.Certificate.Signature), text, StringComparison.Ordinal);
    }

    // ---- signed fields ----------------------------------------------------------------------

    [Theory]
    [MemberData(nameof(SignedFields))]
    public void Verify_LeafFieldChanged_ThrowsSignatureInvalid(string field)
    {
        var device = _pki.Investigator(_authority);
        var chain = Replace(device.Chain, 0, Change(device.Certificate, field));

        // The walk checks each certificate's signature before its link, role and validity.
        var error = Assert.Throws<SignatureInvalidException>(() => _pki.Verify(chain));
        Assert.Equal("certificate", error.ObjectKind);
    }

    [Theory]
    [MemberData(nameof(SignedFields))]
    public void Verify_IntermediateFieldChanged_ThrowsSignatureInvalid(string field)
    {
        var device = _pki.Investigator(_authority);
        var chain = Replace(device.Chain, 1, Change(device.Chain[1], field));

        Assert.Throws<SignatureInvalidException>(() => _pki.Verify(chain));
    }

    [Theory]
    [MemberData(nameof(SignedFields))]
    public void Verify_TopFieldChanged_ThrowsSignatureInvalidOrUntrustedRoot(string field)
    {
        var device = _pki.Investigator(_authority);
        var chain = Replace(device.Chain, 2, Change(device.Chain[2], field));

        // The top's issuer is checked against the pinned roots before any signature.
        if (field is "issuer-device-id" or "issuer-key")
        {
            Assert.Throws<UntrustedRootException>(() => _pki.Verify(chain));
        }
        else
        {
            Assert.Throws<SignatureInvalidException>(() => _pki.Verify(chain));
        }
    }

    [Fact]
    public void Verify_UndefinedRole_ThrowsMalformedInput()
    {
        var device = _pki.Investigator(_authority);
        var chain = Replace(device.Chain, 0, device.Certificate with { Role = (DeviceRole)99 });

        Assert.Throws<MalformedInputException>(() => _pki.Verify(chain));
    }

    [Theory]
    [InlineData(0, 0)]
    [InlineData(31, 7)]
    [InlineData(63, 7)]
    public void Verify_SignatureBitFlipped_ThrowsSignatureInvalid(int index, int bit)
    {
        var device = _pki.Investigator(_authority);
        var chain = Replace(device.Chain, 0, device.Certificate with { Signature = Bytes.FlipBit(device.Certificate.Signature, index, bit) });

        Assert.Throws<SignatureInvalidException>(() => _pki.Verify(chain));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(63)]
    [InlineData(65)]
    public void Verify_SignatureOfWrongLength_ThrowsSignatureInvalid(int length)
    {
        var device = _pki.Investigator(_authority);
        var signature = new byte[length];
        device.Certificate.Signature.AsSpan(0, Math.Min(length, 64)).CopyTo(signature);
        var chain = Replace(device.Chain, 0, device.Certificate with { Signature = signature });

        Assert.Throws<SignatureInvalidException>(() => _pki.Verify(chain));
    }

    [Fact]
    public void Verify_SignedByKeyOutsideChainButNamingTheAdmin_ThrowsSignatureInvalid()
    {
        var device = _pki.Investigator(_authority);
        using var stranger = SigningKeyPair.Generate();
        var forged = device.Certificate with { Signature = stranger.Sign(device.Certificate.SigningInput()) };

        Assert.Throws<SignatureInvalidException>(() => _pki.Verify(Replace(device.Chain, 0, forged)));
    }

    [Fact]
    public void Verify_SignedByKeyOutsideChainNamingItself_ThrowsChainBroken()
    {
        var admin = _pki.AuthorityAdmin(_authority);
        using var keys = DeviceKeys.Generate(Guid.NewGuid());
        using var stranger = SigningKeyPair.Generate();
        // The stranger claims to be the admin's device but signs (validly) with its own key.
        var forged = DeviceCertificate.Issue(Guid.NewGuid(), keys.Public, Guid.NewGuid(), _authority, DeviceRole.Investigator,
            TestPki.NotBefore, TestPki.NotAfter, stranger, admin.DeviceId);

        Assert.Throws<CertificateChainBrokenException>(() => _pki.Verify([forged, .. admin.Chain]));
    }

    // ---- chain shape ------------------------------------------------------------------------

    [Fact]
    public void Verify_ChainFromAnotherRoot_ThrowsUntrustedRoot()
    {
        var other = new TestPki();

        Assert.Throws<UntrustedRootException>(() => _pki.Verify(other.Investigator(_authority)));
    }

    [Fact]
    public void Verify_ChainMissingItsTop_ThrowsUntrustedRoot()
    {
        var device = _pki.Investigator(_authority);

        Assert.Throws<UntrustedRootException>(() => _pki.Verify(device.Chain.Take(2).ToArray()));
        Assert.Throws<UntrustedRootException>(() => _pki.Verify([device.Certificate]));
    }

    [Fact]
    public void Verify_ChainReversed_ThrowsUntrustedRoot()
    {
        var device = _pki.Investigator(_authority);

        Assert.Throws<UntrustedRootException>(() => _pki.Verify(device.Chain.Reverse().ToArray()));
    }

    [Fact]
    public void Verify_RootNamedWithADeviceId_ThrowsUntrustedRoot()
    {
        using var keys = DeviceKeys.Generate(Guid.NewGuid());
        var certificate = DeviceCertificate.Issue(Guid.NewGuid(), keys.Public, Guid.NewGuid(), _authority, DeviceRole.NetworkAdministrator,
            TestPki.NotBefore, TestPki.NotAfter, _pki.Root, Guid.NewGuid());

        Assert.Throws<UntrustedRootException>(() => _pki.Verify([certificate]));
    }

    [Fact]
    public void Verify_WrongIssuerLink_ThrowsChainBroken()
    {
        var device = _pki.Investigator(_authority);
        var otherAdmin = _pki.AuthorityAdmin(Guid.CreateVersion7());

        Assert.Throws<CertificateChainBrokenException>(() => _pki.Verify([device.Certificate, .. otherAdmin.Chain]));
    }

    [Fact]
    public void Verify_IssuerDeviceRightButKeyDifferent_ThrowsChainBroken()
    {
        var admin = _pki.AuthorityAdmin(_authority);
        // A second certificate for the admin's device id, with other keys, issued by the NA.
        using var impostorKeys = DeviceKeys.FromPrivateKeys(admin.DeviceId, Bytes.Random(32), Bytes.Random(32));
        var impostorCertificate = DeviceCertificate.Issue(Guid.NewGuid(), impostorKeys.Public, admin.UserId, _authority,
            DeviceRole.AuthorityAdministrator, TestPki.NotBefore, TestPki.NotAfter, _pki.NetworkAdmin.Signing, _pki.NetworkAdmin.DeviceId);
        var device = _pki.Investigator(_authority);

        Assert.Throws<CertificateChainBrokenException>(
            () => _pki.Verify([device.Certificate, impostorCertificate, _pki.NetworkAdmin.Certificate]));
    }

    [Fact]
    public void Verify_EmptyChain_ThrowsChainBroken()
    {
        Assert.Throws<CertificateChainBrokenException>(() => _pki.Verify([]));
    }

    [Fact]
    public void Verify_ChainLongerThanThree_ThrowsChainBroken()
    {
        var investigator = _pki.Investigator(_authority);
        var below = _pki.Enrol(DeviceRole.Observer, _authority, investigator);

        Assert.Equal(4, below.Chain.Count);
        Assert.Throws<CertificateChainBrokenException>(() => _pki.Verify(below));
    }

    // ---- validity window ----------------------------------------------------------------------

    [Fact]
    public void Verify_AtNotAfter_ThrowsExpired()
    {
        var device = _pki.Investigator(_authority);

        var error = Assert.Throws<CertificateExpiredException>(
            () => CertificateChain.Verify(device.Chain, _pki.Anchors, TestPki.NotAfter));
        Assert.Equal(_pki.NetworkAdmin.Certificate.CertificateId, error.CertificateId);
    }

    [Fact]
    public void Verify_LeafExpiredBeforeItsIssuers_ThrowsExpiredNamingTheLeaf()
    {
        var device = _pki.Enrol(DeviceRole.Investigator, _authority, _pki.AuthorityAdmin(_authority),
            notBefore: TestPki.Now.AddDays(-2), notAfter: TestPki.Now);

        var error = Assert.Throws<CertificateExpiredException>(() => _pki.Verify(device));
        Assert.Equal(device.Certificate.CertificateId, error.CertificateId);
        _ = CertificateChain.Verify(device.Chain, _pki.Anchors, TestPki.Now.AddMicroseconds(-1));
    }

    [Fact]
    public void Verify_IntermediateExpired_ThrowsExpiredNamingTheIntermediate()
    {
        var admin = _pki.Enrol(DeviceRole.AuthorityAdministrator, _authority, _pki.NetworkAdmin,
            notBefore: TestPki.Now.AddDays(-2), notAfter: TestPki.Now.AddDays(-1));
        var device = _pki.Enrol(DeviceRole.Investigator, _authority, admin);

        var error = Assert.Throws<CertificateExpiredException>(() => _pki.Verify(device));
        Assert.Equal(admin.Certificate.CertificateId, error.CertificateId);
    }

    [Fact]
    public void Verify_BeforeNotBefore_ThrowsNotYetValid()
    {
        var device = _pki.Enrol(DeviceRole.Investigator, _authority, _pki.AuthorityAdmin(_authority),
            notBefore: TestPki.Now.AddMicroseconds(1), notAfter: TestPki.NotAfter);

        var error = Assert.Throws<CertificateNotYetValidException>(() => _pki.Verify(device));
        Assert.Equal(device.Certificate.CertificateId, error.CertificateId);
        _ = CertificateChain.Verify(device.Chain, _pki.Anchors, TestPki.Now.AddMicroseconds(1));
    }

    [Fact]
    public void Issue_NotAfterNotLaterThanNotBefore_ThrowsMalformedInput()
    {
        using var keys = DeviceKeys.Generate(Guid.NewGuid());

        Assert.Throws<MalformedInputException>(() => DeviceCertificate.Issue(Guid.NewGuid(), keys.Public, Guid.NewGuid(), _authority,
            DeviceRole.NetworkAdministrator, TestPki.Now, TestPki.Now, _pki.Root, null));
    }

    // ---- revocation -------------------------------------------------------------------------

    private Revocation Revoke(DeviceCertificate certificate, SigningKeyPair key, Guid? issuerDeviceId, DateTimeOffset? at = null) =>
        Revocation.Issue(Guid.NewGuid(), certificate, at ?? TestPki.Now.AddHours(-1), "lost", key, issuerDeviceId);

    [Fact]
    public void Verify_RevokedByIssuer_ThrowsRevoked()
    {
        var admin = _pki.AuthorityAdmin(_authority);
        var device = _pki.Investigator(_authority);
        var revocations = RevocationSet.Empty.Add(Revoke(device.Certificate, admin.Signing, admin.DeviceId));

        var error = Assert.Throws<CertificateRevokedException>(() => _pki.Verify(device, revocations));
        Assert.Equal(device.Certificate.CertificateId, error.CertificateId);
    }

    [Fact]
    public void Verify_RevokedByRoot_ThrowsRevoked()
    {
        var device = _pki.Investigator(_authority);
        var revocations = RevocationSet.Empty.Add(Revoke(device.Certificate, _pki.Root, null));

        Assert.Throws<CertificateRevokedException>(() => _pki.Verify(device, revocations));
    }

    [Fact]
    public void Verify_RevokedByAncestorAboveTheIssuer_ThrowsRevoked()
    {
        var device = _pki.Investigator(_authority);
        var revocations = RevocationSet.Empty.Add(Revoke(device.Certificate, _pki.NetworkAdmin.Signing, _pki.NetworkAdmin.DeviceId));

        Assert.Throws<CertificateRevokedException>(() => _pki.Verify(device, revocations));
    }

    [Fact]
    public void Verify_IntermediateRevoked_ThrowsRevokedNamingTheIntermediate()
    {
        var admin = _pki.AuthorityAdmin(_authority);
        var device = _pki.Investigator(_authority);
        var revocations = RevocationSet.Empty.Add(Revoke(admin.Certificate, _pki.NetworkAdmin.Signing, _pki.NetworkAdmin.DeviceId));

        var error = Assert.Throws<CertificateRevokedException>(() => _pki.Verify(device, revocations));
        Assert.Equal(admin.Certificate.CertificateId, error.CertificateId);
    }

    [Fact]
    public void Verify_RevokedExactlyAtVerificationTime_ThrowsRevoked()
    {
        var device = _pki.Investigator(_authority);
        var revocations = RevocationSet.Empty.Add(Revoke(device.Certificate, _pki.Root, null, at: TestPki.Now));

        Assert.Throws<CertificateRevokedException>(() => _pki.Verify(device, revocations));
    }

    [Fact]
    public void Verify_RevocationEffectiveAfterVerificationTime_DoesNotRevoke()
    {
        var device = _pki.Investigator(_authority);
        var revocations = RevocationSet.Empty.Add(Revoke(device.Certificate, _pki.Root, null, at: TestPki.Now.AddMicroseconds(1)));

        Assert.Equal(device.DeviceId, _pki.Verify(device, revocations).DeviceId);
        Assert.Throws<CertificateRevokedException>(
            () => CertificateChain.Verify(device.Chain, _pki.Anchors, TestPki.Now.AddMicroseconds(1), revocations));
    }

    [Fact]
    public void Verify_RevocationByUnrelatedKey_IsIgnored()
    {
        var device = _pki.Investigator(_authority);
        var sibling = _pki.Investigator(_authority);
        var otherAdmin = _pki.AuthorityAdmin(Guid.CreateVersion7());
        using var stranger = SigningKeyPair.Generate();
        var revocations = RevocationSet.Empty
            .Add(Revoke(device.Certificate, sibling.Signing, sibling.DeviceId))
            .Add(Revoke(device.Certificate, otherAdmin.Signing, otherAdmin.DeviceId))
            .Add(Revoke(device.Certificate, stranger, null))
            .Add(Revoke(device.Certificate, device.Signing, device.DeviceId))
            // Names the real admin's device but is signed by another key.
            .Add(Revoke(device.Certificate, stranger, _pki.AuthorityAdmin(_authority).DeviceId));

        Assert.Equal(device.DeviceId, _pki.Verify(device, revocations).DeviceId);
    }

    [Fact]
    public void Verify_RevocationNamingAnotherDevice_IsIgnored()
    {
        var device = _pki.Investigator(_authority);
        var revocation = Revoke(device.Certificate, _pki.Root, null) with { DeviceId = Guid.NewGuid() };
        var resigned = revocation with { Signature = _pki.Root.Sign(revocation.SigningInput()) };

        Assert.Equal(device.DeviceId, _pki.Verify(device, RevocationSet.Empty.Add(resigned)).DeviceId);
    }

    [Theory]
    [InlineData("revocation-id")]
    [InlineData("certificate-id")]
    [InlineData("device-id")]
    [InlineData("revoked-at")]
    [InlineData("reason")]
    [InlineData("issuer-device-id")]
    [InlineData("issuer-key")]
    [InlineData("signature")]
    public void RevocationSetAdd_FieldChangedAfterSigning_ThrowsSignatureInvalid(string field)
    {
        var device = _pki.Investigator(_authority);
        var revocation = Revoke(device.Certificate, _pki.Root, null);
        var changed = field switch
        {
            "revocation-id" => revocation with { RevocationId = Guid.NewGuid() },
            "certificate-id" => revocation with { CertificateId = Guid.NewGuid() },
            "device-id" => revocation with { DeviceId = Guid.NewGuid() },
            "revoked-at" => revocation with { RevokedAt = revocation.RevokedAt.AddMicroseconds(-1) },
            "reason" => revocation with { Reason = "lost." },
            "issuer-device-id" => revocation with { IssuerDeviceId = Guid.NewGuid() },
            "issuer-key" => revocation with { IssuerSigningKey = _pki.NetworkAdmin.Signing.PublicKey },
            _ => revocation with { Signature = Bytes.FlipBit(revocation.Signature, 0) },
        };

        var error = Assert.Throws<SignatureInvalidException>(() => RevocationSet.Empty.Add(changed));
        Assert.Equal("revocation", error.ObjectKind);
    }

    // ---- who may certify whom ---------------------------------------------------------------

    [Fact]
    public void Verify_InvestigatorCertifiedByRoot_ThrowsIssuerNotAllowed()
    {
        var investigator = _pki.Enrol(DeviceRole.Investigator, _authority, issuer: null);
        var below = _pki.Enrol(DeviceRole.Observer, _authority, investigator);

        // An investigator can never sit inside a trusted chain: its own certificate is refused first.
        var error = Assert.Throws<IssuerNotAllowedException>(() => _pki.Verify(below));
        Assert.Contains(investigator.Certificate.CertificateId.ToString(), error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Verify_InvestigatorCertifyingADevice_ThrowsIssuerNotAllowed()
    {
        var investigator = _pki.Enrol(DeviceRole.Investigator, _authority, _pki.NetworkAdmin);
        var below = _pki.Enrol(DeviceRole.Observer, _authority, investigator);

        Assert.Throws<IssuerNotAllowedException>(() => _pki.Verify(below));
        Assert.False(DeviceRoles.MayIssue(DeviceRole.Investigator, DeviceRole.Observer));
    }

    [Fact]
    public void Verify_AuthorityAdminCertifyingAuthorityAdmin_ThrowsIssuerNotAllowed()
    {
        var second = _pki.Enrol(DeviceRole.AuthorityAdministrator, _authority, _pki.AuthorityAdmin(_authority));

        var error = Assert.Throws<IssuerNotAllowedException>(() => _pki.Verify(second));
        Assert.Contains(second.Certificate.CertificateId.ToString(), error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Verify_NetworkAdminCertifyingInvestigator_ThrowsIssuerNotAllowed()
    {
        var investigator = _pki.Enrol(DeviceRole.Investigator, _authority, _pki.NetworkAdmin);

        Assert.Throws<IssuerNotAllowedException>(() => _pki.Verify(investigator));
    }

    [Fact]
    public void Verify_NetworkAdminCertifyingNetworkAdmin_ThrowsIssuerNotAllowed()
    {
        var second = _pki.Enrol(DeviceRole.NetworkAdministrator, _pki.NetworkAuthorityId, _pki.NetworkAdmin);

        Assert.Throws<IssuerNotAllowedException>(() => _pki.Verify(second));
    }

    [Fact]
    public void Verify_RootCertifyingAuthorityAdmin_ThrowsIssuerNotAllowed()
    {
        var admin = _pki.Enrol(DeviceRole.AuthorityAdministrator, _authority, issuer: null);

        Assert.Throws<IssuerNotAllowedException>(() => _pki.Verify(admin));
    }

    [Fact]
    public void Verify_AuthorityAdminCertifyingAnotherAuthoritysDevice_ThrowsIssuerNotAllowed()
    {
        var device = _pki.Enrol(DeviceRole.Investigator, Guid.CreateVersion7(), _pki.AuthorityAdmin(_authority));

        var error = Assert.Throws<IssuerNotAllowedException>(() => _pki.Verify(device));
        Assert.Contains(_authority.ToString(), error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void MayIssue_EveryPair_FollowsTheDocumentedRule()
    {
        var allowed = new HashSet<(DeviceRole?, DeviceRole)>
        {
            (null, DeviceRole.NetworkAdministrator),
            (DeviceRole.NetworkAdministrator, DeviceRole.AuthorityAdministrator),
            (DeviceRole.NetworkAdministrator, DeviceRole.Auditor),
            (DeviceRole.AuthorityAdministrator, DeviceRole.Investigator),
            (DeviceRole.AuthorityAdministrator, DeviceRole.Auditor),
            (DeviceRole.AuthorityAdministrator, DeviceRole.Observer),
            (DeviceRole.AuthorityAdministrator, DeviceRole.PartnerTool),
        };
        var issuers = new DeviceRole?[] { null }.Concat(Enum.GetValues<DeviceRole>().Cast<DeviceRole?>());

        foreach (var issuer in issuers)
        {
            foreach (var subject in Enum.GetValues<DeviceRole>())
            {
                Assert.Equal(allowed.Contains((issuer, subject)), DeviceRoles.MayIssue(issuer, subject));
            }
        }
    }

    [Fact]
    public void RoleWireNames_RoundTrip_AndUnknownNamesAreRejected()
    {
        foreach (var role in Enum.GetValues<DeviceRole>())
        {
            Assert.Equal(role, DeviceRoles.FromWire(role.ToWire()));
        }

        Assert.Throws<MalformedInputException>(() => DeviceRoles.FromWire("Investigator"));
        Assert.Throws<MalformedInputException>(() => DeviceRoles.FromWire(""));
        Assert.Throws<MalformedInputException>(() => ((DeviceRole)0).ToWire());
    }

    [Fact]
    public void Issue_BoxKeyNotSignedByTheDevice_ThrowsSignatureInvalid()
    {
        using var keys = DeviceKeys.Generate(Guid.NewGuid());
        using var other = DeviceKeys.Generate(Guid.NewGuid());
        var paired = keys.Public with { BoxKey = other.Box.PublicKey };

        var error = Assert.Throws<SignatureInvalidException>(() => DeviceCertificate.Issue(Guid.NewGuid(), paired, Guid.NewGuid(),
            _authority, DeviceRole.NetworkAdministrator, TestPki.NotBefore, TestPki.NotAfter, _pki.Root, null));
        Assert.Equal("box-key", error.ObjectKind);
    }
}
