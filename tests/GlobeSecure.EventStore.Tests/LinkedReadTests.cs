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
    [Fact]
    public async Task ReadAuditLinked_FiltersAndScopes_OnlyMatchingEntriesInOrderEachWithThePreviousEntrysLink()
    {
        await using var store = await db.CreateStoreAsync(TestEvents.Registry());
        var prefix = $"/test.{Guid.NewGuid():N}/";
        var (user, device, authority, other) = (Guid.CreateVersion7(), Guid.CreateVersion7(), Guid.CreateVersion7(), Guid.CreateVersion7());
        var owned = Guid.CreateVersion7().ToString();
        AuditEntry Entry(string action, string? target, AuditOutcome outcome, Guid? actorAuthority, int minutes) =>
            TestEvents.Audit(prefix + action, target, outcome) with
            {
                ActorUserId = user, ActorDeviceId = device, ActorAuthorityId = actorAuthority, OccurredAt = TestEvents.At.AddMinutes(minutes),
            };
        var recorded = new List<StoredAuditEntry>
        {
            await store.RecordAuditAsync(Entry("Read", owned, AuditOutcome.Allowed, other, 1), Ct),
            await store.RecordAuditAsync(Entry("Read", "elsewhere", AuditOutcome.Denied, authority, 2), Ct),
            await store.RecordAuditAsync(Entry("Write", $"{owned}/7", AuditOutcome.Denied, other, 3), Ct),
            await store.RecordAuditAsync(Entry("Write", "elsewhere", AuditOutcome.Failed, other, 4), Ct),
            await store.RecordAuditAsync(TestEvents.Audit(prefix + "Read", owned) with { OccurredAt = TestEvents.At.AddMinutes(5) }, Ct),
        };
        var all = new AuditSelection { ActionPrefix = prefix };
        // The rule's placeholders: the target's leading uuid, the authority, the store's schema.
        var scope = new AuditScope(authority, $"{{target}} = '{owned}'::uuid and {{authority}} = '{authority}'::uuid and exists (select 1 from {{schema}}.heads)");
        async Task<long[]> Positions(AuditSelection selection) => [.. (await store.ReadAuditLinkedAsync(selection, 100, Ct)).Select(l => l.Entry.Position)];
        long[] At(params int[] indexes) => [.. indexes.Select(i => recorded[i].Position)];

        var linked = await store.ReadAuditLinkedAsync(all, 100, Ct);

        Assert.Equal(At(0, 1, 2, 3, 4), linked.Select(l => l.Entry.Position));
        Assert.All(linked, l => Assert.Equal(l.Entry.Hash.ToArray(), HashChain.AuditLink(l.Previous.Span, l.Entry.Position, l.Entry.Entry)));
        Assert.Equal(At(0, 1), await Positions(all with { ActionPrefix = null, Action = prefix + "Read", ActorUserId = user }));
        Assert.Empty(await Positions(all with { ActionPrefix = null, Action = prefix + "Rea" }));
        Assert.Equal(At(1, 2), await Positions(all with { Outcome = AuditOutcome.Denied }));
        Assert.Equal(At(0, 4), await Positions(all with { Target = owned }));
        Assert.Equal(At(0, 1, 2, 3), await Positions(all with { ActorDeviceId = device }));
        Assert.Equal(At(1, 2), await Positions(all with { From = TestEvents.At.AddMinutes(2), To = TestEvents.At.AddMinutes(4) }));
        Assert.Equal(At(2, 3), await Positions(all with { AfterPosition = recorded[1].Position, ThroughPosition = recorded[3].Position }));
        // A scope: the authority's own actions, or targets its rule owns (the id alone, or qualified after '/').
        Assert.Equal(At(0, 1, 2, 4), await Positions(all with { Scopes = [scope] }));
        Assert.Equal(At(1), await Positions(all with { Scopes = [scope, scope with { TargetRule = "false" }] }));
        Assert.Equal(new AuditRange(4, recorded[0].Position, recorded[4].Position), await store.AuditRangeAsync(all with { Scopes = [scope] }, Ct));
        Assert.False((await store.AuditRangeAsync(all with { Scopes = [scope] }, Ct)).IsContiguous);
        Assert.Equal(recorded[4].Position, await store.AuditHeadPositionAsync(Ct));
        Assert.Equal(At(0, 1), (await store.ReadAuditLinkedAsync(all, 2, Ct)).Select(l => l.Entry.Position));
    }
}
