using GlobeSecure.Contracts.V1;
using GlobeSecure.Crypto;
using GlobeSecure.EventStore;
using GlobeSecure.Server.Identity;
using GlobeSecure.Server.Infrastructure;
using Grpc.Core;

namespace GlobeSecure.Server.FocalPoints;

/// <summary>
/// Thin gRPC surface of the directory of competent authorities and focal points: authorise →
/// validate → decide → append with the audit entry → map back. Member authorities come from
/// Membership through <see cref="IAuthorities"/>; contact entries and requirements are ours.
/// </summary>
internal sealed class FocalPointService(PostgresEventStore store, Access access, TimeProvider clock, FocalPointReadModel read, IAuthorities authorities)
    : Contracts.V1.FocalPointService.FocalPointServiceBase
{
    public override async Task<ListFocalPointsResponse> ListFocalPoints(ListFocalPointsRequest request, ServerCallContext context)
    {
        await access.RequireAuthenticatedAsync(context, request.Country.Length > 0 ? request.Country : null);
        var v = new Violations();
        FocalPointWire.Country(v, "country", request.Country, required: false);
        FocalPointWire.Kind(v, "kind", request.Kind, required: false);
        v.ThrowIfAny();

        var country = request.Country.Length > 0 ? request.Country : null;
        var members = request.Kind == FocalPointKind.Unspecified
            ? (await authorities.ListMembersAsync(country, context.CancellationToken)).Where(m => m.Authority.Status == AuthorityStatus.Active).ToList()
            : [];
        var requirements = await read.RequirementsAsync([.. members.Select(m => m.Authority.AuthorityId)], context.CancellationToken);
        var contacts = await read.ContactsAsync(country, request.Kind, context.CancellationToken);

        var response = new ListFocalPointsResponse();
        foreach (var code in members.Select(m => m.Authority.Country).Concat(contacts.Select(c => c.Details.Country)).Distinct().Order(StringComparer.Ordinal))
        {
            var entry = new CountryFocalPoints { Country = code };
            entry.Authorities.Add(members.Where(m => m.Authority.Country == code)
                .Select(m => FocalPointWire.ToProto(m, requirements.GetValueOrDefault(m.Authority.AuthorityId))));
            entry.Contacts.Add(contacts.Where(c => c.Details.Country == code).Select(FocalPointWire.ToProto));
            response.Countries.Add(entry);
        }

        await access.RecordReadAsync(context, country);
        return response;
    }

    public override async Task<ContactEntry> GetContact(GetContactRequest request, ServerCallContext context)
    {
        await access.RequireAuthenticatedAsync(context, request.ContactId);
        var contactId = Violations.RequiredId("contact_id", request.ContactId);
        var (state, _) = await store.AggregateStreamAsync(ContactDecider.StreamId(contactId), ContactState.Initial, ContactDecider.Evolve, context.CancellationToken);
        if (!state.Exists)
        {
            throw new NotFoundException("contact entry", contactId.ToString());
        }

        await access.RecordReadAsync(context, contactId.ToString());
        return FocalPointWire.ToProto(contactId, state.Details!, state.UpdatedAt, state.UpdatedBy);
    }

    public override async Task<ContactEntry> AddContact(AddContactRequest request, ServerCallContext context)
    {
        var caller = await access.RequireRoleAsync(context, request.Contact?.ContactId, Role.NetworkAdministrator);
        var (contactId, details) = await ContactAsync(request.Contact, context);
        var (state, _) = await DecideContactAsync(new AddContact(contactId, details, caller.UserId, Now()), context);
        return FocalPointWire.ToProto(contactId, state.Details!, state.UpdatedAt, state.UpdatedBy);
    }

    public override async Task<ContactEntry> UpdateContact(UpdateContactRequest request, ServerCallContext context)
    {
        var caller = await access.RequireRoleAsync(context, request.Contact?.ContactId, Role.NetworkAdministrator);
        var (contactId, details) = await ContactAsync(request.Contact, context);
        var (state, _) = await DecideContactAsync(new UpdateContact(contactId, details, caller.UserId, Now()), context);
        return FocalPointWire.ToProto(contactId, state.Details!, state.UpdatedAt, state.UpdatedBy);
    }

    public override async Task<RemoveContactResponse> RemoveContact(RemoveContactRequest request, ServerCallContext context)
    {
        var caller = await access.RequireRoleAsync(context, request.ContactId, Role.NetworkAdministrator);
        var contactId = Violations.RequiredId("contact_id", request.ContactId);
        await DecideContactAsync(new RemoveContact(contactId, caller.UserId, Now()), context);
        return new RemoveContactResponse();
    }

    public override async Task<MemberAuthorityEntry> SetAuthorityRequirements(SetAuthorityRequirementsRequest request, ServerCallContext context)
    {
        var caller = await access.RequireRoleAsync(context, request.AuthorityId, Role.NetworkAdministrator, Role.AuthorityAdministrator);
        var v = new Violations();
        var authorityId = v.Id("authority_id", request.AuthorityId);
        var requirements = FocalPointWire.RequirementsOf(v, "requirements", request.Requirements);
        v.ThrowIfAny();
        if (caller.Role == Role.AuthorityAdministrator && caller.AuthorityId != authorityId)
        {
            await access.DenyAsync(context, caller, authorityId.ToString(), "an authority administrator publishes only its own authority's requirements");
        }

        var authority = await authorities.FindAsync(authorityId, context.CancellationToken) ?? throw new NotFoundException("authority", authorityId.ToString());
        if (!IsMember(authority))
        {
            throw new WrongStateException(
                $"Requirements are published only for member authorities (active or suspended, not observers or the secretariat); {authorityId} is not one.");
        }

        var (state, _) = await store.DecideAsync(RequirementsDecider.StreamId(authorityId), RequirementsState.Initial, RequirementsDecider.Evolve,
            s => RequirementsDecider.Decide(new PublishRequirements(authorityId, requirements, caller.UserId, Now()), s),
            access.Allowed(context, authorityId.ToString()), cancellationToken: context.CancellationToken);
        var member = (await authorities.ListMembersAsync(authority.Country, context.CancellationToken)).First(m => m.Authority.AuthorityId == authorityId);
        var published = state.Current!;
        return FocalPointWire.ToProto(member, new RequirementsRow(authorityId, published.Requirements, published.PublishedAt, published.ByUserId));
    }

    // PostgreSQL keeps microseconds: the time answered from the stream equals the one the directory reads back.
    private DateTimeOffset Now() => CanonicalWriter.TruncateToMicroseconds(clock.GetUtcNow());

    private static bool IsMember(AuthorityView authority) =>
        authority.Status is AuthorityStatus.Active or AuthorityStatus.Suspended
        && authority.Kind is not (AuthorityKind.ObserverOrganisation or AuthorityKind.NetworkSecretariat);

    /// <summary>The entry from the wire, every problem at once; a linked authority must be a member authority of the entry's country.</summary>
    private async Task<(Guid ContactId, ContactDetails Details)> ContactAsync(ContactEntry? entry, ServerCallContext context)
    {
        var v = new Violations();
        var (contactId, details) = FocalPointWire.Contact(v, "contact", entry);
        if (details.AuthorityId is { } linked && linked != Guid.Empty)
        {
            var authority = await authorities.FindAsync(linked, context.CancellationToken);
            if (authority is null || !IsMember(authority))
            {
                v.Add("contact.authority_id", "must be a member authority (active or suspended), or empty");
            }
            else if (details.Country.Length > 0 && authority.Country != details.Country)
            {
                v.Add("contact.authority_id", $"the authority is in {authority.Country}, not in {details.Country}: link an authority of the entry's country");
            }
        }

        v.ThrowIfAny();
        return (contactId, details);
    }

    private Task<(ContactState State, AppendResult Append)> DecideContactAsync(ContactCommand command, ServerCallContext context) =>
        store.DecideAsync(ContactDecider.StreamId(command.ContactId), ContactState.Initial, ContactDecider.Evolve,
            s => ContactDecider.Decide(command, s), access.Allowed(context, command.ContactId.ToString()), cancellationToken: context.CancellationToken);
}
