using Google.Rpc;
using GlobeSecure.EventStore;
using GlobeSecure.Server.Infrastructure;
using Grpc.Core;

namespace GlobeSecure.Server.Tests;

/// <summary>One test per mapping of ARCHITECTURE.md "Errors"; no server needed.</summary>
public sealed class ErrorMappingTests
{
    private static readonly ErrorMappingContext Call = new(CallCancelled: false, DeadlinePassed: false, TraceId: "trace-1", IncludeInternalDetails: false);

    private static (RpcException Exception, Google.Rpc.Status Status, ErrorInfo Info) Map(Exception exception, ErrorMappingContext? context = null)
    {
        var mapped = ErrorMapping.ToRpcException(exception, context ?? Call);
        var status = mapped.GetRpcStatus() ?? throw new Xunit.Sdk.XunitException("no google.rpc.Status in the trailers");
        return (mapped, status, status.GetDetail<ErrorInfo>());
    }

    [Fact]
    public void Validation_MapsToInvalidArgumentWithFieldViolations()
    {
        var (exception, status, info) = Map(new ValidationException([new FieldViolation("a.b", "is required"), new FieldViolation("c", "too long")]));

        Assert.Equal(StatusCode.InvalidArgument, exception.StatusCode);
        Assert.Equal("globesecure.v1", info.Domain);
        Assert.Equal("ERROR_REASON_VALIDATION_FAILED", info.Reason);
        var badRequest = status.GetDetail<BadRequest>();
        Assert.Equal(["a.b", "c"], badRequest.FieldViolations.Select(v => v.Field));
        Assert.Equal("is required", badRequest.FieldViolations[0].Description);
        Assert.Contains("a.b: is required", exception.Status.Detail, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("not-found", StatusCode.NotFound, "ERROR_REASON_NOT_FOUND")]
    [InlineData("permission", StatusCode.PermissionDenied, "ERROR_REASON_PERMISSION_DENIED")]
    [InlineData("unauthenticated", StatusCode.Unauthenticated, "ERROR_REASON_UNAUTHENTICATED")]
    [InlineData("wrong-state", StatusCode.FailedPrecondition, "ERROR_REASON_WRONG_STATE")]
    [InlineData("stale-epoch", StatusCode.FailedPrecondition, "ERROR_REASON_STALE_EPOCH")]
    [InlineData("limit", StatusCode.ResourceExhausted, "ERROR_REASON_LIMIT_EXCEEDED")]
    [InlineData("exists", StatusCode.AlreadyExists, "ERROR_REASON_ALREADY_EXISTS")]
    [InlineData("concurrency", StatusCode.Aborted, "ERROR_REASON_CONCURRENCY_CONFLICT")]
    [InlineData("id-conflict", StatusCode.AlreadyExists, "ERROR_REASON_ALREADY_EXISTS")]
    public void DomainError_MapsToItsStatusAndReason(string kind, StatusCode code, string reason)
    {
        var (exception, _, info) = Map(Domain(kind));

        Assert.Equal(code, exception.StatusCode);
        Assert.Equal(reason, info.Reason);
        Assert.Equal(Domain(kind).Message, exception.Status.Detail);
    }

    [Fact]
    public void Cancelled_WhenTheDeadlinePassed_MapsToDeadlineExceeded()
    {
        var (exception, _, info) = Map(new OperationCanceledException(), Call with { CallCancelled = true, DeadlinePassed = true });

        Assert.Equal(StatusCode.DeadlineExceeded, exception.StatusCode);
        Assert.Equal("ERROR_REASON_CANCELLED", info.Reason);
    }

    [Fact]
    public void Cancelled_ByTheCaller_MapsToCancelled()
    {
        var (exception, _, _) = Map(new TaskCanceledException(), Call with { CallCancelled = true });

        Assert.Equal(StatusCode.Cancelled, exception.StatusCode);
    }

    [Fact]
    public void Timeout_MapsToUnavailable()
    {
        var (exception, _, info) = Map(new TimeoutException());

        Assert.Equal(StatusCode.Unavailable, exception.StatusCode);
        Assert.Equal("ERROR_REASON_UNAVAILABLE", info.Reason);
    }

    [Fact]
    public void TransientDatabaseFailure_MapsToUnavailable()
    {
        var (exception, _, _) = Map(new Npgsql.NpgsqlException("connection lost", new IOException("reset")));

        Assert.Equal(StatusCode.Unavailable, exception.StatusCode);
        Assert.DoesNotContain("reset", exception.Status.Detail, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("57P01")] // admin shutdown: pg_ctl stop -m fast ends the sessions
    [InlineData("57P02")] // crash shutdown
    [InlineData("57P03")] // cannot connect now: starting up or shutting down
    [InlineData("08006")] // connection failure
    public void DatabaseGoingAway_MapsToUnavailableAndIsNotAnInternalError(string sqlState)
    {
        var shutdown = new Npgsql.PostgresException("terminating connection", "FATAL", "FATAL", sqlState);

        var (direct, _, info) = Map(shutdown);
        var (wrapped, _, _) = Map(new InvalidOperationException("the append failed", shutdown));

        Assert.Equal((StatusCode.Unavailable, StatusCode.Unavailable), (direct.StatusCode, wrapped.StatusCode));
        Assert.Equal("ERROR_REASON_UNAVAILABLE", info.Reason);
    }

    [Fact]
    public void OtherDatabaseError_StaysInternal()
    {
        var (exception, _, _) = Map(new Npgsql.PostgresException("syntax error", "ERROR", "ERROR", "42601"));

        Assert.Equal(StatusCode.Internal, exception.StatusCode);
    }

    [Fact]
    public void UnexpectedError_MapsToInternalWithoutDetailsButWithTheTraceId()
    {
        var (exception, _, info) = Map(new InvalidOperationException("secret internal detail"));

        Assert.Equal(StatusCode.Internal, exception.StatusCode);
        Assert.Equal("ERROR_REASON_INTERNAL", info.Reason);
        Assert.DoesNotContain("secret", exception.Status.Detail, StringComparison.Ordinal);
        Assert.Contains("trace-1", exception.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void UnexpectedError_InDevelopment_IncludesTheDetails()
    {
        var (exception, _, _) = Map(new InvalidOperationException("secret internal detail"), Call with { IncludeInternalDetails = true });

        Assert.Contains("secret internal detail", exception.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void CancellationWithoutACancelledCall_IsAnInternalError()
    {
        var (exception, _, _) = Map(new OperationCanceledException());

        Assert.Equal(StatusCode.Internal, exception.StatusCode);
    }

    [Fact]
    public void RpcException_PassesThroughUnchanged()
    {
        var original = new RpcException(new Grpc.Core.Status(StatusCode.OutOfRange, "x"));

        Assert.Same(original, ErrorMapping.ToRpcException(original, Call));
    }

    private static Exception Domain(string kind) => kind switch
    {
        "not-found" => new NotFoundException("authority", "a-1"),
        "permission" => new PermissionDeniedException("no"),
        "unauthenticated" => new UnauthenticatedException("sign in"),
        "wrong-state" => new WrongStateException("suspended"),
        "stale-epoch" => new StaleEpochException(2),
        "limit" => new LimitExceededException("too big"),
        "exists" => new AlreadyExistsException("authority", "a-1"),
        "concurrency" => new WrongExpectedVersionException("s", ExpectedVersion.Exactly(3), 4),
        "id-conflict" => new EventIdConflictException(Guid.Empty, "reused"),
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };
}
