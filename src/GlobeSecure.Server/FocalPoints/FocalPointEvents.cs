using GlobeSecure.Contracts.V1;

namespace GlobeSecure.Server.FocalPoints;

/// <summary>
/// What a sender must know before sending (focal_points.proto <c>PracticalRequirements</c>):
/// ISO 639-1 languages, whether electronic requests are accepted, and notes.
/// </summary>
internal sealed record Requirements(IReadOnlyList<string> Languages, ElectronicRequests ElectronicRequests, string Notes)
{
    public static readonly Requirements None = new([], ElectronicRequests.Unspecified, "");

    /// <summary>Records compare lists by reference; this compares their content.</summary>
    public bool SameAs(Requirements other) =>
        Languages.SequenceEqual(other.Languages, StringComparer.Ordinal) && ElectronicRequests == other.ElectronicRequests
        && string.Equals(Notes, other.Notes, StringComparison.Ordinal);
}

/// <summary>A contact entry's content: everything but its id and who changed it when.</summary>
internal sealed record ContactDetails(FocalPointKind Kind, string Country, string Name, string Organisation, Guid? AuthorityId, string Email, string Phone,
    Requirements Requirements)
{
    public bool SameAs(ContactDetails other) =>
        this with { Requirements = Requirements.None } == other with { Requirements = Requirements.None } && Requirements.SameAs(other.Requirements);
}

/// <summary>A network administrator added a contact entry (stream <see cref="ContactDecider.StreamId"/>).</summary>
internal sealed record ContactAdded(Guid ContactId, ContactDetails Details, Guid ByUserId, DateTimeOffset AddedAt);

/// <summary>A network administrator replaced a contact entry's content.</summary>
internal sealed record ContactUpdated(Guid ContactId, ContactDetails Details, Guid ByUserId, DateTimeOffset UpdatedAt);

/// <summary>A network administrator removed a contact entry; its id is never used again.</summary>
internal sealed record ContactRemoved(Guid ContactId, Guid ByUserId, DateTimeOffset RemovedAt);

/// <summary>
/// A member authority's practical requirements were published (by one of its administrators or a
/// network administrator), replacing earlier ones. Stream <see cref="RequirementsDecider.StreamId"/>.
/// </summary>
internal sealed record AuthorityRequirementsPublished(Guid AuthorityId, Requirements Requirements, Guid ByUserId, DateTimeOffset PublishedAt);
