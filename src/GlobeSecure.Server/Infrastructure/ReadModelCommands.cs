using GlobeSecure.EventStore;
using Npgsql;

namespace GlobeSecure.Server.Infrastructure;

/// <summary>Queries of the read models over the projection tables in the event store's schema.</summary>
internal static class ReadModelCommands
{
    /// <summary>
    /// A command for <paramref name="sql"/> with <c>{schema}</c> replaced by the store's schema and
    /// positional parameters ($1, $2, …): an <see cref="NpgsqlParameter"/> as given, null as SQL null.
    /// </summary>
    public static NpgsqlCommand SchemaCommand(this NpgsqlDataSource dataSource, PostgresEventStore store, string sql, params object?[] parameters)
    {
        var command = dataSource.CreateCommand(sql.Replace("{schema}", store.Schema, StringComparison.Ordinal));
        foreach (var value in parameters)
        {
            command.Parameters.Add(value as NpgsqlParameter ?? new NpgsqlParameter { Value = value ?? DBNull.Value });
        }

        return command;
    }
}
