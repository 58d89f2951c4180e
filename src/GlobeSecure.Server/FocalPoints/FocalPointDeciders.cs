using GlobeSecure.Server.Infrastructure;

namespace GlobeSecure.Server.FocalPoints;

internal abstract record ContactCommand(Guid ContactId, Guid ByUserId, DateTimeOffset At);

internal sealed record AddContact(Guid ContactId, ContactDetails Details, Guid ByUserId, DateTimeOffset At) : ContactCommand(ContactId, ByUserId, At);

internal sealed record UpdateContact(Guid ContactId, ContactDetails Details, Guid ByUserId, DateTimeOffset At) : ContactCommand(ContactId, ByUserId, At);

internal sealed record RemoveContact(Guid ContactId, Guid ByUserId, DateTimeOffset At) : ContactCommand(ContactId, ByUserId, At);

/// <summary>A contact entry as its stream tells it; <see cref="Details"/> is null before it was added.</summary>
internal sealed record ContactState(Guid ContactId, ContactDetails? Details, bool Removed, Guid UpdatedBy, DateTimeOffset UpdatedAt)
{
    public static readonly ContactState Initial = new(Guid.Empty, null, false, Guid.Empty, default);

    public bool Exists => Details is not null && !Removed;
}

/// <summary>
/// Contact entries: added under a client-chosen id (the same entry again is a safe retry),
/// replaced as a whole, removed for good (the id is never reused).
/// </summary>
internal static class ContactDecider
{
    public static string StreamId(Guid contactId) => $"focal-point-contact-{contactId}";

    public static IReadOnlyList<object> Decide(ContactCommand command, ContactState state) => command switch
    {
        AddContact c when state.Details is null => [new ContactAdded(c.ContactId, c.Details, c.ByUserId, c.At)],
        AddContact c when !state.Removed && state.Details.SameAs(c.Details) => [],
        AddContact c => throw new AlreadyExistsException("contact entry",
            state.Removed ? $"{c.ContactId} (it was removed; ids are not reused: choose a new one)" : $"{c.ContactId} (with other content: use UpdateContact)"),
        UpdateContact or RemoveContact when state.Details is null => throw new NotFoundException("contact entry", command.ContactId.ToString()),
        RemoveContact when state.Removed => [],
        RemoveContact c => [new ContactRemoved(c.ContactId, c.ByUserId, c.At)],
        UpdateContact c when state.Removed => throw new NotFoundException("contact entry", c.ContactId.ToString()),
        UpdateContact c when state.Details.SameAs(c.Details) => [],
        UpdateContact c => [new ContactUpdated(c.ContactId, c.Details, c.ByUserId, c.At)],
        _ => throw new InvalidOperationException($"Unknown command {command.GetType().Name}."),
    };

    public static ContactState Evolve(ContactState state, object e) => e switch
    {
        ContactAdded a => new ContactState(a.ContactId, a.Details, false, a.ByUserId, a.AddedAt),
        ContactUpdated u => state with { Details = u.Details, UpdatedBy = u.ByUserId, UpdatedAt = u.UpdatedAt },
        ContactRemoved r => state with { Removed = true, UpdatedBy = r.ByUserId, UpdatedAt = r.RemovedAt },
        _ => state,
    };
}

/// <summary>Publishes a member authority's practical requirements (the caller's right to do so is checked before).</summary>
internal sealed record PublishRequirements(Guid AuthorityId, Requirements Requirements, Guid ByUserId, DateTimeOffset At);

/// <summary>The requirements a member authority published last; null when it never did.</summary>
internal sealed record RequirementsState(AuthorityRequirementsPublished? Current)
{
    public static readonly RequirementsState Initial = new((AuthorityRequirementsPublished?)null);
}

/// <summary>Each publication replaces the one before; publishing the same requirements again records nothing.</summary>
internal static class RequirementsDecider
{
    public static string StreamId(Guid authorityId) => $"authority-requirements-{authorityId}";

    public static IReadOnlyList<object> Decide(PublishRequirements command, RequirementsState state) =>
        state.Current is { } current && current.Requirements.SameAs(command.Requirements)
            ? []
            : [new AuthorityRequirementsPublished(command.AuthorityId, command.Requirements, command.ByUserId, command.At)];

    public static RequirementsState Evolve(RequirementsState state, object e) => e switch
    {
        AuthorityRequirementsPublished p => new RequirementsState(p),
        _ => state,
    };
}
