using Google.Protobuf.WellKnownTypes;
using Google.Rpc;
using GlobeSecure.Contracts.V1;
using Grpc.Core;

namespace GlobeSecure.Client.Tests;

public sealed class ErrorMappingTests
{
    private static RpcException Rich(StatusCode code, string message, string reason, params (string Field, string Description)[] violations)
    {
        var status = new Google.Rpc.Status
        {
            Code = (int)code,
            Message = message,
            Details = { Any.Pack(new ErrorInfo { Domain = "globesecure.v1", Reason = reason }) },
        };
        if (violations.Length > 0)
        {
            var badRequest = new BadRequest();
            badRequest.FieldViolations.AddRange(violations.Select(v => new BadRequest.Types.FieldViolation { Field = v.Field, Description = v.Description }));
            status.Details.Add(Any.Pack(badRequest));
        }

        return status.ToRpcException();
    }

    [Fact]
    public void FromRpc_ValidationFailure_CarriesReasonAndEveryFieldOnOneLine()
    {
        var error = GlobeClientException.FromRpc(Rich(StatusCode.InvalidArgument, "The application is invalid.", "ERROR_REASON_VALIDATION_FAILED",
            ("country", "Use an ISO 3166-1 alpha-2 code,\nsuch as KE."), ("focal_point.email", "Give an email address.")));

        Assert.Equal(StatusCode.InvalidArgument, error.Status);
        Assert.Equal("ERROR_REASON_VALIDATION_FAILED", error.Reason);
        Assert.Equal(ErrorReason.ValidationFailed, error.ReasonCode);
        Assert.Equal(["country", "focal_point.email"], error.Violations.Select(v => v.Field));
        Assert.Equal(
            "invalid request: The application is invalid. (country: Use an ISO 3166-1 alpha-2 code, such as KE.; focal_point.email: Give an email address.)",
            error.Message);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Theory]
    [InlineData(StatusCode.NotFound, "ERROR_REASON_NOT_FOUND", ErrorReason.NotFound, "not found")]
    [InlineData(StatusCode.PermissionDenied, "ERROR_REASON_PERMISSION_DENIED", ErrorReason.PermissionDenied, "permission denied")]
    [InlineData(StatusCode.Unauthenticated, "ERROR_REASON_UNAUTHENTICATED", ErrorReason.Unauthenticated, "not authenticated")]
    [InlineData(StatusCode.FailedPrecondition, "ERROR_REASON_WRONG_STATE", ErrorReason.WrongState, "not possible now")]
    [InlineData(StatusCode.ResourceExhausted, "ERROR_REASON_LIMIT_EXCEEDED", ErrorReason.LimitExceeded, "limit exceeded")]
    public void FromRpc_DomainError_MapsStatusAndReason(StatusCode code, string reason, ErrorReason expected, string prefix)
    {
        var error = GlobeClientException.FromRpc(Rich(code, "What went wrong.", reason));

        Assert.Equal(code, error.Status);
        Assert.Equal(expected, error.ReasonCode);
        Assert.Empty(error.Violations);
        Assert.Equal($"{prefix}: What went wrong.", error.Message);
    }

    [Fact]
    public void FromRpc_UnknownReason_KeepsTheTextAndIsUnspecified()
    {
        var error = GlobeClientException.FromRpc(Rich(StatusCode.Aborted, "Conflict.", "SOMETHING_NEW"));

        Assert.Equal("SOMETHING_NEW", error.Reason);
        Assert.Equal(ErrorReason.Unspecified, error.ReasonCode);
    }

    [Fact]
    public void FromRpc_PlainStatusWithoutDetails_UsesTheStatusDetail()
    {
        var error = GlobeClientException.FromRpc(new RpcException(new Grpc.Core.Status(StatusCode.PermissionDenied, "No.")));

        Assert.Null(error.Reason);
        Assert.Equal("permission denied: No.", error.Message);
    }

    [Fact]
    public void FromRpc_UnreachableServer_SaysSoOnOneLine()
    {
        var error = GlobeClientException.FromRpc(new RpcException(new Grpc.Core.Status(StatusCode.Unavailable, "Error connecting to subchannel.")));

        Assert.StartsWith("server unavailable: The server cannot be reached", error.Message, StringComparison.Ordinal);
    }
}
