using System.Text.Json;
using GlobeSecure.EventStore;
using Npgsql;
using NpgsqlTypes;

namespace GlobeSecure.Server.Templates;

/// <summary>Every published template version, one row each, for the reads.</summary>
internal sealed class TemplateProjection : IInlineProjection
{
    public string Name => "templates";

    public bool OnlyDefers => true;

    public IReadOnlyList<SchemaMigration> Migrations { get; } =
    [
        new(1, "published template versions", """
            create table {schema}.template_versions (
                template_id text not null,
                version bigint not null,
                published jsonb not null,
                published_at timestamptz not null,
                primary key (template_id, version));
            """),
    ];

    public bool Handles(Type eventType) => eventType == typeof(TemplateVersionPublished);

    public Task ApplyAsync(ProjectionContext context, IReadOnlyList<StoredEvent> events, CancellationToken cancellationToken)
    {
        foreach (var stored in events)
        {
            if (stored.Data is not TemplateVersionPublished e)
            {
                throw new InvalidOperationException($"Unhandled event {stored.Type}.");
            }

            var command = new NpgsqlBatchCommand($"""
                insert into {context.Schema}.template_versions (template_id, version, published, published_at) values ($1, $2, $3, $4)
                """);
            command.Parameters.Add(new NpgsqlParameter { Value = e.TemplateId });
            command.Parameters.Add(new NpgsqlParameter { Value = e.Version });
            command.Parameters.Add(new NpgsqlParameter { Value = JsonSerializer.Serialize(e, EventTypeRegistry.JsonOptions), NpgsqlDbType = NpgsqlDbType.Jsonb });
            command.Parameters.Add(new NpgsqlParameter { Value = e.PublishedAt });
            context.Defer(command);
        }

        return Task.CompletedTask;
    }
}
