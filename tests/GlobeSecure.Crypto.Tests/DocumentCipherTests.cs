using CsCheck;

namespace GlobeSecure.Crypto.Tests;

public sealed class DocumentCipherTests
{
    private const int MiB = 1 << 20;

    private static async Task AssertRoundTripAsync(int size, int chunkSize, int seed, int maxRead)
    {
        var plaintext = Documents.RandomContent(size, seed);
        using var key = DocumentKey.Generate();
        var id = Guid.NewGuid();

        var (ciphertext, encrypted) = await Documents.EncryptAsync(plaintext, key, id, chunkSize, maxRead: maxRead, seed: seed);
        var (decrypted, result) = await Documents.DecryptAsync(ciphertext, key, id, encrypted.PlaintextHash, maxRead: maxRead, seed: seed + 1);

        var expectedHash = Primitives.Hash(plaintext);
        var expectedChunks = size == 0 ? 1 : (size + chunkSize - 1) / chunkSize;
        Assert.Equal(plaintext, decrypted);
        Assert.Equal(expectedHash, encrypted.PlaintextHash);
        Assert.Equal(expectedHash, result.PlaintextHash);
        Assert.Equal(DocumentCipher.CiphertextLength(size, chunkSize), ciphertext.Length);
        Assert.Equal(ciphertext.Length, encrypted.CiphertextLength);
        Assert.Equal(size, encrypted.PlaintextLength);
        Assert.Equal(size, result.PlaintextLength);
        Assert.Equal(expectedChunks, encrypted.ChunkCount);
        Assert.Equal(expectedChunks, result.ChunkCount);
        Assert.Equal(chunkSize, result.ChunkSize);
        Assert.Equal(id, result.DocumentId);
        Assert.Equal(id, encrypted.DocumentId);
    }

    /// <summary>Sizes up to <paramref name="cap"/>: uniform, or within one byte of a chunk boundary.</summary>
    private static Gen<int> Size(int chunkSize, int cap) => Gen.Frequency(
        (1, Gen.Int[0, cap]),
        (1, Gen.Select(Gen.Int[0, cap / chunkSize], Gen.Int[-1, 1], (k, d) => Math.Clamp((k * chunkSize) + d, 0, cap))),
        (1, Gen.Int[0, 3].Select(k => k * chunkSize)));

    private static readonly Gen<int> MaxRead = Gen.OneOf(Gen.Const(int.MaxValue), Gen.Int[1, 64], Gen.Int[65, 200_000]);

    [Fact]
    public async Task RoundTrip_DefaultChunkSizeRandomDocumentsUpTo3MiB_ReturnsThePlaintext()
    {
        var gen = Gen.Select(Size(DocumentCipher.DefaultChunkSize, 3 * MiB), Gen.Int, MaxRead)
            // One-byte reads over megabytes only cost time: cap those documents at 64 KiB.
            .Select(t => (Size: t.Item3 <= 64 ? Math.Min(t.Item1, 64 * 1024) : t.Item1, Seed: t.Item2, MaxRead: t.Item3));

        await gen.SampleAsync(t => AssertRoundTripAsync(t.Size, DocumentCipher.DefaultChunkSize, t.Seed, t.MaxRead), iter: 40);
    }

    [Fact]
    public async Task RoundTrip_SmallChunksAcrossManyBoundaries_ReturnsThePlaintext()
    {
        var gen = Gen.OneOf(Gen.Const(64), Gen.Const(100), Gen.Int[64, 1024])
            .SelectMany(chunk => Gen.Select(Size(chunk, Math.Min(3 * MiB, chunk * 600)), Gen.Int, MaxRead,
                (size, seed, maxRead) => (Chunk: chunk, Size: size, Seed: seed, MaxRead: maxRead)));

        await gen.SampleAsync(t => AssertRoundTripAsync(t.Size, t.Chunk, t.Seed, t.MaxRead), iter: 100);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(63)]
    [InlineData(64)]
    [InlineData(65)]
    [InlineData(127)]
    [InlineData(128)]
    [InlineData(129)]
    [InlineData(64 * 50)]
    public async Task RoundTrip_SizesAroundChunkBoundaries_ReturnsThePlaintext(int size)
    {
        await AssertRoundTripAsync(size, 64, seed: size, maxRead: 7);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(DocumentCipher.DefaultChunkSize - 1)]
    [InlineData(DocumentCipher.DefaultChunkSize)]
    [InlineData(DocumentCipher.DefaultChunkSize + 1)]
    [InlineData(3 * DocumentCipher.DefaultChunkSize)]
    [InlineData(3 * MiB)]
    public async Task RoundTrip_DefaultChunkBoundaries_ReturnsThePlaintext(int size)
    {
        await AssertRoundTripAsync(size, DocumentCipher.DefaultChunkSize, seed: size, maxRead: int.MaxValue);
    }

    [Fact]
    public async Task Encrypt_EmptyDocument_IsHeaderAndOneEmptyFinalChunk()
    {
        using var key = DocumentKey.Generate();

        var (ciphertext, result) = await Documents.EncryptAsync([], key, Guid.NewGuid(), 64);

        Assert.Equal(DocumentCipher.HeaderBytes + Primitives.TagBytes, ciphertext.Length);
        Assert.Equal(1, result.ChunkCount);
        Assert.Equal("0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8", Convert.ToHexStringLower(result.PlaintextHash));
    }

    [Fact]
    public async Task Encrypt_ExactMultipleOfChunkSize_HasNoEmptyTrailingChunk()
    {
        using var key = DocumentKey.Generate();

        var (ciphertext, result) = await Documents.EncryptAsync(new byte[128], key, Guid.NewGuid(), 64);

        Assert.Equal(2, result.ChunkCount);
        Assert.Equal(DocumentCipher.HeaderBytes + (2 * (64 + Primitives.TagBytes)), ciphertext.Length);
    }

    [Fact]
    public async Task Encrypt_Header_CarriesMagicVersionChunkSizeAndId()
    {
        using var key = DocumentKey.Generate();
        var id = Guid.Parse("00112233-4455-6677-8899-aabbccddeeff");
        var prefix = Enumerable.Range(0xa0, 16).Select(i => (byte)i).ToArray();

        var (ciphertext, _) = await Documents.EncryptAsync([1, 2, 3], key, id, 300, prefix);

        Assert.Equal(
            "474c4f4245444f43" + "01" + "0000012c" + "00112233445566778899aabbccddeeff" + "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf",
            Convert.ToHexStringLower(ciphertext.AsSpan(0, DocumentCipher.HeaderBytes)));
        Assert.Equal((300, id), DocumentCipher.ReadHeader(ciphertext));
    }

    [Fact]
    public async Task Encrypt_SamePlaintextTwice_UsesFreshNoncePrefixes()
    {
        using var key = DocumentKey.Generate();
        var id = Guid.NewGuid();

        var (a, _) = await Documents.EncryptAsync(new byte[100], key, id, 64);
        var (b, _) = await Documents.EncryptAsync(new byte[100], key, id, 64);

        Assert.NotEqual(a, b);
        Assert.Equal(a.AsSpan(0, 29).ToArray(), b.AsSpan(0, 29).ToArray());
    }

    [Fact]
    public async Task Encrypt_ChosenNoncePrefix_IsDeterministic()
    {
        using var key = DocumentKey.Generate();
        var id = Guid.NewGuid();
        var prefix = Bytes.Random(16);

        var (a, _) = await Documents.EncryptAsync(new byte[1000], key, id, 64, prefix);
        var (b, _) = await Documents.EncryptAsync(new byte[1000], key, id, 64, prefix, maxRead: 3);

        Assert.Equal(a, b);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(63)]
    [InlineData(DocumentCipher.MaxChunkSize + 1)]
    public async Task Encrypt_ChunkSizeOutOfRange_ThrowsArgumentOutOfRange(int chunkSize)
    {
        using var key = DocumentKey.Generate();

        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => Documents.EncryptAsync([1], key, Guid.NewGuid(), chunkSize));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(15)]
    [InlineData(17)]
    public async Task Encrypt_NoncePrefixOfWrongLength_ThrowsMalformedInput(int length)
    {
        using var key = DocumentKey.Generate();

        await Assert.ThrowsAsync<MalformedInputException>(() => Documents.EncryptAsync([1], key, Guid.NewGuid(), 64, new byte[length]));
    }

    [Fact]
    public async Task Encrypt_DisposedKey_ThrowsObjectDisposed()
    {
        var key = DocumentKey.Generate();
        key.Dispose();

        await Assert.ThrowsAsync<ObjectDisposedException>(() => Documents.EncryptAsync([1], key, Guid.NewGuid(), 64));
    }

    [Fact]
    public async Task Encrypt_Cancelled_ThrowsOperationCanceled()
    {
        using var key = DocumentKey.Generate();
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => DocumentCipher.EncryptAsync(new MemoryStream(new byte[1000]),
            new MemoryStream(), key, Guid.NewGuid(), 64, cancelled.Token));
    }

    [Theory]
    [InlineData(0L, 64, 45 + 16)]
    [InlineData(1L, 64, 45 + 1 + 16)]
    [InlineData(64L, 64, 45 + 64 + 16)]
    [InlineData(65L, 64, 45 + 65 + 32)]
    [InlineData(3L * 1024 * 1024, DocumentCipher.DefaultChunkSize, 45 + (3L * 1024 * 1024) + (48 * 16))]
    public void CiphertextLength_KnownSizes_AddsHeaderAndOneTagPerChunk(long plaintext, int chunkSize, long expected)
    {
        Assert.Equal(expected, DocumentCipher.CiphertextLength(plaintext, chunkSize));
    }
}
