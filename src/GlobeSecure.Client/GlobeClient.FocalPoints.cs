using GlobeSecure.Contracts.V1;

namespace GlobeSecure.Client;

/// <summary>
/// The directory of competent authorities and focal points per country (docs/requests.md): where
/// to send what. Not the key directory (<see cref="VerifyDirectoryAsync"/>).
/// </summary>
public sealed partial class GlobeClient
{
    /// <summary>
    /// Any authenticated user: per country (ISO 3166-1 alpha-2; null: every country), the active
    /// member authorities with their published requirements and the contact entries; with a
    /// <paramref name="kind"/>, only the contact entries of that kind.
    /// </summary>
    public async Task<IReadOnlyList<CountryFocalPoints>> ListFocalPointsAsync(string? country = null, FocalPointKind kind = FocalPointKind.Unspecified,
        CancellationToken cancellationToken = default) =>
        (await CallAsync(_focalPoints.ListFocalPointsAsync(new ListFocalPointsRequest { Country = country ?? "", Kind = kind },
            cancellationToken: cancellationToken))).Countries;

    /// <summary>Any authenticated user: one contact entry (NOT_FOUND when unknown or removed).</summary>
    public Task<ContactEntry> GetContactAsync(Guid contactId, CancellationToken cancellationToken = default) =>
        CallAsync(_focalPoints.GetContactAsync(new GetContactRequest { ContactId = contactId.ToString() }, cancellationToken: cancellationToken));

    /// <summary>
    /// Network administrators: adds a contact entry. Without a <c>contact_id</c> a new one is
    /// chosen here (a copy is sent; <paramref name="contact"/> is not changed); retrying with the
    /// returned id is safe. An invalid entry fails with every field violation.
    /// </summary>
    public Task<ContactEntry> AddContactAsync(ContactEntry contact, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(contact);
        var sent = contact.Clone();
        if (sent.ContactId.Length == 0)
        {
            sent.ContactId = Guid.CreateVersion7().ToString();
        }

        return CallAsync(_focalPoints.AddContactAsync(new AddContactRequest { Contact = sent }, cancellationToken: cancellationToken));
    }

    /// <summary>Network administrators: replaces every field of the entry <c>contact.ContactId</c> (start from <see cref="GetContactAsync"/> to change a few).</summary>
    public Task<ContactEntry> UpdateContactAsync(ContactEntry contact, CancellationToken cancellationToken = default) =>
        CallAsync(_focalPoints.UpdateContactAsync(new UpdateContactRequest { Contact = contact }, cancellationToken: cancellationToken));

    /// <summary>Network administrators: removes a contact entry (removing it again is a no-op).</summary>
    public async Task RemoveContactAsync(Guid contactId, CancellationToken cancellationToken = default) =>
        await CallAsync(_focalPoints.RemoveContactAsync(new RemoveContactRequest { ContactId = contactId.ToString() }, cancellationToken: cancellationToken));

    /// <summary>
    /// Authority administrators for their own authority, network administrators for any member
    /// authority: publishes its practical requirements, replacing the earlier ones.
    /// </summary>
    public Task<MemberAuthorityEntry> SetAuthorityRequirementsAsync(Guid authorityId, PracticalRequirements requirements,
        CancellationToken cancellationToken = default) =>
        CallAsync(_focalPoints.SetAuthorityRequirementsAsync(new SetAuthorityRequirementsRequest
        {
            AuthorityId = authorityId.ToString(),
            Requirements = requirements,
        }, cancellationToken: cancellationToken));
}
