using GlobeSecure.Contracts.V1;
using GlobeSecure.Server.Infrastructure;
using Grpc.Core;

namespace GlobeSecure.Server.Audit;

/// <summary>
/// The auditors' service (audit.proto, docs/audit.md): auditors only, every call audited. The
/// scope rule (network auditor: everything; authority auditor: its authority's entries) and the
/// reading live in <see cref="AuditQueries"/>; checkpoints and verification in <see cref="AuditCheckpoints"/>.
/// </summary>
internal sealed class AuditService(Access access, AuditQueries queries, AuditCheckpoints checkpoints) : Contracts.V1.AuditService.AuditServiceBase
{
    public override async Task<QueryAuditResponse> QueryAudit(QueryAuditRequest request, ServerCallContext context)
    {
        var caller = await access.RequireRoleAsync(context, null, Role.Auditor);
        return await queries.QueryAsync(caller, request, context);
    }

    public override async Task ExportAudit(ExportAuditRequest request, IServerStreamWriter<AuditExportChunk> responseStream, ServerCallContext context)
    {
        var caller = await access.RequireRoleAsync(context, null, Role.Auditor);
        await queries.ExportAsync(caller, request, responseStream, context);
    }

    public override async Task<ListCheckpointsResponse> ListCheckpoints(ListCheckpointsRequest request, ServerCallContext context)
    {
        var caller = await access.RequireRoleAsync(context, null, Role.Auditor);
        return await checkpoints.ListAsync(caller, request, context);
    }

    public override async Task<VerifyAuditResponse> VerifyAudit(VerifyAuditRequest request, ServerCallContext context)
    {
        var caller = await access.RequireRoleAsync(context, null, Role.Auditor);
        return await checkpoints.VerifyAsync(caller, request, context);
    }
}
