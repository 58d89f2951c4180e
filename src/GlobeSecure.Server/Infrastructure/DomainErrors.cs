using Google.Rpc;
using GlobeSecure.Contracts.V1;
using Grpc.Core;

namespace GlobeSecure.Server.Infrastructure;

/// <summary>
/// A business outcome that ends a call: features throw these (or return them from deciders) and
/// <see cref="ErrorMapping"/> turns each into its status code, in one place. Messages say what
/// was wrong and what to do, and never contain content, keys, tokens or codes.
/// </summary>
internal abstract class DomainException(string message, StatusCode status, ErrorReason reason) : Exception(message)
{
    public StatusCode Status { get; } = status;

    public ErrorReason Reason { get; } = reason;
}

/// <summary>
/// One field that is missing or malformed; <paramref name="Field"/> is the proto field path, e.g.
/// "authority.country". <paramref name="OverDeclaredLimit"/>: a size or count over the limit its proto declares.
/// </summary>
internal sealed record FieldViolation(string Field, string Description, bool OverDeclaredLimit = false);

/// <summary>
/// Bad input: INVALID_ARGUMENT with a BadRequest naming each field. With
/// <paramref name="overDeclaredLimits"/> (every violation is a size or count over the limit the
/// proto declares, <see cref="FieldLimits"/>): RESOURCE_EXHAUSTED, like a message over the maximum
/// receive size, with the same BadRequest naming each field and its limit.
/// </summary>
internal sealed class ValidationException(IReadOnlyList<FieldViolation> violations, bool overDeclaredLimits = false)
    : DomainException(
        (overDeclaredLimits ? "Request over its limits: " : "Invalid request: ") + (violations.Count == 1
            ? $"{violations[0].Field}: {violations[0].Description}"
            : $"{violations.Count} fields need fixing: {string.Join("; ", violations.Select(v => $"{v.Field}: {v.Description}"))}"),
        overDeclaredLimits ? StatusCode.ResourceExhausted : StatusCode.InvalidArgument,
        overDeclaredLimits ? ErrorReason.LimitExceeded : ErrorReason.ValidationFailed)
{
    public ValidationException(string field, string description) : this([new FieldViolation(field, description)])
    {
    }

    public IReadOnlyList<FieldViolation> Violations { get; } = violations;
}

/// <summary>Unknown id — and also "exists but not yours", so that probing learns nothing.</summary>
internal sealed class NotFoundException(string kind, string id)
    : DomainException($"No {kind} '{id}' exists, or it is not visible to you.", StatusCode.NotFound, ErrorReason.NotFound);

internal sealed class PermissionDeniedException(string message)
    : DomainException(message, StatusCode.PermissionDenied, ErrorReason.PermissionDenied);

internal sealed class UnauthenticatedException(string message)
    : DomainException(message, StatusCode.Unauthenticated, ErrorReason.Unauthenticated);

/// <summary>The entity's state does not allow the operation: FAILED_PRECONDITION.</summary>
internal sealed class WrongStateException(string message)
    : DomainException(message, StatusCode.FailedPrecondition, ErrorReason.WrongState);

/// <summary>A message sealed under an epoch that is no longer current: FAILED_PRECONDITION, reason STALE_EPOCH (clients re-seal on it).</summary>
internal sealed class StaleEpochException(long current)
    : DomainException($"Stale epoch: current is {current}; fetch its key (GetEpochKey) and seal the message again.", StatusCode.FailedPrecondition,
        ErrorReason.StaleEpoch);

/// <summary>A size, count, quota or rate limit: RESOURCE_EXHAUSTED, with the limit in the message.</summary>
internal sealed class LimitExceededException(string message)
    : DomainException(message, StatusCode.ResourceExhausted, ErrorReason.LimitExceeded);

internal sealed class AlreadyExistsException(string kind, string id)
    : DomainException($"A {kind} '{id}' already exists.", StatusCode.AlreadyExists, ErrorReason.AlreadyExists);

internal static class ErrorDomain
{
    /// <summary>The <c>google.rpc.ErrorInfo.domain</c> of every GlobeSecure error.</summary>
    public const string Name = "globesecure.v1";

    /// <summary>The proto name of a reason, e.g. "ERROR_REASON_NOT_FOUND": what clients branch on.</summary>
    public static string ReasonName(ErrorReason reason) =>
        CommonReflection.Descriptor.FindTypeByName<Google.Protobuf.Reflection.EnumDescriptor>("ErrorReason").FindValueByNumber((int)reason)?.Name ?? reason.ToString();

    public static ErrorInfo Info(ErrorReason reason) => new()
    {
        Domain = Name,
        Reason = ReasonName(reason),
    };
}
