using System.Runtime.CompilerServices;
using GlobeSecure.Fuzzing;

namespace GlobeSecure.Crypto.Tests.Fuzz;

/// <summary>
/// The crypto library's byte parsers under random and mutated input (ADR 0016): each may only
/// accept or throw its documented <see cref="GlobeCryptoException"/>. Seeds are the committed
/// corpus (Fuzz/corpus/PARSER/*.bin), made with fixed keys by <see cref="WriteCorpus"/>.
/// </summary>
public sealed class CryptoParserFuzzTests
{
    // Fixed keys: the committed seeds were made with them, so they must never change.
    private static readonly Guid DocumentId = Guid.Parse("0193a6f0-0000-7000-8000-000000000d0c");
    private static readonly Guid ChannelId = Guid.Parse("0193a6f0-0000-7000-8000-0000000c4a11");
    private static byte[] DocumentKeyBytes => [.. Enumerable.Range(1, 32).Select(i => (byte)i)];
    private static byte[] EpochKeyBytes => [.. Enumerable.Range(101, 32).Select(i => (byte)i)];

    private static readonly Type[] Documented = [typeof(GlobeCryptoException)];

    [Fact]
    public void DocumentHeader_RandomAndMutated_OnlyDocumentedRejections() =>
        FuzzHarness.Run("document-header", FuzzHarness.Corpus("document-header"), input => DocumentCipher.ReadHeader(input), Documented,
            defaultCases: 500, maxRandomLength: 96);

    [Fact]
    public void DocumentStream_RandomAndMutated_OnlyDocumentedRejections()
    {
        using var key = DocumentKey.FromBytes(DocumentKeyBytes);
        FuzzHarness.Run("document-stream", FuzzHarness.Corpus("document-stream"), input =>
        {
            using var plaintext = new MemoryStream();
            DocumentCipher.DecryptAsync(new MemoryStream(input), plaintext, key, DocumentId).GetAwaiter().GetResult();
        }, Documented, defaultCases: 300, maxRandomLength: 1024);
    }

    [Fact]
    public void ChannelInfo_RandomAndMutated_OnlyDocumentedRejections()
    {
        using var key = EpochKey.FromBytes(ChannelId, 3, EpochKeyBytes);
        FuzzHarness.Run("channel-info", FuzzHarness.Corpus("channel-info"), input => ChannelInfo.Open(input, key), Documented,
            defaultCases: 300, maxRandomLength: 512);
    }

    /// <summary>Regenerates the committed seeds (run by hand: it is explicit). Nonces are random, so the files change; the keys do not.</summary>
    [Fact(Explicit = true)]
    public async Task WriteCorpus()
    {
        using var documentKey = DocumentKey.FromBytes(DocumentKeyBytes);
        foreach (var (name, length, chunk) in new[] { ("small", 0, 64), ("one-chunk", 40, 64), ("three-chunks", 150, 64), ("exact-chunks", 128, 64) })
        {
            using var ciphertext = new MemoryStream();
            var plaintext = Enumerable.Range(0, length).Select(i => (byte)(i * 7)).ToArray();
            await DocumentCipher.EncryptAsync(new MemoryStream(plaintext), ciphertext, documentKey, DocumentId, chunk, TestContext.Current.CancellationToken);
            Write("document-stream", name, ciphertext.ToArray());
            if (name == "one-chunk")
            {
                Write("document-header", "header", ciphertext.ToArray()[..DocumentCipher.HeaderBytes]);
            }
        }

        using var epochKey = EpochKey.FromBytes(ChannelId, 3, EpochKeyBytes);
        Write("channel-info", "plain", new ChannelInfo("Case 2026/17", "Bank records, two jurisdictions").Seal(epochKey));
        Write("channel-info", "empty-description", new ChannelInfo("T", "").Seal(epochKey));
        Write("channel-info", "unicode", new ChannelInfo("Dossier Ω — été", "Ünïcödé ✓ \u00e9\u0301").Seal(epochKey));
    }

    private static void Write(string parser, string name, byte[] bytes, [CallerFilePath] string source = "")
    {
        var directory = Path.Combine(Path.GetDirectoryName(source)!, "corpus", parser);
        Directory.CreateDirectory(directory);
        File.WriteAllBytes(Path.Combine(directory, name + ".bin"), bytes);
    }
}
