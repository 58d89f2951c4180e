using GlobeSecure.Testing;

namespace GlobeSecure.EventStore.Tests;

public sealed class IdempotencyTests(PostgresDatabase db) : IClassFixture<PostgresDatabase>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Append_SameEventIdTwice_StoresOnceAndReportsWhatWasStored()
    {
        await using var store = await db.CreateStoreAsync(TestEvents.Registry());
        var stream = TestEvents.NewStream();
        var events = new[] { new NewEvent(Guid.CreateVersion7(), TestEvents.Note(stream, 1)), new NewEvent(Guid.CreateVersion7(), TestEvents.Note(stream, 2)) };

        var first = await store.AppendAsync(stream, ExpectedVersion.NoStream, events, cancellationToken: Ct);
        var retry = await store.AppendAsync(stream, ExpectedVersion.NoStream, events, cancellationToken: Ct);

        Assert.False(first.AlreadyStored);
        Assert.True(retry.AlreadyStored);
        Assert.Equal(first with { AlreadyStored = true }, retry);
        Assert.Equal(2, (await store.ReadStreamAsync(stream, cancellationToken: Ct)).Count);
    }

    [Fact]
    public async Task Append_SameEventIdConcurrently_StoresOnce()
    {
        await using var store = await db.CreateStoreAsync(TestEvents.Registry());
        var stream = TestEvents.NewStream();
        var e = new NewEvent(Guid.CreateVersion7(), TestEvents.Note(stream, 1));

        var results = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => store.AppendAsync(stream, ExpectedVersion.Any, [e], cancellationToken: Ct)));

        Assert.Equal(1, results.Count(r => !r.AlreadyStored));
        Assert.All(results, r => Assert.Equal(results[0].FirstPosition, r.FirstPosition));
        Assert.Single(await store.ReadStreamAsync(stream, cancellationToken: Ct));
    }

    [Fact]
    public async Task Append_EventIdStoredInAnotherStream_ThrowsIdConflict()
    {
        await using var store = await db.CreateStoreAsync(TestEvents.Registry());
        var a = TestEvents.NewStream();
        var b = TestEvents.NewStream();
        var e = new NewEvent(Guid.CreateVersion7(), TestEvents.Note(a, 1));
        await store.AppendAsync(a, ExpectedVersion.Any, [e], cancellationToken: Ct);

        var error = await Assert.ThrowsAsync<EventIdConflictException>(() => store.AppendAsync(b, ExpectedVersion.Any, [e], cancellationToken: Ct));

        Assert.Equal(e.EventId, error.EventId);
        Assert.Equal(0, await store.StreamVersionAsync(b, Ct));
    }

    [Fact]
    public async Task Append_PartlyStoredIds_ThrowsIdConflictAndStoresNothing()
    {
        await using var store = await db.CreateStoreAsync(TestEvents.Registry());
        var stream = TestEvents.NewStream();
        var stored = new NewEvent(Guid.CreateVersion7(), TestEvents.Note(stream, 1));
        await store.AppendAsync(stream, ExpectedVersion.Any, [stored], cancellationToken: Ct);

        await Assert.ThrowsAsync<EventIdConflictException>(() =>
            store.AppendAsync(stream, ExpectedVersion.Any, [NewEvent.From(TestEvents.Note(stream, 2)), stored], cancellationToken: Ct));

        Assert.Equal(1, await store.StreamVersionAsync(stream, Ct));
    }

    [Fact]
    public async Task Append_RepeatedIdInsideOneAppend_IsRefused()
    {
        await using var store = await db.CreateStoreAsync(TestEvents.Registry());
        var stream = TestEvents.NewStream();
        var id = Guid.CreateVersion7();

        await Assert.ThrowsAsync<ArgumentException>(() =>
            store.AppendAsync(stream, ExpectedVersion.Any, [new NewEvent(id, TestEvents.Note(stream, 1)), new NewEvent(id, TestEvents.Note(stream, 2))], cancellationToken: Ct));
    }

    [Fact]
    public async Task RecordAudit_SameEntryTwice_StoresOnce()
    {
        await using var store = await db.CreateStoreAsync(TestEvents.Registry());
        var entry = TestEvents.Audit("test.read", "x");

        var first = await store.RecordAuditAsync(entry, Ct);
        var second = await store.RecordAuditAsync(entry, Ct);

        Assert.Equal(first.Position, second.Position);
        Assert.Single(await store.ReadAuditAsync(0, 10_000, Ct), e => e.Entry.EntryId == entry.EntryId);
    }
}
