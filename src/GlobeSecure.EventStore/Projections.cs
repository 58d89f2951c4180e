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

    /// <summary>
    /// True when <see cref="ApplyAsync"/> never touches the connection and only
    /// <see cref="ProjectionContext.Defer"/>s its statements. The store may then apply it before
    /// the events' rows are written and send rows, projection statements and commit in one
    /// round trip.
    /// </summary>
    bool OnlyDefers => false;
}

/// <summary>The connection of the append a projection runs in; its transaction is already open.</summary>
/// <remarks>
/// One context serves every append of a group commit. Statements a projection only writes with
/// (nothing reads their result) can be <see cref="Defer"/>red: the store sends them all, in
/// order, in the commit's own round trip, instead of one round trip each while the single
/// writer waits.
/// </remarks>
public sealed class ProjectionContext
{
    private readonly List<NpgsqlBatchCommand> _deferred = [];

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

    /// <summary>
    /// Queues a write-only statement, sent in order with the other deferred statements just before
    /// the commit, in the same transaction; if it fails, the append fails as if the projection had
    /// thrown. A projection that later runs a statement of its own which must see the queued rows
    /// calls <see cref="FlushAsync"/> first. Other projections never see them before the commit.
    /// </summary>
    public void Defer(NpgsqlBatchCommand command) => _deferred.Add(command);

    /// <summary>Sends the deferred statements now (one round trip).</summary>
    public async Task FlushAsync(CancellationToken cancellationToken)
    {
        if (_deferred.Count == 0)
        {
            return;
        }

        await using var batch = new NpgsqlBatch(Connection);
        foreach (var command in TakeDeferred())
        {
            batch.BatchCommands.Add(command);
        }

        await batch.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>The deferred statements, in order; the context forgets them.</summary>
    internal List<NpgsqlBatchCommand> TakeDeferred()
    {
        var taken = new List<NpgsqlBatchCommand>(_deferred);
        _deferred.Clear();
        return taken;
    }
}

/// <summary>One schema step: applied once, in order, recorded in the schema version table.</summary>
/// <param name="Version">1, 2, 3… per component.</param>
/// <param name="Description">What it does.</param>
/// <param name="Sql">The DDL; <c>{schema}</c> is replaced by the store's schema name.</param>
public sealed record SchemaMigration(int Version, string Description, string Sql);
