using System.Collections.Frozen;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Polly;
using Polly.Retry;

namespace GlobeSecure.Client;

/// <summary>A call or transfer about to be tried again (<see cref="GlobeClientOptions.OnRetry"/>).</summary>
/// <param name="Operation">The rpc (<c>ChannelService/SendMessage</c>) or <c>document upload</c> / <c>document download</c>.</param>
/// <param name="Attempt">The try about to start: 2 for the first repetition.</param>
/// <param name="Status">The status the previous try ended with.</param>
public sealed record CallRetry(string Operation, int Attempt, StatusCode Status);

/// <summary>
/// Retrying calls that are safe to repeat. A call answered UNAVAILABLE — the server cannot be
/// reached, or it says its database is down for a while (a restart, a fail-over) — is made again
/// after a growing pause (<see cref="GlobeClientOptions.CallRetries"/>,
/// <see cref="GlobeClientOptions.CallRetryDelay"/>), the same Polly retry as a document transfer's
/// resumes. Only calls whose repetition cannot change the outcome are retried: reads, a message
/// send (the same signed envelope again: the server answers a stored message id with the stored
/// message), a receipt (idempotent per kind), and the start of an authentication (a fresh challenge).
/// A write that is not idempotent fails with UNAVAILABLE and the caller decides.
/// </summary>
public sealed partial class GlobeClient
{
    /// <summary>Unary rpcs (service/method) retried on UNAVAILABLE. Documents are not listed: transfers resume by themselves.</summary>
    private static readonly FrozenSet<string> SafeToRetry = FrozenSet.ToFrozenSet(
    [
        "AuditService/QueryAudit", "AuditService/ListCheckpoints", "AuditService/VerifyAudit",
        "AuthService/BeginAuthentication", "AuthService/WhoAmI",
        "ChannelService/GetChannel", "ChannelService/ListChannels", "ChannelService/GetEpochKey", "ChannelService/SendMessage",
        "ChannelService/SubmitReceipt", "ChannelService/ListReceipts", "ChannelService/History", "ChannelService/GetMessage",
        "DeviceService/ListUsers", "DeviceService/ListDevices",
        "DirectoryService/FindDevices", "DirectoryService/ReadLog", "DirectoryService/GetServerKeys",
        "FocalPointService/ListFocalPoints", "FocalPointService/GetContact",
        "MembershipService/ListAuthorities", "MembershipService/GetAuthority", "MembershipService/ListGroups",
        "NetworkService/GetNetwork",
        "RequestService/GetRequest", "RequestService/ListRequests", "RequestService/GetStatistics", "RequestService/GetRequestRecord",
        "TemplateService/ListTemplates", "TemplateService/GetTemplate",
    ], StringComparer.Ordinal);

    /// <summary>Whether <see cref="RetryInterceptor"/> repeats this rpc.</summary>
    private static bool IsSafeToRetry(string serviceName, string methodName) =>
        SafeToRetry.Contains($"{serviceName[(serviceName.LastIndexOf('.') + 1)..]}/{methodName}");

    /// <summary>The retry of transfers and of safe calls: exponential back-off with jitter, at most 30 s between tries.</summary>
    private static ResiliencePipeline RetryPipeline(GlobeClientOptions options, int retries, TimeSpan delay, PredicateBuilder<object> handle) =>
        retries <= 0
            ? ResiliencePipeline.Empty
            : new ResiliencePipelineBuilder { TimeProvider = options.Clock }
                .AddRetry(new RetryStrategyOptions
                {
                    ShouldHandle = handle,
                    MaxRetryAttempts = retries,
                    Delay = delay,
                    MaxDelay = TimeSpan.FromSeconds(30),
                    BackoffType = DelayBackoffType.Exponential,
                    UseJitter = true,
                })
                .Build();

    private void NotifyRetry(string operation, int attempt, Exception? cause) =>
        _options.OnRetry?.Invoke(new CallRetry(operation, attempt, cause switch
        {
            RpcException rpc => rpc.StatusCode,
            BrokenTransferException { InnerException: RpcException rpc } => rpc.StatusCode,
            _ => StatusCode.Unavailable,
        }));

    private static ResiliencePipeline CallPipeline(GlobeClientOptions options) =>
        RetryPipeline(options, options.CallRetries, options.CallRetryDelay,
            new PredicateBuilder().Handle<RpcException>(e => e.StatusCode == StatusCode.Unavailable));

    /// <summary>
    /// Repeats a unary call listed in <see cref="SafeToRetry"/> while it is answered UNAVAILABLE. It
    /// sits outside the bearer-token interceptor, so each try takes the current token (and
    /// authenticates again when the server lost the session, or the first authentication met the outage).
    /// </summary>
    private sealed class RetryInterceptor(ResiliencePipeline pipeline, Action<string, int, Exception?> notify) : Interceptor
    {
        public override AsyncUnaryCall<TResponse> AsyncUnaryCall<TRequest, TResponse>(TRequest request,
            ClientInterceptorContext<TRequest, TResponse> context, AsyncUnaryCallContinuation<TRequest, TResponse> continuation)
        {
            if (!IsSafeToRetry(context.Method.ServiceName, context.Method.Name))
            {
                return continuation(request, context);
            }

            AsyncUnaryCall<TResponse>? current = null;
            RpcException? last = null;
            var attempt = 0;
            var response = pipeline.ExecuteAsync(async _ =>
            {
                if (attempt++ > 0)
                {
                    notify($"{context.Method.ServiceName[(context.Method.ServiceName.LastIndexOf('.') + 1)..]}/{context.Method.Name}", attempt, last);
                }

                current?.Dispose();
                current = continuation(request, context);
                try
                {
                    return await current.ResponseAsync;
                }
                catch (RpcException e)
                {
                    last = e;
                    throw;
                }
            }, context.Options.CancellationToken).AsTask();
            return new AsyncUnaryCall<TResponse>(
                response,
                HeadersAsync(response, () => current),
                () => current?.GetStatus() ?? Status.DefaultSuccess,
                () => current?.GetTrailers() ?? [],
                () => current?.Dispose());
        }

        private static async Task<Metadata> HeadersAsync<TResponse>(Task<TResponse> response, Func<AsyncUnaryCall<TResponse>?> current)
        {
            try
            {
                await response;
            }
            catch (RpcException)
            {
                // The last try's headers are still there.
            }

            return current() is { } call ? await call.ResponseHeadersAsync : [];
        }
    }
}
