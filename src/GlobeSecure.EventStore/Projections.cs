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

    /// <summary>
    /// Tables the projection's migrations create that hold state not derived from events (a
    /// document's cipher chunks, say): a rebuild (<see cref="PostgresEventStore.RebuildProjectionsAsync"/>)
    /// leaves them alone. Every other table its migrations create is emptied and replayed.
    /// </summary>
    IReadOnlyList<string> KeptTables => [];
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
    // Statements, and groups of rows (DeferredRows) sent as one statement each, in order.
    private readonly List<object> _deferred = [];

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

    /// <summary>
    /// Queues one row of a statement that takes many rows at once (an insert from unnest of
    /// arrays, say). Rows of the same <paramref name="kind"/> queued one after the other, within
    /// one append or across the appends of a group commit, become one statement; anything
    /// deferred in between keeps its place, so the order of effects is the order of the calls.
    /// </summary>
    public void DeferRow<TRow>(DeferredRows<TRow> kind, TRow row)
    {
        ArgumentNullException.ThrowIfNull(kind);
        if (_deferred.Count > 0 && _deferred[^1] is RowGroup<TRow> group && ReferenceEquals(group.Kind, kind))
        {
            group.Rows.Add(row);
        }
        else
        {
            _deferred.Add(new RowGroup<TRow>(kind, [row]));
        }
    }

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
        var taken = _deferred.Select(d => d as NpgsqlBatchCommand ?? ((IRowGroup)d).Build(Schema)).ToList();
        _deferred.Clear();
        return taken;
    }

    private interface IRowGroup
    {
        NpgsqlBatchCommand Build(string schema);
    }

    private sealed record RowGroup<TRow>(DeferredRows<TRow> Kind, List<TRow> Rows) : IRowGroup
    {
        public NpgsqlBatchCommand Build(string schema) => Kind.Build(schema, Rows);
    }
}

/// <summary>
/// A kind of row a projection writes many of: <see cref="ProjectionContext.DeferRow"/> gathers
/// consecutive rows of one kind and <paramref name="build"/> turns them into one statement (given
/// the store's schema and the rows, in order). Keep one instance per kind, for the projection's
/// lifetime.
/// </summary>
public sealed class DeferredRows<TRow>(Func<string, IReadOnlyList<TRow>, NpgsqlBatchCommand> build)
{
    internal NpgsqlBatchCommand Build(string schema, IReadOnlyList<TRow> rows) => build(schema, rows);
}

/// <summary>One schema step: applied once, in order, recorded in the schema version table.</summary>
/// <param name="Version">1, 2, 3… per component.</param>
/// <param name="Description">What it does.</param>
/// <param name="Sql">The DDL; <c>{schema}</c> is replaced by the store's schema name.</param>
public sealed record SchemaMigration(int Version, string Description, string Sql);
