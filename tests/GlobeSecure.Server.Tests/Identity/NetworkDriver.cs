using GlobeSecure.Client;
using GlobeSecure.Contracts.V1;
using GlobeSecure.Crypto;
using GlobeSecure.Testing;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace GlobeSecure.Server.Tests.Identity;

/// <summary>A clock tests move forward: real time plus an offset. The server reads time only through it.</summary>
public sealed class SettableClock : TimeProvider
{
    private TimeSpan _offset;

    public override DateTimeOffset GetUtcNow() => base.GetUtcNow() + _offset;

    public void Advance(TimeSpan by) => _offset += by;
}

/// <summary>The real server with a settable clock (for expiry tests).</summary>
public class IdentityServerFixture : GlobeServerFixture
{
    public SettableClock Clock { get; } = new();

    protected override void Configure(WebApplicationBuilder builder) => builder.Services.AddSingleton<TimeProvider>(Clock);
}

/// <summary>An authenticated member: their user, device keys, certificate and session.</summary>
public sealed class Member(Guid userId, Guid authorityId, Role role, DeviceKeys device, DeviceCertificate certificate, string token)
{
    public Guid UserId { get; } = userId;

    public Guid AuthorityId { get; } = authorityId;

    public Role Role { get; } = role;

    /// <summary>The device's private keys (they never leave the test, as they would never leave a device).</summary>
    public DeviceKeys Device { get; } = device;

    public DeviceCertificate Certificate { get; } = certificate;

    public string Token { get; internal set; } = token;

    /// <summary>The <c>authorization: Bearer</c> header of the member's session.</summary>
    public Metadata Headers => new() { { "authorization", $"Bearer {Token}" } };
}

/// <summary>A bootstrapped network: its name, root key (held by the test, as by the root key holder), secretariat and first administrator.</summary>
public sealed class BootstrappedNetwork(string name, SigningKeyPair rootKey, Guid secretariatId, Member administrator)
{
    public string Name { get; } = name;

    public SigningKeyPair RootKey { get; } = rootKey;

    public Guid SecretariatId { get; } = secretariatId;

    public Member Administrator { get; } = administrator;

    public TrustAnchors Anchors => new([RootKey.PublicKey]);
}

/// <summary>
/// Drives a real server through gRPC the way a client does — generating keys locally, signing
/// certificates and challenges — with intent methods, so tests read as the story they tell.
/// </summary>
public sealed class NetworkDriver : IDisposable
{
    private readonly GlobeServerFixture _server;
    private readonly GrpcChannel _channel;

    public NetworkDriver(GlobeServerFixture server)
    {
        _server = server;
        _channel = server.CreateChannel();
        Network = new NetworkService.NetworkServiceClient(_channel);
        Devices = new DeviceService.DeviceServiceClient(_channel);
        Auth = new AuthService.AuthServiceClient(_channel);
        Directory = new DirectoryService.DirectoryServiceClient(_channel);
        Membership = new MembershipService.MembershipServiceClient(_channel);
    }

    /// <summary>The channel the clients below share (for clients of other services).</summary>
    public GrpcChannel Channel => _channel;

    public NetworkService.NetworkServiceClient Network { get; }

    public DeviceService.DeviceServiceClient Devices { get; }

    public AuthService.AuthServiceClient Auth { get; }

    public DirectoryService.DirectoryServiceClient Directory { get; }

    public MembershipService.MembershipServiceClient Membership { get; }

    /// <summary>The server's clock (certificates are issued for its "now").</summary>
    public DateTimeOffset Now => _server.Services.GetRequiredService<TimeProvider>().GetUtcNow();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>Issues a bootstrap code through the same path as the server's <c>bootstrap-code</c> command.</summary>
    public Task<string> IssueBootstrapCodeAsync() => _server.IssueBootstrapCodeAsync(Ct);

    /// <summary>The bootstrap request a client (`globe network init`) sends: fresh root and administrator keys, a root-signed certificate.</summary>
    public BootstrapRequest BootstrapRequest(string code, SigningKeyPair rootKey, DeviceKeys device, Guid userId, Guid secretariatId,
        string name = "GlobE Network")
    {
        var certificate = Issue(device.Public, userId, secretariatId, DeviceRole.NetworkAdministrator, rootKey, null);
        return new BootstrapRequest
        {
            BootstrapCode = code,
            NetworkName = name,
            RootKey = ByteString.CopyFrom(rootKey.PublicKey.ToArray()),
            AdministratorUserId = userId.ToString(),
            AdministratorName = "First Administrator",
            Device = Wire.ToProto(device.Public),
            Certificate = Wire.ToProto(certificate),
            NetworkAuthorityId = secretariatId.ToString(),
        };
    }

    /// <summary>Bootstraps the network with fresh keys and authenticates its first administrator.</summary>
    public async Task<BootstrappedNetwork> BootstrapAsync(string name = "GlobE Network")
    {
        var code = await IssueBootstrapCodeAsync();
        var rootKey = SigningKeyPair.Generate();
        var device = DeviceKeys.Generate(Guid.CreateVersion7());
        var userId = Guid.CreateVersion7();
        var secretariatId = Guid.CreateVersion7();
        var request = BootstrapRequest(code, rootKey, device, userId, secretariatId, name);
        await Network.BootstrapAsync(request, cancellationToken: Ct);
        var token = await AuthenticateAsync(device);
        var administrator = new Member(userId, secretariatId, Role.NetworkAdministrator, device, Wire.FromProto(request.Certificate), token);
        return new BootstrappedNetwork(name, rootKey, secretariatId, administrator);
    }

    /// <summary>Challenge–response with the device's signing key; returns the session token.</summary>
    public async Task<string> AuthenticateAsync(DeviceKeys device)
    {
        var challenge = await Auth.BeginAuthenticationAsync(new BeginAuthenticationRequest { DeviceId = device.DeviceId.ToString() }, cancellationToken: Ct);
        var signature = AuthChallenge.Sign(device, challenge.Challenge_.Span, challenge.Audience, challenge.IssuedAt.ToDateTimeOffset());
        var session = await Auth.CompleteAuthenticationAsync(new CompleteAuthenticationRequest
        {
            ChallengeId = challenge.ChallengeId,
            DeviceId = device.DeviceId.ToString(),
            Signature = ByteString.CopyFrom(signature),
        }, cancellationToken: Ct);
        return session.Token;
    }

    /// <summary>An administrator invites a user into their authority (an existing <paramref name="userId"/>: a code for another device); returns the one-time code.</summary>
    public async Task<EnrolmentCode> InviteAsync(Member administrator, Role role, string displayName = "Invited User", Guid? authorityId = null,
        Guid? userId = null) =>
        await Devices.InviteUserAsync(new InviteUserRequest
        {
            UserId = (userId ?? Guid.CreateVersion7()).ToString(),
            AuthorityId = (authorityId ?? administrator.AuthorityId).ToString(),
            DisplayName = displayName,
            Role = role,
        }, administrator.Headers, cancellationToken: Ct);

    /// <summary>A new device enrols with the code (keys generated "on the device"); returns its keys.</summary>
    public async Task<DeviceKeys> EnrolAsync(EnrolmentCode code, string label = "laptop")
    {
        var device = DeviceKeys.Generate(Guid.CreateVersion7());
        await Devices.EnrolDeviceAsync(new EnrolDeviceRequest { EnrolmentCode = code.Code, Keys = Wire.ToProto(device.Public), Label = label },
            cancellationToken: Ct);
        return device;
    }

    /// <summary>The issuer's client certifies an enrolled device: signed by the issuer's device (or by the root key when <paramref name="rootKey"/> is given).</summary>
    public async Task<DeviceCertificate> CertifyAsync(Member issuer, PublicDeviceKeys device, Guid userId, Guid authorityId, Role role,
        SigningKeyPair? rootKey = null)
    {
        var certificate = rootKey is null
            ? Issue(device, userId, authorityId, (DeviceRole)(int)role, issuer.Device.Signing, issuer.Device.DeviceId)
            : Issue(device, userId, authorityId, (DeviceRole)(int)role, rootKey, null);
        await Devices.CertifyDeviceAsync(new CertifyDeviceRequest { Certificate = Wire.ToProto(certificate) }, issuer.Headers, cancellationToken: Ct);
        return certificate;
    }

    /// <summary>Enrols a device with the code, has <paramref name="issuer"/> certify it, and authenticates it.</summary>
    public async Task<Member> EnrolAndCertifyAsync(EnrolmentCode code, Member issuer, Role role, SigningKeyPair? rootKey = null)
    {
        var device = await EnrolAsync(code);
        var userId = Guid.Parse(code.UserId);
        var authorityId = Guid.Parse(code.AuthorityId);
        var certificate = await CertifyAsync(issuer, device.Public, userId, authorityId, role, rootKey);
        return new Member(userId, authorityId, role, device, certificate, await AuthenticateAsync(device));
    }

    /// <summary>A second network administrator (four eyes): invited into the secretariat, certified with the root key.</summary>
    public async Task<Member> AddNetworkAdministratorAsync(BootstrappedNetwork network, string displayName = "Second Administrator")
    {
        var code = await InviteAsync(network.Administrator, Role.NetworkAdministrator, displayName);
        return await EnrolAndCertifyAsync(code, network.Administrator, Role.NetworkAdministrator, network.RootKey);
    }

    /// <summary>
    /// An authority applies, two different network administrators approve it, and its first
    /// administrator enrols and is certified by <paramref name="first"/>; returns that administrator.
    /// </summary>
    public async Task<Member> AdmitAuthorityAsync(Member first, Member second, string name = "Anti-Corruption Commission", string country = "KE",
        AuthorityKind kind = AuthorityKind.AntiCorruptionAgency)
    {
        var authorityId = Guid.CreateVersion7();
        await Membership.ApplyAsync(new ApplyRequest
        {
            AuthorityId = authorityId.ToString(),
            Name = name,
            Country = country,
            Kind = kind,
            LegalBasis = "Specialised body under UNCAC art. 36.",
            FocalPoint = new FocalPoint { Name = "Focal Point", Email = "focal@example.org" },
        }, cancellationToken: Ct);
        await Membership.ApproveAsync(new ApproveRequest { AuthorityId = authorityId.ToString() }, first.Headers, cancellationToken: Ct);
        var approved = await Membership.ApproveAsync(new ApproveRequest { AuthorityId = authorityId.ToString() }, second.Headers, cancellationToken: Ct);
        return await EnrolAndCertifyAsync(approved.AdministratorCode, first, Role.AuthorityAdministrator);
    }

    /// <summary><paramref name="signer"/> revokes a device with a revocation signed by their own device.</summary>
    public async Task<Device> RevokeDeviceAsync(Member signer, DeviceCertificate certificate, string reason = "lost") =>
        await Devices.RevokeDeviceAsync(new RevokeDeviceRequest { Revocation = Wire.ToProto(Revoke(certificate, signer, reason)) }, signer.Headers,
            cancellationToken: Ct);

    /// <summary>
    /// The devices of a user or an authority as a client uses them: every chain verified to the
    /// pinned root at the server's "now" (a chain that does not verify throws).
    /// </summary>
    public async Task<IReadOnlyList<VerifiedDevice>> FindVerifiedDevicesAsync(Member caller, BootstrappedNetwork network, Guid? userId = null,
        Guid? authorityId = null)
    {
        var found = await Directory.FindDevicesAsync(new FindDevicesRequest { UserId = userId?.ToString() ?? "", AuthorityId = authorityId?.ToString() ?? "" },
            caller.Headers, cancellationToken: Ct);
        return [.. found.Devices.Select(chain => Crypto.CertificateChain.Verify([.. chain.Certificates.Select(Wire.FromProto)], network.Anchors, Now))];
    }

    /// <summary>Reads the directory log after <paramref name="verifier"/>'s head and verifies it extends that head (throws if not).</summary>
    public async Task<DirectoryLogVerifier> VerifyLogAsync(Member caller, DirectoryLogVerifier? verifier = null)
    {
        verifier ??= new DirectoryLogVerifier();
        while (true)
        {
            var page = await Directory.ReadLogAsync(new ReadLogRequest { AfterPosition = verifier.HeadPosition }, caller.Headers, cancellationToken: Ct);
            verifier.Extend([.. page.Entries.Select(Wire.FromProto)]);
            if (page.Entries.Count == 0 || verifier.HeadPosition >= page.HeadPosition)
            {
                verifier.CheckHead(page.HeadPosition, page.HeadLink.Span);
                return verifier;
            }
        }
    }

    /// <summary>A revocation of <paramref name="certificate"/> signed by <paramref name="signer"/>'s device.</summary>
    public Crypto.Revocation Revoke(DeviceCertificate certificate, Member signer, string reason = "lost") =>
        Crypto.Revocation.Issue(Guid.CreateVersion7(), certificate, Now, reason, signer.Device.Signing, signer.Device.DeviceId);

    /// <summary>A certificate valid from a minute ago for a year.</summary>
    public DeviceCertificate Issue(PublicDeviceKeys subject, Guid userId, Guid authorityId, DeviceRole role, SigningKeyPair issuerKey, Guid? issuerDeviceId) =>
        DeviceCertificate.Issue(Guid.CreateVersion7(), subject, userId, authorityId, role, Now.AddMinutes(-1), Now.AddDays(365), issuerKey, issuerDeviceId);

    public void Dispose() => _channel.Dispose();
}
