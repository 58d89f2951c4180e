using GlobeSecure.EventStore;
using Npgsql;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace GlobeSecure.Server.Infrastructure;

/// <summary>
/// OpenTelemetry in one place: traces and metrics for ASP.NET Core (gRPC calls), Npgsql and the
/// event store; exported over OTLP (with the logs: UseOtlpExporter turns on all three signals)
/// only when OTEL_EXPORTER_OTLP_ENDPOINT is set, configured by the standard OTEL_* variables.
/// </summary>
internal static class Telemetry
{
    public const string ServiceName = "globesecure-server";

    public static void AddGlobeTelemetry(this WebApplicationBuilder builder)
    {
        var otel = builder.Services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService(ServiceName))
            .WithTracing(tracing => tracing
                .AddAspNetCoreInstrumentation()
                .AddNpgsql()
                .AddSource(PostgresEventStore.TelemetryName))
            .WithMetrics(metrics => metrics
                .AddAspNetCoreInstrumentation()
                .AddRuntimeInstrumentation()
                .AddMeter("Npgsql", PostgresEventStore.TelemetryName));

        if (!string.IsNullOrWhiteSpace(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]))
        {
            otel.UseOtlpExporter();
        }
    }
}
