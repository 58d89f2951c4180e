using System.Buffers;
using System.Buffers.Binary;
using System.Security.Cryptography;

namespace GlobeSecure.Crypto;

/// <summary>A document's random 32-byte file key. Dispose clears it.</summary>
public sealed class DocumentKey : IDisposable
{
    private readonly byte[] _key;
    private bool _disposed;

    private DocumentKey(byte[] key) => _key = key;

    /// <summary>A new random file key.</summary>
    public static DocumentKey Generate() => new(Primitives.Random(Primitives.SymmetricKeyBytes));

    /// <summary>A key from its 32 bytes (as carried inside the signed message that references the document).</summary>
    public static DocumentKey FromBytes(ReadOnlySpan<byte> key)
    {
        if (key.Length != Primitives.SymmetricKeyBytes)
        {
            throw new MalformedInputException($"A document key is {Primitives.SymmetricKeyBytes} bytes, not {key.Length}.");
        }

        return new DocumentKey(key.ToArray());
    }

    /// <summary>A copy of the key's bytes, to place inside an encrypted message. The caller clears it.</summary>
    public byte[] ExportBytes()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return (byte[])_key.Clone();
    }

    internal ReadOnlySpan<byte> Key
    {
        get
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _key;
        }
    }

    /// <summary>Clears the key.</summary>
    public void Dispose()
    {
        CryptographicOperations.ZeroMemory(_key);
        _disposed = true;
    }

    /// <inheritdoc />
    public override string ToString() => "DocumentKey";
}

/// <summary>What encryption produced: sizes and the plaintext's BLAKE2b-256, to sign in the referencing message.</summary>
public sealed record DocumentEncryptionResult(Guid DocumentId, int ChunkSize, long ChunkCount, long PlaintextLength,
    long CiphertextLength, byte[] PlaintextHash);

/// <summary>What decryption produced and verified.</summary>
public sealed record DocumentDecryptionResult(Guid DocumentId, int ChunkSize, long ChunkCount, long PlaintextLength,
    byte[] PlaintextHash);

/// <summary>
/// The document stream cipher (STREAM construction over XChaCha20-Poly1305), constant memory
/// whatever the size. Ciphertext = a 45-byte header (magic <c>GLOBEDOC</c>, format version 1,
/// chunk size as uint32 big-endian, document id, 16-byte random nonce prefix), then chunks: every
/// chunk holds exactly chunk-size plaintext bytes except the last, which holds 0 to chunk-size
/// and is the only one marked final. Chunk i = XChaCha20-Poly1305(file key, nonce = prefix ‖
/// uint64 big-endian i, plaintext, AAD = canonical(<c>globe/v1/document-chunk</c>, header, i,
/// final ? 1 : 0)). The plaintext's BLAKE2b-256 is computed on the way through.
/// </summary>
public static class DocumentCipher
{
    /// <summary>Context string of chunk associated data.</summary>
    public const string ChunkContext = "globe/v1/document-chunk";

    /// <summary>The header's first eight bytes.</summary>
    public static ReadOnlySpan<byte> Magic => "GLOBEDOC"u8;

    /// <summary>The format version this library writes and reads.</summary>
    public const byte FormatVersion = 1;

    /// <summary>Header length in bytes.</summary>
    public const int HeaderBytes = 8 + 1 + 4 + 16 + NoncePrefixBytes;

    /// <summary>Random part of every chunk nonce.</summary>
    public const int NoncePrefixBytes = 16;

    /// <summary>Default plaintext bytes per chunk: under .NET's large-object threshold, and gRPC's best frame size.</summary>
    public const int DefaultChunkSize = 64 * 1024;

    /// <summary>Smallest chunk size accepted.</summary>
    public const int MinChunkSize = 64;

    /// <summary>Largest chunk size accepted: a reader allocates buffers of this size from an untrusted header.</summary>
    public const int MaxChunkSize = 1024 * 1024;

    /// <summary>How far (in chunks) a failed chunk is searched for elsewhere, to name reordering and duplication.</summary>
    internal const int DiagnosisWindow = 256;

    /// <summary>Bytes a chunk's ciphertext adds to its plaintext (the Poly1305 tag).</summary>
    public const int ChunkOverheadBytes = Primitives.TagBytes;

    /// <summary>Bytes of ciphertext for a plaintext of the given length.</summary>
    public static long CiphertextLength(long plaintextLength, int chunkSize = DefaultChunkSize) =>
        HeaderBytes + plaintextLength + (ChunkCount(plaintextLength, chunkSize) * Primitives.TagBytes);

    /// <summary>Chunks of a plaintext of the given length: at least one (an empty document is one empty final chunk).</summary>
    public static long ChunkCount(long plaintextLength, int chunkSize = DefaultChunkSize)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(plaintextLength);
        ArgumentOutOfRangeException.ThrowIfLessThan(chunkSize, 1);
        return plaintextLength == 0 ? 1 : ((plaintextLength - 1) / chunkSize) + 1;
    }

    /// <summary>
    /// Encrypts <paramref name="plaintext"/> (read to its end) into <paramref name="ciphertext"/>.
    /// The file key must be fresh for each document.
    /// </summary>
    public static Task<DocumentEncryptionResult> EncryptAsync(Stream plaintext, Stream ciphertext, DocumentKey key, Guid documentId,
        int chunkSize = DefaultChunkSize, CancellationToken cancellationToken = default) =>
        EncryptAsync(plaintext, ciphertext, key, documentId, chunkSize, Primitives.Random(NoncePrefixBytes), cancellationToken);

    /// <summary>Encrypt with a chosen nonce prefix: test vectors only.</summary>
    internal static async Task<DocumentEncryptionResult> EncryptAsync(Stream plaintext, Stream ciphertext, DocumentKey key,
        Guid documentId, int chunkSize, byte[] noncePrefix, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(plaintext);
        ArgumentNullException.ThrowIfNull(ciphertext);
        ArgumentNullException.ThrowIfNull(key);
        if (chunkSize is < MinChunkSize or > MaxChunkSize)
        {
            throw new ArgumentOutOfRangeException(nameof(chunkSize), $"A chunk size is {MinChunkSize} to {MaxChunkSize} bytes.");
        }

        var header = WriteHeader(chunkSize, documentId, noncePrefix);
        await ciphertext.WriteAsync(header, cancellationToken).ConfigureAwait(false);
        using var state = new ChunkState(header, key);
        var current = ArrayPool<byte>.Shared.Rent(chunkSize);
        var next = ArrayPool<byte>.Shared.Rent(chunkSize);
        var output = ArrayPool<byte>.Shared.Rent(chunkSize + Primitives.TagBytes);
        var hashing = Task.CompletedTask;
        using var hash = new IncrementalHash();
        try
        {
            long index = 0, plaintextLength = 0, ciphertextLength = HeaderBytes;
            var count = await plaintext.ReadAtLeastAsync(current.AsMemory(0, chunkSize), chunkSize, false, cancellationToken)
                .ConfigureAwait(false);
            while (true)
            {
                // Hashing starts first so that it overlaps the read-ahead as well as the cipher.
                hashing = HashInBackground(hash, current, count);

                // A full chunk is final only if nothing follows it; read ahead one chunk to know.
                var nextCount = count == chunkSize
                    ? await plaintext.ReadAtLeastAsync(next.AsMemory(0, chunkSize), chunkSize, false, cancellationToken)
                        .ConfigureAwait(false)
                    : 0;
                var final = nextCount == 0;
                var written = state.Encrypt(output, current.AsSpan(0, count), index, final);
                await ciphertext.WriteAsync(output.AsMemory(0, written), cancellationToken).ConfigureAwait(false);
                await hashing.ConfigureAwait(false);
                plaintextLength += count;
                ciphertextLength += written;
                index++;
                if (final)
                {
                    break;
                }

                (current, next) = (next, current);
                count = nextCount;
            }

            return new DocumentEncryptionResult(documentId, chunkSize, index, plaintextLength, ciphertextLength, hash.Finish());
        }
        finally
        {
            await hashing.ConfigureAwait(false);
            ReturnCleared(current, chunkSize);
            ReturnCleared(next, chunkSize);
            ArrayPool<byte>.Shared.Return(output);
        }
    }

    /// <summary>
    /// Decrypts <paramref name="ciphertext"/> into <paramref name="plaintext"/>, verifying every
    /// chunk, the order, the final marker and (when given) the document id and plaintext hash.
    /// Plaintext is written as chunks verify, so on any exception the caller must discard what
    /// was written (write to a temporary file; rename only on success).
    /// </summary>
    public static async Task<DocumentDecryptionResult> DecryptAsync(Stream ciphertext, Stream plaintext, DocumentKey key,
        Guid? expectedDocumentId = null, byte[]? expectedPlaintextHash = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(ciphertext);
        ArgumentNullException.ThrowIfNull(plaintext);
        ArgumentNullException.ThrowIfNull(key);
        if (expectedPlaintextHash is { Length: not Primitives.HashBytes })
        {
            throw new ArgumentException($"A plaintext hash is {Primitives.HashBytes} bytes.", nameof(expectedPlaintextHash));
        }

        var header = new byte[HeaderBytes];
        if (await ciphertext.ReadAtLeastAsync(header, HeaderBytes, false, cancellationToken).ConfigureAwait(false) < HeaderBytes)
        {
            throw new DocumentTruncatedException("The ciphertext ends inside the document header.");
        }

        var (chunkSize, documentId) = ReadHeader(header);
        if (expectedDocumentId is { } expected && expected != documentId)
        {
            throw new DocumentIdMismatchException(expected, documentId);
        }

        using var state = new ChunkState(header, key);
        var full = chunkSize + Primitives.TagBytes;
        var current = ArrayPool<byte>.Shared.Rent(full);
        var next = ArrayPool<byte>.Shared.Rent(full);
        var output = ArrayPool<byte>.Shared.Rent(chunkSize);
        var spare = ArrayPool<byte>.Shared.Rent(chunkSize);
        var hashing = Task.CompletedTask;
        using var hash = new IncrementalHash();
        try
        {
            long index = 0, plaintextLength = 0;
            var count = await ciphertext.ReadAtLeastAsync(current.AsMemory(0, full), full, false, cancellationToken).ConfigureAwait(false);
            if (count == 0)
            {
                throw new DocumentTruncatedException("The ciphertext has a header but no chunks.");
            }

            while (true)
            {
                var nextCount = count == full
                    ? await ciphertext.ReadAtLeastAsync(next.AsMemory(0, full), full, false, cancellationToken).ConfigureAwait(false)
                    : 0;
                var last = nextCount == 0;
                if (!state.TryDecrypt(output, current.AsSpan(0, count), index, final: last, out var written))
                {
                    await hashing.ConfigureAwait(false);
                    throw Diagnose(state, output, current.AsSpan(0, count), index, last, next.AsSpan(0, nextCount));
                }

                // The previous chunk's hash must finish first (order matters), then this one's
                // overlaps the write and the next chunk's read and decryption.
                await hashing.ConfigureAwait(false);
                hashing = HashInBackground(hash, output, written);
                await plaintext.WriteAsync(output.AsMemory(0, written), cancellationToken).ConfigureAwait(false);
                (output, spare) = (spare, output);
                plaintextLength += written;
                index++;
                if (last)
                {
                    break;
                }

                (current, next) = (next, current);
                count = nextCount;
            }

            await hashing.ConfigureAwait(false);
            var plaintextHash = hash.Finish();
            if (expectedPlaintextHash is not null && !CryptographicOperations.FixedTimeEquals(expectedPlaintextHash, plaintextHash))
            {
                throw new DocumentHashMismatchException(documentId);
            }

            return new DocumentDecryptionResult(documentId, chunkSize, index, plaintextLength, plaintextHash);
        }
        finally
        {
            await hashing.ConfigureAwait(false);
            ArrayPool<byte>.Shared.Return(current);
            ArrayPool<byte>.Shared.Return(next);
            ReturnCleared(output, chunkSize);
            ReturnCleared(spare, chunkSize);
        }
    }

    /// <summary>Reads and checks a header: chunk size and document id.</summary>
    public static (int ChunkSize, Guid DocumentId) ReadHeader(ReadOnlySpan<byte> header)
    {
        if (header.Length < HeaderBytes)
        {
            throw new DocumentTruncatedException("The ciphertext ends inside the document header.");
        }

        if (!header[..8].SequenceEqual(Magic))
        {
            throw new DocumentFormatException("This is not a GlobeSecure document ciphertext (the header does not start with GLOBEDOC).");
        }

        if (header[8] != FormatVersion)
        {
            throw new DocumentFormatException($"Document format version {header[8]} is not supported; this library reads version {FormatVersion}.");
        }

        var chunkSize = BinaryPrimitives.ReadUInt32BigEndian(header[9..]);
        if (chunkSize is < MinChunkSize or > MaxChunkSize)
        {
            throw new DocumentFormatException($"The header's chunk size {chunkSize} is outside {MinChunkSize}..{MaxChunkSize}.");
        }

        return ((int)chunkSize, new Guid(header.Slice(13, 16), bigEndian: true));
    }

    internal static byte[] WriteHeader(int chunkSize, Guid documentId, byte[] noncePrefix)
    {
        if (noncePrefix.Length != NoncePrefixBytes)
        {
            throw new MalformedInputException($"A nonce prefix is {NoncePrefixBytes} bytes.");
        }

        var header = new byte[HeaderBytes];
        Magic.CopyTo(header);
        header[8] = FormatVersion;
        BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(9), (uint)chunkSize);
        documentId.TryWriteBytes(header.AsSpan(13, 16), bigEndian: true, out _);
        noncePrefix.CopyTo(header, 29);
        return header;
    }

    // Runs only after a chunk failed: names the attack by trying the chunk at other positions
    // (and, after a final chunk, what follows it). Costs a few tag checks, never on the good path.
    private static GlobeCryptoException Diagnose(ChunkState state, byte[] scratch, ReadOnlySpan<byte> chunk, long index, bool last,
        ReadOnlySpan<byte> following)
    {
        if (last && state.TryDecrypt(scratch, chunk, index, final: false, out _))
        {
            return new DocumentTruncatedException($"The ciphertext ends after chunk {index}, which is not the document's final chunk.");
        }

        if (!last && state.TryDecrypt(scratch, chunk, index, final: true, out _))
        {
            for (var j = index; j >= Math.Max(0, index - DiagnosisWindow); j--)
            {
                if (state.TryDecrypt(scratch, following, j, final: j == index, out _))
                {
                    return new DocumentChunkDuplicatedException(index + 1, j);
                }
            }

            return new DocumentTrailingDataException(index);
        }

        for (var j = index - 1; j >= Math.Max(0, index - DiagnosisWindow); j--)
        {
            if (state.TryDecrypt(scratch, chunk, j, final: false, out _) || state.TryDecrypt(scratch, chunk, j, final: true, out _))
            {
                return new DocumentChunkDuplicatedException(index, j);
            }
        }

        for (var j = index + 1; j <= index + DiagnosisWindow; j++)
        {
            if (state.TryDecrypt(scratch, chunk, j, final: false, out _) || state.TryDecrypt(scratch, chunk, j, final: true, out _))
            {
                return new DocumentChunkReorderedException(index, j);
            }
        }

        return new DocumentChunkTamperedException(index);
    }

    // BLAKE2b runs at about half XChaCha20-Poly1305's speed; hashing chunk i on another core
    // while chunk i is encrypted (or chunk i+1 decrypted) hides most of the cost. The caller
    // awaits it before the buffer is reused, and before the next chunk is hashed.
    private static Task HashInBackground(IncrementalHash hash, byte[] buffer, int count) =>
        count == 0 ? Task.CompletedTask : Task.Run(() => hash.Append(buffer.AsSpan(0, count)));

    private static void ReturnCleared(byte[] buffer, int used)
    {
        CryptographicOperations.ZeroMemory(buffer.AsSpan(0, Math.Min(used, buffer.Length)));
        ArrayPool<byte>.Shared.Return(buffer);
    }

    /// <summary>Per-document nonce and associated-data buffers, patched per chunk rather than rebuilt (not thread-safe).</summary>
    internal sealed class ChunkState : IDisposable
    {
        private readonly byte[] _key;
        private readonly byte[] _nonce = new byte[Primitives.NonceBytes];
        private readonly byte[] _aad;
        private readonly int _indexOffset;
        private readonly int _finalOffset;

        public ChunkState(byte[] header, DocumentKey key)
        {
            _key = key.Key.ToArray();
            header.AsSpan(29, NoncePrefixBytes).CopyTo(_nonce);
            _aad = new CanonicalWriter(ChunkContext).Bytes(header).Int64(0).Int64(0).ToArray();
            _finalOffset = _aad.Length - 8;
            _indexOffset = _finalOffset - 4 - 8;
        }

        public int Encrypt(Span<byte> output, ReadOnlySpan<byte> plaintext, long index, bool final)
        {
            Prepare(index, final);
            return Primitives.Encrypt(output, plaintext, _aad, _nonce, _key);
        }

        public bool TryDecrypt(Span<byte> output, ReadOnlySpan<byte> chunk, long index, bool final, out int written)
        {
            Prepare(index, final);
            return Primitives.TryDecrypt(output, chunk, _aad, _nonce, _key, out written);
        }

        public void Dispose() => CryptographicOperations.ZeroMemory(_key);

        private void Prepare(long index, bool final)
        {
            BinaryPrimitives.WriteInt64BigEndian(_nonce.AsSpan(NoncePrefixBytes), index);
            BinaryPrimitives.WriteInt64BigEndian(_aad.AsSpan(_indexOffset), index);
            BinaryPrimitives.WriteInt64BigEndian(_aad.AsSpan(_finalOffset), final ? 1 : 0);
        }
    }
}

/// <summary>
/// The document cipher one chunk at a time, for a caller that sends chunks as they are made and
/// may have to make some again: a resumed upload re-encrypts only from the chunk the server lacks,
/// with the same key, nonce prefix and header, and gets the very bytes
/// <see cref="DocumentCipher.EncryptAsync(Stream, Stream, DocumentKey, Guid, int, CancellationToken)"/>
/// writes (<see cref="Header"/> then chunk 0, 1, …). Encrypting the same index twice is safe only
/// because it is the same plaintext at the same position: never feed a chunk index different
/// plaintext. Not thread-safe; Dispose clears the key copy.
/// </summary>
public sealed class DocumentEncryptor : IDisposable
{
    private readonly byte[] _header;
    private readonly DocumentCipher.ChunkState _state;
    private bool _disposed;

    private DocumentEncryptor(byte[] header, DocumentKey key)
    {
        (ChunkSize, DocumentId) = DocumentCipher.ReadHeader(header);
        _header = header;
        _state = new DocumentCipher.ChunkState(header, key);
    }

    /// <summary>A new document: a fresh random nonce prefix and its header.</summary>
    public static DocumentEncryptor Create(DocumentKey key, Guid documentId, int chunkSize = DocumentCipher.DefaultChunkSize) =>
        Create(key, documentId, chunkSize, Primitives.Random(DocumentCipher.NoncePrefixBytes));

    /// <summary>A new document with a chosen nonce prefix: test vectors only.</summary>
    internal static DocumentEncryptor Create(DocumentKey key, Guid documentId, int chunkSize, byte[] noncePrefix)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (chunkSize is < DocumentCipher.MinChunkSize or > DocumentCipher.MaxChunkSize)
        {
            throw new ArgumentOutOfRangeException(nameof(chunkSize),
                $"A chunk size is {DocumentCipher.MinChunkSize} to {DocumentCipher.MaxChunkSize} bytes.");
        }

        return new DocumentEncryptor(DocumentCipher.WriteHeader(chunkSize, documentId, noncePrefix), key);
    }

    /// <summary>
    /// Continues a document whose header was made before (by <see cref="Create(DocumentKey, Guid, int)"/>
    /// or <see cref="DocumentCipher"/>): same key, same header, so chunk i comes out as it did then.
    /// </summary>
    /// <exception cref="DocumentFormatException">The header is not a document header this library writes.</exception>
    public static DocumentEncryptor Resume(DocumentKey key, ReadOnlySpan<byte> header)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (header.Length != DocumentCipher.HeaderBytes)
        {
            throw new DocumentFormatException($"A document header is {DocumentCipher.HeaderBytes} bytes, not {header.Length}.");
        }

        return new DocumentEncryptor(header.ToArray(), key);
    }

    /// <summary>The document id in the header.</summary>
    public Guid DocumentId { get; }

    /// <summary>Plaintext bytes per chunk (every chunk but the last holds exactly this many).</summary>
    public int ChunkSize { get; }

    /// <summary>The 45-byte header: the ciphertext's first bytes.</summary>
    public ReadOnlySpan<byte> Header => _header;

    /// <summary>
    /// Encrypts chunk <paramref name="index"/> into <paramref name="output"/> (at least
    /// plaintext length + <see cref="DocumentCipher.ChunkOverheadBytes"/> bytes) and returns the
    /// bytes written. Every chunk but the final one holds exactly <see cref="ChunkSize"/> bytes;
    /// the final one 0 to <see cref="ChunkSize"/>.
    /// </summary>
    public int EncryptChunk(long index, ReadOnlySpan<byte> plaintext, bool final, Span<byte> output)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        if (final ? plaintext.Length > ChunkSize : plaintext.Length != ChunkSize)
        {
            throw new ArgumentException(final
                ? $"The final chunk holds at most {ChunkSize} bytes, not {plaintext.Length}."
                : $"Every chunk but the final one holds exactly {ChunkSize} bytes, not {plaintext.Length}.", nameof(plaintext));
        }

        if (output.Length < plaintext.Length + DocumentCipher.ChunkOverheadBytes)
        {
            throw new ArgumentException($"The output needs {plaintext.Length + DocumentCipher.ChunkOverheadBytes} bytes.", nameof(output));
        }

        return _state.Encrypt(output, plaintext, index, final);
    }

    /// <summary>Clears the key copy.</summary>
    public void Dispose()
    {
        _state.Dispose();
        _disposed = true;
    }

    /// <inheritdoc />
    public override string ToString() => $"DocumentEncryptor({DocumentId})";
}
