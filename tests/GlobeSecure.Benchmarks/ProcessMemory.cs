using System.Globalization;

namespace GlobeSecure.Benchmarks;

/// <summary>
/// This process's resident memory from /proc: the peak (VmHWM) since the last
/// <see cref="ResetPeak"/>, so each workload's peak is its own and not an earlier one's.
/// </summary>
internal static class ProcessMemory
{
    /// <summary>Starts a new peak at the current resident size (Linux clear_refs 5); false where it cannot.</summary>
    public static bool ResetPeak()
    {
        try
        {
            File.WriteAllText("/proc/self/clear_refs", "5");
            return true;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>Peak resident memory since the last reset, in MiB (0 when /proc is not there).</summary>
    public static double PeakMiB() => StatusKiB("VmHWM:") / 1024.0;

    /// <summary>Resident memory now, in MiB.</summary>
    public static double CurrentMiB() => StatusKiB("VmRSS:") / 1024.0;

    private static long StatusKiB(string field)
    {
        try
        {
            var line = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith(field, StringComparison.Ordinal));
            return line is null ? 0 : long.Parse(line[field.Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException)
        {
            return 0;
        }
    }
}
