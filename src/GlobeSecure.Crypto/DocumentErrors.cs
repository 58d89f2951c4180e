namespace GlobeSecure.Crypto;

/// <summary>The document header is not one this library reads: magic, version or chunk size.</summary>
public sealed class DocumentFormatException(string message) : GlobeCryptoException(message);

/// <summary>The header names another document than the one expected (a swapped ciphertext).</summary>
public sealed class DocumentIdMismatchException(Guid expected, Guid found)
    : GlobeCryptoException($"The ciphertext is document {found}, not the expected {expected}.");

/// <summary>The ciphertext ends before its final chunk: cut inside the header or after a chunk not marked final.</summary>
public sealed class DocumentTruncatedException(string message) : GlobeCryptoException(message);

/// <summary>A chunk authenticates, but as a later chunk of this document: chunks were reordered.</summary>
public sealed class DocumentChunkReorderedException(long position, long actualIndex)
    : GlobeCryptoException($"Chunk {position} of the ciphertext is chunk {actualIndex} of the document: chunks were reordered.")
{
    /// <summary>Where the chunk was found.</summary>
    public long Position { get; } = position;

    /// <summary>Where it belongs.</summary>
    public long ActualIndex { get; } = actualIndex;
}

/// <summary>A chunk authenticates, but as an earlier chunk of this document: a chunk was duplicated.</summary>
public sealed class DocumentChunkDuplicatedException(long position, long actualIndex)
    : GlobeCryptoException($"Chunk {position} of the ciphertext repeats chunk {actualIndex}: a chunk was duplicated.")
{
    /// <summary>Where the copy was found.</summary>
    public long Position { get; } = position;

    /// <summary>The chunk it repeats.</summary>
    public long ActualIndex { get; } = actualIndex;
}

/// <summary>The final chunk is followed by more data: the document was extended.</summary>
public sealed class DocumentTrailingDataException(long finalIndex)
    : GlobeCryptoException($"Chunk {finalIndex} is the document's final chunk, but more data follows it.");

/// <summary>
/// A chunk does not authenticate at any position of this document: its bytes were altered, it
/// was cut short, or it was spliced in from another document.
/// </summary>
public sealed class DocumentChunkTamperedException(long position)
    : GlobeCryptoException($"Chunk {position} does not authenticate: it was altered, cut short, or comes from another document.")
{
    /// <summary>The chunk's position in the ciphertext.</summary>
    public long Position { get; } = position;
}

/// <summary>Every chunk authenticated, but the plaintext's BLAKE2b-256 is not the one the sender signed.</summary>
public sealed class DocumentHashMismatchException(Guid documentId)
    : GlobeCryptoException($"Document {documentId} decrypts, but its plaintext hash differs from the signed one: discard the output.");
