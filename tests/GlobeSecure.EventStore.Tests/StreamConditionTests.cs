using GlobeSecure.Testing;

namespace GlobeSecure.EventStore.Tests;

/// <summary>Appends conditioned on other streams' versions (a decision that read several streams).</summary>
public sealed class StreamConditionTests(PostgresDatabase db) : IClassFixture<PostgresDatabase>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Append_ConditionHolds_Commits()
    {
        await using var store = await db.CreateStoreAsync(TestEvents.Registry());
        var other = TestEvents.NewStream();
        var stream = TestEvents.NewStream();
        await store.AppendAsync(other, ExpectedVersion.NoStream, new CaseOpened(other, "t", TestEvents.At));

        var result = await store.AppendAsync(stream, ExpectedVersion.NoStream, [NewEvent.From(TestEvents.Note(stream, 1))],
            [new StreamCondition(other, 1), new StreamCondition(TestEvents.NewStream(), 0)], cancellationToken: Ct);

        Assert.Equal(1, result.Version);
        Assert.Single(await store.ReadStreamAsync(stream, cancellationToken: Ct));
    }

    [Fact]
    public async Task Append_ConditionStreamMovedOnThroughThisStore_ThrowsNamingItAndStoresNothing()
    {
        await using var store = await db.CreateStoreAsync(TestEvents.Registry());
        var other = TestEvents.NewStream();
        var stream = TestEvents.NewStream();
        await store.AppendAsync(other, ExpectedVersion.NoStream, new CaseOpened(other, "t", TestEvents.At), TestEvents.Note(other, 1));
        var head = await store.HeadPositionAsync(Ct);
        var audit = TestEvents.Audit("test.conditioned", stream);

        var error = await Assert.ThrowsAsync<WrongExpectedVersionException>(() => store.AppendAsync(stream, ExpectedVersion.NoStream,
            [NewEvent.From(TestEvents.Note(stream, 1))], [new StreamCondition(other, 1)], audit, cancellationToken: Ct));

        Assert.Equal((other, 2L, ExpectedVersion.Exactly(1)), (error.StreamId, error.Actual, error.Expected));
        Assert.Empty(await store.ReadStreamAsync(stream, cancellationToken: Ct));
        Assert.Equal(head, await store.HeadPositionAsync(Ct));
        Assert.DoesNotContain(await store.ReadAuditAsync(0, 10_000, Ct), e => e.Entry.EntryId == audit.EntryId);
    }

    [Fact]
    public async Task Append_ConditionStreamMovedOnThroughAnotherProcess_ThrowsNamingItAndStoresNothing()
    {
        await using var store = await db.CreateStoreAsync(TestEvents.Registry());
        await using var elsewhere = await db.CreateStoreAsync(TestEvents.Registry());
        var other = TestEvents.NewStream();
        var stream = TestEvents.NewStream();
        await store.AppendAsync(other, ExpectedVersion.NoStream, new CaseOpened(other, "t", TestEvents.At));
        await elsewhere.AppendAsync(other, ExpectedVersion.Exactly(1), TestEvents.Note(other, 1));

        var error = await Assert.ThrowsAsync<WrongExpectedVersionException>(() => store.AppendAsync(stream, ExpectedVersion.NoStream,
            [NewEvent.From(TestEvents.Note(stream, 1))], [new StreamCondition(other, 1)], cancellationToken: Ct));

        Assert.Equal((other, 2L), (error.StreamId, error.Actual));
        Assert.Empty(await store.ReadStreamAsync(stream, cancellationToken: Ct));
    }

    [Fact]
    public async Task Append_ConditionThatAStreamDoesNotExistWhenItDoes_Throws()
    {
        await using var store = await db.CreateStoreAsync(TestEvents.Registry());
        await using var elsewhere = await db.CreateStoreAsync(TestEvents.Registry());
        var other = TestEvents.NewStream();
        var stream = TestEvents.NewStream();
        await elsewhere.AppendAsync(other, ExpectedVersion.NoStream, new CaseOpened(other, "t", TestEvents.At));

        var error = await Assert.ThrowsAsync<WrongExpectedVersionException>(() => store.AppendAsync(stream, ExpectedVersion.NoStream,
            [NewEvent.From(TestEvents.Note(stream, 1))], [new StreamCondition(other, 0)], cancellationToken: Ct));

        Assert.Equal((other, 1L), (error.StreamId, error.Actual));
        Assert.Empty(await store.ReadStreamAsync(stream, cancellationToken: Ct));
    }

    [Fact]
    public async Task Append_ConditionOnTheAppendedStreamItself_IsRefusedBeforeQueueing()
    {
        await using var store = await db.CreateStoreAsync(TestEvents.Registry());
        var stream = TestEvents.NewStream();

        await Assert.ThrowsAsync<ArgumentException>(() => store.AppendAsync(stream, ExpectedVersion.NoStream,
            [NewEvent.From(TestEvents.Note(stream, 1))], [new StreamCondition(stream, 0)], cancellationToken: Ct));
    }
}
