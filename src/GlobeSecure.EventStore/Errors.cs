namespace GlobeSecure.EventStore;

/// <summary>Base of the event store's typed errors.</summary>
public abstract class EventStoreException : Exception
{
    /// <summary>Creates the error with its message.</summary>
    protected EventStoreException(string message, Exception? inner = null) : base(message, inner) { }
}

/// <summary>The stream was not at the expected version; nothing was stored.</summary>
public sealed class WrongExpectedVersionException : EventStoreException
{
    /// <summary>Creates the error.</summary>
    public WrongExpectedVersionException(string streamId, ExpectedVersion expected, long actual)
        : base($"Stream '{streamId}' is at version {actual}, but version '{expected}' was expected; reload it and decide again.")
    {
        StreamId = streamId;
        Expected = expected;
        Actual = actual;
    }

    /// <summary>The stream.</summary>
    public string StreamId { get; }

    /// <summary>What the caller expected.</summary>
    public ExpectedVersion Expected { get; }

    /// <summary>The stream's actual version (0 when it does not exist).</summary>
    public long Actual { get; }
}

/// <summary>An event id is already stored, but not as the same append (another stream or another batch of events).</summary>
public sealed class EventIdConflictException : EventStoreException
{
    /// <summary>Creates the error.</summary>
    public EventIdConflictException(Guid eventId, string message) : base(message) => EventId = eventId;

    /// <summary>The conflicting id.</summary>
    public Guid EventId { get; }
}

/// <summary>An event type is not registered, so it cannot be stored.</summary>
public sealed class UnknownEventTypeException : EventStoreException
{
    /// <summary>Creates the error.</summary>
    public UnknownEventTypeException(Type type)
        : base($"Event type '{type.FullName}' is not registered; register it with an alias in the EventTypeRegistry.") { }
}
