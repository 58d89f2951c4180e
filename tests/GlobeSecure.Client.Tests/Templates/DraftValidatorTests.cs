using System.Text.Json.Nodes;
using GlobeSecure.Client.Templates;
using GlobeSecure.Contracts.V1;

namespace GlobeSecure.Client.Tests.Templates;

/// <summary>The request writer's checks, one rule at a time, offline.</summary>
public sealed class DraftValidatorTests
{
    private static readonly Template Sample = new()
    {
        TemplateId = "sample",
        Version = 1,
        Name = "Sample",
        Sections =
        {
            new Section
            {
                SectionId = "case",
                Title = "Case",
                Fields =
                {
                    new Field { FieldId = "reference", Label = "Reference", Type = FieldType.Text, Required = true, Pattern = "[A-Z]{2}-[0-9]+", MaxLength = 12 },
                    new Field { FieldId = "summary", Label = "Summary", Type = FieldType.LongText },
                    new Field { FieldId = "opened", Label = "Opened", Type = FieldType.Date },
                    new Field { FieldId = "state", Label = "State", Type = FieldType.Country },
                    new Field { FieldId = "urgency", Label = "Urgency", Type = FieldType.Enum, Required = true, Options = { "normal", "urgent" } },
                    new Field { FieldId = "offences", Label = "Offences", Type = FieldType.Enum, List = true, Options = { "bribery", "embezzlement" } },
                },
            },
            new Section
            {
                SectionId = "subjects",
                Title = "Subjects",
                Fields =
                {
                    new Field { FieldId = "persons", Label = "Persons", Type = FieldType.Person, List = true, Required = true },
                    new Field { FieldId = "companies", Label = "Companies", Type = FieldType.LegalEntity, List = true },
                    new Field { FieldId = "accounts", Label = "Accounts", Type = FieldType.BankAccount, List = true },
                },
            },
        },
    };

    private static JsonObject Complete() => new()
    {
        ["case"] = new JsonObject { ["reference"] = "KE-42", ["urgency"] = "normal" },
        ["subjects"] = new JsonObject { ["persons"] = new JsonArray(new JsonObject { ["family_name"] = "Mwangi" }) },
    };

    private static IReadOnlyList<DraftProblem> Check(JsonObject draft) => DraftValidator.Validate(Sample, draft.ToJsonString());

    private static DraftProblem Single(JsonObject draft, string path)
    {
        var problem = Assert.Single(Check(draft));
        Assert.Equal(path, problem.Path);
        return problem;
    }

    private static JsonObject With(string section, string field, JsonNode? value)
    {
        var draft = Complete();
        draft[section]![field] = value;
        return draft;
    }

    [Fact]
    public void Validate_CompleteDraft_HasNoProblems() => Assert.Empty(Check(Complete()));

    [Fact]
    public void Validate_EmptyDraft_ListsEveryRequiredField() =>
        Assert.Equal(["case.reference", "case.urgency", "subjects.persons"], DraftValidator.Validate(Sample, "{}").Select(p => p.Path));

    [Theory]
    [InlineData("[]")]
    [InlineData("\"text\"")]
    [InlineData("{ not json")]
    public void Validate_NotAJsonObject_IsOneProblemAtTheRoot(string json) => Assert.Equal("$", Assert.Single(DraftValidator.Validate(Sample, json)).Path);

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("   ")]
    public void Validate_RequiredFieldNullOrBlank_IsRequired(string? value) =>
        Assert.StartsWith("required", Single(With("case", "reference", value), "case.reference").Problem, StringComparison.Ordinal);

    [Fact]
    public void Validate_RequiredListEmpty_IsRequired() => Single(With("subjects", "persons", new JsonArray()), "subjects.persons");

    [Fact]
    public void Validate_TextAsNumber_IsWrongType() =>
        Assert.StartsWith("wrong type", Single(With("case", "summary", 42), "case.summary").Problem, StringComparison.Ordinal);

    [Fact]
    public void Validate_TextLongerThanMaxLength_IsTooLong() =>
        Assert.Contains("at most 12", Single(With("case", "reference", "KE-1234567890"), "case.reference").Problem, StringComparison.Ordinal);

    [Fact]
    public void Validate_LongTextOverDefaultLength_IsTooLong() =>
        Single(With("case", "summary", new string('x', DraftValidator.DefaultLongTextLength + 1)), "case.summary");

    [Theory]
    [InlineData("ke-42")]
    [InlineData("KE-42 x")]
    public void Validate_TextNotMatchingPatternAsAWhole_IsAPatternMismatch(string value) =>
        Assert.Contains("pattern", Single(With("case", "reference", value), "case.reference").Problem, StringComparison.Ordinal);

    [Theory]
    [InlineData("24/11/2026")]
    [InlineData("2026-02-30")]
    [InlineData("2026-11-24T10:00:00Z")]
    public void Validate_DateNotIso8601_SaysTheForm(string value) =>
        Assert.Contains("YYYY-MM-DD", Single(With("case", "opened", value), "case.opened").Problem, StringComparison.Ordinal);

    [Theory]
    [InlineData("ke")]
    [InlineData("XX")]
    [InlineData("KEN")]
    public void Validate_CountryNotAlpha2_SaysTheForm(string value) =>
        Assert.Contains("ISO 3166-1 alpha-2", Single(With("case", "state", value), "case.state").Problem, StringComparison.Ordinal);

    [Fact]
    public void Validate_EnumValueNotAnOption_NamesTheOptions() =>
        Assert.Contains("normal, urgent", Single(With("case", "urgency", "very"), "case.urgency").Problem, StringComparison.Ordinal);

    [Fact]
    public void Validate_ListItemNotAnOption_NamesTheItemPath() =>
        Single(With("case", "offences", new JsonArray("bribery", "theft")), "case.offences[1]");

    [Fact]
    public void Validate_ListFieldGivenOneValue_AsksForAnArray() =>
        Assert.Contains("JSON array", Single(With("case", "offences", "bribery"), "case.offences").Problem, StringComparison.Ordinal);

    [Fact]
    public void Validate_SingleFieldGivenAnArray_AsksForOneValue() => Single(With("case", "urgency", new JsonArray("normal")), "case.urgency");

    [Fact]
    public void Validate_UnknownSectionAndField_AreEachReported() =>
        Assert.Equal(["extra", "case.colour"], Check(With("case", "colour", "red").Also(d => d["extra"] = new JsonObject())).Select(p => p.Path));

    [Fact]
    public void Validate_PersonWithoutFamilyNameAndBadSubFields_ListsEach()
    {
        var draft = With("subjects", "persons", new JsonArray(new JsonObject { ["given_names"] = "John", ["date_of_birth"] = "12.04.1979", ["nationality"] = "Kenya", ["age"] = 46 }));

        Assert.Equal(["subjects.persons[0].age", "subjects.persons[0].family_name", "subjects.persons[0].date_of_birth", "subjects.persons[0].nationality"],
            Check(draft).Select(p => p.Path));
    }

    [Fact]
    public void Validate_PersonAsText_IsWrongTypeNamingTheSubFields() =>
        Assert.Contains("family_name", Single(With("subjects", "persons", new JsonArray("John Mwangi")), "subjects.persons[0]").Problem, StringComparison.Ordinal);

    [Fact]
    public void Validate_LegalEntityWithoutName_IsRequired() =>
        Single(With("subjects", "companies", new JsonArray(new JsonObject { ["country"] = "UG" })), "subjects.companies[0].name");

    [Theory]
    [InlineData("DE89 3704 0044 0532 0130 00", true)]
    [InlineData("GB82WEST12345698765432", true)]
    [InlineData("DE88 3704 0044 0532 0130 00", false)]
    [InlineData("DE89", false)]
    public void IsIban_Value_ChecksFormAndCheckDigits(string iban, bool valid) => Assert.Equal(valid, DraftValidator.IsIban(iban));

    [Fact]
    public void Validate_BankAccountWithBadIban_NamesTheIban() =>
        Single(With("subjects", "accounts", new JsonArray(new JsonObject { ["iban"] = "DE88 3704 0044 0532 0130 00" })), "subjects.accounts[0].iban");

    [Fact]
    public void Validate_BankAccountWithNeitherIbanNorAccountAndBank_AsksForOne() =>
        Assert.Contains("iban", Single(With("subjects", "accounts", new JsonArray(new JsonObject { ["account_number"] = "123" })), "subjects.accounts[0]").Problem,
            StringComparison.Ordinal);

    [Fact]
    public void Validate_BankAccountWithAccountNumberAndBank_IsFine() =>
        Assert.Empty(Check(With("subjects", "accounts", new JsonArray(new JsonObject { ["account_number"] = "123", ["bank"] = "Example Bank", ["bic"] = "DEUTDEFF" }))));

    [Fact]
    public void Validate_BankAccountWithBadBic_NamesTheBic() =>
        Single(With("subjects", "accounts", new JsonArray(new JsonObject { ["iban"] = "GB82WEST12345698765432", ["bic"] = "DEUT" })), "subjects.accounts[0].bic");

    [Fact]
    public void Validate_DocumentedExampleDraft_IsCompleteForTheSeedTemplate()
    {
        var template = GlobeClient.ParseTemplate(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Templates", "request-for-information.json")));
        var draft = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Templates", "request-for-information.draft.json"));

        Assert.Empty(DraftValidator.Validate(template, draft));
    }

    [Fact]
    public void Validate_EmptyDraftForTheSeedTemplate_ListsEveryRequiredField()
    {
        var template = GlobeClient.ParseTemplate(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Templates", "request-for-information.json")));

        var problems = DraftValidator.Validate(template, "{}");

        Assert.Equal(template.Sections.SelectMany(s => s.Fields.Where(f => f.Required).Select(f => $"{s.SectionId}.{f.FieldId}")), problems.Select(p => p.Path));
    }
}

internal static class JsonObjectExtensions
{
    public static JsonObject Also(this JsonObject o, Action<JsonObject> change)
    {
        change(o);
        return o;
    }
}
