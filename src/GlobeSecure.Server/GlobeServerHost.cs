using GlobeSecure.Server.Audit;
using GlobeSecure.Server.Channels;
using GlobeSecure.Server.Documents;
using GlobeSecure.Server.FocalPoints;
using GlobeSecure.Server.Identity;
using GlobeSecure.Server.Membership;
using GlobeSecure.Server.Requests;
using GlobeSecure.Server.Templates;
using GlobeSecure.Server.Infrastructure;

namespace GlobeSecure.Server;

/// <summary>
/// Builds the GlobeSecure server. <c>Program.cs</c> and the in-process test fixture both start
/// the server through here, so tests run exactly what production runs.
/// </summary>
public static class GlobeServerHost
{
    /// <summary>Builds the application; <paramref name="configure"/> may add services or configuration (tests).</summary>
    public static WebApplication Build(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        var builder = WebApplication.CreateBuilder(args);
        builder.AddGlobeInfrastructure();
        builder.Services.AddAudit();
        builder.Services.AddIdentity();
        builder.Services.AddMembership();
        builder.Services.AddChannels();
        builder.Services.AddDocuments();
        builder.Services.AddTemplates();
        builder.Services.AddRequests();
        builder.Services.AddFocalPoints();
        configure?.Invoke(builder);
        // Last: every AddGrpc (a test's included) registers grpc-dotnet's binder provider again, and
        // two providers would bind every rpc twice (ambiguous routes, HTTP 500).
        builder.Services.AddUndecodableRequestRefusal();

        var app = builder.Build();
        app.UseTrustedProxies();
        app.UseAuditOfCallsRefusedBeforeInterceptors();
        app.MapGlobeInfrastructure();
        app.MapIdentity();
        app.MapMembership();
        app.MapChannels();
        app.MapDocuments();
        app.MapTemplates();
        app.MapRequests();
        app.MapFocalPoints();
        app.MapAudit();
        return app;
    }

    /// <summary>
    /// Runs a server command instead of the server (Kestrel never starts): <c>bootstrap-code</c>
    /// prints a one-time network bootstrap code on stdout and nothing else; <c>rebuild-projections</c>
    /// replays the event log into freshly emptied read models (<see cref="ProjectionRebuildCommand"/>).
    /// </summary>
    public static async Task<int> RunCommandAsync(string[] args)
    {
        WebApplication app;
        try
        {
            app = Build(args[1..], builder =>
            {
                // stdout carries only the command's output: every log line goes to stderr.
                builder.Logging.ClearProviders();
                builder.Logging.AddConsole(console => console.LogToStandardErrorThreshold = LogLevel.Trace);
                builder.Logging.SetMinimumLevel(LogLevel.Warning);
            });
        }
        catch (Microsoft.Extensions.Options.OptionsValidationException e)
        {
            await Console.Error.WriteLineAsync($"error: {e.Message}");
            return 2;
        }

        await using var running = app;
        return args[0] switch
        {
            "bootstrap-code" => await IdentityFeature.RunBootstrapCodeCommandAsync(app, Console.Out, Console.Error),
            "rebuild-projections" => await ProjectionRebuildCommand.RunAsync(app, Console.Out, Console.Error),
            _ => 2,
        };
    }
}
