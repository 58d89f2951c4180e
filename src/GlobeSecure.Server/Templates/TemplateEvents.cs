namespace GlobeSecure.Server.Templates;

/// <summary>A field of a template version, as stored (see templates.proto <c>Field</c>).</summary>
internal sealed record FieldDefinition(string FieldId, string Label, string Type, bool List, bool Required, string Help,
    string Pattern, IReadOnlyList<string> Options, int MaxLength);

internal sealed record SectionDefinition(string SectionId, string Title, string Help, IReadOnlyList<FieldDefinition> Fields);

/// <summary>A template version's content: everything but who published it and when.</summary>
internal sealed record TemplateDefinition(string TemplateId, long Version, string Name, string Description, IReadOnlyList<SectionDefinition> Sections);

/// <summary>
/// A version of a template was published; it never changes afterwards. One stream per template
/// (<see cref="TemplateDecider.StreamId"/>). <paramref name="PublishedByUserId"/> is null for the
/// templates the server seeds itself.
/// </summary>
internal sealed record TemplateVersionPublished(string TemplateId, long Version, TemplateDefinition Template, Guid? PublishedByUserId, DateTimeOffset PublishedAt);
