using GlobeSecure.Contracts.V1;
using GlobeSecure.Crypto;
using GlobeSecure.EventStore;
using GlobeSecure.Server.Identity;
using GlobeSecure.Server.Tests.Identity;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;

namespace GlobeSecure.Server.Tests;

/// <summary>
/// Issue 4's whole story, end to end through real gRPC against real PostgreSQL: bootstrap → two
/// authorities apply → four-eyes approval → authority administrators enrol → they invite
/// investigators → devices enrol, are certified and authenticate → directory lookups verify;
/// then the refusals.
/// </summary>
public sealed class NetworkStoryTests(IdentityServerFixture server) : IClassFixture<IdentityServerFixture>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static async Task<StatusCode> FailsWithAsync(Func<Task> call) =>
        (await Assert.ThrowsAsync<RpcException>(call)).StatusCode;

    private static ApplyRequest Application(string name, string country, AuthorityKind kind) => new()
    {
        AuthorityId = Guid.CreateVersion7().ToString(),
        Name = name,
        Country = country,
        Kind = kind,
        LegalBasis = "Specialised body under UNCAC art. 36.",
        FocalPoint = new FocalPoint { Name = $"Focal point of {name}", Email = "focal@example.org" },
    };

    [Fact]
    public async Task Network_FromBootstrapToVerifiedDirectory_WithEveryRefusal()
    {
        using var driver = new NetworkDriver(server);

        // Bootstrap, and a second network administrator certified with the root key (four eyes).
        var network = await driver.BootstrapAsync();
        var first = network.Administrator;
        var second = await driver.AddNetworkAdministratorAsync(network);

        // Two authorities apply, with no account.
        var kenya = Application("Ethics and Anti-Corruption Commission", "KE", AuthorityKind.AntiCorruptionAgency);
        var ghana = Application("Financial Intelligence Centre", "GH", AuthorityKind.FinancialIntelligenceUnit);
        await driver.Membership.ApplyAsync(kenya, cancellationToken: Ct);
        await driver.Membership.ApplyAsync(ghana, cancellationToken: Ct);

        // Approval by two different administrators; the same administrator twice is refused.
        var once = await driver.Membership.ApproveAsync(new ApproveRequest { AuthorityId = kenya.AuthorityId }, first.Headers, cancellationToken: Ct);
        Assert.Equal(AuthorityStatus.Pending, once.Authority.Status);
        Assert.Null(once.AdministratorCode);
        Assert.Equal(StatusCode.FailedPrecondition, await FailsWithAsync(() =>
            driver.Membership.ApproveAsync(new ApproveRequest { AuthorityId = kenya.AuthorityId }, first.Headers, cancellationToken: Ct).ResponseAsync));
        var kenyaApproved = await driver.Membership.ApproveAsync(new ApproveRequest { AuthorityId = kenya.AuthorityId }, second.Headers, cancellationToken: Ct);
        Assert.Equal(AuthorityStatus.Active, kenyaApproved.Authority.Status);
        Assert.Equal([first.UserId.ToString(), second.UserId.ToString()], kenyaApproved.Authority.ApprovedBy);
        await driver.Membership.ApproveAsync(new ApproveRequest { AuthorityId = ghana.AuthorityId }, second.Headers, cancellationToken: Ct);
        var ghanaApproved = await driver.Membership.ApproveAsync(new ApproveRequest { AuthorityId = ghana.AuthorityId }, first.Headers, cancellationToken: Ct);

        // The authority administrators enrol with the codes from approval; a network administrator certifies them.
        var kenyaAdmin = await driver.EnrolAndCertifyAsync(kenyaApproved.AdministratorCode, first, Role.AuthorityAdministrator);
        var ghanaAdmin = await driver.EnrolAndCertifyAsync(ghanaApproved.AdministratorCode, second, Role.AuthorityAdministrator);

        // A used code is refused.
        Assert.Equal(StatusCode.Unauthenticated, await FailsWithAsync(() => driver.EnrolAsync(kenyaApproved.AdministratorCode)));

        // They invite investigators, whose devices enrol, are certified and authenticate.
        var kenyaInvestigator = await driver.EnrolAndCertifyAsync(await driver.InviteAsync(kenyaAdmin, Role.Investigator, "Investigator KE"),
            kenyaAdmin, Role.Investigator);
        var ghanaInvestigator = await driver.EnrolAndCertifyAsync(await driver.InviteAsync(ghanaAdmin, Role.Investigator, "Investigator GH"),
            ghanaAdmin, Role.Investigator);
        var whoami = await driver.Auth.WhoAmIAsync(new WhoAmIRequest(), kenyaInvestigator.Headers, cancellationToken: Ct);
        Assert.Equal((kenyaInvestigator.UserId.ToString(), kenya.AuthorityId, Role.Investigator), (whoami.UserId, whoami.AuthorityId, whoami.Role));

        // Directory lookups verify: every chain to the pinned root, and the log's hash chain.
        var kenyaDevices = await driver.FindVerifiedDevicesAsync(ghanaInvestigator, network, authorityId: Guid.Parse(kenya.AuthorityId));
        Assert.Equal([kenyaAdmin.Device.DeviceId, kenyaInvestigator.Device.DeviceId], kenyaDevices.Select(d => d.DeviceId).Order());
        var log = await driver.VerifyLogAsync(ghanaInvestigator);
        Assert.True(log.HeadPosition >= 7, $"root key and six certificates expected in the log, found {log.HeadPosition} entries");

        // A revoked device: its next call is UNAUTHENTICATED, and the log still extends the verified head.
        await driver.RevokeDeviceAsync(ghanaAdmin, ghanaInvestigator.Certificate, "device lost");
        Assert.Equal(StatusCode.Unauthenticated, await FailsWithAsync(() =>
            driver.Auth.WhoAmIAsync(new WhoAmIRequest(), ghanaInvestigator.Headers, cancellationToken: Ct).ResponseAsync));
        await driver.VerifyLogAsync(kenyaInvestigator, log);

        // A suspended authority's user: PERMISSION_DENIED.
        await driver.Membership.SuspendAsync(new SuspendRequest { AuthorityId = ghana.AuthorityId, Reason = "under review" }, first.Headers,
            cancellationToken: Ct);
        Assert.Equal(StatusCode.PermissionDenied, await FailsWithAsync(() =>
            driver.Auth.WhoAmIAsync(new WhoAmIRequest(), ghanaAdmin.Headers, cancellationToken: Ct).ResponseAsync));

        // An observer organisation's user may read the directory but create nothing: inviting is
        // refused, as is every administrative act. (Case channels and requests, which observers
        // may never join, arrive with later issues and extend this check.)
        var observers = Application("Regional Observatory", "ZA", AuthorityKind.ObserverOrganisation);
        await driver.Membership.ApplyAsync(observers, cancellationToken: Ct);
        await driver.Membership.ApproveAsync(new ApproveRequest { AuthorityId = observers.AuthorityId }, first.Headers, cancellationToken: Ct);
        var observersApproved = await driver.Membership.ApproveAsync(new ApproveRequest { AuthorityId = observers.AuthorityId }, second.Headers,
            cancellationToken: Ct);
        var observerAdmin = await driver.EnrolAndCertifyAsync(observersApproved.AdministratorCode, first, Role.AuthorityAdministrator);
        var observer = await driver.EnrolAndCertifyAsync(await driver.InviteAsync(observerAdmin, Role.Observer, "Observer"), observerAdmin, Role.Observer);
        Assert.Equal(StatusCode.InvalidArgument, await FailsWithAsync(() => driver.InviteAsync(observerAdmin, Role.Investigator)));
        Assert.Equal(StatusCode.PermissionDenied, await FailsWithAsync(() => driver.InviteAsync(observer, Role.Observer)));
        Assert.Equal(StatusCode.PermissionDenied, await FailsWithAsync(() => driver.Membership.CreateGroupAsync(
            new CreateGroupRequest { GroupId = Guid.CreateVersion7().ToString(), Name = "Observers' group" }, observer.Headers, cancellationToken: Ct).ResponseAsync));
        await driver.FindVerifiedDevicesAsync(observer, network, authorityId: Guid.Parse(kenya.AuthorityId));

        // A certificate the server made up (a compromised server certifies a device of its own):
        // the server serves it, the client's chain verification refuses it.
        var planted = await driver.InviteAsync(kenyaAdmin, Role.Investigator, "Planted");
        var plantedDevice = await driver.EnrolAsync(planted);
        using var forger = SigningKeyPair.Generate();
        var forged = DeviceCertificate.Issue(Guid.CreateVersion7(), plantedDevice.Public, Guid.Parse(planted.UserId), Guid.Parse(kenya.AuthorityId),
            DeviceRole.Investigator, driver.Now.AddMinutes(-1), driver.Now.AddYears(1), forger, kenyaAdmin.Device.DeviceId) with
        {
            IssuerSigningKey = kenyaAdmin.Device.Signing.PublicKey,
        };
        var store = server.Services.GetRequiredService<PostgresEventStore>();
        await store.AppendAsync(UserDecider.StreamOf(Guid.Parse(planted.UserId)), ExpectedVersion.Any,
            [NewEvent.From(new DeviceCertified(Guid.Parse(planted.UserId), plantedDevice.DeviceId, CertificateData.From(forged), null, driver.Now))],
            cancellationToken: Ct);
        await Assert.ThrowsAsync<SignatureInvalidException>(() =>
            driver.FindVerifiedDevicesAsync(kenyaInvestigator, network, userId: Guid.Parse(planted.UserId)));

        // An expired code: 72 hours later it no longer enrols anything.
        var late = await driver.InviteAsync(kenyaAdmin, Role.Investigator, "Too late");
        server.Clock.Advance(TimeSpan.FromHours(73));
        Assert.Equal(StatusCode.Unauthenticated, await FailsWithAsync(() => driver.EnrolAsync(late)));
    }
}
