using System.Text.Json;
using GlobeSecure.EventStore;
using Npgsql;

namespace GlobeSecure.Server.Templates;

/// <summary>Reads of the <see cref="TemplateProjection"/> table.</summary>
internal sealed class TemplateReadModel(NpgsqlDataSource db, PostgresEventStore store)
{
    private readonly string _s = store.Schema;

    /// <summary>One version (0: the latest), or null.</summary>
    public async Task<TemplateVersionPublished?> FindAsync(string templateId, long version, CancellationToken ct)
    {
        await using var command = db.CreateCommand(version == 0
            ? $"select published::text from {_s}.template_versions where template_id = $1 order by version desc limit 1"
            : $"select published::text from {_s}.template_versions where template_id = $1 and version = $2");
        command.Parameters.Add(new NpgsqlParameter { Value = templateId });
        if (version != 0)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = version });
        }

        var json = (string?)await command.ExecuteScalarAsync(ct);
        return json is null ? null : Parse(json);
    }

    /// <summary>The latest version of each template, or every version; by template id, then version.</summary>
    public async Task<IReadOnlyList<TemplateVersionPublished>> ListAsync(bool allVersions, CancellationToken ct)
    {
        await using var command = db.CreateCommand(allVersions
            ? $"select published::text from {_s}.template_versions order by template_id, version"
            : $"select distinct on (template_id) published::text from {_s}.template_versions order by template_id, version desc");
        await using var reader = await command.ExecuteReaderAsync(ct);
        var list = new List<TemplateVersionPublished>();
        while (await reader.ReadAsync(ct))
        {
            list.Add(Parse(reader.GetString(0)));
        }

        return list;
    }

    private static TemplateVersionPublished Parse(string json) =>
        JsonSerializer.Deserialize<TemplateVersionPublished>(json, EventTypeRegistry.JsonOptions)
        ?? throw new InvalidDataException("A template version row holds null.");
}
