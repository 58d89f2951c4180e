using GlobeSecure.Server.Infrastructure;
using GlobeSecure.Server.Templates;

namespace GlobeSecure.Server.Tests.Templates;

/// <summary>Given(events).When(command).Then(events or error) for template versions: no database.</summary>
public sealed class TemplateDeciderTests
{
    private static readonly DateTimeOffset At = new(2026, 11, 24, 12, 0, 0, TimeSpan.Zero);
    private readonly Guid _admin = Guid.CreateVersion7();

    private static TemplateState Given(params object[] events) => events.Aggregate(TemplateState.Initial, TemplateDecider.Evolve);

    private static TemplateDefinition Definition(long version, string name = "Request") =>
        new("rfi", version, name, "", [new SectionDefinition("parties", "Parties", "", [new FieldDefinition("case_reference", "Case reference", "Text", false, true, "", "", [], 0)])]);

    private TemplateVersionPublished Published(long version, string name = "Request") => new("rfi", version, Definition(version, name), _admin, At);

    private PublishTemplateVersion Publish(long version, string name = "Request") => new(Definition(version, name), _admin, At);

    [Fact]
    public void Publish_FirstVersionOfNewTemplate_RecordsVersionPublished()
    {
        var e = Assert.IsType<TemplateVersionPublished>(Assert.Single(TemplateDecider.Decide(Publish(1), Given())));

        Assert.Equal(("rfi", 1L, _admin, At), (e.TemplateId, e.Version, e.PublishedByUserId!.Value, e.PublishedAt));
    }

    [Fact]
    public void Publish_NextVersion_RecordsIt() =>
        Assert.Equal(2, Assert.IsType<TemplateVersionPublished>(Assert.Single(TemplateDecider.Decide(Publish(2, "Changed"), Given(Published(1))))).Version);

    [Fact]
    public void Publish_PublishedVersionWithSameContent_RecordsNothing() =>
        Assert.Empty(TemplateDecider.Decide(Publish(1), Given(Published(1), Published(2))));

    [Fact]
    public void Publish_PublishedVersionWithOtherContent_IsAlreadyExists() =>
        Assert.Throws<AlreadyExistsException>(() => TemplateDecider.Decide(Publish(1, "Changed"), Given(Published(1))));

    [Theory]
    [InlineData(3)]
    [InlineData(7)]
    public void Publish_VersionAfterAGap_IsWrongState(long version) =>
        Assert.Throws<WrongStateException>(() => TemplateDecider.Decide(Publish(version), Given(Published(1))));

    [Fact]
    public void Publish_SecondVersionOfNewTemplate_IsWrongState() =>
        Assert.Throws<WrongStateException>(() => TemplateDecider.Decide(Publish(2), Given()));

    [Fact]
    public void Seed_EmbeddedTemplates_AreValidAndIncludeTheRequestForInformation()
    {
        var rfi = Assert.Single(TemplateSeed.Definitions(), d => d.TemplateId == "request-for-information");

        Assert.Equal(1, rfi.Version);
    }
}
