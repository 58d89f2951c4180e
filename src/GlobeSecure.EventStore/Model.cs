using System.Text.Json;

namespace GlobeSecure.EventStore;

/// <summary>What the caller expects a stream's version to be when it appends.</summary>
public readonly record struct ExpectedVersion
{
    private ExpectedVersion(long value) => Value = value;

    /// <summary>-1 for <see cref="Any"/>, 0 for <see cref="NoStream"/>, otherwise the exact version.</summary>
    public long Value { get; }

    /// <summary>Append whatever the stream's version is (no concurrency check).</summary>
    public static ExpectedVersion Any { get; } = new(-1);

    /// <summary>The stream must not exist yet.</summary>
    public static ExpectedVersion NoStream { get; } = new(0);

    /// <summary>The stream must be exactly at <paramref name="version"/> (0 means "must not exist").</summary>
    public static ExpectedVersion Exactly(long version) =>
        version >= 0 ? new(version) : throw new ArgumentOutOfRangeException(nameof(version), version, "A stream version is 0 or more.");

    /// <inheritdoc />
    public override string ToString() => Value switch
    {
        -1 => "any",
        0 => "no stream",
        _ => Value.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };
}

/// <summary>An event to append: its id (the idempotency key) and its data (a registered event record).</summary>
/// <param name="EventId">Unique id; appending the same id again stores nothing and reports what was stored.</param>
/// <param name="Data">The event record; its type must be registered in the <see cref="EventTypeRegistry"/>.</param>
public sealed record NewEvent(Guid EventId, object Data)
{
    /// <summary>Wraps an event record with a fresh version-7 id.</summary>
    public static NewEvent From(object data) => new(Guid.CreateVersion7(), data);
}

/// <summary>Context stored beside an event: never content, keys or secrets — ids only.</summary>
/// <param name="TraceId">The W3C trace id of the call that caused the event, if any.</param>
/// <param name="ActorUserId">The user on whose behalf the event was appended, if any.</param>
/// <param name="ActorDeviceId">The device that made the call, if any.</param>
public sealed record EventMetadata(string? TraceId = null, Guid? ActorUserId = null, Guid? ActorDeviceId = null);

/// <summary>An event as stored.</summary>
/// <param name="Position">Global position: gap-free, in commit order, starting at 1.</param>
/// <param name="EventId">The event's id.</param>
/// <param name="StreamId">The stream it belongs to.</param>
/// <param name="Version">Its version within the stream, starting at 1.</param>
/// <param name="Type">The registered alias of its type.</param>
/// <param name="Data">The event record, or a <see cref="JsonElement"/> when the alias is not registered here.</param>
/// <param name="Json">The exact JSON stored (what the hash covers).</param>
/// <param name="Metadata">Its metadata, if any.</param>
/// <param name="RecordedAt">When the store committed it (microsecond precision, UTC).</param>
/// <param name="Hash">BLAKE2b-256 link of the hash chain.</param>
public sealed record StoredEvent(
    long Position,
    Guid EventId,
    string StreamId,
    long Version,
    string Type,
    object Data,
    string Json,
    EventMetadata? Metadata,
    DateTimeOffset RecordedAt,
    ReadOnlyMemory<byte> Hash);

/// <summary>An event with the link of the event before it in the global chain (32 zero bytes for position 1).</summary>
/// <param name="Event">The event as stored.</param>
/// <param name="MetadataJson">The metadata's JSON exactly as stored (what the link covers), if any.</param>
/// <param name="Previous">The previous link: <c>Event.Hash = BLAKE2b-256(Previous ‖ canonical bytes)</c>.</param>
public sealed record LinkedEvent(StoredEvent Event, string? MetadataJson, ReadOnlyMemory<byte> Previous);

/// <summary>An audit entry with the link of the entry before it in the audit chain (32 zero bytes for position 1).</summary>
/// <param name="Entry">The entry as stored.</param>
/// <param name="Previous">The previous link.</param>
public sealed record LinkedAuditEntry(StoredAuditEntry Entry, ReadOnlyMemory<byte> Previous);

/// <summary>What an append did.</summary>
/// <param name="StreamId">The stream appended to.</param>
/// <param name="Version">The stream's version after the append (unchanged for an empty append).</param>
/// <param name="FirstPosition">Global position of the first event appended, or 0 when none were.</param>
/// <param name="LastPosition">Global position of the last event appended, or 0 when none were.</param>
/// <param name="AlreadyStored">True when every event id was already stored: nothing new was written.</param>
public sealed record AppendResult(string StreamId, long Version, long FirstPosition, long LastPosition, bool AlreadyStored);

/// <summary>Result of walking a hash chain.</summary>
/// <param name="IsValid">True when every link recomputes and the head matches.</param>
/// <param name="Checked">How many entries were checked.</param>
/// <param name="FirstBadPosition">The first position whose link does not verify, when invalid.</param>
/// <param name="Problem">What is wrong at that position, when invalid.</param>
public sealed record ChainVerification(bool IsValid, long Checked, long? FirstBadPosition, string? Problem)
{
    /// <summary>How many checkpoints were checked (audit chain only).</summary>
    public long Checkpoints { get; init; }

    internal static ChainVerification Valid(long count) => new(true, count, null, null);
    internal static ChainVerification Broken(long count, long position, string problem) => new(false, count, position, problem);
}

/// <summary>
/// A condition on another stream than the one appended to: the append commits only if
/// <paramref name="StreamId"/> is at exactly <paramref name="Version"/> (0: the stream does not
/// exist) at that point of the commit, else it fails with <see cref="WrongExpectedVersionException"/>
/// naming that stream. Lets a decision that read several streams append to one of them safely.
/// </summary>
public sealed record StreamCondition(string StreamId, long Version);
