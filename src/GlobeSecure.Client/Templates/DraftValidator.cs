using System.Globalization;
using System.Numerics;
using System.Text.Json;
using System.Text.RegularExpressions;
using GlobeSecure.Contracts;
using GlobeSecure.Contracts.V1;

namespace GlobeSecure.Client.Templates;

/// <summary>One thing to fix in a draft: where (e.g. <c>subjects.persons[0].family_name</c>) and what.</summary>
public sealed record DraftProblem(string Path, string Problem)
{
    /// <summary>"path: problem", as the CLI prints it.</summary>
    public override string ToString() => $"{Path}: {Problem}";
}

/// <summary>
/// Checks a draft request against its template offline, before anything is sent, and lists
/// every missing or malformed field (docs/requests.md, "Drafts"). A draft is a JSON object:
/// section id → field id → value; a list field's value is an array; PERSON, LEGAL_ENTITY and
/// BANK_ACCOUNT values are objects with the sub-fields in <see cref="SubFields"/>.
/// </summary>
public static class DraftValidator
{
    /// <summary>TEXT's maximum length when the template sets none.</summary>
    public const int DefaultTextLength = 200;

    /// <summary>LONG_TEXT's maximum length when the template sets none.</summary>
    public const int DefaultLongTextLength = 10_000;

    private const int SubFieldLength = 200;

    private static readonly TimeSpan PatternTimeout = TimeSpan.FromMilliseconds(100);

    /// <summary>The sub-fields of the structured types: (name, kind, required).</summary>
    public static IReadOnlyDictionary<FieldType, IReadOnlyList<(string Name, FieldType Kind, bool Required)>> SubFields { get; } =
        new Dictionary<FieldType, IReadOnlyList<(string, FieldType, bool)>>
        {
            [FieldType.Person] = [("family_name", FieldType.Text, true), ("given_names", FieldType.Text, false), ("date_of_birth", FieldType.Date, false),
                ("nationality", FieldType.Country, false), ("id_number", FieldType.Text, false)],
            [FieldType.LegalEntity] = [("name", FieldType.Text, true), ("country", FieldType.Country, false), ("registration_number", FieldType.Text, false),
                ("address", FieldType.Text, false)],
            [FieldType.BankAccount] = [("iban", FieldType.Text, false), ("account_number", FieldType.Text, false), ("bank", FieldType.Text, false),
                ("bic", FieldType.Text, false), ("holder", FieldType.Text, false), ("country", FieldType.Country, false)],
        };

    /// <summary>Every problem of a draft given as JSON text; an empty list when it is complete and well-formed.</summary>
    public static IReadOnlyList<DraftProblem> Validate(Template template, string draftJson)
    {
        ArgumentNullException.ThrowIfNull(draftJson);
        try
        {
            using var document = JsonDocument.Parse(draftJson);
            return Validate(template, document.RootElement);
        }
        catch (JsonException ex)
        {
            return [new DraftProblem("$", $"not valid JSON: {ex.Message}")];
        }
    }

    /// <summary>Every problem of a draft; an empty list when it is complete and well-formed.</summary>
    public static IReadOnlyList<DraftProblem> Validate(Template template, JsonElement draft)
    {
        ArgumentNullException.ThrowIfNull(template);
        var problems = new List<DraftProblem>();
        if (draft.ValueKind != JsonValueKind.Object)
        {
            problems.Add(new("$", "a draft is a JSON object: section id → field id → value"));
            return problems;
        }

        if (RepeatedId(template) is { } repeated)
        {
            problems.Add(repeated);
            return problems;
        }

        var sections = template.Sections.ToDictionary(s => s.SectionId, StringComparer.Ordinal);
        foreach (var property in draft.EnumerateObject().Where(p => !sections.ContainsKey(p.Name)))
        {
            problems.Add(new(property.Name, $"unknown section: template {template.TemplateId} v{template.Version} has {string.Join(", ", sections.Keys)}"));
        }

        foreach (var section in template.Sections)
        {
            var hasSection = draft.TryGetProperty(section.SectionId, out var values) && values.ValueKind != JsonValueKind.Null;
            if (hasSection && values.ValueKind != JsonValueKind.Object)
            {
                problems.Add(new(section.SectionId, "a section is a JSON object: field id → value"));
                continue;
            }

            var fields = section.Fields.ToDictionary(f => f.FieldId, StringComparer.Ordinal);
            if (hasSection)
            {
                foreach (var property in values.EnumerateObject().Where(p => !fields.ContainsKey(p.Name)))
                {
                    problems.Add(new($"{section.SectionId}.{property.Name}", $"unknown field: section {section.SectionId} has {string.Join(", ", fields.Keys)}"));
                }
            }

            foreach (var field in section.Fields)
            {
                var path = $"{section.SectionId}.{field.FieldId}";
                JsonElement value = default;
                var present = hasSection && values.TryGetProperty(field.FieldId, out value) && !IsEmpty(value);
                if (!present)
                {
                    if (field.Required)
                    {
                        problems.Add(new(path, $"required: {field.Label}{(field.List ? " (at least one)" : "")}"));
                    }

                    continue;
                }

                if (field.List)
                {
                    if (value.ValueKind != JsonValueKind.Array)
                    {
                        problems.Add(new(path, $"a list: a JSON array of {Describe(field)}"));
                        continue;
                    }

                    var i = 0;
                    foreach (var item in value.EnumerateArray())
                    {
                        Value(problems, $"{path}[{i++}]", field, item);
                    }
                }
                else if (value.ValueKind == JsonValueKind.Array)
                {
                    problems.Add(new(path, $"one value, not a list: {Describe(field)}"));
                }
                else
                {
                    Value(problems, path, field, value);
                }
            }
        }

        return problems;
    }

    private static bool IsEmpty(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.Null => true,
        JsonValueKind.String => value.GetString()!.Trim().Length == 0,
        JsonValueKind.Array => value.GetArrayLength() == 0,
        _ => false,
    };

    private static void Value(List<DraftProblem> problems, string path, Field field, JsonElement value)
    {
        switch (field.Type)
        {
            case FieldType.Person or FieldType.LegalEntity or FieldType.BankAccount:
                Structured(problems, path, field.Type, value);
                break;
            case FieldType.Enum:
                if (value.ValueKind != JsonValueKind.String || !field.Options.Contains(value.GetString()))
                {
                    problems.Add(new(path, $"one of: {string.Join(", ", field.Options)}"));
                }

                break;
            default:
                Scalar(problems, path, field.Type, value, MaxLength(field), field.Pattern);
                break;
        }
    }

    private static int MaxLength(Field field) => field.MaxLength > 0 ? field.MaxLength
        : field.Type == FieldType.LongText ? DefaultLongTextLength : DefaultTextLength;

    private static void Scalar(List<DraftProblem> problems, string path, FieldType type, JsonElement value, int maxLength, string pattern)
    {
        if (value.ValueKind != JsonValueKind.String)
        {
            problems.Add(new(path, $"wrong type: {Describe(type)} as a JSON string"));
            return;
        }

        var text = value.GetString()!;
        switch (type)
        {
            case FieldType.Date:
                if (!DateOnly.TryParseExact(text, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out _))
                {
                    problems.Add(new(path, $"a date in ISO 8601 form YYYY-MM-DD, e.g. 2026-03-31 (got \"{Shorten(text)}\")"));
                }

                break;
            case FieldType.Country:
                if (!CountryCodes.IsAssigned(text))
                {
                    problems.Add(new(path, $"an ISO 3166-1 alpha-2 country code in upper case, e.g. KE (got \"{Shorten(text)}\")"));
                }

                break;
            default:
                if (text.Length > maxLength)
                {
                    problems.Add(new(path, $"too long: at most {maxLength} characters (got {text.Length})"));
                }
                else if (pattern.Length > 0 && Matches(pattern, text) is not true)
                {
                    problems.Add(new(path, Matches(pattern, text) is null
                        ? "cannot be checked: the template's pattern for it is not a valid regular expression"
                        : $"does not have the expected form (pattern {pattern})"));
                }

                break;
        }
    }

    // Null when the pattern is not a regular expression: the server refuses such a template, but one
    // from a file or a hostile server must be reported, not crash the validator (found by the fuzz suite).
    private static bool? Matches(string pattern, string text)
    {
        try
        {
            return Regex.IsMatch(text, $"^(?:{pattern})$", RegexOptions.None, PatternTimeout);
        }
        catch (RegexMatchTimeoutException)
        {
            return false;
        }
        catch (ArgumentException)
        {
            return null;
        }
    }

    private static void Structured(List<DraftProblem> problems, string path, FieldType type, JsonElement value)
    {
        var subFields = SubFields[type];
        if (value.ValueKind != JsonValueKind.Object)
        {
            problems.Add(new(path, $"wrong type: {Describe(type)}, a JSON object with {string.Join(", ", subFields.Select(s => s.Name))}"));
            return;
        }

        var names = subFields.Select(s => s.Name).ToHashSet(StringComparer.Ordinal);
        foreach (var property in value.EnumerateObject().Where(p => !names.Contains(p.Name)))
        {
            problems.Add(new($"{path}.{property.Name}", $"unknown field: {Describe(type)} has {string.Join(", ", names)}"));
        }

        foreach (var (name, kind, required) in subFields)
        {
            if (value.TryGetProperty(name, out var sub) && !IsEmpty(sub))
            {
                Scalar(problems, $"{path}.{name}", kind, sub, SubFieldLength, "");
            }
            else if (required)
            {
                problems.Add(new($"{path}.{name}", "required"));
            }
        }

        if (type == FieldType.BankAccount)
        {
            BankAccount(problems, path, value);
        }
    }

    private static void BankAccount(List<DraftProblem> problems, string path, JsonElement value)
    {
        var iban = Text(value, "iban");
        if (iban is null)
        {
            if (Text(value, "account_number") is null || Text(value, "bank") is null)
            {
                problems.Add(new(path, "an iban, or an account_number and the bank"));
            }
        }
        else if (!IsIban(iban))
        {
            problems.Add(new($"{path}.iban", "not a valid IBAN (country code, check digits and account; the check digits do not match)"));
        }

        if (Text(value, "bic") is { } bic && !Regex.IsMatch(bic, "^[A-Z]{4}[A-Z]{2}[A-Z0-9]{2}([A-Z0-9]{3})?$", RegexOptions.None, PatternTimeout))
        {
            problems.Add(new($"{path}.bic", "a BIC of 8 or 11 characters, e.g. DEUTDEFF"));
        }
    }

    private static string? Text(JsonElement value, string name) =>
        value.TryGetProperty(name, out var sub) && sub.ValueKind == JsonValueKind.String && sub.GetString()!.Trim().Length > 0 ? sub.GetString() : null;

    // The server never publishes a template that repeats an id, but one read from a file or served by
    // a hostile server may: it is reported, not a crash of the validator (found by the fuzz suite).
    private static DraftProblem? RepeatedId(Template template)
    {
        var sectionIds = new HashSet<string>(StringComparer.Ordinal);
        foreach (var section in template.Sections)
        {
            if (!sectionIds.Add(section.SectionId))
            {
                return new(section.SectionId, $"the template repeats section id '{section.SectionId}': it is not a valid template");
            }

            var fieldIds = new HashSet<string>(StringComparer.Ordinal);
            foreach (var field in section.Fields.Where(f => !fieldIds.Add(f.FieldId)))
            {
                return new($"{section.SectionId}.{field.FieldId}", $"the template repeats field id '{field.FieldId}' in section '{section.SectionId}': it is not a valid template");
            }
        }

        return null;
    }

    /// <summary>ISO 13616: two letters, two check digits, up to 30 letters or digits, mod 97 = 1 (spaces allowed).</summary>
    public static bool IsIban(string iban)
    {
        ArgumentNullException.ThrowIfNull(iban);
        var compact = iban.Replace(" ", "", StringComparison.Ordinal).ToUpperInvariant();
        if (!Regex.IsMatch(compact, "^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$", RegexOptions.None, PatternTimeout))
        {
            return false;
        }

        var digits = string.Concat((compact[4..] + compact[..4]).Select(c => char.IsDigit(c) ? c.ToString() : (c - 'A' + 10).ToString(CultureInfo.InvariantCulture)));
        return BigInteger.Parse(digits, CultureInfo.InvariantCulture) % 97 == 1;
    }

    private static string Shorten(string text) => text.Length <= 40 ? text : text[..40] + "…";

    private static string Describe(Field field) => field.Type == FieldType.Enum ? $"values among {string.Join(", ", field.Options)}" : Describe(field.Type);

    private static string Describe(FieldType type) => type switch
    {
        FieldType.Text => "a text",
        FieldType.LongText => "a text",
        FieldType.Date => "a date (YYYY-MM-DD)",
        FieldType.Country => "a country code (ISO 3166-1 alpha-2)",
        FieldType.Enum => "an option",
        FieldType.Person => "a person",
        FieldType.LegalEntity => "a legal entity",
        FieldType.BankAccount => "a bank account",
        _ => "a value",
    };
}
