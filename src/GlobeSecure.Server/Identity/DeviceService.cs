using GlobeSecure.Contracts.V1;
using GlobeSecure.Crypto;
using GlobeSecure.EventStore;
using GlobeSecure.Server.Infrastructure;
using Grpc.Core;
using Microsoft.Extensions.Options;
using Npgsql;
using Timestamp = Google.Protobuf.WellKnownTypes.Timestamp;

namespace GlobeSecure.Server.Identity;

/// <summary>Loads a user stream, decides, appends with the loaded version and the call's audit entry.</summary>
internal sealed class Users(PostgresEventStore store, Access access)
{
    public async Task<UserState> DecideAsync(UserCommand command, ServerCallContext context, string? target = null)
    {
        var (state, _) = await store.DecideAsync(UserDecider.StreamOf(command.UserId), UserState.Initial, UserDecider.Evolve,
            s => UserDecider.Decide(command, s), access.Allowed(context, target ?? command.UserId.ToString()),
            cancellationToken: context.CancellationToken);
        return state;
    }

    public async Task<UserState> LoadAsync(Guid userId, CancellationToken cancellationToken) =>
        (await store.AggregateStreamAsync(UserDecider.StreamOf(userId), UserState.Initial, UserDecider.Evolve, cancellationToken)).State;
}

/// <summary>
/// Which roles a user of an authority may have: observers only in an observer organisation (and
/// its administrators), network administrators and auditors in the secretariat, and the working
/// roles in a member authority.
/// </summary>
internal static class InvitationRules
{
    public static IReadOnlyList<Role> RolesIn(AuthorityKind kind) => kind switch
    {
        AuthorityKind.NetworkSecretariat => [Role.NetworkAdministrator, Role.Auditor],
        AuthorityKind.ObserverOrganisation => [Role.AuthorityAdministrator, Role.Observer],
        _ => [Role.AuthorityAdministrator, Role.Investigator, Role.Auditor, Role.PartnerTool],
    };
}

/// <summary>The <see cref="IEnrolmentCodes"/> Membership uses when it approves an authority.</summary>
internal sealed class EnrolmentCodes(Users users, IAuthorities authorities, TimeProvider clock, IOptions<IdentityOptions> options) : IEnrolmentCodes
{
    public async Task<EnrolmentCode> IssueAdministratorCodeAsync(ServerCallContext call, Guid authorityId, Guid userId, string displayName,
        CancellationToken cancellationToken)
    {
        var authority = await authorities.FindAsync(authorityId, cancellationToken) ?? throw new NotFoundException("authority", authorityId.ToString());
        if (authority.Status != AuthorityStatus.Active)
        {
            throw new WrongStateException("Enrolment codes are issued only for an active authority.");
        }

        var now = clock.GetUtcNow();
        var code = Secrets.NewSecret();
        var expires = now + options.Value.EnrolmentCodeLifetime;
        await users.DecideAsync(new IssueAdministratorCode(userId, authorityId, displayName, Secrets.Hash(code), expires, now), call);
        return new EnrolmentCode { Code = code, UserId = userId.ToString(), AuthorityId = authorityId.ToString(), ExpiresAt = Timestamp.FromDateTimeOffset(expires) };
    }
}

/// <summary>Users and devices: invitations, enrolment, certification, revocation. Who may call is on each method.</summary>
internal sealed class DeviceService(
    Users users,
    Access access,
    TimeProvider clock,
    IAuthorities authorities,
    IdentityReadModel read,
    IOptions<IdentityOptions> options) : Contracts.V1.DeviceService.DeviceServiceBase
{
    /// <summary>
    /// Authority administrators (own authority: administrators, investigators, auditors, partner
    /// tools; observers in an observer organisation); network administrators (the secretariat:
    /// network administrators and auditors). The authority must be active.
    /// </summary>
    public override async Task<EnrolmentCode> InviteUser(InviteUserRequest request, ServerCallContext context)
    {
        var caller = await access.RequireRoleAsync(context, request.AuthorityId, Role.AuthorityAdministrator, Role.NetworkAdministrator);
        var v = new Violations();
        var userId = v.Id("user_id", request.UserId);
        var authorityId = v.Id("authority_id", request.AuthorityId);
        var name = v.Text("display_name", request.DisplayName, 200);
        var role = v.Role("role", request.Role);
        v.ThrowIfAny();
        if (authorityId != caller.AuthorityId)
        {
            await access.DenyAsync(context, caller, request.AuthorityId, "administrators invite users of their own authority only");
        }

        var authority = await authorities.FindAsync(authorityId, context.CancellationToken) ?? throw new NotFoundException("authority", request.AuthorityId);
        if (authority.Status != AuthorityStatus.Active)
        {
            throw new WrongStateException("Users are invited only into an active authority.");
        }

        var allowed = InvitationRules.RolesIn(authority.Kind);
        if (!allowed.Contains(role))
        {
            throw new ValidationException("role", $"must be one of {string.Join(", ", allowed)} in this authority");
        }

        var now = clock.GetUtcNow();
        var code = Secrets.NewSecret();
        var expires = now + options.Value.EnrolmentCodeLifetime;
        await users.DecideAsync(new InviteUser(userId, authorityId, name, role, caller.UserId, Secrets.Hash(code), expires, now), context);
        return new EnrolmentCode { Code = code, UserId = userId.ToString(), AuthorityId = authorityId.ToString(), ExpiresAt = Timestamp.FromDateTimeOffset(expires) };
    }

    /// <summary>Authority administrators (own authority), network administrators (any).</summary>
    public override async Task<ListUsersResponse> ListUsers(ListUsersRequest request, ServerCallContext context)
    {
        var caller = await access.RequireRoleAsync(context, request.AuthorityId, Role.AuthorityAdministrator, Role.NetworkAdministrator);
        var v = new Violations();
        var authorityId = v.Id("authority_id", request.AuthorityId);
        v.ThrowIfAny();
        await RequireAdministratorOfAsync(context, caller, authorityId);
        var response = new ListUsersResponse();
        foreach (var u in await read.UsersAsync(authorityId, context.CancellationToken))
        {
            response.Users.Add(new User
            {
                UserId = u.UserId.ToString(), AuthorityId = u.AuthorityId.ToString(), DisplayName = u.DisplayName, Role = u.Role, Status = u.Status,
                InvitedAt = Timestamp.FromDateTimeOffset(u.InvitedAt),
            });
        }

        await access.RecordReadAsync(context, request.AuthorityId);
        return response;
    }

    /// <summary>
    /// Authority administrators (own authority), network administrators (any): one signed
    /// revocation per certified device, each by the caller's own device (or a root key); every
    /// session of the user ends at once.
    /// </summary>
    public override async Task<User> RevokeUser(RevokeUserRequest request, ServerCallContext context)
    {
        var caller = await access.RequireRoleAsync(context, request.UserId, Role.AuthorityAdministrator, Role.NetworkAdministrator);
        var v = new Violations();
        var userId = v.Id("user_id", request.UserId);
        var reason = v.Text("reason", request.Reason, 200);
        var revocations = request.Revocations.Select((r, i) => IdentityWire.Revocation(v, $"revocations[{i}]", r)).ToList();
        v.ThrowIfAny();
        var user = await users.LoadAsync(userId, context.CancellationToken);
        if (!user.Exists)
        {
            throw new NotFoundException("user", request.UserId);
        }

        await RequireAdministratorOfAsync(context, caller, user.AuthorityId);
        for (var i = 0; i < revocations.Count; i++)
        {
            await RequireAuthorisedRevocationAsync(context, caller, revocations[i], $"revocations[{i}]", callerAdministersTheUser: true);
        }

        var state = await users.DecideAsync(new RevokeUser(userId, reason, revocations, caller.UserId, clock.GetUtcNow()), context);
        return IdentityWire.ToProto(state);
    }

    /// <summary>
    /// Anyone holding an enrolment code (the code is the credential): registers the device's
    /// public keys, pending certification. One UNAUTHENTICATED answer for unknown, used and
    /// expired codes, audited.
    /// </summary>
    public override async Task<Device> EnrolDevice(EnrolDeviceRequest request, ServerCallContext context)
    {
        var v = new Violations();
        var code = v.Text("enrolment_code", request.EnrolmentCode, Secrets.MaxTextLength);
        var keys = IdentityWire.Keys(v, "keys", request.Keys);
        var label = v.Text("label", request.Label, 100, required: false);
        v.ThrowIfAny();
        try
        {
            keys.ToCrypto().Verify();
        }
        catch (GlobeCryptoException)
        {
            throw new ValidationException("keys.box_key_signature", "does not verify: the device's signing key must sign its box key (globe/v1/box-key)");
        }

        var hash = Secrets.Hash(code);
        var userId = await read.UserOfCodeAsync(hash, context.CancellationToken);
        if (userId is null)
        {
            await access.DenyUnauthenticatedAsync(context, "enrolment code wrong, used or expired");
            throw new UnauthenticatedException(UserDecider.BadCode);
        }

        if (await read.DeviceAsync(keys.DeviceId, context.CancellationToken) is not null)
        {
            throw new AlreadyExistsException("device", keys.DeviceId.ToString());
        }

        UserState state;
        try
        {
            state = await users.DecideAsync(new EnrolDevice(userId.Value, hash, keys, label, clock.GetUtcNow()), context, keys.DeviceId.ToString());
        }
        catch (UnauthenticatedException)
        {
            await access.DenyUnauthenticatedAsync(context, "enrolment code wrong, used or expired");
            throw;
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UniqueViolation)
        {
            // Another user's device enrolled with the same id at the same moment (the projection's key refused it).
            throw new AlreadyExistsException("device", keys.DeviceId.ToString());
        }

        return IdentityWire.ToProto(state.UserId, state.AuthorityId, state.Role, state.Devices[keys.DeviceId]);
    }

    /// <summary>Authority administrators (own authority) and network administrators (any).</summary>
    public override async Task<ListDevicesResponse> ListDevices(ListDevicesRequest request, ServerCallContext context)
    {
        var caller = await access.RequireRoleAsync(context, request.AuthorityId.Length > 0 ? request.AuthorityId : request.UserId,
            Role.AuthorityAdministrator, Role.NetworkAdministrator);
        var v = new Violations();
        Guid? authorityId = request.AuthorityId.Length > 0 ? v.Id("authority_id", request.AuthorityId) : null;
        Guid? userId = request.UserId.Length > 0 ? v.Id("user_id", request.UserId) : null;
        if ((authorityId is null) == (userId is null))
        {
            v.Add("authority_id", "give exactly one of authority_id and user_id");
        }

        v.ThrowIfAny();
        var devices = await read.DevicesAsync(authorityId, userId, request.PendingOnly, false, context.CancellationToken);
        var scope = authorityId ?? devices.FirstOrDefault()?.AuthorityId;
        if (scope is { } s)
        {
            await RequireAdministratorOfAsync(context, caller, s);
        }
        else if (caller.Role != Role.NetworkAdministrator && userId is { } u && (await users.LoadAsync(u, context.CancellationToken)).AuthorityId != caller.AuthorityId)
        {
            throw new NotFoundException("user", request.UserId);
        }

        var response = new ListDevicesResponse();
        response.Devices.AddRange(devices.Select(d => IdentityWire.ToProto(d.UserId, d.AuthorityId, d.Role, d.ToState())));
        await access.RecordReadAsync(context, request.AuthorityId.Length > 0 ? request.AuthorityId : request.UserId);
        return response;
    }

    /// <summary>
    /// The administrator whose role may certify the device's role (an authority administrator only
    /// in their own authority), issuing from their own device; for a network administrator's
    /// device, a network administrator presenting a certificate issued by the root key. The
    /// certificate must match the enrolled device, and its chain must verify to the network root.
    /// </summary>
    public override async Task<Device> CertifyDevice(CertifyDeviceRequest request, ServerCallContext context)
    {
        var caller = await access.RequireRoleAsync(context, request.Certificate?.DeviceId, Role.AuthorityAdministrator, Role.NetworkAdministrator);
        var v = new Violations();
        var certificate = IdentityWire.Certificate(v, "certificate", request.Certificate);
        v.ThrowIfAny();
        var device = await read.DeviceAsync(certificate.DeviceId, context.CancellationToken) ?? throw new NotFoundException("device", certificate.DeviceId.ToString());
        var network = await read.NetworkAsync(context.CancellationToken) ?? throw new WrongStateException("The network is not bootstrapped.");
        var root = new SigningPublicKey(network.RootKey);
        var now = clock.GetUtcNow();

        var crypto = certificate.ToCrypto();
        if (!crypto.HasValidSignature())
        {
            await access.DenyAsync(context, caller, device.DeviceId.ToString(), "the certificate's signature does not verify with its issuer key");
        }

        List<DeviceCertificate> chain = [crypto];
        if (certificate.IssuerDeviceId is null)
        {
            // Root-issued: only for network administrators, presented by a network administrator.
            if (caller.Role != Role.NetworkAdministrator || !crypto.IssuerSigningKey.Equals(root) || certificate.Role != Role.NetworkAdministrator)
            {
                await access.DenyAsync(context, caller, device.DeviceId.ToString(),
                    "a root-issued certificate is accepted only for a network administrator, from a network administrator, signed by the network root key");
            }
        }
        else
        {
            var issuer = await read.DeviceAsync(caller.DeviceId, context.CancellationToken);
            if (certificate.IssuerDeviceId != caller.DeviceId || issuer?.Certificate is null
                || !certificate.IssuerSigningKey.AsSpan().SequenceEqual(issuer.Certificate.SigningKey))
            {
                await access.DenyAsync(context, caller, device.DeviceId.ToString(), "the certificate must be issued by your own device with its certified key");
            }

            if (!DeviceRoles.MayIssue((DeviceRole)(int)caller.Role, (DeviceRole)(int)device.Role)
                || (caller.Role == Role.AuthorityAdministrator && caller.AuthorityId != device.AuthorityId))
            {
                await access.DenyAsync(context, caller, device.DeviceId.ToString(), $"a {caller.Role} may not certify a {device.Role} of this authority");
            }

            var issuerChain = await read.ChainAsync(caller.DeviceId, context.CancellationToken);
            if (issuerChain is null)
            {
                await access.DenyAsync(context, caller, device.DeviceId.ToString(), "your own device's certificate chain is not valid");
            }

            chain.AddRange(issuerChain!.Select(c => c.ToCrypto()));
        }

        try
        {
            Crypto.CertificateChain.Verify(chain, new TrustAnchors([root]), now);
        }
        catch (GlobeCryptoException e)
        {
            await access.DenyAsync(context, caller, device.DeviceId.ToString(), $"the certificate chain does not verify to the network root ({e.GetType().Name})");
        }

        var state = await users.DecideAsync(new CertifyDevice(device.UserId, device.DeviceId, certificate, caller.UserId, now), context, device.DeviceId.ToString());
        return IdentityWire.ToProto(state.UserId, state.AuthorityId, state.Role, state.Devices[device.DeviceId]);
    }

    /// <summary>
    /// An authorised issuer of the device (its certificate's issuer, an ancestor, or a network
    /// administrator with the root key), or the device's own user signing with another of their
    /// certified devices. The revocation is signed by the caller's device; sessions end at once.
    /// </summary>
    public override async Task<Device> RevokeDevice(RevokeDeviceRequest request, ServerCallContext context)
    {
        var caller = await access.RequireAuthenticatedAsync(context, request.Revocation?.DeviceId);
        var v = new Violations();
        var revocation = IdentityWire.Revocation(v, "revocation", request.Revocation);
        v.ThrowIfAny();
        var device = await read.DeviceAsync(revocation.DeviceId, context.CancellationToken) ?? throw new NotFoundException("device", revocation.DeviceId.ToString());
        await RequireAuthorisedRevocationAsync(context, caller, revocation, "revocation", callerAdministersTheUser: false);
        var state = await users.DecideAsync(new RevokeDevice(device.UserId, device.DeviceId, revocation, caller.UserId, clock.GetUtcNow()), context,
            device.DeviceId.ToString());
        return IdentityWire.ToProto(state.UserId, state.AuthorityId, state.Role, state.Devices[device.DeviceId]);
    }

    /// <summary>A network administrator, or an authority administrator of <paramref name="authorityId"/>; otherwise PERMISSION_DENIED (audited).</summary>
    private async Task RequireAdministratorOfAsync(ServerCallContext context, Caller caller, Guid authorityId)
    {
        if (caller.Role != Role.NetworkAdministrator && caller.AuthorityId != authorityId)
        {
            await access.DenyAsync(context, caller, authorityId.ToString(), "authority administrators manage their own authority only");
        }
    }

    /// <summary>
    /// A revocation counts when its signature verifies and it is signed by the caller's own
    /// certified device (or the root key, for a network administrator), and that signer is above
    /// the revoked certificate in its chain, or may certify its role, or is another device of the
    /// same user. RevokeUser (<paramref name="callerAdministersTheUser"/>) has already checked that
    /// the caller administers the user's authority, so only the signer is checked.
    /// </summary>
    private async Task RequireAuthorisedRevocationAsync(ServerCallContext context, Caller caller, RevocationData revocation, string field, bool callerAdministersTheUser)
    {
        var target = revocation.DeviceId.ToString();
        var crypto = revocation.ToCrypto();
        if (!crypto.HasValidSignature())
        {
            throw new ValidationException($"{field}.signature", "does not verify with the issuer key");
        }

        var revokedChain = await read.ChainAsync(revocation.DeviceId, context.CancellationToken);
        if (revocation.IssuerDeviceId is null)
        {
            var network = await read.NetworkAsync(context.CancellationToken);
            if (caller.Role != Role.NetworkAdministrator || network is null || !revocation.IssuerSigningKey.AsSpan().SequenceEqual(network.RootKey))
            {
                await access.DenyAsync(context, caller, target, "a root-signed revocation must be signed by the network root key and presented by a network administrator");
            }

            return;
        }

        var signer = await read.DeviceAsync(revocation.IssuerDeviceId.Value, context.CancellationToken);
        if (revocation.IssuerDeviceId != caller.DeviceId || signer is not { Status: DeviceStatus.Certified, Certificate: { } signerCertificate }
            || !signerCertificate.SigningKey.AsSpan().SequenceEqual(revocation.IssuerSigningKey))
        {
            await access.DenyAsync(context, caller, target, "a revocation must be signed by your own certified device");
            return;
        }

        // Who may revoke: the certificate's issuer or one above it; an administrator who may
        // certify the device's role (an authority administrator only in its own authority); or, for
        // a lost device, its own user signing with another of their devices.
        var revoked = await read.DeviceAsync(revocation.DeviceId, context.CancellationToken);
        var above = revokedChain is not null && revokedChain.Skip(1).Any(c => c.DeviceId == signer.DeviceId);
        var mayCertify = revoked is not null && DeviceRoles.MayIssue((DeviceRole)(int)caller.Role, (DeviceRole)(int)revoked.Role)
            && (caller.Role != Role.AuthorityAdministrator || caller.AuthorityId == revoked.AuthorityId);
        var sameUser = revoked is not null && revoked.UserId == caller.UserId && signer.DeviceId != revoked.DeviceId;
        if (!callerAdministersTheUser && !above && !mayCertify && !sameUser)
        {
            await access.DenyAsync(context, caller, target, "only the device's issuer (or one above it) or another device of the same user may revoke it");
        }
    }
}
