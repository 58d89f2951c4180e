using System.Security.Cryptography;
using GlobeSecure.Contracts.V1;
using GlobeSecure.Crypto;
using GlobeSecure.Server.Tests.Channels;
using GlobeSecure.Server.Tests.Identity;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace GlobeSecure.Server.Tests.Documents;

/// <summary>The channel world with document limits that tests can reach; fresh authorities for tests that count quota.</summary>
public class DocumentFixture : ChannelFixture
{
    public const long MaxDocumentBytes = 80L * 1024 * 1024;
    public const long QuotaBytes = 1024L * 1024 * 1024;

    public static readonly TimeSpan UploadExpiry = TimeSpan.FromHours(1);
    public const int RetentionDays = 30;

    protected override void Configure(WebApplicationBuilder builder)
    {
        base.Configure(builder);
        builder.Configuration["Globe:Documents:MaxDocumentBytes"] = MaxDocumentBytes.ToString(System.Globalization.CultureInfo.InvariantCulture);
        builder.Configuration["Globe:Documents:AuthorityQuotaBytes"] = QuotaBytes.ToString(System.Globalization.CultureInfo.InvariantCulture);
        builder.Configuration["Globe:Documents:UploadExpiry"] = UploadExpiry.ToString();
        builder.Configuration["Globe:Documents:RetentionDays"] = RetentionDays.ToString(System.Globalization.CultureInfo.InvariantCulture);
        // Tests run the cleanup pass themselves.
        builder.Configuration["Globe:Documents:CleanupInterval"] = TimeSpan.FromDays(1).ToString();
    }
}

/// <summary>A document encrypted with the real document cipher, as a client would upload it.</summary>
public sealed class EncryptedDocument(Guid documentId, byte[] plaintext, byte[] ciphertext, byte[] key, int chunkSize)
{
    public Guid DocumentId { get; } = documentId;

    public byte[] Plaintext { get; } = plaintext;

    /// <summary>The whole DocumentCipher output: header ‖ chunk 0 ‖ …</summary>
    public byte[] Ciphertext { get; } = ciphertext;

    public byte[] Key { get; } = key;

    public int ChunkSize { get; } = chunkSize;

    public byte[] Header => Ciphertext[..DocumentCipher.HeaderBytes];

    public byte[] Hash => Blake2b256.Hash(Ciphertext);

    /// <summary>The cipher chunks as the cipher wrote them: chunk_size + 16 bytes each, the last 16 to chunk_size + 16.</summary>
    public IReadOnlyList<byte[]> Chunks { get; } = Split(ciphertext, chunkSize);

    private static List<byte[]> Split(byte[] ciphertext, int chunkSize)
    {
        var chunks = new List<byte[]>();
        for (var at = DocumentCipher.HeaderBytes; at < ciphertext.Length; at += chunkSize + 16)
        {
            chunks.Add(ciphertext[at..Math.Min(ciphertext.Length, at + chunkSize + 16)]);
        }

        return chunks;
    }

    public static async Task<EncryptedDocument> CreateAsync(int plaintextLength, int chunkSize = DocumentCipher.DefaultChunkSize)
    {
        var plaintext = RandomNumberGenerator.GetBytes(plaintextLength);
        var documentId = Guid.CreateVersion7();
        using var key = DocumentKey.Generate();
        using var output = new MemoryStream();
        await DocumentCipher.EncryptAsync(new MemoryStream(plaintext), output, key, documentId, chunkSize, TestContext.Current.CancellationToken);
        return new EncryptedDocument(documentId, plaintext, output.ToArray(), key.ExportBytes(), chunkSize);
    }

    /// <summary>Decrypts downloaded ciphertext with the document's key, checking the plaintext hash, as a receiving client does.</summary>
    public async Task<byte[]> DecryptAsync(byte[] downloaded)
    {
        using var key = DocumentKey.FromBytes(Key);
        using var output = new MemoryStream();
        await DocumentCipher.DecryptAsync(new MemoryStream(downloaded), output, key, DocumentId, Blake2b256.Hash(Plaintext), TestContext.Current.CancellationToken);
        return output.ToArray();
    }
}

/// <summary>What a document client does, as intent methods over the real gRPC channel.</summary>
public sealed class DocumentDriver(GrpcChannel channel)
{
    public DocumentDriver(NetworkDriver network) : this(network.Channel)
    {
    }

    public DocumentService.DocumentServiceClient Documents { get; } = new(channel);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async Task<Document> BeginAsync(Member uploader, Guid channelId, EncryptedDocument document, long? ciphertextLength = null) =>
        await Documents.BeginUploadAsync(new BeginUploadRequest
        {
            DocumentId = document.DocumentId.ToString(),
            ChannelId = channelId.ToString(),
            Header = ByteString.CopyFrom(document.Header),
            CiphertextLength = ciphertextLength ?? document.Ciphertext.Length,
        }, uploader.Headers, cancellationToken: Ct);

    /// <summary>Streams chunks <paramref name="from"/> to the end (or <paramref name="count"/> of them) in one UploadChunks call.</summary>
    public async Task<Document> UploadAsync(Member uploader, EncryptedDocument document, long from = 0, int? count = null) =>
        await UploadChunksAsync(uploader, document.DocumentId, document.Chunks.Skip((int)from).Take(count ?? int.MaxValue).Select((c, i) => (from + i, c)));

    /// <summary>One UploadChunks call carrying exactly these (index, data) messages.</summary>
    public async Task<Document> UploadChunksAsync(Member uploader, Guid documentId, IEnumerable<(long Index, byte[] Data)> chunks)
    {
        using var call = Documents.UploadChunks(uploader.Headers, cancellationToken: Ct);
        foreach (var (index, data) in chunks)
        {
            await call.RequestStream.WriteAsync(new UploadChunkRequest { DocumentId = documentId.ToString(), Index = index, Data = ByteString.CopyFrom(data) }, Ct);
        }

        await call.RequestStream.CompleteAsync();
        return await call.ResponseAsync;
    }

    public async Task<Document> SealAsync(Member uploader, EncryptedDocument document, byte[]? hash = null) =>
        await Documents.SealDocumentAsync(new SealDocumentRequest
        {
            DocumentId = document.DocumentId.ToString(),
            CiphertextHash = ByteString.CopyFrom(hash ?? document.Hash),
        }, uploader.Headers, cancellationToken: Ct);

    /// <summary>Begin, upload every chunk, seal.</summary>
    public async Task<Document> PutAsync(Member uploader, Guid channelId, EncryptedDocument document)
    {
        await BeginAsync(uploader, channelId, document);
        await UploadAsync(uploader, document);
        return await SealAsync(uploader, document);
    }

    public async Task<Document> GetAsync(Member caller, Guid documentId) =>
        await Documents.GetDocumentAsync(new GetDocumentRequest { DocumentId = documentId.ToString() }, caller.Headers, cancellationToken: Ct);

    /// <summary>The downloaded ciphertext: the header (from GetDocument) and the chunks from <paramref name="fromChunk"/>.</summary>
    public async Task<byte[]> DownloadAsync(Member reader, Guid documentId, long fromChunk = 0)
    {
        var document = await GetAsync(reader, documentId);
        using var output = new MemoryStream();
        output.Write(document.Header.Span);
        using var call = Documents.DownloadDocument(new DownloadDocumentRequest { DocumentId = documentId.ToString(), FromChunk = fromChunk }, reader.Headers,
            cancellationToken: Ct);
        var expected = fromChunk;
        await foreach (var chunk in call.ResponseStream.ReadAllAsync(Ct))
        {
            Assert.Equal(expected++, chunk.Index);
            output.Write(chunk.Data.Span);
        }

        return output.ToArray();
    }

    /// <summary>Runs one cleanup pass on the server as of its clock.</summary>
    public static Task<(int Expired, int Deleted)> CleanupAsync(IServiceProvider services) =>
        services.GetRequiredService<Server.Documents.DocumentCleanup>().RunOnceAsync(Ct);

    public static async Task<StatusCode> StatusOfAsync(Func<Task> call) => (await Assert.ThrowsAsync<RpcException>(call)).StatusCode;
}
