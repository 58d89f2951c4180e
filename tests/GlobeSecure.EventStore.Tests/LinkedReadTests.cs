using GlobeSecure.Testing;

namespace GlobeSecure.EventStore.Tests;

/// <summary>Reads that carry each entry's predecessor link, so that one target's entries can be re-checked without the rest of the chain.</summary>
public sealed class LinkedReadTests(PostgresDatabase db) : IClassFixture<PostgresDatabase>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task ReadAuditOfTarget_InterleavedTargets_OnlyThatTargetEachWithThePreviousEntrysLink()
    {
        await using var store = await db.CreateStoreAsync(TestEvents.Registry());
        var target = $"req-{Guid.NewGuid():N}";
        for (var i = 0; i < 3; i++)
        {
            await store.RecordAuditAsync(TestEvents.Audit("test.read", $"other-{i}"), Ct);
            await store.RecordAuditAsync(TestEvents.Audit("test.read", target), Ct);
        }

        var all = await store.ReadAuditAsync(0, 100_000, Ct);
        var linked = await store.ReadAuditOfTargetAsync(target, cancellationToken: Ct);

        Assert.Equal(3, linked.Count);
        Assert.All(linked, l =>
        {
            Assert.Equal(target, l.Entry.Entry.Target);
            Assert.Equal(all.Single(a => a.Position == l.Entry.Position - 1).Hash.ToArray(), l.Previous.ToArray());
            Assert.Equal(l.Entry.Hash.ToArray(), HashChain.AuditLink(l.Previous.Span, l.Entry.Position, l.Entry.Entry));
        });
        Assert.Equal(2, (await store.ReadAuditOfTargetAsync(target, 2, Ct)).Count);
    }

    [Fact]
    public async Task ReadStreamLinked_StreamBetweenOthers_EveryLinkRecomputesFromItsPredecessor()
    {
        await using var store = await db.CreateStoreAsync(TestEvents.Registry());
        var stream = TestEvents.NewStream();
        await store.AppendAsync(stream, ExpectedVersion.NoStream, [NewEvent.From(new CaseOpened(stream, "t", TestEvents.At))],
            metadata: new EventMetadata("trace-1", Guid.CreateVersion7()), cancellationToken: Ct);
        var other = TestEvents.NewStream();
        await store.AppendAsync(other, ExpectedVersion.NoStream, [NewEvent.From(new CaseOpened(other, "u", TestEvents.At))], cancellationToken: Ct);
        await store.AppendAsync(stream, ExpectedVersion.Exactly(1), [NewEvent.From(new CaseOpened(stream, "v", TestEvents.At))], cancellationToken: Ct);

        var linked = await store.ReadStreamLinkedAsync(stream, Ct);

        Assert.Equal([1L, 2], linked.Select(l => l.Event.Version));
        Assert.NotNull(linked[0].MetadataJson);
        Assert.Null(linked[1].MetadataJson);
        Assert.All(linked, l => Assert.Equal(l.Event.Hash.ToArray(), HashChain.EventLink(l.Previous.Span, l.Event.Position, l.Event.EventId, l.Event.StreamId,
            l.Event.Version, l.Event.Type, l.Event.Json, l.MetadataJson, l.Event.RecordedAt)));
    }
}
