using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using GlobeSecure.Testing;
using Grpc.Health.V1;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;

namespace GlobeSecure.Server.Tests;

/// <summary>The server with a configured certificate serves gRPC over TLS.</summary>
public sealed class TlsServerFixture : GlobeServerFixture
{
    private readonly string _directory = Directory.CreateTempSubdirectory("globe-tls-").FullName;

    public X509Certificate2 Certificate { get; } = CreateCertificate();

    public string CertificatePath => Path.Combine(_directory, "server.pfx");

    protected override void Configure(WebApplicationBuilder builder)
    {
        File.WriteAllBytes(CertificatePath, Certificate.Export(X509ContentType.Pkcs12, "test-password"));
        builder.Configuration["Globe:Listen"] = "https://127.0.0.1:0";
        builder.Configuration["Globe:Tls:CertificatePath"] = CertificatePath;
        builder.Configuration["Globe:Tls:CertificatePassword"] = "test-password";
    }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        Certificate.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    internal static X509Certificate2 CreateCertificate()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=127.0.0.1", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddIpAddress(System.Net.IPAddress.Loopback);
        request.CertificateExtensions.Add(san.Build());
        return request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddHours(1));
    }
}

/// <summary>The TLS server with mutual TLS required: client certificates must come from <see cref="Authority"/>.</summary>
public sealed class MutualTlsServerFixture : GlobeServerFixture
{
    private readonly string _directory = Directory.CreateTempSubdirectory("globe-mtls-").FullName;

    public X509Certificate2 Certificate { get; } = TlsServerFixture.CreateCertificate();

    /// <summary>The partner-tool CA the server is configured with (with its key, to issue client certificates).</summary>
    public X509Certificate2 Authority { get; } = TestCertificates.CreateAuthority("CN=GlobeSecure partner tools test CA");

    /// <summary>The server certificate in PEM, for clients' TrustedCertificateAuthorityFile.</summary>
    public string ServerCaFile => Path.Combine(_directory, "server-ca.crt");

    protected override void Configure(WebApplicationBuilder builder)
    {
        var pfx = Path.Combine(_directory, "server.pfx");
        File.WriteAllBytes(pfx, Certificate.Export(X509ContentType.Pkcs12, "test-password"));
        File.WriteAllText(ServerCaFile, Certificate.ExportCertificatePem());
        var clientCa = Path.Combine(_directory, "client-ca.crt");
        File.WriteAllText(clientCa, Authority.ExportCertificatePem());
        builder.Configuration["Globe:Listen"] = "https://127.0.0.1:0";
        builder.Configuration["Globe:Tls:CertificatePath"] = pfx;
        builder.Configuration["Globe:Tls:CertificatePassword"] = "test-password";
        builder.Configuration["Globe:Tls:ClientCertificates"] = "require";
        builder.Configuration["Globe:Tls:ClientCertificateAuthorityFile"] = clientCa;
    }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        Certificate.Dispose();
        Authority.Dispose();
        Directory.Delete(_directory, recursive: true);
    }
}

/// <summary>Certificate authorities and client certificates made in memory for the TLS tests.</summary>
internal static class TestCertificates
{
    public static X509Certificate2 CreateAuthority(string subject)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        return request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(2));
    }

    /// <summary>A client certificate (clientAuth) issued by <paramref name="authority"/>, with its private key, loaded from PKCS#12 as a partner would.</summary>
    public static X509Certificate2 IssueClient(X509Certificate2 authority, string subject)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.2")], false));
        using var issued = request.Create(authority, DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddHours(1), [1, 2, 3, 4, 5, 6, 7, 8]);
        using var withKey = issued.CopyWithPrivateKey(key);
        return X509CertificateLoader.LoadPkcs12(withKey.Export(X509ContentType.Pkcs12, "client-password"), "client-password");
    }
}

public sealed class MutualTlsTests(MutualTlsServerFixture server) : IClassFixture<MutualTlsServerFixture>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private GlobeSecure.Client.GlobeClient Client(X509Certificate2? certificate = null, string? file = null, string? password = null) => new(new GlobeSecure.Client.GlobeClientOptions
    {
        Address = server.Address,
        TrustedCertificateAuthorityFile = server.ServerCaFile,
        ClientCertificate = certificate,
        ClientCertificateFile = file,
        ClientCertificatePassword = password,
    });

    [Fact]
    public async Task Require_ClientCertificateFromTheConfiguredAuthority_ReachesTheServer()
    {
        using var certificate = TestCertificates.IssueClient(server.Authority, "CN=partner tool");
        var pfx = Path.Combine(Directory.CreateTempSubdirectory("globe-mtls-client-").FullName, "client.pfx");
        await File.WriteAllBytesAsync(pfx, certificate.Export(X509ContentType.Pkcs12, "pfx-password"), Ct);
        try
        {
            await using var fromObject = Client(certificate);
            await using var fromFile = Client(file: pfx, password: "pfx-password");

            // Reaching the server: the network is not bootstrapped here, which only the server can say.
            Assert.Equal(Grpc.Core.StatusCode.NotFound, (await Assert.ThrowsAsync<GlobeSecure.Client.GlobeClientException>(() => fromObject.GetNetworkAsync(Ct))).Status);
            Assert.Equal(Grpc.Core.StatusCode.NotFound, (await Assert.ThrowsAsync<GlobeSecure.Client.GlobeClientException>(() => fromFile.GetNetworkAsync(Ct))).Status);
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(pfx)!, recursive: true);
        }
    }

    [Fact]
    public async Task Require_ClientWithoutCertificate_IsRefusedInTheHandshake()
    {
        await using var client = Client();

        var refused = await Assert.ThrowsAsync<GlobeSecure.Client.GlobeClientException>(() => client.GetNetworkAsync(Ct));

        AssertRefusedBeforeGrpc(refused);
    }

    // Under TLS 1.3 the client finishes its side of the handshake before the server has judged its
    // certificate, so the refusal reaches it as a reset of its first request: Unavailable or
    // Internal, never an answer from the server (which would be NOT_FOUND here).
    private static void AssertRefusedBeforeGrpc(GlobeSecure.Client.GlobeClientException refused) =>
        Assert.Contains(refused.Status, new[] { Grpc.Core.StatusCode.Unavailable, Grpc.Core.StatusCode.Internal });

    [Fact]
    public async Task Require_ClientCertificateFromAnotherAuthority_IsRefusedInTheHandshake()
    {
        using var otherAuthority = TestCertificates.CreateAuthority("CN=some other CA");
        using var foreign = TestCertificates.IssueClient(otherAuthority, "CN=partner tool");
        using var selfSigned = TestCertificates.CreateAuthority("CN=partner tool");
        await using var fromOtherAuthority = Client(foreign);
        await using var selfIssued = Client(selfSigned);

        AssertRefusedBeforeGrpc(await Assert.ThrowsAsync<GlobeSecure.Client.GlobeClientException>(() => fromOtherAuthority.GetNetworkAsync(Ct)));
        AssertRefusedBeforeGrpc(await Assert.ThrowsAsync<GlobeSecure.Client.GlobeClientException>(() => selfIssued.GetNetworkAsync(Ct)));
    }

    [Fact]
    public async Task Require_AcceptedCertificate_DoesNotAuthenticateTheCalls()
    {
        using var certificate = TestCertificates.IssueClient(server.Authority, "CN=partner tool");
        using var channel = GrpcChannel.ForAddress(server.Address, new GrpcChannelOptions { HttpHandler = Handler(certificate) });

        // A call that needs a device session is still refused: the certificate only opens the connection.
        var refused = await Assert.ThrowsAsync<Grpc.Core.RpcException>(() =>
            new GlobeSecure.Contracts.V1.DirectoryService.DirectoryServiceClient(channel).ReadLogAsync(new(), cancellationToken: Ct).ResponseAsync);

        Assert.Equal(Grpc.Core.StatusCode.Unauthenticated, refused.StatusCode);
    }

    private SocketsHttpHandler Handler(X509Certificate2 certificate)
    {
        var handler = new SocketsHttpHandler();
        handler.SslOptions.ClientCertificates = [certificate];
        handler.SslOptions.RemoteCertificateValidationCallback = (_, presented, _, _) => presented?.GetCertHashString() == server.Certificate.GetCertHashString();
        return handler;
    }
}

public sealed class TlsTests(TlsServerFixture server) : IClassFixture<TlsServerFixture>
{
    [Fact]
    public async Task HealthCheck_OverTlsWithTheConfiguredCertificate_AnswersServing()
    {
        Assert.Equal("https", server.Address.Scheme);
        X509Certificate2? presented = null;
        using var handler = new SocketsHttpHandler();
        handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, _, _) =>
        {
            presented = certificate is null ? null : new X509Certificate2(certificate);
            return certificate is not null && certificate.GetCertHashString() == server.Certificate.GetCertHashString();
        };
        using var channel = GrpcChannel.ForAddress(server.Address, new GrpcChannelOptions { HttpHandler = handler });

        var response = await new Health.HealthClient(channel).CheckAsync(new HealthCheckRequest(), cancellationToken: TestContext.Current.CancellationToken);

        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, response.Status);
        Assert.Equal(server.Certificate.Thumbprint, presented?.Thumbprint);
        presented?.Dispose();
    }

    [Fact]
    public async Task Client_TrustingTheServersCertificateAuthorityFile_ReachesTheServerAndWithoutItIsRefused()
    {
        var ct = TestContext.Current.CancellationToken;
        var directory = Directory.CreateTempSubdirectory("globe-ca-").FullName;
        try
        {
            var (pem, other) = await CertificateAuthorityFilesAsync(directory, ct);

            await using var trusting = new GlobeSecure.Client.GlobeClient(new GlobeSecure.Client.GlobeClientOptions
            {
                Address = server.Address, TrustedCertificateAuthorityFile = pem,
            });
            await using var distrusting = new GlobeSecure.Client.GlobeClient(new GlobeSecure.Client.GlobeClientOptions
            {
                Address = server.Address, TrustedCertificateAuthorityFile = other,
            });

            // Reaching the server: the network is not bootstrapped here, which only the server can say.
            var reached = await Assert.ThrowsAsync<GlobeSecure.Client.GlobeClientException>(() => trusting.GetNetworkAsync(ct));
            var refused = await Assert.ThrowsAsync<GlobeSecure.Client.GlobeClientException>(() => distrusting.GetNetworkAsync(ct));

            Assert.Equal(Grpc.Core.StatusCode.NotFound, reached.Status);
            Assert.NotEqual(Grpc.Core.StatusCode.NotFound, refused.Status);
            Assert.Contains("certificate", refused.ToString(), StringComparison.OrdinalIgnoreCase);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public async Task ClientCertificatesOff_ClientPresentingOne_IsServedAsBefore()
    {
        var ct = TestContext.Current.CancellationToken;
        using var authority = TestCertificates.CreateAuthority("CN=unconfigured CA");
        using var certificate = TestCertificates.IssueClient(authority, "CN=partner tool");
        using var handler = new SocketsHttpHandler();
        handler.SslOptions.ClientCertificates = [certificate];
        handler.SslOptions.RemoteCertificateValidationCallback = (_, presented, _, _) => presented?.GetCertHashString() == server.Certificate.GetCertHashString();
        using var channel = GrpcChannel.ForAddress(server.Address, new GrpcChannelOptions { HttpHandler = handler });

        var response = await new Health.HealthClient(channel).CheckAsync(new HealthCheckRequest(), cancellationToken: ct);

        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, response.Status);
    }

    [Fact]
    public async Task Client_WithTwoHttpsReplicas_ReachesBothThroughTheCertificateAuthorityFileAndWithoutItIsRefused()
    {
        var ct = TestContext.Current.CancellationToken;
        var directory = Directory.CreateTempSubdirectory("globe-ca-").FullName;
        var replica = await server.StartReplicaAsync(ct, b =>
        {
            b.Configuration["Globe:Listen"] = "https://127.0.0.1:0";
            b.Configuration["Globe:Tls:CertificatePath"] = server.CertificatePath;
            b.Configuration["Globe:Tls:CertificatePassword"] = "test-password";
        });
        try
        {
            var replicaAddress = new Uri(replica.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
            var (pem, other) = await CertificateAuthorityFilesAsync(directory, ct);

            await using var trusting = new GlobeSecure.Client.GlobeClient(new GlobeSecure.Client.GlobeClientOptions
            {
                Address = server.Address, OtherAddresses = [replicaAddress], TrustedCertificateAuthorityFile = pem,
            });
            await using var distrusting = new GlobeSecure.Client.GlobeClient(new GlobeSecure.Client.GlobeClientOptions
            {
                Address = server.Address, OtherAddresses = [replicaAddress], TrustedCertificateAuthorityFile = other,
            });

            // Round-robin: four calls reach both replicas; each answers what only a server can say.
            var reached = new List<GlobeSecure.Client.GlobeClientException>();
            for (var i = 0; i < 4; i++)
            {
                reached.Add(await Assert.ThrowsAsync<GlobeSecure.Client.GlobeClientException>(() => trusting.GetNetworkAsync(ct)));
            }

            var refused = await Assert.ThrowsAsync<GlobeSecure.Client.GlobeClientException>(() => distrusting.GetNetworkAsync(ct));

            Assert.All(reached, e => Assert.Equal(Grpc.Core.StatusCode.NotFound, e.Status));
            Assert.NotEqual(Grpc.Core.StatusCode.NotFound, refused.Status);
            Assert.Contains("certificate", refused.ToString(), StringComparison.OrdinalIgnoreCase);
        }
        finally
        {
            await replica.StopAsync(ct);
            await replica.DisposeAsync();
            Directory.Delete(directory, recursive: true);
        }
    }

    /// <summary>The server's CA as a PEM file, and a foreign self-signed certificate for 127.0.0.1 as another.</summary>
    private async Task<(string Pem, string Other)> CertificateAuthorityFilesAsync(string directory, CancellationToken ct)
    {
        var pem = Path.Combine(directory, "ca.crt");
        await File.WriteAllTextAsync(pem, server.Certificate.ExportCertificatePem(), ct);
        var other = Path.Combine(directory, "other-ca.crt");
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var foreign = new CertificateRequest("CN=127.0.0.1", key, HashAlgorithmName.SHA256).CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5),
            DateTimeOffset.UtcNow.AddHours(1));
        await File.WriteAllTextAsync(other, foreign.ExportCertificatePem(), ct);
        return (pem, other);
    }
}
