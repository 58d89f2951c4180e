using GlobeSecure.Testing;

namespace GlobeSecure.EventStore.Tests;

/// <summary>A small aggregate in the house style: immutable, Create from the first event, Apply the rest.</summary>
public sealed record CaseState(string Id, string Title, int Notes, bool Closed)
{
    public static CaseState? Evolve(CaseState? state, object e) => (state, e) switch
    {
        (null, CaseOpened o) => new CaseState(o.CaseId, o.Title, 0, false),
        ({ } s, NoteAdded) => s with { Notes = s.Notes + 1 },
        ({ } s, CaseClosed) => s with { Closed = true },
        _ => state,
    };

    public static IReadOnlyList<object> AddNote(CaseState? state, string note) => state switch
    {
        null => throw new InvalidOperationException("no such case"),
        { Closed: true } => throw new InvalidOperationException("case is closed"),
        _ => [new NoteAdded(state.Id, note, TestEvents.At)],
    };
}

public sealed class AggregateTests(PostgresDatabase db) : IClassFixture<PostgresDatabase>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task AggregateStream_FoldsEveryEventThroughEvolve()
    {
        await using var store = await db.CreateStoreAsync(TestEvents.Registry());
        var stream = TestEvents.NewStream();
        await store.AppendAsync(stream, ExpectedVersion.NoStream, new CaseOpened(stream, "Bribery", TestEvents.At), TestEvents.Note(stream, 1), TestEvents.Note(stream, 2), new CaseClosed(stream, TestEvents.At));

        var (state, version) = await store.AggregateStreamAsync<CaseState?>(stream, null, CaseState.Evolve, Ct);

        Assert.Equal(new CaseState(stream, "Bribery", 2, true), state);
        Assert.Equal(4, version);
    }

    [Fact]
    public async Task AggregateStream_MissingStream_IsTheInitialStateAtVersionZero()
    {
        await using var store = await db.CreateStoreAsync(TestEvents.Registry());

        var (state, version) = await store.AggregateStreamAsync<CaseState?>(TestEvents.NewStream(), null, CaseState.Evolve, Ct);

        Assert.Null(state);
        Assert.Equal(0, version);
    }

    [Fact]
    public async Task Decide_LoadsDecidesAndAppendsWithTheLoadedVersionAndItsAudit()
    {
        await using var store = await db.CreateStoreAsync(TestEvents.Registry());
        var stream = TestEvents.NewStream();
        await store.AppendAsync(stream, ExpectedVersion.NoStream, new CaseOpened(stream, "t", TestEvents.At));
        var audit = TestEvents.Audit("test.add-note", stream);

        var (state, append) = await store.DecideAsync<CaseState?>(stream, null, CaseState.Evolve, s => CaseState.AddNote(s, "n"), audit, cancellationToken: Ct);

        Assert.Equal(1, state!.Notes);
        Assert.Equal(2, append.Version);
        var stored = Assert.Single(await store.ReadAuditAsync(0, 10_000, Ct), e => e.Entry.EntryId == audit.EntryId);
        Assert.Equal(audit, stored.Entry);
    }

    [Fact]
    public async Task Decide_RuleRefuses_AppendsNothing()
    {
        await using var store = await db.CreateStoreAsync(TestEvents.Registry());
        var stream = TestEvents.NewStream();
        await store.AppendAsync(stream, ExpectedVersion.NoStream, new CaseOpened(stream, "t", TestEvents.At), new CaseClosed(stream, TestEvents.At));

        await Assert.ThrowsAsync<InvalidOperationException>(() => store.DecideAsync<CaseState?>(stream, null, CaseState.Evolve, s => CaseState.AddNote(s, "n"), cancellationToken: Ct));

        Assert.Equal(2, await store.StreamVersionAsync(stream, Ct));
    }
}
