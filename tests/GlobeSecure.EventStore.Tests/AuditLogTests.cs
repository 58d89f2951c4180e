using GlobeSecure.Testing;

namespace GlobeSecure.EventStore.Tests;

public sealed class AuditLogTests(PostgresDatabase db) : IClassFixture<PostgresDatabase>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Append_WithAuditEntry_CommitsBothTogether()
    {
        await using var store = await db.CreateStoreAsync(TestEvents.Registry());
        var stream = TestEvents.NewStream();
        var audit = TestEvents.Audit("test.open-case", stream);

        await store.AppendAsync(stream, ExpectedVersion.NoStream, [NewEvent.From(new CaseOpened(stream, "t", TestEvents.At))], audit, cancellationToken: Ct);

        var stored = Assert.Single(await store.ReadAuditAsync(0, 10_000, Ct), e => e.Entry.EntryId == audit.EntryId);
        Assert.Equal(audit, stored.Entry);
        Assert.Equal(32, stored.Hash.Length);
        Assert.Equal(1, await store.StreamVersionAsync(stream, Ct));
    }

    [Fact]
    public async Task RecordAudit_EveryFieldAndOutcome_RoundTripsExactly()
    {
        await using var store = await db.CreateStoreAsync(TestEvents.Registry());
        var entries = new[]
        {
            TestEvents.Audit("test.read", "doc-1", AuditOutcome.Allowed),
            TestEvents.Audit("test.read", "doc-2", AuditOutcome.Denied) with { Reason = "ERROR_REASON_PERMISSION_DENIED" },
            new AuditEntry(Guid.CreateVersion7(), TestEvents.At.AddTicks(7), "test.anonymous", AuditOutcome.Failed),
        };

        foreach (var entry in entries)
        {
            await store.RecordAuditAsync(entry, Ct);
        }

        var stored = (await store.ReadAuditAsync(0, 10_000, Ct)).Where(e => entries.Any(x => x.EntryId == e.Entry.EntryId)).Select(e => e.Entry).ToList();
        Assert.Equal(entries[0], stored[0]);
        Assert.Equal(entries[1], stored[1]);
        // Stored at PostgreSQL's microsecond precision.
        Assert.Equal(entries[2] with { OccurredAt = TestEvents.At }, stored[2]);
        Assert.True((await store.VerifyAuditAsync(Ct)).IsValid);
    }

    [Fact]
    public async Task RecordAudit_ConcurrentRecorders_PositionsAreGapFree()
    {
        await using var store = await db.CreateStoreAsync(TestEvents.Registry());
        var before = (await store.ReadAuditAsync(0, 100_000, Ct)).Count;

        await Task.WhenAll(Enumerable.Range(0, 200).Select(i => store.RecordAuditAsync(TestEvents.Audit("test.read", $"t{i}"), Ct)));

        var all = await store.ReadAuditAsync(0, 100_000, Ct);
        Assert.Equal(before + 200, all.Count);
        Assert.Equal(Enumerable.Range(1, all.Count).Select(i => (long)i), all.Select(e => e.Position));
        Assert.True((await store.VerifyAuditAsync(Ct)).IsValid);
    }
}
