using System.CommandLine;
using System.Globalization;
using GlobeSecure.Client;
using GlobeSecure.Client.Templates;
using GlobeSecure.Contracts.V1;
using Google.Protobuf;

namespace GlobeSecure.Cli;

/// <summary>Request templates (docs/requests.md, "Templates"): list, show, publish, and check a draft against one offline.</summary>
internal sealed partial class Commands
{
    public Command Template()
    {
        var template = new Command("template", "Request templates: list, show, publish, and check a draft against a template");

        var all = new Option<bool>("--all-versions") { Description = "Every published version, not only the latest of each template" };
        var list = new Command("list", "The published request templates") { all };
        list.Handle(options, environment, async (context, cancellationToken) =>
        {
            await using var session = await context.ConnectAsync(cancellationToken);
            var templates = await session.Client.ListTemplatesAsync(context.Get(all), cancellationToken);
            if (context.Json)
            {
                context.Unwrapped($"[{string.Join(",", templates.Select(t => JsonFormatter.Default.Format(t)))}]");
                return;
            }

            if (templates.Count == 0)
            {
                context.Line("No templates are published.");
                return;
            }

            var table = Table("id", "version", "name", "sections", "fields", "published");
            foreach (var t in templates)
            {
                Row(table, t.TemplateId, Number(t.Version), t.Name, Number(t.Sections.Count), Number(t.Sections.Sum(s => s.Fields.Count)),
                    t.PublishedAt is null ? "" : Time(t.PublishedAt.ToDateTimeOffset()));
            }

            context.Console.Write(table);
        });
        template.Subcommands.Add(list);

        var id = new Argument<string>("template") { Description = "The template's id, e.g. request-for-information" };
        var version = new Option<long>("--version") { Description = "The version (default: the latest)" };
        var show = new Command("show", "A template's sections and fields") { id, version };
        show.Handle(options, environment, async (context, cancellationToken) =>
        {
            await using var session = await context.ConnectAsync(cancellationToken);
            WriteTemplate(context, await session.Client.GetTemplateAsync(context.Get(id)!, context.Get(version), cancellationToken));
        });
        template.Subcommands.Add(show);

        var file = new Argument<FileInfo>("file") { Description = "The template as JSON (the format 'globe template show --json' prints)" };
        var publish = new Command("publish", "Network administrators: publish a template version from a JSON file (published versions never change)") { file };
        publish.Handle(options, environment, async (context, cancellationToken) =>
        {
            var parsed = ReadTemplate(context.Get(file)!);
            await using var session = await context.ConnectAsync(cancellationToken);
            var published = await session.Client.PublishTemplateAsync(parsed, cancellationToken);
            if (!context.Json)
            {
                context.Unwrapped($"Template {published.TemplateId} version {Number(published.Version)} published.");
            }

            WriteTemplate(context, published);
        });
        template.Subcommands.Add(publish);

        var against = new Argument<string>("template") { Description = "A template id (fetched from the server) or a template JSON file (checked offline)" };
        var draft = new Argument<FileInfo>("draft") { Description = "The draft: a JSON object, section id → field id → value" };
        var checkVersion = new Option<long>("--version") { Description = "The version of a template fetched from the server (default: the latest)" };
        var check = new Command("check", "Check a draft request against its template and list every missing or malformed field (exit 1 if any)")
        {
            against, draft, checkVersion,
        };
        check.Handle(options, environment, async (context, cancellationToken) =>
        {
            var draftText = await File.ReadAllTextAsync(context.Get(draft)!.FullName, cancellationToken);
            var name = context.Get(against)!;
            Template t;
            if (File.Exists(name))
            {
                t = ReadTemplate(new FileInfo(name));
            }
            else
            {
                await using var session = await context.ConnectAsync(cancellationToken);
                t = await session.Client.GetTemplateAsync(name, context.Get(checkVersion), cancellationToken);
            }

            var problems = DraftValidator.Validate(t, draftText);
            if (context.Json)
            {
                context.WriteJson(problems.Select(p => new { path = p.Path, problem = p.Problem }).ToArray());
            }
            else if (problems.Count == 0)
            {
                context.Unwrapped($"The draft is complete for {t.TemplateId} version {Number(t.Version)}.");
            }
            else
            {
                var table = Table("field", "what to fix");
                foreach (var p in problems)
                {
                    Row(table, p.Path, p.Problem);
                }

                context.Console.Write(table);
            }

            if (problems.Count > 0)
            {
                throw new CliFailureException($"{Number(problems.Count)} problem(s) in the draft for {t.TemplateId} version {Number(t.Version)}.");
            }
        });
        template.Subcommands.Add(check);
        return template;
    }

    private static Template ReadTemplate(FileInfo file)
    {
        try
        {
            return GlobeClient.ParseTemplate(File.ReadAllText(file.FullName));
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new CliFailureException($"{file.Name} is not a template in JSON: {e.Message}");
        }
    }

    private static void WriteTemplate(CliContext context, Template t)
    {
        if (context.Json)
        {
            context.Unwrapped(JsonFormatter.Default.Format(t));
            return;
        }

        context.Unwrapped($"{t.Name} ({t.TemplateId}, version {Number(t.Version)}){(t.Description.Length > 0 ? $": {t.Description}" : "")}");
        var table = Table("section", "field", "label", "type", "required", "constraints");
        foreach (var s in t.Sections)
        {
            foreach (var f in s.Fields)
            {
                Row(table, s.SectionId, f.FieldId, f.Label, TypeName(f), f.Required ? "yes" : "", Constraints(f));
            }
        }

        context.Console.Write(table);
    }

    private static string TypeName(Field f)
    {
        var name = f.Type.ToString() switch
        {
            "LongText" => "long text",
            "LegalEntity" => "legal entity",
            "BankAccount" => "bank account",
            var other => other.ToLowerInvariant(),
        };
        return f.List ? $"list of {name}" : name;
    }

    private static string Constraints(Field f) => string.Join("; ", new[]
    {
        f.Options.Count > 0 ? $"one of {string.Join(", ", f.Options)}" : "",
        f.MaxLength > 0 ? $"at most {Number(f.MaxLength)} characters" : "",
        f.Pattern.Length > 0 ? $"pattern {f.Pattern}" : "",
    }.Where(c => c.Length > 0));

    private static string Number(long n) => n.ToString(CultureInfo.InvariantCulture);
}
