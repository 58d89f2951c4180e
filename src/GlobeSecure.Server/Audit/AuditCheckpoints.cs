using GlobeSecure.Contracts.V1;
using GlobeSecure.Server.Infrastructure;
using Grpc.Core;

namespace GlobeSecure.Server.Audit;

/// <summary>Signed checkpoints of the chain head, retention and verification (docs/audit.md).</summary>
internal sealed class AuditCheckpoints
{
    public Task<ListCheckpointsResponse> ListAsync(Caller caller, ListCheckpointsRequest request, ServerCallContext context) =>
        throw new RpcException(new Status(StatusCode.Unimplemented, "ListCheckpoints is being built (issue 8)."));

    public Task<VerifyAuditResponse> VerifyAsync(Caller caller, VerifyAuditRequest request, ServerCallContext context) =>
        throw new RpcException(new Status(StatusCode.Unimplemented, "VerifyAudit is being built (issue 8)."));
}
