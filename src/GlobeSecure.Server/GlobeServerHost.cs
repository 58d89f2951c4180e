using GlobeSecure.Server.Audit;
using GlobeSecure.Server.Identity;
using GlobeSecure.Server.Membership;
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
        configure?.Invoke(builder);

        var app = builder.Build();
        app.MapGlobeInfrastructure();
        app.MapIdentity();
        app.MapMembership();
        return app;
    }
}
