using System.Collections.Concurrent;
using GlobeSecure.Crypto;
using GlobeSecure.EventStore;
using GlobeSecure.Server.Infrastructure;

namespace GlobeSecure.Server.Identity;

/// <summary>Identity's read model as other features see it (<see cref="IDeviceDirectory"/>).</summary>
internal sealed class DeviceDirectory(IdentityReadModel read, PostgresEventStore store, TimeProvider clock) : IDeviceDirectory
{
    // Verified chains by leaf device. A chain's verification (an Ed25519 check per certificate) is
    // reused only while the time is inside every certificate's validity and every device of the
    // chain is still certified (a device is certified once; revocation is final): either read from
    // the database on the call (VerifiedDeviceAsync, CertifiedDevicesAsync), or made a condition of
    // the caller's append (KnownVerifiedDeviceAsync). Either way a revocation counts on the very
    // next call, on every server process.
    private readonly ConcurrentDictionary<Guid, VerifiedChain> _chains = new();

    public async Task<DirectoryUser?> FindUserAsync(Guid userId, CancellationToken cancellationToken) =>
        await read.UserAsync(userId, cancellationToken) is { } user ? ToView(user) : null;

    public async Task<IReadOnlyList<DirectoryUser>> UsersOfAuthorityAsync(Guid authorityId, CancellationToken cancellationToken) =>
        [.. (await read.UsersAsync(authorityId, cancellationToken)).Select(ToView)];

    public async Task<IReadOnlyList<Guid>> CertifiedDevicesAsync(Guid userId, CancellationToken cancellationToken) =>
        (await CertifiedDevicesAsync([userId], cancellationToken))[userId];

    public async Task<IReadOnlyDictionary<Guid, IReadOnlyList<Guid>>> CertifiedDevicesAsync(IEnumerable<Guid> userIds, CancellationToken cancellationToken)
    {
        // As the members' clients see them: a certified device whose chain no longer verifies (an
        // issuer's certificate was revoked or expired: protocol §5.2) is not one of them, so the
        // server expects exactly the devices the clients seal epochs to. Chains verified before
        // are re-checked together: one query for the status of every device of every chain.
        var users = userIds.Distinct().ToArray();
        var devices = await read.CertifiedDevicesOfUsersAsync(users, cancellationToken);
        var now = clock.GetUtcNow();
        var chains = new Dictionary<Guid, IReadOnlyList<Guid>>();
        foreach (var device in devices)
        {
            if (_chains.TryGetValue(device.DeviceId, out var known) && known.ValidAt(now))
            {
                chains[device.DeviceId] = known.Devices;
            }
            else if (await VerifiedDeviceAsync(device.DeviceId, cancellationToken) is { } verified)
            {
                chains[device.DeviceId] = [.. verified.Chain.Select(c => c.DeviceId)];
            }
        }

        var certified = await read.CertifiedAmongAsync([.. chains.Values.SelectMany(c => c).Distinct()], cancellationToken);
        var result = users.ToDictionary(u => u, _ => (IReadOnlyList<Guid>)[]);
        foreach (var group in devices.Where(d => chains.TryGetValue(d.DeviceId, out var chain) && chain.All(certified.Contains)).GroupBy(d => d.UserId))
        {
            result[group.Key] = [.. group.Select(d => d.DeviceId)];
        }

        return result;
    }

    public async Task<Guid?> NetworkAuthorityIdAsync(CancellationToken cancellationToken) =>
        (await read.NetworkAsync(cancellationToken))?.SecretariatId;

    public async Task<VerifiedDevice?> VerifiedDeviceAsync(Guid deviceId, CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow();
        if (_chains.TryGetValue(deviceId, out var known) && known.ValidAt(now) && await read.AllCertifiedAsync(known.Devices, cancellationToken))
        {
            return known.Device;
        }

        return (await VerifyAsync(deviceId, now, cancellationToken))?.Device;
    }

    public async Task<ConditionalDevice?> KnownVerifiedDeviceAsync(Guid deviceId, bool fresh, CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow();
        var known = _chains.TryGetValue(deviceId, out var cached) && cached.ValidAt(now) ? cached : null;
        if (!fresh && known?.Conditions is { } kept)
        {
            return new ConditionalDevice(known.Device, kept);
        }

        if ((known ?? await VerifyAsync(deviceId, now, cancellationToken)) is not { } chain)
        {
            return null;
        }

        // The streams' versions first, then the devices' status: a change after the versions were
        // read fails the conditions; one before it shows in the status (and nothing is kept).
        var conditions = new List<StreamCondition>();
        foreach (var userId in chain.Device.Chain.Select(c => c.UserId).Distinct())
        {
            var stream = UserDecider.StreamOf(userId);
            conditions.Add(new StreamCondition(stream, await store.StreamVersionAsync(stream, cancellationToken)));
        }

        if (!await read.AllCertifiedAsync(chain.Devices, cancellationToken))
        {
            _chains.TryRemove(deviceId, out _);
            return null;
        }

        _chains[deviceId] = chain with { Conditions = conditions };
        return new ConditionalDevice(chain.Device, conditions);
    }

    /// <summary>Reads and verifies the chain now, and remembers the result (or forgets a chain that no longer verifies).</summary>
    private async Task<VerifiedChain?> VerifyAsync(Guid deviceId, DateTimeOffset now, CancellationToken cancellationToken)
    {
        if (await VerifyChainAsync(deviceId, now, cancellationToken) is not { } device)
        {
            _chains.TryRemove(deviceId, out _);
            return null;
        }

        var chain = new VerifiedChain(device, [.. device.Chain.Select(c => c.DeviceId)], device.Chain.Max(c => c.NotBefore), device.Chain.Min(c => c.NotAfter));
        _chains[deviceId] = chain;
        return chain;
    }

    private async Task<VerifiedDevice?> VerifyChainAsync(Guid deviceId, DateTimeOffset now, CancellationToken cancellationToken)
    {
        if (await read.NetworkAsync(cancellationToken) is not { } network || await read.ChainAsync(deviceId, cancellationToken) is not { } chain)
        {
            return null;
        }

        try
        {
            return Crypto.CertificateChain.Verify([.. chain.Select(c => c.ToCrypto())], new TrustAnchors([new SigningPublicKey(network.RootKey)]), now);
        }
        catch (GlobeCryptoException)
        {
            return null;
        }
    }

    /// <summary>A verified chain, its devices, its validity window, and (once asked for) the identity stream versions it was checked at.</summary>
    private sealed record VerifiedChain(VerifiedDevice Device, IReadOnlyList<Guid> Devices, DateTimeOffset NotBefore, DateTimeOffset NotAfter,
        IReadOnlyList<StreamCondition>? Conditions = null)
    {
        public bool ValidAt(DateTimeOffset now) => now >= NotBefore && now < NotAfter;
    }

    private static DirectoryUser ToView(UserRow user) => new(user.UserId, user.AuthorityId, user.Role, user.Status);
}
