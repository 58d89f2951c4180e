using System.CommandLine;
using GlobeSecure.Contracts.V1;

namespace GlobeSecure.Cli;

/// <summary>
/// The directory of competent authorities and focal points (docs/requests.md): what
/// <c>globe directory</c> shows after the verified devices, and <c>globe directory contact …</c>
/// and <c>globe directory requirements</c> to maintain it.
/// </summary>
internal sealed partial class Commands
{
    public static readonly IReadOnlyDictionary<string, FocalPointKind> FocalPointKinds = new Dictionary<string, FocalPointKind>(StringComparer.Ordinal)
    {
        ["central-authority"] = FocalPointKind.CentralAuthority,
        ["asset-recovery"] = FocalPointKind.AssetRecovery,
        ["globe-focal-point"] = FocalPointKind.Globe,
        ["financial-intelligence-unit"] = FocalPointKind.FinancialIntelligenceUnit,
        ["other"] = FocalPointKind.Other,
    };

    private static readonly IReadOnlyDictionary<string, ElectronicRequests> ElectronicAnswers = new Dictionary<string, ElectronicRequests>(StringComparer.Ordinal)
    {
        ["yes"] = ElectronicRequests.Accepted,
        ["no"] = ElectronicRequests.NotAccepted,
        ["unknown"] = ElectronicRequests.Unspecified,
    };

    private static string NameOf(FocalPointKind kind) => FocalPointKinds.FirstOrDefault(k => k.Value == kind).Key ?? "unspecified";

    private static string NameOf(ElectronicRequests electronic) => ElectronicAnswers.FirstOrDefault(e => e.Value == electronic).Key ?? "unknown";

    /// <summary>The options that filter <c>globe directory</c>.</summary>
    private static (Option<string?> Country, Option<string?> Kind) DirectoryFilterOptions()
    {
        var country = new Option<string?>("--country") { Description = "Only this country (ISO 3166-1 alpha-2, e.g. KE)" };
        var kind = new Option<string?>("--kind") { Description = "Only contact entries of this kind (member authorities are then left out)" };
        kind.AcceptOnlyFromAmong([.. FocalPointKinds.Keys]);
        return (country, kind);
    }

    private static string? CountryOption(CliContext context, Option<string?> option) =>
        context.Get(option)?.Trim().ToUpperInvariant() is { Length: > 0 } code ? code : null;

    private static FocalPointKind KindOption(CliContext context, Option<string?> option) =>
        context.Get(option) is { } kind ? FocalPointKinds[kind] : FocalPointKind.Unspecified;

    /// <summary><c>globe directory contact add|update|remove</c> (network administrators) and <c>globe directory requirements</c>.</summary>
    private void AddFocalPointCommands(Command directory)
    {
        var contact = new Command("contact", "Network administrators: the contact entries of the directory (central authority for MLA, asset recovery focal point, …)");

        var add = ContactOptions(forAdd: true);
        var addCommand = new Command("add", "Add a contact entry");
        add.AddTo(addCommand);
        addCommand.Handle(options, environment, async (context, cancellationToken) =>
        {
            var entry = new ContactEntry { ContactId = context.Get(add.Id)?.ToString() ?? "", Requirements = new PracticalRequirements() };
            add.Apply(context, entry);
            await using var session = await context.ConnectAsync(cancellationToken);
            var added = await session.Client.AddContactAsync(entry, cancellationToken);
            WriteContact(context, added, $"Contact entry {added.ContactId} added.");
        });
        contact.Subcommands.Add(addCommand);

        var updateId = IdArgument("contact-id", "The contact entry");
        var update = ContactOptions(forAdd: false);
        var updateCommand = new Command("update", "Change a contact entry: the options given replace those fields, the others stay (an empty value clears an optional field)")
        {
            updateId,
        };
        update.AddTo(updateCommand);
        updateCommand.Handle(options, environment, async (context, cancellationToken) =>
        {
            await using var session = await context.ConnectAsync(cancellationToken);
            var entry = await session.Client.GetContactAsync(context.Get(updateId), cancellationToken);
            entry.Requirements ??= new PracticalRequirements();
            update.Apply(context, entry);
            var updated = await session.Client.UpdateContactAsync(entry, cancellationToken);
            WriteContact(context, updated, $"Contact entry {updated.ContactId} updated.");
        });
        contact.Subcommands.Add(updateCommand);

        var removeId = IdArgument("contact-id", "The contact entry");
        var remove = new Command("remove", "Remove a contact entry (its id is not reused)") { removeId };
        remove.Handle(options, environment, async (context, cancellationToken) =>
        {
            await using var session = await context.ConnectAsync(cancellationToken);
            await session.Client.RemoveContactAsync(context.Get(removeId), cancellationToken);
            if (context.Json)
            {
                context.WriteJson(new { contactId = context.Get(removeId), removed = true });
                return;
            }

            context.Unwrapped($"Contact entry {context.Get(removeId)} removed.");
        });
        contact.Subcommands.Add(remove);
        directory.Subcommands.Add(contact);

        var authority = new Option<Guid?>("--authority") { Description = "The member authority (default: your own; other authorities: network administrators only)" };
        var requirementOptions = RequirementOptions();
        var requirements = new Command("requirements",
            "Authority administrators: publish your authority's practical requirements (the options given replace those fields, the others stay)")
        {
            authority,
        };
        requirementOptions.AddTo(requirements);
        requirements.Handle(options, environment, async (context, cancellationToken) =>
        {
            await using var session = await context.ConnectAsync(cancellationToken);
            var authorityId = OwnAuthority(session.Profile, context.Get(authority))!.Value;
            var country = (await session.Client.GetAuthorityAsync(authorityId, cancellationToken)).Country;
            var current = (await session.Client.ListFocalPointsAsync(country, cancellationToken: cancellationToken))
                .SelectMany(c => c.Authorities).FirstOrDefault(a => a.AuthorityId == authorityId.ToString())?.Requirements ?? new PracticalRequirements();
            requirementOptions.Apply(context, current);
            var published = await session.Client.SetAuthorityRequirementsAsync(authorityId, current, cancellationToken);
            if (context.Json)
            {
                context.WriteJson(MemberJson(published));
                return;
            }

            context.Unwrapped($"Requirements of {published.Name} ({published.Country}) published.");
            var grid = Grid();
            AddRequirements(grid, published.Requirements);
            context.Console.Write(grid);
        });
        directory.Subcommands.Add(requirements);
    }

    private sealed record RequirementOptionSet(Option<string?> Languages, Option<string?> Electronic, Option<string?> Notes)
    {
        public void AddTo(Command command)
        {
            command.Options.Add(Languages);
            command.Options.Add(Electronic);
            command.Options.Add(Notes);
        }

        public void Apply(CliContext context, PracticalRequirements r)
        {
            if (context.Get(Languages) is { } languages)
            {
                r.Languages.Clear();
                r.Languages.Add(languages.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(l => l.ToLowerInvariant()));
            }

            if (context.Get(Electronic) is { } electronic)
            {
                r.ElectronicRequests = ElectronicAnswers[electronic];
            }

            if (context.Get(Notes) is { } notes)
            {
                r.Notes = notes;
            }
        }
    }

    private static RequirementOptionSet RequirementOptions()
    {
        var electronic = new Option<string?>("--electronic") { Description = "Whether requests sent electronically are accepted: yes, no or unknown" };
        electronic.AcceptOnlyFromAmong([.. ElectronicAnswers.Keys]);
        return new RequirementOptionSet(
            new Option<string?>("--languages") { Description = "Languages requests are accepted in, ISO 639-1, comma-separated (e.g. en,fr)" },
            electronic,
            new Option<string?>("--notes") { Description = "Other practical requirements: formats, certification, channels (at most 2000 characters)" });
    }

    private sealed record ContactOptionSet(Option<Guid?> Id, Option<string?> Kind, Option<string?> Country, Option<string?> Name, Option<string?> Organisation,
        Option<Guid?> Authority, Option<string?> Email, Option<string?> Phone, RequirementOptionSet Requirements, bool ForAdd)
    {
        public void AddTo(Command command)
        {
            if (ForAdd)
            {
                command.Options.Add(Id);
            }

            foreach (var option in new Option[] { Kind, Country, Name, Organisation, Authority, Email, Phone })
            {
                command.Options.Add(option);
            }

            Requirements.AddTo(command);
        }

        public void Apply(CliContext context, ContactEntry entry)
        {
            if (context.Get(Kind) is { } kind)
            {
                entry.Kind = FocalPointKinds[kind];
            }

            if (context.Get(Country) is { } country)
            {
                entry.Country = country.Trim().ToUpperInvariant();
            }

            entry.Name = context.Get(Name) ?? entry.Name;
            entry.Organisation = context.Get(Organisation) ?? entry.Organisation;
            if (context.Get(Authority) is { } authority)
            {
                entry.AuthorityId = authority == Guid.Empty ? "" : authority.ToString();
            }

            entry.Email = context.Get(Email) ?? entry.Email;
            entry.Phone = context.Get(Phone) ?? entry.Phone;
            Requirements.Apply(context, entry.Requirements);
        }
    }

    private static ContactOptionSet ContactOptions(bool forAdd)
    {
        var kind = new Option<string?>("--kind") { Description = "central-authority, asset-recovery, globe-focal-point, financial-intelligence-unit or other", Required = forAdd };
        kind.AcceptOnlyFromAmong([.. FocalPointKinds.Keys]);
        return new ContactOptionSet(
            new Option<Guid?>("--id") { Description = "The entry's id (default: a new one); adding the same entry again with it is safe" },
            kind,
            new Option<string?>("--country") { Description = "ISO 3166-1 alpha-2, e.g. KE", Required = forAdd },
            new Option<string?>("--name") { Description = "The office or person, e.g. \"International Cooperation Unit\"", Required = forAdd },
            new Option<string?>("--organisation") { Description = "The organisation, e.g. \"Office of the Attorney General\"" },
            new Option<Guid?>("--authority") { Description = "The member authority of the same country this contact is (00000000-0000-0000-0000-000000000000 unlinks it)" },
            new Option<string?>("--email") { Description = "E-mail address" },
            new Option<string?>("--phone") { Description = "Telephone" },
            RequirementOptions(),
            forAdd);
    }

    private static object FocalPointsJson(IReadOnlyList<CountryFocalPoints> countries) => countries.Select(c => new
    {
        country = c.Country,
        authorities = c.Authorities.Select(MemberJson).ToArray(),
        contacts = c.Contacts.Select(ContactJson).ToArray(),
    }).ToArray();

    private static object RequirementsJson(PracticalRequirements? r) => new
    {
        languages = r?.Languages.ToArray() ?? [],
        electronicRequests = NameOf(r?.ElectronicRequests ?? ElectronicRequests.Unspecified),
        notes = r?.Notes ?? "",
    };

    private static object MemberJson(MemberAuthorityEntry a) => new
    {
        authorityId = a.AuthorityId,
        name = a.Name,
        country = a.Country,
        kind = Names.Of(a.Kind),
        focalPoint = new { name = a.FocalPoint?.Name ?? "", email = a.FocalPoint?.Email ?? "", phone = a.FocalPoint?.Phone ?? "" },
        requirements = a.Requirements is null ? null : RequirementsJson(a.Requirements),
        requirementsUpdatedAt = a.RequirementsUpdatedAt?.ToDateTimeOffset(),
    };

    private static object ContactJson(ContactEntry c) => new
    {
        contactId = c.ContactId,
        kind = NameOf(c.Kind),
        country = c.Country,
        name = c.Name,
        organisation = c.Organisation,
        authorityId = c.AuthorityId.Length > 0 ? c.AuthorityId : null,
        email = c.Email,
        phone = c.Phone,
        requirements = RequirementsJson(c.Requirements),
        updatedAt = c.UpdatedAt?.ToDateTimeOffset(),
    };

    private static void WriteContact(CliContext context, ContactEntry c, string done)
    {
        if (context.Json)
        {
            context.WriteJson(ContactJson(c));
            return;
        }

        context.Unwrapped(done);
        var grid = Grid();
        Add(grid, "id", c.ContactId);
        Add(grid, "kind", NameOf(c.Kind));
        Add(grid, "country", c.Country);
        Add(grid, "name", c.Name);
        foreach (var (name, value) in new[] { ("organisation", c.Organisation), ("member authority", c.AuthorityId), ("email", c.Email), ("phone", c.Phone) })
        {
            if (value.Length > 0)
            {
                Add(grid, name, value);
            }
        }

        AddRequirements(grid, c.Requirements);
        context.Console.Write(grid);
    }

    private static void AddRequirements(Spectre.Console.Grid grid, PracticalRequirements? r)
    {
        Add(grid, "languages", string.Join(", ", r?.Languages ?? []));
        Add(grid, "electronic requests", NameOf(r?.ElectronicRequests ?? ElectronicRequests.Unspecified));
        Add(grid, "notes", r?.Notes ?? "");
    }

    /// <summary>Where to send what: per country, the member authorities (reachable here) and the contact entries.</summary>
    private static void WriteFocalPoints(CliContext context, IReadOnlyList<CountryFocalPoints> countries, string? country)
    {
        if (countries.Count == 0)
        {
            context.Line(country is null ? "No competent authorities or focal points are listed." : $"No competent authority or focal point is listed for {country}.");
            return;
        }

        context.Line("Competent authorities and focal points (member authorities are reachable on this network):");
        var table = Table("country", "kind", "name", "contact", "languages", "electronic", "notes", "id");
        foreach (var c in countries)
        {
            foreach (var a in c.Authorities)
            {
                Row(table, c.Country, $"member: {Names.Of(a.Kind)}", a.Name,
                    Lines(a.FocalPoint?.Name ?? "", a.FocalPoint?.Email ?? "", a.FocalPoint?.Phone ?? ""),
                    string.Join(", ", a.Requirements?.Languages ?? []), a.Requirements is null ? "unknown" : NameOf(a.Requirements.ElectronicRequests),
                    a.Requirements?.Notes ?? "", a.AuthorityId);
            }

            foreach (var e in c.Contacts)
            {
                Row(table, c.Country, NameOf(e.Kind), Lines(e.Name, e.Organisation), Lines(e.Email, e.Phone), string.Join(", ", e.Requirements?.Languages ?? []),
                    NameOf(e.Requirements?.ElectronicRequests ?? ElectronicRequests.Unspecified), e.Requirements?.Notes ?? "", e.ContactId);
            }
        }

        context.Console.Write(table);
    }

    private static string Lines(params string[] parts) => string.Join("\n", parts.Where(s => s.Length > 0));
}
