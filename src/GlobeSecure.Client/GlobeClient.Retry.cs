using Grpc.Core;
using Polly;
using Polly.Retry;

namespace GlobeSecure.Client;

/// <summary>A call or transfer about to be tried again (<see cref="GlobeClientOptions.OnRetry"/>).</summary>
/// <param name="Operation">The rpc (<c>ChannelService/SendMessage</c>) or <c>document upload</c> / <c>document download</c>.</param>
/// <param name="Attempt">The try about to start: 2 for the first repetition.</param>
/// <param name="Status">The status the previous try ended with.</param>
public sealed record CallRetry(string Operation, int Attempt, StatusCode Status);

/// <summary>
/// The retry pipeline shared by document transfers and by the retry of unary calls safe to repeat
/// (<see cref="GlobeClient.RetrySafeMethods"/>, docs/adr/0018-server-faults-and-replicas.md and
/// 0019-database-outage-and-network-faults.md): exponential back-off with jitter, and a
/// notification of every repetition (<see cref="GlobeClientOptions.OnRetry"/>).
/// </summary>
public sealed partial class GlobeClient
{
    /// <summary>The retry of transfers and of safe calls: exponential back-off with jitter, at most <paramref name="maxDelay"/> (default 30 s) between tries.</summary>
    private static ResiliencePipeline RetryPipeline(GlobeClientOptions options, int retries, TimeSpan delay,
        Func<RetryPredicateArguments<object>, ValueTask<bool>> handle,
        TimeSpan? maxDelay = null) =>
        retries <= 0
            ? ResiliencePipeline.Empty
            : new ResiliencePipelineBuilder { TimeProvider = options.Clock }
                .AddRetry(new RetryStrategyOptions
                {
                    ShouldHandle = handle,
                    MaxRetryAttempts = retries,
                    Delay = delay,
                    MaxDelay = maxDelay ?? TimeSpan.FromSeconds(30),
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
}
