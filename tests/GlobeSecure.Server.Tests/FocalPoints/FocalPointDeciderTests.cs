using GlobeSecure.Contracts.V1;
using GlobeSecure.Server.FocalPoints;
using GlobeSecure.Server.Infrastructure;

namespace GlobeSecure.Server.Tests.FocalPoints;

/// <summary>Given(events).When(command).Then(events or error) for contact entries and authority requirements: no database.</summary>
public sealed class FocalPointDeciderTests
{
    private static readonly DateTimeOffset At = new(2026, 11, 24, 12, 0, 0, TimeSpan.Zero);
    private readonly Guid _admin = Guid.CreateVersion7();
    private readonly Guid _contact = Guid.CreateVersion7();
    private readonly Guid _authority = Guid.CreateVersion7();

    private static ContactState Given(params object[] events) => events.Aggregate(ContactState.Initial, ContactDecider.Evolve);

    private static ContactDetails Details(string name = "International Cooperation Unit", params string[] languages) =>
        new(FocalPointKind.CentralAuthority, "KE", name, "Office of the Attorney General", null, "mla@example.org", "",
            new Requirements(languages.Length == 0 ? ["en", "sw"] : languages, ElectronicRequests.Accepted, "Originals by courier."));

    private ContactAdded Added(ContactDetails? details = null) => new(_contact, details ?? Details(), _admin, At);

    [Fact]
    public void Add_NewEntry_RecordsContactAdded()
    {
        var e = Assert.IsType<ContactAdded>(Assert.Single(ContactDecider.Decide(new AddContact(_contact, Details(), _admin, At), Given())));

        Assert.Equal((_contact, _admin, At, "International Cooperation Unit"), (e.ContactId, e.ByUserId, e.AddedAt, e.Details.Name));
    }

    [Fact]
    public void Add_SameEntryAgain_RecordsNothing() =>
        Assert.Empty(ContactDecider.Decide(new AddContact(_contact, Details(), _admin, At.AddMinutes(1)), Given(Added())));

    [Fact]
    public void Add_OtherContentUnderSameId_IsAlreadyExists() =>
        Assert.Throws<AlreadyExistsException>(() => ContactDecider.Decide(new AddContact(_contact, Details("Other"), _admin, At), Given(Added())));

    [Fact]
    public void Add_IdOfRemovedEntry_IsAlreadyExists() =>
        Assert.Throws<AlreadyExistsException>(() =>
            ContactDecider.Decide(new AddContact(_contact, Details(), _admin, At), Given(Added(), new ContactRemoved(_contact, _admin, At))));

    [Fact]
    public void Update_ChangedLanguages_RecordsContactUpdatedAndEvolvesToIt()
    {
        var changed = Details("International Cooperation Unit", "en", "fr");

        var e = Assert.IsType<ContactUpdated>(Assert.Single(ContactDecider.Decide(new UpdateContact(_contact, changed, _admin, At.AddDays(1)), Given(Added()))));
        var state = ContactDecider.Evolve(Given(Added()), e);

        Assert.Equal(["en", "fr"], state.Details!.Requirements.Languages);
        Assert.Equal(At.AddDays(1), state.UpdatedAt);
    }

    [Fact]
    public void Update_SameContent_RecordsNothing() =>
        Assert.Empty(ContactDecider.Decide(new UpdateContact(_contact, Details(), _admin, At), Given(Added())));

    [Fact]
    public void Update_UnknownOrRemovedEntry_IsNotFound()
    {
        Assert.Throws<NotFoundException>(() => ContactDecider.Decide(new UpdateContact(_contact, Details(), _admin, At), Given()));
        Assert.Throws<NotFoundException>(() =>
            ContactDecider.Decide(new UpdateContact(_contact, Details(), _admin, At), Given(Added(), new ContactRemoved(_contact, _admin, At))));
    }

    [Fact]
    public void Remove_ExistingEntry_RecordsContactRemovedOnceThenNothing()
    {
        var e = Assert.IsType<ContactRemoved>(Assert.Single(ContactDecider.Decide(new RemoveContact(_contact, _admin, At), Given(Added()))));

        Assert.False(ContactDecider.Evolve(Given(Added()), e).Exists);
        Assert.Empty(ContactDecider.Decide(new RemoveContact(_contact, _admin, At), Given(Added(), e)));
    }

    [Fact]
    public void Remove_UnknownEntry_IsNotFound() =>
        Assert.Throws<NotFoundException>(() => ContactDecider.Decide(new RemoveContact(_contact, _admin, At), Given()));

    [Fact]
    public void PublishRequirements_FirstThenSameThenChanged_RecordsFirstAndChangedOnly()
    {
        var first = new Requirements(["pt"], ElectronicRequests.NotAccepted, "Paper only.");
        var published = Assert.IsType<AuthorityRequirementsPublished>(Assert.Single(
            RequirementsDecider.Decide(new PublishRequirements(_authority, first, _admin, At), RequirementsState.Initial)));
        var state = RequirementsDecider.Evolve(RequirementsState.Initial, published);

        var same = RequirementsDecider.Decide(new PublishRequirements(_authority, new Requirements(["pt"], ElectronicRequests.NotAccepted, "Paper only."), _admin, At), state);
        var changed = RequirementsDecider.Decide(new PublishRequirements(_authority, first with { ElectronicRequests = ElectronicRequests.Accepted }, _admin, At), state);

        Assert.Equal(_authority, published.AuthorityId);
        Assert.Empty(same);
        Assert.Equal(ElectronicRequests.Accepted, Assert.IsType<AuthorityRequirementsPublished>(Assert.Single(changed)).Requirements.ElectronicRequests);
    }
}
