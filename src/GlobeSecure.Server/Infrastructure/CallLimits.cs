using System.Net;
using System.Threading.RateLimiting;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Microsoft.AspNetCore.HttpOverrides;
using IPNetwork = System.Net.IPNetwork;
using Microsoft.Extensions.Options;

namespace GlobeSecure.Server.Infrastructure;

/// <summary>Call rate and stream limits: section "Globe:Limits" (beside the message sizes of <see cref="GlobeOptions.LimitOptions"/>).</summary>
internal sealed class CallLimitOptions
{
    public const string Section = "Globe:Limits";

    /// <summary>Calls per authenticated device (token bucket; default 1000 at once, 200 more a second).</summary>
    public RateOptions PerDevice { get; set; } = new() { Burst = 1000, Refill = 200 };

    /// <summary>Calls per client address, authenticated or not (token bucket; default 2000 at once, 500 more a second).</summary>
    public RateOptions PerAddress { get; set; } = new() { Burst = 2000, Refill = 500 };

    /// <summary>Streaming calls (subscriptions, uploads, downloads, exports) one device may have open at once (default 32; 0: no limit).</summary>
    public int MaxStreamsPerDevice { get; set; } = 32;

    /// <summary>
    /// A token bucket: <see cref="Burst"/> calls at once, then <see cref="Refill"/> more every
    /// <see cref="Period"/>. Burst 0 turns the limit off.
    /// </summary>
    internal sealed class RateOptions
    {
        public int Burst { get; set; }

        public int Refill { get; set; }

        public TimeSpan Period { get; set; } = TimeSpan.FromSeconds(1);

        public override string ToString() => $"{Burst} at once, then {Refill} per {Period}";
    }

    internal IEnumerable<string> Problems()
    {
        foreach (var (name, rate) in new[] { ("PerDevice", PerDevice), ("PerAddress", PerAddress) })
        {
            if (rate.Burst < 0 || (rate.Burst > 0 && (rate.Refill < 1 || rate.Refill > rate.Burst || rate.Period <= TimeSpan.Zero)))
            {
                yield return $"Globe:Limits:{name} must have Burst 0 (no limit) or Burst ≥ 1 with Refill 1 to Burst and a positive Period, not {rate}.";
            }
        }

        if (MaxStreamsPerDevice < 0)
        {
            yield return $"Globe:Limits:MaxStreamsPerDevice must be 0 (no limit) or more, not {MaxStreamsPerDevice}.";
        }
    }
}

/// <summary>
/// The clients' addresses as limits and audit see them. <c>Globe:TrustedProxies</c> (opt-in) names
/// the reverse proxies or load balancers, by address or network (<c>10.0.0.5, 10.1.0.0/16</c>),
/// whose <c>X-Forwarded-For</c> is believed: a call arriving through one of them is taken to come
/// from the address the proxy names; the header from anyone else is ignored.
/// </summary>
internal sealed class TrustedProxyOptions
{
    public string? TrustedProxies { get; set; }

    internal IEnumerable<string> Problems()
    {
        if (Networks(out var bad) is null)
        {
            yield return $"Globe:TrustedProxies must list IP addresses or CIDR networks separated by commas (e.g. 10.0.0.5, 10.1.0.0/16); '{bad}' is neither.";
        }
    }

    /// <summary>The proxies' addresses and networks; null with the bad entry when one does not parse.</summary>
    internal IReadOnlyList<IPNetwork>? Networks(out string? bad)
    {
        bad = null;
        var networks = new List<IPNetwork>();
        foreach (var entry in (TrustedProxies ?? "").Split([',', ';', ' '], StringSplitOptions.RemoveEmptyEntries))
        {
            if (IPNetwork.TryParse(entry, out var network))
            {
                networks.Add(network);
            }
            else if (IPAddress.TryParse(entry, out var address))
            {
                networks.Add(new IPNetwork(address, address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? 32 : 128));
            }
            else
            {
                bad = entry;
                return null;
            }
        }

        return networks;
    }
}

/// <summary>
/// The limiters of one server process (System.Threading.RateLimiting): a token bucket per device
/// and per address, and a concurrency limiter per device for streams. Partitions idle for a while
/// are dropped by the partitioned limiter, so memory follows the active clients.
/// </summary>
internal sealed class CallLimits : IDisposable
{
    private readonly PartitionedRateLimiter<IPAddress>? _addresses;
    private readonly PartitionedRateLimiter<Guid>? _devices;
    private readonly PartitionedRateLimiter<Guid>? _streams;

    public CallLimits(IOptions<CallLimitOptions> options)
    {
        Options = options.Value;
        _addresses = Options.PerAddress.Burst > 0 ? TokenBuckets<IPAddress>(Options.PerAddress) : null;
        _devices = Options.PerDevice.Burst > 0 ? TokenBuckets<Guid>(Options.PerDevice) : null;
        _streams = Options.MaxStreamsPerDevice > 0
            ? PartitionedRateLimiter.Create<Guid, Guid>(device => RateLimitPartition.GetConcurrencyLimiter(device, _ => new ConcurrencyLimiterOptions
            {
                PermitLimit = Options.MaxStreamsPerDevice,
                QueueLimit = 0,
            }))
            : null;
    }

    public CallLimitOptions Options { get; }

    private static PartitionedRateLimiter<TKey> TokenBuckets<TKey>(CallLimitOptions.RateOptions rate) where TKey : notnull =>
        PartitionedRateLimiter.Create<TKey, TKey>(key => RateLimitPartition.GetTokenBucketLimiter(key, _ => new TokenBucketRateLimiterOptions
        {
            TokenLimit = rate.Burst,
            TokensPerPeriod = rate.Refill,
            ReplenishmentPeriod = rate.Period,
            QueueLimit = 0,
            AutoReplenishment = true,
        }));

    /// <summary>One call from <paramref name="address"/>: true when its bucket had a token.</summary>
    public bool TryAddressCall(IPAddress address) => _addresses is null || _addresses.AttemptAcquire(address).IsAcquired;

    /// <summary>One call of <paramref name="device"/>: true when its bucket had a token.</summary>
    public bool TryDeviceCall(Guid device) => _devices is null || _devices.AttemptAcquire(device).IsAcquired;

    /// <summary>A stream slot of <paramref name="device"/>, to dispose when the call ends; null when all are taken.</summary>
    public IDisposable? TryOpenStream(Guid device)
    {
        if (_streams is null)
        {
            return NoSlot.Instance;
        }

        var lease = _streams.AttemptAcquire(device);
        if (lease.IsAcquired)
        {
            return lease;
        }

        lease.Dispose();
        return null;
    }

    /// <summary>How many streams <paramref name="device"/> has open on this process now.</summary>
    public long OpenStreams(Guid device) =>
        _streams?.GetStatistics(device) is { } statistics ? Options.MaxStreamsPerDevice - statistics.CurrentAvailablePermits : 0;

    public void Dispose()
    {
        _addresses?.Dispose();
        _devices?.Dispose();
        _streams?.Dispose();
    }

    private sealed class NoSlot : IDisposable
    {
        public static readonly NoSlot Instance = new();

        public void Dispose()
        {
        }
    }

    /// <summary>gRPC peers read "ipv4:127.0.0.1:50412": limits and failure counts go per address, whatever the port.</summary>
    public static string AddressOf(string peer)
    {
        var text = peer.StartsWith("ipv4:", StringComparison.Ordinal) || peer.StartsWith("ipv6:", StringComparison.Ordinal) ? peer[5..] : peer;
        return IPEndPoint.TryParse(text, out var endpoint) ? endpoint.Address.ToString() : text;
    }

    /// <summary>
    /// The client address of a call as the connection (or a trusted proxy's forwarded header, which
    /// rewrites it) states it, without formatting or parsing the peer string on every call.
    /// </summary>
    public static IPAddress RemoteAddressOf(ServerCallContext call) =>
        call.GetHttpContext().Connection.RemoteIpAddress is { } address
            ? address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address
            : IPAddress.TryParse(AddressOf(call.Peer), out var parsed) ? parsed : IPAddress.None;

    /// <summary>Infrastructure rpcs (health checks, reflection) are neither limited nor audited.</summary>
    public static bool IsExempt(ServerCallContext call) => call.Method.StartsWith("/grpc.", StringComparison.Ordinal);
}

/// <summary>
/// Runs a check when a call starts and disposes what it returns when the call ends, however it
/// ends (all four call shapes).
/// </summary>
internal abstract class CallGateInterceptor : Interceptor
{
    /// <summary>Refuses the call by throwing, or admits it with something to release at its end (or null).</summary>
    protected abstract Task<IDisposable?> EnterAsync(ServerCallContext context, bool streaming);

    public override async Task<TResponse> UnaryServerHandler<TRequest, TResponse>(TRequest request, ServerCallContext context,
        UnaryServerMethod<TRequest, TResponse> continuation)
    {
        using var slot = await EnterAsync(context, streaming: false);
        return await continuation(request, context);
    }

    public override async Task<TResponse> ClientStreamingServerHandler<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream,
        ServerCallContext context, ClientStreamingServerMethod<TRequest, TResponse> continuation)
    {
        using var slot = await EnterAsync(context, streaming: true);
        return await continuation(requestStream, context);
    }

    public override async Task ServerStreamingServerHandler<TRequest, TResponse>(TRequest request, IServerStreamWriter<TResponse> responseStream,
        ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        using var slot = await EnterAsync(context, streaming: true);
        await continuation(request, responseStream, context);
    }

    public override async Task DuplexStreamingServerHandler<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream,
        IServerStreamWriter<TResponse> responseStream, ServerCallContext context, DuplexStreamingServerMethod<TRequest, TResponse> continuation)
    {
        using var slot = await EnterAsync(context, streaming: true);
        await continuation(requestStream, responseStream, context);
    }
}

/// <summary>
/// Calls per client address, before authentication (so floods of bad tokens are limited too, and
/// the refusal's audit entry has the address but no actor). RESOURCE_EXHAUSTED, audited as denied.
/// </summary>
internal sealed class AddressLimitInterceptor(CallLimits limits, Access access) : CallGateInterceptor
{
    protected override async Task<IDisposable?> EnterAsync(ServerCallContext context, bool streaming)
    {
        if (!CallLimits.IsExempt(context) && !limits.TryAddressCall(CallLimits.RemoteAddressOf(context)))
        {
            await access.RecordDeniedAsync(context, null, "call rate limit per address");
            throw new LimitExceededException(
                $"Too many calls from this address: at most {limits.Options.PerAddress}. Wait a moment and retry.");
        }

        return null;
    }
}

/// <summary>
/// Calls and open streams per authenticated device, after authentication (anonymous calls are
/// limited per address only). RESOURCE_EXHAUSTED, audited as denied; a stream's slot is released
/// when the call ends, however it ends.
/// </summary>
internal sealed class DeviceLimitInterceptor(CallLimits limits, Access access) : CallGateInterceptor
{
    protected override async Task<IDisposable?> EnterAsync(ServerCallContext context, bool streaming)
    {
        if (Access.CallerOf(context) is not { } caller || CallLimits.IsExempt(context))
        {
            return null;
        }

        if (!limits.TryDeviceCall(caller.DeviceId))
        {
            await access.RecordDeniedAsync(context, null, "call rate limit per device");
            throw new LimitExceededException($"Too many calls from this device: at most {limits.Options.PerDevice}. Wait a moment and retry.");
        }

        if (!streaming)
        {
            return null;
        }

        if (limits.TryOpenStream(caller.DeviceId) is { } slot)
        {
            return slot;
        }

        await access.RecordDeniedAsync(context, null, "concurrent stream limit per device");
        throw new LimitExceededException(
            $"Too many open streams for this device: at most {limits.Options.MaxStreamsPerDevice} subscriptions, uploads, downloads and exports at once. Close one and retry.");
    }
}

internal static class CallLimitHosting
{
    /// <summary>The limiters and their settings; the interceptors are registered in <see cref="HostingExtensions"/>, in order.</summary>
    public static IServiceCollection AddCallLimits(this IServiceCollection services)
    {
        services.AddOptions<CallLimitOptions>().BindConfiguration(CallLimitOptions.Section).ValidateOnStart();
        services.AddSingleton<IValidateOptions<CallLimitOptions>>(new Validator<CallLimitOptions>(o => o.Problems()));
        services.AddOptions<TrustedProxyOptions>().BindConfiguration(GlobeOptions.Section).ValidateOnStart();
        services.AddSingleton<IValidateOptions<TrustedProxyOptions>>(new Validator<TrustedProxyOptions>(o => o.Problems()));
        services.AddSingleton<CallLimits>();
        return services;
    }

    /// <summary>Every problem of the settings, each saying what to fix.</summary>
    private sealed class Validator<T>(Func<T, IEnumerable<string>> problems) : IValidateOptions<T> where T : class
    {
        public ValidateOptionsResult Validate(string? name, T options) =>
            problems(options).ToList() is { Count: > 0 } found ? ValidateOptionsResult.Fail(found) : ValidateOptionsResult.Success;
    }

    /// <summary>
    /// With <c>Globe:TrustedProxies</c> set: the client address of a call arriving from one of those
    /// proxies is the one its <c>X-Forwarded-For</c> names (the right-most address not itself a
    /// trusted proxy). Nothing else is forwarded; without the setting no header is read.
    /// </summary>
    public static void UseTrustedProxies(this WebApplication app)
    {
        var networks = app.Services.GetRequiredService<IOptions<TrustedProxyOptions>>().Value.Networks(out _);
        if (networks is not { Count: > 0 })
        {
            return;
        }

        var forwarded = new ForwardedHeadersOptions { ForwardedHeaders = ForwardedHeaders.XForwardedFor, ForwardLimit = null };
        // The defaults trust loopback; only what the operator names is trusted.
        forwarded.KnownProxies.Clear();
        forwarded.KnownIPNetworks.Clear();
        foreach (var network in networks)
        {
            forwarded.KnownIPNetworks.Add(network);
        }

        app.UseForwardedHeaders(forwarded);
    }
}
