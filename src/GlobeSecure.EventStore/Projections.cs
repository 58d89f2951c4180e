using Npgsql;

namespace GlobeSecure.EventStore;

/// <summary>
/// A read model updated inside the append's transaction. If <see cref="ApplyAsync"/> throws, the
/// append (its events and its audit entry) is rolled back and the caller gets the exception.
/// </summary>
public interface IInlineProjection
{
    /// <summary>A stable name, used to version the projection's schema.</summary>
    string Name { get; }

    /// <summary>The projection's tables, created and migrated at start-up in version order.</summary>
    IReadOnlyList<SchemaMigration> Migrations { get; }

    /// <summary>Whether events of this CLR type concern the projection.</summary>
    bool Handles(Type eventType);

    /// <summary>Applies the events of one append (only those it handles), in version order.</summary>
    Task ApplyAsync(ProjectionContext context, IReadOnlyList<StoredEvent> events, CancellationToken cancellationToken);
}

/// <summary>The connection of the append a projection runs in; its transaction is already open.</summary>
public sealed class ProjectionContext
{
    internal ProjectionContext(NpgsqlConnection connection, string schema)
    {
        Connection = connection;
        Schema = schema;
    }

    /// <summary>The open connection, inside the append's transaction: never commit or roll back.</summary>
    public NpgsqlConnection Connection { get; }

    /// <summary>The store's schema (quoted-safe identifier).</summary>
    public string Schema { get; }

    /// <summary>A command on the append's connection (and so in its transaction).</summary>
    public NpgsqlCommand CreateCommand(string sql) => new(sql, Connection);
}

/// <summary>One schema step: applied once, in order, recorded in the schema version table.</summary>
/// <param name="Version">1, 2, 3… per component.</param>
/// <param name="Description">What it does.</param>
/// <param name="Sql">The DDL; <c>{schema}</c> is replaced by the store's schema name.</param>
public sealed record SchemaMigration(int Version, string Description, string Sql);
