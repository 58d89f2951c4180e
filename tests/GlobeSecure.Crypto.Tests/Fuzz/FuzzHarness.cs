using System.Diagnostics;
using CsCheck;

namespace GlobeSecure.Fuzzing;

/// <summary>
/// The parser fuzz suite's engine (ADR 0016), shared by the crypto and client test projects: each
/// case is random bytes or a committed valid seed mutated (bit flips, interesting bytes, truncation,
/// extension, deletion, duplication, splices with another seed), drawn with CsCheck from its own
/// <see cref="PCG"/> per (seed, parser, case) so any case replays alone. A case fails when the
/// parser throws anything but its documented rejection, runs longer than <see cref="CaseLimit"/>
/// (a hang) or allocates more than <see cref="AllocationLimit"/>. Valid seeds must still parse.
/// GLOBE_FUZZ_CASES (cases per parser), GLOBE_FUZZ_SEED, GLOBE_FUZZ_MINUTES (per parser, instead of
/// a case count) and GLOBE_FUZZ_REPORT (a file each parser appends its count line to) steer it;
/// ops/fuzz.sh sets them.
/// </summary>
internal static class FuzzHarness
{
    /// <summary>A case this slow is a hang (generous: the CI machine is shared; a real hang never ends).</summary>
    public static readonly TimeSpan CaseLimit = TimeSpan.FromSeconds(20);

    /// <summary>More than this allocated by one case is a huge allocation (inputs are at most a few KiB).</summary>
    public const long AllocationLimit = 64L * 1024 * 1024;

    public static int Cases(int defaultCases) =>
        int.TryParse(Environment.GetEnvironmentVariable("GLOBE_FUZZ_CASES"), out var n) && n > 0 ? n : defaultCases;

    public static ulong Seed => ulong.TryParse(Environment.GetEnvironmentVariable("GLOBE_FUZZ_SEED"), out var seed) ? seed : 20_261_125UL;

    private static TimeSpan? Duration =>
        double.TryParse(Environment.GetEnvironmentVariable("GLOBE_FUZZ_MINUTES"), System.Globalization.CultureInfo.InvariantCulture, out var minutes) && minutes > 0
            ? TimeSpan.FromMinutes(minutes)
            : null;

    /// <summary>
    /// Runs the parser over its valid seeds (each must be accepted) and then over the cases; asserts
    /// that no case did anything but accept or reject as documented.
    /// </summary>
    /// <param name="parser">The parser's name (ops/fuzz.sh --parser; also mixes into every case's stream).</param>
    /// <param name="seeds">Valid inputs, e.g. the committed corpus.</param>
    /// <param name="parse">Parses (and verifies) one input; returns normally when it accepts it.</param>
    /// <param name="documented">The rejections the parser documents (exception types and their subclasses).</param>
    /// <param name="defaultCases">Cases when GLOBE_FUZZ_CASES is unset (the bounded run of ops/test.sh).</param>
    /// <param name="maxRandomLength">Longest purely random input.</param>
    public static void Run(string parser, IReadOnlyList<byte[]> seeds, Action<byte[]> parse, Type[] documented, int defaultCases = 300,
        int maxRandomLength = 512)
    {
        Assert.NotEmpty(seeds);
        foreach (var (seed, i) in seeds.Select((s, i) => (s, i)))
        {
            var exception = Record.Exception(() => parse(seed));
            Assert.True(exception is null, $"{parser}: valid seed {i} was rejected: {exception}");
        }

        var cases = Cases(defaultCases);
        var duration = Duration;
        var clock = Stopwatch.StartNew();
        var problems = new List<string>();
        int run = 0, accepted = 0, rejected = 0;
        for (var index = 0; duration is { } d ? clock.Elapsed < d : index < cases; index++)
        {
            var input = Input(parser, index, seeds, maxRandomLength);
            var outcome = RunCase(parse, input);
            run++;
            switch (outcome)
            {
                case { Exception: null, TimedOut: false, Allocated: <= AllocationLimit }:
                    accepted++;
                    break;
                case { TimedOut: false, Allocated: <= AllocationLimit } when documented.Any(t => t.IsInstanceOfType(outcome.Exception)):
                    rejected++;
                    break;
                default:
                    problems.Add($"case {index} ({input.Length} bytes {Hex(input)}): "
                        + (outcome.TimedOut ? $"no answer within {CaseLimit.TotalSeconds:F0} s"
                            : outcome.Allocated > AllocationLimit ? $"allocated {outcome.Allocated:N0} bytes"
                            : $"undocumented {outcome.Exception}"));
                    break;
            }

            if (problems.Count >= 20)
            {
                break;
            }
        }

        var summary = $"fuzz {parser}: {run} cases ({accepted} accepted, {rejected} rejected as documented, {problems.Count} problems) "
            + $"in {clock.Elapsed.TotalSeconds:F1} s, seed {Seed}";
        TestContext.Current.TestOutputHelper?.WriteLine(summary);
        if (Environment.GetEnvironmentVariable("GLOBE_FUZZ_REPORT") is { Length: > 0 } report)
        {
            File.AppendAllText(report, summary + Environment.NewLine
                + string.Concat(problems.Select(p => $"  {parser} {p}{Environment.NewLine}")));
        }

        Assert.True(problems.Count == 0,
            $"{summary}\nReplay: ops/fuzz.sh --parser {parser} --seed {Seed}\n" + string.Join("\n", problems));
    }

    /// <summary>Case <paramref name="index"/>'s input: a third random bytes, the rest mutated seeds.</summary>
    public static byte[] Input(string parser, int index, IReadOnlyList<byte[]> seeds, int maxRandomLength)
    {
        var pcg = new PCG(Fnv(parser), Seed * 1_000_003UL + (ulong)index);
        if (index % 3 == 0)
        {
            return Gen.Byte.Array[0, maxRandomLength].Generate(pcg, null!, out _);
        }

        var input = seeds[(int)pcg.Next((uint)seeds.Count)].ToArray();
        var mutations = 1 + (int)pcg.Next(index % 5 == 1 ? 16u : 4u);
        for (var m = 0; m < mutations; m++)
        {
            input = Mutate(pcg, input, seeds);
        }

        return input;
    }

    private static readonly byte[] Interesting = [0x00, 0x01, 0x7F, 0x80, 0xFF, 0xFE, 0x20, 0x22, 0x5C, 0x7B, 0x7D, 0x2D, 0x30, 0x39];

    private static byte[] Mutate(PCG pcg, byte[] input, IReadOnlyList<byte[]> seeds)
    {
        var n = input.Length;
        int At() => n == 0 ? 0 : (int)pcg.Next((uint)n);
        switch (pcg.Next(9))
        {
            case 0 when n > 0:
                input[At()] ^= (byte)(1 << (int)pcg.Next(8));
                return input;
            case 1 when n > 0:
                input[At()] = Interesting[pcg.Next((uint)Interesting.Length)];
                return input;
            case 2 when n > 0:
                return input[..At()];
            case 3:
                return [.. input, .. Gen.Byte.Array[1, 64].Generate(pcg, null!, out _)];
            case 4 when n > 1:
            {
                var start = At();
                var length = 1 + (int)pcg.Next((uint)Math.Min(32, n - start));
                return [.. input[..start], .. input[(start + length)..]];
            }

            case 5 when n > 1:
            {
                var start = At();
                var length = 1 + (int)pcg.Next((uint)Math.Min(32, n - start));
                return [.. input[..(start + length)], .. input[start..]];
            }

            case 6:
            {
                // Splice: a prefix of this input, the tail of another seed.
                var other = seeds[(int)pcg.Next((uint)seeds.Count)];
                var cut = At();
                var from = other.Length == 0 ? 0 : (int)pcg.Next((uint)other.Length);
                return [.. input[..cut], .. other[from..]];
            }

            case 7 when n >= 4:
            {
                // A 32-bit integer field overwritten with a boundary value (lengths, counts, sizes).
                var at = (int)pcg.Next((uint)(n - 3));
                uint[] values = [0, 1, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, (uint)n, 0x00010000];
                BitConverter.TryWriteBytes(input.AsSpan(at, 4), values[pcg.Next((uint)values.Length)]);
                return input;
            }

            default:
                if (n == 0)
                {
                    return [(byte)pcg.Next(256)];
                }

                input[At()] = (byte)pcg.Next(256);
                return input;
        }
    }

    private sealed record Outcome(Exception? Exception, bool TimedOut, long Allocated);

    private static Outcome RunCase(Action<byte[]> parse, byte[] input)
    {
        long allocated = 0;
        Exception? thrown = null;
        var worker = new Thread(() =>
        {
            var before = GC.GetAllocatedBytesForCurrentThread();
            try
            {
                parse(input);
            }
#pragma warning disable CA1031 // Every exception is judged against the documented ones.
            catch (Exception e)
#pragma warning restore CA1031
            {
                thrown = e;
            }

            allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        }, maxStackSize: 4 * 1024 * 1024) { IsBackground = true, Name = "fuzz case" };
        worker.Start();
        return worker.Join(CaseLimit) ? new Outcome(thrown, false, allocated) : new Outcome(null, true, 0);
    }

    private static string Hex(byte[] input) =>
        Convert.ToHexString(input.AsSpan(0, Math.Min(input.Length, 64))) + (input.Length > 64 ? "…" : "");

    private static uint Fnv(string text)
    {
        var hash = 2_166_136_261u;
        foreach (var ch in text)
        {
            hash = unchecked((hash ^ ch) * 16_777_619u);
        }

        return hash;
    }

    /// <summary>The committed seed files of a parser (tests/GlobeSecure.Crypto.Tests/Fuzz/corpus/PARSER/*.bin, copied to the output).</summary>
    public static IReadOnlyList<byte[]> Corpus(string parser)
    {
        var directory = Path.Combine(AppContext.BaseDirectory, "Fuzz", "corpus", parser);
        return Directory.Exists(directory)
            ? Directory.GetFiles(directory, "*.bin").Order(StringComparer.Ordinal).Select(File.ReadAllBytes).ToList()
            : [];
    }
}

/// <summary>Thrown by a fuzz target whose parser answers with a result: its documented "invalid" result.</summary>
internal sealed class FuzzRejectedException(string reason) : Exception(reason);
