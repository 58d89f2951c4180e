using GlobeSecure.EventStore;

[assembly: AssemblyFixture(typeof(GlobeSecure.Testing.PostgresRun))]

namespace GlobeSecure.EventStore.Tests;

public sealed record CaseOpened(string CaseId, string Title, DateTimeOffset OpenedAt);

public sealed record NoteAdded(string CaseId, string Note, DateTimeOffset AddedAt);

public sealed record CaseClosed(string CaseId, DateTimeOffset ClosedAt);

public sealed record Blob(string StreamId, string Payload, DateTimeOffset At);

public static class TestEvents
{
    public static EventTypeRegistry Registry() => new EventTypeRegistry()
        .Register<CaseOpened>("test.case-opened.v1")
        .Register<NoteAdded>("test.note-added.v1")
        .Register<CaseClosed>("test.case-closed.v1")
        .Register<Blob>("test.blob.v1");

    public static string NewStream(string prefix = "case") => $"{prefix}-{Guid.CreateVersion7()}";

    public static DateTimeOffset At { get; } = new(2026, 11, 24, 9, 0, 0, TimeSpan.Zero);

    public static NoteAdded Note(string stream, int i) => new(stream, $"note {i}", At);

    public static AuditEntry Audit(string action, string? target = null, AuditOutcome outcome = AuditOutcome.Allowed) =>
        new(Guid.CreateVersion7(), At, action, outcome, Guid.CreateVersion7(), Guid.CreateVersion7(), Guid.CreateVersion7(), target, null, "ipv4:127.0.0.1:5000", "0af7651916cd43dd8448eb211c80319c");
}
