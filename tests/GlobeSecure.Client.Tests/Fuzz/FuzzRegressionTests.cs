using GlobeSecure.Client.Templates;
using GlobeSecure.Crypto;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using V1 = GlobeSecure.Contracts.V1;

namespace GlobeSecure.Client.Tests.Fuzz;

/// <summary>Each fault the parser fuzz suite (or its review) found, at its minimal input (ADR 0016).</summary>
public sealed class FuzzRegressionTests : IDisposable
{
    private readonly FuzzWorld _world = new();

    // Fuzz seed 20261125, template case 173: the seed template with a section repeated (a
    // duplication mutation) made DraftValidator throw ArgumentException from ToDictionary.
    [Fact]
    public void DraftValidator_TemplateRepeatingASectionOrFieldId_ReportsAProblemInsteadOfThrowing()
    {
        var template = GlobeClient.ParseTemplate(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Templates", "request-for-information.json")));
        var repeatedSection = template.Clone();
        repeatedSection.Sections.Add(repeatedSection.Sections[0].Clone());
        var repeatedField = template.Clone();
        repeatedField.Sections[0].Fields.Add(repeatedField.Sections[0].Fields[0].Clone());

        var sectionProblem = Assert.Single(DraftValidator.Validate(repeatedSection, "{}"));
        var fieldProblem = Assert.Single(DraftValidator.Validate(repeatedField, "{}"));

        Assert.Contains("repeats section id", sectionProblem.Problem, StringComparison.Ordinal);
        Assert.Contains("repeats field id", fieldProblem.Problem, StringComparison.Ordinal);
    }

    // Fuzz seed 99, template case 5819: a mutated pattern ("^[a-z" with its "]" gone) made
    // DraftValidator throw RegexParseException while checking a filled field.
    [Fact]
    public void DraftValidator_TemplatePatternThatIsNotARegularExpression_ReportsAProblemInsteadOfThrowing()
    {
        var template = new V1.Template
        {
            TemplateId = "t", Version = 1,
            Sections = { new V1.Section { SectionId = "s", Title = "S", Fields = { new V1.Field { FieldId = "code", Label = "Code", Type = V1.FieldType.Text, Pattern = "[a-z{2}" } } } },
        };

        var problem = Assert.Single(DraftValidator.Validate(template, """{"s": {"code": "ab"}}"""));

        Assert.Equal("s.code", problem.Path);
        Assert.Contains("not a valid regular expression", problem.Problem, StringComparison.Ordinal);
    }

    // Every time on the wire (certificate validity, sent-at, receipt, epoch distribution) went through
    // Timestamp.ToDateTimeOffset, which throws InvalidOperationException outside 0001..9999 or for
    // nanos outside 0..999,999,999: a hostile server could answer with an exception no caller expects.
    [Theory]
    [InlineData(long.MaxValue, 0)]
    [InlineData(-62_135_596_801, 0)]
    [InlineData(0, -1)]
    [InlineData(0, 1_000_000_000)]
    public void Wire_TimeOutOfTimestampRange_IsMalformedInput(long seconds, int nanos)
    {
        var time = new Timestamp { Seconds = seconds, Nanos = nanos };
        var envelope = V1.MessageEnvelope.Parser.ParseFrom(Corpus("message-envelope", "text"));
        envelope.Header.SentAt = time;
        var certificate = _world.Sender.Certificate.ToProto();
        certificate.NotAfter = time;
        var receipt = V1.Receipt.Parser.ParseFrom(Corpus("receipt", "read"));
        receipt.At = time;
        var distribution = V1.EpochKeyDistribution.Parser.ParseFrom(Corpus("epoch-key-distribution", "two-recipients"));
        distribution.CreatedAt = time;

        Assert.Contains("out of range", Assert.Throws<MalformedInputException>(() => Wire.FromProto(envelope)).Message, StringComparison.Ordinal);
        Assert.Throws<MalformedInputException>(() => Wire.FromProto(certificate));
        Assert.Throws<MalformedInputException>(() => Wire.FromProto(receipt));
        Assert.Throws<MalformedInputException>(() => Wire.FromProto(distribution));
    }

    [Fact]
    public void Wire_TimesAtTheEdgesOfTheTimestampRange_AreRead()
    {
        var envelope = V1.MessageEnvelope.Parser.ParseFrom(Corpus("message-envelope", "text"));
        envelope.Header.SentAt = new Timestamp { Seconds = 253_402_300_799, Nanos = 999_999_999 };

        Assert.Equal(9999, Wire.FromProto(envelope).Header.SentAt.Year);
    }

    private static byte[] Corpus(string parser, string name) =>
        File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "Fuzz", "corpus", parser, name + ".bin"));

    public void Dispose() => _world.Dispose();
}
