using GlobeSecure.Client;
using GlobeSecure.Contracts.V1;
using GlobeSecure.Crypto;
using GlobeSecure.EventStore;
using Google.Rpc;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;

namespace GlobeSecure.Server.Tests.Identity;

/// <summary>The one-time network bootstrap, through a real channel, on a database of its own.</summary>
public sealed class BootstrapTests(IdentityServerFixture server) : IClassFixture<IdentityServerFixture>, IDisposable
{
    private readonly NetworkDriver _driver = new(server);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose() => _driver.Dispose();

    private BootstrapRequest Request(string code, string name = "GlobE Network")
    {
        using var device = DeviceKeys.Generate(Guid.CreateVersion7());
        return _driver.BootstrapRequest(code, SigningKeyPair.Generate(), device, Guid.CreateVersion7(), Guid.CreateVersion7(), name);
    }

    private async Task<StatusCode> StatusOfBootstrapAsync(BootstrapRequest request) =>
        (await Assert.ThrowsAsync<RpcException>(() => _driver.Network.BootstrapAsync(request, cancellationToken: Ct).ResponseAsync)).StatusCode;

    // The network is bootstrapped once per database, so its whole life is one story.
    [Fact]
    public async Task Bootstrap_WrongExpiredSupersededGoodReusedAndSecond_OnlyTheLatestValidCodeBootstrapsOnce()
    {
        var notYet = await Assert.ThrowsAsync<RpcException>(() => _driver.Network.GetNetworkAsync(new GetNetworkRequest(), cancellationToken: Ct).ResponseAsync);
        Assert.Equal(StatusCode.NotFound, notYet.StatusCode);

        var expired = await _driver.IssueBootstrapCodeAsync();
        server.Clock.Advance(TimeSpan.FromHours(25));
        Assert.Equal(StatusCode.Unauthenticated, await StatusOfBootstrapAsync(Request(expired)));

        var superseded = await _driver.IssueBootstrapCodeAsync();
        var code = await _driver.IssueBootstrapCodeAsync();
        Assert.Equal(StatusCode.Unauthenticated, await StatusOfBootstrapAsync(Request("wrong-code")));
        Assert.Equal(StatusCode.Unauthenticated, await StatusOfBootstrapAsync(Request(superseded)));

        var response = await _driver.Network.BootstrapAsync(Request(code, "GlobE"), cancellationToken: Ct);
        Assert.Equal("GlobE", response.Network.Name);

        Assert.Equal(StatusCode.Unauthenticated, await StatusOfBootstrapAsync(Request(code)));
        Assert.Equal(StatusCode.FailedPrecondition, await StatusOfBootstrapAsync(Request("another-code")));
        var noMoreCodes = await Assert.ThrowsAsync<Server.Infrastructure.WrongStateException>(() => _driver.IssueBootstrapCodeAsync());
        Assert.Contains("already bootstrapped", noMoreCodes.Message);

        var audit = await server.Services.GetRequiredService<PostgresEventStore>().ReadAuditAsync(0, 100_000, Ct);
        Assert.True(audit.Count(e => e.Entry.Action == "/globesecure.v1.NetworkService/Bootstrap" && e.Entry.Outcome == AuditOutcome.Denied) >= 4);
        Assert.DoesNotContain(audit, e => (e.Entry.Reason ?? "").Contains(code, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Bootstrap_CertificateNotSignedByTheRootKey_IsInvalidArgumentWithTheField()
    {
        var request = Request("any-code");
        using var other = SigningKeyPair.Generate();
        var certificate = Wire.FromProto(request.Certificate);
        request.Certificate = Wire.ToProto(Crypto.DeviceCertificate.Issue(certificate.CertificateId, new PublicDeviceKeys(certificate.DeviceId,
            certificate.SigningKey, certificate.BoxKey, request.Device.BoxKeySignature.ToByteArray()), certificate.UserId, certificate.AuthorityId,
            certificate.Role, certificate.NotBefore, certificate.NotAfter, other, null));

        var error = await Assert.ThrowsAsync<RpcException>(() => _driver.Network.BootstrapAsync(request, cancellationToken: Ct).ResponseAsync);

        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.Contains(error.GetRpcStatus()!.GetDetail<BadRequest>().FieldViolations, v => v.Field == "certificate.issuer_signing_key");
    }

    [Fact]
    public async Task Bootstrap_EmptyRequest_ListsEveryMissingField()
    {
        var error = await Assert.ThrowsAsync<RpcException>(() => _driver.Network.BootstrapAsync(new BootstrapRequest(), cancellationToken: Ct).ResponseAsync);

        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        var fields = error.GetRpcStatus()!.GetDetail<BadRequest>().FieldViolations.Select(v => v.Field).ToList();
        Assert.Contains("bootstrap_code", fields);
        Assert.Contains("root_key", fields);
        Assert.Contains("device", fields);
        Assert.Contains("certificate", fields);
    }
}

/// <summary>Expiry of enrolment codes, challenges and sessions, with the server's clock moved forward (a database of its own).</summary>
public sealed class ExpiryTests(NetworkFixture server) : IClassFixture<NetworkFixture>, IDisposable
{
    private readonly NetworkDriver _driver = new(server);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose() => _driver.Dispose();

    private async Task<Member> AdministratorAsync() => (await server.WorldAsync(_driver)).Network.Administrator;

    [Fact]
    public async Task EnrolDevice_CodeOlderThan72Hours_IsUnauthenticated()
    {
        var admin = await AdministratorAsync();
        var code = await _driver.InviteAsync(admin, Role.Auditor);

        server.Clock.Advance(TimeSpan.FromHours(72));
        var error = await Assert.ThrowsAsync<RpcException>(() => _driver.EnrolAsync(code));

        Assert.Equal(StatusCode.Unauthenticated, error.StatusCode);
    }

    [Fact]
    public async Task Session_After15Minutes_IsUnauthenticated()
    {
        var admin = await AdministratorAsync();
        await _driver.Auth.WhoAmIAsync(new WhoAmIRequest(), admin.Headers, cancellationToken: Ct);

        server.Clock.Advance(TimeSpan.FromMinutes(15));
        var error = await Assert.ThrowsAsync<RpcException>(() => _driver.Auth.WhoAmIAsync(new WhoAmIRequest(), admin.Headers, cancellationToken: Ct).ResponseAsync);

        Assert.Equal(StatusCode.Unauthenticated, error.StatusCode);
    }

    [Fact]
    public async Task CompleteAuthentication_ChallengeOlderThan2Minutes_IsUnauthenticated()
    {
        var admin = await AdministratorAsync();
        var challenge = await _driver.Auth.BeginAuthenticationAsync(new BeginAuthenticationRequest { DeviceId = admin.Device.DeviceId.ToString() }, cancellationToken: Ct);

        server.Clock.Advance(TimeSpan.FromMinutes(2));
        var error = await Assert.ThrowsAsync<RpcException>(() => _driver.Auth.CompleteAuthenticationAsync(new CompleteAuthenticationRequest
        {
            ChallengeId = challenge.ChallengeId,
            DeviceId = admin.Device.DeviceId.ToString(),
            Signature = Google.Protobuf.ByteString.CopyFrom(AuthChallenge.Sign(admin.Device, challenge.Challenge_.Span, challenge.Audience,
                challenge.IssuedAt.ToDateTimeOffset())),
        }, cancellationToken: Ct).ResponseAsync);

        Assert.Equal(StatusCode.Unauthenticated, error.StatusCode);
    }
}

/// <summary>Failed authentications are counted in the database and limited (a database of its own: the limit is per address too).</summary>
public sealed class AuthenticationLimitTests(IdentityServerFixture server) : IClassFixture<IdentityServerFixture>, IDisposable
{
    private readonly NetworkDriver _driver = new(server);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose() => _driver.Dispose();

    [Fact]
    public async Task CompleteAuthentication_FiveBadSignatures_SixthAttemptIsResourceExhaustedAndEachFailureAudited()
    {
        var network = await _driver.BootstrapAsync();
        var device = network.Administrator.Device;
        using var impostor = DeviceKeys.Generate(device.DeviceId);

        for (var i = 0; i < 5; i++)
        {
            var error = await Assert.ThrowsAsync<RpcException>(() => _driver.AuthenticateAsync(impostor));
            Assert.Equal(StatusCode.Unauthenticated, error.StatusCode);
        }

        var limited = await Assert.ThrowsAsync<RpcException>(() => _driver.AuthenticateAsync(device));
        Assert.Equal(StatusCode.ResourceExhausted, limited.StatusCode);
        var audit = await server.Services.GetRequiredService<PostgresEventStore>().ReadAuditAsync(0, 100_000, Ct);
        Assert.Equal(5, audit.Count(e => e.Entry.Action == "/globesecure.v1.AuthService/CompleteAuthentication" && e.Entry.Outcome == AuditOutcome.Denied));

        server.Clock.Advance(TimeSpan.FromMinutes(5));
        Assert.NotEmpty(await _driver.AuthenticateAsync(device));
    }
}

/// <summary>The server's <c>bootstrap-code</c> command, run as Program.cs runs it, on a database of its own.</summary>
public sealed class BootstrapCodeCommandTests(IdentityServerFixture server) : IClassFixture<IdentityServerFixture>, IDisposable
{
    private readonly NetworkDriver _driver = new(server);

    public void Dispose() => _driver.Dispose();

    private async Task<(int ExitCode, string Output, string Error)> RunAsync()
    {
        await using var app = GlobeServerHost.Build(["--environment", "Testing"], builder =>
        {
            builder.Configuration["ConnectionStrings:Globe"] = server.Database.ConnectionString;
            builder.Configuration["Logging:LogLevel:Default"] = "Warning";
        });
        using var output = new StringWriter();
        using var error = new StringWriter();
        var exitCode = await global::GlobeSecure.Server.Identity.IdentityFeature.RunBootstrapCodeCommandAsync(app, output, error);
        return (exitCode, output.ToString(), error.ToString());
    }

    [Fact]
    public async Task BootstrapCode_BeforeAndAfterBootstrap_PrintsOnlyTheCodeThenRefuses()
    {
        var (exitCode, output, _) = await RunAsync();

        Assert.Equal(0, exitCode);
        var code = output.Trim();
        Assert.Matches("^[A-Za-z0-9_-]{43}$", code);
        using var device = DeviceKeys.Generate(Guid.CreateVersion7());
        using var root = SigningKeyPair.Generate();
        await _driver.Network.BootstrapAsync(_driver.BootstrapRequest(code, root, device, Guid.CreateVersion7(), Guid.CreateVersion7()),
            cancellationToken: TestContext.Current.CancellationToken);

        var again = await RunAsync();
        Assert.Equal(1, again.ExitCode);
        Assert.Empty(again.Output);
        Assert.Contains("already bootstrapped", again.Error);
    }
}
