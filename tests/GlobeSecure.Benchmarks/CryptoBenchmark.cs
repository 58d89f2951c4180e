using System.Diagnostics;
using System.Globalization;
using GlobeSecure.Crypto;

using static GlobeSecure.Benchmarks.Format;

namespace GlobeSecure.Benchmarks;

/// <summary>
/// GlobeSecure.Crypto next to raw libsodium in the same run: document cipher throughput against
/// raw XChaCha20-Poly1305 and BLAKE2b-256 (and the bounds they set), envelope rates against raw
/// Ed25519 and AEAD calls, Argon2id's time, and the known-answer self-test. Writes its markdown
/// section to stdout, progress to stderr.
/// </summary>
internal static class CryptoBenchmark
{
    /// <summary>The issue's goal: the document cipher at 0.85× raw AEAD throughput or better.</summary>
    public const double DocumentGoal = 0.85;

    /// <summary>What Argon2idParameters.Default is meant to cost on the reference machine.</summary>
    public const double Argon2TargetMilliseconds = 500;

    private const int Argon2MinRuns = 3;

    public static async Task RunAsync(BenchSettings settings)
    {
        var mib = settings.DocumentMiB;
        var envelopeWindow = settings.Warmup + settings.Measure;
        var argonRuns = Math.Max(Argon2MinRuns, settings.Repeats);
        Progress($"crypto: {settings.Repeats} × 5 passes over {mib} MiB, {settings.Repeats} × 6 envelope/primitive windows of {envelopeWindow.TotalSeconds:0.#} s, {argonRuns} Argon2id runs: about {(settings.Repeats * 6 * envelopeWindow).TotalMinutes + 0.5:0.0} min");
        var loadBefore = SystemReport.LoadAverage();

        var selfTest = RunSelfTest();
        Progress($"self-test: {(selfTest.Failure is null ? $"{selfTest.Passed.Count} checks passed" : "FAILED: " + selfTest.Failure)}");

        var documents = await MeasureDocumentsAsync(settings);
        var loadEnvelopes = SystemReport.LoadAverage();
        var envelopes = MeasureEnvelopes(settings);
        var loadArgon = SystemReport.LoadAverage();
        var argon = MeasureArgon2(settings, argonRuns);
        var loadAfter = SystemReport.LoadAverage();

        var o = Console.Out;
        o.WriteLine();
        o.WriteLine("# Cryptography (GlobeSecure.Crypto) vs raw libsodium");
        WriteDocuments(o, settings, documents);
        WriteSelfTest(o, selfTest);
        WriteEnvelopes(o, settings, envelopes);
        WriteArgon2(o, argon);

        o.WriteLine();
        o.WriteLine("Machine:");
        foreach (var (name, value) in SystemReport.Machine())
        {
            o.WriteLine($"- {name}: {value}");
        }

        o.WriteLine($"- CPU vector extensions: {SystemReport.CryptoCpuFlags()}");
        o.WriteLine($"- libsodium: {RawSodium.Version}");
        o.WriteLine($"- load average (1, 5, 15 min) before the documents / envelopes / Argon2id, and after: {loadBefore} / {loadEnvelopes} / {loadArgon} / {loadAfter}");
        o.WriteLine("  (the benchmark itself adds up to 2 while the document cipher runs; the cores are shared with other processes)");
    }

    // ---- Known-answer self-test ----

    private sealed record SelfTestResult(IReadOnlyList<string> Passed, string? Failure);

    private static SelfTestResult RunSelfTest()
    {
        try
        {
            return new SelfTestResult(CryptoSelfTest.Run(), null);
        }
        catch (Exception ex)
        {
            // Reported, not rethrown: the throughput figures are still worth printing.
            return new SelfTestResult([], $"{ex.GetType().Name}: {ex.Message}");
        }
    }

    private static void WriteSelfTest(TextWriter o, SelfTestResult result)
    {
        o.WriteLine();
        o.WriteLine("## Known-answer self-test (GlobeSecure.Crypto.CryptoSelfTest.Run)");
        o.WriteLine();
        o.WriteLine("| check | result |");
        o.WriteLine("|-------|--------|");
        foreach (var name in result.Passed)
        {
            o.WriteLine($"| {name} | pass |");
        }

        if (result.Failure is not null)
        {
            o.WriteLine($"| (the check that threw) | FAIL — {result.Failure.ReplaceLineEndings(" ").Replace("|", "\\|", StringComparison.Ordinal)} |");
        }

        o.WriteLine();
        o.WriteLine(result.Failure is null
            ? Invariant($"All {result.Passed.Count} known-answer checks passed.")
            : "SELF-TEST FAILED: the wrappers do not reproduce the standard vectors (see the row above).");
    }

    // ---- Documents ----

    private sealed record DocumentResults(
        List<DocumentRun> Encrypt, List<DocumentRun> Decrypt, List<TimeSpan> RawEncrypt, List<TimeSpan> RawDecrypt, List<TimeSpan> RawHash,
        long BufferBytes, long PeakWorkingSet);

    private static async Task<DocumentResults> MeasureDocumentsAsync(BenchSettings settings)
    {
        var mib = settings.DocumentMiB;
        Progress($"preparing {mib} MiB of random plaintext and the raw ciphertext…");
        var w = new DocumentWorkloads(mib);
        var results = new DocumentResults([], [], [], [], [], w.BufferBytes, 0);
        if (settings.Warmup > TimeSpan.Zero)
        {
            // One untimed pass of each: JIT, the pool's buffers, first touch of the output stream.
            await w.DocumentEncryptAsync();
            await w.DocumentDecryptAsync();
            w.RawEncrypt();
            w.RawDecrypt();
            w.RawHash();
        }

        // Document and raw passes back to back, alternating which goes first, so that drift (a
        // neighbour taking a core) lands on both sides alike. Encryption always precedes the
        // decryption of its output.
        for (var rep = 0; rep < settings.Repeats; rep++)
        {
            var tag = Invariant($"[{rep + 1}/{settings.Repeats}]");
            var documentFirst = rep % 2 == 0;
            for (var side = 0; side < 2; side++)
            {
                if ((side == 0) == documentFirst)
                {
                    var run = await w.DocumentEncryptAsync();
                    results.Encrypt.Add(run);
                    Progress($"{tag} DocumentCipher encrypt: {mib / run.Elapsed.TotalSeconds,7:N0} MiB/s, {run.AllocatedBytes / 1024.0:N0} KiB allocated");
                }
                else
                {
                    var t = w.RawEncrypt();
                    results.RawEncrypt.Add(t);
                    Progress($"{tag} raw AEAD encrypt:       {mib / t.TotalSeconds,7:N0} MiB/s");
                }
            }

            var h = w.RawHash();
            results.RawHash.Add(h);
            Progress($"{tag} raw BLAKE2b-256:        {mib / h.TotalSeconds,7:N0} MiB/s");

            for (var side = 0; side < 2; side++)
            {
                if ((side == 0) == documentFirst)
                {
                    var run = await w.DocumentDecryptAsync();
                    results.Decrypt.Add(run);
                    Progress($"{tag} DocumentCipher decrypt: {mib / run.Elapsed.TotalSeconds,7:N0} MiB/s, {run.AllocatedBytes / 1024.0:N0} KiB allocated");
                }
                else
                {
                    var t = w.RawDecrypt();
                    results.RawDecrypt.Add(t);
                    Progress($"{tag} raw AEAD decrypt:       {mib / t.TotalSeconds,7:N0} MiB/s");
                }
            }
        }

        using var process = Process.GetCurrentProcess();
        results = results with { PeakWorkingSet = process.PeakWorkingSet64 };
        return results;
    }

    private static void WriteDocuments(TextWriter o, BenchSettings settings, DocumentResults r)
    {
        var mib = (double)settings.DocumentMiB;
        double Rate(TimeSpan t) => mib / t.TotalSeconds;
        var enc = Median(r.Encrypt.Select(x => Rate(x.Elapsed)));
        var dec = Median(r.Decrypt.Select(x => Rate(x.Elapsed)));
        var rawEnc = Median(r.RawEncrypt.Select(Rate));
        var rawDec = Median(r.RawDecrypt.Select(Rate));
        var hash = Median(r.RawHash.Select(Rate));

        o.WriteLine();
        o.WriteLine(Invariant($"## Document cipher: {settings.DocumentMiB} MiB in {DocumentWorkloads.ChunkSize / 1024} KiB chunks"));
        o.WriteLine();
        o.WriteLine(Invariant($"{settings.Repeats} interleaved repeats (document and raw back to back, alternating which goes first), median shown; MiB/s of plaintext."));
        o.WriteLine("Document: DocumentCipher.EncryptAsync from a MemoryStream over a preallocated random buffer into a preallocated MemoryStream,");
        o.WriteLine("and DecryptAsync of that ciphertext into Stream.Null with the expected document id and plaintext hash (both compute BLAKE2b-256");
        o.WriteLine("of the plaintext, on a second core). Raw: libsodium XChaCha20-Poly1305 (IETF, no associated data) over the same bytes in the");
        o.WriteLine("same 64 KiB pieces in a plain loop into one reused output buffer (Primitives.Encrypt / TryDecrypt), and BLAKE2b-256 over the");
        o.WriteLine("same pieces (IncrementalHash): no streams, no copies, no hashing beside the AEAD.");
        o.WriteLine();
        o.WriteLine("| workload | MiB/s | per run (MiB/s, in run order) |");
        o.WriteLine("|----------|------:|-------------------------------|");
        o.WriteLine(Invariant($"| DocumentCipher.EncryptAsync | {enc:N0} | {PerRun(r.Encrypt.Select(x => Rate(x.Elapsed)))} |"));
        o.WriteLine(Invariant($"| raw XChaCha20-Poly1305 encrypt | {rawEnc:N0} | {PerRun(r.RawEncrypt.Select(Rate))} |"));
        o.WriteLine(Invariant($"| DocumentCipher.DecryptAsync | {dec:N0} | {PerRun(r.Decrypt.Select(x => Rate(x.Elapsed)))} |"));
        o.WriteLine(Invariant($"| raw XChaCha20-Poly1305 decrypt | {rawDec:N0} | {PerRun(r.RawDecrypt.Select(Rate))} |"));
        o.WriteLine(Invariant($"| raw BLAKE2b-256 | {hash:N0} | {PerRun(r.RawHash.Select(Rate))} |"));

        // Per byte, a cipher that must also hash the plaintext cannot beat the slower of the two
        // primitives even with perfect overlap on two cores, nor should it be slower than both in
        // sequence on one.
        var pipeEnc = Math.Min(rawEnc, hash);
        var pipeDec = Math.Min(rawDec, hash);
        var seqEnc = 1 / ((1 / rawEnc) + (1 / hash));
        var seqDec = 1 / ((1 / rawDec) + (1 / hash));
        o.WriteLine();
        o.WriteLine("| ratio (medians) | encrypt | decrypt |");
        o.WriteLine("|-----------------|--------:|--------:|");
        o.WriteLine(Invariant($"| **document ÷ raw AEAD** (goal ≥ {DocumentGoal:0.00}×) | **{Ratio(enc, rawEnc)}** | **{Ratio(dec, rawDec)}** |"));
        o.WriteLine(Invariant($"| pipelined bound 1/max(t_aead, t_hash) | {pipeEnc:N0} MiB/s | {pipeDec:N0} MiB/s |"));
        o.WriteLine(Invariant($"| document ÷ pipelined bound | {Ratio(enc, pipeEnc)} | {Ratio(dec, pipeDec)} |"));
        o.WriteLine(Invariant($"| sequential bound 1/(t_aead + t_hash) | {seqEnc:N0} MiB/s | {seqDec:N0} MiB/s |"));
        o.WriteLine(Invariant($"| document ÷ sequential bound | {Ratio(enc, seqEnc)} | {Ratio(dec, seqDec)} |"));
        o.WriteLine(Invariant($"| pipelined bound ÷ raw AEAD (the most any hashing cipher can reach) | {Ratio(pipeEnc, rawEnc)} | {Ratio(pipeDec, rawDec)} |"));

        o.WriteLine();
        o.WriteLine("Goal:");
        o.WriteLine(Verdict("encrypt", enc, rawEnc, hash));
        o.WriteLine(Verdict("decrypt", dec, rawDec, hash));

        o.WriteLine();
        var encAlloc = r.Encrypt.Max(x => x.AllocatedBytes);
        var decAlloc = r.Decrypt.Max(x => x.AllocatedBytes);
        var chunks = Math.Max(1, (settings.DocumentMiB * 1048576L) / DocumentWorkloads.ChunkSize);
        o.WriteLine(Invariant($"Memory: a {settings.DocumentMiB} MiB pass allocated at most {encAlloc / 1024.0:N0} KiB (encrypt) and {decAlloc / 1024.0:N0} KiB (decrypt) of managed memory"));
        o.WriteLine(Invariant($"(GC.GetTotalAllocatedBytes delta over each timed pass, all threads): about {Math.Max(encAlloc, decAlloc) / (double)chunks:N0} bytes per {DocumentWorkloads.ChunkSize / 1024} KiB chunk, short-lived"));
        o.WriteLine("(the chunk's hand-off to the hashing thread), while the cipher's live buffers are a few pooled chunk-sized arrays whatever the");
        o.WriteLine(Invariant($"document's size: memory is constant, not proportional to the document. Peak working set of the process: {r.PeakWorkingSet / 1048576.0:N0} MiB,"));
        o.WriteLine(Invariant($"of which {r.BufferBytes / 1048576.0:N0} MiB are the benchmark's own preallocated buffers (plaintext, document ciphertext, raw ciphertext); the rest is the runtime."));
    }

    private static string Verdict(string direction, double document, double rawAead, double hash)
    {
        var ratio = document / rawAead;
        var bound = Math.Min(rawAead, hash);
        var boundRatio = bound / rawAead;
        var sequential = 1 / ((1 / rawAead) + (1 / hash));
        if (ratio >= DocumentGoal)
        {
            return Invariant($"- {direction}: {ratio:0.00}× raw AEAD — GOAL MET (≥ {DocumentGoal:0.00}×).");
        }

        if (boundRatio < DocumentGoal)
        {
            return Invariant($"- {direction}: {ratio:0.00}× raw AEAD — GOAL NOT MET, and not reachable on this machine by any cipher that must also hash the plaintext: ")
                + Invariant($"raw BLAKE2b-256 runs at {hash:N0} MiB/s, {rawAead / hash:0.00}× the AEAD's time per byte, so even with hashing fully overlapped on the second core ")
                + Invariant($"the best possible is {bound:N0} MiB/s = {boundRatio:0.00}× raw AEAD. The document cipher reaches {document / bound:0%} of that pipelined bound ")
                + Invariant($"and {document / sequential:0.00}× the sequential bound ({(document > sequential ? "the overlap works" : "the overlap gains nothing here")}).");
        }

        return Invariant($"- {direction}: {ratio:0.00}× raw AEAD — GOAL NOT MET: hashing allows up to {boundRatio:0.00}× (pipelined bound {bound:N0} MiB/s), ")
            + Invariant($"but the document cipher reaches only {document / bound:0%} of it: the rest is overhead outside the primitives (stream copies, the per-chunk hand-off ")
            + "to the hashing thread) or a busy second core (see the load average below).";
    }

    // ---- Envelopes ----

    private sealed record EnvelopeResults(int SigningInputBytes, int HeaderBytes, Dictionary<string, List<double>> Rates);

    private static readonly string[] EnvelopeOperations = ["seal", "raw sign", "raw encrypt", "open", "raw verify", "raw decrypt"];

    private static EnvelopeResults MeasureEnvelopes(BenchSettings settings)
    {
        using var w = new EnvelopeWorkloads();
        var actions = new Dictionary<string, Action>
        {
            ["seal"] = w.Seal,
            ["open"] = w.Open,
            ["raw sign"] = w.RawSign,
            ["raw verify"] = w.RawVerify,
            ["raw encrypt"] = w.RawEncrypt,
            ["raw decrypt"] = w.RawDecrypt,
        };
        var rates = EnvelopeOperations.ToDictionary(n => n, _ => new List<double>());
        for (var rep = 0; rep < settings.Repeats; rep++)
        {
            // Envelope and raw windows interleaved, in reverse order every other repeat.
            var order = rep % 2 == 0 ? EnvelopeOperations : EnvelopeOperations.Reverse().ToArray();
            foreach (var name in order)
            {
                var rate = EnvelopeWorkloads.Rate(actions[name], settings.Warmup, settings.Measure);
                rates[name].Add(rate);
                Progress($"[{rep + 1}/{settings.Repeats}] {name,-11}: {rate,9:N0} ops/s");
            }
        }

        return new EnvelopeResults(w.SigningInputBytes, w.HeaderBytes, rates);
    }

    private static void WriteEnvelopes(TextWriter o, BenchSettings settings, EnvelopeResults r)
    {
        double M(string name) => Median(r.Rates[name]);
        string Runs(string name) => PerRun(r.Rates[name]);
        var seal = M("seal");
        var open = M("open");
        var sign = M("raw sign");
        var verify = M("raw verify");
        var enc = M("raw encrypt");
        var dec = M("raw decrypt");
        var sealBound = 1 / ((1 / sign) + (1 / enc));
        var openBound = 1 / ((1 / verify) + (1 / dec));

        o.WriteLine();
        o.WriteLine(Invariant($"## Message envelopes: {EnvelopeWorkloads.MessageBytes} B message, one thread"));
        o.WriteLine();
        o.WriteLine(Invariant($"{settings.Repeats} interleaved repeats of {settings.Warmup.TotalSeconds:0.#} s warm-up + {settings.Measure.TotalSeconds:0.#} s counted, median shown."));
        o.WriteLine(Invariant($"Seal = MessageEnvelope.Seal: XChaCha20-Poly1305 of the body (AAD = the {r.HeaderBytes}-byte canonical header), BLAKE2b-256 of nonce ‖ ciphertext, Ed25519 signature of the {r.SigningInputBytes}-byte signing input."));
        o.WriteLine("Open = MessageEnvelope.Open with a VerifiedDevice (root → network administrator → authority administrator → investigator chain,");
        o.WriteLine("verified once with CertificateChain.Verify): sender checks, Ed25519 verification, decryption. Raw: direct libsodium calls on");
        o.WriteLine(Invariant($"preallocated buffers — Ed25519 sign / verify of {r.SigningInputBytes} bytes, XChaCha20-Poly1305 of {EnvelopeWorkloads.MessageBytes} bytes without associated data."));
        o.WriteLine();
        o.WriteLine("| operation | ops/s | per run (in run order) | raw bound, ops/s | envelope ÷ raw bound |");
        o.WriteLine("|-----------|------:|------------------------|-----------------:|---------------------:|");
        o.WriteLine(Invariant($"| MessageEnvelope.Seal | {seal:N0} | {Runs("seal")} | {sealBound:N0} (1/(t_sign + t_encrypt)) | {Ratio(seal, sealBound)} |"));
        o.WriteLine(Invariant($"| MessageEnvelope.Open | {open:N0} | {Runs("open")} | {openBound:N0} (1/(t_verify + t_decrypt)) | {Ratio(open, openBound)} |"));
        o.WriteLine(Invariant($"| raw Ed25519 sign, {r.SigningInputBytes} B | {sign:N0} | {Runs("raw sign")} | | |"));
        o.WriteLine(Invariant($"| raw Ed25519 verify, {r.SigningInputBytes} B | {verify:N0} | {Runs("raw verify")} | | |"));
        o.WriteLine(Invariant($"| raw XChaCha20-Poly1305 encrypt, {EnvelopeWorkloads.MessageBytes} B | {enc:N0} | {Runs("raw encrypt")} | | |"));
        o.WriteLine(Invariant($"| raw XChaCha20-Poly1305 decrypt, {EnvelopeWorkloads.MessageBytes} B | {dec:N0} | {Runs("raw decrypt")} | | |"));
    }

    // ---- Argon2id ----

    private sealed record Argon2Results(Argon2idParameters Parameters, List<double> Milliseconds, List<double> CpuMilliseconds);

    private static Argon2Results MeasureArgon2(BenchSettings settings, int runs)
    {
        var parameters = Argon2idParameters.Default;
        var passphrase = "correct horse battery staple, but longer"u8.ToArray();
        var salt = PassphraseKdf.NewSalt();
        if (settings.Warmup > TimeSpan.Zero)
        {
            PassphraseKdf.DeriveKey(passphrase, salt, parameters);
        }

        // Argon2id in libsodium is one lane on one thread: CPU time well under the wall time
        // means the run waited for a core that another process held.
        var times = new List<double>();
        var cpuTimes = new List<double>();
        using var process = Process.GetCurrentProcess();
        for (var i = 0; i < runs; i++)
        {
            process.Refresh();
            var cpu = process.TotalProcessorTime;
            var clock = Stopwatch.StartNew();
            var key = PassphraseKdf.DeriveKey(passphrase, salt, parameters);
            times.Add(clock.Elapsed.TotalMilliseconds);
            process.Refresh();
            cpuTimes.Add((process.TotalProcessorTime - cpu).TotalMilliseconds);
            Array.Clear(key);
            Progress($"[{i + 1}/{runs}] Argon2id (default parameters): {times[^1]:N0} ms ({cpuTimes[^1]:N0} ms CPU)");
        }

        return new Argon2Results(parameters, times, cpuTimes);
    }

    private static void WriteArgon2(TextWriter o, Argon2Results r)
    {
        var median = Median(r.Milliseconds);
        var cpuMedian = Median(r.CpuMilliseconds);
        o.WriteLine();
        o.WriteLine("## Argon2id (PassphraseKdf.DeriveKey, Argon2idParameters.Default)");
        o.WriteLine();
        o.WriteLine("| parameters | median | per run (ms, in run order) | process CPU time per run (ms) | target |");
        o.WriteLine("|------------|-------:|----------------------------|-------------------------------|-------:|");
        o.WriteLine(Invariant($"| {r.Parameters.OpsLimit} passes, {r.Parameters.MemLimitBytes / 1048576} MiB, 1 lane | {median:N0} ms | {PerRun(r.Milliseconds)} | {PerRun(r.CpuMilliseconds)} | ~{Argon2TargetMilliseconds:N0} ms |"));
        o.WriteLine();
        var verdict = (median / Argon2TargetMilliseconds) switch
        {
            >= 0.7 and <= 1.4 => "about the intended cost of one passphrase guess.",
            < 0.7 => "cheaper than intended on this machine; consider raising the default (it only affects files written afterwards).",
            _ when median > cpuMedian * 1.15 => Invariant($"dearer than intended in this run, but the process used only {cpuMedian:N0} ms of CPU per run (median): the rest was spent waiting for a core held by another process."),
            _ => "dearer than intended in this run, and not from waiting for a core (the CPU time is as long): either this CPU is slower than "
                + "the estimate, or neighbouring processes' memory traffic slowed it (Argon2id is bound by memory bandwidth); unlocking a keystore takes this long.",
        };
        o.WriteLine(Invariant($"{median / Argon2TargetMilliseconds:0.00}× the target: {verdict}"));
    }

    // ---- Formatting ----

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        if (sorted.Length == 0)
        {
            return 0;
        }

        var mid = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }

    private static string PerRun(IEnumerable<double> values) => string.Join(", ", values.Select(v => v.ToString("N0", CultureInfo.InvariantCulture)));
}
