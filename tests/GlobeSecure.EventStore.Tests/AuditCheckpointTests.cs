using GlobeSecure.Crypto;
using GlobeSecure.Testing;
using Npgsql;

namespace GlobeSecure.EventStore.Tests;

public sealed class AuditCheckpointTests(PostgresDatabase db) : IClassFixture<PostgresDatabase>
{
    private static readonly Guid Network = Guid.Parse("e519386f-0371-4fd5-be54-c13dc5511e95");
    private static readonly DateTimeOffset SignedAt = new(2026, 11, 24, 9, 0, 0, TimeSpan.Zero);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static EventStoreOptions FreshSchema() => new() { Schema = "cp_" + Guid.NewGuid().ToString("N")[..12] };

    private Task TamperAsync(string schema, string table, string sql) => db.ExecuteScalarAsync($"""
        alter table {schema}.{table} disable trigger {table}_append_only;
        {sql};
        alter table {schema}.{table} enable trigger {table}_append_only;
        """);

    private static StoredCheckpoint Sign(SigningKeyPair key, long position, ReadOnlyMemory<byte> hash, bool cut = false) =>
        new(position, hash, SignedAt, key.PublicKey.Fingerprint, CheckpointSignature.Sign(key, Network, position, hash.Span, SignedAt), cut);

    private static Func<StoredCheckpoint, string?> Trusting(SigningKeyPair key) => c =>
        CheckpointSignature.Verify(key.PublicKey, Network, c.Position, c.Hash.Span, c.SignedAt, c.KeyId, c.Signature.Span) ? null : "the signature does not verify";

    private async Task<(PostgresEventStore Store, string Schema)> ChainAsync(int entries)
    {
        var options = FreshSchema();
        var store = await db.CreateStoreAsync(TestEvents.Registry(), options);
        for (var i = 0; i < entries; i++)
        {
            await store.RecordAuditAsync(TestEvents.Audit("test.read", $"doc-{i}"), Ct);
        }

        return (store, options.Schema);
    }

    private static async Task<ReadOnlyMemory<byte>> LinkAsync(PostgresEventStore store, long position) =>
        (await store.ReadAuditAsync(position - 1, 1, Ct))[0].Hash;

    [Fact]
    public async Task VerifyAudit_SignedCheckpoints_IsValidAndCountsThem()
    {
        using var key = SigningKeyPair.Generate();
        var (store, _) = await ChainAsync(6);
        await using var _ = store;
        Assert.True(await store.RecordCheckpointAsync(Sign(key, 3, await LinkAsync(store, 3)), Ct));
        Assert.True(await store.RecordCheckpointAsync(Sign(key, 6, await LinkAsync(store, 6)), Ct));

        var result = await store.VerifyAuditAsync(Trusting(key), Ct);

        Assert.True(result.IsValid, result.Problem);
        Assert.Equal(6, result.Checked);
        Assert.Equal(2, result.Checkpoints);
        Assert.Equal([3L, 6L], (await store.ReadCheckpointsAsync(0, 10, Ct)).Select(c => c.Position));
        Assert.Equal(6, (await store.ReadLastCheckpointAsync(cancellationToken: Ct))!.Position);
    }

    [Fact]
    public async Task RecordCheckpoint_HashNotTheStoredLinkOrPositionTaken_StoresNothing()
    {
        using var key = SigningKeyPair.Generate();
        var (store, _) = await ChainAsync(3);
        await using var _ = store;

        Assert.False(await store.RecordCheckpointAsync(Sign(key, 2, await LinkAsync(store, 3)), Ct));
        Assert.True(await store.RecordCheckpointAsync(Sign(key, 2, await LinkAsync(store, 2)), Ct));
        Assert.False(await store.RecordCheckpointAsync(Sign(key, 2, await LinkAsync(store, 2)) with { SignedAt = SignedAt.AddHours(1) }, Ct));

        Assert.Single(await store.ReadCheckpointsAsync(0, 10, Ct));
    }

    [Fact]
    public async Task VerifyAudit_CheckpointHashChangedWithSql_NamesItsPosition()
    {
        using var key = SigningKeyPair.Generate();
        var (store, schema) = await ChainAsync(5);
        await using var _ = store;
        await store.RecordCheckpointAsync(Sign(key, 4, await LinkAsync(store, 4)), Ct);

        await TamperAsync(schema, "audit_checkpoints", $"update {schema}.audit_checkpoints set hash = decode(repeat('ab', 32), 'hex') where position = 4");
        var withoutKeys = await store.VerifyAuditAsync(Ct);
        var withKeys = await store.VerifyAuditAsync(Trusting(key), Ct);

        Assert.Equal(4, withoutKeys.FirstBadPosition);
        Assert.Contains("another hash", withoutKeys.Problem, StringComparison.Ordinal);
        Assert.Equal(4, withKeys.FirstBadPosition);
        Assert.Contains("signature", withKeys.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public async Task VerifyAudit_CheckpointSignedByAnUnknownKey_NamesItsPosition()
    {
        using var key = SigningKeyPair.Generate();
        using var stranger = SigningKeyPair.Generate();
        var (store, _) = await ChainAsync(4);
        await using var _ = store;
        await store.RecordCheckpointAsync(Sign(key, 2, await LinkAsync(store, 2)), Ct);
        await store.RecordCheckpointAsync(Sign(stranger, 3, await LinkAsync(store, 3)), Ct);

        var result = await store.VerifyAuditAsync(Trusting(key), Ct);

        Assert.False(result.IsValid);
        Assert.Equal(3, result.FirstBadPosition);
    }

    [Fact]
    public async Task VerifyAudit_EntryChangedAndRelinkedUpToTheHead_IsNamedByTheCheckpoint()
    {
        // An operator who rewrites an entry and recomputes every later link (and the head) leaves a
        // chain that recomputes; only the signed checkpoint still holds the old link.
        using var key = SigningKeyPair.Generate();
        var (store, schema) = await ChainAsync(5);
        await using var _ = store;
        await store.RecordCheckpointAsync(Sign(key, 4, await LinkAsync(store, 4)), Ct);

        await TamperAsync(schema, "audit", $"update {schema}.audit set outcome = 'denied' where position = 3");
        ReadOnlyMemory<byte> previous = await LinkAsync(store, 2);
        foreach (var entry in await store.ReadAuditAsync(2, 10, Ct))
        {
            var link = HashChain.AuditLink(previous.Span, entry.Position, entry.Entry);
            await TamperAsync(schema, "audit", $"update {schema}.audit set hash = decode('{Convert.ToHexStringLower(link)}', 'hex') where position = {entry.Position}");
            await db.ExecuteScalarAsync($"update {schema}.heads set audit_hash = decode('{Convert.ToHexStringLower(link)}', 'hex')");
            previous = link;
        }

        var result = await store.VerifyAuditAsync(Trusting(key), Ct);

        Assert.False(result.IsValid);
        Assert.Equal(4, result.FirstBadPosition);
        Assert.Contains("another hash", result.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public async Task PurgeAuditThrough_Position3_DeletesThePrefixAndTheRestVerifiesFromTheCut()
    {
        using var key = SigningKeyPair.Generate();
        var (store, schema) = await ChainAsync(6);
        await using var _ = store;
        await store.RecordCheckpointAsync(Sign(key, 2, await LinkAsync(store, 2)), Ct);

        var deleted = await store.PurgeAuditThroughAsync(3, c => Sign(key, c.Position, c.Hash, cut: true), Ct);

        Assert.Equal(3, deleted);
        Assert.Equal(4, (await store.ReadAuditAsync(0, 10, Ct))[0].Position);
        var cut = await store.ReadLastCheckpointAsync(retentionCutOnly: true, Ct);
        Assert.Equal(3, cut!.Position);
        var result = await store.VerifyAuditAsync(Trusting(key), Ct);
        Assert.True(result.IsValid, result.Problem);
        Assert.Equal(3, result.Checked);
        Assert.Equal(2, result.Checkpoints);

        // The guard is back for everyone else, and the chain after the cut is still checked.
        var refused = await Assert.ThrowsAsync<PostgresException>(() => db.ExecuteScalarAsync($"delete from {schema}.audit where position = 4"));
        Assert.Contains("append-only", refused.MessageText, StringComparison.Ordinal);
        await TamperAsync(schema, "audit", $"update {schema}.audit set action = 'forged' where position = 5");
        Assert.Equal(5, (await store.VerifyAuditAsync(Trusting(key), Ct)).FirstBadPosition);
    }

    [Fact]
    public async Task PurgeAuditThrough_PlainCheckpointAtThatPosition_CutsJustBeforeIt()
    {
        using var key = SigningKeyPair.Generate();
        var (store, _) = await ChainAsync(5);
        await using var _ = store;
        await store.RecordCheckpointAsync(Sign(key, 3, await LinkAsync(store, 3)), Ct);

        var deleted = await store.PurgeAuditThroughAsync(3, c => Sign(key, c.Position, c.Hash, cut: true), Ct);

        Assert.Equal(2, deleted);
        Assert.Equal(2, (await store.ReadLastCheckpointAsync(retentionCutOnly: true, Ct))!.Position);
        Assert.True((await store.VerifyAuditAsync(Trusting(key), Ct)).IsValid);
    }

    [Fact]
    public async Task VerifyAudit_PrefixDeletedWithoutACut_NamesPositionOne()
    {
        var (store, schema) = await ChainAsync(4);
        await using var _ = store;

        await TamperAsync(schema, "audit", $"delete from {schema}.audit where position <= 2");
        var result = await store.VerifyAuditAsync(Ct);

        Assert.Equal(1, result.FirstBadPosition);
        Assert.Contains("missing", result.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ServerKeys_RecordedTwice_ListedOnce()
    {
        using var key = SigningKeyPair.Generate();
        var (store, _) = await ChainAsync(0);
        await using var _ = store;
        var stored = new StoredServerKey(key.PublicKey.Fingerprint, key.PublicKey.ToArray(), "audit-checkpoint", SignedAt);

        await store.RecordServerKeyAsync(stored, Ct);
        await store.RecordServerKeyAsync(stored with { FirstUsedAt = SignedAt.AddDays(1) }, Ct);

        var keys = await store.ReadServerKeysAsync(Ct);
        Assert.Equal(SignedAt, Assert.Single(keys).FirstUsedAt);
    }
}
