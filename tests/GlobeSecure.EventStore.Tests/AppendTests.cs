using GlobeSecure.Testing;
using Npgsql;

namespace GlobeSecure.EventStore.Tests;

public sealed class AppendTests(PostgresDatabase db) : IClassFixture<PostgresDatabase>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Append_NoStreamToNewStream_StoresAtVersionOne()
    {
        await using var store = await db.CreateStoreAsync(TestEvents.Registry());
        var stream = TestEvents.NewStream();

        var result = await store.AppendAsync(stream, ExpectedVersion.NoStream, new CaseOpened(stream, "t", TestEvents.At));

        Assert.Equal(1, result.Version);
        Assert.False(result.AlreadyStored);
        var events = await store.ReadStreamAsync(stream, cancellationToken: Ct);
        var stored = Assert.Single(events);
        Assert.Equal(1, stored.Version);
        Assert.Equal(result.FirstPosition, stored.Position);
        Assert.Equal(new CaseOpened(stream, "t", TestEvents.At), stored.Data);
        Assert.Equal("test.case-opened.v1", stored.Type);
    }

    [Fact]
    public async Task Append_NoStreamWhenStreamExists_ThrowsConflictAndStoresNothing()
    {
        await using var store = await db.CreateStoreAsync(TestEvents.Registry());
        var stream = TestEvents.NewStream();
        await store.AppendAsync(stream, ExpectedVersion.NoStream, new CaseOpened(stream, "t", TestEvents.At));
        var head = await store.HeadPositionAsync(Ct);

        var error = await Assert.ThrowsAsync<WrongExpectedVersionException>(() =>
            store.AppendAsync(stream, ExpectedVersion.NoStream, TestEvents.Note(stream, 1)));

        Assert.Equal(1, error.Actual);
        Assert.Equal(ExpectedVersion.NoStream, error.Expected);
        Assert.Single(await store.ReadStreamAsync(stream, cancellationToken: Ct));
        Assert.Equal(head, await store.HeadPositionAsync(Ct));
    }

    [Fact]
    public async Task Append_ExactVersionMismatch_ThrowsConflictAndStoresNothing()
    {
        await using var store = await db.CreateStoreAsync(TestEvents.Registry());
        var stream = TestEvents.NewStream();
        await store.AppendAsync(stream, ExpectedVersion.NoStream, new CaseOpened(stream, "t", TestEvents.At), TestEvents.Note(stream, 1));
        var audit = TestEvents.Audit("test.add-note", stream);

        var error = await Assert.ThrowsAsync<WrongExpectedVersionException>(() =>
            store.AppendAsync(stream, ExpectedVersion.Exactly(1), [NewEvent.From(TestEvents.Note(stream, 2))], audit, cancellationToken: Ct));

        Assert.Equal(2, error.Actual);
        Assert.Contains("version 2", error.Message, StringComparison.Ordinal);
        Assert.Equal(2, await store.StreamVersionAsync(stream, Ct));
        Assert.Equal(2, (await store.ReadStreamAsync(stream, cancellationToken: Ct)).Count);
        Assert.DoesNotContain((await store.ReadAuditAsync(0, 10_000, Ct)), e => e.Entry.EntryId == audit.EntryId);
    }

    [Fact]
    public async Task Append_ExactVersionMatches_AppendsAfterIt()
    {
        await using var store = await db.CreateStoreAsync(TestEvents.Registry());
        var stream = TestEvents.NewStream();
        await store.AppendAsync(stream, ExpectedVersion.NoStream, new CaseOpened(stream, "t", TestEvents.At));

        var result = await store.AppendAsync(stream, ExpectedVersion.Exactly(1), TestEvents.Note(stream, 1), TestEvents.Note(stream, 2));

        Assert.Equal(3, result.Version);
        Assert.Equal(result.FirstPosition + 1, result.LastPosition);
        Assert.Equal([1L, 2L, 3L], (await store.ReadStreamAsync(stream, cancellationToken: Ct)).Select(e => e.Version));
    }

    [Fact]
    public async Task Append_Any_AppendsWhateverTheVersion()
    {
        await using var store = await db.CreateStoreAsync(TestEvents.Registry());
        var stream = TestEvents.NewStream();

        await store.AppendAsync(stream, ExpectedVersion.Any, TestEvents.Note(stream, 1));
        var result = await store.AppendAsync(stream, ExpectedVersion.Any, TestEvents.Note(stream, 2));

        Assert.Equal(2, result.Version);
    }

    [Fact]
    public async Task Append_Empty_NeverChangesTheVersionOrCreatesTheStream()
    {
        await using var store = await db.CreateStoreAsync(TestEvents.Registry());
        var stream = TestEvents.NewStream();
        var fresh = TestEvents.NewStream();
        await store.AppendAsync(stream, ExpectedVersion.NoStream, TestEvents.Note(stream, 1));
        var head = await store.HeadPositionAsync(Ct);

        var onExisting = await store.AppendAsync(stream, ExpectedVersion.Any, []);
        var onExact = await store.AppendAsync(stream, ExpectedVersion.Exactly(1), []);
        var onMissing = await store.AppendAsync(fresh, ExpectedVersion.NoStream, []);

        Assert.Equal(1, onExisting.Version);
        Assert.Equal(1, onExact.Version);
        Assert.Equal(0, onMissing.Version);
        Assert.Equal(0, onExisting.FirstPosition);
        Assert.Equal(1, await store.StreamVersionAsync(stream, Ct));
        Assert.Equal(0, await store.StreamVersionAsync(fresh, Ct));
        Assert.Equal(head, await store.HeadPositionAsync(Ct));
        // The stream still takes its next event at version 2, and the fresh stream is still new.
        Assert.Equal(2, (await store.AppendAsync(stream, ExpectedVersion.Exactly(1), TestEvents.Note(stream, 2))).Version);
        Assert.Equal(1, (await store.AppendAsync(fresh, ExpectedVersion.NoStream, TestEvents.Note(fresh, 1))).Version);
    }

    [Fact]
    public async Task Append_EmptyWithWrongExpectedVersion_StillReportsTheConflict()
    {
        await using var store = await db.CreateStoreAsync(TestEvents.Registry());
        var stream = TestEvents.NewStream();
        await store.AppendAsync(stream, ExpectedVersion.NoStream, TestEvents.Note(stream, 1));

        await Assert.ThrowsAsync<WrongExpectedVersionException>(() => store.AppendAsync(stream, ExpectedVersion.Exactly(5), []));
    }

    [Fact]
    public async Task Append_ManyWritersSameExpectedVersion_ExactlyOneWins()
    {
        await using var store = await db.CreateStoreAsync(TestEvents.Registry());
        var stream = TestEvents.NewStream();
        await store.AppendAsync(stream, ExpectedVersion.NoStream, new CaseOpened(stream, "t", TestEvents.At));

        var attempts = Enumerable.Range(0, 20).Select(async i =>
        {
            try
            {
                await store.AppendAsync(stream, ExpectedVersion.Exactly(1), TestEvents.Note(stream, i));
                return true;
            }
            catch (WrongExpectedVersionException)
            {
                return false;
            }
        });
        var outcomes = await Task.WhenAll(attempts);

        Assert.Equal(1, outcomes.Count(won => won));
        Assert.Equal(2, await store.StreamVersionAsync(stream, Ct));
    }

    [Fact]
    public async Task Append_TwoStoresSameExpectedVersion_ExactlyOneWins()
    {
        await using var otherSource = db.CreateDataSource();
        await using var first = await db.CreateStoreAsync(TestEvents.Registry());
        await using var second = await db.CreateStoreAsync(TestEvents.Registry(), dataSource: otherSource);
        var stream = TestEvents.NewStream();

        var outcomes = await Task.WhenAll(Enumerable.Range(0, 10).Select(async i =>
        {
            try
            {
                await (i % 2 == 0 ? first : second).AppendAsync(stream, ExpectedVersion.NoStream, TestEvents.Note(stream, i));
                return true;
            }
            catch (WrongExpectedVersionException)
            {
                return false;
            }
        }));

        Assert.Equal(1, outcomes.Count(won => won));
        Assert.Single(await first.ReadStreamAsync(stream, cancellationToken: Ct));
    }

    [Fact]
    public async Task Append_AfterAnotherProcessWroteTheStream_SeesItsVersion()
    {
        // The first store caches the stream at version 1 and the chain head; the second moves both.
        await using var otherSource = db.CreateDataSource();
        await using var first = await db.CreateStoreAsync(TestEvents.Registry());
        await using var second = await db.CreateStoreAsync(TestEvents.Registry(), dataSource: otherSource);
        var stream = TestEvents.NewStream();
        await first.AppendAsync(stream, ExpectedVersion.NoStream, TestEvents.Note(stream, 1));
        await second.AppendAsync(stream, ExpectedVersion.Exactly(1), TestEvents.Note(stream, 2));

        var stale = await Assert.ThrowsAsync<WrongExpectedVersionException>(() => first.AppendAsync(stream, ExpectedVersion.Exactly(1), TestEvents.Note(stream, 3)));
        var current = await first.AppendAsync(stream, ExpectedVersion.Exactly(2), TestEvents.Note(stream, 3));
        var other = TestEvents.NewStream();
        var elsewhere = await first.AppendAsync(other, ExpectedVersion.NoStream, TestEvents.Note(other, 1));

        Assert.Equal(2, stale.Actual);
        Assert.Equal(3, current.Version);
        Assert.Equal(current.LastPosition + 1, elsewhere.FirstPosition);
        Assert.Equal([1L, 2L, 3L], (await first.ReadStreamAsync(stream, cancellationToken: Ct)).Select(e => e.Version));
        Assert.True((await first.VerifyEventsAsync(Ct)).IsValid);
    }

    [Fact]
    public async Task Append_OtherProcessMovedAStreamThisStoreHadCached_IsJudgedOnTheRealVersion()
    {
        await using var otherSource = db.CreateDataSource();
        await using var first = await db.CreateStoreAsync(TestEvents.Registry());
        await using var second = await db.CreateStoreAsync(TestEvents.Registry(), dataSource: otherSource);
        var quiet = TestEvents.NewStream();
        var moved = TestEvents.NewStream();
        await first.AppendAsync(quiet, ExpectedVersion.NoStream, TestEvents.Note(quiet, 1));
        await first.AppendAsync(moved, ExpectedVersion.NoStream, TestEvents.Note(moved, 1));
        await second.AppendAsync(moved, ExpectedVersion.Exactly(1), TestEvents.Note(moved, 2));

        // The first store re-learns the heads through another stream; its cached "moved at 1" must not survive that.
        await first.AppendAsync(quiet, ExpectedVersion.Exactly(1), TestEvents.Note(quiet, 2));
        var stale = await Assert.ThrowsAsync<WrongExpectedVersionException>(() => first.AppendAsync(moved, ExpectedVersion.Exactly(1), TestEvents.Note(moved, 3)));
        var any = await first.AppendAsync(moved, ExpectedVersion.Any, TestEvents.Note(moved, 3));

        Assert.Equal(2, stale.Actual);
        Assert.Equal(3, any.Version);
        Assert.Equal([1L, 2L, 3L], (await first.ReadStreamAsync(moved, cancellationToken: Ct)).Select(e => e.Version));
        Assert.True((await first.VerifyEventsAsync(Ct)).IsValid);
    }

    [Fact]
    public async Task StreamVersion_DuplicateRowBypassingTheStore_IsRejectedByTheUniqueConstraint()
    {
        await using var store = await db.CreateStoreAsync(TestEvents.Registry());
        var stream = TestEvents.NewStream();
        await store.AppendAsync(stream, ExpectedVersion.NoStream, TestEvents.Note(stream, 1));

        var error = await Assert.ThrowsAsync<PostgresException>(() => db.ExecuteScalarAsync(
            $"insert into globe.events (position, event_id, stream_id, version, type, data, recorded_at, hash) values (999999, gen_random_uuid(), '{stream}', 1, 'x', '{{}}', now(), '\\x00')"));

        Assert.Equal(PostgresErrorCodes.UniqueViolation, error.SqlState);
        Assert.Equal("events_stream_version_key", error.ConstraintName);
    }

    [Fact]
    public async Task Append_UnregisteredEventType_ThrowsBeforeStoring()
    {
        await using var store = await db.CreateStoreAsync(TestEvents.Registry());
        var stream = TestEvents.NewStream();

        var error = await Assert.ThrowsAsync<UnknownEventTypeException>(() => store.AppendAsync(stream, ExpectedVersion.Any, new { Unknown = 1 }));

        Assert.Contains("not registered", error.Message, StringComparison.Ordinal);
        Assert.Equal(0, await store.StreamVersionAsync(stream, Ct));
    }

    [Fact]
    public async Task Append_CancelledBeforehand_StoresNothing()
    {
        await using var store = await db.CreateStoreAsync(TestEvents.Registry());
        var stream = TestEvents.NewStream();
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
            store.AppendAsync(stream, ExpectedVersion.Any, [NewEvent.From(TestEvents.Note(stream, 1))], cancellationToken: cancelled.Token));

        Assert.Equal(0, await store.StreamVersionAsync(stream, Ct));
    }

    [Fact]
    public async Task Read_CancelledToken_ReachesTheDatabaseCommand()
    {
        await using var store = await db.CreateStoreAsync(TestEvents.Registry());
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => store.ReadAllAsync(0, 10, cancelled.Token));
    }
}
