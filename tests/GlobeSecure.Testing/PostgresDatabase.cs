using GlobeSecure.EventStore;
using Npgsql;
using Xunit;

namespace GlobeSecure.Testing;

/// <summary>
/// A fresh database for one test class (use as <c>IClassFixture&lt;PostgresDatabase&gt;</c>),
/// dropped when the class is done, so classes never see each other's data.
/// </summary>
public sealed class PostgresDatabase : IAsyncLifetime
{
    private readonly Func<Task<PostgresServer>> _serverSource;
    private PostgresServer? _server;

    /// <summary>A database on the run's shared server.</summary>
    public PostgresDatabase()
        : this(PostgresServer.SharedAsync)
    {
    }

    // Private: a class fixture must have a single public constructor (xUnit1056).
    private PostgresDatabase(Func<Task<PostgresServer>> server) => _serverSource = server;

    /// <summary>A database on the server <paramref name="server"/> gives (e.g. a private cluster; its owner stops it).</summary>
    public static PostgresDatabase On(Func<Task<PostgresServer>> server) => new(server);
    private NpgsqlDataSource? _dataSource;

    /// <summary>The database's name.</summary>
    public string Name { get; } = "t_" + Guid.NewGuid().ToString("N")[..16];

    /// <summary>Its connection string.</summary>
    public string ConnectionString { get; private set; } = string.Empty;

    /// <summary>A shared data source on it.</summary>
    public NpgsqlDataSource DataSource => _dataSource ?? throw new InvalidOperationException("The database is not initialised yet.");

    /// <summary>A new, independent data source (its own pool), e.g. to play a second server process.</summary>
    public NpgsqlDataSource CreateDataSource() => NpgsqlDataSource.Create(ConnectionString);

    /// <summary>Creates and migrates an event store in this database.</summary>
    public Task<PostgresEventStore> CreateStoreAsync(EventTypeRegistry types, EventStoreOptions? options = null, NpgsqlDataSource? dataSource = null) =>
        PostgresEventStore.CreateAsync(dataSource ?? DataSource, types, options);

    /// <summary>Runs SQL directly, bypassing the store (to tamper, or to look).</summary>
    public async Task<object?> ExecuteScalarAsync(string sql)
    {
        await using var command = DataSource.CreateCommand(sql);
        return await command.ExecuteScalarAsync();
    }

    /// <inheritdoc />
    public async ValueTask InitializeAsync()
    {
        _server = await _serverSource();
        ConnectionString = await _server.CreateDatabaseAsync(Name);
        _dataSource = NpgsqlDataSource.Create(ConnectionString);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (_dataSource is not null)
        {
            await _dataSource.DisposeAsync();
        }

        if (_server is not null)
        {
            await _server.DropDatabaseAsync(Name);
        }
    }
}

/// <summary>
/// Assembly fixture that stops the run's PostgreSQL when every test is done; each test assembly
/// declares <c>[assembly: AssemblyFixture(typeof(PostgresRun))]</c>.
/// </summary>
public sealed class PostgresRun : IAsyncDisposable
{
    /// <inheritdoc />
    public async ValueTask DisposeAsync() => await PostgresServer.StopSharedAsync();
}
