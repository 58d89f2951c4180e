using Google.Rpc;
using GlobeSecure.Contracts.V1;
using Grpc.Core;

namespace GlobeSecure.Client;

/// <summary>One field of a request the server refused, and what to fix.</summary>
/// <param name="Field">The field path, for example <c>focal_point.email</c>.</param>
/// <param name="Description">What is wrong with it.</param>
public sealed record FieldViolation(string Field, string Description);

/// <summary>
/// A call the server refused or could not complete: the gRPC status, the reason from the
/// <c>google.rpc.ErrorInfo</c> the server attached (common.proto, <c>ErrorReason</c>), and for
/// validation failures every offending field. <see cref="Exception.Message"/> is one line, fit to
/// show a person.
/// </summary>
public sealed class GlobeClientException : Exception
{
    /// <summary>Creates the error.</summary>
    public GlobeClientException(StatusCode status, string? reason, string detail, IReadOnlyList<FieldViolation>? violations = null,
        Exception? innerException = null)
        : base(OneLine(status, detail, violations ?? []), innerException)
    {
        Status = status;
        Reason = reason;
        Detail = detail;
        Violations = violations ?? [];
    }

    /// <summary>The gRPC status code.</summary>
    public StatusCode Status { get; }

    /// <summary>The <c>ErrorInfo.reason</c> sent by the server (for example <c>ERROR_REASON_NOT_FOUND</c>), or null when none came.</summary>
    public string? Reason { get; }

    /// <summary>The reason as the contract's enum; <see cref="ErrorReason.Unspecified"/> when none or unknown.</summary>
    public ErrorReason ReasonCode =>
        Reason is not null && ErrorReasonNames.TryGetValue(Reason, out var code) ? code : ErrorReason.Unspecified;

    /// <summary>The server's own message (or the transport's).</summary>
    public string Detail { get; }

    /// <summary>The offending fields of a validation failure; empty otherwise.</summary>
    public IReadOnlyList<FieldViolation> Violations { get; }

    private static readonly Dictionary<string, ErrorReason> ErrorReasonNames =
        CommonReflection.Descriptor.EnumTypes.Single(e => e.Name == nameof(ErrorReason)).Values
            .ToDictionary(v => v.Name, v => (ErrorReason)v.Number, StringComparer.Ordinal);

    /// <summary>
    /// The error for a failed call: reads the <c>google.rpc.Status</c> in the trailers (ErrorInfo and
    /// BadRequest), or falls back to the plain status when the server (or a proxy) sent none.
    /// </summary>
    public static GlobeClientException FromRpc(RpcException exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        string? reason = null;
        var violations = new List<FieldViolation>();
        var detail = exception.Status.Detail;
        Google.Rpc.Status? rich = null;
        try
        {
            rich = exception.GetRpcStatus();
        }
        catch (Google.Protobuf.InvalidProtocolBufferException)
        {
            // A malformed details trailer: the plain status is all there is.
        }

        if (rich is not null)
        {
            detail = string.IsNullOrEmpty(rich.Message) ? detail : rich.Message;
            reason = rich.GetDetail<ErrorInfo>()?.Reason;
            if (rich.GetDetail<BadRequest>() is { } badRequest)
            {
                violations.AddRange(badRequest.FieldViolations.Select(v => new FieldViolation(v.Field, v.Description)));
            }
        }

        if (rich is null && exception.StatusCode == StatusCode.Unavailable)
        {
            detail = $"The server cannot be reached; check the address and that it is running ({detail.TrimEnd('.')}).";
        }

        if (string.IsNullOrWhiteSpace(detail))
        {
            detail = exception.StatusCode switch
            {
                StatusCode.Unavailable => "The server cannot be reached; check the address and that it is running.",
                StatusCode.DeadlineExceeded => "The server did not answer in time.",
                _ => "The call failed.",
            };
        }

        return new GlobeClientException(exception.StatusCode, reason, detail, violations, exception);
    }

    private static string OneLine(StatusCode status, string detail, IReadOnlyList<FieldViolation> violations)
    {
        var text = $"{Describe(status)}: {Flatten(detail)}";
        if (violations.Count > 0)
        {
            text += " (" + string.Join("; ", violations.Select(v => $"{v.Field}: {Flatten(v.Description)}")) + ")";
        }

        return text;
    }

    private static string Describe(StatusCode status) => status switch
    {
        StatusCode.InvalidArgument => "invalid request",
        StatusCode.NotFound => "not found",
        StatusCode.PermissionDenied => "permission denied",
        StatusCode.Unauthenticated => "not authenticated",
        StatusCode.FailedPrecondition => "not possible now",
        StatusCode.AlreadyExists => "already exists",
        StatusCode.ResourceExhausted => "limit exceeded",
        StatusCode.Aborted => "conflict",
        StatusCode.Unavailable => "server unavailable",
        StatusCode.DeadlineExceeded => "timed out",
        StatusCode.Cancelled => "cancelled",
        StatusCode.Internal => "server error",
        _ => status.ToString(),
    };

    // One line, always: servers and proxies may put newlines in messages.
    private static string Flatten(string text) => string.Join(' ', text.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries)).Trim();
}

/// <summary>
/// The client refused what the server served because it does not verify: a certificate chain
/// that does not lead to the pinned network root (for example a certificate the server inserted
/// itself), a revoked or expired certificate, a directory log that does not extend the head this
/// client verified before, or a network whose root key is not the pinned one. Nothing that failed
/// verification is used.
/// </summary>
public sealed class GlobeTrustException : Exception
{
    /// <summary>Creates the error.</summary>
    public GlobeTrustException(string message, Exception? innerException = null) : base(message, innerException)
    {
    }
}
