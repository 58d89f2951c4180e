using GlobeSecure.Testing;
using Npgsql;

namespace GlobeSecure.EventStore.Tests;

/// <summary>Counts notes per case in a read model table, inline.</summary>
internal sealed class NoteCountProjection : IInlineProjection
{
    public string Name => "note-count";

    public IReadOnlyList<SchemaMigration> Migrations { get; } =
    [
        new(1, "note counts", "create table {schema}.note_counts (case_id text primary key, notes int not null)"),
    ];

    public bool Handles(Type eventType) => eventType == typeof(NoteAdded);

    public async Task ApplyAsync(ProjectionContext context, IReadOnlyList<StoredEvent> events, CancellationToken cancellationToken)
    {
        foreach (var e in events)
        {
            var note = (NoteAdded)e.Data;
            if (note.Note == "boom")
            {
                throw new InvalidOperationException("projection failed on purpose");
            }

            await using var command = context.CreateCommand($"insert into {context.Schema}.note_counts values ($1, 1) on conflict (case_id) do update set notes = note_counts.notes + 1");
            command.Parameters.Add(new NpgsqlParameter { Value = note.CaseId });
            await command.ExecuteNonQueryAsync(cancellationToken);
        }
    }
}

/// <summary>
/// Keeps every note, in order, through deferred statements only; the table refuses the note
/// "reject". Notes starting with "row:" go through <see cref="ProjectionContext.DeferRow"/>
/// (many rows, one statement), the others through <see cref="ProjectionContext.Defer"/>.
/// </summary>
internal sealed class DeferredNoteProjection(bool declaresOnlyDefers = false) : IInlineProjection
{
    internal static readonly DeferredRows<NoteAdded> Rows = new((schema, notes) =>
    {
        var command = new NpgsqlBatchCommand($"insert into {schema}.deferred_notes (case_id, note) select * from unnest($1::text[], $2::text[])");
        command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = [.. notes.Select(n => n.CaseId)] });
        command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = [.. notes.Select(n => n.Note)] });
        return command;
    });

    public string Name => "deferred-notes";

    /// <summary>When declared, the store applies it before the rows exist and sends everything in one round trip.</summary>
    public bool OnlyDefers => declaresOnlyDefers;

    public IReadOnlyList<SchemaMigration> Migrations { get; } =
    [
        new(1, "notes", "create table {schema}.deferred_notes (seq bigserial primary key, case_id text not null, note text not null check (note <> 'reject'))"),
    ];

    public bool Handles(Type eventType) => eventType == typeof(NoteAdded);

    public Task ApplyAsync(ProjectionContext context, IReadOnlyList<StoredEvent> events, CancellationToken cancellationToken)
    {
        foreach (var e in events)
        {
            var note = (NoteAdded)e.Data;
            if (note.Note.StartsWith("row:", StringComparison.Ordinal))
            {
                context.DeferRow(Rows, note);
                continue;
            }

            var command = new NpgsqlBatchCommand($"insert into {context.Schema}.deferred_notes (case_id, note) values ($1, $2)");
            command.Parameters.Add(new NpgsqlParameter { Value = note.CaseId });
            command.Parameters.Add(new NpgsqlParameter { Value = note.Note });
            context.Defer(command);
        }

        return Task.CompletedTask;
    }
}

public sealed class ProjectionTests(PostgresDatabase db) : IClassFixture<PostgresDatabase>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private Task<PostgresEventStore> StoreAsync() =>
        db.CreateStoreAsync(TestEvents.Registry(), new EventStoreOptions { Projections = [new NoteCountProjection()] });

    /// <summary>The case's count, or null when there is none (also when no store with the counting projection made its table yet).</summary>
    private async Task<int?> NotesAsync(string stream) =>
        await db.ExecuteScalarAsync("select to_regclass('globe.note_counts') is not null") is true
            ? await db.ExecuteScalarAsync($"select notes from globe.note_counts where case_id = '{stream}'") as int?
            : null;

    [Fact]
    public async Task Append_WithInlineProjection_UpdatesTheReadModelInTheSameCommit()
    {
        await using var store = await StoreAsync();
        var stream = TestEvents.NewStream();

        await store.AppendAsync(stream, ExpectedVersion.NoStream, new CaseOpened(stream, "t", TestEvents.At), TestEvents.Note(stream, 1), TestEvents.Note(stream, 2));

        Assert.Equal(2, await NotesAsync(stream));
    }

    [Fact]
    public async Task Append_ProjectionThrows_RollsBackEventsAuditAndReadModel()
    {
        await using var store = await StoreAsync();
        var stream = TestEvents.NewStream();
        await store.AppendAsync(stream, ExpectedVersion.NoStream, TestEvents.Note(stream, 1));
        var head = await store.HeadPositionAsync(Ct);
        var audit = TestEvents.Audit("test.add-note", stream);

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => store.AppendAsync(stream, ExpectedVersion.Exactly(1),
            [NewEvent.From(TestEvents.Note(stream, 2)), NewEvent.From(new NoteAdded(stream, "boom", TestEvents.At))], audit, cancellationToken: Ct));

        Assert.Equal("projection failed on purpose", error.Message);
        Assert.Equal(1, await store.StreamVersionAsync(stream, Ct));
        Assert.Equal(head, await store.HeadPositionAsync(Ct));
        Assert.Equal(1, await NotesAsync(stream));
        Assert.DoesNotContain(await store.ReadAuditAsync(0, 10_000, Ct), e => e.Entry.EntryId == audit.EntryId);
        Assert.True((await store.VerifyEventsAsync(Ct)).IsValid);
    }

    [Fact]
    public async Task Append_ProjectionThrowsInAGroupCommit_OnlyTheFailingAppendIsLost()
    {
        await using var store = await StoreAsync();
        var streams = Enumerable.Range(0, 12).Select(_ => TestEvents.NewStream()).ToArray();

        var outcomes = await Task.WhenAll(streams.Select(async (s, i) =>
        {
            try
            {
                await store.AppendAsync(s, ExpectedVersion.NoStream, new NoteAdded(s, i == 5 ? "boom" : "fine", TestEvents.At));
                return true;
            }
            catch (InvalidOperationException)
            {
                return false;
            }
        }));

        Assert.Equal(11, outcomes.Count(ok => ok));
        Assert.False(outcomes[5]);
        Assert.Null(await NotesAsync(streams[5]));
        Assert.Equal(0, await store.StreamVersionAsync(streams[5], Ct));
        foreach (var s in streams.Where((_, i) => i != 5))
        {
            Assert.Equal(1, await NotesAsync(s));
        }

        Assert.True((await store.VerifyEventsAsync(Ct)).IsValid);
    }

    // alone: the deferring projection is the only one and declares it only defers (rows, its
    // statements and the commit go in one round trip); otherwise beside a projection that runs
    // commands itself (rows first, then the projections, then their statements with the commit).
    private Task<PostgresEventStore> DeferringStoreAsync(bool alone) =>
        db.CreateStoreAsync(TestEvents.Registry(), new EventStoreOptions
        {
            Projections = alone ? [new DeferredNoteProjection(declaresOnlyDefers: true)] : [new NoteCountProjection(), new DeferredNoteProjection()],
        });

    private async Task<string> DeferredNotesAsync(string stream) =>
        (string)(await db.ExecuteScalarAsync($"select coalesce(string_agg(note, ',' order by seq), '') from globe.deferred_notes where case_id = '{stream}'"))!;

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Append_WithDeferredStatements_WritesThemInOrderInTheSameCommit(bool alone)
    {
        await using var store = await DeferringStoreAsync(alone);
        var stream = TestEvents.NewStream();

        await store.AppendAsync(stream, ExpectedVersion.NoStream, new NoteAdded(stream, "first", TestEvents.At), new NoteAdded(stream, "second", TestEvents.At));
        await store.AppendAsync(stream, ExpectedVersion.Exactly(2), new NoteAdded(stream, "third", TestEvents.At));

        Assert.Equal("first,second,third", await DeferredNotesAsync(stream));
        Assert.Equal(alone ? null : 3, await NotesAsync(stream));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Append_DeferredRowsBetweenStatementsAndAcrossAGroupCommit_WrittenInCallOrder(bool alone)
    {
        await using var store = await DeferringStoreAsync(alone);
        var stream = TestEvents.NewStream();
        string[] notes = ["a", "row:b", "row:c", "d", "row:e"];
        await store.AppendAsync(stream, ExpectedVersion.NoStream, [.. notes.Select(n => new NoteAdded(stream, n, TestEvents.At))]);
        var streams = Enumerable.Range(0, 16).Select(_ => TestEvents.NewStream()).ToArray();

        await Task.WhenAll(streams.Select((s, i) => store.AppendAsync(s, ExpectedVersion.NoStream,
            new NoteAdded(s, $"row:{i}", TestEvents.At), new NoteAdded(s, i % 3 == 0 ? $"plain{i}" : $"row:{i}b", TestEvents.At))));

        Assert.Equal("a,row:b,row:c,d,row:e", await DeferredNotesAsync(stream));
        foreach (var (s, i) in streams.Select((s, i) => (s, i)))
        {
            Assert.Equal(i % 3 == 0 ? $"row:{i},plain{i}" : $"row:{i},row:{i}b", await DeferredNotesAsync(s));
        }
    }

    [Fact]
    public void DeferRow_ConsecutiveRowsOfOneKind_BecomeOneStatementInCallOrder()
    {
        var context = new ProjectionContext(new NpgsqlConnection(), "globe");
        var other = new DeferredRows<NoteAdded>((_, rows) => new NpgsqlBatchCommand($"other {rows.Count}"));
        NoteAdded Note(string n) => new("c", n, TestEvents.At);

        context.DeferRow(DeferredNoteProjection.Rows, Note("row:1"));
        context.DeferRow(DeferredNoteProjection.Rows, Note("row:2"));
        context.Defer(new NpgsqlBatchCommand("plain"));
        context.DeferRow(DeferredNoteProjection.Rows, Note("row:3"));
        context.DeferRow(other, Note("x"));
        context.DeferRow(other, Note("y"));
        var taken = context.TakeDeferred();

        Assert.Equal(["unnest", "plain", "unnest", "other 2"], taken.Select(c => c.CommandText.Contains("unnest", StringComparison.Ordinal) ? "unnest" : c.CommandText));
        Assert.Equal(["row:1", "row:2"], (string[])taken[0].Parameters[1].Value!);
        Assert.Equal(["row:3"], (string[])taken[2].Parameters[1].Value!);
        Assert.Empty(context.TakeDeferred());
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Append_DeferredStatementFails_RollsBackEventsAuditAndEveryReadModel(bool alone)
    {
        await using var store = await DeferringStoreAsync(alone);
        var stream = TestEvents.NewStream();
        await store.AppendAsync(stream, ExpectedVersion.NoStream, new NoteAdded(stream, "kept", TestEvents.At));
        var head = await store.HeadPositionAsync(Ct);
        var audit = TestEvents.Audit("test.add-note", stream);

        await Assert.ThrowsAsync<PostgresException>(() => store.AppendAsync(stream, ExpectedVersion.Exactly(1),
            [NewEvent.From(new NoteAdded(stream, "lost", TestEvents.At)), NewEvent.From(new NoteAdded(stream, "reject", TestEvents.At))], audit, cancellationToken: Ct));

        Assert.Equal(1, await store.StreamVersionAsync(stream, Ct));
        Assert.Equal(head, await store.HeadPositionAsync(Ct));
        Assert.Equal("kept", await DeferredNotesAsync(stream));
        Assert.Equal(alone ? null : 1, await NotesAsync(stream));
        Assert.DoesNotContain(await store.ReadAuditAsync(0, 10_000, Ct), e => e.Entry.EntryId == audit.EntryId);
        await store.AppendAsync(stream, ExpectedVersion.Exactly(1), new NoteAdded(stream, "after", TestEvents.At));
        Assert.Equal("kept,after", await DeferredNotesAsync(stream));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Append_DeferredStatementFailsInAGroupCommit_OnlyTheFailingAppendIsLost(bool alone)
    {
        await using var store = await DeferringStoreAsync(alone);
        var streams = Enumerable.Range(0, 12).Select(_ => TestEvents.NewStream()).ToArray();

        var outcomes = await Task.WhenAll(streams.Select(async (s, i) =>
        {
            try
            {
                await store.AppendAsync(s, ExpectedVersion.NoStream, new NoteAdded(s, i == 5 ? "reject" : "fine", TestEvents.At));
                return true;
            }
            catch (PostgresException)
            {
                return false;
            }
        }));

        Assert.Equal(11, outcomes.Count(ok => ok));
        Assert.False(outcomes[5]);
        Assert.Equal(string.Empty, await DeferredNotesAsync(streams[5]));
        Assert.Equal(0, await store.StreamVersionAsync(streams[5], Ct));
        foreach (var s in streams.Where((_, i) => i != 5))
        {
            Assert.Equal("fine", await DeferredNotesAsync(s));
        }

        Assert.True((await store.VerifyEventsAsync(Ct)).IsValid);
    }
}
