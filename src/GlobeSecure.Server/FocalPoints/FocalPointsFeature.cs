using GlobeSecure.EventStore;
using GlobeSecure.Server.Infrastructure;

namespace GlobeSecure.Server.FocalPoints;

/// <summary>The directory of competent authorities and focal points per country (docs/requests.md).</summary>
internal static class FocalPointsFeature
{
    public static IServiceCollection AddFocalPoints(this IServiceCollection services)
    {
        services.AddEventTypes(r => r
            .Register<ContactAdded>("focal-points.contact-added")
            .Register<ContactUpdated>("focal-points.contact-updated")
            .Register<ContactRemoved>("focal-points.contact-removed")
            .Register<AuthorityRequirementsPublished>("focal-points.authority-requirements-published"));
        services.AddSingleton<IInlineProjection, FocalPointProjection>();
        services.AddSingleton<FocalPointReadModel>();
        return services;
    }

    public static void MapFocalPoints(this WebApplication app) => app.MapGrpcService<FocalPointService>();
}
