using System.Runtime.CompilerServices;
using GlobeSecure.Client.Templates;
using GlobeSecure.Contracts.V1;
using Grpc.Core;

namespace GlobeSecure.Client.Tests.Story;

/// <summary>Request templates through <see cref="GlobeClient"/> against the real server and PostgreSQL, and a draft checked against the fetched template.</summary>
public sealed class TemplateStoryTests(StoryServerFixture server) : IClassFixture<StoryServerFixture>
{
    private static readonly ConditionalWeakTable<StoryServerFixture, Task<CaseCast>> Casts = new();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private Task<CaseCast> CastAsync() => Casts.GetValue(server, CaseCast.CreateAsync);

    private static Template Sample() => new()
    {
        TemplateId = $"story-{Guid.CreateVersion7():N}"[..24],
        Version = 1,
        Name = "Asset tracing",
        Sections =
        {
            new Section
            {
                SectionId = "subjects", Title = "Subjects",
                Fields = { new Field { FieldId = "accounts", Label = "Accounts", Type = FieldType.BankAccount, List = true, Required = true } },
            },
        },
    };

    [Fact]
    public async Task DraftAgainstSeedTemplate_FetchedByInvestigator_ExampleIsCompleteAndEmptyDraftListsEveryRequiredField()
    {
        var c = await CastAsync();

        var rfi = await c.Otieno.Client.GetTemplateAsync("request-for-information", cancellationToken: Ct);
        var example = DraftValidator.Validate(rfi, await File.ReadAllTextAsync(Path.Combine(AppContext.BaseDirectory, "Templates", "request-for-information.draft.json"), Ct));
        var empty = DraftValidator.Validate(rfi, "{}");

        Assert.Empty(example);
        Assert.Contains(empty, p => p.Path == "facts.offences");
        Assert.Contains(empty, p => p.Path == "request.intended_use");
    }

    [Fact]
    public async Task Publish_AdministratorThenInvestigator_PublishedOnceAndRefusedOnce()
    {
        var c = await CastAsync();
        var template = Sample();

        var published = await c.SecondAdministrator.Client.PublishTemplateAsync(template, Ct);
        var refused = await Assert.ThrowsAsync<GlobeClientException>(() => c.Otieno.Client.PublishTemplateAsync(template, Ct));
        var listed = await c.Otieno.Client.ListTemplatesAsync(cancellationToken: Ct);

        Assert.Equal(c.SecondAdministrator.UserId.ToString(), published.PublishedBy);
        Assert.Equal(StatusCode.PermissionDenied, refused.Status);
        Assert.Contains(listed, t => t.TemplateId == template.TemplateId && t.Version == 1);
    }

    [Fact]
    public async Task Publish_InvalidTemplate_ViolationsNameThePaths()
    {
        var c = await CastAsync();
        var template = Sample();
        template.Sections[0].Fields[0].Pattern = "[a-z]+";
        template.Sections[0].Fields.Add(new Field { FieldId = "accounts", Label = "Again", Type = FieldType.Text });

        var error = await Assert.ThrowsAsync<GlobeClientException>(() => c.SecondAdministrator.Client.PublishTemplateAsync(template, Ct));

        Assert.Equal(StatusCode.InvalidArgument, error.Status);
        Assert.Equal(["template.sections[0].fields[0].pattern", "template.sections[0].fields[1].field_id"], error.Violations.Select(v => v.Field));
    }
}
