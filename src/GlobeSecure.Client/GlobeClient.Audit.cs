using System.Runtime.CompilerServices;
using System.Text.Json;
using GlobeSecure.Contracts.V1;
using Grpc.Core;

namespace GlobeSecure.Client;

/// <summary>The audit trail, for auditors (docs/audit.md): query it page by page, export it as JSON Lines.</summary>
public sealed partial class GlobeClient
{
    // The end line is short; this much of the stream's tail always holds it whole.
    private const int ExportTailBytes = 4096;

    /// <summary>
    /// Auditors: one page of the entries matching <paramref name="filter"/>, in ascending position
    /// (<paramref name="limit"/> 1 to 1000, 0 for 100). Pass <c>NextAfterPosition</c> as the next
    /// filter's <c>AfterPosition</c>; 0 means this was the last page.
    /// </summary>
    public Task<QueryAuditResponse> QueryAuditPageAsync(AuditFilter? filter = null, int limit = 0, CancellationToken cancellationToken = default) =>
        CallAsync(_audit.QueryAuditAsync(new QueryAuditRequest { Filter = filter, Limit = limit }, cancellationToken: cancellationToken));

    /// <summary>
    /// Auditors: every entry matching <paramref name="filter"/>, in ascending position, fetched
    /// <paramref name="limit"/> at a time (1 to 1000, 0 for 100) as the enumeration goes. A network
    /// auditor sees every entry, an authority auditor those of its authority (docs/audit.md).
    /// </summary>
    public async IAsyncEnumerable<AuditRecord> QueryAuditAsync(AuditFilter? filter = null, int limit = 0,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var page = filter?.Clone() ?? new AuditFilter();
        while (true)
        {
            var response = await QueryAuditPageAsync(page, limit, cancellationToken);
            foreach (var entry in response.Entries)
            {
                yield return entry;
            }

            if (response.NextAfterPosition == 0)
            {
                yield break;
            }

            page.AfterPosition = response.NextAfterPosition;
        }
    }

    /// <summary>
    /// Auditors: writes the export of the entries matching <paramref name="filter"/> (JSON Lines,
    /// docs/audit.md "Export format") to <paramref name="destination"/> as it arrives, without
    /// holding it in memory; checks that it ended with its end line and returns its counts.
    /// </summary>
    /// <exception cref="GlobeClientException">The call failed, or the export stopped before its end line.</exception>
    public async Task<AuditExportSummary> ExportAuditAsync(AuditFilter? filter, Stream destination, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(destination);
        var request = new ExportAuditRequest { Filter = filter };
        string? rejected = null;
        while (true)
        {
            var (headers, token) = await BearerAsync(rejected, cancellationToken);
            using var call = _audit.ExportAudit(request, headers, cancellationToken: cancellationToken);
            long bytes = 0;
            var tail = new List<byte>(ExportTailBytes * 2);
            try
            {
                await foreach (var chunk in call.ResponseStream.ReadAllAsync(cancellationToken))
                {
                    await destination.WriteAsync(chunk.Data.Memory, cancellationToken);
                    bytes += chunk.Data.Length;
                    tail.AddRange(chunk.Data.Span.Length > ExportTailBytes ? chunk.Data.Span[^ExportTailBytes..] : chunk.Data.Span);
                    if (tail.Count > ExportTailBytes)
                    {
                        tail.RemoveRange(0, tail.Count - ExportTailBytes);
                    }
                }
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.Unauthenticated && rejected is null && bytes == 0)
            {
                rejected = token; // The session ended: renew once and ask again.
                continue;
            }
            catch (RpcException e)
            {
                throw GlobeClientException.FromRpc(e);
            }

            await destination.FlushAsync(cancellationToken);
            return AuditExportSummary.FromEndLine([.. tail], bytes);
        }
    }

    /// <summary>
    /// Auditors: <see cref="ExportAuditAsync(AuditFilter?, Stream, CancellationToken)"/> into a new
    /// file at <paramref name="path"/>: written beside it first and moved into place only once
    /// complete, so a failed export leaves nothing at the path.
    /// </summary>
    /// <exception cref="IOException"><paramref name="path"/> exists.</exception>
    public async Task<AuditExportSummary> ExportAuditAsync(AuditFilter? filter, string path, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (File.Exists(path) || Directory.Exists(path))
        {
            throw new IOException($"'{path}' exists: choose a new file for the export.");
        }

        var full = Path.GetFullPath(path);
        var partial = Path.Combine(Path.GetDirectoryName(full)!, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.partial");
        try
        {
            AuditExportSummary summary;
            await using (var file = new FileStream(partial, FileMode.CreateNew, FileAccess.Write, FileShare.None, 64 * 1024, useAsync: true))
            {
                summary = await ExportAuditAsync(filter, file, cancellationToken);
            }

            File.Move(partial, full);
            return summary;
        }
        catch
        {
            TryDeleteTree(partial);
            throw;
        }
    }

    /// <summary>Auditors: signed checkpoints after <paramref name="afterPosition"/>, ascending (<paramref name="limit"/> 1 to 1000, 0 for 100).</summary>
    public async Task<IReadOnlyList<AuditCheckpoint>> ListAuditCheckpointsAsync(long afterPosition = 0, int limit = 0, CancellationToken cancellationToken = default) =>
        (await CallAsync(_audit.ListCheckpointsAsync(new ListCheckpointsRequest { AfterPosition = afterPosition, Limit = limit },
            cancellationToken: cancellationToken))).Checkpoints;

    /// <summary>Network auditors: the server recomputes its whole stored chain and checks every checkpoint.</summary>
    public Task<VerifyAuditResponse> VerifyAuditOnServerAsync(CancellationToken cancellationToken = default) =>
        CallAsync(_audit.VerifyAuditAsync(new VerifyAuditRequest(), cancellationToken: cancellationToken));

    /// <summary>Any authenticated user: the server's checkpoint keys, current and earlier (DirectoryService.GetServerKeys).</summary>
    public async Task<IReadOnlyList<ServerKey>> GetServerKeysAsync(CancellationToken cancellationToken = default) =>
        (await CallAsync(_directory.GetServerKeysAsync(new GetServerKeysRequest(), cancellationToken: cancellationToken))).Keys;
}

/// <summary>What an audit export held, from its end line.</summary>
/// <param name="Bytes">Bytes written.</param>
/// <param name="Entries">Entry lines, as the end line counts them.</param>
/// <param name="Checkpoints">Checkpoint lines, as the end line counts them.</param>
public sealed record AuditExportSummary(long Bytes, long Entries, long Checkpoints)
{
    internal static AuditExportSummary FromEndLine(byte[] tail, long bytes)
    {
        var end = tail.AsSpan().TrimEnd((byte)'\n');
        var start = end.LastIndexOf((byte)'\n') + 1;
        try
        {
            using var line = JsonDocument.Parse(end[start..].ToArray());
            var root = line.RootElement;
            if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty("type", out var type) && type.ValueEquals("end"))
            {
                return new AuditExportSummary(bytes, root.GetProperty("entries").GetInt64(), root.GetProperty("checkpoints").GetInt64());
            }
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or KeyNotFoundException or FormatException)
        {
            // Not an end line: reported below.
        }

        throw new GlobeClientException(StatusCode.DataLoss, null, "The audit export stopped before its end line: it is incomplete. Export again.");
    }
}
