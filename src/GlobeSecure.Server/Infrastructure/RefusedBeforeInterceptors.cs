using GlobeSecure.EventStore;
using GlobeSecure.Server.Audit;
using Grpc.AspNetCore.Server;
using Grpc.Core;
using Microsoft.AspNetCore.Http.Features;

namespace GlobeSecure.Server.Infrastructure;

/// <summary>
/// grpc-dotnet refuses some calls before any interceptor runs — chiefly a unary or
/// server-streaming request over <c>Globe:Limits:MaxReceiveMessageBytes</c> (RESOURCE_EXHAUSTED),
/// read before the handler — so no interceptor can audit them. This middleware, around the gRPC
/// endpoints, records a failed entry for a call of the contract that ended with an error status
/// without reaching the interceptors. The actor is anonymous: authentication never ran.
/// </summary>
internal static class RefusedBeforeInterceptors
{
    public static void UseAuditOfCallsRefusedBeforeInterceptors(this WebApplication app)
    {
        var audit = app.Services.GetRequiredService<AuditTrail>();
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(RefusedBeforeInterceptors));
        app.Use(async (http, next) =>
        {
            await next(http);
            if (http.Features.Get<IServerCallContextFeature>()?.ServerCallContext is not { } call
                || ErrorMappingInterceptor.Entered(call)
                || !call.Method.StartsWith("/globesecure.", StringComparison.Ordinal)
                || StatusOf(http) is not { } status || status == StatusCode.OK)
            {
                return;
            }

            try
            {
                await audit.RecordAsync(call, Actor.Anonymous, call.Method, AuditOutcome.Failed, null, status.ToString());
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                Log.AuditFailed(logger, call.Method, e);
            }
        });
    }

    /// <summary>The call's grpc-status: in the trailers, or in the headers of a trailers-only answer.</summary>
    private static StatusCode? StatusOf(HttpContext http)
    {
        var value = http.Features.Get<IHttpResponseTrailersFeature>()?.Trailers["grpc-status"].ToString() is { Length: > 0 } trailer
            ? trailer
            : http.Response.Headers["grpc-status"].ToString();
        return int.TryParse(value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var code)
            ? (StatusCode)code
            : null;
    }
}
