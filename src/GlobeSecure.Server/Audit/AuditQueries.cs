using GlobeSecure.Contracts.V1;
using GlobeSecure.EventStore;
using GlobeSecure.Server.Identity;
using GlobeSecure.Server.Infrastructure;
using Grpc.Core;

namespace GlobeSecure.Server.Audit;

/// <summary>Reading the trail for auditors: the scope rule, filters, pages and the JSON Lines export (docs/audit.md).</summary>
internal sealed class AuditQueries(PostgresEventStore store, Access access, AuditScopes scopes, IdentityReadModel identity,
    IAuditCheckpointSource checkpoints, TimeProvider clock)
{
    /// <summary>Entries an export reads at a time: enough to amortise a query, few enough to keep memory flat.</summary>
    public const int ExportBatch = 1000;

    public async Task<QueryAuditResponse> QueryAsync(Caller caller, QueryAuditRequest request, ServerCallContext context)
    {
        var ct = context.CancellationToken;
        var v = new Violations();
        var selection = AuditWire.Selection(v, request.Filter, await scopes.OfAuditorAsync(caller, ct));
        var limit = AuditWire.Limit(v, request.Limit);
        v.ThrowIfAny();

        var entries = await store.ReadAuditLinkedAsync(selection, limit + 1, ct);
        var response = new QueryAuditResponse();
        response.Entries.Add(entries.Take(limit).Select(AuditWire.ToProto));
        if (entries.Count > limit)
        {
            response.NextAfterPosition = entries[limit - 1].Entry.Position;
        }

        await access.RecordReadAsync(context, ReadTarget(request.Filter));
        return response;
    }

    /// <summary>
    /// Streams the selection as JSON Lines. The read is audited before the first byte leaves, and
    /// the export stops at the head as it was then (so it holds its own entry when in scope):
    /// entries are read in batches of <see cref="ExportBatch"/> by position, never all at once.
    /// </summary>
    public async Task ExportAsync(Caller caller, ExportAuditRequest request, IServerStreamWriter<AuditExportChunk> stream, ServerCallContext context)
    {
        var ct = context.CancellationToken;
        var v = new Violations();
        var filter = request.Filter ?? new AuditFilter();
        var scope = await scopes.OfAuditorAsync(caller, ct);
        var selection = AuditWire.Selection(v, filter, scope);
        v.ThrowIfAny();

        var network = await identity.NetworkAsync(ct) ?? throw new NotFoundException("network", "(not bootstrapped yet)");
        await access.RecordReadAsync(context, ReadTarget(filter));

        // The export's own entry is the head now: signing it means every export ends with a
        // checkpoint that covers what it holds, whatever the interval pass has done.
        await checkpoints.SignHeadAsync(ct);
        selection = selection with { ThroughPosition = await store.AuditHeadPositionAsync(ct) };
        var batch = await store.ReadAuditLinkedAsync(selection, ExportBatch, ct);
        var first = batch.Count > 0 ? batch[0].Entry.Position : 0;
        var before = first > 1 ? await checkpoints.LastCheckpointBeforeAsync(first, ct) : null;
        var contiguous = await IsContiguousAsync(selection, first, before, ct);

        using var writer = new AuditExportStream(stream, ct);
        await writer.HeaderAsync(clock.GetUtcNow(), network.SecretariatId, contiguous, filter, await checkpoints.KeysAsync(ct));
        var last = 0L;
        while (batch.Count > 0)
        {
            foreach (var entry in batch)
            {
                await writer.EntryAsync(entry);
            }

            last = batch[^1].Entry.Position;
            batch = batch.Count < ExportBatch ? [] : await store.ReadAuditLinkedAsync(selection with { AfterPosition = last }, ExportBatch, ct);
        }

        if (last > 0)
        {
            if (contiguous && before is not null)
            {
                await writer.CheckpointAsync(before);
            }

            foreach (var checkpoint in await checkpoints.CheckpointsAsync(first, last, ct))
            {
                await writer.CheckpointAsync(checkpoint);
            }
        }

        await writer.CompleteAsync();
    }

    /// <summary>
    /// Contiguous — the chain recomputes across the export, from an anchored start — when nothing
    /// but positions and times narrows it, its entries are a gap-free run of positions (with a time
    /// range they may not be: times are taken before commit, so concurrent calls can commit out of
    /// time order), and its first entry follows the chain's start or a checkpoint (a retention cut,
    /// or one the export starts right after), whose signed hash is its previous link.
    /// </summary>
    private async Task<bool> IsContiguousAsync(AuditSelection selection, long first, AuditCheckpoint? before, CancellationToken ct)
    {
        if (!selection.OnlyPositionsAndTimes || (first > 1 && before?.Position != first - 1))
        {
            return false;
        }

        return (selection.From is null && selection.To is null) || (await store.AuditRangeAsync(selection, ct)).IsContiguous;
    }

    /// <summary>The audited target of a read of the trail: the authority the filter names, if any.</summary>
    private static string? ReadTarget(AuditFilter? filter) => filter is { AuthorityId.Length: > 0 } ? filter.AuthorityId : null;
}
