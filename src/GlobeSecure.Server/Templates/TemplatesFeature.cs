using GlobeSecure.EventStore;
using GlobeSecure.Server.Infrastructure;

namespace GlobeSecure.Server.Templates;

/// <summary>Request templates: versioned, immutable once published, seeded with the default request for information.</summary>
internal static class TemplatesFeature
{
    public static IServiceCollection AddTemplates(this IServiceCollection services)
    {
        services.AddEventTypes(r => r.Register<TemplateVersionPublished>("templates.version-published"));
        services.AddSingleton<IInlineProjection, TemplateProjection>();
        services.AddSingleton<TemplateReadModel>();
        services.AddHostedService<TemplateSeed>();
        return services;
    }

    public static void MapTemplates(this WebApplication app) => app.MapGrpcService<TemplateService>();
}
