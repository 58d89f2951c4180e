namespace GlobeSecure.Server.Channels;

/// <summary>
/// Handling codes and evaluation grades as they appear (signed) in message headers. Pure.
/// Handling codes, least to most restrictive: H0 (use only to prevent or combat crime), H1
/// (not for judicial proceedings without the provider's permission), H2 (no onward
/// dissemination without the provider's permission), H3 (other conditions, free text:
/// <c>H3:conditions</c>). Each code adds to the restrictions of the ones before it.
/// </summary>
internal static class HandlingPolicy
{
    public const int MaxConditionsLength = 500;

    /// <summary>The restriction level 0–3 of a valid code, or null with <paramref name="problem"/> set.</summary>
    public static int? Level(string code, out string? problem)
    {
        problem = null;
        switch (code)
        {
            case "H0":
                return 0;
            case "H1":
                return 1;
            case "H2":
                return 2;
        }

        if (code.StartsWith("H3:", StringComparison.Ordinal))
        {
            var conditions = code[3..];
            if (conditions.Trim().Length == 0 || conditions.Length > MaxConditionsLength)
            {
                problem = $"H3 needs its conditions: \"H3:\" followed by 1 to {MaxConditionsLength} characters";
                return null;
            }

            return 3;
        }

        problem = "must be H0, H1, H2 or \"H3:<conditions>\"";
        return null;
    }

    /// <summary>The code without H3's free-text conditions (which may be personal or case data: not for error messages).</summary>
    public static string Describe(string code) => code.StartsWith("H3:", StringComparison.Ordinal) ? "H3 with conditions" : code;

    /// <summary>True when <paramref name="reply"/> keeps or tightens <paramref name="parent"/>'s restrictions (H3 conditions must be kept verbatim).</summary>
    public static bool KeepsOrTightens(string parent, string reply)
    {
        var p = Level(parent, out _);
        var r = Level(reply, out _);
        return p is not null && r is not null && (r > p || (r == p && (r < 3 || reply == parent)));
    }
}

/// <summary>An evaluation grading scheme: which grades it allows.</summary>
internal interface IGradingScheme
{
    /// <summary>The scheme's name as written before the colon, e.g. "4x4".</summary>
    string Name { get; }

    /// <summary>Null when <paramref name="grade"/> is valid, else what is wrong.</summary>
    string? Check(string grade);
}

/// <summary>The 4x4 scheme: source reliability A, B, C or X, then information assessment 1 to 4 (e.g. "B2").</summary>
internal sealed class FourByFourScheme : IGradingScheme
{
    public string Name => "4x4";

    public string? Check(string grade) =>
        grade.Length == 2 && "ABCX".Contains(grade[0], StringComparison.Ordinal) && grade[1] is >= '1' and <= '4'
            ? null
            : "a 4x4 grade is a source letter A, B, C or X then an information digit 1 to 4, e.g. \"4x4:B2\"";
}

/// <summary>
/// The 3x5x2 scheme (UK College of Policing): source evaluation 1 (reliable), 2 (untested) or 3
/// (not reliable); intelligence assessment A (known directly to the source), B (known indirectly,
/// corroborated), C (known indirectly), D (not known) or E (suspected to be false); handling P
/// (lawful sharing permitted) or C (sharing permitted with conditions). E.g. "3x5x2:1AP".
/// </summary>
internal sealed class ThreeByFiveByTwoScheme : IGradingScheme
{
    public string Name => "3x5x2";

    public string? Check(string grade) =>
        grade.Length == 3 && grade[0] is >= '1' and <= '3' && grade[1] is >= 'A' and <= 'E' && grade[2] is 'P' or 'C'
            ? null
            : "a 3x5x2 grade is a source digit 1 to 3, an intelligence letter A to E, then a handling letter P or C, e.g. \"3x5x2:1AP\"";
}

/// <summary>The grading schemes the server accepts.</summary>
internal static class Grading
{
    private static readonly IReadOnlyList<IGradingScheme> Schemes = [new FourByFourScheme(), new ThreeByFiveByTwoScheme()];

    /// <summary>Null when <paramref name="grade"/> is empty (no grade) or valid for its scheme, else what is wrong.</summary>
    public static string? Check(string grade)
    {
        if (grade.Length == 0)
        {
            return null;
        }

        var colon = grade.IndexOf(':', StringComparison.Ordinal);
        var scheme = colon < 0 ? null : Schemes.FirstOrDefault(s => s.Name == grade[..colon]);
        return scheme is null
            ? $"must be empty or \"<scheme>:<grade>\" with a scheme among {string.Join(", ", Schemes.Select(s => s.Name))}"
            : scheme.Check(grade[(colon + 1)..]);
    }
}
