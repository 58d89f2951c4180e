using System.CommandLine;
using GlobeSecure.Client;
using GlobeSecure.Crypto;

namespace GlobeSecure.Cli;

/// <summary>Verification, checkpoints and keys of the audit trail (docs/audit.md, "Checkpoints" and "Verification").</summary>
internal sealed partial class Commands
{
    private void AddAuditVerification(Command audit)
    {
        audit.Subcommands.Add(AuditVerify());
        audit.Subcommands.Add(AuditCheckpoints());
        audit.Subcommands.Add(AuditKeys());
    }

    /// <summary><c>globe audit verify FILE [--key HEX]…</c> offline, or <c>globe audit verify --server</c>.</summary>
    private Command AuditVerify()
    {
        var file = new Argument<string?>("file") { Description = "An export written by 'globe audit export' (checked offline: no server, no session)", Arity = ArgumentArity.ZeroOrOne };
        var keys = new Option<string[]>("--key")
        {
            Description = "A trusted checkpoint public key, 64 hex characters ('globe audit keys'); repeat for earlier keys. Without it the export's own keys are used, which proves consistency, not origin",
            AllowMultipleArgumentsPerToken = true,
        };
        var server = new Option<bool>("--server") { Description = "Network auditors: have the server recompute its whole stored chain and check every checkpoint" };
        var command = new Command("verify", "Recompute the chain and check the signed checkpoints of an export offline (or, with --server, of the stored trail); exit 1 naming the first bad position")
        {
            file, keys, server,
        };
        command.Handle(options, environment, async (context, cancellationToken) =>
        {
            var path = context.Get(file);
            if (context.Get(server) == (path is not null))
            {
                throw new CliUsageException("Give an export file to check offline, or --server to check the stored trail, not both.");
            }

            if (path is null)
            {
                await using var session = await context.ConnectAsync(cancellationToken);
                var stored = await session.Client.VerifyAuditOnServerAsync(cancellationToken);
                if (context.Json)
                {
                    context.WriteJson(new { valid = stored.Valid, entries = stored.Entries, checkpoints = stored.Checkpoints, firstBadPosition = stored.FirstBadPosition, problem = stored.Problem });
                }
                else if (stored.Valid)
                {
                    context.Unwrapped($"The stored trail verifies: {Number(stored.Entries)} entries and {Number(stored.Checkpoints)} signed checkpoint{(stored.Checkpoints == 1 ? "" : "s")}.");
                }

                if (!stored.Valid)
                {
                    throw new CliFailureException($"the stored trail does not verify at position {stored.FirstBadPosition}: {stored.Problem}");
                }

                return;
            }

            if (!File.Exists(path))
            {
                throw new CliUsageException($"There is no export at '{Path.GetFullPath(path)}'.");
            }

            var trusted = TrustedKeys(context.Get(keys));
            var result = AuditExportVerifier.Verify(path, trusted);
            if (context.Json)
            {
                context.WriteJson(new
                {
                    valid = result.IsValid,
                    entries = result.Entries,
                    checkpoints = result.Checkpoints,
                    contiguous = result.Contiguous,
                    pinned = trusted is not null,
                    firstBadPosition = result.FirstBadPosition,
                    line = result.Line,
                    problem = result.Problem,
                });
            }
            else if (result.IsValid)
            {
                context.Unwrapped($"The export verifies: {Number(result.Entries)} entries "
                    + (result.Contiguous ? "chained without a gap" : "each linked to the entry before it (a filtered export)")
                    + $", {Number(result.Checkpoints)} signed checkpoint{(result.Checkpoints == 1 ? "" : "s")}.");
                if (trusted is null)
                {
                    context.Unwrapped("The checkpoint keys were the export's own: pin the server's key with --key (see 'globe audit keys') to prove where it came from.");
                }
            }

            if (!result.IsValid)
            {
                throw new CliFailureException("the export does not verify"
                    + (result.FirstBadPosition is { } position ? $" at position {position}" : "")
                    + (result.Line is { } line ? $" (line {line})" : "") + $": {result.Problem}");
            }
        });
        return command;
    }

    private static List<SigningPublicKey>? TrustedKeys(string[]? given)
    {
        if (given is not { Length: > 0 })
        {
            return null;
        }

        return [.. given.Select(hex => PublicKeyOption(hex, $"--key takes a checkpoint public key as 64 hex characters; '{hex}' is not one."))];
    }

    private Command AuditCheckpoints()
    {
        var after = new Option<long>("--after") { Description = "Only checkpoints after this position" };
        var limit = new Option<int>("--limit") { Description = "At most this many (1 to 1000; default 100)", DefaultValueFactory = _ => 100 };
        limit.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int>() is < 1 or > 1000)
            {
                result.AddError("--limit: 1 to 1000.");
            }
        });
        var command = new Command("checkpoints", "Auditors: the server's signed checkpoints of the chain head, oldest first") { after, limit };
        command.Handle(options, environment, async (context, cancellationToken) =>
        {
            await using var session = await context.ConnectAsync(cancellationToken);
            var checkpoints = await session.Client.ListAuditCheckpointsAsync(context.Get(after), context.Get(limit), cancellationToken);
            if (context.Json)
            {
                context.Unwrapped($"[{string.Join(",", checkpoints.Select(c => Google.Protobuf.JsonFormatter.Default.Format(c)))}]");
                return;
            }

            if (checkpoints.Count == 0)
            {
                context.Line("No checkpoints yet (the server signs the head every Globe:Audit:CheckpointInterval).");
                return;
            }

            var table = Table("position", "signed at", "key", "hash", "retention cut");
            foreach (var c in checkpoints)
            {
                Row(table, Number(c.Position), c.SignedAt is null ? "" : Time(c.SignedAt.ToDateTimeOffset()), c.KeyId, Convert.ToHexStringLower(c.Hash.Span),
                    c.RetentionCut ? "yes" : "");
            }

            context.Console.Write(table);
        });
        return command;
    }

    private Command AuditKeys()
    {
        var command = new Command("keys", "The server's checkpoint keys (current and earlier), to pin with 'globe audit verify --key'");
        command.Handle(options, environment, async (context, cancellationToken) =>
        {
            await using var session = await context.ConnectAsync(cancellationToken);
            var keys = await session.Client.GetServerKeysAsync(cancellationToken);
            if (context.Json)
            {
                context.WriteJson(keys.Select(k => new
                {
                    keyId = k.KeyId,
                    publicKey = Convert.ToHexStringLower(k.PublicKey.Span),
                    purpose = k.Purpose,
                    firstUsedAt = k.FirstUsedAt?.ToDateTimeOffset(),
                    current = k.Current,
                }).ToArray());
                return;
            }

            var table = Table("key", "public key", "purpose", "first used", "current");
            foreach (var k in keys)
            {
                Row(table, k.KeyId, Convert.ToHexStringLower(k.PublicKey.Span), k.Purpose, k.FirstUsedAt is null ? "" : Time(k.FirstUsedAt.ToDateTimeOffset()),
                    k.Current ? "yes" : "");
            }

            context.Console.Write(table);
        });
        return command;
    }
}
