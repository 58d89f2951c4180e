using GlobeSecure.Contracts.V1;

namespace GlobeSecure.Server.Membership;

internal sealed record AuthorityApplied(Guid AuthorityId, string Name, string Country, AuthorityKind Kind, string LegalBasis,
    string FocalPointName, string FocalPointEmail, string? FocalPointPhone, DateTimeOffset AppliedAt);

internal sealed record SecretariatRegistered(Guid AuthorityId, string Name, DateTimeOffset RegisteredAt);

internal sealed record AuthorityApprovalGiven(Guid AuthorityId, Guid AdministratorUserId, DateTimeOffset ApprovedAt);

internal sealed record AuthorityApproved(Guid AuthorityId, DateTimeOffset ApprovedAt);

internal sealed record AuthorityRejected(Guid AuthorityId, Guid AdministratorUserId, string Reason, DateTimeOffset RejectedAt);

internal sealed record AuthoritySuspended(Guid AuthorityId, Guid AdministratorUserId, string Reason, DateTimeOffset SuspendedAt);

internal sealed record AuthorityReinstated(Guid AuthorityId, Guid AdministratorUserId, DateTimeOffset ReinstatedAt);

internal sealed record AuthorityWithdrawn(Guid AuthorityId, Guid AdministratorUserId, string Reason, DateTimeOffset WithdrawnAt);

internal sealed record GroupCreated(Guid GroupId, string Name, Guid AdministratorUserId, DateTimeOffset CreatedAt);

internal sealed record AuthorityAddedToGroup(Guid GroupId, Guid AuthorityId, DateTimeOffset AddedAt);

internal sealed record AuthorityRemovedFromGroup(Guid GroupId, Guid AuthorityId, DateTimeOffset RemovedAt);
