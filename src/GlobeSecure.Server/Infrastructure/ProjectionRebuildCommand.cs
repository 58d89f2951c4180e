using System.Diagnostics;
using System.Globalization;
using GlobeSecure.EventStore;
using Microsoft.Extensions.Options;

namespace GlobeSecure.Server.Infrastructure;

/// <summary>
/// <c>rebuild-projections</c>: empties every read model of the registered inline projections and
/// replays the whole event log through them (<see cref="PostgresEventStore.RebuildProjectionsAsync"/>),
/// in one transaction under the event store's writer lock, so it is safe while servers run
/// (their appends wait until it commits). Prints each rebuilt table with its rows on stdout.
/// </summary>
internal static class ProjectionRebuildCommand
{
    /// <summary>The audit action of a completed rebuild (target: the event position rebuilt through).</summary>
    public const string Action = "server.rebuild-projections";

    /// <summary>How long the command waits for the writer lock, which a server holds for one commit at a time.</summary>
    public static readonly TimeSpan LockTimeout = TimeSpan.FromSeconds(30);

    /// <summary>Runs the command; <paramref name="lockTimeout"/> replaces <see cref="LockTimeout"/> (tests).</summary>
    public static async Task<int> RunAsync(WebApplication app, TextWriter output, TextWriter error, TimeSpan? lockTimeout = null)
    {
        try
        {
            var store = app.Services.GetRequiredService<PostgresEventStore>();
            await store.MigrateAsync();
            var clock = Stopwatch.StartNew();
            var rebuilt = await store.RebuildProjectionsAsync(lockTimeout ?? LockTimeout);
            // After the commit: the audit append needs the writer lock the rebuild held.
            await store.RecordAuditAsync(new AuditEntry(Guid.CreateVersion7(), app.Services.GetRequiredService<TimeProvider>().GetUtcNow(), Action,
                AuditOutcome.Allowed, Target: rebuilt.HeadPosition.ToString(CultureInfo.InvariantCulture), Peer: "local"));
            foreach (var (table, rows) in rebuilt.Tables)
            {
                await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"{table}\t{rows}"));
            }

            await error.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"Rebuilt {rebuilt.Tables.Count} projection tables from {rebuilt.Events} events (through position {rebuilt.HeadPosition}) in {clock.Elapsed.TotalSeconds:0.0} s; kept (not derived from events): {string.Join(", ", rebuilt.Kept)}."));
            return 0;
        }
        catch (TimeoutException e)
        {
            await error.WriteLineAsync($"error: {e.Message}");
            return 1;
        }
        catch (OptionsValidationException e)
        {
            await error.WriteLineAsync($"error: {e.Message}");
            return 2;
        }
        catch (Npgsql.NpgsqlException e)
        {
            await error.WriteLineAsync($"error: the rebuild failed and changed nothing ({e.Message}); check GLOBE_DB or ConnectionStrings:Globe.");
            return 1;
        }
    }
}
