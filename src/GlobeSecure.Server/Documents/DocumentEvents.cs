namespace GlobeSecure.Server.Documents;

// Events of the Documents feature, stream document-{id}. Only the lifecycle is an event: the
// cipher chunks are bytes in IDocumentStorage (docs/adr/0006-documents.md). The server never
// sees a file key, a plaintext or a plaintext hash.

/// <summary>
/// A member opened an upload to a channel: the cipher header, the declared length and the chunk
/// layout it implies, and the quota in force (the authority's usage row must stay under it).
/// </summary>
internal sealed record UploadStarted(Guid DocumentId, Guid ChannelId, Guid UploaderUserId, Guid UploaderDeviceId, Guid UploaderAuthorityId, byte[] Header,
    long CiphertextLength, int ChunkSize, long ChunkCount, long QuotaBytes, DateTimeOffset ExpiresAt, DateTimeOffset StartedAt);

/// <summary>The uploader sealed a complete upload; <see cref="CiphertextHash"/> is the BLAKE2b-256 the server computed and the uploader agreed.</summary>
internal sealed record DocumentSealed(Guid DocumentId, Guid ChannelId, byte[] CiphertextHash, Guid ByUserId, Guid ByDeviceId, DateTimeOffset SealedAt);

/// <summary>An upload was not sealed before its expiry: its chunks are deleted and its quota released.</summary>
internal sealed record UploadExpired(Guid DocumentId, Guid ChannelId, Guid UploaderAuthorityId, long CiphertextLength, DateTimeOffset ExpiredAt);

/// <summary>A sealed document was deleted under the retention settings: its chunks are deleted and its quota released.</summary>
internal sealed record DocumentDeleted(Guid DocumentId, Guid ChannelId, Guid UploaderAuthorityId, long CiphertextLength, int RetentionDays,
    DateTimeOffset DeletedAt);
