using GlobeSecure.Testing;
using Npgsql;

namespace GlobeSecure.EventStore.Tests;

public sealed class TamperEvidenceTests(PostgresDatabase db) : IClassFixture<PostgresDatabase>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    // Every test here tampers, so each gets its own schema to keep the others' chains intact.
    private static EventStoreOptions FreshSchema() => new() { Schema = "tamper_" + Guid.NewGuid().ToString("N")[..12] };

    /// <summary>Plays an operator with database rights going around the append-only guard.</summary>
    private Task TamperAsync(string schema, string table, string sql) => db.ExecuteScalarAsync($"""
        alter table {schema}.{table} disable trigger {table}_append_only;
        {sql};
        alter table {schema}.{table} enable trigger {table}_append_only;
        """);

    [Fact]
    public async Task VerifyEvents_UntouchedChain_IsValid()
    {
        await using var store = await db.CreateStoreAsync(TestEvents.Registry(), FreshSchema());
        var stream = TestEvents.NewStream();
        await store.AppendAsync(stream, ExpectedVersion.NoStream, TestEvents.Note(stream, 1), TestEvents.Note(stream, 2));
        await store.AppendAsync(stream, ExpectedVersion.Exactly(2), [NewEvent.From(TestEvents.Note(stream, 3))], metadata: new EventMetadata("trace", Guid.CreateVersion7()), cancellationToken: Ct);

        var result = await store.VerifyEventsAsync(Ct);

        Assert.True(result.IsValid, result.Problem);
        Assert.Equal(3, result.Checked);
        Assert.Null(result.FirstBadPosition);
    }

    [Fact]
    public async Task VerifyEvents_OneEventsDataChangedWithSql_ReportsExactlyThatPosition()
    {
        var options = FreshSchema();
        await using var store = await db.CreateStoreAsync(TestEvents.Registry(), options);
        var stream = TestEvents.NewStream();
        await store.AppendAsync(stream, ExpectedVersion.NoStream, Enumerable.Range(0, 10).Select(i => (object)TestEvents.Note(stream, i)).ToArray());

        await TamperAsync(options.Schema, "events", $$"""update {{options.Schema}}.events set data = '{"caseId":"{{stream}}","note":"forged","addedAt":"2026-11-24T09:00:00+00:00"}' where position = 6""");
        var result = await store.VerifyEventsAsync(Ct);

        Assert.False(result.IsValid);
        Assert.Equal(6, result.FirstBadPosition);
        Assert.Contains("hash does not match", result.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public async Task VerifyEvents_MiddleEventDeleted_ReportsTheMissingPosition()
    {
        var options = FreshSchema();
        await using var store = await db.CreateStoreAsync(TestEvents.Registry(), options);
        var stream = TestEvents.NewStream();
        await store.AppendAsync(stream, ExpectedVersion.NoStream, Enumerable.Range(0, 5).Select(i => (object)TestEvents.Note(stream, i)).ToArray());

        await TamperAsync(options.Schema, "events", $"delete from {options.Schema}.events where position = 3");
        var result = await store.VerifyEventsAsync(Ct);

        Assert.Equal(3, result.FirstBadPosition);
        Assert.Contains("missing", result.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public async Task VerifyEvents_LastEventDeleted_ReportsTheTruncatedTail()
    {
        var options = FreshSchema();
        await using var store = await db.CreateStoreAsync(TestEvents.Registry(), options);
        var stream = TestEvents.NewStream();
        await store.AppendAsync(stream, ExpectedVersion.NoStream, Enumerable.Range(0, 4).Select(i => (object)TestEvents.Note(stream, i)).ToArray());

        await TamperAsync(options.Schema, "events", $"delete from {options.Schema}.events where position = 4");
        var result = await store.VerifyEventsAsync(Ct);

        Assert.Equal(4, result.FirstBadPosition);
    }

    [Fact]
    public async Task VerifyAudit_OneEntryChangedWithSql_ReportsExactlyThatPosition()
    {
        var options = FreshSchema();
        await using var store = await db.CreateStoreAsync(TestEvents.Registry(), options);
        for (var i = 0; i < 5; i++)
        {
            await store.RecordAuditAsync(TestEvents.Audit("test.read", $"doc-{i}", i % 2 == 0 ? AuditOutcome.Allowed : AuditOutcome.Denied), Ct);
        }

        Assert.True((await store.VerifyAuditAsync(Ct)).IsValid);
        await TamperAsync(options.Schema, "audit", $"update {options.Schema}.audit set outcome = 'allowed' where position = 4");
        var result = await store.VerifyAuditAsync(Ct);

        Assert.False(result.IsValid);
        Assert.Equal(4, result.FirstBadPosition);
    }

    [Fact]
    public async Task History_UpdateOrDeleteThroughSql_IsRefusedByTheAppendOnlyGuard()
    {
        var options = FreshSchema();
        await using var store = await db.CreateStoreAsync(TestEvents.Registry(), options);
        var stream = TestEvents.NewStream();
        await store.AppendAsync(stream, ExpectedVersion.NoStream, TestEvents.Note(stream, 1));
        await store.RecordAuditAsync(TestEvents.Audit("test.read"), Ct);

        var update = await Assert.ThrowsAsync<PostgresException>(() => db.ExecuteScalarAsync($"update {options.Schema}.events set type = 'x'"));
        var delete = await Assert.ThrowsAsync<PostgresException>(() => db.ExecuteScalarAsync($"delete from {options.Schema}.audit"));

        Assert.Contains("append-only", update.MessageText, StringComparison.Ordinal);
        Assert.Contains("append-only", delete.MessageText, StringComparison.Ordinal);
        Assert.True((await store.VerifyEventsAsync(Ct)).IsValid);
    }
}
