using GlobeSecure.Contracts.V1;
using GlobeSecure.EventStore;
using GlobeSecure.Server.Identity;
using Google.Protobuf;

namespace GlobeSecure.Server.Templates;

/// <summary>
/// Publishes the templates the network starts with (embedded <c>Templates/Seed/*.json</c>, the
/// same proto JSON <c>globe template publish</c> reads) as the system, at start-up, when the
/// stream has no version yet. Registered after the event store's migration, so it runs once the
/// schema exists; idempotent, also with several servers starting together.
/// </summary>
internal sealed partial class TemplateSeed(PostgresEventStore store, TimeProvider clock, ILogger<TemplateSeed> logger) : IHostedService
{
    private const string ResourcePrefix = "GlobeSecure.Server.Templates.Seed.";

    /// <summary>The seed templates, parsed and validated (a broken seed is a build error caught by the tests).</summary>
    public static IReadOnlyList<TemplateDefinition> Definitions()
    {
        var assembly = typeof(TemplateSeed).Assembly;
        var list = new List<TemplateDefinition>();
        foreach (var name in assembly.GetManifestResourceNames().Where(n => n.StartsWith(ResourcePrefix, StringComparison.Ordinal)).Order(StringComparer.Ordinal))
        {
            using var stream = assembly.GetManifestResourceStream(name)!;
            using var reader = new StreamReader(stream);
            var template = JsonParser.Default.Parse<Template>(reader.ReadToEnd());
            var v = new Violations();
            var definition = TemplateWire.Definition(v, "template", template);
            v.ThrowIfAny();
            list.Add(definition);
        }

        return list;
    }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        foreach (var definition in Definitions())
        {
            var streamId = TemplateDecider.StreamId(definition.TemplateId);
            if (await store.StreamVersionAsync(streamId, cancellationToken) > 0)
            {
                continue;
            }

            try
            {
                await store.DecideAsync(streamId, TemplateState.Initial, TemplateDecider.Evolve,
                    s => s.Latest > 0 ? [] : TemplateDecider.Decide(new PublishTemplateVersion(definition, null, clock.GetUtcNow()), s),
                    cancellationToken: cancellationToken);
                Log.Seeded(logger, definition.TemplateId, definition.Version);
            }
            catch (WrongExpectedVersionException)
            {
                // Another server seeded it at the same moment.
            }
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private static partial class Log
    {
        [LoggerMessage(EventId = 7001, Level = LogLevel.Information, Message = "Seeded template {TemplateId} version {Version}")]
        public static partial void Seeded(ILogger logger, string templateId, long version);
    }
}
