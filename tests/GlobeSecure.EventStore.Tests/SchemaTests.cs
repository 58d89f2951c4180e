using GlobeSecure.Testing;

namespace GlobeSecure.EventStore.Tests;

public sealed class SchemaTests(PostgresDatabase db) : IClassFixture<PostgresDatabase>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Migrate_Twice_SecondRunAppliesNothingAndKeepsData()
    {
        var options = new EventStoreOptions { Schema = "schema_twice" };
        await using var store = await db.CreateStoreAsync(TestEvents.Registry(), options);
        var stream = TestEvents.NewStream();
        await store.AppendAsync(stream, ExpectedVersion.NoStream, TestEvents.Note(stream, 1));

        var applied = await store.MigrateAsync(Ct);

        Assert.Equal(0, applied);
        Assert.Equal(PostgresEventStore.CoreSchemaVersion, await store.SchemaVersionAsync(Ct));
        Assert.Equal(1, await store.StreamVersionAsync(stream, Ct));
    }

    [Fact]
    public async Task Migrate_ManyProcessesAtOnce_AppliesEachStepOnce()
    {
        var options = new EventStoreOptions { Schema = "schema_race", Projections = [new NoteCountProjection()] };
        var sources = Enumerable.Range(0, 4).Select(_ => db.CreateDataSource()).ToArray();
        var stores = sources.Select(s => new PostgresEventStore(s, TestEvents.Registry(), options)).ToArray();
        try
        {
            var applied = await Task.WhenAll(stores.Select(s => s.MigrateAsync(Ct)));

            Assert.Equal(PostgresEventStore.CoreSchemaVersion + 1, applied.Sum());
            Assert.Equal((long)PostgresEventStore.CoreSchemaVersion + 1, await db.ExecuteScalarAsync("select count(*) from schema_race.schema_version"));
            Assert.Equal(1L, await db.ExecuteScalarAsync("select count(*) from schema_race.schema_version where component = 'projection:note-count'"));
        }
        finally
        {
            foreach (var store in stores)
            {
                await store.DisposeAsync();
            }

            foreach (var source in sources)
            {
                await source.DisposeAsync();
            }
        }
    }

    [Fact]
    public void Options_BadSchemaName_IsRefusedWithAClearMessage()
    {
        var error = Assert.Throws<ArgumentException>(() => new PostgresEventStore(db.DataSource, TestEvents.Registry(), new EventStoreOptions { Schema = "Robert'); drop table x;--" }));

        Assert.Contains("lower-case identifier", error.Message, StringComparison.Ordinal);
    }
}
