using GlobeSecure.Contracts.V1;
using GlobeSecure.Crypto;
using Grpc.Core;

namespace GlobeSecure.Client.Tests.Story;

/// <summary>
/// The membership story through <see cref="GlobeClient"/> against the real server and real
/// PostgreSQL, and what the client refuses: server-forged certificates and a directory log that
/// does not extend the head it verified before.
/// </summary>
public sealed class StoryTests(StoryServerFixture server) : IClassFixture<StoryServerFixture>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static string Unique(string name) => $"{name} {Guid.NewGuid().ToString("N")[..6]}";

    [Fact]
    public async Task WholeStory_ThroughGlobeClient_EveryStepSucceedsAndVerifies()
    {
        var network = await server.NetworkAsync();
        var lukas = await network.AddNetworkAdministratorAsync();

        var kenya = await network.Anonymous().ApplyAsync(new AuthorityApplication(Unique("EACC"), "KE", AuthorityKind.AntiCorruptionAgency,
            "UNCAC art. 36", "Focal Point", "focal@example.org"), Ct);
        var kenyaId = Guid.Parse(kenya.AuthorityId);
        var first = await network.FirstAdministrator.Client.ApproveAsync(kenyaId, Ct);
        var twice = await Assert.ThrowsAsync<GlobeClientException>(() => network.FirstAdministrator.Client.ApproveAsync(kenyaId, Ct));
        var second = await lukas.Client.ApproveAsync(kenyaId, Ct);
        var (brazilId, brazilCode) = await network.ApproveAuthorityAsync(lukas, Unique("Polícia Federal"), "BR");

        Assert.Equal(AuthorityStatus.Pending, first.Authority.Status);
        Assert.Null(first.AdministratorCode);
        Assert.Equal(StatusCode.FailedPrecondition, twice.Status);
        Assert.Equal(AuthorityStatus.Active, second.Authority.Status);
        Assert.NotNull(second.AdministratorCode);

        var kenyaAdmin = await network.AuthorityAdministratorAsync(kenyaId, second.AdministratorCode);
        var brazilAdmin = await network.AuthorityAdministratorAsync(brazilId, brazilCode);
        var otieno = await network.UserAsync(kenyaAdmin, "Otieno Mwangi");
        var ana = await network.UserAsync(brazilAdmin, "Ana Ribeiro");

        var me = await otieno.Client.WhoAmIAsync(Ct);
        Assert.Equal(otieno.DeviceId.ToString(), me.DeviceId);
        Assert.Equal(Role.Investigator, me.Role);
        Assert.Equal(kenyaId.ToString(), me.AuthorityId);

        var brazilDevices = await otieno.Client.FindDevicesAsync(new DeviceScope(AuthorityId: brazilId), Ct);
        Assert.Equal([brazilAdmin.DeviceId, ana.DeviceId], brazilDevices.Select(d => d.DeviceId).Order());
        var anaDevice = Assert.Single(await otieno.Client.FindDevicesAsync(new DeviceScope(UserId: ana.UserId), Ct));
        Assert.Equal(ana.Keys.Public.SigningKey, anaDevice.SigningKey);
        Assert.Equal(ana.Keys.Public.BoxKey, anaDevice.BoxKey);
        Assert.Equal(3, anaDevice.Chain.Count);
        Assert.True(otieno.Client.DirectoryHead.Position >= 6);
    }

    [Fact]
    public async Task Enrol_ReusedCode_IsUnauthenticated()
    {
        var network = await server.NetworkAsync();
        var code = await network.FirstAdministrator.Client.InviteUserAsync(network.Secretariat, "Reuse", Role.NetworkAdministrator, cancellationToken: Ct);
        await network.EnrolAsync(code);

        var error = await Assert.ThrowsAsync<GlobeClientException>(() => network.EnrolAsync(code));

        Assert.Equal(StatusCode.Unauthenticated, error.Status);
    }

    [Fact]
    public async Task Authenticate_PendingDevice_IsUnauthenticated()
    {
        var network = await server.NetworkAsync();
        var code = await network.FirstAdministrator.Client.InviteUserAsync(network.Secretariat, "Pending", Role.NetworkAdministrator, cancellationToken: Ct);
        var pending = await network.EnrolAsync(code);

        var error = await Assert.ThrowsAsync<GlobeClientException>(() => pending.Client.WhoAmIAsync(Ct));

        Assert.Equal(StatusCode.Unauthenticated, error.Status);
    }

    [Fact]
    public async Task Session_NearExpiry_IsRenewedByTheClient()
    {
        var network = await server.NetworkAsync();
        var clock = new ManualClock(DateTimeOffset.UtcNow);
        var client = network.ClientFor(network.FirstAdministrator.Keys, clock: clock);
        await client.WhoAmIAsync(Ct);
        var firstExpiry = client.SessionExpiresAt!.Value;

        clock.Now = firstExpiry - TimeSpan.FromSeconds(30);
        await Task.Delay(5, Ct);
        await client.WhoAmIAsync(Ct);

        Assert.NotEqual(firstExpiry, client.SessionExpiresAt);
    }

    [Fact]
    public async Task Call_SessionEndedByTheServer_ReauthenticatesOnceAndSucceeds()
    {
        var network = await server.NetworkAsync();
        var recorder = new TokenRecorder();
        var client = network.ClientFor(network.FirstAdministrator.Keys, handler: recorder);
        await client.WhoAmIAsync(Ct);
        var before = client.SessionExpiresAt;

        // The server ends the session behind the client's back (as revocation or suspension would).
        var auth = new AuthService.AuthServiceClient(server.CreateChannel());
        await auth.SignOutAsync(new SignOutRequest(), new Metadata { { "authorization", recorder.LastAuthorization! } }, cancellationToken: Ct);
        var me = await client.WhoAmIAsync(Ct);

        Assert.Equal(network.FirstAdministrator.DeviceId.ToString(), me.DeviceId);
        Assert.NotEqual(before, client.SessionExpiresAt);
    }

    [Fact]
    public async Task Call_SuspendedAuthority_IsPermissionDeniedUntilReinstated()
    {
        var network = await server.NetworkAsync();
        var lukas = await network.AddNetworkAdministratorAsync(Unique("Second"));
        var (authorityId, code) = await network.ApproveAuthorityAsync(lukas, Unique("Suspended"), "FR");
        var administrator = await network.AuthorityAdministratorAsync(authorityId, code);
        await administrator.Client.WhoAmIAsync(Ct);

        await network.FirstAdministrator.Client.SuspendAsync(authorityId, "under investigation", Ct);
        var error = await Assert.ThrowsAsync<GlobeClientException>(() => administrator.Client.WhoAmIAsync(Ct));

        Assert.Equal(StatusCode.PermissionDenied, error.Status);
        var suspended = await network.FirstAdministrator.Client.GetAuthorityAsync(authorityId, Ct);
        Assert.Equal(AuthorityStatus.Suspended, suspended.Status);

        // Suspension ended the session for good: after reinstatement the client signs in again by itself.
        var before = administrator.Client.SessionExpiresAt;
        await network.FirstAdministrator.Client.ReinstateAsync(authorityId, Ct);
        var me = await administrator.Client.WhoAmIAsync(Ct);
        Assert.Equal(administrator.DeviceId.ToString(), me.DeviceId);
        Assert.NotEqual(before, administrator.Client.SessionExpiresAt);
    }

    [Fact]
    public async Task RevokedDevice_NextCall_IsUnauthenticatedAndTheDirectoryDropsIt()
    {
        var network = await server.NetworkAsync();
        var lukas = await network.AddNetworkAdministratorAsync(Unique("Second"));
        var (authorityId, code) = await network.ApproveAuthorityAsync(lukas, Unique("Revoking"), "DE");
        var administrator = await network.AuthorityAdministratorAsync(authorityId, code);
        var investigator = await network.UserAsync(administrator, "To be revoked");
        await investigator.Client.WhoAmIAsync(Ct);

        var revoked = await administrator.Client.RevokeDeviceAsync(investigator.DeviceId, "device lost", cancellationToken: Ct);
        var error = await Assert.ThrowsAsync<GlobeClientException>(() => investigator.Client.WhoAmIAsync(Ct));
        var devices = await administrator.Client.FindDevicesAsync(new DeviceScope(AuthorityId: authorityId), Ct);

        Assert.Equal(DeviceStatus.Revoked, revoked.Status);
        Assert.Equal(StatusCode.Unauthenticated, error.Status);
        Assert.DoesNotContain(devices, d => d.DeviceId == investigator.DeviceId);
    }

    [Theory]
    [InlineData(Forgery.SwapKeys)]
    [InlineData(Forgery.OwnChain)]
    [InlineData(Forgery.ImpersonatedIssuer)]
    public async Task FindDevices_CertificateForgedByTheServer_IsRefused(Forgery forgery)
    {
        var network = await server.NetworkAsync();
        var lukas = await network.AddNetworkAdministratorAsync(Unique("Second"));
        var (authorityId, code) = await network.ApproveAuthorityAsync(lukas, Unique("Forged"), "IT");
        await network.AuthorityAdministratorAsync(authorityId, code);

        server.Forge.Mode = forgery;
        GlobeTrustException error;
        try
        {
            error = await Assert.ThrowsAsync<GlobeTrustException>(() =>
                network.FirstAdministrator.Client.FindDevicesAsync(new DeviceScope(AuthorityId: authorityId), Ct));
        }
        finally
        {
            server.Forge.Mode = Forgery.None;
        }

        Assert.Contains("refused", error.Message, StringComparison.Ordinal);
        Assert.Single(await network.FirstAdministrator.Client.FindDevicesAsync(new DeviceScope(AuthorityId: authorityId), Ct));
    }

    [Fact]
    public async Task VerifyDirectory_RememberedHeadWithAnotherLink_IsRefused()
    {
        var network = await server.NetworkAsync();
        var head = await network.FirstAdministrator.Client.VerifyDirectoryAsync(Ct);
        var forked = head.Link.ToArray();
        forked[0] ^= 1;
        var client = network.ClientFor(network.FirstAdministrator.Keys, new DirectoryHead(head.Position, forked));

        var error = await Assert.ThrowsAsync<GlobeTrustException>(() => client.VerifyDirectoryAsync(Ct));

        Assert.Contains("does not extend", error.Message, StringComparison.Ordinal);
        Assert.Equal(head.Position, client.DirectoryHead.Position);
        await Assert.ThrowsAsync<GlobeTrustException>(() => client.FindDevicesAsync(new DeviceScope(AuthorityId: network.Secretariat), Ct));
    }

    [Fact]
    public async Task VerifyDirectory_RememberedHeadBeyondTheServersLog_IsRefused()
    {
        var network = await server.NetworkAsync();
        var head = await network.FirstAdministrator.Client.VerifyDirectoryAsync(Ct);
        var client = network.ClientFor(network.FirstAdministrator.Keys, new DirectoryHead(head.Position + 1000, head.Link));

        var error = await Assert.ThrowsAsync<GlobeTrustException>(() => client.VerifyDirectoryAsync(Ct));

        Assert.Contains("before the head this client verified", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task VerifyDirectory_RememberedHead_AcceptsTheLogThatExtendsIt()
    {
        var network = await server.NetworkAsync();
        var head = await network.FirstAdministrator.Client.VerifyDirectoryAsync(Ct);
        await network.AddNetworkAdministratorAsync(Unique("Later"));
        var client = network.ClientFor(network.FirstAdministrator.Keys, head);

        var newHead = await client.VerifyDirectoryAsync(Ct);

        Assert.True(newHead.Position > head.Position);
    }

    [Fact]
    public async Task Certify_AuthorityAdministratorCertifyingAnotherAuthority_IsRefused()
    {
        var network = await server.NetworkAsync();
        var lukas = await network.AddNetworkAdministratorAsync(Unique("Second"));
        var (first, firstCode) = await network.ApproveAuthorityAsync(lukas, Unique("First"), "ES");
        var (second, secondCode) = await network.ApproveAuthorityAsync(lukas, Unique("Other"), "PT");
        var firstAdmin = await network.AuthorityAdministratorAsync(first, firstCode);
        var secondAdmin = await network.AuthorityAdministratorAsync(second, secondCode);
        var code = await secondAdmin.Client.InviteUserAsync(second, "Investigator", Role.Investigator, cancellationToken: Ct);
        var pending = await network.EnrolAsync(code);

        var error = await Assert.ThrowsAsync<GlobeClientException>(() =>
            firstAdmin.Client.CertifyDeviceAsync(pending.DeviceId, new DeviceScope(UserId: pending.UserId), cancellationToken: Ct));

        Assert.Equal(StatusCode.PermissionDenied, error.Status);
    }

    /// <summary>Observes (never changes) the client's requests: the last authorization header sent.</summary>
    private sealed class TokenRecorder() : DelegatingHandler(new SocketsHttpHandler())
    {
        public string? LastAuthorization { get; private set; }

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            if (request.Headers.TryGetValues("authorization", out var values))
            {
                LastAuthorization = values.First();
            }

            return base.SendAsync(request, cancellationToken);
        }
    }

    private sealed class ManualClock(DateTimeOffset now) : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = now;

        public override DateTimeOffset GetUtcNow() => Now;
    }
}
