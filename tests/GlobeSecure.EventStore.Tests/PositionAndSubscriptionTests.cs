using GlobeSecure.Testing;

namespace GlobeSecure.EventStore.Tests;

public sealed class PositionAndSubscriptionTests(PostgresDatabase db) : IClassFixture<PostgresDatabase>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Subscribe_SeveralLiveSubscribersInStep_EachSeesEveryEventOnceInOrder()
    {
        const int subscribers = 4, writers = 4, perWriter = 100, total = writers * perWriter;
        await using var store = await db.CreateStoreAsync(TestEvents.Registry());
        var start = await store.HeadPositionAsync(Ct);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        timeout.CancelAfter(TimeSpan.FromMinutes(3));

        // They share page reads while in step (one query per wake-up and position); each must still get everything.
        var seen = Enumerable.Range(0, subscribers).Select(_ => new List<long>()).ToArray();
        var subscriptions = seen.Select(list => Task.Run(async () =>
        {
            await foreach (var e in store.SubscribeAsync(start, timeout.Token))
            {
                list.Add(e.Position);
                if (list.Count == total)
                {
                    break;
                }
            }
        }, Ct)).ToArray();

        await Task.WhenAll(Enumerable.Range(0, writers).Select(w => Task.Run(async () =>
        {
            var stream = TestEvents.NewStream("writer");
            for (var i = 0; i < perWriter; i++)
            {
                await store.AppendAsync(stream, ExpectedVersion.Exactly(i), [NewEvent.From(TestEvents.Note(stream, i))], cancellationToken: Ct);
            }
        }, Ct)));
        await Task.WhenAll(subscriptions);

        Assert.All(seen, positions => Assert.Equal(Enumerable.Range(1, total).Select(i => start + i), positions));
    }

    [Fact]
    public async Task Subscribe_SixteenConcurrentWriters_SeesEveryEventOnceInOrderWithoutGaps()
    {
        const int writers = 16, perWriter = 200, total = writers * perWriter;
        await using var store = await db.CreateStoreAsync(TestEvents.Registry());
        var start = await store.HeadPositionAsync(Ct);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        timeout.CancelAfter(TimeSpan.FromMinutes(3));

        var seen = new List<StoredEvent>();
        var subscriber = Task.Run(async () =>
        {
            await foreach (var e in store.SubscribeAsync(start, timeout.Token))
            {
                seen.Add(e);
                if (seen.Count == total)
                {
                    break;
                }
            }
        }, Ct);

        var appended = await Task.WhenAll(Enumerable.Range(0, writers).Select(w => Task.Run(async () =>
        {
            var stream = TestEvents.NewStream("writer");
            var ids = new List<Guid>();
            for (var i = 0; i < perWriter; i++)
            {
                var e = NewEvent.From(TestEvents.Note(stream, i));
                await store.AppendAsync(stream, ExpectedVersion.Exactly(i), [e], cancellationToken: Ct);
                ids.Add(e.EventId);
            }

            return ids;
        }, Ct)));
        await subscriber;

        Assert.Equal(total, seen.Count);
        Assert.Equal(Enumerable.Range(1, total).Select(i => start + i), seen.Select(e => e.Position));
        Assert.Equal(appended.SelectMany(ids => ids).Order(), seen.Select(e => e.EventId).Order());
        Assert.Equal(total, seen.Select(e => e.EventId).Distinct().Count());
        // Each writer's stream is in version order too.
        Assert.All(seen.GroupBy(e => e.StreamId), g => Assert.Equal(Enumerable.Range(1, perWriter).Select(v => (long)v), g.Select(e => e.Version)));
    }

    [Fact]
    public async Task Subscribe_AppendThroughASecondIndependentStore_WakesTheSubscriberWithoutPolling()
    {
        // The subscriber's poll interval is far longer than the test's timeout, so only the
        // NOTIFY from the other instance (its own pool and connections) can deliver in time.
        await using var subscriberStore = await db.CreateStoreAsync(TestEvents.Registry(), new EventStoreOptions { SubscriptionPollInterval = TimeSpan.FromHours(1) });
        await using var otherSource = db.CreateDataSource();
        await using var writerStore = await db.CreateStoreAsync(TestEvents.Registry(), dataSource: otherSource);
        var start = await subscriberStore.HeadPositionAsync(Ct);
        var stream = TestEvents.NewStream();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(60));

        var received = new List<StoredEvent>();
        var subscriber = Task.Run(async () =>
        {
            await foreach (var e in subscriberStore.SubscribeAsync(start, timeout.Token))
            {
                received.Add(e);
                if (received.Count == 3)
                {
                    return;
                }
            }
        }, Ct);

        // Let the subscriber catch up and go to sleep on the notification first.
        await Task.Delay(500, Ct);
        await writerStore.AppendAsync(stream, ExpectedVersion.NoStream, TestEvents.Note(stream, 1));
        await Task.Delay(200, Ct);
        await writerStore.AppendAsync(stream, ExpectedVersion.Exactly(1), TestEvents.Note(stream, 2), TestEvents.Note(stream, 3));
        await subscriber;

        Assert.Equal([1L, 2L, 3L], received.Select(e => e.Version));
        Assert.All(received, e => Assert.Equal(stream, e.StreamId));
    }

    [Fact]
    public async Task Subscribe_FromAPosition_CatchesUpFromThereOnly()
    {
        await using var store = await db.CreateStoreAsync(TestEvents.Registry());
        var stream = TestEvents.NewStream();
        var first = await store.AppendAsync(stream, ExpectedVersion.NoStream, TestEvents.Note(stream, 1), TestEvents.Note(stream, 2), TestEvents.Note(stream, 3));
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(30));

        var received = new List<long>();
        await foreach (var e in store.SubscribeAsync(first.FirstPosition, timeout.Token))
        {
            received.Add(e.Position);
            if (e.Position == first.LastPosition)
            {
                break;
            }
        }

        Assert.Equal([first.FirstPosition + 1, first.LastPosition], received);
    }

    [Fact]
    public async Task ReadAll_AfterPosition_ReturnsAPageInPositionOrder()
    {
        await using var store = await db.CreateStoreAsync(TestEvents.Registry());
        var stream = TestEvents.NewStream();
        var result = await store.AppendAsync(stream, ExpectedVersion.NoStream, Enumerable.Range(0, 10).Select(i => (object)TestEvents.Note(stream, i)).ToArray());

        var page = await store.ReadAllAsync(result.FirstPosition - 1, 4, Ct);

        Assert.Equal(Enumerable.Range(0, 4).Select(i => result.FirstPosition + i), page.Select(e => e.Position));
    }
}
