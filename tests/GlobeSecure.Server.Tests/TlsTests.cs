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

    private static X509Certificate2 CreateCertificate()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=127.0.0.1", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddIpAddress(System.Net.IPAddress.Loopback);
        request.CertificateExtensions.Add(san.Build());
        return request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddHours(1));
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
            var pem = Path.Combine(directory, "ca.crt");
            await File.WriteAllTextAsync(pem, server.Certificate.ExportCertificatePem(), ct);
            var other = Path.Combine(directory, "other-ca.crt");
            using (var key = ECDsa.Create(ECCurve.NamedCurves.nistP256))
            {
                using var foreign = new CertificateRequest("CN=127.0.0.1", key, HashAlgorithmName.SHA256).CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5),
                    DateTimeOffset.UtcNow.AddHours(1));
                await File.WriteAllTextAsync(other, foreign.ExportCertificatePem(), ct);
            }

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
            var pem = Path.Combine(directory, "ca.crt");
            await File.WriteAllTextAsync(pem, server.Certificate.ExportCertificatePem(), ct);
            var other = Path.Combine(directory, "other-ca.crt");
            using (var key = ECDsa.Create(ECCurve.NamedCurves.nistP256))
            {
                using var foreign = new CertificateRequest("CN=127.0.0.1", key, HashAlgorithmName.SHA256).CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5),
                    DateTimeOffset.UtcNow.AddHours(1));
                await File.WriteAllTextAsync(other, foreign.ExportCertificatePem(), ct);
            }

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
}
