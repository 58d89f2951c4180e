using GlobeSecure.Client;
using GlobeSecure.Contracts.V1;
using GlobeSecure.Crypto;
using GlobeSecure.EventStore;
using Google.Protobuf;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;

namespace GlobeSecure.Server.Tests.Identity;

/// <summary>One bootstrapped network per test class (its own database): two network administrators and one member authority.</summary>
public sealed class NetworkFixture : IdentityServerFixture
{
    private BootstrappedNetwork? _network;
    private Member? _second;
    private Member? _authorityAdmin;

    /// <summary>The network, bootstrapped on first use; every member gets a fresh session on each call.</summary>
    public async Task<(BootstrappedNetwork Network, Member SecondAdmin, Member AuthorityAdmin)> WorldAsync(NetworkDriver driver)
    {
        if (_network is null)
        {
            _network = await driver.BootstrapAsync();
            _second = await driver.AddNetworkAdministratorAsync(_network);
            _authorityAdmin = await driver.AdmitAuthorityAsync(_network.Administrator, _second);
        }
        else
        {
            foreach (var member in new[] { _network.Administrator, _second!, _authorityAdmin! })
            {
                member.Token = await driver.AuthenticateAsync(member.Device);
            }
        }

        return (_network, _second!, _authorityAdmin!);
    }
}

/// <summary>Invitations, enrolment, certification, authentication, revocation and the directory, through a real channel.</summary>
public sealed class IdentityFlowTests(NetworkFixture server) : IClassFixture<NetworkFixture>, IDisposable
{
    private readonly NetworkDriver _driver = new(server);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose() => _driver.Dispose();

    [Fact]
    public async Task InviteEnrolCertifyAuthenticate_Investigator_WhoAmIAnswersWithTheUser()
    {
        var (_, _, admin) = await server.WorldAsync(_driver);

        var code = await _driver.InviteAsync(admin, Role.Investigator, "Investigator One");
        var investigator = await _driver.EnrolAndCertifyAsync(code, admin, Role.Investigator);
        var me = await _driver.Auth.WhoAmIAsync(new WhoAmIRequest(), investigator.Headers, cancellationToken: Ct);

        Assert.Equal(code.UserId, me.UserId);
        Assert.Equal(investigator.Device.DeviceId.ToString(), me.DeviceId);
        Assert.Equal(admin.AuthorityId.ToString(), me.AuthorityId);
        Assert.Equal(Role.Investigator, me.Role);
        Assert.Equal("Investigator One", me.DisplayName);
        var users = await _driver.Devices.ListUsersAsync(new ListUsersRequest { AuthorityId = admin.AuthorityId.ToString() }, admin.Headers, cancellationToken: Ct);
        Assert.Equal(UserStatus.Active, users.Users.Single(u => u.UserId == code.UserId).Status);
    }

    [Fact]
    public async Task Withdrawal_OpenSessionOfTheAuthority_IsRefusedOnItsNextCallAndCannotBeRenewed()
    {
        var (network, second, _) = await server.WorldAsync(_driver);
        var leaving = await _driver.AdmitAuthorityAsync(network.Administrator, second, $"Leaving {Guid.NewGuid():N}", "SN");
        var investigator = await _driver.EnrolAndCertifyAsync(await _driver.InviteAsync(leaving, Role.Investigator, "Leaving Investigator"), leaving,
            Role.Investigator);
        await _driver.Auth.WhoAmIAsync(new WhoAmIRequest(), investigator.Headers, cancellationToken: Ct);

        await _driver.Membership.WithdrawAsync(new WithdrawRequest { AuthorityId = leaving.AuthorityId.ToString(), Reason = "left the network" },
            network.Administrator.Headers, cancellationToken: Ct);
        var call = await Assert.ThrowsAsync<RpcException>(() =>
            _driver.Auth.WhoAmIAsync(new WhoAmIRequest(), investigator.Headers, cancellationToken: Ct).ResponseAsync);
        var renew = await Assert.ThrowsAnyAsync<Exception>(() => _driver.AuthenticateAsync(investigator.Device));

        Assert.Equal(StatusCode.Unauthenticated, call.StatusCode);
        Assert.Equal(StatusCode.Unauthenticated, Assert.IsType<RpcException>(renew).StatusCode);
    }

    [Fact]
    public async Task InviteUser_AuditorIntoSecretariat_NetworkAdministratorCertifiesIt()
    {
        var (network, _, _) = await server.WorldAsync(_driver);

        var code = await _driver.InviteAsync(network.Administrator, Role.Auditor, "Network Auditor");
        var auditor = await _driver.EnrolAndCertifyAsync(code, network.Administrator, Role.Auditor);
        var me = await _driver.Auth.WhoAmIAsync(new WhoAmIRequest(), auditor.Headers, cancellationToken: Ct);

        Assert.Equal(Role.Auditor, me.Role);
        Assert.Equal(network.SecretariatId.ToString(), me.AuthorityId);
    }

    [Fact]
    public async Task EnrolDevice_BeforeCertification_DeviceIsPendingAndCannotAuthenticate()
    {
        var (_, _, admin) = await server.WorldAsync(_driver);
        var code = await _driver.InviteAsync(admin, Role.Investigator);

        var device = await _driver.EnrolAsync(code);
        var pending = await _driver.Devices.ListDevicesAsync(new ListDevicesRequest { AuthorityId = admin.AuthorityId.ToString(), PendingOnly = true },
            admin.Headers, cancellationToken: Ct);

        Assert.Contains(pending.Devices, d => d.DeviceId == device.DeviceId.ToString() && d.Status == DeviceStatus.Pending);
        var error = await Assert.ThrowsAsync<RpcException>(() => _driver.AuthenticateAsync(device));
        Assert.Equal(StatusCode.Unauthenticated, error.StatusCode);
    }

    [Fact]
    public async Task EnrolDevice_ReusedCode_IsUnauthenticated()
    {
        var (_, _, admin) = await server.WorldAsync(_driver);
        var code = await _driver.InviteAsync(admin, Role.Investigator);
        await _driver.EnrolAsync(code);

        var error = await Assert.ThrowsAsync<RpcException>(() => _driver.EnrolAsync(code));

        Assert.Equal(StatusCode.Unauthenticated, error.StatusCode);
    }

    [Fact]
    public async Task EnrolDevice_UnknownCode_IsUnauthenticatedAndAudited()
    {
        await server.WorldAsync(_driver);

        var error = await Assert.ThrowsAsync<RpcException>(() => _driver.EnrolAsync(new EnrolmentCode { Code = "not-a-code" }));

        Assert.Equal(StatusCode.Unauthenticated, error.StatusCode);
        var audit = await server.Services.GetRequiredService<PostgresEventStore>().ReadAuditAsync(0, 100_000, Ct);
        Assert.Contains(audit, e => e.Entry.Action == "/globesecure.v1.DeviceService/EnrolDevice" && e.Entry.Outcome == AuditOutcome.Denied);
    }

    [Fact]
    public async Task InviteUser_IntoAnotherAuthority_IsPermissionDenied()
    {
        var (network, _, admin) = await server.WorldAsync(_driver);

        var error = await Assert.ThrowsAsync<RpcException>(() => _driver.InviteAsync(admin, Role.Investigator, authorityId: network.SecretariatId));

        Assert.Equal(StatusCode.PermissionDenied, error.StatusCode);
    }

    [Fact]
    public async Task InviteUser_ObserverIntoMemberAuthority_IsInvalidArgument()
    {
        var (_, _, admin) = await server.WorldAsync(_driver);

        var error = await Assert.ThrowsAsync<RpcException>(() => _driver.InviteAsync(admin, Role.Observer));

        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
    }

    [Fact]
    public async Task InviteUser_ObserverOrganisation_OnlyObserversJoin()
    {
        var (network, second, _) = await server.WorldAsync(_driver);
        var admin = await _driver.AdmitAuthorityAsync(network.Administrator, second, "Regional Anti-Corruption Network", "AT", AuthorityKind.ObserverOrganisation);

        var observer = await _driver.EnrolAndCertifyAsync(await _driver.InviteAsync(admin, Role.Observer), admin, Role.Observer);
        var investigator = await Assert.ThrowsAsync<RpcException>(() => _driver.InviteAsync(admin, Role.Investigator));

        Assert.Equal(Role.Observer, (await _driver.Auth.WhoAmIAsync(new WhoAmIRequest(), observer.Headers, cancellationToken: Ct)).Role);
        Assert.Equal(StatusCode.InvalidArgument, investigator.StatusCode);
    }

    [Fact]
    public async Task CertifyDevice_SignedByRandomKeyClaimingTheAdministratorsDevice_IsRefused()
    {
        var (_, _, admin) = await server.WorldAsync(_driver);
        var code = await _driver.InviteAsync(admin, Role.Investigator);
        var device = await _driver.EnrolAsync(code);
        using var forger = SigningKeyPair.Generate();
        var forged = _driver.Issue(device.Public, Guid.Parse(code.UserId), admin.AuthorityId, DeviceRole.Investigator, forger, admin.Device.DeviceId);

        var error = await Assert.ThrowsAsync<RpcException>(() =>
            _driver.Devices.CertifyDeviceAsync(new CertifyDeviceRequest { Certificate = Wire.ToProto(forged) }, admin.Headers, cancellationToken: Ct).ResponseAsync);

        Assert.Equal(StatusCode.PermissionDenied, error.StatusCode);
        var devices = await _driver.Devices.ListDevicesAsync(new ListDevicesRequest { UserId = code.UserId }, admin.Headers, cancellationToken: Ct);
        Assert.Equal(DeviceStatus.Pending, devices.Devices.Single().Status);
    }

    [Fact]
    public async Task CertifyDevice_InvestigatorCertifiedByAnInvestigator_IsPermissionDenied()
    {
        var (_, _, admin) = await server.WorldAsync(_driver);
        var investigator = await _driver.EnrolAndCertifyAsync(await _driver.InviteAsync(admin, Role.Investigator), admin, Role.Investigator);
        var code = await _driver.InviteAsync(admin, Role.Investigator);
        var device = await _driver.EnrolAsync(code);

        var error = await Assert.ThrowsAsync<RpcException>(() =>
            _driver.CertifyAsync(investigator, device.Public, Guid.Parse(code.UserId), admin.AuthorityId, Role.Investigator));

        Assert.Equal(StatusCode.PermissionDenied, error.StatusCode);
    }

    [Fact]
    public async Task RevokeDevice_ByItsIssuer_NextCallOfTheDeviceIsUnauthenticated()
    {
        var (_, _, admin) = await server.WorldAsync(_driver);
        var investigator = await _driver.EnrolAndCertifyAsync(await _driver.InviteAsync(admin, Role.Investigator), admin, Role.Investigator);
        await _driver.Auth.WhoAmIAsync(new WhoAmIRequest(), investigator.Headers, cancellationToken: Ct);

        var revoked = await _driver.Devices.RevokeDeviceAsync(new RevokeDeviceRequest { Revocation = Wire.ToProto(_driver.Revoke(investigator.Certificate, admin)) },
            admin.Headers, cancellationToken: Ct);

        Assert.Equal(DeviceStatus.Revoked, revoked.Status);
        var error = await Assert.ThrowsAsync<RpcException>(() =>
            _driver.Auth.WhoAmIAsync(new WhoAmIRequest(), investigator.Headers, cancellationToken: Ct).ResponseAsync);
        Assert.Equal(StatusCode.Unauthenticated, error.StatusCode);
        var again = await Assert.ThrowsAsync<RpcException>(() => _driver.AuthenticateAsync(investigator.Device));
        Assert.Equal(StatusCode.Unauthenticated, again.StatusCode);
    }

    [Fact]
    public async Task RevokeDevice_SignedByAnUnrelatedInvestigator_IsPermissionDenied()
    {
        var (_, _, admin) = await server.WorldAsync(_driver);
        var victim = await _driver.EnrolAndCertifyAsync(await _driver.InviteAsync(admin, Role.Investigator), admin, Role.Investigator);
        var other = await _driver.EnrolAndCertifyAsync(await _driver.InviteAsync(admin, Role.Investigator), admin, Role.Investigator);

        var error = await Assert.ThrowsAsync<RpcException>(() => _driver.Devices.RevokeDeviceAsync(
            new RevokeDeviceRequest { Revocation = Wire.ToProto(_driver.Revoke(victim.Certificate, other)) }, other.Headers, cancellationToken: Ct).ResponseAsync);

        Assert.Equal(StatusCode.PermissionDenied, error.StatusCode);
    }

    [Fact]
    public async Task RevokeDevice_LostLaptopSignedByTheUsersOtherDevice_OnlyTheLaptopLosesItsSession()
    {
        var (_, _, admin) = await server.WorldAsync(_driver);
        var laptop = await _driver.EnrolAndCertifyAsync(await _driver.InviteAsync(admin, Role.Investigator), admin, Role.Investigator);
        var phone = await _driver.EnrolAndCertifyAsync(await _driver.InviteAsync(admin, Role.Investigator, userId: laptop.UserId), admin, Role.Investigator);

        await _driver.Devices.RevokeDeviceAsync(new RevokeDeviceRequest { Revocation = Wire.ToProto(_driver.Revoke(laptop.Certificate, phone, "laptop lost")) },
            phone.Headers, cancellationToken: Ct);

        var error = await Assert.ThrowsAsync<RpcException>(() =>
            _driver.Auth.WhoAmIAsync(new WhoAmIRequest(), laptop.Headers, cancellationToken: Ct).ResponseAsync);
        Assert.Equal(StatusCode.Unauthenticated, error.StatusCode);
        var me = await _driver.Auth.WhoAmIAsync(new WhoAmIRequest(), phone.Headers, cancellationToken: Ct);
        Assert.Equal(phone.Device.DeviceId.ToString(), me.DeviceId);
    }

    [Fact]
    public async Task RevokeUser_WithRevocationsOfEveryDevice_EndsTheSession()
    {
        var (_, _, admin) = await server.WorldAsync(_driver);
        var investigator = await _driver.EnrolAndCertifyAsync(await _driver.InviteAsync(admin, Role.Investigator), admin, Role.Investigator);
        var request = new RevokeUserRequest { UserId = investigator.UserId.ToString(), Reason = "left the authority" };
        request.Revocations.Add(Wire.ToProto(_driver.Revoke(investigator.Certificate, admin, "left the authority")));

        var user = await _driver.Devices.RevokeUserAsync(request, admin.Headers, cancellationToken: Ct);

        Assert.Equal(UserStatus.Revoked, user.Status);
        var error = await Assert.ThrowsAsync<RpcException>(() =>
            _driver.Auth.WhoAmIAsync(new WhoAmIRequest(), investigator.Headers, cancellationToken: Ct).ResponseAsync);
        Assert.Equal(StatusCode.Unauthenticated, error.StatusCode);
    }

    [Fact]
    public async Task RevokeUser_MissingARevocation_IsInvalidArgumentAndChangesNothing()
    {
        var (_, _, admin) = await server.WorldAsync(_driver);
        var investigator = await _driver.EnrolAndCertifyAsync(await _driver.InviteAsync(admin, Role.Investigator), admin, Role.Investigator);

        var error = await Assert.ThrowsAsync<RpcException>(() => _driver.Devices.RevokeUserAsync(
            new RevokeUserRequest { UserId = investigator.UserId.ToString(), Reason = "left" }, admin.Headers, cancellationToken: Ct).ResponseAsync);

        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        await _driver.Auth.WhoAmIAsync(new WhoAmIRequest(), investigator.Headers, cancellationToken: Ct);
    }

    [Fact]
    public async Task SuspendAuthority_ItsUsersNextCall_IsPermissionDenied_AndTheSessionStaysEndedAfterReinstatement()
    {
        var (network, second, _) = await server.WorldAsync(_driver);
        var admin = await _driver.AdmitAuthorityAsync(network.Administrator, second, "Financial Intelligence Unit", "GH", AuthorityKind.FinancialIntelligenceUnit);
        var investigator = await _driver.EnrolAndCertifyAsync(await _driver.InviteAsync(admin, Role.Investigator), admin, Role.Investigator);
        var authority = admin.AuthorityId.ToString();

        await _driver.Membership.SuspendAsync(new SuspendRequest { AuthorityId = authority, Reason = "under review" },
            network.Administrator.Headers, cancellationToken: Ct);

        var error = await Assert.ThrowsAsync<RpcException>(() =>
            _driver.Auth.WhoAmIAsync(new WhoAmIRequest(), investigator.Headers, cancellationToken: Ct).ResponseAsync);
        Assert.Equal(StatusCode.PermissionDenied, error.StatusCode);
        Assert.Contains("suspended", error.Status.Detail, StringComparison.Ordinal);

        await _driver.Membership.ReinstateAsync(new ReinstateRequest { AuthorityId = authority }, network.Administrator.Headers, cancellationToken: Ct);

        error = await Assert.ThrowsAsync<RpcException>(() =>
            _driver.Auth.WhoAmIAsync(new WhoAmIRequest(), investigator.Headers, cancellationToken: Ct).ResponseAsync);
        Assert.Equal(StatusCode.Unauthenticated, error.StatusCode);
        var token = await _driver.AuthenticateAsync(investigator.Device);
        var again = await _driver.Auth.WhoAmIAsync(new WhoAmIRequest(), new Metadata { { "authorization", $"Bearer {token}" } }, cancellationToken: Ct);
        Assert.Equal(investigator.UserId.ToString(), again.UserId);
    }

    [Fact]
    public async Task SignOut_ThenTheSameToken_IsUnauthenticated()
    {
        var (_, _, admin) = await server.WorldAsync(_driver);
        var investigator = await _driver.EnrolAndCertifyAsync(await _driver.InviteAsync(admin, Role.Investigator), admin, Role.Investigator);

        await _driver.Auth.SignOutAsync(new SignOutRequest(), investigator.Headers, cancellationToken: Ct);

        var error = await Assert.ThrowsAsync<RpcException>(() =>
            _driver.Auth.WhoAmIAsync(new WhoAmIRequest(), investigator.Headers, cancellationToken: Ct).ResponseAsync);
        Assert.Equal(StatusCode.Unauthenticated, error.StatusCode);
    }

    [Fact]
    public async Task ReadLog_WholeLog_LinksVerifyAndTheRootKeyComesFirst()
    {
        var (network, _, admin) = await server.WorldAsync(_driver);
        var investigator = await _driver.EnrolAndCertifyAsync(await _driver.InviteAsync(admin, Role.Investigator), admin, Role.Investigator);
        await _driver.Devices.RevokeDeviceAsync(new RevokeDeviceRequest { Revocation = Wire.ToProto(_driver.Revoke(investigator.Certificate, admin)) },
            admin.Headers, cancellationToken: Ct);

        var before = await _driver.VerifyLogAsync(admin);
        await _driver.RevokeDeviceAsync(admin, (await _driver.EnrolAndCertifyAsync(await _driver.InviteAsync(admin, Role.Auditor), admin, Role.Auditor)).Certificate);
        var after = await _driver.VerifyLogAsync(admin, before);
        var log = await _driver.Directory.ReadLogAsync(new ReadLogRequest(), admin.Headers, cancellationToken: Ct);

        Assert.Equal(log.HeadPosition, after.HeadPosition);
        Assert.Equal(network.RootKey.PublicKey.ToArray(), log.Entries[0].RootKey.ToByteArray());
        Assert.Contains(log.Entries, e => e.Certificate?.CertificateId == investigator.Certificate.CertificateId.ToString());
        Assert.Contains(log.Entries, e => e.Revocation?.CertificateId == investigator.Certificate.CertificateId.ToString());
        var tail = await _driver.Directory.ReadLogAsync(new ReadLogRequest { AfterPosition = 1, MaxEntries = 1 }, admin.Headers, cancellationToken: Ct);
        Assert.Equal(2, tail.Entries.Single().Position);
    }

    [Fact]
    public async Task ReadLog_TamperedEntry_VerifierRefusesIt()
    {
        var (_, _, admin) = await server.WorldAsync(_driver);

        var log = await _driver.Directory.ReadLogAsync(new ReadLogRequest(), admin.Headers, cancellationToken: Ct);
        var entries = log.Entries.Select(Wire.FromProto).ToList();
        entries[1] = entries[1] with { Signature = [.. entries[1].Signature.Reverse()] };

        Assert.Throws<DirectoryLogForkedException>(() => new DirectoryLogVerifier().Extend(entries));
    }

    [Fact]
    public async Task FindDevices_OfAnAuthority_EveryChainVerifiesToThePinnedRoot()
    {
        var (network, _, admin) = await server.WorldAsync(_driver);
        var investigator = await _driver.EnrolAndCertifyAsync(await _driver.InviteAsync(admin, Role.Investigator), admin, Role.Investigator);

        var verified = await _driver.FindVerifiedDevicesAsync(investigator, network, authorityId: admin.AuthorityId);

        Assert.All(verified, device => Assert.Equal(admin.AuthorityId, device.AuthorityId));
        var ofInvestigator = verified.Single(d => d.DeviceId == investigator.Device.DeviceId);
        Assert.Equal(3, ofInvestigator.Chain.Count);
        Assert.Equal(investigator.Device.Public.SigningKey, ofInvestigator.SigningKey);
    }

    [Fact]
    public async Task FindDevices_ChainServedWithAForgedLeaf_ClientRefusesIt()
    {
        var (network, _, admin) = await server.WorldAsync(_driver);
        var found = await _driver.Directory.FindDevicesAsync(new FindDevicesRequest { UserId = admin.UserId.ToString() }, admin.Headers, cancellationToken: Ct);
        var chain = found.Devices.Single().Certificates.Select(Wire.FromProto).ToList();
        using var serverKey = SigningKeyPair.Generate();
        using var injected = DeviceKeys.Generate(Guid.CreateVersion7());

        // What a malicious server would have to serve to slip its own key in: a leaf it signed itself.
        chain[0] = _driver.Issue(injected.Public, admin.UserId, admin.AuthorityId, DeviceRole.AuthorityAdministrator, serverKey, chain[1].DeviceId);

        Assert.ThrowsAny<GlobeCryptoException>(() => Crypto.CertificateChain.Verify(chain, network.Anchors, _driver.Now));
    }

    [Fact]
    public async Task GetNetwork_AfterBootstrap_ServesTheRootKeyAndFingerprint()
    {
        var (network, _, _) = await server.WorldAsync(_driver);

        var served = await _driver.Network.GetNetworkAsync(new GetNetworkRequest(), cancellationToken: Ct);

        Assert.Equal(network.Name, served.Name);
        Assert.Equal(network.RootKey.PublicKey.ToArray(), served.RootKeys.Single().PublicKey.ToByteArray());
        Assert.Equal(network.RootKey.PublicKey.Fingerprint, served.RootKeys.Single().Fingerprint);
    }

    [Fact]
    public async Task CompleteAuthentication_SameChallengeTwice_SecondIsUnauthenticated()
    {
        var (_, _, admin) = await server.WorldAsync(_driver);
        var challenge = await _driver.Auth.BeginAuthenticationAsync(new BeginAuthenticationRequest { DeviceId = admin.Device.DeviceId.ToString() }, cancellationToken: Ct);
        var answer = new CompleteAuthenticationRequest
        {
            ChallengeId = challenge.ChallengeId,
            DeviceId = admin.Device.DeviceId.ToString(),
            Signature = ByteString.CopyFrom(AuthChallenge.Sign(admin.Device, challenge.Challenge_.Span, challenge.Audience, challenge.IssuedAt.ToDateTimeOffset())),
        };

        await _driver.Auth.CompleteAuthenticationAsync(answer, cancellationToken: Ct);
        var error = await Assert.ThrowsAsync<RpcException>(() => _driver.Auth.CompleteAuthenticationAsync(answer, cancellationToken: Ct).ResponseAsync);

        Assert.Equal(StatusCode.Unauthenticated, error.StatusCode);
    }
}
