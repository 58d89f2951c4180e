using System.Diagnostics;
using GlobeSecure.Client;
using GlobeSecure.Crypto;
using GlobeSecure.EventStore;
using Npgsql;
using NpgsqlTypes;

using static GlobeSecure.Benchmarks.Format;

namespace GlobeSecure.Benchmarks;

/// <summary>
/// Audit export and verification rates over a stored chain of <c>--audit-entries</c> entries
/// (default 1 million), each next to a raw baseline on the same data in the same run: the export
/// (the store's pages written as JSON Lines by AuditExportWriter) against a raw
/// <c>COPY (select … from audit order by position) TO STDOUT</c>; the server's verification
/// (PostgresEventStore.VerifyAuditAsync with every checkpoint's signature) and the offline one
/// (AuditExportVerifier over the exported file) against raw BLAKE2b-256 of every entry's
/// previous-hash-and-canonical bytes (the hashing floor of any verifier).
/// </summary>
internal static class AuditBenchmark
{
    public const string Schema = "bench_audit";
    private static readonly Guid Network = Guid.CreateVersion7();

    public static async Task<int> RunAsync(BenchSettings settings)
    {
        var count = settings.AuditEntries;
        await using var dataSource = NpgsqlDataSource.Create(settings.ConnectionString!);
        await using (var drop = dataSource.CreateCommand($"drop schema if exists {Schema} cascade"))
        {
            await drop.ExecuteNonQueryAsync();
        }

        await using var store = await PostgresEventStore.CreateAsync(dataSource, new EventTypeRegistry(), new EventStoreOptions { Schema = Schema });
        using var key = SigningKeyPair.Generate();
        var clock = Stopwatch.StartNew();
        var canonical = await FillAsync(dataSource, store, key, count);
        Progress($"audit: {count:N0} entries stored (COPY) and checkpointed in {clock.Elapsed.TotalSeconds:0.0} s");

        var path = Path.Combine(Path.GetTempPath(), $"globe-bench-audit-{Environment.ProcessId}.jsonl");
        var export = new List<double>();
        var copy = new List<double>();
        var serverVerify = new List<double>();
        var offlineVerify = new List<double>();
        var blake = new List<double>();
        long exportBytes = 0;
        try
        {
            for (var rep = 0; rep < settings.Repeats; rep++)
            {
                var m = await TimeAsync(() => ExportAsync(store, key, path, count));
                exportBytes = new FileInfo(path).Length;
                export.Add(count / m);
                Progress($"[{rep + 1}/{settings.Repeats}] export (store pages → JSON Lines file): {Rate(count / m)} entries/s");
                m = await TimeAsync(() => CopyAsync(dataSource, count));
                copy.Add(count / m);
                Progress($"[{rep + 1}/{settings.Repeats}] raw COPY of the audit table: {Rate(count / m)} entries/s");
                m = await TimeAsync(async () =>
                {
                    var result = await store.VerifyAuditAsync(c =>
                        CheckpointSignature.Verify(key.PublicKey, Network, c.Position, c.Hash.Span, c.SignedAt, c.KeyId, c.Signature.Span) ? null : "bad");
                    Check(result.IsValid && result.Checked == count, $"server verification: {result.Problem}");
                });
                serverVerify.Add(count / m);
                Progress($"[{rep + 1}/{settings.Repeats}] VerifyAuditAsync (server): {Rate(count / m)} entries/s");
                m = await TimeAsync(() =>
                {
                    var result = AuditExportVerifier.Verify(path, [key.PublicKey]);
                    Check(result.IsValid && result.Entries == count, $"offline verification: {result.Problem}");
                    return Task.CompletedTask;
                });
                offlineVerify.Add(count / m);
                Progress($"[{rep + 1}/{settings.Repeats}] AuditExportVerifier (offline): {Rate(count / m)} entries/s");
                m = await TimeAsync(() =>
                {
                    foreach (var bytes in canonical)
                    {
                        _ = Blake2b256.Hash(bytes);
                    }

                    return Task.CompletedTask;
                });
                blake.Add(count / m);
                Progress($"[{rep + 1}/{settings.Repeats}] raw BLAKE2b-256 of every entry's linked bytes: {Rate(count / m)} entries/s");
            }
        }
        finally
        {
            File.Delete(path);
        }

        var o = Console.Out;
        o.WriteLine();
        o.WriteLine("# Audit export and verification vs raw baselines");
        o.WriteLine();
        o.WriteLine(Invariant($"{count:N0} audit entries in schema \"{Schema}\" (stored with COPY, links computed by the store's HashChain), a signed checkpoint every 100,000 positions and at the head; {settings.Repeats} repeats, median shown. Export file: {exportBytes / 1048576.0:0.0} MiB."));
        o.WriteLine();
        o.WriteLine("| workload | entries/s | baseline | baseline entries/s | ratio |");
        o.WriteLine("|----------|----------:|----------|-------------------:|------:|");
        o.WriteLine(Invariant($"| export (ReadAuditAsync pages → AuditExportWriter → file) | {Rate(Median(export))} | raw COPY … TO STDOUT | {Rate(Median(copy))} | {Ratio(Median(export), Median(copy))} |"));
        o.WriteLine(Invariant($"| server verification (VerifyAuditAsync, signatures checked) | {Rate(Median(serverVerify))} | raw BLAKE2b-256 of the linked bytes | {Rate(Median(blake))} | {Ratio(Median(serverVerify), Median(blake))} |"));
        o.WriteLine(Invariant($"| offline verification (AuditExportVerifier, file) | {Rate(Median(offlineVerify))} | raw BLAKE2b-256 of the linked bytes | {Rate(Median(blake))} | {Ratio(Median(offlineVerify), Median(blake))} |"));
        o.WriteLine();
        o.WriteLine(Invariant($"Per run: export {string.Join(", ", export.Select(Rate))}; COPY {string.Join(", ", copy.Select(Rate))}; server verification {string.Join(", ", serverVerify.Select(Rate))}; offline verification {string.Join(", ", offlineVerify.Select(Rate))}; BLAKE2b {string.Join(", ", blake.Select(Rate))}."));
        o.WriteLine();
        o.WriteLine("Machine:");
        foreach (var (name, value) in SystemReport.Machine())
        {
            o.WriteLine($"- {name}: {value}");
        }

        await using (var drop = dataSource.CreateCommand($"drop schema if exists {Schema} cascade"))
        {
            await drop.ExecuteNonQueryAsync();
        }

        return 0;
    }

    /// <summary>Stores <paramref name="count"/> chained entries with binary COPY, moves the head, signs checkpoints; returns each entry's linked bytes.</summary>
    private static async Task<List<byte[]>> FillAsync(NpgsqlDataSource dataSource, PostgresEventStore store, SigningKeyPair key, int count)
    {
        var linked = new List<byte[]>(count);
        var previous = HashChain.Genesis.ToArray();
        var start = new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
        var actors = Enumerable.Range(0, 64).Select(_ => (User: Guid.CreateVersion7(), Device: Guid.CreateVersion7(), Authority: Guid.CreateVersion7())).ToArray();
        await using (var connection = await dataSource.OpenConnectionAsync())
        {
            await using var copy = await connection.BeginBinaryImportAsync(
                $"copy {Schema}.audit (position, entry_id, occurred_at, action, outcome, actor_user_id, actor_device_id, actor_authority_id, target, reason, peer, trace_id, hash) from stdin (format binary)");
            for (var i = 1; i <= count; i++)
            {
                var actor = actors[i % actors.Length];
                var denied = i % 10 == 0;
                var entry = new AuditEntry(Guid.CreateVersion7(), HashChain.TruncateToMicroseconds(start.AddTicks(i * 10_000L)),
                    "/globesecure.v1.DocumentService/DownloadDocument", denied ? AuditOutcome.Denied : AuditOutcome.Allowed, actor.User, actor.Device,
                    actor.Authority, Guid.CreateVersion7().ToString(), denied ? "the role Investigator may not call it" : null, "ipv4:127.0.0.1:50000",
                    "0af7651916cd43dd8448eb211c80319c");
                var hash = HashChain.AuditLink(previous, i, entry);
                linked.Add([.. previous, .. CanonicalOf(i, entry)]);
                await copy.StartRowAsync();
                await copy.WriteAsync((long)i, NpgsqlDbType.Bigint);
                await copy.WriteAsync(entry.EntryId, NpgsqlDbType.Uuid);
                await copy.WriteAsync(entry.OccurredAt.UtcDateTime, NpgsqlDbType.TimestampTz);
                await copy.WriteAsync(entry.Action, NpgsqlDbType.Text);
                await copy.WriteAsync(entry.Outcome.ToWire(), NpgsqlDbType.Text);
                await copy.WriteAsync(entry.ActorUserId!.Value, NpgsqlDbType.Uuid);
                await copy.WriteAsync(entry.ActorDeviceId!.Value, NpgsqlDbType.Uuid);
                await copy.WriteAsync(entry.ActorAuthorityId!.Value, NpgsqlDbType.Uuid);
                await copy.WriteAsync(entry.Target, NpgsqlDbType.Text);
                if (entry.Reason is null)
                {
                    await copy.WriteNullAsync();
                }
                else
                {
                    await copy.WriteAsync(entry.Reason, NpgsqlDbType.Text);
                }

                await copy.WriteAsync(entry.Peer, NpgsqlDbType.Text);
                await copy.WriteAsync(entry.TraceId, NpgsqlDbType.Text);
                await copy.WriteAsync(hash, NpgsqlDbType.Bytea);
                previous = hash;
            }

            await copy.CompleteAsync();
        }

        await using (var head = dataSource.CreateCommand($"update {Schema}.heads set audit_position = $1, audit_hash = $2"))
        {
            head.Parameters.Add(new NpgsqlParameter<long> { TypedValue = count });
            head.Parameters.Add(new NpgsqlParameter<byte[]> { TypedValue = previous });
            await head.ExecuteNonQueryAsync();
        }

        await using (var analyze = dataSource.CreateCommand($"vacuum analyze {Schema}.audit"))
        {
            await analyze.ExecuteNonQueryAsync();
        }

        var positions = Enumerable.Range(1, count / 100_000).Select(k => (long)k * 100_000).Append(count).Distinct();
        foreach (var position in positions)
        {
            var hash = (await store.ReadAuditAsync(position - 1, 1))[0].Hash;
            var at = DateTimeOffset.UtcNow;
            await store.RecordCheckpointAsync(new StoredCheckpoint(position, hash, at, key.PublicKey.Fingerprint,
                CheckpointSignature.Sign(key, Network, position, hash.Span, at), false));
        }

        return linked;
    }

    private static byte[] CanonicalOf(long position, AuditEntry e) =>
        new CanonicalWriter(ChainLinks.AuditContext).Int64(position).Guid(e.EntryId).Time(e.OccurredAt).Text(e.Action).Text(e.Outcome.ToWire())
            .Guid(e.ActorUserId).Guid(e.ActorDeviceId).Guid(e.ActorAuthorityId).Text(e.Target).Text(e.Reason).Text(e.Peer).Text(e.TraceId).ToArray();

    /// <summary>What an exporter does: the store's pages, each entry with the link before it, then the checkpoints, as JSON Lines to a file.</summary>
    private static async Task ExportAsync(PostgresEventStore store, SigningKeyPair key, string path, int count)
    {
        await using var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16);
        using var writer = new AuditExportWriter(file);
        writer.WriteHeader(new AuditExportHeader(DateTimeOffset.UtcNow, Network, true, null, [new AuditExportKey(key.PublicKey.Fingerprint, key.PublicKey.ToArray())]));
        ReadOnlyMemory<byte> previous = HashChain.Genesis;
        long after = 0;
        for (IReadOnlyList<StoredAuditEntry> page; (page = await store.ReadAuditAsync(after, 10_000)).Count > 0; after = page[^1].Position)
        {
            foreach (var stored in page)
            {
                var e = stored.Entry;
                writer.WriteEntry(new AuditExportEntry(stored.Position, e.EntryId, e.OccurredAt, e.Action, e.Outcome.ToWire(), e.ActorUserId, e.ActorDeviceId,
                    e.ActorAuthorityId, e.Target, e.Reason, e.Peer, e.TraceId, previous.ToArray(), stored.Hash.ToArray()));
                previous = stored.Hash;
            }
        }

        foreach (var c in await store.ReadCheckpointsAsync(0, 1000))
        {
            writer.WriteCheckpoint(new AuditExportCheckpoint(c.Position, c.Hash.ToArray(), c.SignedAt, c.KeyId, c.Signature.ToArray(), c.RetentionCut));
        }

        writer.WriteEnd();
        Check(writer.Entries == count, "export: not every entry was written");
    }

    private static async Task CopyAsync(NpgsqlDataSource dataSource, int count)
    {
        await using var connection = await dataSource.OpenConnectionAsync();
        using var reader = await connection.BeginTextExportAsync(
            $"copy (select position, entry_id, occurred_at, action, outcome, actor_user_id, actor_device_id, actor_authority_id, target, reason, peer, trace_id, hash from {Schema}.audit order by position) to stdout");
        var buffer = new char[1 << 16];
        long lines = 0;
        int read;
        while ((read = await reader.ReadAsync(buffer)) > 0)
        {
            lines += buffer.AsSpan(0, read).Count('\n');
        }

        Check(lines == count, $"COPY: {lines} lines, not {count}");
    }

    private static async Task<double> TimeAsync(Func<Task> work)
    {
        var watch = Stopwatch.StartNew();
        await work();
        return watch.Elapsed.TotalSeconds;
    }

    private static void Check(bool condition, string what)
    {
        if (!condition)
        {
            throw new InvalidOperationException(what);
        }
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length == 0 ? 0 : sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
    }

    private static string Rate(double perSecond) => perSecond.ToString("N0", System.Globalization.CultureInfo.InvariantCulture);
}
