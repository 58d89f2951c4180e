using System.Runtime.CompilerServices;
using GlobeSecure.Contracts.V1;
using GlobeSecure.Crypto;
using Google.Protobuf;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;

namespace GlobeSecure.Client.Tests.Story;

/// <summary>
/// Encrypted documents end to end through <see cref="GlobeClient"/>, a real gRPC channel, the real
/// server and PostgreSQL: Otieno (Kenya) uploads and attaches, Ana (Brazil) opens the message and
/// downloads; the bytes that arrive are the bytes that left.
/// </summary>
public sealed class DocumentStoryTests(StoryServerFixture server) : IClassFixture<StoryServerFixture>, IDisposable
{
    private static readonly ConditionalWeakTable<StoryServerFixture, Task<CaseCast>> Casts = new();
    private readonly DocumentFiles _files = new();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private Task<CaseCast> CastAsync() => Casts.GetValue(server, CaseCast.CreateAsync);

    public void Dispose() => _files.Dispose();

    /// <summary>Otieno writes a file of random bytes, uploads it to a new channel shared with Brazil, and sends it with a text.</summary>
    private async Task<Attached> AttachAsync(CaseCast c, string title, string fileName, int size, string text, IProgress<TransferProgress>? progress = null)
    {
        var channelId = await c.SharedChannelAsync(title);
        var original = _files.Random(fileName, size, seed: size);
        var attachment = await c.Otieno.Client.UploadDocumentAsync(channelId, original, progress: progress, cancellationToken: Ct);
        var sent = await c.Otieno.Client.SendTextAsync(channelId, text, new SendOptions(Attachments: [attachment]), Ct);
        return new Attached(channelId, original, attachment, sent);
    }

    private sealed record Attached(Guid ChannelId, string Original, DocumentAttachment Attachment, StoredMessage Sent);

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(65_536)]
    [InlineData(65_537)]
    public async Task RoundTrip_SizeAroundTheChunkBoundary_OtherAuthorityDownloadsIdenticalBytes(int size)
    {
        var c = await CastAsync();

        var (channelId, original, attachment, sent) = await AttachAsync(c, $"Case 2026-2{size % 100:D2}", $"ledger-{size}.pdf", size, "The ledger, as seized.");
        var opened = await c.Ana.Client.OpenAsync(await c.Ana.Client.GetMessageAsync(channelId, Guid.Parse(sent.Envelope.Header.MessageId), Ct), Ct);
        var received = opened.Attachments.Single();
        var target = _files.PathFor($"downloaded-{size}.pdf");
        var downloaded = await c.Ana.Client.DownloadDocumentAsync(received, target, cancellationToken: Ct);

        Assert.Equal(await File.ReadAllBytesAsync(original, Ct), await File.ReadAllBytesAsync(target, Ct));
        Assert.Equal(("The ledger, as seized.", GlobeClient.MessageContentType), (opened.Text, opened.ContentType));
        Assert.Equal([attachment.DocumentId], opened.DocumentIds);
        Assert.Equal((attachment.DocumentId, $"ledger-{size}.pdf", "application/pdf", (long)size),
            (received.DocumentId, received.FileName, received.MediaType, received.PlaintextLength));
        Assert.Equal(attachment.PlaintextHash, received.PlaintextHash);
        Assert.Equal(Blake2b256.Hash(await File.ReadAllBytesAsync(original, Ct)), downloaded.PlaintextHash);
        Assert.Equal((long)size, downloaded.Length);
    }

    [Fact]
    public async Task RoundTrip_64MiBDocument_IdenticalBytesAndProgressToTheEnd()
    {
        const int size = 64 * 1024 * 1024;
        var c = await CastAsync();
        var uploadProgress = new ProgressLog();
        var downloadProgress = new ProgressLog();

        var (_, original, _, sent) = await AttachAsync(c, "Case 2026-250: bank statements", "statements.zip", size, "", uploadProgress);
        var opened = await c.Ana.Client.OpenAsync(sent, Ct);
        var target = _files.PathFor("statements-received.zip");
        await c.Ana.Client.DownloadDocumentAsync(opened.Attachments[0], target, downloadProgress, cancellationToken: Ct);

        TestContext.Current.TestOutputHelper?.WriteLine(
            $"64 MiB: upload {uploadProgress.Last.BytesPerSecond / (1 << 20):0} MiB/s, download {downloadProgress.Last.BytesPerSecond / (1 << 20):0} MiB/s");
        Assert.Equal(DocumentFiles.Hash(original), DocumentFiles.Hash(target));
        Assert.Equal(size, new FileInfo(target).Length);
        Assert.Equal("", opened.Text);
        Assert.Equal((size, size), (uploadProgress.Last.Bytes, uploadProgress.Last.Total));
        Assert.Equal((size, size), (downloadProgress.Last.Bytes, downloadProgress.Last.Total));
        Assert.True(uploadProgress.Last.BytesPerSecond > 0);
        Assert.Equal(TimeSpan.Zero, downloadProgress.Last.Remaining);
    }

    [Fact]
    public async Task Upload_CallDroppedMidway_ResumesFromTheChunksHeldAndCompletes()
    {
        var c = await CastAsync();
        var progress = new ProgressLog();
        server.Forge.AbortUploadAfter(40);

        var (_, original, attachment, sent) = await AttachAsync(c, "Case 2026-251", "call-records.csv", 80 * 65_536 + 123, "Call records.", progress);
        var target = _files.PathFor("call-records-received.csv");
        await c.Ana.Client.DownloadDocumentAsync((await c.Ana.Client.OpenAsync(sent, Ct)).Attachments[0], target, cancellationToken: Ct);

        var calls = server.Forge.UploadCalls.Where(u => u.DocumentId == attachment.DocumentId).ToList();
        Assert.Equal(2, calls.Count);
        Assert.Equal(0, calls[0].FirstIndex);
        Assert.InRange(calls[1].FirstIndex, 1, 40); // what the server had committed, not the start again
        Assert.Equal(1, progress.Last.Resumes);
        Assert.Equal(DocumentFiles.Hash(original), DocumentFiles.Hash(target));
    }

    [Fact]
    public async Task Download_CallDroppedMidway_ResumesFromTheNextChunkAndVerifies()
    {
        var c = await CastAsync();
        var (_, original, attachment, sent) = await AttachAsync(c, "Case 2026-255", "wiretap.wav", 48 * 65_536 + 5, "Recording.");
        var received = (await c.Ana.Client.OpenAsync(sent, Ct)).Attachments[0];
        var progress = new ProgressLog();
        server.Forge.AbortDownloadAfter(20);

        var target = _files.PathFor("wiretap-received.wav");
        await c.Ana.Client.DownloadDocumentAsync(received, target, progress, cancellationToken: Ct);

        var calls = server.Forge.DownloadCalls.Where(d => d.DocumentId == attachment.DocumentId).ToList();
        Assert.Equal(2, calls.Count);
        Assert.Equal(0, calls[0].FromChunk);
        Assert.InRange(calls[1].FromChunk, 1, 20); // the next chunk the client lacked, not the start again
        Assert.Equal(1, progress.Last.Resumes);
        Assert.Equal(DocumentFiles.Hash(original), DocumentFiles.Hash(target));
    }

    [Fact]
    public async Task Upload_NonSeekableInputBrokenAfterChunksWereLost_FailsSayingItCannotResume()
    {
        var c = await CastAsync();
        var channelId = await c.SharedChannelAsync("Case 2026-256");
        await using var pipe = new NonSeekableStream(new byte[40 * 65_536]);
        server.Forge.AbortUploadAfter(20);

        var refused = await Assert.ThrowsAsync<GlobeClientException>(() =>
            c.Otieno.Client.UploadDocumentAsync(channelId, pipe, "stream.bin", length: 40 * 65_536, cancellationToken: Ct));

        Assert.Equal(StatusCode.FailedPrecondition, refused.Status);
        Assert.Contains("not seekable", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Open_BodyNamesADocumentItsSignedHeaderDoesNot_RefusedAsUntrusted()
    {
        var c = await CastAsync();
        var channelId = await c.SharedChannelAsync("Case 2026-257");
        var body = new MessageContent { Text = "Look at this." };
        body.Documents.Add(new DocumentAttachment(Guid.CreateVersion7(), new byte[32], new byte[32], new byte[32], 1, "x.pdf", "application/pdf").ToProto());
        var sent = await c.Otieno.Client.SendAsync(channelId, body.ToByteArray(), new SendOptions(ContentType: GlobeClient.MessageContentType), Ct);

        var refused = await Assert.ThrowsAsync<GlobeTrustException>(() => c.Ana.Client.OpenAsync(sent, Ct));

        Assert.Contains("do not name the documents its signed header lists", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Download_TargetExists_RefusedUnlessOverwriteThenReplacedOnlyWhenVerified()
    {
        var c = await CastAsync();
        var (_, original, _, sent) = await AttachAsync(c, "Case 2026-258", "memo.txt", 5000, "Memo.");
        var received = (await c.Ana.Client.OpenAsync(sent, Ct)).Attachments[0];
        var target = _files.PathFor("memo-received.txt");
        await File.WriteAllTextAsync(target, "Ana's own notes.", Ct);

        var refused = await Assert.ThrowsAsync<IOException>(() => c.Ana.Client.DownloadDocumentAsync(received, target, cancellationToken: Ct));
        var kept = await File.ReadAllTextAsync(target, Ct);
        await c.Ana.Client.DownloadDocumentAsync(received, target, overwrite: true, cancellationToken: Ct);

        Assert.Equal("Ana's own notes.", kept);
        Assert.DoesNotContain("memo", refused.Message, StringComparison.OrdinalIgnoreCase); // ids only: the name is the sender's secret
        Assert.Equal(DocumentFiles.Hash(original), DocumentFiles.Hash(target));
    }

    [Fact]
    public async Task Download_ChunkTamperedInStorage_FailsClearlyAndLeavesNoFile()
    {
        var c = await CastAsync();
        var (_, _, attachment, sent) = await AttachAsync(c, "Case 2026-252", "contract.pdf", 3 * 65_536, "The contract.");
        await server.Database.ExecuteScalarAsync(
            $"update globe.document_chunks set data = set_byte(data, 100, get_byte(data, 100) # 1) where document_id = '{attachment.DocumentId}' and index = 1");
        var received = (await c.Ana.Client.OpenAsync(sent, Ct)).Attachments[0];
        var target = _files.PathFor("contract-received.pdf");

        var refused = await Assert.ThrowsAsync<GlobeTrustException>(() => c.Ana.Client.DownloadDocumentAsync(received, target, cancellationToken: Ct));

        var tampered = Assert.IsType<DocumentChunkTamperedException>(refused.InnerException);
        Assert.Equal(1, tampered.Position);
        Assert.Contains(attachment.DocumentId.ToString(), refused.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(target));
        Assert.Empty(Directory.GetFiles(Path.GetDirectoryName(target)!, "*contract-received*"));
    }

    [Fact]
    public async Task Download_ServerStatesAnotherCiphertextHash_RefusedBeforeAnyChunkIsFetched()
    {
        var c = await CastAsync();
        var (_, _, attachment, sent) = await AttachAsync(c, "Case 2026-259", "invoice.pdf", 70_000, "Invoice.");
        var received = (await c.Ana.Client.OpenAsync(sent, Ct)).Attachments[0];
        await server.Database.ExecuteScalarAsync(
            $"update globe.documents set ciphertext_hash = '\\x{new string('0', 64)}' where document_id = '{attachment.DocumentId}'");
        var target = _files.PathFor("invoice-received.pdf");

        var refused = await Assert.ThrowsAsync<GlobeTrustException>(() => c.Ana.Client.DownloadDocumentAsync(received, target, cancellationToken: Ct));

        Assert.Contains("another ciphertext hash than the one its message signed", refused.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(server.Forge.DownloadCalls, d => d.DocumentId == attachment.DocumentId);
        Assert.False(File.Exists(target));
    }

    [Fact]
    public async Task Download_NonMember_PermissionDeniedAuditedAndNoFile()
    {
        var c = await CastAsync();
        var kenyaOnly = Guid.Parse((await c.Otieno.Client.CreateChannelAsync("Case 2026-253: Kenya only", cancellationToken: Ct)).ChannelId);
        var original = _files.Random("witness.txt", 1000, seed: 253);
        var attachment = await c.Otieno.Client.UploadDocumentAsync(kenyaOnly, original, cancellationToken: Ct);
        await c.Otieno.Client.SendTextAsync(kenyaOnly, "Witness statement.", new SendOptions(Attachments: [attachment]), Ct);
        var target = _files.PathFor("witness-leaked.txt");

        var refused = await Assert.ThrowsAsync<GlobeClientException>(() =>
            c.Ana.Client.DownloadDocumentAsync(attachment, target, cancellationToken: Ct));
        var denials = await server.Database.ExecuteScalarAsync(
            $"select count(*) from globe.audit where action like '/globesecure.v1.DocumentService/%' and target = '{attachment.DocumentId}' and outcome = 'denied' and actor_device_id = '{c.Ana.DeviceId}'");

        Assert.Equal(StatusCode.PermissionDenied, refused.Status);
        Assert.True((long)denials! >= 1);
        Assert.False(File.Exists(target));
        Assert.Equal(DocumentFiles.Hash(original),
            DocumentFiles.Hash((await c.Wanjiru.Client.DownloadDocumentAsync(attachment, _files.PathFor("witness-kenya.txt"), cancellationToken: Ct)).Path));
    }

    [Fact]
    public async Task Send_TwoAttachments_HeaderListsThemInOrderAndListDocumentsShowsThem()
    {
        var c = await CastAsync();
        var channelId = await c.SharedChannelAsync("Case 2026-254");
        var first = await c.Otieno.Client.UploadDocumentAsync(channelId, _files.Random("a.bin", 10, 1), cancellationToken: Ct);
        await using var stream = new NonSeekableStream(new byte[70_000]);
        var second = await c.Otieno.Client.UploadDocumentAsync(channelId, stream, "b.bin", length: 70_000, cancellationToken: Ct);

        var sent = await c.Otieno.Client.SendTextAsync(channelId, "Two files.", new SendOptions(Attachments: [second, first]), Ct);
        var opened = await c.Ana.Client.OpenAsync(sent, Ct);
        var listed = await c.Ana.Client.ListDocumentsAsync(channelId, Ct);

        Assert.Equal([second.DocumentId, first.DocumentId], opened.DocumentIds);
        Assert.Equal(["b.bin", "a.bin"], opened.Attachments.Select(a => a.FileName));
        Assert.Equal(new[] { first.DocumentId.ToString(), second.DocumentId.ToString() }.Order(), listed.Select(d => d.DocumentId).Order());
        Assert.All(listed, d => Assert.Equal(DocumentStatus.Sealed, d.Status));
        Assert.All(listed, d => Assert.Contains(sent.Envelope.Header.MessageId, d.MessageIds));
    }
}

/// <summary>A server whose document limits are small: 1 MiB per document, 2 MiB per authority.</summary>
public sealed class DocumentLimitsFixture : StoryServerFixture
{
    public const long MaxDocumentBytes = 1024 * 1024;
    public const long AuthorityQuotaBytes = 2 * 1024 * 1024;

    protected override void ConfigureDocuments(WebApplicationBuilder builder)
    {
        builder.Configuration["Globe:Documents:MaxDocumentBytes"] = MaxDocumentBytes.ToString(System.Globalization.CultureInfo.InvariantCulture);
        builder.Configuration["Globe:Documents:AuthorityQuotaBytes"] = AuthorityQuotaBytes.ToString(System.Globalization.CultureInfo.InvariantCulture);
    }
}

/// <summary>Size and quota limits: refused at BeginUpload, before the client reads (let alone sends) a byte.</summary>
public sealed class DocumentLimitStoryTests(DocumentLimitsFixture server) : IClassFixture<DocumentLimitsFixture>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Upload_LargerThanTheMaximum_ResourceExhaustedNamingTheLimitBeforeAnyChunk()
    {
        var c = await CaseCast.CreateAsync(server);
        var channelId = await c.SharedChannelAsync("Case 2026-260");
        await using var content = new NonSeekableStream(new byte[16]);

        var refused = await Assert.ThrowsAsync<GlobeClientException>(() =>
            c.Ana.Client.UploadDocumentAsync(channelId, content, "disk-image.raw", length: 2 * DocumentLimitsFixture.MaxDocumentBytes, cancellationToken: Ct));

        Assert.Equal(StatusCode.ResourceExhausted, refused.Status);
        Assert.Contains(DocumentLimitsFixture.MaxDocumentBytes.ToString(System.Globalization.CultureInfo.InvariantCulture), refused.Message, StringComparison.Ordinal);
        Assert.Equal(0, content.Reads);
        Assert.Empty(await c.Ana.Client.ListDocumentsAsync(channelId, Ct));

        // The same authority's quota: two documents fit, the third does not, and nothing of it is read.
        var fits = new byte[900 * 1024];
        await c.Otieno.Client.UploadDocumentAsync(channelId, new MemoryStream(fits), "one.bin", cancellationToken: Ct);
        await c.Wanjiru.Client.UploadDocumentAsync(channelId, new MemoryStream(fits), "two.bin", cancellationToken: Ct);
        await using var third = new NonSeekableStream(fits);
        var overQuota = await Assert.ThrowsAsync<GlobeClientException>(() =>
            c.Otieno.Client.UploadDocumentAsync(channelId, third, "three.bin", length: fits.Length, cancellationToken: Ct));

        Assert.Equal(StatusCode.ResourceExhausted, overQuota.Status);
        Assert.Contains(DocumentLimitsFixture.AuthorityQuotaBytes.ToString(System.Globalization.CultureInfo.InvariantCulture), overQuota.Message, StringComparison.Ordinal);
        Assert.Equal(0, third.Reads);
        Assert.Equal(2, (await c.Otieno.Client.ListDocumentsAsync(channelId, Ct)).Count + (await c.Wanjiru.Client.ListDocumentsAsync(channelId, Ct)).Count);
    }
}

/// <summary>Files of one test, in a directory deleted afterwards.</summary>
internal sealed class DocumentFiles : IDisposable
{
    private readonly DirectoryInfo _directory = Directory.CreateTempSubdirectory("globe-documents-");

    public string PathFor(string name) => Path.Combine(_directory.FullName, name);

    /// <summary>A file of pseudo-random bytes, written a megabyte at a time.</summary>
    public string Random(string name, long size, int seed)
    {
        var path = PathFor(name);
        var random = new Random(seed);
        var buffer = new byte[1024 * 1024];
        using var file = File.Create(path);
        for (var left = size; left > 0; left -= buffer.Length)
        {
            random.NextBytes(buffer);
            file.Write(buffer, 0, (int)Math.Min(left, buffer.Length));
        }

        return path;
    }

    public static string Hash(string path)
    {
        using var hash = new Blake2b256();
        using var file = File.OpenRead(path);
        var buffer = new byte[1024 * 1024];
        int read;
        while ((read = file.Read(buffer)) > 0)
        {
            hash.Append(buffer.AsSpan(0, read));
        }

        return Convert.ToHexStringLower(hash.Finish());
    }

    public void Dispose() => _directory.Delete(recursive: true);
}

/// <summary>Every progress report, in order.</summary>
internal sealed class ProgressLog : IProgress<TransferProgress>
{
    private readonly List<TransferProgress> _reports = [];

    public TransferProgress Last => _reports[^1];

    public void Report(TransferProgress value) => _reports.Add(value);
}

/// <summary>A stream that cannot seek (a pipe, say), counting the reads made of it.</summary>
internal sealed class NonSeekableStream(byte[] data) : Stream
{
    private readonly MemoryStream _inner = new(data);

    public int Reads { get; private set; }

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count)
    {
        Reads++;
        return _inner.Read(buffer, offset, count);
    }

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        Reads++;
        return _inner.ReadAsync(buffer, cancellationToken);
    }

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
