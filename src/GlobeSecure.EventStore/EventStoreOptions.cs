using System.Text.RegularExpressions;

namespace GlobeSecure.EventStore;

/// <summary>How a <see cref="PostgresEventStore"/> is set up.</summary>
public sealed partial class EventStoreOptions
{
    /// <summary>The PostgreSQL schema holding the store's tables (lower-case identifier). Default "globe".</summary>
    public string Schema { get; init; } = "globe";

    /// <summary>How many queued appends one transaction may commit together (group commit). Default 256.</summary>
    public int MaxBatchSize { get; init; } = 256;

    /// <summary>The clock stamping <see cref="StoredEvent.RecordedAt"/>.</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>
    /// A subscriber that has had no notification for this long reads anyway, so a lost
    /// LISTEN connection delays delivery but never loses it. Default 5 s.
    /// </summary>
    public TimeSpan SubscriptionPollInterval { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Read models updated inside each append's transaction.</summary>
    public IReadOnlyList<IInlineProjection> Projections { get; init; } = [];

    internal void Validate()
    {
        if (!IsValidSchemaName(Schema))
        {
            throw new ArgumentException($"Event store schema '{Schema}' must be a lower-case identifier (letters, digits, underscore; at most 40).", nameof(Schema));
        }

        if (MaxBatchSize is < 1 or > 10_000)
        {
            throw new ArgumentException($"MaxBatchSize must be 1 to 10000, not {MaxBatchSize}.", nameof(MaxBatchSize));
        }

        if (SubscriptionPollInterval <= TimeSpan.Zero)
        {
            throw new ArgumentException("SubscriptionPollInterval must be positive.", nameof(SubscriptionPollInterval));
        }
    }

    /// <summary>Whether <paramref name="schema"/> is usable as the store's schema: a lower-case identifier of at most 40 characters.</summary>
    public static bool IsValidSchemaName(string schema) => SchemaName().IsMatch(schema);

    [GeneratedRegex("^[a-z_][a-z0-9_]{0,39}$")]
    private static partial Regex SchemaName();
}
