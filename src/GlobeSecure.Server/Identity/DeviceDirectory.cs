using System.Collections.Concurrent;
using GlobeSecure.Crypto;
using GlobeSecure.Server.Infrastructure;

namespace GlobeSecure.Server.Identity;

/// <summary>Identity's read model as other features see it (<see cref="IDeviceDirectory"/>).</summary>
internal sealed class DeviceDirectory(IdentityReadModel read, TimeProvider clock) : IDeviceDirectory
{
    // Verified chains by leaf device. A chain's verification (an Ed25519 check per certificate) is
    // reused only while the time is inside every certificate's validity and every device of the
    // chain is still certified (a device is certified once; revocation is final) — read from the database on every call,
    // so a revocation counts on the very next call, on every server process.
    private readonly ConcurrentDictionary<Guid, VerifiedChain> _verified = new();

    public async Task<DirectoryUser?> FindUserAsync(Guid userId, CancellationToken cancellationToken) =>
        await read.UserAsync(userId, cancellationToken) is { } user ? ToView(user) : null;

    public async Task<IReadOnlyList<DirectoryUser>> UsersOfAuthorityAsync(Guid authorityId, CancellationToken cancellationToken) =>
        [.. (await read.UsersAsync(authorityId, cancellationToken)).Select(ToView)];

    public async Task<IReadOnlyList<Guid>> CertifiedDevicesAsync(Guid userId, CancellationToken cancellationToken) =>
        [.. (await read.DevicesAsync(null, userId, pendingOnly: false, certifiedOnly: true, cancellationToken)).Select(d => d.DeviceId)];

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
