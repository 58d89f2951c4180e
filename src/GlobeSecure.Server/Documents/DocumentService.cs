using GlobeSecure.Contracts.V1;
using GlobeSecure.Crypto;
using GlobeSecure.EventStore;
using GlobeSecure.Server.Identity;
using GlobeSecure.Server.Infrastructure;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Microsoft.Extensions.Options;
using Npgsql;

namespace GlobeSecure.Server.Documents;

/// <summary>
/// Thin gRPC surface of encrypted documents: authenticate → check who may call (audited) →
/// validate → decide → append (with the audit entry) → map back. Chunk bytes go to
/// <see cref="IDocumentStorage"/>, hashed as they arrive (<see cref="UploadHashes"/>), in bounded
/// batches (<see cref="ChunkWriter"/>); downloads stream pages of chunks, awaiting each write (back-pressure).
/// </summary>
internal sealed class DocumentService(
    PostgresEventStore store,
    Access access,
    TimeProvider clock,
    DocumentReadModel read,
    IDocumentStorage storage,
    UploadHashes hashes,
    IChannelAccess channels,
    IOptions<DocumentOptions> options,
    IOptions<GlobeOptions> globe) : Contracts.V1.DocumentService.DocumentServiceBase
{
    // An UploadChunkRequest's fields around the chunk (document id, index, tags and lengths), generously.
    private const int ChunkMessageOverhead = 256;

    public override async Task<Document> BeginUpload(BeginUploadRequest request, ServerCallContext context)
    {
        var caller = await access.RequireAuthenticatedAsync(context, request.DocumentId);
        var v = new Violations();
        var documentId = v.Id("document_id", request.DocumentId);
        var channelId = v.Id("channel_id", request.ChannelId);
        var header = request.Header.ToByteArray();
        ChunkLayout? layout = null;
        if (header.Length != DocumentCipher.HeaderBytes)
        {
            v.Add("header", $"must be the {DocumentCipher.HeaderBytes}-byte document cipher header (got {header.Length} bytes)");
        }
        else
        {
            try
            {
                var (chunkSize, headerId) = DocumentCipher.ReadHeader(header);
                if (headerId != documentId && documentId != Guid.Empty)
                {
                    v.Add("header", "names another document id than document_id");
                }

                layout = ChunkLayout.Of(request.CiphertextLength, chunkSize);
                if (layout is null)
                {
                    v.Add("ciphertext_length", $"no plaintext has {request.CiphertextLength} bytes of ciphertext under the header's chunk size {chunkSize}");
                }

                // Refused now rather than at the first chunk: a chunk must fit in one gRPC message each way.
                var largest = Math.Min(globe.Value.Limits.MaxReceiveMessageBytes, globe.Value.Limits.MaxSendMessageBytes) - ChunkMessageOverhead;
                if (chunkSize + ChunkLayout.TagBytes > largest)
                {
                    v.Add("header", $"chunk size {chunkSize} is too large for this server's message limit; use at most {largest - ChunkLayout.TagBytes}");
                }
            }
            catch (GlobeCryptoException e)
            {
                v.Add("header", e.Message);
            }
        }

        v.ThrowIfAny();
        await channels.RequireMemberAsync(context, caller, channelId, documentId.ToString());

        var ct = context.CancellationToken;
        var limits = options.Value;
        var now = clock.GetUtcNow();
        var used = await read.UsedBytesAsync(caller.AuthorityId, ct);
        var start = new StartUpload(documentId, channelId, header, layout!.Value, caller.UserId, caller.DeviceId, caller.AuthorityId, limits.MaxDocumentBytes,
            limits.AuthorityQuotaBytes, used, now + limits.UploadExpiry, now);
        try
        {
            await store.DecideAsync(DocumentDecider.StreamId(documentId), DocumentState.Initial, DocumentDecider.Evolve, s => DocumentDecider.Decide(start, s),
                access.Allowed(context, documentId.ToString()), cancellationToken: ct);
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.CheckViolation && e.ConstraintName == DocumentProjection.QuotaConstraint)
        {
            // Another upload of the authority reserved the rest first (in this process or another): nothing was stored.
            throw DocumentDecider.QuotaExceeded(limits.AuthorityQuotaBytes, await read.UsedBytesAsync(caller.AuthorityId, ct), layout.Value.CiphertextLength);
        }

        return await ToProtoAsync(await DocumentAsync(documentId, ct), ct);
    }

    public override async Task<Document> UploadChunks(IAsyncStreamReader<UploadChunkRequest> requestStream, ServerCallContext context)
    {
        var caller = await access.RequireAuthenticatedAsync(context);
        var ct = context.CancellationToken;
        if (!await requestStream.MoveNext(ct))
        {
            throw new ValidationException("document_id", "the stream carried no chunk: send at least one");
        }

        var first = requestStream.Current;
        var documentId = Violations.RequiredId("document_id", first.DocumentId);
        var row = await DocumentAsync(documentId, ct);
        if (!row.IsUploader(caller))
        {
            await access.DenyAsync(context, caller, documentId.ToString(), "only the uploading device sends a document's chunks");
        }

        if (row.Status != DocumentStatus.Uploading)
        {
            throw new WrongStateException($"The document is {Describe(row.Status)}; chunks are accepted only while it is UPLOADING.");
        }

        if (clock.GetUtcNow() >= row.ExpiresAt)
        {
            throw new WrongStateException("The upload has expired; its chunks will be deleted. Upload the document again under a new id.");
        }

        await access.RecordReadAsync(context, documentId.ToString());
        var layout = row.Layout;
        using (var hash = await hashes.AcquireAsync(documentId, ct))
        {
            var held = await storage.ChunksHeldAsync(documentId, ct);
            await hash.CoverAsync(row.Header, held, layout.ChunkCount, ct);
            var writer = new ChunkWriter(storage, hash, documentId, held, layout.ChunkCount);
            var next = held;
            var current = first;
            try
            {
                // A stream may start below chunks_held (the client asked before a broken call had
                // stored all it received): chunks already held are skipped, not compared; the seal's
                // hash comparison covers what is stored.
                var resend = current.Index >= 0 && current.Index < held ? current.Index : held;
                while (true)
                {
                    if (resend < held && current.Index == resend && current.DocumentId == first.DocumentId)
                    {
                        resend++;
                    }
                    else if (Check(current, documentId, next, layout) is { } refusal)
                    {
                        throw refusal;
                    }
                    else
                    {
                        resend = held;
                        next++;
                        await writer.AddAsync(current.Data.Memory);
                    }

                    if (!await requestStream.MoveNext(ct))
                    {
                        break;
                    }

                    current = requestStream.Current;
                }

                await writer.FlushAsync();
            }
            catch (Exception)
            {
                // A chunk was refused, or the stream broke (the client went away, the connection
                // dropped): keep the chunks that arrived whole before it, so the resumed upload need
                // not send them again, and leave no write running once the call ends.
                await writer.FlushAsync();
                throw;
            }
        }

        return await ToProtoAsync(row, ct);
    }

    public override async Task<Document> GetDocument(GetDocumentRequest request, ServerCallContext context)
    {
        var caller = await access.RequireAuthenticatedAsync(context, request.DocumentId);
        var documentId = Violations.RequiredId("document_id", request.DocumentId);
        var row = await DocumentAsync(documentId, context.CancellationToken);
        await RequireReaderAsync(context, caller, row);
        await access.RecordReadAsync(context, documentId.ToString());
        return await ToProtoAsync(row, context.CancellationToken);
    }

    public override async Task<Document> SealDocument(SealDocumentRequest request, ServerCallContext context)
    {
        var caller = await access.RequireAuthenticatedAsync(context, request.DocumentId);
        var v = new Violations();
        var documentId = v.Id("document_id", request.DocumentId);
        var clientHash = v.Bytes("ciphertext_hash", request.CiphertextHash, Blake2b256.HashBytes);
        v.ThrowIfAny();

        var ct = context.CancellationToken;
        var row = await DocumentAsync(documentId, ct);
        if (!row.IsUploader(caller))
        {
            await access.DenyAsync(context, caller, documentId.ToString(), "only the uploading device seals a document");
        }

        long held = 0;
        byte[]? serverHash = null;
        if (row.Status == DocumentStatus.Uploading)
        {
            using var hash = await hashes.AcquireAsync(documentId, ct);
            held = await storage.ChunksHeldAsync(documentId, ct);
            if (held == row.ChunkCount)
            {
                await hash.CoverAsync(row.Header, held, row.ChunkCount, ct);
                serverHash = hash.Final;
            }
        }

        var seal = new SealUpload(documentId, caller.UserId, caller.DeviceId, clientHash, held, serverHash, clock.GetUtcNow());
        await store.DecideAsync(DocumentDecider.StreamId(documentId), DocumentState.Initial, DocumentDecider.Evolve, s => DocumentDecider.Decide(seal, s),
            access.Allowed(context, documentId.ToString()), cancellationToken: ct);
        await hashes.ForgetAsync(documentId, ct);
        return await ToProtoAsync(await DocumentAsync(documentId, ct), ct);
    }

    public override async Task DownloadDocument(DownloadDocumentRequest request, IServerStreamWriter<DocumentChunk> responseStream, ServerCallContext context)
    {
        var caller = await access.RequireAuthenticatedAsync(context, request.DocumentId);
        var documentId = Violations.RequiredId("document_id", request.DocumentId);
        var ct = context.CancellationToken;
        var row = await DocumentAsync(documentId, ct);
        await RequireReaderAsync(context, caller, row);
        if (row.Status != DocumentStatus.Sealed)
        {
            throw new WrongStateException($"The document is {Describe(row.Status)}; only a SEALED document can be downloaded.");
        }

        if (request.FromChunk < 0 || request.FromChunk >= row.ChunkCount)
        {
            throw new ValidationException("from_chunk", $"0 to chunk_count − 1 ({row.ChunkCount - 1})");
        }

        await access.RecordReadAsync(context, documentId.ToString());
        var next = request.FromChunk;
        await foreach (var chunk in storage.ReadAsync(documentId, request.FromChunk, ct))
        {
            if (chunk.Index != next)
            {
                break;
            }

            await responseStream.WriteAsync(new DocumentChunk { Index = chunk.Index, Data = UnsafeByteOperations.UnsafeWrap(chunk.Data) }, ct);
            next++;
        }

        if (next != row.ChunkCount)
        {
            // Storage lost chunks of a sealed document (deleted under retention meanwhile, or by hand):
            // say so rather than end the stream as if it were complete.
            throw new WrongStateException($"Chunk {next} of the document is missing from storage; it was probably deleted under the retention settings.");
        }
    }

    public override async Task<ListDocumentsResponse> ListDocuments(ListDocumentsRequest request, ServerCallContext context)
    {
        var caller = await access.RequireAuthenticatedAsync(context, request.ChannelId);
        var channelId = Violations.RequiredId("channel_id", request.ChannelId);
        await channels.RequireMemberAsync(context, caller, channelId);
        var ct = context.CancellationToken;
        var response = new ListDocumentsResponse();
        foreach (var row in await read.ChannelDocumentsAsync(channelId, caller.UserId, ct))
        {
            response.Documents.Add(await ToProtoAsync(row, ct));
        }

        await access.RecordReadAsync(context, channelId.ToString());
        return response;
    }

    /// <summary>
    /// The uploader, or a caller allowed to read a message that carries the document: messages
    /// carry only documents of their own channel, so that is the channel's read rule
    /// (<see cref="IChannelAccess"/>, as GetMessage and History) once a message carries it.
    /// Anyone else: PERMISSION_DENIED, audited.
    /// </summary>
    private async Task RequireReaderAsync(ServerCallContext context, Caller caller, DocumentRow row)
    {
        if (row.UploaderUserId == caller.UserId)
        {
            return;
        }

        if (row.MessageIds.Count == 0)
        {
            await access.DenyAsync(context, caller, row.DocumentId.ToString(), "no message you may read carries this document");
        }

        await channels.RequireMemberAsync(context, caller, row.ChannelId, row.DocumentId.ToString());
    }

    /// <summary>Why a chunk is refused, or null when it is the next one, of the right size.</summary>
    private static ValidationException? Check(UploadChunkRequest chunk, Guid documentId, long next, ChunkLayout layout)
    {
        if (chunk.DocumentId != documentId.ToString() && (!Guid.TryParse(chunk.DocumentId, out var id) || id != documentId))
        {
            return new ValidationException("document_id", "every chunk of a stream names the same document");
        }

        if (chunk.Index >= layout.ChunkCount)
        {
            return new ValidationException("index", $"the document has {layout.ChunkCount} chunks (0 to {layout.ChunkCount - 1}); got {chunk.Index}");
        }

        if (chunk.Index != next)
        {
            return new ValidationException("index", $"expected chunk {next} (chunks are sent in order from chunks_held), got {chunk.Index}");
        }

        var expected = layout.ChunkBytes(chunk.Index);
        return chunk.Data.Length != expected
            ? new ValidationException("data", $"chunk {chunk.Index} of {layout.ChunkCount} must be {expected} bytes (got {chunk.Data.Length})")
            : null;
    }

    private async Task<DocumentRow> DocumentAsync(Guid documentId, CancellationToken ct) =>
        await read.DocumentAsync(documentId, ct) ?? throw new NotFoundException("document", documentId.ToString());

    private async Task<Document> ToProtoAsync(DocumentRow row, CancellationToken ct)
    {
        var held = row.Status switch
        {
            DocumentStatus.Uploading => await storage.ChunksHeldAsync(row.DocumentId, ct),
            DocumentStatus.Sealed => row.ChunkCount,
            _ => 0,
        };
        var document = new Document
        {
            DocumentId = row.DocumentId.ToString(),
            ChannelId = row.ChannelId.ToString(),
            UploaderUserId = row.UploaderUserId.ToString(),
            UploaderDeviceId = row.UploaderDeviceId.ToString(),
            UploaderAuthorityId = row.AuthorityId.ToString(),
            Status = row.Status,
            CiphertextLength = row.CiphertextLength,
            ChunkSize = row.ChunkSize,
            ChunkCount = row.ChunkCount,
            ChunksHeld = held,
            BytesHeld = row.Status is DocumentStatus.Uploading or DocumentStatus.Sealed ? row.Layout.BytesHeld(held) : 0,
            Header = ByteString.CopyFrom(row.Header),
            CiphertextHash = row.CiphertextHash is null ? ByteString.Empty : ByteString.CopyFrom(row.CiphertextHash),
            CreatedAt = Timestamp.FromDateTimeOffset(row.CreatedAt),
            SealedAt = row.SealedAt is { } sealedAt ? Timestamp.FromDateTimeOffset(sealedAt) : null,
            ExpiresAt = row.Status switch
            {
                DocumentStatus.Uploading => Timestamp.FromDateTimeOffset(row.ExpiresAt),
                DocumentStatus.Sealed when options.Value.RetentionDays > 0 && row.SealedAt is { } at => Timestamp.FromDateTimeOffset(at.AddDays(options.Value.RetentionDays)),
                _ => null,
            },
        };
        document.MessageIds.AddRange(row.MessageIds.Select(m => m.ToString()));
        return document;
    }

    private static string Describe(DocumentStatus status) => status switch
    {
        DocumentStatus.Uploading => "UPLOADING",
        DocumentStatus.Sealed => "SEALED",
        DocumentStatus.Expired => "EXPIRED",
        DocumentStatus.Deleted => "DELETED",
        _ => "unknown",
    };
}
