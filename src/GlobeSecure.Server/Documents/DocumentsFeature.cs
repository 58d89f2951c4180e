using GlobeSecure.EventStore;
using GlobeSecure.Server.Infrastructure;

namespace GlobeSecure.Server.Documents;

/// <summary>Encrypted evidence documents: resumable chunked upload to a channel, sealing, download by those who may read a carrying message, cleanup.</summary>
internal static class DocumentsFeature
{
    public static IServiceCollection AddDocuments(this IServiceCollection services)
    {
        services.AddEventTypes(r => r
            .Register<UploadStarted>("documents.upload-started")
            .Register<DocumentSealed>("documents.document-sealed")
            .Register<UploadExpired>("documents.upload-expired")
            .Register<DocumentDeleted>("documents.document-deleted"));
        services.AddOptions<DocumentOptions>()
            .BindConfiguration(DocumentOptions.Section)
            .Validate(o => o.IsValid,
                "Globe:Documents: MaxDocumentBytes and AuthorityQuotaBytes must be positive, UploadExpiry and CleanupInterval positive durations (e.g. 1.00:00:00), RetentionDays 0 or more.")
            .ValidateOnStart();
        services.AddSingleton<IInlineProjection, DocumentProjection>();
        services.AddSingleton<DocumentReadModel>();
        services.AddSingleton<IDocumentStorage, PostgresDocumentStorage>();
        services.AddSingleton<UploadHashes>();
        services.AddSingleton<IDocumentCatalog, DocumentCatalog>();
        services.AddSingleton<DocumentCleanup>();
        services.AddHostedService(sp => sp.GetRequiredService<DocumentCleanup>());
        return services;
    }

    public static void MapDocuments(this WebApplication app) => app.MapGrpcService<DocumentService>();
}
