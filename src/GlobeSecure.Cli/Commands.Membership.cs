using System.CommandLine;
using GlobeSecure.Client;
using GlobeSecure.Contracts.V1;
using Spectre.Console;

namespace GlobeSecure.Cli;

internal sealed partial class Commands
{
    public Command Authority()
    {
        var authority = new Command("authority", "Member authorities: applications (four-eyes approval), suspension, withdrawal");
        authority.Subcommands.Add(Apply());
        authority.Subcommands.Add(ListAuthorities());

        var showId = IdArgument("authority-id", "The authority");
        var show = new Command("show", "One authority") { showId };
        show.Handle(options, environment, async (context, cancellationToken) =>
        {
            await using var session = await context.ConnectAsync(cancellationToken);
            WriteAuthority(context, await session.Client.GetAuthorityAsync(context.Get(showId), cancellationToken), detailed: true);
        });
        authority.Subcommands.Add(show);

        var approveId = IdArgument("authority-id", "The pending authority");
        var approve = new Command("approve", "Approve an application (two different network administrators are needed); the second approval prints the first administrator's enrolment code once")
        {
            approveId,
        };
        approve.Handle(options, environment, async (context, cancellationToken) =>
        {
            await using var session = await context.ConnectAsync(cancellationToken);
            var response = await session.Client.ApproveAsync(context.Get(approveId), cancellationToken);
            var code = response.AdministratorCode;
            if (context.Json)
            {
                context.WriteJson(new
                {
                    authorityId = response.Authority.AuthorityId,
                    status = Names.Of(response.Authority.Status),
                    approvedBy = response.Authority.ApprovedBy.ToArray(),
                    code = code?.Code,
                    userId = code?.UserId,
                    expiresAt = code?.ExpiresAt?.ToDateTimeOffset(),
                });
                return;
            }

            WriteAuthority(context, response.Authority, detailed: false);
            if (code is not null)
            {
                context.Line($"Enrolment code for the authority's first administrator (shown once; pass it on securely): {code.Code}");
                context.Line($"  for user {code.UserId}, expires {Names.Of(code.ExpiresAt)}");
            }
            else if (response.Authority.Status == AuthorityStatus.Pending)
            {
                context.Line("Recorded. A second, different network administrator must approve too.");
            }
        });
        authority.Subcommands.Add(approve);

        authority.Subcommands.Add(StatusChange("reject", "Reject a pending application", needsReason: true,
            (client, id, reason, ct) => client.RejectAsync(id, reason!, ct)));
        authority.Subcommands.Add(StatusChange("suspend", "Suspend an active authority: its users' sessions end at once", needsReason: true,
            (client, id, reason, ct) => client.SuspendAsync(id, reason!, ct)));
        authority.Subcommands.Add(StatusChange("reinstate", "Reinstate a suspended authority", needsReason: false,
            (client, id, _, ct) => client.ReinstateAsync(id, ct)));
        authority.Subcommands.Add(StatusChange("withdraw", "Withdraw an authority for good", needsReason: true,
            (client, id, reason, ct) => client.WithdrawAsync(id, reason!, ct)));

        var codeId = IdArgument("authority-id", "The active authority");
        var codeName = new Option<string>("--name") { Description = "The administrator's display name", Required = true };
        var issueCode = new Command("issue-code", "A new enrolment code for an active authority's (replacement) administrator") { codeId, codeName };
        issueCode.Handle(options, environment, async (context, cancellationToken) =>
        {
            await using var session = await context.ConnectAsync(cancellationToken);
            WriteCode(context, await session.Client.IssueAdministratorCodeAsync(context.Get(codeId), context.Get(codeName)!,
                cancellationToken: cancellationToken));
        });
        authority.Subcommands.Add(issueCode);
        return authority;
    }

    private Command Apply()
    {
        var name = new Option<string>("--name") { Description = "The authority's name", Required = true };
        var country = new Option<string>("--country") { Description = "ISO 3166-1 alpha-2 country code, e.g. KE", Required = true };
        var kind = new Option<string>("--kind") { Description = "Kind of authority", Required = true };
        kind.AcceptOnlyFromAmong([.. Names.Kinds.Keys]);
        var legalBasis = new Option<string>("--legal-basis") { Description = "Legal basis as a specialised authority (UNCAC art. 36)", Required = true };
        var focalName = new Option<string>("--focal-name") { Description = "Focal point's name", Required = true };
        var focalEmail = new Option<string>("--focal-email") { Description = "Focal point's email", Required = true };
        var focalPhone = new Option<string?>("--focal-phone") { Description = "Focal point's phone (optional)" };
        var id = new Option<Guid?>("--id") { Description = "The application's id (to retry safely); new by default" };
        var apply = new Command("apply", "File an authority's application (no account needed)")
        {
            name, country, kind, legalBasis, focalName, focalEmail, focalPhone, id,
        };
        apply.Handle(options, environment, async (context, cancellationToken) =>
        {
            var profile = context.Store.Exists(context.ProfileName) ? await context.Store.LoadAsync(context.ProfileName, cancellationToken) : null;
            await using var client = context.AnonymousClient(profile);
            var authority = await client.ApplyAsync(new AuthorityApplication(
                context.Get(name)!, context.Get(country)!, Names.Kinds[context.Get(kind)!], context.Get(legalBasis)!,
                context.Get(focalName)!, context.Get(focalEmail)!, context.Get(focalPhone), context.Get(id) ?? Guid.CreateVersion7()),
                cancellationToken);
            WriteAuthority(context, authority, detailed: false);
        });
        return apply;
    }

    private Command ListAuthorities()
    {
        var country = new Option<string?>("--country") { Description = "Only this country (ISO 3166-1 alpha-2)" };
        var kind = new Option<string?>("--kind") { Description = "Only this kind" };
        kind.AcceptOnlyFromAmong([.. Names.Kinds.Keys]);
        var group = new Option<Guid?>("--group") { Description = "Only members of this regional group" };
        var status = new Option<string?>("--status") { Description = "Only this status" };
        status.AcceptOnlyFromAmong([.. Names.Statuses.Keys]);
        var list = new Command("list", "The directory of authorities") { country, kind, group, status };
        list.Handle(options, environment, async (context, cancellationToken) =>
        {
            await using var session = await context.ConnectAsync(cancellationToken);
            var filter = new AuthorityFilter(
                context.Get(country),
                context.Get(kind) is { } k ? Names.Kinds[k] : null,
                context.Get(group),
                context.Get(status) is { } s ? Names.Statuses[s] : null);
            var authorities = await session.Client.ListAuthoritiesAsync(filter, cancellationToken);
            if (context.Json)
            {
                context.WriteJson(authorities.Select(AuthorityJson).ToArray());
                return;
            }

            var table = Table("id", "name", "country", "kind", "status", "approvals");
            foreach (var a in authorities)
            {
                Row(table, a.AuthorityId, a.Name, a.Country, Names.Of(a.Kind), Names.Of(a.Status), a.ApprovedBy.Count.ToString(System.Globalization.CultureInfo.InvariantCulture));
            }

            context.Console.Write(table);
        });
        return list;
    }

    private Command StatusChange(string name, string description, bool needsReason,
        Func<GlobeClient, Guid, string?, CancellationToken, Task<Authority>> change)
    {
        var id = IdArgument("authority-id", "The authority");
        var reason = new Option<string?>("--reason") { Description = "Why (1 to 500 characters)", Required = needsReason };
        var command = new Command(name, description) { id };
        if (needsReason)
        {
            command.Options.Add(reason);
        }

        command.Handle(options, environment, async (context, cancellationToken) =>
        {
            await using var session = await context.ConnectAsync(cancellationToken);
            WriteAuthority(context, await change(session.Client, context.Get(id), context.Get(reason), cancellationToken), detailed: false);
        });
        return command;
    }

    public Command Group()
    {
        var name = new Option<string>("--name") { Description = "The group's name (unique)", Required = true };
        var members = IdsOption("--authority", "A member authority (repeat for several)");
        var create = new Command("create", "Create a regional group") { name, members };
        create.Handle(options, environment, async (context, cancellationToken) =>
        {
            await using var session = await context.ConnectAsync(cancellationToken);
            WriteGroup(context, await session.Client.CreateGroupAsync(context.Get(name)!, context.Get(members) ?? [], cancellationToken: cancellationToken));
        });

        Command Membership(string verb, string description, Func<GlobeClient, Guid, Guid, CancellationToken, Task<RegionalGroup>> change)
        {
            var group = IdArgument("group-id", "The regional group");
            var authority = IdArgument("authority-id", "The authority");
            var command = new Command(verb, description) { group, authority };
            command.Handle(options, environment, async (context, cancellationToken) =>
            {
                await using var session = await context.ConnectAsync(cancellationToken);
                WriteGroup(context, await change(session.Client, context.Get(group), context.Get(authority), cancellationToken));
            });
            return command;
        }

        var list = new Command("list", "The regional groups");
        list.Handle(options, environment, async (context, cancellationToken) =>
        {
            await using var session = await context.ConnectAsync(cancellationToken);
            var groups = await session.Client.ListGroupsAsync(cancellationToken);
            if (context.Json)
            {
                context.WriteJson(groups.Select(g => new { groupId = g.GroupId, name = g.Name, authorityIds = g.AuthorityIds.ToArray() }).ToArray());
                return;
            }

            var table = Table("id", "name", "members");
            foreach (var g in groups)
            {
                Row(table, g.GroupId, g.Name, string.Join(", ", g.AuthorityIds));
            }

            context.Console.Write(table);
        });

        return new Command("group", "Regional groups of member authorities")
        {
            create,
            Membership("add", "Add an authority to a group", (c, g, a, ct) => c.AddToGroupAsync(g, a, ct)),
            Membership("remove", "Remove an authority from a group", (c, g, a, ct) => c.RemoveFromGroupAsync(g, a, ct)),
            list,
        };
    }

    private static Argument<Guid> IdArgument(string name, string description) => new(name) { Description = description };

    private static object AuthorityJson(Authority a) => new
    {
        authorityId = a.AuthorityId,
        name = a.Name,
        country = a.Country,
        kind = Names.Of(a.Kind),
        status = Names.Of(a.Status),
        approvedBy = a.ApprovedBy.ToArray(),
        statusReason = a.StatusReason,
        groupIds = a.GroupIds.ToArray(),
    };

    private static void WriteAuthority(CliContext context, Authority authority, bool detailed)
    {
        if (context.Json)
        {
            context.WriteJson(AuthorityJson(authority));
            return;
        }

        var grid = Grid();
        Add(grid, "authority", authority.AuthorityId);
        Add(grid, "name", authority.Name);
        Add(grid, "country", authority.Country);
        Add(grid, "kind", Names.Of(authority.Kind));
        Add(grid, "status", Names.Of(authority.Status));
        Add(grid, "approved by", string.Join(", ", authority.ApprovedBy));
        if (authority.StatusReason.Length > 0)
        {
            Add(grid, "reason", authority.StatusReason);
        }

        if (detailed)
        {
            Add(grid, "legal basis", authority.LegalBasis);
            if (authority.FocalPoint is { } focal)
            {
                Add(grid, "focal point", $"{focal.Name} <{focal.Email}>{(focal.Phone.Length > 0 ? " " + focal.Phone : "")}");
            }

            Add(grid, "applied", Names.Of(authority.AppliedAt));
            Add(grid, "groups", string.Join(", ", authority.GroupIds));
        }

        context.Console.Write(grid);
    }

    private static void WriteGroup(CliContext context, RegionalGroup group)
    {
        if (context.Json)
        {
            context.WriteJson(new { groupId = group.GroupId, name = group.Name, authorityIds = group.AuthorityIds.ToArray() });
            return;
        }

        var grid = Grid();
        Add(grid, "group", group.GroupId);
        Add(grid, "name", group.Name);
        Add(grid, "members", string.Join(", ", group.AuthorityIds));
        context.Console.Write(grid);
    }

    private static void WriteCode(CliContext context, EnrolmentCode code)
    {
        if (context.Json)
        {
            context.WriteJson(new { code = code.Code, userId = code.UserId, authorityId = code.AuthorityId, expiresAt = code.ExpiresAt?.ToDateTimeOffset() });
            return;
        }

        context.Line($"Enrolment code (shown once; pass it on securely): {code.Code}");
        context.Line($"  for user {code.UserId} of authority {code.AuthorityId}, expires {Names.Of(code.ExpiresAt)}");
    }
}
