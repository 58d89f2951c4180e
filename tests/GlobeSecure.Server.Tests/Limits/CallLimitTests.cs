using GlobeSecure.Contracts.V1;
using GlobeSecure.Crypto;
using GlobeSecure.EventStore;
using GlobeSecure.Server.Infrastructure;
using GlobeSecure.Server.Tests.Identity;
using GlobeSecure.Testing;
using Google.Protobuf;
using Google.Rpc;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace GlobeSecure.Server.Tests.Limits;

/// <summary>
/// Small limits that never refill during a run (a refill of 1 an hour), so every test counts
/// exactly; 127.0.0.1 is a trusted proxy, so a test picks its client's address with
/// X-Forwarded-For and tests do not share an address's bucket.
/// </summary>
public sealed class LimitServerFixture : IdentityServerFixture
{
    public const int DeviceBurst = 20;
    public const int AddressBurst = 150;
    public const int MaxStreams = 2;

    private BootstrappedNetwork? _network;

    protected override void Configure(WebApplicationBuilder builder)
    {
        base.Configure(builder);
        builder.Configuration["Globe:TrustedProxies"] = "127.0.0.1";
        builder.Configuration["Globe:Limits:PerDevice:Burst"] = $"{DeviceBurst}";
        builder.Configuration["Globe:Limits:PerDevice:Refill"] = "1";
        builder.Configuration["Globe:Limits:PerDevice:Period"] = "01:00:00";
        builder.Configuration["Globe:Limits:PerAddress:Burst"] = $"{AddressBurst}";
        builder.Configuration["Globe:Limits:PerAddress:Refill"] = "1";
        builder.Configuration["Globe:Limits:PerAddress:Period"] = "01:00:00";
        builder.Configuration["Globe:Limits:MaxStreamsPerDevice"] = $"{MaxStreams}";
    }

    /// <summary>The network, bootstrapped once for the class (tests in a class run one at a time).</summary>
    public async Task<BootstrappedNetwork> NetworkAsync(NetworkDriver driver) => _network ??= await driver.BootstrapAsync();
}

/// <summary>
/// Issue 9, "Limits" (ADR 0014): each limit exceeded gives its documented status, an audit entry
/// naming the limit, and stores nothing; through a real channel to a real server.
/// </summary>
public sealed class CallLimitTests(LimitServerFixture server) : IClassFixture<LimitServerFixture>, IDisposable
{
    private readonly NetworkDriver _driver = new(server);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private PostgresEventStore Store => server.Services.GetRequiredService<PostgresEventStore>();

    public void Dispose() => _driver.Dispose();

    /// <summary>Headers of a call from <paramref name="address"/> (through the trusted proxy), as <paramref name="member"/> or anonymous.</summary>
    private static Metadata From(string address, Member? member = null)
    {
        var headers = new Metadata { { "x-forwarded-for", address } };
        if (member is not null)
        {
            headers.Add("authorization", $"Bearer {member.Token}");
        }

        return headers;
    }

    private async Task<IReadOnlyList<StoredAuditEntry>> DeniedAsync(string reason) =>
        [.. (await Store.ReadAuditAsync(0, 100_000, Ct)).Where(e => e.Entry.Outcome == AuditOutcome.Denied && e.Entry.Reason == reason)];

    [Fact]
    public async Task AnyRpc_FieldsOverTheirDeclaredLimits_ResourceExhaustedListingEachPathWithItsLimitAuditedNothingStored()
    {
        var network = await server.NetworkAsync(_driver);
        var channels = new ChannelService.ChannelServiceClient(_driver.Channel);
        var request = new AddMembersRequest
        {
            ChannelId = new string('c', 65),
            AuthorityIds = { Enumerable.Range(0, 51).Select(_ => Guid.CreateVersion7().ToString()) },
            NextEpoch = new Contracts.V1.EpochKeyDistribution
            {
                Recipients = { new Contracts.V1.SealedEpochKey { DeviceId = Guid.CreateVersion7().ToString(), SealedKey = ByteString.CopyFrom(new byte[81]) } },
            },
        };
        var head = await Store.HeadPositionAsync(Ct);

        var refused = await Assert.ThrowsAsync<RpcException>(() =>
            channels.AddMembersAsync(request, From("192.0.2.1", network.Administrator), cancellationToken: Ct).ResponseAsync);

        Assert.Equal(StatusCode.ResourceExhausted, refused.StatusCode);
        var violations = refused.GetRpcStatus()!.GetDetail<BadRequest>().FieldViolations.ToDictionary(v => v.Field, v => v.Description);
        Assert.Equal("at most 64 characters (got 65)", violations["channel_id"]);
        Assert.Equal("at most 50 entries (got 51)", violations["authority_ids"]);
        Assert.Equal("at most 80 bytes (got 81)", violations["next_epoch.recipients[0].sealed_key"]);
        Assert.Equal(3, violations.Count);
        Assert.Equal(head, await Store.HeadPositionAsync(Ct));
        var audit = await Store.ReadAuditAsync(0, 100_000, Ct);
        Assert.Contains(audit, e => e.Entry.Action == "/globesecure.v1.ChannelService/AddMembers" && e.Entry.Outcome == AuditOutcome.Failed
            && e.Entry.Reason == nameof(StatusCode.ResourceExhausted) && e.Entry.ActorDeviceId == network.Administrator.Device.DeviceId);
    }

    [Fact]
    public async Task AnyRpc_OverADeclaredLimitAndMalformedToo_InvalidArgumentListingBoth()
    {
        var network = await server.NetworkAsync(_driver);
        var channels = new ChannelService.ChannelServiceClient(_driver.Channel);
        var request = new AddMembersRequest { ChannelId = new string('c', 65), AuthorityIds = { "a\0b" } };
        var head = await Store.HeadPositionAsync(Ct);

        var refused = await Assert.ThrowsAsync<RpcException>(() =>
            channels.AddMembersAsync(request, From("192.0.2.2", network.Administrator), cancellationToken: Ct).ResponseAsync);

        Assert.Equal(StatusCode.InvalidArgument, refused.StatusCode);
        var violations = refused.GetRpcStatus()!.GetDetail<BadRequest>().FieldViolations.ToDictionary(v => v.Field, v => v.Description);
        Assert.Equal("at most 64 characters (got 65)", violations["channel_id"]);
        Assert.Equal("must not contain NUL characters", violations["authority_ids[0]"]);
        Assert.Equal(head, await Store.HeadPositionAsync(Ct));
    }

    [Fact]
    public async Task Calls_BeyondTheAddressBurst_ResourceExhaustedAuditedWithTheForwardedAddressOtherAddressesUnaffected()
    {
        await server.NetworkAsync(_driver);
        const string address = "203.0.113.10";
        for (var i = 0; i < LimitServerFixture.AddressBurst; i++)
        {
            await _driver.Network.GetNetworkAsync(new GetNetworkRequest(), From(address), cancellationToken: Ct);
        }

        var refused = await Assert.ThrowsAsync<RpcException>(() =>
            _driver.Network.GetNetworkAsync(new GetNetworkRequest(), From(address), cancellationToken: Ct).ResponseAsync);

        Assert.Equal(StatusCode.ResourceExhausted, refused.StatusCode);
        Assert.Contains("from this address", refused.Status.Detail, StringComparison.Ordinal);
        var denied = Assert.Single(await DeniedAsync("call rate limit per address"));
        Assert.Equal("/globesecure.v1.NetworkService/GetNetwork", denied.Entry.Action);
        Assert.Contains(address, denied.Entry.Peer!, StringComparison.Ordinal);
        await _driver.Network.GetNetworkAsync(new GetNetworkRequest(), From("203.0.113.11"), cancellationToken: Ct);
    }

    [Fact]
    public async Task Calls_BeyondTheDeviceBurst_ResourceExhaustedAuditedAndTheRefusedWriteStoresNothing()
    {
        var network = await server.NetworkAsync(_driver);
        var member = await _driver.AddNetworkAdministratorAsync(network, "Busy Administrator");
        for (var i = 0; i < LimitServerFixture.DeviceBurst; i++)
        {
            // Each from its own address: only the device's bucket is emptied.
            await _driver.Auth.WhoAmIAsync(new WhoAmIRequest(), From($"198.51.100.{i + 1}", member), cancellationToken: Ct);
        }

        var head = await Store.HeadPositionAsync(Ct);
        var refused = await Assert.ThrowsAsync<RpcException>(() => _driver.InviteAsync(member, Role.NetworkAdministrator, "Never Invited"));

        Assert.Equal(StatusCode.ResourceExhausted, refused.StatusCode);
        Assert.Contains("from this device", refused.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(head, await Store.HeadPositionAsync(Ct));
        var denied = Assert.Single(await DeniedAsync("call rate limit per device"));
        Assert.Equal(member.Device.DeviceId, denied.Entry.ActorDeviceId);
        // Another device is not affected.
        await _driver.Auth.WhoAmIAsync(new WhoAmIRequest(), From("198.51.100.99", network.Administrator), cancellationToken: Ct);
    }

    [Fact]
    public async Task Subscribe_MoreStreamsThanTheDeviceMayOpen_ResourceExhaustedAuditedAndEachSlotFreedWhenItsCallEnds()
    {
        var network = await server.NetworkAsync(_driver);
        var member = network.Administrator;
        var limits = server.Services.GetRequiredService<CallLimits>();
        var channels = new ChannelService.ChannelServiceClient(_driver.Channel);
        var open = new List<(AsyncServerStreamingCall<ChannelEvent> Call, CancellationTokenSource Cancel)>();

        async Task<AsyncServerStreamingCall<ChannelEvent>> SubscribeAsync(long expectedOpen)
        {
            var cancel = CancellationTokenSource.CreateLinkedTokenSource(Ct);
            var call = channels.Subscribe(new SubscribeRequest(), From("192.0.2.20", member), cancellationToken: cancel.Token);
            open.Add((call, cancel));
            await UntilAsync(() => limits.OpenStreams(member.Device.DeviceId) == expectedOpen);
            return call;
        }

        try
        {
            await SubscribeAsync(1);
            await SubscribeAsync(2);
            var third = channels.Subscribe(new SubscribeRequest(), From("192.0.2.20", member), cancellationToken: Ct);
            var refused = await Assert.ThrowsAsync<RpcException>(() => third.ResponseStream.MoveNext(Ct));
            third.Dispose();

            Assert.Equal(StatusCode.ResourceExhausted, refused.StatusCode);
            Assert.Single(await DeniedAsync("concurrent stream limit per device"));

            // A cancelled subscription gives its slot back, and the next one is let in.
            await open[0].Cancel.CancelAsync();
            await UntilAsync(() => limits.OpenStreams(member.Device.DeviceId) == 1);
            await SubscribeAsync(2);
        }
        finally
        {
            foreach (var (call, cancel) in open)
            {
                await cancel.CancelAsync();
                call.Dispose();
                cancel.Dispose();
            }
        }

        await UntilAsync(() => limits.OpenStreams(member.Device.DeviceId) == 0);
    }

    [Fact]
    public async Task CompleteAuthentication_AStrangersFailuresFromAnotherAddress_DoNotLockOutTheDevice()
    {
        var network = await server.NetworkAsync(_driver);
        var device = network.Administrator.Device;
        using var impostor = DeviceKeys.Generate(device.DeviceId);
        const string stranger = "203.0.113.66";
        for (var i = 0; i < 5; i++)
        {
            var failed = await Assert.ThrowsAsync<RpcException>(() => AuthenticateFromAsync(impostor, stranger));
            Assert.Equal(StatusCode.Unauthenticated, failed.StatusCode);
        }

        var lockedOut = await Assert.ThrowsAsync<RpcException>(() => AuthenticateFromAsync(device, stranger));
        Assert.Equal(StatusCode.ResourceExhausted, lockedOut.StatusCode);

        Assert.NotEmpty(await AuthenticateFromAsync(device, "198.51.100.200"));
        var failures = await Store.ReadStreamAsync(AuthDeciderStream(device.DeviceId), cancellationToken: Ct);
        Assert.Equal(5, failures.Count);
    }

    private static string AuthDeciderStream(Guid deviceId) => global::GlobeSecure.Server.Identity.AuthDecider.FailureStreamOf(deviceId);

    private async Task<string> AuthenticateFromAsync(DeviceKeys device, string address)
    {
        var challenge = await _driver.Auth.BeginAuthenticationAsync(new BeginAuthenticationRequest { DeviceId = device.DeviceId.ToString() },
            From(address), cancellationToken: Ct);
        var signature = AuthChallenge.Sign(device, challenge.Challenge_.Span, challenge.Audience, challenge.IssuedAt.ToDateTimeOffset());
        var session = await _driver.Auth.CompleteAuthenticationAsync(new CompleteAuthenticationRequest
        {
            ChallengeId = challenge.ChallengeId,
            DeviceId = device.DeviceId.ToString(),
            Signature = ByteString.CopyFrom(signature),
        }, From(address), cancellationToken: Ct);
        return session.Token;
    }

    /// <summary>Waits for the server to reach a state (no timing asserted: the bound only stops a broken run).</summary>
    private static async Task UntilAsync(Func<bool> condition)
    {
        using var bound = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        bound.CancelAfter(TimeSpan.FromSeconds(30));
        while (!condition())
        {
            await Task.Delay(10, bound.Token);
        }
    }
}

/// <summary>X-Forwarded-For is believed from the trusted proxies only (a replica that trusts another address).</summary>
public sealed class UntrustedForwardingTests(IdentityServerFixture server) : IClassFixture<IdentityServerFixture>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Calls_ForwardedHeaderFromAnUntrustedPeer_IsIgnoredAndTheConnectionsAddressCounts()
    {
        await using var replica = await server.StartReplicaAsync(Ct, builder =>
        {
            builder.Configuration["Globe:TrustedProxies"] = "10.9.9.9, 10.10.0.0/16";
            builder.Configuration["Globe:Limits:PerAddress:Burst"] = "3";
            builder.Configuration["Globe:Limits:PerAddress:Refill"] = "1";
            builder.Configuration["Globe:Limits:PerAddress:Period"] = "01:00:00";
        });
        using var channel = GlobeServerFixture.ChannelTo(replica);
        var network = new NetworkService.NetworkServiceClient(channel);
        for (var i = 0; i < 3; i++)
        {
            // A different claimed address each time: were the header believed, no bucket would empty.
            await Assert.ThrowsAsync<RpcException>(() => network.GetNetworkAsync(new GetNetworkRequest(),
                new Metadata { { "x-forwarded-for", $"203.0.113.{i + 1}" } }, cancellationToken: Ct).ResponseAsync);
        }

        var refused = await Assert.ThrowsAsync<RpcException>(() => network.GetNetworkAsync(new GetNetworkRequest(),
            new Metadata { { "x-forwarded-for", "203.0.113.9" } }, cancellationToken: Ct).ResponseAsync);

        Assert.Equal(StatusCode.ResourceExhausted, refused.StatusCode);
        var audit = await server.Services.GetRequiredService<PostgresEventStore>().ReadAuditAsync(0, 100_000, Ct);
        var denied = Assert.Single(audit, e => e.Entry.Reason == "call rate limit per address");
        Assert.Contains("127.0.0.1", denied.Entry.Peer!, StringComparison.Ordinal);
    }
}
