using System.CommandLine;
using System.Globalization;
using GlobeSecure.Contracts.V1;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;

namespace GlobeSecure.Cli;

/// <summary>The audit trail for auditors (docs/audit.md): query, export, verify, checkpoints, keys.</summary>
internal sealed partial class Commands
{
    private static readonly IReadOnlyDictionary<string, AuditOutcomeFilter> Outcomes = new Dictionary<string, AuditOutcomeFilter>(StringComparer.Ordinal)
    {
        ["allowed"] = AuditOutcomeFilter.Allowed,
        ["denied"] = AuditOutcomeFilter.Denied,
        ["failed"] = AuditOutcomeFilter.Failed,
    };

    public Command Audit()
    {
        var audit = new Command("audit", "The audit trail (auditors): who did what, when, from which device, and who was refused — never content");
        audit.Subcommands.Add(AuditQuery());
        audit.Subcommands.Add(AuditExport());
        AddAuditVerification(audit);
        return audit;
    }

    private sealed record AuditFilterOptions(Option<Guid?> User, Option<Guid?> Device, Option<Guid?> Authority, Option<string?> Action,
        Option<string?> Target, Option<string?> Outcome, Option<string?> From, Option<string?> To, Option<long> After)
    {
        public IEnumerable<System.CommandLine.Option> All => [User, Device, Authority, Action, Target, Outcome, From, To, After];
    }

    private static AuditFilterOptions AuditFilterOptionSet()
    {
        var outcome = new Option<string?>("--outcome") { Description = "allowed, denied or failed" };
        outcome.AcceptOnlyFromAmong([.. Outcomes.Keys]);
        return new AuditFilterOptions(
            new Option<Guid?>("--actor-user") { Description = "Only entries of this acting user" },
            new Option<Guid?>("--actor-device") { Description = "Only entries of this acting device" },
            new Option<Guid?>("--authority") { Description = "Only entries whose actor or target belongs to this authority" },
            new Option<string?>("--action") { Description = "An rpc's full name, or a prefix ending in '/' (e.g. /globesecure.v1.DocumentService/)" },
            new Option<string?>("--target") { Description = "Only entries with this exact target (an id)" },
            outcome,
            TimeOption("--from", "Only entries at or after this time (e.g. 2026-11-01)"),
            TimeOption("--to", "Only entries before this time"),
            new Option<long>("--after") { Description = "Only entries after this position" });
    }

    private static AuditFilter Filter(CliContext context, AuditFilterOptions o)
    {
        var filter = new AuditFilter
        {
            ActorUserId = context.Get(o.User)?.ToString() ?? "",
            ActorDeviceId = context.Get(o.Device)?.ToString() ?? "",
            AuthorityId = context.Get(o.Authority)?.ToString() ?? "",
            Action = context.Get(o.Action) ?? "",
            Target = context.Get(o.Target) ?? "",
            Outcome = context.Get(o.Outcome) is { } outcome ? Outcomes[outcome] : AuditOutcomeFilter.Unspecified,
            AfterPosition = context.Get(o.After),
        };
        if (ParseTime(context.Get(o.From), "--from") is { } from)
        {
            filter.From = Timestamp.FromDateTimeOffset(from);
        }

        if (ParseTime(context.Get(o.To), "--to") is { } to)
        {
            filter.To = Timestamp.FromDateTimeOffset(to);
        }

        return filter;
    }

    private Command AuditQuery()
    {
        var filter = AuditFilterOptionSet();
        var limit = new Option<int>("--limit") { Description = "At most this many entries (1 to 10000; default 50)", DefaultValueFactory = _ => 50 };
        limit.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int>() is < 1 or > 10_000)
            {
                result.AddError("--limit: 1 to 10000.");
            }
        });
        var command = new Command("query", "Auditors: entries matching the filters, oldest first (network auditors: all; authority auditors: their authority's)") { limit };
        foreach (var option in filter.All)
        {
            command.Options.Add(option);
        }

        command.Handle(options, environment, async (context, cancellationToken) =>
        {
            await using var session = await context.ConnectAsync(cancellationToken);
            var wanted = context.Get(limit);
            var entries = new List<AuditRecord>();
            await foreach (var entry in session.Client.QueryAuditAsync(Filter(context, filter), Math.Min(wanted, 1000), cancellationToken))
            {
                entries.Add(entry);
                if (entries.Count == wanted)
                {
                    break;
                }
            }

            if (context.Json)
            {
                context.Unwrapped($"[{string.Join(",", entries.Select(e => JsonFormatter.Default.Format(e)))}]");
                return;
            }

            if (entries.Count == 0)
            {
                context.Line("No entries match.");
                return;
            }

            var table = Table("#", "time (UTC)", "action", "outcome", "user", "device", "authority", "target", "peer", "reason");
            foreach (var e in entries)
            {
                Row(table, Number(e.Position), e.OccurredAt is null ? "" : e.OccurredAt.ToDateTimeOffset().ToString("MM-dd HH:mm:ss", CultureInfo.InvariantCulture),
                    ShortAction(e.Action), e.Outcome, ShortId(e.ActorUserId), ShortId(e.ActorDeviceId), ShortId(e.ActorAuthorityId), ShortId(e.Target),
                    e.Peer.StartsWith("ipv4:", StringComparison.Ordinal) ? e.Peer[5..] : e.Peer, e.Reason);
            }

            context.Console.Write(table);
            context.Line("(ids shortened to their last 8 characters; --json gives every field in full)");
            if (entries.Count == wanted)
            {
                context.Unwrapped($"(more may follow: --after {entries[^1].Position})");
            }
        });
        return command;
    }

    private Command AuditExport()
    {
        var filter = AuditFilterOptionSet();
        var output = new Option<string>("--out") { Description = "A new file for the JSON Lines export", Required = true };
        var command = new Command("export", "Auditors: the matching entries with their chain links and the signed checkpoints, as JSON Lines (docs/audit.md), written as they arrive") { output };
        foreach (var option in filter.All)
        {
            command.Options.Add(option);
        }

        command.Handle(options, environment, async (context, cancellationToken) =>
        {
            var path = Path.GetFullPath(context.Get(output)!);
            if (File.Exists(path))
            {
                throw new CliUsageException($"--out: '{path}' exists; name a new file.");
            }

            await using var session = await context.ConnectAsync(cancellationToken);
            var summary = await session.Client.ExportAuditAsync(Filter(context, filter), path, cancellationToken);
            if (context.Json)
            {
                context.WriteJson(new { path, bytes = summary.Bytes, entries = summary.Entries, checkpoints = summary.Checkpoints });
                return;
            }

            context.Unwrapped($"Exported {Number(summary.Entries)} entries and {Number(summary.Checkpoints)} checkpoint{(summary.Checkpoints == 1 ? "" : "s")} ({Number(summary.Bytes)} bytes) to {path}.");
            context.Unwrapped($"Verify it anywhere, offline: globe audit verify {path} --key <the server key from 'globe audit keys'>");
        });
        return command;
    }

    // A UUID (or a target starting with one) shortened for a table to its last 8 characters,
    // "…9cff35cc": version-7 ids begin with their creation time, so their starts look alike.
    private static string ShortId(string id) =>
        id.Length >= 36 && Guid.TryParse(id.AsSpan(0, 36), out _) ? "…" + id[28..36] + id[36..] : id;

    // "/globesecure.v1.DocumentService/DownloadDocument" → "DocumentService/DownloadDocument".
    private static string ShortAction(string action) =>
        action.StartsWith("/globesecure.v1.", StringComparison.Ordinal) ? action["/globesecure.v1.".Length..] : action;
}
