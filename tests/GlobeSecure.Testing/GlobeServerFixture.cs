using GlobeSecure.Server;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace GlobeSecure.Testing;

/// <summary>
/// The real server (the same <see cref="GlobeServerHost"/> as production) on Kestrel, on a free
/// loopback port, over a fresh database; tests reach it through a real <see cref="GrpcChannel"/>.
/// Derive to add test-only services through <see cref="Configure"/>.
/// </summary>
public class GlobeServerFixture : IAsyncLifetime
{
    private readonly PostgresDatabase _database;
    private readonly string _keyDirectory = Directory.CreateTempSubdirectory("globe-fixture-").FullName;
    private WebApplication? _app;

    /// <summary>A server over a fresh database on the run's shared PostgreSQL.</summary>
    public GlobeServerFixture()
        : this(new PostgresDatabase())
    {
    }

    /// <summary>A server over <paramref name="database"/> (e.g. one on a private cluster the test stops and starts).</summary>
    protected GlobeServerFixture(PostgresDatabase database) => _database = database;

    /// <summary>The server's audit checkpoint key file (a temporary file, created by the server on start; replicas share it).</summary>
    public string CheckpointKeyFile => Path.Combine(_keyDirectory, "audit-checkpoint.key");

    /// <summary>The address the server listens on, e.g. http://127.0.0.1:41234.</summary>
    public Uri Address { get; private set; } = null!;

    /// <summary>The database behind the server.</summary>
    public PostgresDatabase Database => _database;

    /// <summary>The server's services (for assertions on stored state).</summary>
    public IServiceProvider Services => _app?.Services ?? throw new InvalidOperationException("The server is not started.");

    /// <summary>A one-time bootstrap code, through the same service as the operator's <c>bootstrap-code</c> command.</summary>
    public Task<string> IssueBootstrapCodeAsync(CancellationToken cancellationToken = default) =>
        Services.GetRequiredService<GlobeSecure.Server.Identity.BootstrapCodes>().IssueAsync(cancellationToken);

    /// <summary>One pass of the requests' overdue marking as of the server's clock (the background pass, run now); returns the marks recorded.</summary>
    public Task<int> RunRequestOverduePassAsync(CancellationToken cancellationToken = default) =>
        Services.GetRequiredService<GlobeSecure.Server.Requests.RequestOverdue>().RunOnceAsync(cancellationToken);

    /// <summary>One pass of the audit checkpoint signing (the background pass, run now): signs the head if it moved; returns the position signed, or 0.</summary>
    public Task<long> SignAuditHeadAsync(CancellationToken cancellationToken = default) =>
        Services.GetRequiredService<GlobeSecure.Server.Audit.AuditCheckpoints>().SignHeadAsync(cancellationToken);

    /// <summary>Opens a channel to the server.</summary>
    public GrpcChannel CreateChannel() => GrpcChannel.ForAddress(Address, new GrpcChannelOptions { DisposeHttpClient = true });

    /// <summary>Another server process on the same database, as a second replica behind a load balancer. The caller stops it.</summary>
    /// <remarks>It shares this server's checkpoint key file unless <paramref name="configure"/> sets another.</remarks>
    public async Task<WebApplication> StartReplicaAsync(CancellationToken cancellationToken = default, Action<WebApplicationBuilder>? configure = null)
    {
        var app = GlobeServerHost.Build(["--environment", "Testing"], builder =>
        {
            builder.Configuration["ConnectionStrings:Globe"] = _database.ConnectionString;
            builder.Configuration["Globe:Listen"] = "http://127.0.0.1:0";
            builder.Configuration["Globe:Audit:CheckpointKeyFile"] = CheckpointKeyFile;
            builder.Configuration["Logging:LogLevel:Default"] = "Warning";
            configure?.Invoke(builder);
        });
        await app.StartAsync(cancellationToken);
        return app;
    }

    /// <summary>A channel to a server started by <see cref="StartReplicaAsync"/>.</summary>
    public static GrpcChannel ChannelTo(WebApplication app) =>
        GrpcChannel.ForAddress(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());

    /// <summary>Extra configuration (test-only services); runs after the server's own.</summary>
    protected virtual void Configure(WebApplicationBuilder builder)
    {
    }

    /// <summary>Extra endpoints (test-only gRPC services).</summary>
    protected virtual void Map(WebApplication app)
    {
    }

    /// <inheritdoc />
    public async ValueTask InitializeAsync()
    {
        await _database.InitializeAsync();
        _app = GlobeServerHost.Build(["--environment", "Testing"], builder =>
        {
            builder.Configuration["ConnectionStrings:Globe"] = _database.ConnectionString;
            builder.Configuration["Globe:Listen"] = "http://127.0.0.1:0";
            builder.Configuration["Globe:Audit:CheckpointKeyFile"] = CheckpointKeyFile;
            builder.Configuration["Logging:LogLevel:Default"] = "Warning";
            Configure(builder);
        });
        Map(_app);
        await _app.StartAsync();
        var address = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        Address = new Uri(address);
    }

    /// <inheritdoc />
    public virtual async ValueTask DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }

        await _database.DisposeAsync();
        Directory.Delete(_keyDirectory, recursive: true);
        GC.SuppressFinalize(this);
    }
}
