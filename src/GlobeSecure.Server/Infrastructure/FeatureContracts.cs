using GlobeSecure.Contracts.V1;
using Grpc.Core;

namespace GlobeSecure.Server.Infrastructure;

// What features need from each other, and nothing more: Membership owns authorities, Identity
// owns users, devices, codes and sessions. Each side implements its interface and registers it
// in its AddX(); the other side depends only on the interface.

/// <summary>An authority as other features need to see it; <paramref name="Country"/> is its State (ISO 3166-1 alpha-2).</summary>
internal sealed record AuthorityView(Guid AuthorityId, string Name, AuthorityKind Kind, AuthorityStatus Status, string Country = "");

/// <summary>A member authority with the focal point it named when it applied (not secret: any authenticated user reads it).</summary>
internal sealed record MemberAuthorityView(AuthorityView Authority, string FocalName, string FocalEmail, string FocalPhone);

/// <summary>Implemented by Membership.</summary>
internal interface IAuthorities
{
    /// <summary>The authority, or null when it does not exist.</summary>
    Task<AuthorityView?> FindAsync(Guid authorityId, CancellationToken cancellationToken);

    /// <summary>
    /// The member authorities (active or suspended; not observers, not the secretariat),
    /// optionally of one country, ordered by country, then name.
    /// </summary>
    Task<IReadOnlyList<MemberAuthorityView>> ListMembersAsync(string? country, CancellationToken cancellationToken);

    /// <summary>Those of the authorities that exist, in one read, by id.</summary>
    Task<IReadOnlyDictionary<Guid, AuthorityView>> FindManyAsync(IReadOnlyCollection<Guid> authorityIds, CancellationToken cancellationToken);

    /// <summary>Creates the network secretariat (active, kind NETWORK_SECRETARIAT) at bootstrap; idempotent by id.</summary>
    Task RegisterSecretariatAsync(ServerCallContext call, Guid authorityId, string name, CancellationToken cancellationToken);
}

/// <summary>Implemented by Identity.</summary>
internal interface IEnrolmentCodes
{
    /// <summary>
    /// Creates (or re-invites) an authority-administrator user of an active authority and issues
    /// a one-time enrolment code for it; the code is returned once and stored only hashed.
    /// </summary>
    Task<EnrolmentCode> IssueAdministratorCodeAsync(ServerCallContext call, Guid authorityId, Guid userId, string displayName,
        CancellationToken cancellationToken);
}

/// <summary>A user as other features need to see it.</summary>
internal sealed record DirectoryUser(Guid UserId, Guid AuthorityId, Role Role, UserStatus Status);

/// <summary>Implemented by Identity: users, their certified devices and verified certificate chains.</summary>
internal interface IDeviceDirectory
{
    /// <summary>The user, or null when it does not exist.</summary>
    Task<DirectoryUser?> FindUserAsync(Guid userId, CancellationToken cancellationToken);

    /// <summary>Every user of the authority, ordered by id.</summary>
    Task<IReadOnlyList<DirectoryUser>> UsersOfAuthorityAsync(Guid authorityId, CancellationToken cancellationToken);

    /// <summary>The ids of the user's certified devices whose certificate chains verify now (none of their issuers revoked or expired).</summary>
    Task<IReadOnlyList<Guid>> CertifiedDevicesAsync(Guid userId, CancellationToken cancellationToken);

    /// <summary>The same for several users at once (every user is a key; an empty list when none).</summary>
    Task<IReadOnlyDictionary<Guid, IReadOnlyList<Guid>>> CertifiedDevicesAsync(IEnumerable<Guid> userIds, CancellationToken cancellationToken);

    /// <summary>
    /// The device's certificate chain verified to the network root at the current time; null
    /// when the device (or an issuer) is not certified, is revoked, or its chain does not verify.
    /// </summary>
    Task<Crypto.VerifiedDevice?> VerifiedDeviceAsync(Guid deviceId, CancellationToken cancellationToken);

    /// <summary>
    /// The device's verified chain as this process verified it before, without a read when it
    /// can, with the conditions under which that still holds: the versions of the identity
    /// streams that hold the state of every device of the chain. An append carrying them commits
    /// only if none of those devices changed since (a revocation fails it). Null when the chain
    /// does not verify now. <paramref name="fresh"/> forgets what was known and reads again.
    /// </summary>
    Task<ConditionalDevice?> KnownVerifiedDeviceAsync(Guid deviceId, bool fresh, CancellationToken cancellationToken);

    /// <summary>The network's id (its secretariat's authority id), or null before the network is bootstrapped.</summary>
    Task<Guid?> NetworkAuthorityIdAsync(CancellationToken cancellationToken);
}

/// <summary>Implemented by Audit: the server's own public keys, for DirectoryService.GetServerKeys.</summary>
internal interface IServerKeys
{
    /// <summary>The current checkpoint key and every earlier one, oldest first.</summary>
    Task<IReadOnlyList<ServerKey>> ListKeysAsync(CancellationToken cancellationToken);
}

/// <summary>A verified device, valid while <paramref name="Conditions"/> hold.</summary>
internal sealed record ConditionalDevice(Crypto.VerifiedDevice Device, IReadOnlyList<EventStore.StreamCondition> Conditions);

/// <summary>Implemented by Channels: the one rule of who may read a channel's messages (GetMessage, History), for other features to reuse.</summary>
internal interface IChannelAccess
{
    /// <summary>
    /// Passes when the caller is a current member of the channel; otherwise NOT_FOUND (no such
    /// channel) or PERMISSION_DENIED, audited with the caller's user and device and
    /// <paramref name="target"/> (default: the channel id).
    /// </summary>
    Task RequireMemberAsync(ServerCallContext call, Caller caller, Guid channelId, string? target = null);

    /// <summary>Whether the channel exists and has a current member of <paramref name="authorityId"/> (a request's thread must reach the requested authority).</summary>
    Task<bool> HasMemberOfAuthorityAsync(Guid channelId, Guid authorityId, CancellationToken cancellationToken);
}

/// <summary>A document as a message that names it needs to see it; <paramref name="StreamId"/> at <paramref name="Version"/> is what the check rests on.</summary>
internal sealed record AttachableDocument(Guid DocumentId, Guid ChannelId, Guid UploaderUserId, bool Sealed, string StreamId, long Version);

/// <summary>Implemented by Documents: what SendMessage checks about the documents a message's header names.</summary>
internal interface IDocumentCatalog
{
    /// <summary>The documents that exist among <paramref name="documentIds"/>, as stored now (unknown ids are left out).</summary>
    Task<IReadOnlyList<AttachableDocument>> FindAsync(IReadOnlyList<Guid> documentIds, CancellationToken cancellationToken);
}
