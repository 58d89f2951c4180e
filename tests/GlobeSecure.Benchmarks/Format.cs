using System.Globalization;

namespace GlobeSecure.Benchmarks;

/// <summary>How every benchmark writes its numbers: invariant culture, ratios as "0.00×", progress to standard error.</summary>
internal static class Format
{
    public static string Ratio(double a, double b) => b <= 0 ? "n/a" : (a / b).ToString("0.00", CultureInfo.InvariantCulture) + "×";

    public static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    public static string Met(bool met) => met ? "met" : "not met";

    /// <summary>A progress line on standard error (the report itself goes to standard output).</summary>
    public static void Progress(FormattableString text) => Console.Error.WriteLine(text.ToString(CultureInfo.InvariantCulture));
}
