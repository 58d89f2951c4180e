using System.Text.Json;
using GlobeSecure.EventStore;
using GlobeSecure.Server.Infrastructure;

namespace GlobeSecure.Server.Templates;

/// <summary>Publishes a version of a template (already validated by <see cref="TemplateWire"/>).</summary>
internal sealed record PublishTemplateVersion(TemplateDefinition Template, Guid? ByUserId, DateTimeOffset At);

/// <summary>The versions of one template published so far, in order (version n at index n - 1).</summary>
internal sealed record TemplateState(IReadOnlyList<TemplateVersionPublished> Versions)
{
    public static readonly TemplateState Initial = new([]);

    public long Latest => Versions.Count;
}

/// <summary>
/// Versions are 1, 2, 3… without gaps and never change: the same content under a published
/// version is an idempotent replay, different content is refused.
/// </summary>
internal static class TemplateDecider
{
    public static string StreamId(string templateId) => $"template-{templateId}";

    public static IReadOnlyList<object> Decide(PublishTemplateVersion command, TemplateState state)
    {
        var t = command.Template;
        if (t.Version >= 1 && t.Version <= state.Latest)
        {
            var published = state.Versions[(int)t.Version - 1];
            return SameContent(published.Template, t)
                ? []
                : throw new AlreadyExistsException("template version", $"{t.TemplateId} v{t.Version} (published versions never change: publish version {state.Latest + 1})");
        }

        if (t.Version != state.Latest + 1)
        {
            throw new WrongStateException($"Template {t.TemplateId}: the next version is {state.Latest + 1}, not {t.Version}.");
        }

        return [new TemplateVersionPublished(t.TemplateId, t.Version, t, command.ByUserId, command.At)];
    }

    public static TemplateState Evolve(TemplateState state, object e) => e switch
    {
        TemplateVersionPublished p => state with { Versions = [.. state.Versions, p] },
        _ => state,
    };

    /// <summary>Records compare lists by reference; the content is compared as its canonical JSON.</summary>
    public static bool SameContent(TemplateDefinition a, TemplateDefinition b) =>
        JsonSerializer.Serialize(a, EventTypeRegistry.JsonOptions) == JsonSerializer.Serialize(b, EventTypeRegistry.JsonOptions);
}
