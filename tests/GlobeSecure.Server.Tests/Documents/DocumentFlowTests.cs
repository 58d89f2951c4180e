using GlobeSecure.Contracts.V1;
using GlobeSecure.Crypto;
using GlobeSecure.EventStore;
using GlobeSecure.Server.Documents;
using GlobeSecure.Server.Tests.Channels;
using GlobeSecure.Server.Tests.Identity;
using GlobeSecure.Testing;
using Google.Protobuf;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace GlobeSecure.Server.Tests.Documents;

/// <summary>Encrypted documents end to end: real document cipher, real gRPC, real PostgreSQL.</summary>
public sealed class DocumentFlowTests(DocumentFixture server) : IClassFixture<DocumentFixture>, IDisposable
{
    private readonly NetworkDriver _driver = new(server);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private async Task<(ChannelWorld World, ChannelDriver Channels, DocumentDriver Documents)> WorldAsync()
    {
        var world = await server.WorldAsync(_driver);
        return (world, new ChannelDriver(_driver, world.Network), new DocumentDriver(_driver));
    }

    /// <summary>A channel of Alice and Bob (Carol, of another authority, is not a member).</summary>
    private static async Task<Guid> ChannelAsync(ChannelWorld w, ChannelDriver channels) =>
        Guid.Parse((await channels.CreateAsync(w.Alice, w.Alice, w.Bob)).ChannelId);

    /// <summary>A fresh channel of Alice and Bob and a document of <paramref name="plaintextLength"/> bytes encrypted for it (not uploaded).</summary>
    private async Task<Scene> SceneAsync(int plaintextLength)
    {
        var (w, channels, documents) = await WorldAsync();
        return new Scene(w, channels, documents, await ChannelAsync(w, channels), await EncryptedDocument.CreateAsync(plaintextLength));
    }

    private sealed record Scene(ChannelWorld W, ChannelDriver Channels, DocumentDriver Documents, Guid ChannelId, EncryptedDocument Document);

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(DocumentCipher.DefaultChunkSize)]
    [InlineData(DocumentCipher.DefaultChunkSize + 1)]
    [InlineData((3 * 1024 * 1024) + 5)]
    [InlineData(64 * 1024 * 1024)]
    public async Task RoundTrip_DocumentOfSize_MemberDownloadsTheSealedCiphertextAndDecryptsIt(int plaintextLength)
    {
        var (w, channels, documents, channelId, document) = await SceneAsync(plaintextLength);

        var sealedDocument = await documents.PutAsync(w.Alice, channelId, document);
        var message = await channels.SendTextAsync(w.Alice, channelId, "Bank statements attached", [document.DocumentId]);
        var downloaded = await documents.DownloadAsync(w.Bob, document.DocumentId);
        var seenByBob = await documents.GetAsync(w.Bob, document.DocumentId);

        Assert.Equal(DocumentStatus.Sealed, sealedDocument.Status);
        Assert.Equal(document.Chunks.Count, sealedDocument.ChunkCount);
        Assert.Equal(sealedDocument.ChunkCount, sealedDocument.ChunksHeld);
        Assert.Equal(document.Ciphertext.Length, sealedDocument.BytesHeld);
        Assert.Equal(document.Hash, sealedDocument.CiphertextHash.ToByteArray());
        Assert.Equal([message.Envelope.Header.MessageId], seenByBob.MessageIds);
        Assert.Equal(document.Ciphertext, downloaded);
        Assert.Equal(document.Plaintext, await document.DecryptAsync(downloaded));
    }

    [Fact]
    public async Task Download_FromALaterChunk_SendsTheRestOnly()
    {
        var (w, channels, documents, channelId, document) = await SceneAsync((5 * DocumentCipher.DefaultChunkSize) + 7);
        await documents.PutAsync(w.Alice, channelId, document);

        var rest = await documents.DownloadAsync(w.Alice, document.DocumentId, fromChunk: 3);

        Assert.Equal([.. document.Header, .. document.Chunks.Skip(3).SelectMany(c => c)], rest);
    }

    [Fact]
    public async Task UploadChunks_StreamBrokenMidway_ResumesFromChunksHeldAndSeals()
    {
        // Two storage batches and some: the first is stored while the call is alive, the rest is not.
        const int batch = ChunkWriter.BatchChunks;
        const int total = (2 * batch) + 8;
        const int sent = batch + 4;
        var (w, channels, documents, channelId, document) = await SceneAsync(total * DocumentCipher.DefaultChunkSize);
        await documents.BeginAsync(w.Alice, channelId, document);

        // Send a batch and a few chunks, wait until the server has stored the batch, then drop the call.
        using (var broken = new CancellationTokenSource())
        {
            using var call = documents.Documents.UploadChunks(w.Alice.Headers, cancellationToken: broken.Token);
            for (var i = 0; i < sent; i++)
            {
                await call.RequestStream.WriteAsync(new UploadChunkRequest
                {
                    DocumentId = document.DocumentId.ToString(),
                    Index = i,
                    Data = ByteString.CopyFrom(document.Chunks[i]),
                }, Ct);
            }

            await WaitForAsync(async () => (await documents.GetAsync(w.Alice, document.DocumentId)).ChunksHeld >= batch);
            await broken.CancelAsync();
            await Assert.ThrowsAnyAsync<RpcException>(() => call.ResponseAsync);
        }

        var held = (await documents.GetAsync(w.Alice, document.DocumentId)).ChunksHeld;
        var resumed = await documents.UploadAsync(w.Alice, document, from: held);
        var sealedDocument = await documents.SealAsync(w.Alice, document);

        Assert.InRange(held, batch, sent);
        Assert.Equal(total, resumed.ChunksHeld);
        Assert.Equal(DocumentStatus.Sealed, sealedDocument.Status);
        Assert.Equal(document.Ciphertext, await documents.DownloadAsync(w.Alice, document.DocumentId));
    }

    [Fact]
    public async Task UploadChunks_StreamStartingBelowChunksHeld_SkipsHeldChunksAndContinues()
    {
        var (w, channels, documents, channelId, document) = await SceneAsync(6 * DocumentCipher.DefaultChunkSize);
        await documents.BeginAsync(w.Alice, channelId, document);
        await documents.UploadAsync(w.Alice, document, count: 4);

        var resumed = await documents.UploadAsync(w.Alice, document, from: 2);

        Assert.Equal(6, resumed.ChunksHeld);
        Assert.Equal(DocumentStatus.Sealed, (await documents.SealAsync(w.Alice, document)).Status);
    }

    [Fact]
    public async Task UploadChunks_ContinuedThroughAnotherServerProcess_SealRecomputesTheHashFromStorageAndTheOtherProcessForgetsItsHash()
    {
        var (w, _, documents, channelId, document) = await SceneAsync(6 * DocumentCipher.DefaultChunkSize);
        await documents.BeginAsync(w.Alice, channelId, document);
        await documents.UploadAsync(w.Alice, document, count: 2);
        await using var replica = await server.StartReplicaAsync(Ct);
        using var toReplica = GlobeServerFixture.ChannelTo(replica);
        var viaReplica = new DocumentDriver(toReplica);

        await viaReplica.UploadAsync(w.Alice, document, from: 2, count: 2);
        await documents.UploadAsync(w.Alice, document, from: 4);
        var sealedDocument = await viaReplica.SealAsync(w.Alice, document);
        var hashes = server.Services.GetRequiredService<Server.Documents.UploadHashes>();
        var heldHereBeforeCleanup = hashes.DocumentIds.Contains(document.DocumentId);
        await DocumentDriver.CleanupAsync(server.Services);

        Assert.Equal(document.Hash, sealedDocument.CiphertextHash.ToByteArray());
        Assert.Equal(document.Ciphertext, await documents.DownloadAsync(w.Alice, document.DocumentId));
        Assert.True(heldHereBeforeCleanup);
        Assert.DoesNotContain(document.DocumentId, hashes.DocumentIds);
    }

    [Fact]
    public async Task UploadChunks_ChunkOutOfOrder_InvalidArgumentAndEarlierChunksKept()
    {
        var (w, channels, documents, channelId, document) = await SceneAsync(5 * DocumentCipher.DefaultChunkSize);
        await documents.BeginAsync(w.Alice, channelId, document);

        var status = await DocumentDriver.StatusOfAsync(() =>
            documents.UploadChunksAsync(w.Alice, document.DocumentId, [(0, document.Chunks[0]), (1, document.Chunks[1]), (3, document.Chunks[3])]));

        Assert.Equal(StatusCode.InvalidArgument, status);
        Assert.Equal(2, (await documents.GetAsync(w.Alice, document.DocumentId)).ChunksHeld);
    }

    [Fact]
    public async Task UploadChunks_ChunkOfWrongSize_InvalidArgumentAndEarlierChunksKept()
    {
        var (w, channels, documents, channelId, document) = await SceneAsync(5 * DocumentCipher.DefaultChunkSize);
        await documents.BeginAsync(w.Alice, channelId, document);

        var status = await DocumentDriver.StatusOfAsync(() =>
            documents.UploadChunksAsync(w.Alice, document.DocumentId, [(0, document.Chunks[0]), (1, document.Chunks[1][..100])]));

        Assert.Equal(StatusCode.InvalidArgument, status);
        Assert.Equal(1, (await documents.GetAsync(w.Alice, document.DocumentId)).ChunksHeld);
    }

    [Fact]
    public async Task UploadChunks_ChunkBeyondTheDeclaredLength_InvalidArgumentAndNothingMoreStored()
    {
        var (w, _, documents, channelId, document) = await SceneAsync(2 * DocumentCipher.DefaultChunkSize);
        await documents.BeginAsync(w.Alice, channelId, document);
        await documents.UploadAsync(w.Alice, document);

        var refused = await Assert.ThrowsAsync<RpcException>(() =>
            documents.UploadChunksAsync(w.Alice, document.DocumentId, [(2, document.Chunks[0])]));

        Assert.Equal(StatusCode.InvalidArgument, refused.StatusCode);
        Assert.Contains("the document has 2 chunks", refused.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(DocumentStatus.Sealed, (await documents.SealAsync(w.Alice, document)).Status);
    }

    [Fact]
    public async Task UploadChunks_ByAnotherMember_PermissionDeniedAndNothingStored()
    {
        var (w, channels, documents, channelId, document) = await SceneAsync(100);
        await documents.BeginAsync(w.Alice, channelId, document);

        var status = await DocumentDriver.StatusOfAsync(() => documents.UploadAsync(w.Bob, document));

        Assert.Equal(StatusCode.PermissionDenied, status);
        Assert.Equal(0, (await documents.GetAsync(w.Alice, document.DocumentId)).ChunksHeld);
    }

    [Fact]
    public async Task Seal_WrongHash_FailedPreconditionAndNothingSealed()
    {
        var (w, channels, documents, channelId, document) = await SceneAsync(3000);
        await documents.BeginAsync(w.Alice, channelId, document);
        await documents.UploadAsync(w.Alice, document);
        var wrong = document.Hash;
        wrong[0] ^= 1;

        var status = await DocumentDriver.StatusOfAsync(() => documents.SealAsync(w.Alice, document, wrong));
        var after = await documents.GetAsync(w.Alice, document.DocumentId);
        var retried = await documents.SealAsync(w.Alice, document);

        Assert.Equal(StatusCode.FailedPrecondition, status);
        Assert.Equal(DocumentStatus.Uploading, after.Status);
        Assert.True(after.CiphertextHash.IsEmpty);
        Assert.Equal(DocumentStatus.Sealed, retried.Status);
        Assert.Equal(retried, await documents.SealAsync(w.Alice, document));
    }

    [Fact]
    public async Task Seal_ChunksMissing_FailedPreconditionNamingChunksHeld()
    {
        var (w, channels, documents, channelId, document) = await SceneAsync(3 * DocumentCipher.DefaultChunkSize);
        await documents.BeginAsync(w.Alice, channelId, document);
        await documents.UploadAsync(w.Alice, document, count: 2);

        var refused = await Assert.ThrowsAsync<RpcException>(() => documents.SealAsync(w.Alice, document));

        Assert.Equal(StatusCode.FailedPrecondition, refused.StatusCode);
        Assert.Contains("chunks_held is 2 of chunk_count 3", refused.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(DocumentStatus.Uploading, (await documents.GetAsync(w.Alice, document.DocumentId)).Status);
    }

    [Fact]
    public async Task Seal_AfterTheRunningHashWasLost_RecomputesFromStorage()
    {
        var (w, channels, documents, channelId, document) = await SceneAsync(3 * DocumentCipher.DefaultChunkSize);
        await documents.BeginAsync(w.Alice, channelId, document);
        await documents.UploadAsync(w.Alice, document);
        // As after a restart, or when another replica received the chunks.
        await server.Services.GetRequiredService<Server.Documents.UploadHashes>().ForgetAsync(document.DocumentId, Ct);

        var sealedDocument = await documents.SealAsync(w.Alice, document);

        Assert.Equal(document.Hash, sealedDocument.CiphertextHash.ToByteArray());
    }

    [Fact]
    public async Task BeginUpload_SameRequestAgain_ReturnsTheDocumentAndADifferentOneIsAlreadyExists()
    {
        var (w, channels, documents, channelId, document) = await SceneAsync(200_000);
        await documents.BeginAsync(w.Alice, channelId, document);
        await documents.UploadAsync(w.Alice, document, count: 1);

        var again = await documents.BeginAsync(w.Alice, channelId, document);
        var other = await DocumentDriver.StatusOfAsync(() => documents.BeginAsync(w.Alice, channelId, document, document.Ciphertext.Length + 16));

        Assert.Equal(1, again.ChunksHeld);
        Assert.Equal(StatusCode.AlreadyExists, other);
    }

    [Fact]
    public async Task BeginUpload_LengthNoPlaintextHas_InvalidArgumentOnCiphertextLength()
    {
        var (w, channels, documents, channelId, document) = await SceneAsync(10);

        var refused = await Assert.ThrowsAsync<RpcException>(() => documents.BeginAsync(w.Alice, channelId, document, DocumentCipher.HeaderBytes + 15));

        Assert.Equal(StatusCode.InvalidArgument, refused.StatusCode);
        Assert.Contains("ciphertext_length", refused.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(StatusCode.NotFound, await DocumentDriver.StatusOfAsync(() => documents.GetAsync(w.Alice, document.DocumentId)));
    }

    [Fact]
    public async Task RoundTrip_LargestChunkSize_FitsTheDefaultMessageLimits()
    {
        var (w, _, documents, channelId, _) = await SceneAsync(0);
        var document = await EncryptedDocument.CreateAsync((2 * DocumentCipher.MaxChunkSize) + 3, DocumentCipher.MaxChunkSize);

        await documents.PutAsync(w.Alice, channelId, document);

        Assert.Equal(document.Ciphertext, await documents.DownloadAsync(w.Alice, document.DocumentId));
    }

    [Fact]
    public async Task BeginUpload_NonMember_PermissionDenied()
    {
        var (w, channels, documents, channelId, document) = await SceneAsync(10);

        Assert.Equal(StatusCode.PermissionDenied, await DocumentDriver.StatusOfAsync(() => documents.BeginAsync(w.Carol, channelId, document)));
    }

    [Fact]
    public async Task Download_NonMember_PermissionDeniedAndAuditedWithActorAndDevice()
    {
        var (w, channels, documents, channelId, document) = await SceneAsync(1000);
        await documents.PutAsync(w.Alice, channelId, document);
        await channels.SendTextAsync(w.Alice, channelId, "attached", [document.DocumentId]);
        var store = server.Services.GetRequiredService<PostgresEventStore>();
        var before = (await store.ReadAuditAsync(0, int.MaxValue, Ct)).Count;

        var status = await DocumentDriver.StatusOfAsync(() => documents.DownloadAsync(w.Carol, document.DocumentId));
        var download = await DocumentDriver.StatusOfAsync(async () =>
        {
            using var call = documents.Documents.DownloadDocument(new DownloadDocumentRequest { DocumentId = document.DocumentId.ToString() }, w.Carol.Headers,
                cancellationToken: Ct);
            await call.ResponseStream.MoveNext(Ct);
        });

        var denied = (await store.ReadAuditAsync(0, int.MaxValue, Ct)).Skip(before).Select(e => e.Entry)
            .Where(e => e.Outcome == AuditOutcome.Denied && e.Target == document.DocumentId.ToString()).ToList();
        Assert.Equal(StatusCode.PermissionDenied, status);
        Assert.Equal(StatusCode.PermissionDenied, download);
        var entry = Assert.Single(denied, e => e.Action.EndsWith("/DownloadDocument", StringComparison.Ordinal));
        Assert.Equal(w.Carol.UserId, entry.ActorUserId);
        Assert.Equal(w.Carol.Device.DeviceId, entry.ActorDeviceId);
    }

    [Fact]
    public async Task Download_MemberBeforeAnyMessageCarriesIt_PermissionDeniedThenAllowedOnceSent()
    {
        var (w, channels, documents, channelId, document) = await SceneAsync(1000);
        await documents.PutAsync(w.Alice, channelId, document);

        var before = await DocumentDriver.StatusOfAsync(() => documents.DownloadAsync(w.Bob, document.DocumentId));
        await channels.SendTextAsync(w.Alice, channelId, "attached", [document.DocumentId]);

        Assert.Equal(StatusCode.PermissionDenied, before);
        Assert.Equal(document.Ciphertext, await documents.DownloadAsync(w.Bob, document.DocumentId));
        var listed = await documents.Documents.ListDocumentsAsync(new ListDocumentsRequest { ChannelId = channelId.ToString() }, w.Bob.Headers,
            cancellationToken: Ct);
        Assert.Contains(listed.Documents, d => d.DocumentId == document.DocumentId.ToString());
    }

    [Fact]
    public async Task ListDocuments_Member_SeesCarriedDocumentsAndTheirOwnUploadsNewestFirst()
    {
        var (w, channels, documents, channelId, unsent) = await SceneAsync(10);
        var carried = await EncryptedDocument.CreateAsync(20);
        var bobsOwn = await EncryptedDocument.CreateAsync(30);
        await documents.BeginAsync(w.Alice, channelId, unsent);
        await documents.PutAsync(w.Alice, channelId, carried);
        await documents.PutAsync(w.Bob, channelId, bobsOwn);
        await channels.SendTextAsync(w.Alice, channelId, "attached", [carried.DocumentId]);
        var request = new ListDocumentsRequest { ChannelId = channelId.ToString() };

        var alices = await documents.Documents.ListDocumentsAsync(request, w.Alice.Headers, cancellationToken: Ct);
        var bobs = await documents.Documents.ListDocumentsAsync(request, w.Bob.Headers, cancellationToken: Ct);
        var carol = await DocumentDriver.StatusOfAsync(() => documents.Documents.ListDocumentsAsync(request, w.Carol.Headers, cancellationToken: Ct).ResponseAsync);

        Assert.Equal([carried.DocumentId.ToString(), unsent.DocumentId.ToString()], alices.Documents.Select(d => d.DocumentId));
        Assert.Equal([DocumentStatus.Sealed, DocumentStatus.Uploading], alices.Documents.Select(d => d.Status));
        Assert.Equal([bobsOwn.DocumentId.ToString(), carried.DocumentId.ToString()], bobs.Documents.Select(d => d.DocumentId));
        Assert.Equal(StatusCode.PermissionDenied, carol);
    }

    [Fact]
    public async Task Download_Unsealed_FailedPrecondition()
    {
        var (w, channels, documents, channelId, document) = await SceneAsync(1000);
        await documents.BeginAsync(w.Alice, channelId, document);
        await documents.UploadAsync(w.Alice, document);

        Assert.Equal(StatusCode.FailedPrecondition, await DocumentDriver.StatusOfAsync(() => documents.DownloadAsync(w.Alice, document.DocumentId)));
    }

    [Fact]
    public async Task SendMessage_UnsealedDocument_FailedPreconditionAndNothingStored()
    {
        var (w, channels, documents, channelId, document) = await SceneAsync(1000);
        await documents.BeginAsync(w.Alice, channelId, document);
        await documents.UploadAsync(w.Alice, document);

        var refused = await Assert.ThrowsAsync<RpcException>(() => channels.SendTextAsync(w.Alice, channelId, "attached", [document.DocumentId]));

        Assert.Equal(StatusCode.FailedPrecondition, refused.StatusCode);
        Assert.Contains("not sealed", refused.Status.Detail, StringComparison.Ordinal);
        Assert.Empty(await channels.HistoryAsync(w.Alice, channelId));
    }

    [Fact]
    public async Task SendMessage_AnotherUsersDocument_NotFoundAndNothingStored()
    {
        var (w, channels, documents, channelId, document) = await SceneAsync(1000);
        await documents.PutAsync(w.Alice, channelId, document);

        var status = await DocumentDriver.StatusOfAsync(() => channels.SendTextAsync(w.Bob, channelId, "not mine", [document.DocumentId]));
        var unknown = await DocumentDriver.StatusOfAsync(() => channels.SendTextAsync(w.Alice, channelId, "unknown", [Guid.CreateVersion7()]));

        Assert.Equal(StatusCode.NotFound, status);
        Assert.Equal(StatusCode.NotFound, unknown);
        Assert.Empty(await channels.HistoryAsync(w.Alice, channelId));
    }

    [Fact]
    public async Task SendMessage_DocumentOfAnotherChannel_FailedPrecondition()
    {
        var (w, channels, documents) = await WorldAsync();
        var channelId = await ChannelAsync(w, channels);
        var otherChannelId = await ChannelAsync(w, channels);
        var document = await EncryptedDocument.CreateAsync(1000);
        await documents.PutAsync(w.Alice, otherChannelId, document);

        var refused = await Assert.ThrowsAsync<RpcException>(() => channels.SendTextAsync(w.Alice, channelId, "wrong channel", [document.DocumentId]));

        Assert.Equal(StatusCode.FailedPrecondition, refused.StatusCode);
        Assert.Contains("another channel", refused.Status.Detail, StringComparison.Ordinal);
    }

    /// <summary>
    /// The server serves what it stores; it does not re-hash on download (that would cost a full
    /// read before the first byte). The client checks the signed ciphertext hash and the cipher's
    /// tags, so a tampered chunk fails the download on the client (end to end in the client tests).
    /// </summary>
    [Fact]
    public async Task Download_ChunkTamperedInStorage_ServedAsStoredAndTheCipherRejectsIt()
    {
        var (w, channels, documents, channelId, document) = await SceneAsync(3 * DocumentCipher.DefaultChunkSize);
        var sealedDocument = await documents.PutAsync(w.Alice, channelId, document);
        var schema = server.Services.GetRequiredService<PostgresEventStore>().Schema;
        await using (var tamper = server.Database.DataSource.CreateCommand(
            $"update {schema}.document_chunks set data = set_byte(data, 10, get_byte(data, 10) # 255) where document_id = $1 and index = 1"))
        {
            tamper.Parameters.Add(new NpgsqlParameter { Value = document.DocumentId });
            Assert.Equal(1, await tamper.ExecuteNonQueryAsync(Ct));
        }

        var downloaded = await documents.DownloadAsync(w.Alice, document.DocumentId);

        Assert.Equal(document.Ciphertext.Length, downloaded.Length);
        Assert.NotEqual(sealedDocument.CiphertextHash.ToByteArray(), Blake2b256.Hash(downloaded));
        await Assert.ThrowsAsync<DocumentChunkTamperedException>(() => document.DecryptAsync(downloaded));
    }

    [Fact]
    public async Task Download_ChunkMissingFromStorage_EndsWithFailedPreconditionNotAsComplete()
    {
        var (w, _, documents, channelId, document) = await SceneAsync(3 * DocumentCipher.DefaultChunkSize);
        await documents.PutAsync(w.Alice, channelId, document);
        var schema = server.Services.GetRequiredService<PostgresEventStore>().Schema;
        await using (var delete = server.Database.DataSource.CreateCommand($"delete from {schema}.document_chunks where document_id = $1 and index = 2"))
        {
            delete.Parameters.Add(new NpgsqlParameter { Value = document.DocumentId });
            await delete.ExecuteNonQueryAsync(Ct);
        }

        Assert.Equal(StatusCode.FailedPrecondition, await DocumentDriver.StatusOfAsync(() => documents.DownloadAsync(w.Alice, document.DocumentId)));
    }

    private static async Task WaitForAsync(Func<Task<bool>> condition)
    {
        for (var i = 0; i < 100 && !await condition(); i++)
        {
            await Task.Delay(50, Ct);
        }
    }

    public void Dispose() => _driver.Dispose();
}
