using Grpc.Core;
using Grpc.Core.Interceptors;
using Grpc.Net.Client;
using Grpc.Net.Client.Balancer;
using Grpc.Net.Client.Configuration;
using Polly;

namespace GlobeSecure.Client;

/// <summary>
/// The connection's resilience (docs/adr/0018-server-faults-and-replicas.md): an address list
/// balanced round-robin on the client, and a retry of the unary calls that are safe to send twice
/// when the connection or the server went away. Streams resume by themselves elsewhere
/// (documents, subscriptions).
/// </summary>
public sealed partial class GlobeClient
{
    /// <summary>
    /// Unary rpcs that may be sent again after UNAVAILABLE, which can mean "never arrived" as well
    /// as "done, but the answer was lost": reads, and writes the server recognises by a client-chosen
    /// id (the same request again answers with what was stored, or changes nothing). The retry
    /// sends the same request message again, so a sealed envelope keeps its signature and nonce and
    /// the server sees the identical message. Everything else is sent once.
    /// </summary>
    internal static readonly IReadOnlyDictionary<string, string[]> RetrySafeMethods = new Dictionary<string, string[]>
    {
        ["globesecure.v1.NetworkService"] = ["GetNetwork"],
        ["globesecure.v1.AuthService"] = ["BeginAuthentication", "WhoAmI"],
        ["globesecure.v1.DirectoryService"] = ["FindDevices", "ReadLog", "GetServerKeys"],
        ["globesecure.v1.DeviceService"] = ["ListUsers", "ListDevices"],
        ["globesecure.v1.MembershipService"] = ["ListAuthorities", "GetAuthority", "ListGroups"],
        ["globesecure.v1.ChannelService"] =
        [
            "CreateChannel", "GetChannel", "ListChannels", "GetEpochKey", "SendMessage", "SubmitReceipt", "ListReceipts",
            "RequestConsent", "History", "GetMessage",
        ],
        ["globesecure.v1.DocumentService"] = ["BeginUpload", "GetDocument", "SealDocument", "ListDocuments"],
        ["globesecure.v1.TemplateService"] = ["ListTemplates", "GetTemplate"],
        ["globesecure.v1.RequestService"] = ["CreateRequest", "GetRequest", "ListRequests", "GetStatistics", "GetRequestRecord"],
        ["globesecure.v1.FocalPointService"] = ["ListFocalPoints", "GetContact"],
        ["globesecure.v1.AuditService"] = ["QueryAudit", "ListCheckpoints", "VerifyAudit"],
    };

    /// <summary>Every address of the server: <see cref="GlobeClientOptions.Address"/> and its other replicas.</summary>
    public IReadOnlyList<Uri> Addresses => [_options.Address, .. _options.OtherAddresses];

    /// <summary>The channel: one address, or a static address list balanced round-robin.</summary>
    private static GrpcChannel CreateChannel(GlobeClientOptions options)
    {
        var handler = options.HttpHandler ?? TrustingHandler(options);
        var channelOptions = new GrpcChannelOptions
        {
            HttpHandler = handler,
            DisposeHttpClient = true,
            ServiceConfig = new ServiceConfig(),
            // gRPC's default backs reconnection off up to two minutes: a server back after a restart
            // would wait that long for this client. Ten seconds, like the subscription's back-off.
            InitialReconnectBackoff = TimeSpan.FromMilliseconds(250),
            MaxReconnectBackoff = TimeSpan.FromSeconds(10),
        };
        if (options.OtherAddresses.Count == 0)
        {
            return GrpcChannel.ForAddress(options.Address, channelOptions);
        }

        List<Uri> addresses = [options.Address, .. options.OtherAddresses];
        foreach (var address in addresses)
        {
            if (address is not { IsAbsoluteUri: true } || address.Scheme != options.Address.Scheme ||
                (address.Scheme != Uri.UriSchemeHttp && address.Scheme != Uri.UriSchemeHttps))
            {
                throw new ArgumentException(
                    $"'{address}' is not a server address like the first one ({options.Address.Scheme}://host:port): every replica has the same scheme.",
                    nameof(options));
            }
        }

        if (handler is not (null or SocketsHttpHandler))
        {
            throw new ArgumentException("Several addresses need the default connection handler (or a SocketsHttpHandler): the balancer opens the connections.",
                nameof(options));
        }

        // Each address keeps its host name: TLS checks the certificate against it.
        var balancerAddresses = addresses.Select(a => new BalancerAddress(a.IdnHost, a.Port)).ToArray();
        channelOptions.Credentials = options.Address.Scheme == Uri.UriSchemeHttps ? ChannelCredentials.SecureSsl : ChannelCredentials.Insecure;
        channelOptions.ServiceProvider = new BalancerServices(new StaticResolverFactory(_ => balancerAddresses));
        channelOptions.ServiceConfig!.LoadBalancingConfigs.Add(new RoundRobinConfig());
        return GrpcChannel.ForAddress("static:///globesecure", channelOptions);
    }

    /// <summary>The retry of the retry-safe unary calls (<see cref="RetryingCallInterceptor"/>); null when retries are off.</summary>
    private static Interceptor? RetryingInterceptor(GlobeClientOptions options, Action<string, int, Exception?> notify)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(options.CallRetries, nameof(options.CallRetries));
        if (options.CallRetries == 0)
        {
            return null;
        }

        var pipeline = RetryPipeline(options, options.CallRetries, options.CallRetryDelay,
            args => ValueTask.FromResult(args.Outcome.Exception is { } e && IsBroken(e, args.Context.CancellationToken) && !IsRefusedCertificate(e)),
            maxDelay: TimeSpan.FromSeconds(5));
        var safe = RetrySafeMethods.SelectMany(s => s.Value.Select(m => $"/{s.Key}/{m}")).ToHashSet(StringComparer.Ordinal);
        return new RetryingCallInterceptor(pipeline, safe, notify);
    }

    /// <summary>A TLS handshake that failed (a certificate this client does not trust): asking again changes nothing.</summary>
    private static bool IsRefusedCertificate(Exception e)
    {
        for (Exception? current = e is RpcException rpc ? rpc.Status.DebugException ?? e : e; current is not null; current = current.InnerException)
        {
            if (current is System.Security.Authentication.AuthenticationException)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The one service the channel asks for: the static resolver of the address list.</summary>
    private sealed class BalancerServices(ResolverFactory resolver) : IServiceProvider
    {
        public object? GetService(Type serviceType) =>
            serviceType == typeof(IEnumerable<ResolverFactory>) ? new[] { resolver }
            : serviceType == typeof(ResolverFactory) ? resolver
            : null;
    }

    /// <summary>
    /// Sends a retry-safe unary call again when it broke rather than being answered (UNAVAILABLE,
    /// or a status this side's HTTP/2 stack made up for a dropped connection: <see cref="IsBroken"/>).
    /// gRPC's own retry policy cannot tell the two apart by status code alone, and a server killed
    /// between its commit and its answer shows as the second.
    /// </summary>
    private sealed class RetryingCallInterceptor(ResiliencePipeline pipeline, HashSet<string> safe, Action<string, int, Exception?> notify) : Interceptor
    {
        public override AsyncUnaryCall<TResponse> AsyncUnaryCall<TRequest, TResponse>(TRequest request,
            ClientInterceptorContext<TRequest, TResponse> context, AsyncUnaryCallContinuation<TRequest, TResponse> continuation)
        {
            if (!safe.Contains(context.Method.FullName))
            {
                return continuation(request, context);
            }

            AsyncUnaryCall<TResponse>? current = null;
            Exception? last = null;
            var attempt = 0;
            var operation = $"{context.Method.ServiceName[(context.Method.ServiceName.LastIndexOf('.') + 1)..]}/{context.Method.Name}";
            var response = pipeline.ExecuteAsync(async ct =>
            {
                if (attempt++ > 0)
                {
                    notify(operation, attempt, last);
                }

                current?.Dispose();
                current = continuation(request, context);
                try
                {
                    return await current.ResponseAsync;
                }
                catch (Exception e)
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
                // The last attempt's headers are still there.
            }

            return current() is { } call ? await call.ResponseHeadersAsync : [];
        }
    }
}
