using GlobeSecure.Server.Infrastructure;
using GlobeSecure.Testing;
using Microsoft.Extensions.Options;

namespace GlobeSecure.Server.Tests;

public sealed class StartupTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static GlobeOptions Valid() => new() { ConnectionString = "Host=127.0.0.1;Database=globe;Username=postgres", Listen = "http://127.0.0.1:5080" };

    private static IReadOnlyList<string> Failures(GlobeOptions options) =>
        new GlobeOptionsValidator().Validate(null, options) is { Failed: true } result ? result.Failures!.ToList() : [];

    [Fact]
    public void Options_Defaults_AreValid() => Assert.Empty(Failures(Valid()));

    [Fact]
    public void Options_NoDatabase_SaysHowToConfigureOne()
    {
        var failure = Assert.Single(Failures(Valid() with { ConnectionString = null }));

        Assert.Contains("GLOBE_DB", failure, StringComparison.Ordinal);
        Assert.Contains("ops/run.sh", failure, StringComparison.Ordinal);
    }

    [Fact]
    public void Options_PlainHttpBeyondLoopback_IsRefused()
    {
        var failure = Assert.Single(Failures(Valid() with { Listen = "http://0.0.0.0:5080" }));

        Assert.Contains("https", failure, StringComparison.Ordinal);
    }

    [Fact]
    public void Options_HttpsWithoutCertificate_AsksForOne()
    {
        var failure = Assert.Single(Failures(Valid() with { Listen = "https://0.0.0.0:5443" }));

        Assert.Contains("Globe:Tls:CertificatePath", failure, StringComparison.Ordinal);
    }

    [Fact]
    public void Options_ClientCertificatesRequiredOnPlainHttp_SaysTheyNeedHttpsAndACertificateAuthority()
    {
        var failures = Failures(Valid() with { Tls = new() { ClientCertificates = "require" } });

        Assert.Equal(2, failures.Count);
        Assert.Contains(failures, f => f.Contains("needs an https Globe:Listen", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.Contains("Globe:Tls:ClientCertificateAuthorityFile must name", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("sometimes", "must be off, allow or require")]
    [InlineData("off", "is set but Globe:Tls:ClientCertificates is off")]
    public void Options_ClientCertificateSettingsThatDoNotFit_AreRefused(string mode, string expected)
    {
        var failure = Assert.Single(Failures(Valid() with { Tls = new() { ClientCertificates = mode, ClientCertificateAuthorityFile = "/etc/hostname" } }));

        Assert.Contains(expected, failure, StringComparison.Ordinal);
    }

    [Fact]
    public void Options_ClientCertificateAuthorityFileHoldingALeafCertificate_IsRefused()
    {
        using var authority = TestCertificates.CreateAuthority("CN=test CA");
        using var leaf = TestCertificates.IssueClient(authority, "CN=partner tool");
        var directory = Directory.CreateTempSubdirectory("globe-options-").FullName;
        try
        {
            var server = Path.Combine(directory, "server.pfx");
            File.WriteAllBytes(server, [1]);
            var file = Path.Combine(directory, "ca.crt");
            File.WriteAllText(file, leaf.ExportCertificatePem());
            var https = Valid() with { Listen = "https://0.0.0.0:5443" };
            https.Tls.CertificatePath = server;
            https.Tls.ClientCertificates = "allow";
            https.Tls.ClientCertificateAuthorityFile = file;

            var failure = Assert.Single(Failures(https));

            Assert.Contains("is not a CA certificate", failure, StringComparison.Ordinal);
            File.WriteAllText(file, authority.ExportCertificatePem());
            Assert.Empty(Failures(https));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Theory]
    [InlineData("not a url")]
    [InlineData("http://example.org:5080")]
    [InlineData("http://127.0.0.1:5080/grpc")]
    [InlineData("ftp://127.0.0.1:21")]
    public void Options_MalformedListenAddress_IsRefused(string listen) =>
        Assert.Contains(Failures(Valid() with { Listen = listen }), f => f.Contains("Globe:Listen", StringComparison.Ordinal));

    [Fact]
    public void Options_SeveralProblems_AreAllReported()
    {
        var failures = Failures(Valid() with { ConnectionString = "", Schema = "Bad Name", Limits = new() { MaxReceiveMessageBytes = 1 } });

        Assert.Equal(3, failures.Count);
    }

    [Fact]
    public void Start_WithoutDatabase_FailsWithTheValidationMessage()
    {
        var error = Assert.Throws<OptionsValidationException>(() =>
            GlobeServerHost.Build(["--environment", "Testing"], builder => builder.Configuration["Globe:Listen"] = "http://127.0.0.1:0"));

        Assert.Contains("No database is configured", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_DatabaseUnreachable_FailsNamingTheDatabase()
    {
        await using var app = GlobeServerHost.Build(["--environment", "Testing"], builder =>
        {
            builder.Configuration["Globe:Listen"] = "http://127.0.0.1:0";
            builder.Configuration["ConnectionStrings:Globe"] = "Host=127.0.0.1;Port=1;Database=nowhere;Username=postgres;Timeout=3";
            builder.Configuration["Logging:LogLevel:Default"] = "None";
        });

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => app.StartAsync(Ct));

        Assert.Contains("Cannot prepare the database 'nowhere' on 127.0.0.1:1", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_Twice_OnTheSameDatabase_MigratesOnceAndServesBoth()
    {
        await using var first = new GlobeServerFixture();
        await first.InitializeAsync();
        await using var app = GlobeServerHost.Build(["--environment", "Testing"], builder =>
        {
            builder.Configuration["Globe:Listen"] = "http://127.0.0.1:0";
            builder.Configuration["ConnectionStrings:Globe"] = first.Database.ConnectionString;
            builder.Configuration["Logging:LogLevel:Default"] = "Warning";
        });

        await app.StartAsync(Ct);

        Assert.Equal((long)GlobeSecure.EventStore.PostgresEventStore.CoreSchemaVersion, await first.Database.ExecuteScalarAsync("select count(*) from globe.schema_version where component = 'core'"));
        await app.StopAsync(Ct);
    }

    [Fact]
    public async Task Start_WithGlobeDbVariable_UsesThatDatabaseAndServesReflectionInDevelopment()
    {
        await using var database = new PostgresDatabase();
        await database.InitializeAsync();
        await using var app = GlobeServerHost.Build(["--environment", "Development"], builder =>
        {
            builder.Configuration["Globe:Listen"] = "http://127.0.0.1:0";
            builder.Configuration["GLOBE_DB"] = database.ConnectionString;
            builder.Configuration["Logging:LogLevel:Default"] = "Warning";
        });
        await app.StartAsync(Ct);
        var address = Infrastructure.HostingExtensions.ListeningAddresses(app).Single();
        using var channel = Grpc.Net.Client.GrpcChannel.ForAddress(address);

        using var call = new Grpc.Reflection.V1Alpha.ServerReflection.ServerReflectionClient(channel).ServerReflectionInfo(cancellationToken: Ct);
        await call.RequestStream.WriteAsync(new Grpc.Reflection.V1Alpha.ServerReflectionRequest { ListServices = "" }, Ct);
        Assert.True(await call.ResponseStream.MoveNext(Ct));
        await call.RequestStream.CompleteAsync();

        Assert.Contains(call.ResponseStream.Current.ListServicesResponse.Service, s => s.Name == "grpc.health.v1.Health");
        Assert.Equal(GlobeSecure.EventStore.PostgresEventStore.CoreSchemaVersion, await database.ExecuteScalarAsync("select max(version) from globe.schema_version where component = 'core'"));
        await app.StopAsync(Ct);
    }
}
