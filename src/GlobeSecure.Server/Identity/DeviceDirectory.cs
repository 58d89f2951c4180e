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
    // chain is still certified (a device is certified once; revocation is final) — read from the database on every call,
    // so a revocation counts on the very next call, on every server process.
    private readonly ConcurrentDictionary<Guid, VerifiedChain> _verified = new();

    // Verified chains with the identity stream versions they were verified at (KnownVerifiedDeviceAsync).
    private readonly ConcurrentDictionary<Guid, (ConditionalDevice Known, DateTimeOffset NotBefore, DateTimeOffset NotAfter)> _known = new();

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
            if (_verified.TryGetValue(device.DeviceId, out var known) && now >= known.NotBefore && now < known.NotAfter)
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

    public async Task<VerifiedDevice?> VerifiedDeviceAsync(Guid deviceId, CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow();
        if (_verified.TryGetValue(deviceId, out var known) && now >= known.NotBefore && now < known.NotAfter
            && await read.AllCertifiedAsync(known.Devices, cancellationToken))
        {
            return known.Device;
        }

        var verified = await VerifyChainAsync(deviceId, now, cancellationToken);
        if (verified is not null)
        {
            _verified[deviceId] = new VerifiedChain(verified, [.. verified.Chain.Select(c => c.DeviceId)],
                verified.Chain.Max(c => c.NotBefore), verified.Chain.Min(c => c.NotAfter));
        }
        else
        {
            _verified.TryRemove(deviceId, out _);
        }

        return verified;
    }

    public async Task<ConditionalDevice?> KnownVerifiedDeviceAsync(Guid deviceId, bool fresh, CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow();
        if (!fresh && _known.TryGetValue(deviceId, out var known) && now >= known.NotBefore && now < known.NotAfter)
        {
            return known.Known;
        }

        _known.TryRemove(deviceId, out _);
        if (await VerifyChainAsync(deviceId, now, cancellationToken) is not { } first)
        {
            return null;
        }

        // The streams' versions first, then the devices' status: a change after the versions were
        // read fails the conditions; one before it shows in the status (and nothing is kept).
        var conditions = new List<StreamCondition>();
        foreach (var userId in first.Chain.Select(c => c.UserId).Distinct())
        {
            var stream = UserDecider.StreamOf(userId);
            conditions.Add(new StreamCondition(stream, await store.StreamVersionAsync(stream, cancellationToken)));
        }

        if (!await read.AllCertifiedAsync([.. first.Chain.Select(c => c.DeviceId)], cancellationToken))
        {
            return null;
        }

        var result = new ConditionalDevice(first, conditions);
        _known[deviceId] = (result, first.Chain.Max(c => c.NotBefore), first.Chain.Min(c => c.NotAfter));
        return result;
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

    private sealed record VerifiedChain(VerifiedDevice Device, IReadOnlyList<Guid> Devices,
        DateTimeOffset NotBefore, DateTimeOffset NotAfter);

    private static DirectoryUser ToView(UserRow user) => new(user.UserId, user.AuthorityId, user.Role, user.Status);
}
