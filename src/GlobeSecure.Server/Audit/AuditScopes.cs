using GlobeSecure.Contracts.V1;
using GlobeSecure.EventStore;
using GlobeSecure.Server.Infrastructure;

namespace GlobeSecure.Server.Audit;

/// <summary>
/// Which entries an auditor may see (docs/audit.md, "Auditors and scopes"; ADR 0011): a network
/// auditor (an auditor of the network secretariat) every entry; an authority auditor the entries
/// that belong to their authority — acted by its users, or aimed at something of its own.
/// </summary>
internal sealed class AuditScopes(IAuthorities authorities)
{
    /// <summary>
    /// What belongs to an authority, read from the features' projections in the same query as the
    /// filter (<see cref="AuditScope.TargetRule"/>): the authority itself; its users and devices
    /// (Identity); the requests it is a party to — the requested side once the request was sent,
    /// as only then may it see the request (Requests); the channels it is or was a member of, their
    /// messages, their documents and the consents to forward between them (Channels, Documents).
    /// Each branch is one index probe by the target's id.
    /// </summary>
    public const string OwnedTargetRule = """
        {target} = {authority}
        or exists (select 1 from {schema}.identity_users u where u.user_id = {target} and u.authority_id = {authority})
        or exists (select 1 from {schema}.identity_devices d where d.device_id = {target} and d.authority_id = {authority})
        or exists (select 1 from {schema}.requests r where r.request_id = {target}
            and (r.requesting_authority_id = {authority} or (r.requested_authority_id = {authority} and r.sent_at is not null)))
        or exists (select 1 from {schema}.channel_members m where m.channel_id = {target} and m.authority_id = {authority})
        or exists (select 1 from {schema}.documents doc join {schema}.channel_members m on m.channel_id = doc.channel_id
            where doc.document_id = {target} and m.authority_id = {authority})
        or exists (select 1 from {schema}.channel_messages cm join {schema}.channel_members m on m.channel_id = cm.channel_id
            where cm.message_id = {target} and m.authority_id = {authority})
        or exists (select 1 from {schema}.channel_consents c join {schema}.channel_members m on m.channel_id in (c.origin_channel_id, c.target_channel_id)
            where c.consent_id = {target} and m.authority_id = {authority})
        """;

    /// <summary>The entries that belong to <paramref name="authorityId"/>.</summary>
    public static AuditScope Of(Guid authorityId) => new(authorityId, OwnedTargetRule);

    /// <summary>The caller's scope: null for a network auditor (everything), otherwise their authority's.</summary>
    public async Task<AuditScope?> OfAuditorAsync(Caller caller, CancellationToken cancellationToken)
    {
        var authority = await authorities.FindAsync(caller.AuthorityId, cancellationToken);
        return authority?.Kind == AuthorityKind.NetworkSecretariat ? null : Of(caller.AuthorityId);
    }
}
