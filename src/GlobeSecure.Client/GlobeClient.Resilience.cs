using Grpc.Core;
using Grpc.Net.Client;
using Grpc.Net.Client.Balancer;
using Grpc.Net.Client.Configuration;

namespace GlobeSecure.Client;

/// <summary>
/// The connection's resilience (docs/adr/0018-server-faults-and-replicas.md): an address list
/// balanced round-robin on the client, and gRPC's own retry policy for the calls that are safe to
/// send twice. Streams resume by themselves elsewhere (documents, subscriptions).
/// </summary>
public sealed partial class GlobeClient
{
    /// <summary>
    /// Unary rpcs that may be sent again after UNAVAILABLE, which can mean "never arrived" as well
    /// as "done, but the answer was lost": reads, and writes the server recognises by a client-chosen
    /// id (the same request again answers with what was stored, or changes nothing). The retry
    /// resends the same bytes (gRPC buffers the request), so a sealed envelope keeps its signature and
    /// nonce and the server sees the identical message. Everything else is sent once.
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
        ["globesecure.v1.AuditService"] = ["QueryAudit", "ExportAudit", "ListCheckpoints", "VerifyAudit"],
    };

    /// <summary>Every address of the server: <see cref="GlobeClientOptions.Address"/> and its other replicas.</summary>
    public IReadOnlyList<Uri> Addresses => [_options.Address, .. _options.OtherAddresses];

    /// <summary>The channel: one address, or a static address list balanced round-robin; retries per <see cref="RetrySafeMethods"/>.</summary>
    private static GrpcChannel CreateChannel(GlobeClientOptions options)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(options.CallRetries, nameof(options.CallRetries));
        var handler = options.HttpHandler ?? TrustingHandler(options.TrustedCertificateAuthorityFile);
        var channelOptions = new GrpcChannelOptions
        {
            HttpHandler = handler,
            DisposeHttpClient = true,
            ServiceConfig = ServiceConfig(options),
            MaxRetryAttempts = options.CallRetries + 1,
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

    private static ServiceConfig ServiceConfig(GlobeClientOptions options)
    {
        var config = new ServiceConfig();
        if (options.CallRetries == 0)
        {
            return config;
        }

        var retry = new MethodConfig
        {
            RetryPolicy = new RetryPolicy
            {
                MaxAttempts = options.CallRetries + 1,
                InitialBackoff = TimeSpan.FromMilliseconds(250),
                MaxBackoff = TimeSpan.FromSeconds(5),
                BackoffMultiplier = 2,
                RetryableStatusCodes = { StatusCode.Unavailable },
            },
        };
        foreach (var (service, methods) in RetrySafeMethods)
        {
            foreach (var method in methods)
            {
                retry.Names.Add(new MethodName { Service = service, Method = method });
            }
        }

        config.MethodConfigs.Add(retry);
        return config;
    }

    /// <summary>The one service the channel asks for: the static resolver of the address list.</summary>
    private sealed class BalancerServices(ResolverFactory resolver) : IServiceProvider
    {
        public object? GetService(Type serviceType) =>
            serviceType == typeof(IEnumerable<ResolverFactory>) ? new[] { resolver }
            : serviceType == typeof(ResolverFactory) ? resolver
            : null;
    }
}
