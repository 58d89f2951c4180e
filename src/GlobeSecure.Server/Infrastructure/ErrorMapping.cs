using System.Diagnostics;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Google.Rpc;
using GlobeSecure.Contracts.V1;
using GlobeSecure.EventStore;
using Grpc.Core;
using Npgsql;

namespace GlobeSecure.Server.Infrastructure;

/// <summary>What the mapping needs to know about the failed call.</summary>
/// <param name="CallCancelled">The caller cancelled, or its deadline passed.</param>
/// <param name="DeadlinePassed">The call's deadline has passed.</param>
/// <param name="TraceId">The call's trace id, quoted in internal errors so operators can find the log.</param>
/// <param name="IncludeInternalDetails">Development only: put the exception text in internal errors.</param>
internal readonly record struct ErrorMappingContext(bool CallCancelled, bool DeadlinePassed, string? TraceId, bool IncludeInternalDetails);

/// <summary>
/// The one place where failures become gRPC statuses (ARCHITECTURE.md, "Errors"). Every status
/// carries a google.rpc.Status with an ErrorInfo (domain "globesecure.v1", reason from
/// common.proto) and, for validation, a BadRequest with the field violations.
/// </summary>
internal static class ErrorMapping
{
    public static RpcException ToRpcException(Exception exception, ErrorMappingContext context)
    {
        switch (exception)
        {
            case RpcException rpc:
                return rpc;
            case ValidationException validation:
                var badRequest = new BadRequest();
                foreach (var violation in validation.Violations)
                {
                    badRequest.FieldViolations.Add(new BadRequest.Types.FieldViolation { Field = violation.Field, Description = violation.Description });
                }

                return Build(validation.Status, validation.Message, validation.Reason, Any.Pack(badRequest));
            case DomainException domain:
                return Build(domain.Status, domain.Message, domain.Reason);
            case InvalidProtocolBufferException:
                // A message that does not parse: UndecodableRequests marks these first; this is the fallback.
                return Build(StatusCode.InvalidArgument, "The request is not a well-formed message of the rpc's request type.", ErrorReason.ValidationFailed);
            case WrongExpectedVersionException conflict:
                return Build(StatusCode.Aborted, conflict.Message, ErrorReason.ConcurrencyConflict);
            case EventIdConflictException idConflict:
                return Build(StatusCode.AlreadyExists, idConflict.Message, ErrorReason.AlreadyExists);
            case OperationCanceledException when context.DeadlinePassed:
                return Build(StatusCode.DeadlineExceeded, "The call's deadline passed before it finished; a retry with the same ids is safe.", ErrorReason.Cancelled);
            case OperationCanceledException when context.CallCancelled:
                return Build(StatusCode.Cancelled, "The call was cancelled before it finished; a retry with the same ids is safe.", ErrorReason.Cancelled);
            case var _ when IsDatabaseUnavailable(exception):
                return Build(StatusCode.Unavailable, "The database is temporarily unavailable; retry with backoff.", ErrorReason.Unavailable);
            default:
                var message = $"An internal error occurred (trace {context.TraceId ?? "unknown"}); it has been logged.";
                if (context.IncludeInternalDetails)
                {
                    message += $" {exception.GetType().Name}: {exception.Message}";
                }

                return Build(StatusCode.Internal, message, ErrorReason.Internal);
        }
    }

    /// <summary>
    /// Whether the failure says the database cannot be reached or is going away, so that the same
    /// call may succeed later: a connection refused, broken or timed out, or a server shutting down,
    /// starting up or recovering. Npgsql's <see cref="NpgsqlException.IsTransient"/> covers the first
    /// (and SQLSTATE 57P03 "cannot connect now"), but not the FATAL a session receives when the
    /// server is shut down under it (57P01 admin shutdown, 57P02 crash shutdown) nor every
    /// connection exception (class 08); the exception may also arrive wrapped (the event store's
    /// writer, a failed rollback).
    /// </summary>
    public static bool IsDatabaseUnavailable(Exception exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            switch (e)
            {
                case PostgresException postgres when postgres.SqlState.StartsWith("08", StringComparison.Ordinal)
                    || postgres.SqlState is PostgresErrorCodes.AdminShutdown or PostgresErrorCodes.CrashShutdown or PostgresErrorCodes.CannotConnectNow:
                case NpgsqlException { IsTransient: true }:
                case TimeoutException:
                    return true;
            }
        }

        return false;
    }

    /// <summary>Whether the mapped failure is a server fault worth logging as an error.</summary>
    public static bool IsServerFault(RpcException mapped) => mapped.StatusCode is StatusCode.Internal or StatusCode.Unavailable;

    private static RpcException Build(StatusCode code, string message, ErrorReason reason, Any? extra = null)
    {
        var status = new Google.Rpc.Status
        {
            Code = (int)code,
            Message = message,
            Details = { Any.Pack(ErrorDomain.Info(reason)) },
        };
        if (extra is not null)
        {
            status.Details.Add(extra);
        }

        return status.ToRpcException();
    }

    public static ErrorMappingContext ContextOf(ServerCallContext call, bool development, TimeProvider clock) => new(
        call.CancellationToken.IsCancellationRequested,
        call.Deadline != DateTime.MaxValue && call.Deadline <= clock.GetUtcNow().UtcDateTime,
        Activity.Current?.TraceId.ToString(),
        development);
}
