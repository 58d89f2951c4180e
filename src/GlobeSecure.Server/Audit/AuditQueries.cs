using GlobeSecure.Contracts.V1;
using GlobeSecure.Server.Infrastructure;
using Grpc.Core;

namespace GlobeSecure.Server.Audit;

/// <summary>Reading the trail for auditors: the scope rule, filters, pages and the JSON Lines export (docs/audit.md).</summary>
internal sealed class AuditQueries
{
    public Task<QueryAuditResponse> QueryAsync(Caller caller, QueryAuditRequest request, ServerCallContext context) =>
        throw new RpcException(new Status(StatusCode.Unimplemented, "QueryAudit is being built (issue 8)."));

    public Task ExportAsync(Caller caller, ExportAuditRequest request, IServerStreamWriter<AuditExportChunk> stream, ServerCallContext context) =>
        throw new RpcException(new Status(StatusCode.Unimplemented, "ExportAudit is being built (issue 8)."));
}
