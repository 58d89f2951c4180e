using GlobeSecure.Contracts.V1;
using GlobeSecure.EventStore;
using GlobeSecure.Server.Infrastructure;
using Microsoft.Extensions.Options;

namespace GlobeSecure.Server.Documents;

/// <summary>
/// Every <see cref="DocumentOptions.CleanupInterval"/>: expires unsealed uploads past their expiry
/// and deletes sealed documents past retention, each as an event (audited as the server's own
/// action; the projection releases the quota in the same commit), then deletes the chunks. The
/// event comes first because it is conditioned on the document's version, so a seal and an
/// expiry never both win; chunks left behind (a pass stopped half-way, an upload stream still
/// writing across its expiry) are swept by the next passes, which delete again the chunks of
/// documents that ended in the last day (idempotent, cheap). Any process may run it.
/// </summary>
internal sealed partial class DocumentCleanup(
    PostgresEventStore store,
    DocumentReadModel read,
    IDocumentStorage storage,
    UploadHashes hashes,
    TimeProvider clock,
    IOptions<DocumentOptions> options,
    ILogger<DocumentCleanup> logger) : BackgroundService
{
    private const int PageSize = 100;
    private const int SweepSize = 1000;

    /// <summary>The audited action of an expiry and of a retention deletion.</summary>
    public const string ExpireAction = "globesecure.documents/expire-upload";

    public const string DeleteAction = "globesecure.documents/retention-delete";

    /// <summary>One pass, as of the clock's now; returns how many documents it expired and deleted.</summary>
    public async Task<(int Expired, int Deleted)> RunOnceAsync(CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow();
        var expired = 0;
        foreach (var documentId in await read.ExpiredUploadsAsync(now, PageSize, cancellationToken))
        {
            if (await EndAsync(documentId, ExpireAction, new ExpireUpload(documentId, now), cancellationToken))
            {
                expired++;
            }
        }

        var deleted = 0;
        var retention = options.Value.RetentionDays;
        if (retention > 0)
        {
            foreach (var documentId in await read.SealedBeforeAsync(now.AddDays(-retention), PageSize, cancellationToken))
            {
                if (await EndAsync(documentId, DeleteAction, new DeleteForRetention(documentId, retention, now), cancellationToken))
                {
                    deleted++;
                }
            }
        }

        foreach (var documentId in await read.EndedSinceAsync(now.AddDays(-1), SweepSize, cancellationToken))
        {
            await storage.DeleteAsync(documentId, cancellationToken);
        }

        // Hashes of uploads that another process sealed or ended: nothing will use them here again.
        foreach (var documentId in hashes.DocumentIds)
        {
            if (await read.DocumentAsync(documentId, cancellationToken) is not { Status: DocumentStatus.Uploading })
            {
                await hashes.ForgetAsync(documentId, cancellationToken);
            }
        }

        if (expired + deleted > 0)
        {
            LogPass(logger, expired, deleted);
        }

        return (expired, deleted);
    }

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        PeriodicPass.RunAsync(() => options.Value.CleanupInterval, clock, RunOnceAsync, e => LogPassFailed(logger, e), stoppingToken);

    private async Task<bool> EndAsync(Guid documentId, string action, object command, CancellationToken cancellationToken)
    {
        var streamId = DocumentDecider.StreamId(documentId);
        var (state, version) = await store.AggregateStreamAsync(streamId, DocumentState.Initial, DocumentDecider.Evolve, cancellationToken);
        var events = command switch
        {
            ExpireUpload expire => DocumentDecider.Decide(expire, state),
            DeleteForRetention delete => DocumentDecider.Decide(delete, state),
            _ => throw new ArgumentException("Not a cleanup command.", nameof(command)),
        };
        if (events.Count == 0)
        {
            return false;
        }

        var audit = new AuditEntry(Guid.CreateVersion7(), clock.GetUtcNow(), action, AuditOutcome.Allowed, Target: documentId.ToString());
        try
        {
            await store.AppendAsync(streamId, ExpectedVersion.Exactly(version), [.. events.Select(NewEvent.From)], audit, cancellationToken: cancellationToken);
        }
        catch (WrongExpectedVersionException)
        {
            // A seal, or another process's pass, got there first; the next pass decides again.
            return false;
        }

        await hashes.ForgetAsync(documentId, cancellationToken);
        await storage.DeleteAsync(documentId, cancellationToken);
        return true;
    }

    [LoggerMessage(EventId = 3000, Level = LogLevel.Information, Message = "Document cleanup: {Expired} upload(s) expired, {Deleted} document(s) deleted under retention")]
    private static partial void LogPass(ILogger logger, int expired, int deleted);

    [LoggerMessage(EventId = 3001, Level = LogLevel.Warning, Message = "Document cleanup pass failed; the next pass tries again")]
    private static partial void LogPassFailed(ILogger logger, Exception exception);
}
