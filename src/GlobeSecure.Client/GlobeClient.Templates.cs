using GlobeSecure.Contracts.V1;
using Google.Protobuf;

namespace GlobeSecure.Client;

/// <summary>Request templates (docs/requests.md); drafts are checked offline with <see cref="Templates.DraftValidator"/>.</summary>
public sealed partial class GlobeClient
{
    /// <summary>Any authenticated user: the latest version of each template, or every version.</summary>
    public async Task<IReadOnlyList<Template>> ListTemplatesAsync(bool allVersions = false, CancellationToken cancellationToken = default) =>
        (await CallAsync(_templates.ListTemplatesAsync(new ListTemplatesRequest { AllVersions = allVersions }, cancellationToken: cancellationToken))).Templates;

    /// <summary>Any authenticated user: one version of a template (0: the latest).</summary>
    public Task<Template> GetTemplateAsync(string templateId, long version = 0, CancellationToken cancellationToken = default) =>
        CallAsync(_templates.GetTemplateAsync(new GetTemplateRequest { TemplateId = templateId, Version = version }, cancellationToken: cancellationToken));

    /// <summary>
    /// Network administrators: publishes a template version (the next one; the same content
    /// under a published version returns it). An invalid template fails with every field
    /// violation (<see cref="GlobeClientException"/>).
    /// </summary>
    public Task<Template> PublishTemplateAsync(Template template, CancellationToken cancellationToken = default) =>
        CallAsync(_templates.PublishTemplateAsync(new PublishTemplateRequest { Template = template }, cancellationToken: cancellationToken));

    /// <summary>A template from its proto JSON (the format of the seed templates and of <c>globe template publish</c>).</summary>
    public static Template ParseTemplate(string json) => JsonParser.Default.Parse<Template>(json);
}
