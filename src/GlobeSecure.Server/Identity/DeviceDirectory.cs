using GlobeSecure.Crypto;
using GlobeSecure.Server.Infrastructure;

namespace GlobeSecure.Server.Identity;

/// <summary>Identity's read model as other features see it (<see cref="IDeviceDirectory"/>).</summary>
internal sealed class DeviceDirectory(IdentityReadModel read, TimeProvider clock) : IDeviceDirectory
{
    public async Task<DirectoryUser?> FindUserAsync(Guid userId, CancellationToken cancellationToken) =>
        await read.UserAsync(userId, cancellationToken) is { } user ? ToView(user) : null;

    public async Task<IReadOnlyList<DirectoryUser>> UsersOfAuthorityAsync(Guid authorityId, CancellationToken cancellationToken) =>
        [.. (await read.UsersAsync(authorityId, cancellationToken)).Select(ToView)];

    public async Task<IReadOnlyList<Guid>> CertifiedDevicesAsync(Guid userId, CancellationToken cancellationToken) =>
        [.. (await read.DevicesAsync(null, userId, pendingOnly: false, certifiedOnly: true, cancellationToken)).Select(d => d.DeviceId)];

    public async Task<VerifiedDevice?> VerifiedDeviceAsync(Guid deviceId, CancellationToken cancellationToken)
    {
        if (await read.NetworkAsync(cancellationToken) is not { } network || await read.ChainAsync(deviceId, cancellationToken) is not { } chain)
        {
            return null;
        }

        try
        {
            return Crypto.CertificateChain.Verify([.. chain.Select(c => c.ToCrypto())], new TrustAnchors([new SigningPublicKey(network.RootKey)]),
                clock.GetUtcNow());
        }
        catch (GlobeCryptoException)
        {
            return null;
        }
    }

    private static DirectoryUser ToView(UserRow user) => new(user.UserId, user.AuthorityId, user.Role, user.Status);
}
