using Grpc.Core;

namespace GlobeSecure.Server.Infrastructure;

/// <summary>Every log line of the host: structured, with event ids, ids only — never content, keys, tokens or codes.</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 1000, Level = LogLevel.Information, Message = "GlobeSecure server listening on {Address} (event store schema {Schema}, version {SchemaVersion})")]
    public static partial void Listening(ILogger logger, string address, string schema, int schemaVersion);

    [LoggerMessage(EventId = 1001, Level = LogLevel.Information, Message = "Event store schema {Schema}: {Applied} migration step(s) applied")]
    public static partial void Migrated(ILogger logger, string schema, int applied);

    [LoggerMessage(EventId = 1002, Level = LogLevel.Critical, Message = "Cannot prepare the database {Database} on {Host}:{Port}")]
    public static partial void DatabaseUnreachable(ILogger logger, string? database, string? host, int port, Exception exception);

    [LoggerMessage(EventId = 1010, Level = LogLevel.Warning, Message = "TLS client certificate {Thumbprint} refused: it does not chain to the configured client certificate authority ({Reasons})")]
    public static partial void ClientCertificateRefused(ILogger logger, string thumbprint, string reasons);

    [LoggerMessage(EventId = 2000, Level = LogLevel.Error, Message = "Call {Method} failed with {Status}")]
    public static partial void CallFailed(ILogger logger, string method, StatusCode status, Exception exception);

    [LoggerMessage(EventId = 2001, Level = LogLevel.Debug, Message = "Call {Method} refused with {Status}")]
    public static partial void CallRefused(ILogger logger, string method, StatusCode status);

    [LoggerMessage(EventId = 2002, Level = LogLevel.Error, Message = "Could not audit the failure of call {Method}")]
    public static partial void AuditFailed(ILogger logger, string method, Exception exception);
}
