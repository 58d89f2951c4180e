using CsCheck;

namespace GlobeSecure.Crypto.Tests;

/// <summary>
/// The chunk-level encryptor must be the document cipher, not a second one: its header and chunks
/// are compared byte for byte with <see cref="DocumentCipher.EncryptAsync(Stream, Stream, DocumentKey, Guid, int, CancellationToken)"/>.
/// </summary>
public sealed class DocumentEncryptorTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>The ciphertext made one chunk at a time: the header, then every chunk; or only the chunks from <paramref name="from"/> on.</summary>
    private static byte[] EncryptByChunks(DocumentEncryptor encryptor, byte[] plaintext, long? from = null)
    {
        var chunkSize = encryptor.ChunkSize;
        var chunks = DocumentCipher.ChunkCount(plaintext.Length, chunkSize);
        var output = new MemoryStream();
        if (from is null)
        {
            output.Write(encryptor.Header);
        }

        var buffer = new byte[chunkSize + DocumentCipher.ChunkOverheadBytes];
        for (var i = from ?? 0; i < chunks; i++)
        {
            var start = (int)(i * chunkSize);
            var length = Math.Min(chunkSize, plaintext.Length - start);
            var written = encryptor.EncryptChunk(i, plaintext.AsSpan(start, length), final: i == chunks - 1, buffer);
            output.Write(buffer, 0, written);
        }

        return output.ToArray();
    }

    private static Gen<int> Size(int chunkSize, int cap) => Gen.Frequency(
        (1, Gen.Int[0, cap]),
        (1, Gen.Select(Gen.Int[0, cap / chunkSize], Gen.Int[-1, 1], (k, d) => Math.Clamp((k * chunkSize) + d, 0, cap))));

    [Fact]
    public async Task EncryptChunk_SameKeyIdAndNoncePrefix_EqualsEncryptAsyncByteForByte()
    {
        var gen = Gen.OneOf(Gen.Const(64), Gen.Int[64, 4096], Gen.Const(DocumentCipher.DefaultChunkSize))
            .SelectMany(chunk => Gen.Select(Size(chunk, chunk * 5), Gen.Int, Gen.Byte.Array[DocumentCipher.NoncePrefixBytes],
                (size, seed, prefix) => (Chunk: chunk, Size: size, Seed: seed, Prefix: prefix)));

        await gen.SampleAsync(async t =>
        {
            var plaintext = Documents.RandomContent(t.Size, t.Seed);
            using var key = DocumentKey.Generate();
            var id = Guid.NewGuid();
            var (expected, _) = await Documents.EncryptAsync(plaintext, key, id, t.Chunk, t.Prefix);
            using var encryptor = DocumentEncryptor.Create(key, id, t.Chunk, t.Prefix);

            Assert.Equal(expected, EncryptByChunks(encryptor, plaintext));
        }, iter: 60);
    }

    [Theory]
    [InlineData(0, 0)]
    [InlineData(1, 0)]
    [InlineData(65_536, 0)]
    [InlineData(65_537, 1)]
    [InlineData(5 * 65_536, 3)]
    [InlineData(5 * 65_536 + 7, 5)]
    public async Task Resume_HeaderOfAnEarlierEncryption_ReproducesEveryChunkFromTheResumeIndex(int size, long from)
    {
        var plaintext = Documents.RandomContent(size, size);
        using var key = DocumentKey.Generate();
        var id = Guid.NewGuid();
        var output = new MemoryStream();
        await DocumentCipher.EncryptAsync(new MemoryStream(plaintext), output, key, id, cancellationToken: Ct);
        var expected = output.ToArray();

        using var resumed = DocumentEncryptor.Resume(key, expected.AsSpan(0, DocumentCipher.HeaderBytes));
        var tail = EncryptByChunks(resumed, plaintext, from);

        var offset = DocumentCipher.HeaderBytes + (from * (DocumentCipher.DefaultChunkSize + DocumentCipher.ChunkOverheadBytes));
        Assert.Equal(expected.AsSpan((int)offset).ToArray(), tail);
        Assert.Equal((id, DocumentCipher.DefaultChunkSize), (resumed.DocumentId, resumed.ChunkSize));
        Assert.Equal(expected.AsSpan(0, DocumentCipher.HeaderBytes).ToArray(), resumed.Header.ToArray());
    }

    [Fact]
    public async Task EncryptChunk_ChunksOfANewDocument_DecryptWithTheDocumentCipher()
    {
        var plaintext = Documents.RandomContent(3 * 1000 + 1, 7);
        using var key = DocumentKey.Generate();
        using var encryptor = DocumentEncryptor.Create(key, Guid.NewGuid(), 1000);

        var ciphertext = EncryptByChunks(encryptor, plaintext);
        var (decrypted, result) = await Documents.DecryptAsync(ciphertext, key, encryptor.DocumentId, Blake2b256.Hash(plaintext));

        Assert.Equal(plaintext, decrypted);
        Assert.Equal(4, result.ChunkCount);
        Assert.Equal(DocumentCipher.CiphertextLength(plaintext.Length, 1000), ciphertext.Length);
    }

    [Fact]
    public void EncryptChunk_NonFinalChunkNotFull_ThrowsArgumentException()
    {
        using var key = DocumentKey.Generate();
        using var encryptor = DocumentEncryptor.Create(key, Guid.NewGuid(), 64);

        Assert.Throws<ArgumentException>(() => encryptor.EncryptChunk(0, new byte[63], final: false, new byte[80]));
        Assert.Throws<ArgumentException>(() => encryptor.EncryptChunk(0, new byte[65], final: true, new byte[81]));
        Assert.Throws<ArgumentException>(() => encryptor.EncryptChunk(0, new byte[64], final: true, new byte[79]));
        Assert.Throws<ArgumentOutOfRangeException>(() => encryptor.EncryptChunk(-1, new byte[64], final: true, new byte[80]));
    }

    [Fact]
    public void Resume_HeaderNotADocumentHeader_ThrowsDocumentFormatException()
    {
        using var key = DocumentKey.Generate();
        var header = new byte[DocumentCipher.HeaderBytes];

        Assert.Throws<DocumentFormatException>(() => DocumentEncryptor.Resume(key, header));
        Assert.Throws<DocumentFormatException>(() => DocumentEncryptor.Resume(key, new byte[DocumentCipher.HeaderBytes - 1]));
    }

    [Fact]
    public void EncryptChunk_AfterDispose_ThrowsObjectDisposedException()
    {
        using var key = DocumentKey.Generate();
        var encryptor = DocumentEncryptor.Create(key, Guid.NewGuid(), 64);
        encryptor.Dispose();

        Assert.Throws<ObjectDisposedException>(() => encryptor.EncryptChunk(0, [], final: true, new byte[16]));
    }

    [Theory]
    [InlineData(0L, 1L)]
    [InlineData(1L, 1L)]
    [InlineData(65_536L, 1L)]
    [InlineData(65_537L, 2L)]
    [InlineData(10L << 30, 163_840L)]
    public void ChunkCount_PlaintextLength_IsAtLeastOneAndCeilingOfLengthOverChunkSize(long length, long chunks) =>
        Assert.Equal(chunks, DocumentCipher.ChunkCount(length));
}
