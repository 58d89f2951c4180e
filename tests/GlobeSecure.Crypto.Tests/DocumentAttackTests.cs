namespace GlobeSecure.Crypto.Tests;

/// <summary>
/// Every way an attacker can cut, flip, move, copy or splice document ciphertext, each with the
/// error that names it. Chunk size 100 (116 bytes of ciphertext per chunk) keeps documents small.
/// </summary>
public sealed class DocumentAttackTests : IDisposable
{
    private const int ChunkSize = 100;
    private const int Full = ChunkSize + 16;
    private const int Header = DocumentCipher.HeaderBytes;

    // 10 chunks, the last one full (index 9); 11 chunks, the last one holding 50 bytes (index 10).
    private const int FullFinalLength = 1000;
    private const int ShortFinalLength = 1050;

    private readonly DocumentKey _key = DocumentKey.Generate();
    private readonly Guid _id = Guid.NewGuid();

    public void Dispose() => _key.Dispose();

    private async Task<byte[]> EncryptAsync(int length, Guid? id = null, byte[]? prefix = null, int seed = 1)
    {
        var (ciphertext, _) = await Documents.EncryptAsync(Documents.RandomContent(length, seed), _key, id ?? _id, ChunkSize,
            prefix ?? Bytes.Random(16));
        return ciphertext;
    }

    private static int ChunkOffset(int index) => Header + (index * Full);

    private static byte[] Chunk(byte[] ciphertext, int index) =>
        ciphertext[ChunkOffset(index)..Math.Min(ChunkOffset(index + 1), ciphertext.Length)];

    private static List<byte[]> Chunks(byte[] ciphertext)
    {
        var chunks = new List<byte[]>();
        for (var offset = Header; offset < ciphertext.Length; offset += Full)
        {
            chunks.Add(ciphertext[offset..Math.Min(offset + Full, ciphertext.Length)]);
        }

        return chunks;
    }

    private static byte[] Assemble(byte[] ciphertext, IEnumerable<byte[]> chunks) => [.. ciphertext[..Header], .. chunks.SelectMany(c => c)];

    private Task<T> DecryptThrowsAsync<T>(byte[] ciphertext, Guid? expectedId = null, byte[]? expectedHash = null)
        where T : Exception =>
        Assert.ThrowsAsync<T>(() => Documents.DecryptAsync(ciphertext, _key, expectedId, expectedHash, maxRead: 37));

    [Fact]
    public async Task Decrypt_Untouched_Succeeds()
    {
        foreach (var length in new[] { 0, FullFinalLength, ShortFinalLength })
        {
            var ciphertext = await EncryptAsync(length);

            var (plaintext, result) = await Documents.DecryptAsync(ciphertext, _key, _id, Primitives.Hash(Documents.RandomContent(length, 1)));

            Assert.Equal(Documents.RandomContent(length, 1), plaintext);
            Assert.Equal(Math.Max(1, (length + ChunkSize - 1) / ChunkSize), result.ChunkCount);
        }
    }

    // ---- truncation -----------------------------------------------------------------------

    [Theory]
    [InlineData(FullFinalLength, 1)]
    [InlineData(FullFinalLength, 2)]
    [InlineData(FullFinalLength, 9)]
    [InlineData(ShortFinalLength, 1)]
    [InlineData(ShortFinalLength, 5)]
    public async Task Decrypt_CutAtAChunkBoundary_ThrowsTruncated(int length, int chunksDropped)
    {
        var ciphertext = await EncryptAsync(length);
        var chunks = Chunks(ciphertext);

        await DecryptThrowsAsync<DocumentTruncatedException>(Assemble(ciphertext, chunks.Take(chunks.Count - chunksDropped)));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(8)]
    [InlineData(29)]
    [InlineData(Header - 1)]
    [InlineData(Header)]
    public async Task Decrypt_CutInsideOrRightAfterTheHeader_ThrowsTruncated(int keep)
    {
        var ciphertext = await EncryptAsync(FullFinalLength);

        await DecryptThrowsAsync<DocumentTruncatedException>(ciphertext[..keep]);
    }

    [Fact]
    public async Task Decrypt_EmptyDocumentWithoutItsChunk_ThrowsTruncated()
    {
        var ciphertext = await EncryptAsync(0);

        await DecryptThrowsAsync<DocumentTruncatedException>(ciphertext[..Header]);
    }

    [Fact]
    public async Task Decrypt_GarbageShorterThanAHeader_ThrowsTruncated()
    {
        await DecryptThrowsAsync<DocumentTruncatedException>("GLOBEDOC"u8.ToArray());
    }

    [Theory]
    [InlineData(3, 1)]
    [InlineData(3, 50)]
    [InlineData(3, Full - 1)]
    [InlineData(9, Full - 1)]
    [InlineData(0, 16)]
    public async Task Decrypt_CutInsideAChunk_ThrowsTamperedAtThatChunk(int chunk, int keepOfChunk)
    {
        var ciphertext = await EncryptAsync(FullFinalLength);

        var error = await DecryptThrowsAsync<DocumentChunkTamperedException>(ciphertext[..(ChunkOffset(chunk) + keepOfChunk)]);
        Assert.Equal(chunk, error.Position);
    }

    [Fact]
    public async Task Decrypt_CutInsideAShortFinalChunk_ThrowsTampered()
    {
        var ciphertext = await EncryptAsync(ShortFinalLength);

        var error = await DecryptThrowsAsync<DocumentChunkTamperedException>(ciphertext[..^1]);
        Assert.Equal(10, error.Position);
    }

    // ---- bit flips ------------------------------------------------------------------------

    [Theory]
    [InlineData(29, 0)]            // nonce prefix, first byte
    [InlineData(44, 7)]            // nonce prefix, last byte
    [InlineData(13, 0)]            // document id, without an expected id
    [InlineData(28, 3)]            // document id, last byte
    [InlineData(Header, 0)]        // chunk 0 body
    [InlineData(Header + 99, 5)]   // chunk 0 body, last byte
    [InlineData(Header + 100, 0)]  // chunk 0 tag, first byte
    [InlineData(Header + 115, 7)]  // chunk 0 tag, last byte
    public async Task Decrypt_BitFlippedInHeaderOrFirstChunk_ThrowsTamperedAtChunkZero(int index, int bit)
    {
        var ciphertext = await EncryptAsync(FullFinalLength);

        var error = await DecryptThrowsAsync<DocumentChunkTamperedException>(Bytes.FlipBit(ciphertext, index, bit));
        Assert.Equal(0, error.Position);
    }

    [Theory]
    [InlineData(4, 0)]
    [InlineData(4, 57)]
    [InlineData(4, Full - 1)]
    [InlineData(9, 0)]
    [InlineData(9, Full - 1)]
    public async Task Decrypt_BitFlippedInALaterChunk_ThrowsTamperedAtThatChunk(int chunk, int offset)
    {
        var ciphertext = await EncryptAsync(FullFinalLength);

        var error = await DecryptThrowsAsync<DocumentChunkTamperedException>(Bytes.FlipBit(ciphertext, ChunkOffset(chunk) + offset));
        Assert.Equal(chunk, error.Position);
    }

    [Fact]
    public async Task Decrypt_EmptyDocumentChunkFlipped_ThrowsTampered()
    {
        var ciphertext = await EncryptAsync(0);

        await DecryptThrowsAsync<DocumentChunkTamperedException>(Bytes.FlipBit(ciphertext, Header + 3));
    }

    [Fact]
    public async Task Decrypt_DocumentIdChangedWithExpectedId_ThrowsIdMismatch()
    {
        var ciphertext = await EncryptAsync(FullFinalLength);

        await DecryptThrowsAsync<DocumentIdMismatchException>(Bytes.FlipBit(ciphertext, 20), expectedId: _id);
    }

    [Fact]
    public async Task Decrypt_OtherDocumentGivenForExpectedId_ThrowsIdMismatch()
    {
        var other = await EncryptAsync(FullFinalLength, id: Guid.NewGuid());

        await DecryptThrowsAsync<DocumentIdMismatchException>(other, expectedId: _id);
    }

    // ---- header format ----------------------------------------------------------------------

    [Theory]
    [InlineData(0, 0x00)]   // magic
    [InlineData(7, 0x00)]   // magic, last byte
    [InlineData(8, 0x00)]   // version 0
    [InlineData(8, 0x02)]   // version 2
    [InlineData(8, 0xff)]
    public async Task Decrypt_BadMagicOrVersion_ThrowsFormat(int index, byte value)
    {
        var ciphertext = await EncryptAsync(FullFinalLength);
        ciphertext[index] = value;

        await DecryptThrowsAsync<DocumentFormatException>(ciphertext);
        Assert.Throws<DocumentFormatException>(() => DocumentCipher.ReadHeader(ciphertext));
    }

    [Theory]
    [InlineData(0u)]
    [InlineData(63u)]
    [InlineData(DocumentCipher.MaxChunkSize + 1u)]
    [InlineData(uint.MaxValue)]
    [InlineData(0x80000040u)]
    public async Task Decrypt_ChunkSizeOutOfRange_ThrowsFormat(uint chunkSize)
    {
        var ciphertext = await EncryptAsync(FullFinalLength);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(ciphertext.AsSpan(9), chunkSize);

        await DecryptThrowsAsync<DocumentFormatException>(ciphertext);
    }

    [Theory]
    [InlineData(64u)]
    [InlineData(101u)]
    [InlineData(200u)]
    public async Task Decrypt_ChunkSizeChangedWithinRange_ThrowsTampered(uint chunkSize)
    {
        var ciphertext = await EncryptAsync(FullFinalLength);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(ciphertext.AsSpan(9), chunkSize);

        var error = await DecryptThrowsAsync<DocumentChunkTamperedException>(ciphertext);
        Assert.Equal(0, error.Position);
    }

    [Fact]
    public void ReadHeader_ShorterThanAHeader_ThrowsTruncated()
    {
        Assert.Throws<DocumentTruncatedException>(() => DocumentCipher.ReadHeader(new byte[Header - 1]));
    }

    // ---- moving chunks ---------------------------------------------------------------------

    [Fact]
    public async Task Decrypt_TwoChunksSwapped_ThrowsReordered()
    {
        var ciphertext = await EncryptAsync(FullFinalLength);
        var chunks = Chunks(ciphertext);
        (chunks[2], chunks[3]) = (chunks[3], chunks[2]);

        var error = await DecryptThrowsAsync<DocumentChunkReorderedException>(Assemble(ciphertext, chunks));
        Assert.Equal(2, error.Position);
        Assert.Equal(3, error.ActualIndex);
    }

    [Fact]
    public async Task Decrypt_FinalChunkSwappedWithThePreviousOne_ThrowsReordered()
    {
        var ciphertext = await EncryptAsync(FullFinalLength);
        var chunks = Chunks(ciphertext);
        (chunks[8], chunks[9]) = (chunks[9], chunks[8]);

        var error = await DecryptThrowsAsync<DocumentChunkReorderedException>(Assemble(ciphertext, chunks));
        Assert.Equal(8, error.Position);
        Assert.Equal(9, error.ActualIndex);
    }

    [Fact]
    public async Task Decrypt_MiddleChunkDropped_ThrowsReordered()
    {
        var ciphertext = await EncryptAsync(FullFinalLength);
        var chunks = Chunks(ciphertext);
        chunks.RemoveAt(5);

        var error = await DecryptThrowsAsync<DocumentChunkReorderedException>(Assemble(ciphertext, chunks));
        Assert.Equal(5, error.Position);
        Assert.Equal(6, error.ActualIndex);
    }

    [Fact]
    public async Task Decrypt_ChunkDuplicated_ThrowsDuplicated()
    {
        var ciphertext = await EncryptAsync(FullFinalLength);
        var chunks = Chunks(ciphertext);
        chunks.Insert(3, chunks[2]);

        var error = await DecryptThrowsAsync<DocumentChunkDuplicatedException>(Assemble(ciphertext, chunks));
        Assert.Equal(3, error.Position);
        Assert.Equal(2, error.ActualIndex);
    }

    [Fact]
    public async Task Decrypt_FullFinalChunkRepeatedAfterItself_ThrowsDuplicated()
    {
        var ciphertext = await EncryptAsync(FullFinalLength);

        var error = await DecryptThrowsAsync<DocumentChunkDuplicatedException>([.. ciphertext, .. Chunk(ciphertext, 9)]);
        Assert.Equal(10, error.Position);
        Assert.Equal(9, error.ActualIndex);
    }

    [Fact]
    public async Task Decrypt_EarlierChunkAppendedAfterFullFinalChunk_ThrowsDuplicated()
    {
        var ciphertext = await EncryptAsync(FullFinalLength);

        var error = await DecryptThrowsAsync<DocumentChunkDuplicatedException>([.. ciphertext, .. Chunk(ciphertext, 3)]);
        Assert.Equal(10, error.Position);
        Assert.Equal(3, error.ActualIndex);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(16)]
    [InlineData(Full)]
    [InlineData(500)]
    public async Task Decrypt_DataAppendedAfterFullFinalChunk_ThrowsTrailingData(int appended)
    {
        var ciphertext = await EncryptAsync(FullFinalLength);

        await DecryptThrowsAsync<DocumentTrailingDataException>([.. ciphertext, .. Bytes.Random(appended)]);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(50)]
    [InlineData(500)]
    public async Task Decrypt_DataAppendedAfterShortFinalChunk_ThrowsTampered(int appended)
    {
        // A short final chunk and the data after it are read as one chunk-sized block, which
        // authenticates nowhere: the reader cannot tell where the real chunk ended, so this is
        // reported as a tampered final chunk, not as trailing data. Either way nothing is accepted.
        var ciphertext = await EncryptAsync(ShortFinalLength);

        var error = await DecryptThrowsAsync<DocumentChunkTamperedException>([.. ciphertext, .. Bytes.Random(appended)]);
        Assert.Equal(10, error.Position);
    }

    [Fact]
    public async Task Decrypt_ShortFinalChunkRepeatedAfterItself_ThrowsTampered()
    {
        var ciphertext = await EncryptAsync(ShortFinalLength);

        var error = await DecryptThrowsAsync<DocumentChunkTamperedException>([.. ciphertext, .. Chunk(ciphertext, 10)]);
        Assert.Equal(10, error.Position);
    }

    // ---- splicing and keys -------------------------------------------------------------------

    [Fact]
    public async Task Decrypt_ChunkSplicedFromAnotherDocumentSameKeySamePrefix_ThrowsTampered()
    {
        var prefix = Bytes.Random(16);
        var ciphertext = await EncryptAsync(FullFinalLength, prefix: prefix);
        var other = await EncryptAsync(FullFinalLength, id: Guid.NewGuid(), prefix: prefix, seed: 2);
        var chunks = Chunks(ciphertext);
        chunks[4] = Chunk(other, 4);

        var error = await DecryptThrowsAsync<DocumentChunkTamperedException>(Assemble(ciphertext, chunks));
        Assert.Equal(4, error.Position);
    }

    [Fact]
    public async Task Decrypt_ChunkSplicedFromAnotherEncryptionSameKeySameIdOtherPrefix_ThrowsTampered()
    {
        var ciphertext = await EncryptAsync(FullFinalLength);
        var other = await EncryptAsync(FullFinalLength, seed: 2);
        var chunks = Chunks(ciphertext);
        chunks[4] = Chunk(other, 4);

        var error = await DecryptThrowsAsync<DocumentChunkTamperedException>(Assemble(ciphertext, chunks));
        Assert.Equal(4, error.Position);
    }

    [Fact]
    public async Task Decrypt_ChunkSplicedFromIdenticalHeaderSameKey_IsCaughtOnlyByThePlaintextHash()
    {
        // Same key, id and prefix means identical nonces: the one case chunk authentication cannot
        // see, and why a file key must be fresh per document and the plaintext hash is signed.
        var prefix = Bytes.Random(16);
        var ciphertext = await EncryptAsync(FullFinalLength, prefix: prefix);
        var other = await EncryptAsync(FullFinalLength, prefix: prefix, seed: 2);
        var chunks = Chunks(ciphertext);
        chunks[4] = Chunk(other, 4);
        var spliced = Assemble(ciphertext, chunks);

        await DecryptThrowsAsync<DocumentHashMismatchException>(spliced, _id, Primitives.Hash(Documents.RandomContent(FullFinalLength, 1)));
        var (plaintext, _) = await Documents.DecryptAsync(spliced, _key);
        Assert.NotEqual(Documents.RandomContent(FullFinalLength, 1), plaintext);
    }

    [Fact]
    public async Task Decrypt_WrongKey_ThrowsTamperedAtChunkZero()
    {
        var ciphertext = await EncryptAsync(FullFinalLength);
        using var wrong = DocumentKey.Generate();

        var error = await Assert.ThrowsAsync<DocumentChunkTamperedException>(() => Documents.DecryptAsync(ciphertext, wrong));
        Assert.Equal(0, error.Position);
    }

    [Fact]
    public async Task Decrypt_DisposedKey_ThrowsObjectDisposed()
    {
        var ciphertext = await EncryptAsync(FullFinalLength);
        var key = DocumentKey.FromBytes(_key.ExportBytes());
        key.Dispose();

        await Assert.ThrowsAsync<ObjectDisposedException>(() => Documents.DecryptAsync(ciphertext, key));
    }

    [Theory]
    [InlineData("flipped")]
    [InlineData("other-document")]
    public async Task Decrypt_ExpectedHashWrong_ThrowsHashMismatch(string kind)
    {
        var ciphertext = await EncryptAsync(FullFinalLength);
        var right = Primitives.Hash(Documents.RandomContent(FullFinalLength, 1));
        var expected = kind switch
        {
            "flipped" => Bytes.FlipBit(right, 31),
            "other-document" => Primitives.Hash(Documents.RandomContent(FullFinalLength, 2)),
            _ => throw new ArgumentOutOfRangeException(nameof(kind)),
        };

        await DecryptThrowsAsync<DocumentHashMismatchException>(ciphertext, _id, expected);
    }

    [Fact]
    public async Task Decrypt_NullExpectedHash_ChecksNothingAndSucceeds()
    {
        var ciphertext = await EncryptAsync(FullFinalLength);
        byte[]? none = null;

        var result = await DocumentCipher.DecryptAsync(new MemoryStream(ciphertext), new MemoryStream(), _key, _id, none,
            TestContext.Current.CancellationToken);

        Assert.Equal(FullFinalLength, result.PlaintextLength);
    }

    [Fact]
    public async Task Decrypt_ExpectedHashOfWrongLength_ThrowsArgumentExceptionBeforeReading()
    {
        var ciphertext = await EncryptAsync(FullFinalLength);
        var output = new MemoryStream();

        await Assert.ThrowsAsync<ArgumentException>(() => DocumentCipher.DecryptAsync(new MemoryStream(ciphertext), output, _key, _id,
            new byte[16], TestContext.Current.CancellationToken));
        Assert.Equal(0, output.Length);
    }
}
