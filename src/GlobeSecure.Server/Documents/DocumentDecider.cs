using System.Globalization;
using GlobeSecure.Contracts.V1;
using GlobeSecure.Crypto;
using GlobeSecure.Server.Infrastructure;

namespace GlobeSecure.Server.Documents;

/// <summary>A document stream: nothing yet, or started and where its lifecycle stands.</summary>
internal sealed record DocumentState(UploadStarted? Started, DocumentStatus Status, byte[]? CiphertextHash, DateTimeOffset? SealedAt)
{
    public static DocumentState Initial { get; } = new(null, DocumentStatus.Unspecified, null, null);
}

/// <summary>
/// How a declared ciphertext length splits into cipher chunks under a chunk size C: after the
/// 45-byte header, every chunk but the last is C + 16 bytes and the last is 16 to C + 16
/// (docs/protocol.md §12).
/// </summary>
internal readonly record struct ChunkLayout(long CiphertextLength, int ChunkSize, long ChunkCount, int LastChunkBytes)
{
    /// <summary>The Poly1305 tag every cipher chunk ends with.</summary>
    public const int TagBytes = 16;

    public int FullChunkBytes => ChunkSize + TagBytes;

    /// <summary>The layout, or null when no plaintext has this ciphertext length under this chunk size.</summary>
    public static ChunkLayout? Of(long ciphertextLength, int chunkSize)
    {
        var payload = ciphertextLength - DocumentCipher.HeaderBytes;
        if (payload < TagBytes || chunkSize < 1)
        {
            return null;
        }

        long full = chunkSize + TagBytes;
        var count = (payload + full - 1) / full;
        var last = payload - ((count - 1) * full);
        return last < TagBytes ? null : new ChunkLayout(ciphertextLength, chunkSize, count, (int)last);
    }

    /// <summary>The exact size of chunk <paramref name="index"/>.</summary>
    public int ChunkBytes(long index) => index == ChunkCount - 1 ? LastChunkBytes : FullChunkBytes;

    /// <summary>Header plus chunks 0 to <paramref name="chunksHeld"/> − 1.</summary>
    public long BytesHeld(long chunksHeld) =>
        chunksHeld <= 0 ? DocumentCipher.HeaderBytes
        : chunksHeld >= ChunkCount ? CiphertextLength
        : DocumentCipher.HeaderBytes + (chunksHeld * FullChunkBytes);
}

/// <summary>
/// A member opens an upload. The header and length were checked at the edge (<see cref="ChunkLayout"/>);
/// <see cref="AuthorityUsedBytes"/> is what the authority's uploads reserve now (a friendly
/// pre-check: the exact check is the usage row's constraint in the same commit).
/// </summary>
internal sealed record StartUpload(Guid DocumentId, Guid ChannelId, byte[] Header, ChunkLayout Layout, Guid UserId, Guid DeviceId, Guid AuthorityId,
    long MaxDocumentBytes, long QuotaBytes, long AuthorityUsedBytes, DateTimeOffset ExpiresAt, DateTimeOffset At);

/// <summary>
/// The uploader seals. <see cref="ServerHash"/> is the server's hash of what it holds (null when
/// not every chunk is held).
/// </summary>
internal sealed record SealUpload(Guid DocumentId, Guid UserId, Guid DeviceId, byte[] ClientHash, long ChunksHeld, byte[]? ServerHash, DateTimeOffset At);

/// <summary>The cleanup pass: expire an unsealed upload past its expiry.</summary>
internal sealed record ExpireUpload(Guid DocumentId, DateTimeOffset At);

/// <summary>The cleanup pass: delete a sealed document older than <see cref="RetentionDays"/> (0 = keep).</summary>
internal sealed record DeleteForRetention(Guid DocumentId, int RetentionDays, DateTimeOffset At);

/// <summary>
/// The lifecycle rules of a document: UPLOADING → SEALED → DELETED, UPLOADING → EXPIRED. Pure;
/// every refusal is its own error and produces no event; retries of a done step produce none.
/// </summary>
internal static class DocumentDecider
{
    public static string StreamId(Guid documentId) => $"document-{documentId}";

    public static DocumentState Evolve(DocumentState state, object @event) => @event switch
    {
        UploadStarted e => new DocumentState(e, DocumentStatus.Uploading, null, null),
        DocumentSealed e => state with { Status = DocumentStatus.Sealed, CiphertextHash = e.CiphertextHash, SealedAt = e.SealedAt },
        UploadExpired => state with { Status = DocumentStatus.Expired },
        DocumentDeleted => state with { Status = DocumentStatus.Deleted },
        _ => state,
    };

    public static IReadOnlyList<object> Decide(StartUpload start, DocumentState state)
    {
        if (state.Started is { } started)
        {
            return started.ChannelId == start.ChannelId && started.UploaderUserId == start.UserId && started.UploaderDeviceId == start.DeviceId
                && started.CiphertextLength == start.Layout.CiphertextLength && started.Header.AsSpan().SequenceEqual(start.Header)
                    ? []
                    : throw new AlreadyExistsException("document", start.DocumentId.ToString());
        }

        var length = start.Layout.CiphertextLength;
        if (length > start.MaxDocumentBytes)
        {
            throw new LimitExceededException(
                $"The document is {Bytes(length)} bytes of ciphertext; the maximum document size is {Bytes(start.MaxDocumentBytes)} bytes.");
        }

        if (start.AuthorityUsedBytes + length > start.QuotaBytes)
        {
            throw QuotaExceeded(start.QuotaBytes, start.AuthorityUsedBytes, length);
        }

        return
        [
            new UploadStarted(start.DocumentId, start.ChannelId, start.UserId, start.DeviceId, start.AuthorityId, start.Header, length, start.Layout.ChunkSize,
                start.Layout.ChunkCount, start.QuotaBytes, start.ExpiresAt, start.At),
        ];
    }

    public static IReadOnlyList<object> Decide(SealUpload seal, DocumentState state)
    {
        var started = state.Started ?? throw new NotFoundException("document", seal.DocumentId.ToString());
        if (started.UploaderUserId != seal.UserId || started.UploaderDeviceId != seal.DeviceId)
        {
            throw new PermissionDeniedException("Permission denied: only the uploading device seals a document.");
        }

        switch (state.Status)
        {
            case DocumentStatus.Sealed:
                return state.CiphertextHash.AsSpan().SequenceEqual(seal.ClientHash)
                    ? []
                    : throw new WrongStateException("The document is already sealed with another ciphertext hash.");
            case DocumentStatus.Expired:
                throw new WrongStateException("The upload expired before it was sealed; its chunks are gone. Upload the document again under a new id.");
            case DocumentStatus.Deleted:
                throw new WrongStateException("The document was deleted under the retention settings.");
        }

        if (seal.At >= started.ExpiresAt)
        {
            throw new WrongStateException("The upload has expired; its chunks will be deleted. Upload the document again under a new id.");
        }

        if (seal.ChunksHeld < started.ChunkCount || seal.ServerHash is null)
        {
            throw new WrongStateException(
                $"The upload is incomplete: chunks_held is {seal.ChunksHeld} of chunk_count {started.ChunkCount}; upload the rest (UploadChunks) and seal again.");
        }

        if (!seal.ServerHash.AsSpan().SequenceEqual(seal.ClientHash))
        {
            throw new WrongStateException(
                "ciphertext_hash does not match the server's BLAKE2b-256 of the chunks it holds; nothing was sealed. Check what was uploaded.");
        }

        return [new DocumentSealed(seal.DocumentId, started.ChannelId, seal.ServerHash, seal.UserId, seal.DeviceId, seal.At)];
    }

    public static IReadOnlyList<object> Decide(ExpireUpload expire, DocumentState state) =>
        state is { Started: { } started, Status: DocumentStatus.Uploading } && expire.At >= started.ExpiresAt
            ? [new UploadExpired(expire.DocumentId, started.ChannelId, started.UploaderAuthorityId, started.CiphertextLength, expire.At)]
            : [];

    public static IReadOnlyList<object> Decide(DeleteForRetention delete, DocumentState state) =>
        state is { Started: { } started, Status: DocumentStatus.Sealed, SealedAt: { } sealedAt } && delete.RetentionDays > 0
            && delete.At >= sealedAt.AddDays(delete.RetentionDays)
            ? [new DocumentDeleted(delete.DocumentId, started.ChannelId, started.UploaderAuthorityId, started.CiphertextLength, delete.RetentionDays, delete.At)]
            : [];

    /// <summary>The quota refusal, naming the limit in bytes (also used when the usage row's constraint refuses a concurrent begin).</summary>
    public static LimitExceededException QuotaExceeded(long quotaBytes, long usedBytes, long length) =>
        new($"The authority's document storage quota is {Bytes(quotaBytes)} bytes; {Bytes(usedBytes)} are in use and this document needs {Bytes(length)}.");

    private static string Bytes(long value) => value.ToString(CultureInfo.InvariantCulture);
}
