using GlobeSecure.Contracts.V1;
using GlobeSecure.Crypto;
using GlobeSecure.EventStore;
using GlobeSecure.Server.Infrastructure;
using Google.Protobuf;
using Grpc.Core;
using Microsoft.Extensions.Options;

namespace GlobeSecure.Server.Identity;

/// <summary>
/// Issues the one-time bootstrap code: used by the server's <c>bootstrap-code</c> command (and
/// by tests, through the same path). The code is returned once and stored only hashed.
/// </summary>
internal sealed class BootstrapCodes(PostgresEventStore store, TimeProvider clock, IOptions<IdentityOptions> options)
{
    public const string Action = "server.bootstrap-code";

    /// <summary>A new code, superseding any earlier one; WRONG_STATE when the network is already bootstrapped.</summary>
    public async Task<string> IssueAsync(CancellationToken cancellationToken)
    {
        var code = Secrets.NewSecret();
        var now = clock.GetUtcNow();
        var audit = new AuditEntry(Guid.CreateVersion7(), now, Action, AuditOutcome.Allowed, null, null, null, NetworkDecider.StreamId, null,
            "local", null);
        await store.DecideAsync(NetworkDecider.StreamId, NetworkState.Initial, NetworkDecider.Evolve,
            state => NetworkDecider.Decide(new IssueBootstrapCode(Secrets.Hash(code), now + options.Value.BootstrapCodeLifetime, now), state),
            audit, cancellationToken: cancellationToken);
        return code;
    }
}

/// <summary>The network: its one-time bootstrap and the root keys clients pin.</summary>
internal sealed class NetworkService(
    PostgresEventStore store,
    Access access,
    TimeProvider clock,
    IAuthorities authorities,
    IdentityReadModel read) : Contracts.V1.NetworkService.NetworkServiceBase
{
    /// <summary>Anyone holding the one-time bootstrap code (the code is the credential).</summary>
    public override async Task<BootstrapResponse> Bootstrap(BootstrapRequest request, ServerCallContext context)
    {
        var now = clock.GetUtcNow();
        var v = new Violations();
        var code = v.Text("bootstrap_code", request.BootstrapCode, Secrets.MaxTextLength);
        var name = v.Text("network_name", request.NetworkName, 200);
        var rootKey = v.Bytes("root_key", request.RootKey, IdentityWire.KeyBytes);
        var userId = v.Id("administrator_user_id", request.AdministratorUserId);
        var userName = v.Text("administrator_name", request.AdministratorName, 200);
        var keys = IdentityWire.Keys(v, "device", request.Device);
        var certificate = IdentityWire.Certificate(v, "certificate", request.Certificate);
        var secretariatId = v.Id("network_authority_id", request.NetworkAuthorityId);
        v.ThrowIfAny();

        CheckAdministratorCertificate(v, rootKey, keys, certificate, userId, secretariatId, now);
        v.ThrowIfAny();

        try
        {
            await store.DecideAsync(NetworkDecider.StreamId, NetworkState.Initial, NetworkDecider.Evolve,
                state => NetworkDecider.Decide(new BootstrapNetwork(Secrets.Hash(code), name, rootKey, secretariatId, userId, now), state),
                access.Allowed(context, secretariatId.ToString()), cancellationToken: context.CancellationToken);
        }
        catch (UnauthenticatedException)
        {
            await access.DenyUnauthenticatedAsync(context, "bootstrap code wrong, used or expired");
            throw;
        }

        // The network is recorded and the code used up; the secretariat and the administrator follow.
        await authorities.RegisterSecretariatAsync(context, secretariatId, name, context.CancellationToken);
        await store.DecideAsync(UserDecider.StreamOf(userId), UserState.Initial, UserDecider.Evolve,
            state => UserDecider.Decide(new RegisterAdministrator(userId, secretariatId, userName, keys, certificate, now), state),
            access.Allowed(context, userId.ToString()), cancellationToken: context.CancellationToken);
        return new BootstrapResponse { Network = await NetworkOrThrowAsync(context) };
    }

    /// <summary>Anyone: it is what clients pin.</summary>
    public override async Task<Network> GetNetwork(GetNetworkRequest request, ServerCallContext context)
    {
        var network = await NetworkOrThrowAsync(context);
        await access.RecordReadAsync(context);
        return network;
    }

    private async Task<Network> NetworkOrThrowAsync(ServerCallContext context)
    {
        var row = await read.NetworkAsync(context.CancellationToken) ?? throw new NotFoundException("network", "(not bootstrapped yet)");
        var network = new Network { Name = row.Name, NetworkAuthorityId = row.SecretariatId.ToString() };
        network.RootKeys.Add(new RootKey { PublicKey = ByteString.CopyFrom(row.RootKey), Fingerprint = new SigningPublicKey(row.RootKey).Fingerprint });
        return network;
    }

    /// <summary>The first administrator's certificate: root-issued, for exactly these keys, user and secretariat, valid now.</summary>
    private static void CheckAdministratorCertificate(Violations v, byte[] rootKey, DeviceKeysData keys, CertificateData certificate, Guid userId,
        Guid secretariatId, DateTimeOffset now)
    {
        try
        {
            keys.ToCrypto().Verify();
        }
        catch (GlobeCryptoException)
        {
            v.Add("device.box_key_signature", "does not verify: the device's signing key must sign its box key (globe/v1/box-key)");
        }

        if (certificate.DeviceId != keys.DeviceId || !certificate.SigningKey.AsSpan().SequenceEqual(keys.SigningKey)
            || !certificate.BoxKey.AsSpan().SequenceEqual(keys.BoxKey))
        {
            v.Add("certificate", "must certify the device's id and keys");
        }

        if (certificate.UserId != userId || certificate.AuthorityId != secretariatId || certificate.Role != Role.NetworkAdministrator)
        {
            v.Add("certificate", "must be for administrator_user_id in network_authority_id with role NETWORK_ADMINISTRATOR");
        }

        if (certificate.IssuerDeviceId is not null || !certificate.IssuerSigningKey.AsSpan().SequenceEqual(rootKey))
        {
            v.Add("certificate.issuer_signing_key", "must be the root key, with no issuer device");
        }

        try
        {
            var crypto = certificate.ToCrypto();
            if (!crypto.HasValidSignature())
            {
                v.Add("certificate.signature", "does not verify with the root key");
                return;
            }

            Crypto.CertificateChain.Verify([crypto], new TrustAnchors([new SigningPublicKey(rootKey)]), now);
        }
        catch (GlobeCryptoException e)
        {
            v.Add("certificate", $"does not verify to the root key: {e.Message}");
        }
    }
}
