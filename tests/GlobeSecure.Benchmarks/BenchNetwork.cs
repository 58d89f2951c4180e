using System.Security.Cryptography;
using GlobeSecure.Client;
using GlobeSecure.Contracts.V1;
using GlobeSecure.Crypto;
using GlobeSecure.Testing;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using EpochKeyDistribution = GlobeSecure.Crypto.EpochKeyDistribution;

namespace GlobeSecure.Benchmarks;

/// <summary>A user with a certified, authenticated device whose private keys the benchmark holds (as a device would).</summary>
internal sealed record BenchMember(Guid UserId, Guid AuthorityId, DeviceKeys Device, string Token)
{
    /// <summary>The <c>authorization: Bearer</c> header of the member's session.</summary>
    public Metadata Headers { get; } = new() { { "authorization", $"Bearer {Token}" } };
}

/// <summary>
/// The benchmarks' and the load driver's setup, not measured: driven over gRPC the way a client
/// does (keys generated locally, certificates and epoch keys signed by the devices, chains
/// verified to the pinned root), as the server tests' NetworkDriver and ChannelDriver do; copied
/// here because the benchmark does not reference test projects.
/// </summary>
/// <param name="issueBootstrapCode">The operator's one-time bootstrap code (the in-process fixture's, or a server process's).</param>
/// <param name="channel">The channel the setup calls go through.</param>
internal sealed class BenchNetwork(Func<Task<string>> issueBootstrapCode, GrpcChannel channel)
{
    private readonly NetworkService.NetworkServiceClient _network = new(channel);
    private readonly DeviceService.DeviceServiceClient _devices = new(channel);
    private readonly AuthService.AuthServiceClient _auth = new(channel);
    private readonly DirectoryService.DirectoryServiceClient _directory = new(channel);
    private readonly MembershipService.MembershipServiceClient _membership = new(channel);
    private readonly ChannelService.ChannelServiceClient _channels = new(channel);
    private SigningKeyPair? _rootKey;
    private BenchMember? _administrator;

    /// <summary>The name the network is bootstrapped with (clients expect it when authenticating).</summary>
    public const string NetworkName = "GlobE Benchmark Network";

    /// <summary>The setup of a benchmark whose server runs in-process.</summary>
    public BenchNetwork(GlobeServerFixture server, GrpcChannel channel)
        : this(() => server.IssueBootstrapCodeAsync(), channel)
    {
    }

    private static DateTimeOffset Now => TimeProvider.System.GetUtcNow();

    /// <summary>The network root's public key, which clients pin.</summary>
    public SigningPublicKey RootPublicKey => RootKey.PublicKey;

    private SigningKeyPair RootKey => _rootKey ?? throw new InvalidOperationException("Bootstrap first.");

    private BenchMember Administrator => _administrator ?? throw new InvalidOperationException("Bootstrap first.");

    /// <summary>Bootstraps the network (fresh root and administrator keys) and authenticates its first administrator.</summary>
    public async Task BootstrapAsync()
    {
        var code = await issueBootstrapCode();
        _rootKey = SigningKeyPair.Generate();
        var device = DeviceKeys.Generate(Guid.CreateVersion7());
        var userId = Guid.CreateVersion7();
        var secretariatId = Guid.CreateVersion7();
        var certificate = Issue(device.Public, userId, secretariatId, DeviceRole.NetworkAdministrator, _rootKey, null);
        await _network.BootstrapAsync(new BootstrapRequest
        {
            BootstrapCode = code,
            NetworkName = NetworkName,
            RootKey = ByteString.CopyFrom(_rootKey.PublicKey.ToArray()),
            AdministratorUserId = userId.ToString(),
            AdministratorName = "First Administrator",
            Device = Wire.ToProto(device.Public),
            Certificate = Wire.ToProto(certificate),
            NetworkAuthorityId = secretariatId.ToString(),
        });
        _administrator = new BenchMember(userId, secretariatId, device, await AuthenticateAsync(device));
    }

    /// <summary>
    /// A second network administrator (four eyes), then an authority that applies, is approved by
    /// both, and whose first administrator enrols; returns that administrator.
    /// </summary>
    /// <param name="secondAdministrator">The second network administrator, who approves after the first.</param>
    /// <param name="name">The authority's name.</param>
    /// <param name="country">Its country (ISO 3166-1 alpha-2).</param>
    /// <param name="kind">Its kind.</param>
    /// <param name="applicant">
    /// The channel the (anonymous) application goes through; null: the setup's. Anonymous
    /// applications are limited per client address, so a setup that admits many authorities
    /// applies from several loopback addresses, as separate applicants would.
    /// </param>
    public async Task<BenchMember> AdmitAuthorityAsync(BenchMember secondAdministrator, string name, string country, AuthorityKind kind,
        GrpcChannel? applicant = null)
    {
        var authorityId = Guid.CreateVersion7();
        var membership = applicant is null ? _membership : new MembershipService.MembershipServiceClient(applicant);
        await membership.ApplyAsync(new ApplyRequest
        {
            AuthorityId = authorityId.ToString(),
            Name = name,
            Country = country,
            Kind = kind,
            LegalBasis = "Specialised body under UNCAC art. 36.",
            FocalPoint = new FocalPoint { Name = "Focal Point", Email = "focal@example.org" },
        });
        await _membership.ApproveAsync(new ApproveRequest { AuthorityId = authorityId.ToString() }, Administrator.Headers);
        var approved = await _membership.ApproveAsync(new ApproveRequest { AuthorityId = authorityId.ToString() }, secondAdministrator.Headers);
        return await EnrolAndCertifyAsync(approved.AdministratorCode, Administrator, Role.AuthorityAdministrator);
    }

    /// <summary>A second network administrator, certified with the root key.</summary>
    public async Task<BenchMember> AddNetworkAdministratorAsync()
    {
        var code = await InviteAsync(Administrator, Role.NetworkAdministrator, "Second Administrator");
        return await EnrolAndCertifyAsync(code, Administrator, Role.NetworkAdministrator, RootKey);
    }

    /// <summary>A new investigator of the administrator's authority, with a certified, authenticated device.</summary>
    public async Task<BenchMember> InvestigatorAsync(BenchMember authorityAdministrator, string name) =>
        await EnrolAndCertifyAsync(await InviteAsync(authorityAdministrator, Role.Investigator, name), authorityAdministrator, Role.Investigator);

    /// <summary>
    /// <paramref name="creator"/> opens a channel (epoch 1 sealed to <paramref name="firstMembers"/>, the
    /// investigators of its authority), then adds <paramref name="added"/> of another authority by
    /// name (epoch 2 sealed to everyone's devices); returns the channel, now at epoch 2.
    /// </summary>
    public Task<Channel> SharedChannelAsync(BenchMember creator, IReadOnlyList<BenchMember> firstMembers, BenchMember added) =>
        SharedChannelAsync(creator, firstMembers, [added]);

    /// <summary>As above, with any number of users of other authorities added by name (at least one).</summary>
    public async Task<Channel> SharedChannelAsync(BenchMember creator, IReadOnlyList<BenchMember> firstMembers, IReadOnlyList<BenchMember> added)
    {
        var channelId = Guid.CreateVersion7();
        var created = await _channels.CreateChannelAsync(new CreateChannelRequest
        {
            ChannelId = channelId.ToString(),
            EncryptedInfo = ByteString.CopyFrom(RandomNumberGenerator.GetBytes(64)),
            DefaultHandlingCode = "H1",
            FirstEpoch = Wire.ToProto(await DistributionAsync(creator, channelId, 1, firstMembers)),
        }, creator.Headers);
        var add = new AddMembersRequest
        {
            ChannelId = created.ChannelId,
            NextEpoch = Wire.ToProto(await DistributionAsync(creator, channelId, created.CurrentEpoch + 1, [.. firstMembers, .. added])),
        };
        add.UserIds.AddRange(added.Select(a => a.UserId.ToString()));
        return await _channels.AddMembersAsync(add, creator.Headers);
    }

    /// <summary>The caller's key for the channel's current epoch: fetched, the creator's chain verified, opened with the caller's device keys.</summary>
    public async Task<EpochKey> CurrentEpochKeyAsync(BenchMember caller, Guid channelId)
    {
        var distribution = Wire.FromProto(await _channels.GetEpochKeyAsync(new GetEpochKeyRequest { ChannelId = channelId.ToString(), Epoch = 0 },
            caller.Headers));
        var creator = (await VerifiedDevicesAsync(caller, distribution.CreatorUserId)).Single(d => d.DeviceId == distribution.CreatorDeviceId);
        return distribution.Open(creator, caller.Device);
    }

    private async Task<EpochKeyDistribution> DistributionAsync(BenchMember creator, Guid channelId, long epoch, IReadOnlyList<BenchMember> members)
    {
        var devices = new List<VerifiedDevice>();
        foreach (var member in members)
        {
            devices.AddRange(await VerifiedDevicesAsync(creator, member.UserId));
        }

        using var key = EpochKey.Generate(channelId, epoch);
        return EpochKeyDistribution.Create(key, devices.Select(d => (d.DeviceId, d.BoxKey)), Now, creator.UserId, creator.Device);
    }

    /// <summary>A user's devices as a client uses them: every chain verified to the pinned root.</summary>
    private async Task<IReadOnlyList<VerifiedDevice>> VerifiedDevicesAsync(BenchMember caller, Guid userId)
    {
        var found = await _directory.FindDevicesAsync(new FindDevicesRequest { UserId = userId.ToString() }, caller.Headers);
        var anchors = new TrustAnchors([RootKey.PublicKey]);
        return [.. found.Devices.Select(chain => Crypto.CertificateChain.Verify([.. chain.Certificates.Select(Wire.FromProto)], anchors, Now))];
    }

    private async Task<EnrolmentCode> InviteAsync(BenchMember administrator, Role role, string displayName) =>
        await _devices.InviteUserAsync(new InviteUserRequest
        {
            UserId = Guid.CreateVersion7().ToString(),
            AuthorityId = administrator.AuthorityId.ToString(),
            DisplayName = displayName,
            Role = role,
        }, administrator.Headers);

    /// <summary>Enrols a new device with the code, has <paramref name="issuer"/> (or the root key) certify it, and authenticates it.</summary>
    private async Task<BenchMember> EnrolAndCertifyAsync(EnrolmentCode code, BenchMember issuer, Role role, SigningKeyPair? rootKey = null)
    {
        var device = DeviceKeys.Generate(Guid.CreateVersion7());
        await _devices.EnrolDeviceAsync(new EnrolDeviceRequest { EnrolmentCode = code.Code, Keys = Wire.ToProto(device.Public), Label = "bench" });
        var userId = Guid.Parse(code.UserId);
        var authorityId = Guid.Parse(code.AuthorityId);
        var certificate = rootKey is null
            ? Issue(device.Public, userId, authorityId, (DeviceRole)(int)role, issuer.Device.Signing, issuer.Device.DeviceId)
            : Issue(device.Public, userId, authorityId, (DeviceRole)(int)role, rootKey, null);
        await _devices.CertifyDeviceAsync(new CertifyDeviceRequest { Certificate = Wire.ToProto(certificate) }, issuer.Headers);
        return new BenchMember(userId, authorityId, device, await AuthenticateAsync(device));
    }

    /// <summary>Challenge–response with the device's signing key; returns the session token.</summary>
    public async Task<string> AuthenticateAsync(DeviceKeys device)
    {
        var challenge = await _auth.BeginAuthenticationAsync(new BeginAuthenticationRequest { DeviceId = device.DeviceId.ToString() });
        var signature = AuthChallenge.Sign(device, challenge.Challenge_.Span, challenge.Audience, challenge.IssuedAt.ToDateTimeOffset());
        var session = await _auth.CompleteAuthenticationAsync(new CompleteAuthenticationRequest
        {
            ChallengeId = challenge.ChallengeId,
            DeviceId = device.DeviceId.ToString(),
            Signature = ByteString.CopyFrom(signature),
        });
        return session.Token;
    }

    /// <summary>A certificate valid from a minute ago for a year.</summary>
    private static DeviceCertificate Issue(PublicDeviceKeys subject, Guid userId, Guid authorityId, DeviceRole role, SigningKeyPair issuerKey,
        Guid? issuerDeviceId) =>
        DeviceCertificate.Issue(Guid.CreateVersion7(), subject, userId, authorityId, role, Now.AddMinutes(-1), Now.AddDays(365), issuerKey, issuerDeviceId);
}
