using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace GlobeSecure.Server.Infrastructure;

internal static class HostingExtensions
{
    /// <summary>Options, Kestrel, gRPC, health, reflection, telemetry and the event store.</summary>
    public static void AddGlobeInfrastructure(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        services.TryAddSingleton(TimeProvider.System);
        services.AddOptions<GlobeOptions>()
            .Bind(builder.Configuration.GetSection(GlobeOptions.Section))
            .Configure<IConfiguration>((options, configuration) =>
                options.ConnectionString = configuration.GetConnectionString("Globe") is { Length: > 0 } configured
                    ? configured
                    : configuration["GLOBE_DB"])
            .ValidateOnStart();
        services.AddSingleton<IValidateOptions<GlobeOptions>, GlobeOptionsValidator>();

        builder.WebHost.ConfigureKestrel((context, kestrel) =>
        {
            var options = kestrel.ApplicationServices.GetRequiredService<IOptions<GlobeOptions>>().Value;
            var uri = options.ListenUri;
            var logger = kestrel.ApplicationServices.GetRequiredService<ILoggerFactory>().CreateLogger("GlobeSecure.Server.Tls");
            kestrel.AddServerHeader = false;
            kestrel.Listen(GlobeOptions.ListenAddress(uri), uri.Port, listen =>
            {
                // h2c has no ALPN to negotiate with, so plain listeners speak HTTP/2 only.
                listen.Protocols = HttpProtocols.Http2;
                if (uri.Scheme == "https")
                {
                    listen.UseHttps(options.Tls.CertificatePath!, options.Tls.CertificatePassword,
                        https => ClientCertificates.Configure(https, options.Tls, logger));
                }
            });
        });

        services.AddGrpc(grpc =>
        {
            grpc.Interceptors.Add<ErrorMappingInterceptor>();
            grpc.Interceptors.Add<AddressLimitInterceptor>();
            grpc.Interceptors.Add<AuthenticationInterceptor>();
            grpc.Interceptors.Add<DeviceLimitInterceptor>();
            grpc.Interceptors.Add<RequestShapeInterceptor>();
            grpc.EnableDetailedErrors = false;
        });
        services.AddOptions<Grpc.AspNetCore.Server.GrpcServiceOptions>()
            .Configure<IOptions<GlobeOptions>>((grpc, globe) =>
            {
                grpc.MaxReceiveMessageSize = globe.Value.Limits.MaxReceiveMessageBytes;
                grpc.MaxSendMessageSize = globe.Value.Limits.MaxSendMessageBytes;
            });
        services.AddSingleton<Access>();
        services.AddCallLimits();
        services.AddGrpcReflection();
        services.AddGrpcHealthChecks().AddCheck<DatabaseHealthCheck>("database");
        services.AddGlobeEventStore();
        builder.AddGlobeTelemetry();
    }

    public static void MapGlobeInfrastructure(this WebApplication app)
    {
        // The standard grpc.health.v1.Health service is public infrastructure for load
        // balancers and orchestrators: it reveals only SERVING / NOT_SERVING and is not audited.
        app.MapGrpcHealthChecksService();
        if (app.Environment.IsDevelopment())
        {
            app.MapGrpcReflectionService();
        }

        app.Lifetime.ApplicationStarted.Register(() =>
        {
            var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("GlobeSecure.Server");
            var store = app.Services.GetRequiredService<GlobeSecure.EventStore.PostgresEventStore>();
            foreach (var address in ListeningAddresses(app))
            {
                Log.Listening(logger, address, store.Schema, GlobeSecure.EventStore.PostgresEventStore.CoreSchemaVersion);
            }
        });
    }

    /// <summary>The addresses Kestrel actually bound (with the real port when 0 was asked).</summary>
    public static IReadOnlyList<string> ListeningAddresses(WebApplication app) =>
        app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses.ToList() ?? [];
}
