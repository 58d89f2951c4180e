using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Google.Protobuf;
using GlobeSecure.Contracts.V1;
using GlobeSecure.Crypto;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Grpc.Net.Client;
using CryptoRevocation = GlobeSecure.Crypto.Revocation;
using CertificateChain = GlobeSecure.Crypto.CertificateChain;
using DirectoryEntry = GlobeSecure.Crypto.DirectoryEntry;
using WireEntry = GlobeSecure.Contracts.V1.DirectoryEntry;

namespace GlobeSecure.Client;

/// <summary>
/// A connection to a GlobeSecure server on behalf of one device: authenticates by challenge–response
/// with the device signing key and renews its session by itself; typed methods for every rpc;
/// and the client side of trust — certificate chains verified to the pinned network root before a
/// key is used, the directory log verified to extend the head verified before.
/// </summary>
/// <remarks>
/// Failed calls throw <see cref="GlobeClientException"/>; anything that does not verify throws
/// <see cref="GlobeTrustException"/>. Thread-safe. Dispose to close the connection.
/// </remarks>
public sealed partial class GlobeClient : IAsyncDisposable
{
    /// <summary>Default validity of a certificate issued by a device: one year (never beyond the issuer's own).</summary>
    public static readonly TimeSpan DefaultCertificateValidity = TimeSpan.FromDays(365);

    /// <summary>Default validity of a network administrator's certificate issued by the root key: two years.</summary>
    public static readonly TimeSpan DefaultRootCertificateValidity = TimeSpan.FromDays(730);

    // Certificates start a little in the past, so a server whose clock is slightly behind accepts them.
    private static readonly TimeSpan ClockSkew = TimeSpan.FromMinutes(5);

    private readonly GrpcChannel _channel;
    private readonly GlobeClientOptions _options;
    private readonly SessionKeeper _session;
    private readonly NetworkService.NetworkServiceClient _network;
    private readonly MembershipService.MembershipServiceClient _membershipAnonymous;
    private readonly MembershipService.MembershipServiceClient _membership;
    private readonly DeviceService.DeviceServiceClient _devicesAnonymous;
    private readonly DeviceService.DeviceServiceClient _devices;
    private readonly AuthService.AuthServiceClient _authAnonymous;
    private readonly AuthService.AuthServiceClient _auth;
    private readonly DirectoryService.DirectoryServiceClient _directory;
    private readonly ChannelService.ChannelServiceClient _channels;
    private readonly DocumentService.DocumentServiceClient _documents;
    private readonly TemplateService.TemplateServiceClient _templates;
    private readonly RequestService.RequestServiceClient _requests;
    private readonly FocalPointService.FocalPointServiceClient _focalPoints;
    private readonly AuditService.AuditServiceClient _audit;
    private readonly DirectoryState _directoryState;

    // A handler whose server certificates must chain to the given CA only and that presents the
    // client certificate for mutual TLS (null: the default handler, when neither is asked).
    private static SocketsHttpHandler? TrustingHandler(GlobeClientOptions options)
    {
        var caFile = options.TrustedCertificateAuthorityFile;
        var clientCertificate = options.ClientCertificate ?? LoadClientCertificate(options.ClientCertificateFile, options.ClientCertificatePassword);
        if (caFile is null && clientCertificate is null)
        {
            return null;
        }

        var handler = new SocketsHttpHandler();
        if (clientCertificate is not null)
        {
            handler.SslOptions.ClientCertificates = [clientCertificate];
        }

        if (caFile is null)
        {
            return handler;
        }

        X509Certificate2 authority;
        try
        {
            authority = X509CertificateLoader.LoadCertificateFromFile(caFile);
        }
        catch (Exception e) when (e is CryptographicException or IOException or UnauthorizedAccessException)
        {
            handler.Dispose();
            throw new ArgumentException($"'{caFile}' is not a readable certificate (PEM or DER): {e.Message}", nameof(options), e);
        }

        handler.SslOptions.CertificateChainPolicy = new X509ChainPolicy
        {
            TrustMode = X509ChainTrustMode.CustomRootTrust,
            RevocationMode = X509RevocationMode.NoCheck,
        };
        handler.SslOptions.CertificateChainPolicy.CustomTrustStore.Add(authority);
        return handler;
    }

    private static X509Certificate2? LoadClientCertificate(string? file, string? password)
    {
        if (string.IsNullOrWhiteSpace(file))
        {
            return null;
        }

        X509Certificate2 certificate;
        try
        {
            certificate = X509CertificateLoader.LoadPkcs12FromFile(file, password);
        }
        catch (Exception e) when (e is CryptographicException or IOException or UnauthorizedAccessException)
        {
            // The message names the file, never the password.
            throw new ArgumentException($"'{file}' is not a readable PKCS#12 (.pfx) client certificate with that password.", nameof(file), e);
        }

        if (!certificate.HasPrivateKey)
        {
            certificate.Dispose();
            throw new ArgumentException($"'{file}' holds a certificate without its private key; a client certificate needs both.", nameof(file));
        }

        return certificate;
    }

    /// <summary>Opens a channel to the server (no call is made yet).</summary>
    public GlobeClient(GlobeClientOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(options.Address);
        _options = options;
        _channel = CreateChannel(options);
        var raw = _channel.CreateCallInvoker();
        _authAnonymous = new AuthService.AuthServiceClient(raw);
        _session = new SessionKeeper(_authAnonymous, options.Device, options.NetworkName, options.RenewBeforeExpiry, options.Clock);
        // The retry sits outside the bearer token, so each try takes the current token.
        var retry = RetryingInterceptor(options, NotifyRetry);
        var anonymous = retry is null ? raw : raw.Intercept(retry);
        var bearer = raw.Intercept(new BearerTokenInterceptor(_session));
        var authenticated = retry is null ? bearer : bearer.Intercept(retry);
        _network = new NetworkService.NetworkServiceClient(anonymous);
        _membershipAnonymous = new MembershipService.MembershipServiceClient(anonymous);
        _membership = new MembershipService.MembershipServiceClient(authenticated);
        _devicesAnonymous = new DeviceService.DeviceServiceClient(anonymous);
        _devices = new DeviceService.DeviceServiceClient(authenticated);
        _auth = new AuthService.AuthServiceClient(authenticated);
        _directory = new DirectoryService.DirectoryServiceClient(authenticated);
        _channels = new ChannelService.ChannelServiceClient(authenticated);
        _documents = new DocumentService.DocumentServiceClient(authenticated);
        _templates = new TemplateService.TemplateServiceClient(authenticated);
        _requests = new RequestService.RequestServiceClient(authenticated);
        _focalPoints = new FocalPointService.FocalPointServiceClient(authenticated);
        _audit = new AuditService.AuditServiceClient(authenticated);
        _transfers = TransferPipeline(options);
        _directoryState = new DirectoryState(options.DirectoryHead);
        Anchors = options.PinnedRootKeys.Count > 0 ? new TrustAnchors(options.PinnedRootKeys) : null;
    }

    /// <summary>The server address.</summary>
    public Uri Address => _options.Address;

    /// <summary>This client's device id, or null for an anonymous client.</summary>
    public Guid? DeviceId => _options.Device?.DeviceId;

    /// <summary>When the current session expires; null before the first authenticated call.</summary>
    public DateTimeOffset? SessionExpiresAt => _session.ExpiresAt;

    /// <summary>The directory head verified last (the remembered one until <see cref="VerifyDirectoryAsync"/> runs).</summary>
    public DirectoryHead DirectoryHead => _directoryState.Head;

    private TrustAnchors? Anchors { get; }

    // ---------------------------------------------------------------- network

    /// <summary>Anyone: the network's name and root keys (NOT_FOUND before bootstrap). Not trusted by itself: compare fingerprints out of band.</summary>
    public Task<Network> GetNetworkAsync(CancellationToken cancellationToken = default) =>
        CallAsync(_network.GetNetworkAsync(new GetNetworkRequest(), cancellationToken: cancellationToken));

    /// <summary>The raw bootstrap rpc; <see cref="NetworkInitAsync"/> builds the request.</summary>
    public Task<BootstrapResponse> BootstrapAsync(BootstrapRequest request, CancellationToken cancellationToken = default) =>
        CallAsync(_network.BootstrapAsync(request, cancellationToken: cancellationToken));

    /// <summary>
    /// Creates the network: generates the root key and the first administrator's device keys on
    /// this machine, issues the device's root-signed certificate, and registers both with the
    /// one-time bootstrap code. The result holds the private keys: store them, then dispose it.
    /// </summary>
    /// <param name="bootstrapCode">The code the server operator printed.</param>
    /// <param name="networkName">The network's name, e.g. "GlobE Network".</param>
    /// <param name="administratorName">The first network administrator's display name.</param>
    /// <param name="validity">The administrator certificate's validity; default <see cref="DefaultRootCertificateValidity"/>.</param>
    /// <param name="saveKeysAsync">
    /// Called with the new keys before the bootstrap rpc: save them there. The network is created
    /// only after it returns, so a failure to save never leaves a network whose root key is lost.
    /// </param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public async Task<NetworkInitResult> NetworkInitAsync(string bootstrapCode, string networkName, string administratorName,
        TimeSpan? validity = null, Func<NetworkInitKeys, CancellationToken, Task>? saveKeysAsync = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(bootstrapCode);
        var root = NetworkRootKey.Generate();
        var device = DeviceKeys.Generate(Guid.CreateVersion7());
        try
        {
            var userId = Guid.CreateVersion7();
            var authorityId = Guid.CreateVersion7();
            var now = _options.Clock.GetUtcNow();
            var certificate = DeviceCertificate.Issue(Guid.CreateVersion7(), device.Public, userId, authorityId, DeviceRole.NetworkAdministrator,
                now - ClockSkew, now + (validity ?? DefaultRootCertificateValidity), root.KeyPair, issuerDeviceId: null);
            if (saveKeysAsync is not null)
            {
                await saveKeysAsync(new NetworkInitKeys(root, device, userId, authorityId), cancellationToken);
            }

            var response = await BootstrapAsync(new BootstrapRequest
            {
                BootstrapCode = bootstrapCode,
                NetworkName = networkName,
                RootKey = ByteString.CopyFrom(root.PublicKey.Span),
                AdministratorUserId = userId.ToString(),
                AdministratorName = administratorName,
                Device = device.Public.ToProto(),
                Certificate = certificate.ToProto(),
                NetworkAuthorityId = authorityId.ToString(),
            }, cancellationToken);
            if (!response.Network.RootKeys.Any(k => k.PublicKey.Span.SequenceEqual(root.PublicKey.Span)))
            {
                throw new GlobeTrustException("The server accepted the bootstrap but does not list the new root key among its root keys.");
            }

            return new NetworkInitResult(response.Network, root, device, userId, authorityId, certificate);
        }
        catch
        {
            root.Dispose();
            device.Dispose();
            throw;
        }
    }

    // ---------------------------------------------------------------- membership

    /// <summary>Anyone (no account): files an authority's application.</summary>
    public async Task<Authority> ApplyAsync(AuthorityApplication application, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(application);
        var response = await CallAsync(_membershipAnonymous.ApplyAsync(new ApplyRequest
        {
            AuthorityId = (application.AuthorityId ?? Guid.CreateVersion7()).ToString(),
            Name = application.Name,
            Country = application.Country,
            Kind = application.Kind,
            LegalBasis = application.LegalBasis,
            FocalPoint = new FocalPoint
            {
                Name = application.FocalPointName,
                Email = application.FocalPointEmail,
                Phone = application.FocalPointPhone ?? "",
            },
        }, cancellationToken: cancellationToken));
        return response.Authority;
    }

    /// <summary>Network administrators: one approval; the second (by another administrator) activates the authority and carries its first administrator's enrolment code.</summary>
    public Task<ApproveResponse> ApproveAsync(Guid authorityId, CancellationToken cancellationToken = default) =>
        CallAsync(_membership.ApproveAsync(new ApproveRequest { AuthorityId = authorityId.ToString() }, cancellationToken: cancellationToken));

    /// <summary>Network administrators: rejects a pending application.</summary>
    public Task<Authority> RejectAsync(Guid authorityId, string reason, CancellationToken cancellationToken = default) =>
        CallAsync(_membership.RejectAsync(new RejectRequest { AuthorityId = authorityId.ToString(), Reason = reason },
            cancellationToken: cancellationToken));

    /// <summary>Network administrators: suspends an active authority (its sessions end at once).</summary>
    public Task<Authority> SuspendAsync(Guid authorityId, string reason, CancellationToken cancellationToken = default) =>
        CallAsync(_membership.SuspendAsync(new SuspendRequest { AuthorityId = authorityId.ToString(), Reason = reason },
            cancellationToken: cancellationToken));

    /// <summary>Network administrators: reinstates a suspended authority.</summary>
    public Task<Authority> ReinstateAsync(Guid authorityId, CancellationToken cancellationToken = default) =>
        CallAsync(_membership.ReinstateAsync(new ReinstateRequest { AuthorityId = authorityId.ToString() }, cancellationToken: cancellationToken));

    /// <summary>Network administrators: withdraws an authority for good.</summary>
    public Task<Authority> WithdrawAsync(Guid authorityId, string reason, CancellationToken cancellationToken = default) =>
        CallAsync(_membership.WithdrawAsync(new WithdrawRequest { AuthorityId = authorityId.ToString(), Reason = reason },
            cancellationToken: cancellationToken));

    /// <summary>Network administrators: a new enrolment code for an active authority's (replacement) administrator.</summary>
    public Task<EnrolmentCode> IssueAdministratorCodeAsync(Guid authorityId, string displayName, Guid? userId = null,
        CancellationToken cancellationToken = default) =>
        CallAsync(_membership.IssueAdministratorCodeAsync(new IssueAdministratorCodeRequest
        {
            AuthorityId = authorityId.ToString(),
            UserId = (userId ?? Guid.CreateVersion7()).ToString(),
            DisplayName = displayName,
        }, cancellationToken: cancellationToken));

    /// <summary>Any authenticated user: the authorities matching the filter, every page.</summary>
    public async Task<IReadOnlyList<Authority>> ListAuthoritiesAsync(AuthorityFilter? filter = null, CancellationToken cancellationToken = default)
    {
        filter ??= new AuthorityFilter();
        var all = new List<Authority>();
        var pageToken = "";
        do
        {
            var response = await CallAsync(_membership.ListAuthoritiesAsync(new ListAuthoritiesRequest
            {
                Country = filter.Country ?? "",
                Kind = filter.Kind ?? AuthorityKind.Unspecified,
                GroupId = filter.GroupId?.ToString() ?? "",
                Status = filter.Status ?? AuthorityStatus.Unspecified,
                Page = new PageRequest { PageSize = 1000, PageToken = pageToken },
            }, cancellationToken: cancellationToken));
            all.AddRange(response.Authorities);
            pageToken = response.Page?.NextPageToken ?? "";
        }
        while (pageToken.Length > 0);

        return all;
    }

    /// <summary>Any authenticated user: one authority.</summary>
    public Task<Authority> GetAuthorityAsync(Guid authorityId, CancellationToken cancellationToken = default) =>
        CallAsync(_membership.GetAuthorityAsync(new GetAuthorityRequest { AuthorityId = authorityId.ToString() },
            cancellationToken: cancellationToken));

    /// <summary>Network administrators: creates a regional group.</summary>
    public Task<RegionalGroup> CreateGroupAsync(string name, IEnumerable<Guid>? authorityIds = null, Guid? groupId = null,
        CancellationToken cancellationToken = default) =>
        CallAsync(_membership.CreateGroupAsync(new CreateGroupRequest
        {
            GroupId = (groupId ?? Guid.CreateVersion7()).ToString(),
            Name = name,
            AuthorityIds = { (authorityIds ?? []).Select(id => id.ToString()) },
        }, cancellationToken: cancellationToken));

    /// <summary>Network administrators: adds an authority to a regional group.</summary>
    public Task<RegionalGroup> AddToGroupAsync(Guid groupId, Guid authorityId, CancellationToken cancellationToken = default) =>
        CallAsync(_membership.AddToGroupAsync(new GroupMembershipRequest { GroupId = groupId.ToString(), AuthorityId = authorityId.ToString() },
            cancellationToken: cancellationToken));

    /// <summary>Network administrators: removes an authority from a regional group.</summary>
    public Task<RegionalGroup> RemoveFromGroupAsync(Guid groupId, Guid authorityId, CancellationToken cancellationToken = default) =>
        CallAsync(_membership.RemoveFromGroupAsync(new GroupMembershipRequest { GroupId = groupId.ToString(), AuthorityId = authorityId.ToString() },
            cancellationToken: cancellationToken));

    /// <summary>Any authenticated user: the regional groups.</summary>
    public async Task<IReadOnlyList<RegionalGroup>> ListGroupsAsync(CancellationToken cancellationToken = default) =>
        (await CallAsync(_membership.ListGroupsAsync(new ListGroupsRequest(), cancellationToken: cancellationToken))).Groups;

    // ---------------------------------------------------------------- users and devices

    /// <summary>Authority administrators (own authority; network administrators for their secretariat): a new user and its one-time enrolment code.</summary>
    public Task<EnrolmentCode> InviteUserAsync(Guid authorityId, string displayName, Role role, Guid? userId = null,
        CancellationToken cancellationToken = default) =>
        CallAsync(_devices.InviteUserAsync(new InviteUserRequest
        {
            UserId = (userId ?? Guid.CreateVersion7()).ToString(),
            AuthorityId = authorityId.ToString(),
            DisplayName = displayName,
            Role = role,
        }, cancellationToken: cancellationToken));

    /// <summary>Authority administrators (own authority), network administrators (any): the authority's users.</summary>
    public async Task<IReadOnlyList<User>> ListUsersAsync(Guid authorityId, CancellationToken cancellationToken = default) =>
        (await CallAsync(_devices.ListUsersAsync(new ListUsersRequest { AuthorityId = authorityId.ToString() },
            cancellationToken: cancellationToken))).Users;

    /// <summary>
    /// Revokes a user: signs a revocation of each of the user's certified devices with this
    /// device's key (or <paramref name="rootKey"/>), and ends the user's sessions.
    /// </summary>
    public async Task<User> RevokeUserAsync(Guid userId, string reason, NetworkRootKey? rootKey = null,
        CancellationToken cancellationToken = default)
    {
        var devices = await ListDevicesAsync(new DeviceScope(UserId: userId), cancellationToken: cancellationToken);
        var request = new RevokeUserRequest { UserId = userId.ToString(), Reason = reason };
        foreach (var device in devices.Where(d => d.Status == DeviceStatus.Certified && d.Certificate is not null))
        {
            request.Revocations.Add(SignRevocation(Wire.FromProto(device.Certificate), reason, rootKey).ToProto());
        }

        return await CallAsync(_devices.RevokeUserAsync(request, cancellationToken: cancellationToken));
    }

    /// <summary>
    /// Anyone holding an enrolment code: generates this device's keys locally and registers their
    /// public halves. The device waits for certification. The result holds the private keys.
    /// </summary>
    public async Task<EnrolmentResult> EnrolDeviceAsync(string enrolmentCode, string? label = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(enrolmentCode);
        var keys = DeviceKeys.Generate(Guid.CreateVersion7());
        try
        {
            var device = await CallAsync(_devicesAnonymous.EnrolDeviceAsync(new EnrolDeviceRequest
            {
                EnrolmentCode = enrolmentCode,
                Keys = keys.Public.ToProto(),
                Label = label ?? "",
            }, cancellationToken: cancellationToken));
            return new EnrolmentResult(keys, device);
        }
        catch
        {
            keys.Dispose();
            throw;
        }
    }

    /// <summary>Authority administrators (own authority) and network administrators: devices of a user or an authority.</summary>
    public async Task<IReadOnlyList<Device>> ListDevicesAsync(DeviceScope? scope = null, bool pendingOnly = false,
        CancellationToken cancellationToken = default)
    {
        var request = await ListRequestAsync(scope ?? DeviceScope.Own, cancellationToken);
        request.PendingOnly = pendingOnly;
        return (await CallAsync(_devices.ListDevicesAsync(request, cancellationToken: cancellationToken))).Devices;
    }

    /// <summary>
    /// Certifies a pending device: fetches it, checks its box-key signature and that this device's
    /// verified role may certify its role, issues a certificate signed with this device's key
    /// (or with <paramref name="rootKey"/> for a network administrator's device), valid from now
    /// for <paramref name="validity"/> (default one year) but never beyond the issuer's own
    /// certificate, and publishes it.
    /// </summary>
    /// <param name="deviceId">The pending device.</param>
    /// <param name="scope">Where it is: its user or its authority (default: the caller's own authority).</param>
    /// <param name="rootKey">The network root key, to certify a network administrator's device.</param>
    /// <param name="validity">How long the certificate is valid.</param>
    /// <param name="expectedFingerprint">When given, the device's signing-key fingerprint as its owner read it out of band; a mismatch is refused.</param>
    /// <param name="cancellationToken">Cancels the calls.</param>
    public async Task<Device> CertifyDeviceAsync(Guid deviceId, DeviceScope? scope = null, NetworkRootKey? rootKey = null,
        TimeSpan? validity = null, string? expectedFingerprint = null, CancellationToken cancellationToken = default)
    {
        var device = await FindDeviceAsync(deviceId, scope, cancellationToken);
        if (device.Status != DeviceStatus.Pending)
        {
            throw new GlobeClientException(StatusCode.FailedPrecondition, null, $"Device {deviceId} is {device.Status}, not waiting for certification.");
        }

        var subject = Wire.FromProto(device.Keys);
        if (subject.DeviceId != deviceId)
        {
            throw new GlobeTrustException($"The server served the keys of device {subject.DeviceId} for device {deviceId}: refused.");
        }

        if (expectedFingerprint is not null &&
            !string.Equals(subject.SigningKey.Fingerprint, expectedFingerprint.Trim(), StringComparison.OrdinalIgnoreCase))
        {
            throw new GlobeTrustException(
                $"Device {deviceId} has signing-key fingerprint {subject.SigningKey.Fingerprint}, not the expected {expectedFingerprint.Trim()}: not certified.");
        }

        var role = device.Role.ToDeviceRole();
        var userId = Wire.ParseId(device.UserId, "user id");
        var authorityId = Wire.ParseId(device.AuthorityId, "authority id");
        var now = _options.Clock.GetUtcNow();
        var notBefore = now - ClockSkew;
        DeviceCertificate certificate;
        try
        {
            if (rootKey is not null)
            {
                RequirePinned(rootKey.PublicKey);
                if (!DeviceRoles.MayIssue(null, role))
                {
                    throw new GlobeClientException(StatusCode.FailedPrecondition, null,
                        $"The root key certifies network administrators only; device {deviceId} is a {role.ToWire()}.");
                }

                certificate = DeviceCertificate.Issue(Guid.CreateVersion7(), subject, userId, authorityId, role, notBefore,
                    now + (validity ?? DefaultRootCertificateValidity), rootKey.KeyPair, issuerDeviceId: null);
            }
            else
            {
                var issuer = await OwnVerifiedDeviceAsync(cancellationToken);
                if (!DeviceRoles.MayIssue(issuer.Role, role) ||
                    (issuer.Role == DeviceRole.AuthorityAdministrator && issuer.AuthorityId != authorityId))
                {
                    throw new GlobeClientException(StatusCode.PermissionDenied, null,
                        $"A {issuer.Role.ToWire()} may not certify a {role.ToWire()}"
                        + (issuer.Role == DeviceRole.NetworkAdministrator && role == DeviceRole.NetworkAdministrator
                            ? " (network administrators' devices are certified with the root key)." : "."));
                }

                var notAfter = now + (validity ?? DefaultCertificateValidity);
                notBefore = notBefore < issuer.Certificate.NotBefore ? issuer.Certificate.NotBefore : notBefore;
                notAfter = notAfter > issuer.Certificate.NotAfter ? issuer.Certificate.NotAfter : notAfter;
                certificate = DeviceCertificate.Issue(Guid.CreateVersion7(), subject, userId, authorityId, role, notBefore, notAfter,
                    Device().Signing, Device().DeviceId);
            }
        }
        catch (GlobeCryptoException e)
        {
            throw new GlobeTrustException($"Device {deviceId} cannot be certified: {e.Message}", e);
        }

        return await CallAsync(_devices.CertifyDeviceAsync(new CertifyDeviceRequest { Certificate = certificate.ToProto() },
            cancellationToken: cancellationToken));
    }

    /// <summary>Revokes a certified device with a revocation signed by this device (or by <paramref name="rootKey"/>); its sessions end at once.</summary>
    public async Task<Device> RevokeDeviceAsync(Guid deviceId, string reason, DeviceScope? scope = null, NetworkRootKey? rootKey = null,
        CancellationToken cancellationToken = default)
    {
        var device = await FindDeviceAsync(deviceId, scope, cancellationToken);
        if (device.Certificate is null)
        {
            throw new GlobeClientException(StatusCode.FailedPrecondition, null, $"Device {deviceId} has no certificate to revoke ({device.Status}).");
        }

        var revocation = SignRevocation(Wire.FromProto(device.Certificate), reason, rootKey);
        return await CallAsync(_devices.RevokeDeviceAsync(new RevokeDeviceRequest { Revocation = revocation.ToProto() },
            cancellationToken: cancellationToken));
    }

    // ---------------------------------------------------------------- authentication

    /// <summary>Authenticates now (otherwise the first call that needs a session does); returns when the session expires.</summary>
    public async Task<DateTimeOffset> AuthenticateAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            await _session.TokenAsync(null, cancellationToken);
        }
        catch (RpcException e)
        {
            throw GlobeClientException.FromRpc(e);
        }

        return _session.ExpiresAt!.Value;
    }

    /// <summary>Any authenticated caller: who the server thinks this device is.</summary>
    public Task<WhoAmIResponse> WhoAmIAsync(CancellationToken cancellationToken = default) =>
        CallAsync(_auth.WhoAmIAsync(new WhoAmIRequest(), cancellationToken: cancellationToken));

    /// <summary>Ends this device's session on the server.</summary>
    public async Task SignOutAsync(CancellationToken cancellationToken = default)
    {
        await CallAsync(_auth.SignOutAsync(new SignOutRequest(), cancellationToken: cancellationToken));
        _session.Forget();
    }

    // ---------------------------------------------------------------- directory and trust

    /// <summary>
    /// The certified, unrevoked devices of a user or an authority — only those whose certificate
    /// chain verifies to the pinned root now, is not revoked in the directory log, and was published
    /// in the log this client verified. Anything else is refused with <see cref="GlobeTrustException"/>.
    /// </summary>
    public async Task<IReadOnlyList<VerifiedDevice>> FindDevicesAsync(DeviceScope scope, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(scope);
        if ((scope.UserId is null) == (scope.AuthorityId is null))
        {
            throw new ArgumentException("Look up the devices of a user or of an authority (one of the two).", nameof(scope));
        }

        var anchors = RequireAnchors();
        await VerifyDirectoryAsync(cancellationToken);
        var response = await CallAsync(_directory.FindDevicesAsync(new FindDevicesRequest
        {
            UserId = scope.UserId?.ToString() ?? "",
            AuthorityId = scope.AuthorityId?.ToString() ?? "",
        }, cancellationToken: cancellationToken));
        var now = _options.Clock.GetUtcNow();
        var verified = new List<VerifiedDevice>(response.Devices.Count);
        foreach (var chain in response.Devices)
        {
            verified.Add(VerifyChain(chain, anchors, now, scope));
        }

        return verified;
    }

    /// <summary>The directory log as served (unverified); see <see cref="VerifyDirectoryAsync"/>.</summary>
    public Task<ReadLogResponse> ReadLogAsync(long afterPosition, int maxEntries = 0, CancellationToken cancellationToken = default) =>
        CallAsync(_directory.ReadLogAsync(new ReadLogRequest { AfterPosition = afterPosition, MaxEntries = maxEntries },
            cancellationToken: cancellationToken));

    /// <summary>
    /// Reads the directory log and verifies it: every link recomputes, the entries at and before
    /// the remembered head are the ones verified before (a log that does not extend the head is
    /// refused), position 1 is the pinned root key, revocations are signed, and the server's stated
    /// head is where the verified log ends. Returns the new head to remember.
    /// </summary>
    /// <remarks>
    /// The first verification of a client reads the log from its beginning, so that every
    /// revocation is known when chains are checked; later ones read only what was appended.
    /// </remarks>
    public async Task<DirectoryHead> VerifyDirectoryAsync(CancellationToken cancellationToken = default)
    {
        var anchors = RequireAnchors();
        await _directoryState.Gate.WaitAsync(cancellationToken);
        try
        {
            var state = _directoryState;
            var remembered = state.Head;
            // A copy: a refused batch leaves the verified state as it was.
            var verifier = state.Verifier is { } known ? new DirectoryLogVerifier(known.HeadPosition, known.HeadLink) : new DirectoryLogVerifier();
            var revocations = new List<CryptoRevocation>();
            var certificates = new Dictionary<Guid, byte[]>();
            while (true)
            {
                var page = await ReadLogAsync(verifier.HeadPosition, 1000, cancellationToken);
                if (page.Entries.Count == 0)
                {
                    if (page.HeadPosition < remembered.Position)
                    {
                        throw new GlobeTrustException(
                            $"The directory log ends at position {page.HeadPosition}, before the head this client verified ({remembered.Position}): the server rewrote or truncated its history.");
                    }

                    if (page.HeadPosition != verifier.HeadPosition)
                    {
                        throw new GlobeTrustException(
                            $"The server states directory head {page.HeadPosition} but serves no entries after {verifier.HeadPosition}: refused.");
                    }

                    verifier.CheckHead(page.HeadPosition, page.HeadLink.Span);
                    break;
                }

                var entries = new List<DirectoryEntry>(page.Entries.Count);
                foreach (var entry in page.Entries)
                {
                    var converted = Wire.FromProto(entry);
                    entries.Add(converted);
                    Collect(entry, converted, anchors, revocations, certificates);
                }

                // Extend up to the remembered head, check it is the one verified before, then the rest.
                var split = entries.FindIndex(e => e.Position > remembered.Position);
                var before = split < 0 ? entries : entries[..split];
                var after = split < 0 ? [] : entries[split..];
                verifier.Extend(before);
                if (remembered.Position > 0 && verifier.HeadPosition == remembered.Position &&
                    !verifier.HeadLink.AsSpan().SequenceEqual(remembered.Link))
                {
                    throw new DirectoryLogForkedException(
                        $"Directory log entry {remembered.Position} is not the one this client verified before: the log does not extend the remembered head (rewritten history).");
                }

                verifier.Extend(after);
            }

            var head = new DirectoryHead(verifier.HeadPosition, verifier.HeadPosition == 0 ? [] : verifier.HeadLink);
            state.Commit(verifier, head, revocations, certificates);
            return head;
        }
        catch (DirectoryLogForkedException e)
        {
            throw new GlobeTrustException($"The directory log was refused: {e.Message}", e);
        }
        catch (GlobeCryptoException e)
        {
            throw new GlobeTrustException($"The directory log was refused: {e.Message}", e);
        }
        finally
        {
            _directoryState.Gate.Release();
        }
    }

    /// <summary>Closes the connection.</summary>
    public ValueTask DisposeAsync()
    {
        _session.Dispose();
        _channel.Dispose();
        DisposeChannelKeys();
        _directoryState.Gate.Dispose();
        return ValueTask.CompletedTask;
    }

    // ---------------------------------------------------------------- helpers

    private static void Collect(WireEntry entry, DirectoryEntry converted, TrustAnchors anchors,
        List<CryptoRevocation> revocations, Dictionary<Guid, byte[]> certificates)
    {
        switch (entry.EntryCase)
        {
            case WireEntry.EntryOneofCase.RootKey:
                if (!anchors.Contains(new SigningPublicKey(entry.RootKey.Span)))
                {
                    throw new GlobeTrustException(
                        $"Directory log entry {entry.Position} publishes root key {new SigningPublicKey(entry.RootKey.Span).Fingerprint}, which is not pinned: refused.");
                }

                break;
            case WireEntry.EntryOneofCase.Revocation:
                var revocation = Wire.FromProto(entry.Revocation);
                if (!revocation.HasValidSignature())
                {
                    throw new GlobeTrustException($"Directory log entry {entry.Position} is a revocation whose signature does not verify: refused.");
                }

                revocations.Add(revocation);
                break;
            case WireEntry.EntryOneofCase.Certificate:
                certificates[Wire.ParseId(entry.Certificate.CertificateId, "certificate id")] = converted.Content;
                break;
        }
    }

    private VerifiedDevice VerifyChain(GlobeSecure.Contracts.V1.CertificateChain chain, TrustAnchors anchors, DateTimeOffset now, DeviceScope scope)
    {
        var label = chain.Certificates.Count > 0 ? $"device {chain.Certificates[0].DeviceId}" : "an empty chain";
        try
        {
            var certificates = chain.Certificates.Select(Wire.FromProto).ToList();
            var device = CertificateChain.Verify(certificates, anchors, now, _directoryState.Revocations);
            foreach (var certificate in certificates)
            {
                if (!_directoryState.IsLogged(certificate))
                {
                    throw new GlobeTrustException(
                        $"The directory served a certificate for {label} (certificate {certificate.CertificateId}) that is not published in the verified directory log: refused; no key from it is used.");
                }
            }

            if ((scope.UserId is { } user && device.UserId != user) || (scope.AuthorityId is { } authority && device.AuthorityId != authority))
            {
                throw new GlobeTrustException($"The directory answered a lookup with {label}, which belongs to someone else: refused.");
            }

            return device;
        }
        catch (GlobeCryptoException e)
        {
            throw new GlobeTrustException(
                $"The directory served a certificate chain for {label} that does not verify to the pinned network root ({e.Message}): refused; no key from it is used.", e);
        }
    }

    private async Task<VerifiedDevice> OwnVerifiedDeviceAsync(CancellationToken cancellationToken)
    {
        var me = await WhoAmIAsync(cancellationToken);
        var devices = await FindDevicesAsync(new DeviceScope(UserId: Wire.ParseId(me.UserId, "user id")), cancellationToken);
        return devices.FirstOrDefault(d => d.DeviceId == Device().DeviceId)
            ?? throw new GlobeTrustException("This device's own certificate is not in the directory: it cannot certify others until it is certified.");
    }

    private async Task<Device> FindDeviceAsync(Guid deviceId, DeviceScope? scope, CancellationToken cancellationToken)
    {
        var devices = await ListDevicesAsync(scope, cancellationToken: cancellationToken);
        return devices.FirstOrDefault(d => d.DeviceId == deviceId.ToString())
            ?? throw new GlobeClientException(StatusCode.NotFound, null,
                $"Device {deviceId} is not among the devices of {Describe(scope)}; name its authority or user.");
    }

    private async Task<ListDevicesRequest> ListRequestAsync(DeviceScope scope, CancellationToken cancellationToken)
    {
        if (scope.UserId is { } userId)
        {
            return new ListDevicesRequest { UserId = userId.ToString() };
        }

        var authorityId = scope.AuthorityId?.ToString() ?? (await WhoAmIAsync(cancellationToken)).AuthorityId;
        return new ListDevicesRequest { AuthorityId = authorityId };
    }

    private CryptoRevocation SignRevocation(DeviceCertificate certificate, string reason, NetworkRootKey? rootKey)
    {
        var now = _options.Clock.GetUtcNow();
        if (rootKey is not null)
        {
            RequirePinned(rootKey.PublicKey);
            return CryptoRevocation.Issue(Guid.CreateVersion7(), certificate, now, reason, rootKey.KeyPair, issuerDeviceId: null);
        }

        return CryptoRevocation.Issue(Guid.CreateVersion7(), certificate, now, reason, Device().Signing, Device().DeviceId);
    }

    private DeviceKeys Device() => _options.Device
        ?? throw new GlobeClientException(StatusCode.Unauthenticated, null, "This client has no device keys: open a device profile first.");

    private TrustAnchors RequireAnchors() => Anchors
        ?? throw new GlobeTrustException("No network root key is pinned: the directory cannot be verified. Pin the root (enrol, or network init) first.");

    private void RequirePinned(SigningPublicKey rootKey)
    {
        if (!RequireAnchors().Contains(rootKey))
        {
            throw new GlobeTrustException($"The root key {rootKey.Fingerprint} is not the pinned network root: refused.");
        }
    }

    private static string Describe(DeviceScope? scope) => scope switch
    {
        { UserId: { } user } => $"user {user}",
        { AuthorityId: { } authority } => $"authority {authority}",
        _ => "your authority",
    };

    private static async Task<T> CallAsync<T>(AsyncUnaryCall<T> call)
    {
        using (call)
        {
            try
            {
                return await call.ResponseAsync;
            }
            catch (RpcException e)
            {
                throw GlobeClientException.FromRpc(e);
            }
        }
    }

    /// <summary>What this client verified of the directory log.</summary>
    private sealed class DirectoryState(DirectoryHead remembered)
    {
        private readonly Dictionary<Guid, byte[]> _certificates = [];

        public SemaphoreSlim Gate { get; } = new(1, 1);

        public DirectoryHead Head { get; private set; } = remembered;

        /// <summary>Null until the log has been read from its beginning once.</summary>
        public DirectoryLogVerifier? Verifier { get; private set; }

        public RevocationSet Revocations { get; } = new();

        public bool IsLogged(DeviceCertificate certificate) =>
            _certificates.TryGetValue(certificate.CertificateId, out var content) && content.AsSpan().SequenceEqual(certificate.SigningInput());

        public void Commit(DirectoryLogVerifier verifier, DirectoryHead head, List<CryptoRevocation> revocations,
            Dictionary<Guid, byte[]> certificates)
        {
            Verifier = verifier;
            Head = head;
            foreach (var revocation in revocations)
            {
                Revocations.Add(revocation);
            }

            foreach (var (id, content) in certificates)
            {
                _certificates[id] = content;
            }
        }
    }
}
