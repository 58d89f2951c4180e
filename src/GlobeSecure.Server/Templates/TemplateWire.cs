using System.Text.RegularExpressions;
using GlobeSecure.Contracts.V1;
using GlobeSecure.Server.Identity;
using Timestamp = Google.Protobuf.WellKnownTypes.Timestamp;

namespace GlobeSecure.Server.Templates;

/// <summary>Checks a template from the wire (every problem, by path) and maps between wire and stored form.</summary>
internal static partial class TemplateWire
{
    public const int MaxSections = 50;
    public const int MaxFields = 100;
    public const int MaxOptions = 100;
    public const int MaxNameLength = 200;
    public const int MaxHelpLength = 2000;
    public const int MaxPatternLength = 500;
    public const int MaxTextLength = 100_000;

    [GeneratedRegex("^[a-z][a-z0-9-]{0,63}$")]
    public static partial Regex TemplateIdFormat();

    [GeneratedRegex("^[a-z][a-z0-9_]{0,63}$")]
    public static partial Regex ItemIdFormat();

    /// <summary>A template id from a request: lowercase letters, digits and hyphens.</summary>
    public static string TemplateId(Violations v, string field, string value)
    {
        if (!TemplateIdFormat().IsMatch(value))
        {
            v.Add(field, "required: lowercase letters, digits and hyphens, starting with a letter, at most 64 (e.g. request-for-information)");
        }

        return value;
    }

    /// <summary>The template to publish, with a violation named by its path for each problem.</summary>
    public static TemplateDefinition Definition(Violations v, string path, Template? t)
    {
        if (t is null)
        {
            v.Add(path, "required: the template to publish");
            return new TemplateDefinition("", 0, "", "", []);
        }

        TemplateId(v, $"{path}.template_id", t.TemplateId);
        if (t.Version < 1)
        {
            v.Add($"{path}.version", "required: the version to publish, 1 for a new template, then the latest + 1");
        }

        Text(v, $"{path}.name", t.Name, MaxNameLength, required: true);
        Text(v, $"{path}.description", t.Description, MaxHelpLength, required: false);
        if (t.Sections.Count is 0 or > MaxSections)
        {
            v.Add($"{path}.sections", $"1 to {MaxSections} sections (got {t.Sections.Count})");
        }

        var sectionIds = new HashSet<string>(StringComparer.Ordinal);
        var sections = new List<SectionDefinition>();
        for (var i = 0; i < t.Sections.Count; i++)
        {
            sections.Add(Section(v, $"{path}.sections[{i}]", t.Sections[i], sectionIds));
        }

        return new TemplateDefinition(t.TemplateId, t.Version, t.Name, t.Description, sections);
    }

    private static SectionDefinition Section(Violations v, string path, Section s, HashSet<string> sectionIds)
    {
        Id(v, $"{path}.section_id", s.SectionId, sectionIds, "in the template");
        Text(v, $"{path}.title", s.Title, MaxNameLength, required: true);
        Text(v, $"{path}.help", s.Help, MaxHelpLength, required: false);
        if (s.Fields.Count is 0 or > MaxFields)
        {
            v.Add($"{path}.fields", $"1 to {MaxFields} fields (got {s.Fields.Count})");
        }

        var fieldIds = new HashSet<string>(StringComparer.Ordinal);
        var fields = new List<FieldDefinition>();
        for (var i = 0; i < s.Fields.Count; i++)
        {
            fields.Add(FieldOf(v, $"{path}.fields[{i}]", s.Fields[i], fieldIds));
        }

        return new SectionDefinition(s.SectionId, s.Title, s.Help, fields);
    }

    private static FieldDefinition FieldOf(Violations v, string path, Field f, HashSet<string> fieldIds)
    {
        Id(v, $"{path}.field_id", f.FieldId, fieldIds, "in its section");
        Text(v, $"{path}.label", f.Label, MaxNameLength, required: true);
        Text(v, $"{path}.help", f.Help, MaxHelpLength, required: false);
        var isText = f.Type is FieldType.Text or FieldType.LongText;
        if (f.Type == FieldType.Unspecified || !System.Enum.IsDefined(f.Type))
        {
            v.Add($"{path}.type", "required: TEXT, LONG_TEXT, DATE, COUNTRY, ENUM, PERSON, LEGAL_ENTITY or BANK_ACCOUNT");
        }

        if (f.Type == FieldType.Enum)
        {
            if (f.Options.Count is 0 or > MaxOptions)
            {
                v.Add($"{path}.options", $"an ENUM field needs 1 to {MaxOptions} options (got {f.Options.Count})");
            }

            var optionIds = new HashSet<string>(StringComparer.Ordinal);
            for (var i = 0; i < f.Options.Count; i++)
            {
                Id(v, $"{path}.options[{i}]", f.Options[i], optionIds, "among the options");
            }
        }
        else if (f.Options.Count > 0)
        {
            v.Add($"{path}.options", "only ENUM fields have options");
        }

        if (f.Pattern.Length > 0)
        {
            if (!isText)
            {
                v.Add($"{path}.pattern", "only TEXT and LONG_TEXT fields have a pattern");
            }
            else if (f.Pattern.Length > MaxPatternLength)
            {
                v.Add($"{path}.pattern", $"at most {MaxPatternLength} characters");
            }
            else
            {
                try
                {
                    _ = new Regex(f.Pattern, RegexOptions.None, TimeSpan.FromMilliseconds(100));
                }
                catch (ArgumentException)
                {
                    v.Add($"{path}.pattern", "not a valid regular expression (.NET syntax)");
                }
            }
        }

        if (f.MaxLength != 0 && (!isText || f.MaxLength is < 1 or > MaxTextLength))
        {
            v.Add($"{path}.max_length", isText ? $"0 (the default) or 1 to {MaxTextLength}" : "only TEXT and LONG_TEXT fields have a maximum length: 0");
        }

        return new FieldDefinition(f.FieldId, f.Label, f.Type.ToString(), f.List, f.Required, f.Help, f.Pattern, [.. f.Options], f.MaxLength);
    }

    private static void Id(Violations v, string path, string value, HashSet<string> seen, string scope)
    {
        if (!ItemIdFormat().IsMatch(value))
        {
            v.Add(path, "required: lowercase letters, digits and underscores, starting with a letter, at most 64");
        }
        else if (!seen.Add(value))
        {
            v.Add(path, $"'{value}' is used twice {scope}: ids must be unique");
        }
    }

    private static void Text(Violations v, string path, string value, int max, bool required)
    {
        if (required && string.IsNullOrWhiteSpace(value))
        {
            v.Add(path, "required");
        }
        else if (value.Length > max)
        {
            v.Add(path, $"at most {max} characters (got {value.Length})");
        }
    }

    public static Template ToProto(TemplateVersionPublished p)
    {
        var t = p.Template;
        var proto = new Template
        {
            TemplateId = t.TemplateId,
            Version = t.Version,
            Name = t.Name,
            Description = t.Description,
            PublishedAt = Timestamp.FromDateTimeOffset(p.PublishedAt),
            PublishedBy = p.PublishedByUserId?.ToString() ?? "",
        };
        foreach (var s in t.Sections)
        {
            var section = new Section { SectionId = s.SectionId, Title = s.Title, Help = s.Help };
            foreach (var f in s.Fields)
            {
                var field = new Field
                {
                    FieldId = f.FieldId,
                    Label = f.Label,
                    Type = System.Enum.Parse<FieldType>(f.Type),
                    List = f.List,
                    Required = f.Required,
                    Help = f.Help,
                    Pattern = f.Pattern,
                    MaxLength = f.MaxLength,
                };
                field.Options.Add(f.Options);
                section.Fields.Add(field);
            }

            proto.Sections.Add(section);
        }

        return proto;
    }
}
