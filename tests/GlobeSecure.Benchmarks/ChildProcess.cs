using System.Diagnostics;
using System.Reflection;

namespace GlobeSecure.Benchmarks;

/// <summary>This executable started again as a child process in another mode (a document worker, the load run's server).</summary>
internal static class ChildProcess
{
    /// <summary>Start information for this executable with <paramref name="arguments"/>, its standard streams redirected.</summary>
    public static ProcessStartInfo Of(params string[] arguments)
    {
        var start = new ProcessStartInfo(Environment.ProcessPath ?? "dotnet")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (Path.GetFileNameWithoutExtension(start.FileName) == "dotnet")
        {
            start.ArgumentList.Add(Assembly.GetEntryAssembly()!.Location);
        }

        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        return start;
    }
}
