using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Threading.Channels;
using Npgsql;

namespace GlobeSecure.EventStore;

/// <summary>
/// An append-only event store and audit log on PostgreSQL (see docs/adr/0001-event-store.md).
/// Appends from every caller of one instance go through a single writer that commits whatever
/// is queued in one transaction (group commit), holding the row lock on <c>heads</c> so that
/// global positions are gap-free and in commit order across processes.
/// </summary>
public sealed partial class PostgresEventStore : IAsyncDisposable
{
    /// <summary>The core schema version this code migrates to.</summary>
    public static int CoreSchemaVersion => SchemaMigrator.CoreMigrations[^1].Version;

    /// <summary>Name of the ActivitySource and Meter of the store.</summary>
    public const string TelemetryName = "GlobeSecure.EventStore";

    internal static readonly ActivitySource ActivitySource = new(TelemetryName);
    private static readonly Meter Meter = new(TelemetryName);
    private static readonly Counter<long> EventsAppended = Meter.CreateCounter<long>("globe.eventstore.events_appended", "{event}", "Events committed.");
    private static readonly Histogram<int> BatchSize = Meter.CreateHistogram<int>("globe.eventstore.batch_size", "{append}", "Appends committed together in one transaction.");

    private static readonly JsonSerializerOptions MetadataJsonOptions = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    private readonly NpgsqlDataSource _dataSource;
    private readonly EventStoreOptions _options;
    private readonly string _schema;
    private readonly Channel<PendingWrite> _queue = Channel.CreateUnbounded<PendingWrite>(new UnboundedChannelOptions { SingleReader = true });
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task _writer;
    private readonly Lock _pageGate = new();
    private (long After, Task Generation, Task<IReadOnlyList<StoredEvent>> Page)? _sharedPage;
    private readonly ChangeNotifier _notifier;
    private int _disposed;

    /// <summary>
    /// Creates a store over <paramref name="dataSource"/>. Call <see cref="MigrateAsync"/> before use
    /// (<see cref="CreateAsync"/> does both).
    /// </summary>
    public PostgresEventStore(NpgsqlDataSource dataSource, EventTypeRegistry types, EventStoreOptions? options = null)
    {
        _dataSource = dataSource;
        Types = types;
        _options = options ?? new EventStoreOptions();
        _options.Validate();
        _schema = _options.Schema;
        _notifier = new ChangeNotifier(dataSource, _schema + "_events", _stopping.Token);
        _writer = Task.Run(WriteLoopAsync);
    }

    /// <summary>The event type registry.</summary>
    public EventTypeRegistry Types { get; }

    /// <summary>The schema the store lives in.</summary>
    public string Schema => _schema;

    /// <summary>Creates a store and migrates its schema.</summary>
    public static async Task<PostgresEventStore> CreateAsync(NpgsqlDataSource dataSource, EventTypeRegistry types,
        EventStoreOptions? options = null, CancellationToken cancellationToken = default)
    {
        var store = new PostgresEventStore(dataSource, types, options);
        try
        {
            await store.MigrateAsync(cancellationToken);
            return store;
        }
        catch
        {
            await store.DisposeAsync();
            throw;
        }
    }

    /// <summary>Creates or migrates the schema (idempotent; safe from several processes at once).</summary>
    /// <returns>How many migration steps were applied.</returns>
    public Task<int> MigrateAsync(CancellationToken cancellationToken = default) =>
        SchemaMigrator.MigrateAsync(_dataSource, _options, cancellationToken);

    /// <summary>The applied schema version of the core store.</summary>
    public Task<int> SchemaVersionAsync(CancellationToken cancellationToken = default) =>
        SchemaMigrator.CurrentVersionAsync(_dataSource, _schema, SchemaMigrator.CoreComponent, cancellationToken);

    /// <summary>
    /// Appends events to a stream if its version is as expected, with an optional audit entry
    /// committed in the same transaction.
    /// </summary>
    /// <exception cref="WrongExpectedVersionException">The stream is at another version; nothing was stored.</exception>
    /// <exception cref="EventIdConflictException">An event id is already stored as part of something else.</exception>
    /// <remarks>
    /// Cancelling before the append's group commit starts drops it; once the commit has started,
    /// it completes even if the caller stops waiting, so a retry must reuse the same event ids.
    /// </remarks>
    public Task<AppendResult> AppendAsync(string streamId, ExpectedVersion expected, IReadOnlyList<NewEvent> events,
        AuditEntry? audit = null, EventMetadata? metadata = null, CancellationToken cancellationToken = default) =>
        AppendAsync(streamId, expected, events, [], audit, metadata, cancellationToken);

    /// <summary>
    /// Appends events to a stream expecting a version, only if every one of
    /// <paramref name="conditions"/> holds too (other streams at exact versions), all checked in
    /// the same transaction; see the main overload for the rest.
    /// </summary>
    /// <exception cref="WrongExpectedVersionException">The stream, or a condition's stream, is at another version; nothing was written.</exception>
    public Task<AppendResult> AppendAsync(string streamId, ExpectedVersion expected, IReadOnlyList<NewEvent> events,
        IReadOnlyList<StreamCondition> conditions, AuditEntry? audit = null, EventMetadata? metadata = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(streamId);
        ArgumentNullException.ThrowIfNull(conditions);
        foreach (var condition in conditions)
        {
            ArgumentException.ThrowIfNullOrWhiteSpace(condition.StreamId, nameof(conditions));
            ArgumentOutOfRangeException.ThrowIfNegative(condition.Version, nameof(conditions));
            if (condition.StreamId == streamId)
            {
                throw new ArgumentException("A condition names another stream than the one appended to; use the expected version for that one.", nameof(conditions));
            }
        }

        ArgumentNullException.ThrowIfNull(events);
        var metadataJson = metadata is null ? null : JsonSerializer.Serialize(metadata, MetadataJsonOptions);
        var serialized = new SerializedEvent[events.Count];
        var ids = new HashSet<Guid>();
        for (var i = 0; i < events.Count; i++)
        {
            var e = events[i];
            if (e.EventId == Guid.Empty || !ids.Add(e.EventId))
            {
                throw new ArgumentException($"Event {i} of the append has an empty or repeated id.", nameof(events));
            }

            serialized[i] = new SerializedEvent(e.EventId, Types.AliasOf(e.Data.GetType()), Types.Serialize(e.Data), metadata, metadataJson, e.Data);
        }

        return EnqueueAsync(new PendingWrite(streamId, expected, serialized, Normalize(audit), cancellationToken, conditions));
    }

    /// <summary>Appends event records with fresh ids (see the main overload).</summary>
    public Task<AppendResult> AppendAsync(string streamId, ExpectedVersion expected, params object[] events)
    {
        if (events.OfType<NewEvent>().Any())
        {
            throw new ArgumentException("Pass NewEvent values as an IReadOnlyList<NewEvent>, not as event data.", nameof(events));
        }

        return AppendAsync(streamId, expected, (IReadOnlyList<NewEvent>)events.Select(NewEvent.From).ToArray());
    }

    /// <summary>Records an audit entry on its own (reads, denials, failures); idempotent by entry id.</summary>
    public async Task<StoredAuditEntry> RecordAuditAsync(AuditEntry entry, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(entry);
        var write = new PendingWrite(null, ExpectedVersion.Any, [], Normalize(entry), cancellationToken);
        await EnqueueAsync(write);
        return write.NewAudit ?? await ReadAuditEntryAsync(entry.EntryId, cancellationToken);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        // Appends already queued are committed before the store closes; new ones are refused.
        _queue.Writer.TryComplete();
        try
        {
            await _writer;
        }
        finally
        {
            await _stopping.CancelAsync();
            await _notifier.DisposeAsync();
            _stopping.Dispose();
        }
    }

    private static AuditEntry? Normalize(AuditEntry? audit)
    {
        if (audit is null)
        {
            return null;
        }

        ArgumentException.ThrowIfNullOrWhiteSpace(audit.Action);
        if (audit.EntryId == Guid.Empty)
        {
            throw new ArgumentException("An audit entry needs an id.", nameof(audit));
        }

        return audit with { OccurredAt = HashChain.TruncateToMicroseconds(audit.OccurredAt) };
    }

    private Task<AppendResult> EnqueueAsync(PendingWrite write)
    {
        write.CancellationToken.ThrowIfCancellationRequested();
        if (!_queue.Writer.TryWrite(write))
        {
            throw new ObjectDisposedException(nameof(PostgresEventStore), "The event store is shutting down; the append was not stored.");
        }

        return write.Completion.Task.WaitAsync(write.CancellationToken);
    }

    private void OnCommitted(IReadOnlyList<PendingWrite> batch)
    {
        var events = 0;
        foreach (var write in batch)
        {
            events += write.NewEvents.Count;
        }

        if (events > 0)
        {
            EventsAppended.Add(events);
            _notifier.SignalLocal();
            _notifier.Publish();
        }

        BatchSize.Record(batch.Count);
    }
}
