using GlobeSecure.Testing;
using Npgsql;

namespace GlobeSecure.EventStore.Tests;

/// <summary>
/// Titles of opened cases, derived from events, beside a table of its own the projection keeps
/// (filled by hand here, as document chunks are by uploads): a rebuild replays the first and
/// leaves the second alone.
/// </summary>
internal sealed class CaseTitleProjection : IInlineProjection
{
    public string Name => "case-titles";

    public IReadOnlyList<SchemaMigration> Migrations { get; } =
    [
        new(1, "case titles, and kept blobs", """
            create table {schema}.case_titles (case_id text primary key, title text not null, closed boolean not null default false);
            create table {schema}.kept_blobs (id int primary key, data text not null);
            """),
    ];

    public IReadOnlyList<string> KeptTables { get; } = ["kept_blobs"];

    public bool Handles(Type eventType) => eventType == typeof(CaseOpened) || eventType == typeof(CaseClosed);

    public async Task ApplyAsync(ProjectionContext context, IReadOnlyList<StoredEvent> events, CancellationToken cancellationToken)
    {
        foreach (var e in events)
        {
            await using var command = e.Data switch
            {
                CaseOpened opened => context.CreateCommand($"insert into {context.Schema}.case_titles values ($1, $2, false)"),
                _ => context.CreateCommand($"update {context.Schema}.case_titles set closed = true where case_id = $1"),
            };
            command.Parameters.Add(new NpgsqlParameter { Value = e.StreamId });
            if (e.Data is CaseOpened o)
            {
                command.Parameters.Add(new NpgsqlParameter { Value = o.Title });
            }

            await command.ExecuteNonQueryAsync(cancellationToken);
        }
    }
}

/// <summary><see cref="PostgresEventStore.RebuildProjectionsAsync"/> on a database of its own.</summary>
public sealed class ProjectionRebuildTests(PostgresDatabase db) : IClassFixture<PostgresDatabase>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    // Each test in a schema of its own: a rebuild replays every event of its store.
    private const string Story = "rebuild_story";
    private const string Failing = "rebuild_failing";

    private static readonly string[] Tables = ["case_titles", "deferred_notes", "kept_blobs", "note_counts"];

    private async Task<string> SnapshotAsync()
    {
        var parts = new List<string>();
        foreach (var table in Tables)
        {
            parts.Add($"{table}: " + await db.ExecuteScalarAsync($"select coalesce(string_agg(t::text, ';' order by t::text), '') from {Story}.{table} t"));
        }

        return string.Join("\n", parts);
    }

    [Fact]
    public async Task Rebuild_AfterGroupCommitsAndDamage_GivesTheLiveRowsBackKeepsKeptTablesAndAppendsGoOn()
    {
        await using var store = await db.CreateStoreAsync(TestEvents.Registry(), new EventStoreOptions
        {
            Schema = Story,
            Projections = [new NoteCountProjection(), new DeferredNoteProjection(declaresOnlyDefers: true), new CaseTitleProjection()],
        });
        var streams = Enumerable.Range(0, 12).Select(_ => TestEvents.NewStream()).ToArray();
        await Task.WhenAll(streams.Select((s, i) => store.AppendAsync(s, ExpectedVersion.NoStream,
            new CaseOpened(s, $"case {i}", TestEvents.At), new NoteAdded(s, $"row:{i}", TestEvents.At), new NoteAdded(s, $"plain {i}", TestEvents.At))));
        await Task.WhenAll(streams.Where((_, i) => i % 3 == 0).Select(s => store.AppendAsync(s, ExpectedVersion.Exactly(3), new CaseClosed(s, TestEvents.At))));
        await db.ExecuteScalarAsync($"insert into {Story}.kept_blobs values (1, 'uploaded, not an event')");
        var live = await SnapshotAsync();

        await db.ExecuteScalarAsync($"delete from {Story}.note_counts where notes > 0");
        await db.ExecuteScalarAsync($"insert into {Story}.deferred_notes (case_id, note) values ('junk', 'advances the sequence')");
        await db.ExecuteScalarAsync($"update {Story}.case_titles set title = 'changed'");
        Assert.NotEqual(live, await SnapshotAsync());

        var rebuilt = await store.RebuildProjectionsAsync(TimeSpan.FromSeconds(10), cancellationToken: Ct);

        Assert.Equal(live, await SnapshotAsync());
        Assert.Equal(await store.HeadPositionAsync(Ct), rebuilt.HeadPosition);
        Assert.Equal(rebuilt.HeadPosition, rebuilt.Events);
        Assert.Equal(["note_counts", "deferred_notes", "case_titles"], rebuilt.Tables.Select(t => t.Table));
        Assert.Equal([12L, 24L, 12L], rebuilt.Tables.Select(t => t.Rows));
        Assert.Equal(["kept_blobs"], rebuilt.Kept);

        // The writer goes on from the same heads.
        await store.AppendAsync(streams[1], ExpectedVersion.Exactly(3), new NoteAdded(streams[1], "after", TestEvents.At));
        Assert.Equal(3, await db.ExecuteScalarAsync($"select notes from {Story}.note_counts where case_id = '{streams[1]}'"));
    }

    [Fact]
    public async Task Rebuild_ProjectionFails_ChangesNothing()
    {
        await using var store = await db.CreateStoreAsync(TestEvents.Registry(), new EventStoreOptions { Schema = Failing, Projections = [new NoteCountProjection()] });
        var stream = TestEvents.NewStream();
        await store.AppendAsync(stream, ExpectedVersion.NoStream, TestEvents.Note(stream, 1));
        var before = await db.ExecuteScalarAsync($"select count(*) from {Failing}.note_counts");
        // A store whose projection now refuses what the log holds: the replay throws, the transaction rolls back.
        await using var failing = await db.CreateStoreAsync(TestEvents.Registry(), new EventStoreOptions { Schema = Failing, Projections = [new RefusingNoteProjection()] });

        await Assert.ThrowsAsync<InvalidOperationException>(() => failing.RebuildProjectionsAsync(TimeSpan.FromSeconds(10), cancellationToken: Ct));

        Assert.Equal(before, await db.ExecuteScalarAsync($"select count(*) from {Failing}.note_counts"));
    }

    /// <summary>Owns note_counts as <see cref="NoteCountProjection"/> does, but throws on every note.</summary>
    private sealed class RefusingNoteProjection : IInlineProjection
    {
        public string Name => "note-count";

        public IReadOnlyList<SchemaMigration> Migrations { get; } = new NoteCountProjection().Migrations;

        public bool Handles(Type eventType) => eventType == typeof(NoteAdded);

        public Task ApplyAsync(ProjectionContext context, IReadOnlyList<StoredEvent> events, CancellationToken cancellationToken) =>
            throw new InvalidOperationException("refused on purpose");
    }
}
