using System.Buffers;
using System.Security.Cryptography;
using GlobeSecure.Contracts.V1;
using GlobeSecure.Crypto;
using Google.Protobuf;
using Grpc.Core;
using Polly;
using WireDocument = GlobeSecure.Contracts.V1.Document;

namespace GlobeSecure.Client;

/// <summary>
/// Encrypted evidence documents (docs/documents.md): the file is encrypted on this device under a
/// fresh file key while it streams to the server, the upload resumes by itself after a broken
/// connection, and a download is decrypted into a temporary file that takes the target's name
/// only once every chunk, the signed ciphertext hash and the signed plaintext hash verified.
/// Memory stays constant whatever the size.
/// </summary>
public sealed partial class GlobeClient
{
    /// <summary>The content type of a message that carries documents: its body is a <see cref="MessageContent"/>.</summary>
    public const string MessageContentType = "application/vnd.globe.message+protobuf";

    /// <summary>The media type of a document whose type is not known.</summary>
    public const string OctetStream = "application/octet-stream";

    /// <summary>Plaintext bytes per chunk this library writes: one chunk per gRPC message.</summary>
    public const int DocumentChunkSize = DocumentCipher.DefaultChunkSize;

    /// <summary>The longest file name a message may carry (AttachedDocument.file_name).</summary>
    public const int MaxFileNameLength = 255;

    private readonly ResiliencePipeline _transfers;

    /// <summary>
    /// Members of the channel: encrypts <paramref name="path"/> under a fresh file key while
    /// uploading it, resuming after broken connections, and seals it. The result goes into a
    /// message (<see cref="SendOptions.Attachments"/>): without one, nobody else can read the document.
    /// </summary>
    /// <param name="channelId">The channel whose messages may carry the document.</param>
    /// <param name="path">The file.</param>
    /// <param name="mediaType">Its MIME type; null: guessed from the extension, else application/octet-stream.</param>
    /// <param name="progress">Told the plaintext bytes sent, the rate and the time left.</param>
    /// <param name="cancellationToken">Cancels the upload (an unsealed upload expires on the server).</param>
    public async Task<DocumentAttachment> UploadDocumentAsync(Guid channelId, string path, string? mediaType = null,
        IProgress<TransferProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        await using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16,
            FileOptions.Asynchronous | FileOptions.SequentialScan);
        return await UploadDocumentAsync(channelId, file, Path.GetFileName(path), mediaType ?? MediaTypes.Guess(path), progress,
            cancellationToken: cancellationToken);
    }

    /// <summary>
    /// Members of the channel: encrypts <paramref name="content"/> (from its position to its end)
    /// under a fresh file key while uploading it, and seals it. After a broken connection the
    /// upload asks the server which chunks it holds and continues from there, re-reading and
    /// re-encrypting only from that chunk, with at most <see cref="GlobeClientOptions.TransferRetries"/>
    /// resumes and growing pauses. A stream that cannot seek cannot be re-read: its upload resumes
    /// only if nothing sent was lost, and fails otherwise (upload a file to be safe).
    /// </summary>
    /// <param name="channelId">The channel whose messages may carry the document.</param>
    /// <param name="content">The plaintext; not disposed.</param>
    /// <param name="fileName">The name the recipients see (its directories are dropped); at most 255 characters.</param>
    /// <param name="mediaType">A MIME type; null: application/octet-stream.</param>
    /// <param name="progress">Told the plaintext bytes sent, the rate and the time left.</param>
    /// <param name="length">The plaintext length: required when <paramref name="content"/> cannot seek; checked otherwise.</param>
    /// <param name="cancellationToken">Cancels the upload (an unsealed upload expires on the server).</param>
    /// <returns>What a message must carry for its readers to download and verify the document.</returns>
    /// <exception cref="GlobeClientException">
    /// The server refused (RESOURCE_EXHAUSTED for the size or the authority's quota, before any
    /// chunk is read; PERMISSION_DENIED for a non-member), or the connection broke more often than allowed.
    /// </exception>
    public async Task<DocumentAttachment> UploadDocumentAsync(Guid channelId, Stream content, string fileName, string? mediaType = null,
        IProgress<TransferProgress>? progress = null, long? length = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(content);
        if (!content.CanRead)
        {
            throw new ArgumentException("The content stream cannot be read.", nameof(content));
        }

        var name = CheckedFileName(fileName);
        var type = string.IsNullOrWhiteSpace(mediaType) ? OctetStream : mediaType.Trim();
        var start = content.CanSeek ? content.Position : 0;
        var plaintextLength = content.CanSeek ? content.Length - start
            : length ?? throw new ArgumentException("A stream that cannot seek needs its length (the server reserves it before the first byte).", nameof(length));
        if (length is { } declared && declared != plaintextLength)
        {
            throw new ArgumentException($"The stream holds {plaintextLength} bytes from its position, not {declared}.", nameof(length));
        }

        ArgumentOutOfRangeException.ThrowIfNegative(plaintextLength, nameof(length));
        var documentId = Guid.CreateVersion7();
        using var key = DocumentKey.Generate();
        using var encryptor = DocumentEncryptor.Create(key, documentId, DocumentChunkSize);
        using var upload = new Upload(this, encryptor, content, start, plaintextLength,
            new TransferMeter(progress, plaintextLength, _options.Clock));
        var begin = new BeginUploadRequest
        {
            DocumentId = documentId.ToString(),
            ChannelId = channelId.ToString(),
            Header = ByteString.CopyFrom(encryptor.Header),
            CiphertextLength = DocumentCipher.CiphertextLength(plaintextLength, DocumentChunkSize),
        };

        var held = (await TransferAsync(documentId, "upload", ct => UnaryAsync(_documents.BeginUploadAsync(begin, cancellationToken: ct)),
            upload.Meter, cancellationToken)).ChunksHeld;
        await TransferAsync(documentId, "upload", async ct =>
        {
            held = held >= 0 ? held : (await UnaryAsync(_documents.GetDocumentAsync(new GetDocumentRequest { DocumentId = documentId.ToString() },
                cancellationToken: ct))).ChunksHeld;
            try
            {
                return await upload.SendFromAsync(held, ct);
            }
            finally
            {
                held = -1; // A resume asks the server where to continue.
            }
        }, upload.Meter, cancellationToken);

        var (plaintextHash, ciphertextHash) = await upload.FinishHashesAsync();
        var sealedDocument = await TransferAsync(documentId, "upload", ct => UnaryAsync(_documents.SealDocumentAsync(new SealDocumentRequest
        {
            DocumentId = documentId.ToString(),
            CiphertextHash = ByteString.CopyFrom(ciphertextHash),
        }, cancellationToken: ct)), upload.Meter, cancellationToken);
        if (sealedDocument.Status != DocumentStatus.Sealed || !sealedDocument.CiphertextHash.Span.SequenceEqual(ciphertextHash))
        {
            throw new GlobeTrustException($"The server answered the seal of document {documentId} with status {sealedDocument.Status} and another hash: refused.");
        }

        upload.Meter.Report(plaintextLength, force: true);
        return new DocumentAttachment(documentId, key.ExportBytes(), plaintextHash, ciphertextHash, plaintextLength, name, type);
    }

    /// <summary>
    /// The uploader, and members allowed to read a message that carries the document: downloads it
    /// to <paramref name="path"/>. Chunks stream into a temporary file next to it (resuming from the
    /// next chunk after a broken connection); the ciphertext is hashed as it arrives and must have
    /// the hash the sender signed, every chunk must authenticate, and the decrypted file must have
    /// the signed plaintext hash. Only then does the temporary file take the target's name: on any
    /// failure it is deleted and nothing is left at <paramref name="path"/>.
    /// </summary>
    /// <param name="attachment">From the message that carries the document (<see cref="OpenedMessage.Attachments"/>).</param>
    /// <param name="path">The file to write.</param>
    /// <param name="progress">Told the plaintext bytes received, the rate and the time left.</param>
    /// <param name="overwrite">Replace an existing file at <paramref name="path"/> (only once the download verified).</param>
    /// <param name="cancellationToken">Cancels the download (the temporary file is deleted).</param>
    /// <exception cref="GlobeTrustException">
    /// What the server served does not verify (a chunk altered in storage, a ciphertext other than the
    /// signed one); the inner exception names the check that failed.
    /// </exception>
    /// <exception cref="GlobeClientException">The server refused (PERMISSION_DENIED, NOT_FOUND, FAILED_PRECONDITION when not sealed).</exception>
    /// <exception cref="IOException">A file exists at <paramref name="path"/> and <paramref name="overwrite"/> is false.</exception>
    /// <remarks>Errors name the document by id only: never its file name or the path, which may reveal what the message says.</remarks>
    public async Task<DownloadedDocument> DownloadDocumentAsync(DocumentAttachment attachment, string path,
        IProgress<TransferProgress>? progress = null, bool overwrite = false, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(attachment);
        ArgumentException.ThrowIfNullOrEmpty(path);
        var target = Path.GetFullPath(path);
        if (Directory.Exists(target))
        {
            throw new ArgumentException("The target path is a directory; name the file to write.", nameof(path));
        }

        if (!overwrite && File.Exists(target))
        {
            throw new IOException($"A file exists at the target path of document {attachment.DocumentId}; choose another path or allow overwriting.");
        }

        var id = attachment.DocumentId;
        var meter = new TransferMeter(progress, attachment.PlaintextLength, _options.Clock);
        var document = await TransferAsync(id, "download",
            ct => UnaryAsync(_documents.GetDocumentAsync(new GetDocumentRequest { DocumentId = id.ToString() }, cancellationToken: ct)),
            meter, cancellationToken);
        var chunkSize = CheckServedDocument(document, attachment);

        var directory = Path.GetDirectoryName(target) ?? ".";
        var temporary = Path.Combine(directory, $".{Path.GetFileName(target)}.{Guid.NewGuid():N}.partial");
        try
        {
            DocumentDecryptionResult result;
            await using (var output = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20, FileOptions.None))
            {
                using var key = DocumentKey.FromBytes(attachment.FileKey);
                await using var source = new CiphertextDownload(this, document, attachment, chunkSize, meter);
                result = await DocumentCipher.DecryptAsync(source, output, key, id, attachment.PlaintextHash, cancellationToken);
                await output.FlushAsync(cancellationToken);
                output.Flush(flushToDisk: true);
            }

            File.Move(temporary, target, overwrite);
            meter.Report(result.PlaintextLength, force: true);
            return new DownloadedDocument(id, target, result.PlaintextLength, result.PlaintextHash);
        }
        catch (GlobeCryptoException e)
        {
            TryDelete(temporary);
            throw new GlobeTrustException(
                $"Document {id} does not verify ({e.Message}); the partial download was deleted and nothing was written to the target path.", e);
        }
        catch
        {
            TryDelete(temporary);
            throw;
        }
    }

    /// <summary>The uploader, or anyone who may download it: the document's state on the server.</summary>
    public Task<WireDocument> GetDocumentAsync(Guid documentId, CancellationToken cancellationToken = default) =>
        CallAsync(_documents.GetDocumentAsync(new GetDocumentRequest { DocumentId = documentId.ToString() }, cancellationToken: cancellationToken));

    /// <summary>Members: the channel's documents that a message carries, and the caller's own uploads to it (any status), newest first.</summary>
    public async Task<IReadOnlyList<WireDocument>> ListDocumentsAsync(Guid channelId, CancellationToken cancellationToken = default) =>
        (await CallAsync(_documents.ListDocumentsAsync(new ListDocumentsRequest { ChannelId = channelId.ToString() },
            cancellationToken: cancellationToken))).Documents;

    // ---------------------------------------------------------------- helpers

    private static ResiliencePipeline TransferPipeline(GlobeClientOptions options) =>
        RetryPipeline(options, options.TransferRetries, options.TransferRetryDelay, new PredicateBuilder().Handle<BrokenTransferException>());

    /// <summary>Runs one phase of a transfer under the retry pipeline; gives up with the last broken call's error.</summary>
    private async Task<T> TransferAsync<T>(Guid documentId, string what, Func<CancellationToken, Task<T>> attempt, TransferMeter meter,
        CancellationToken cancellationToken)
    {
        var attempts = 0;
        Exception? last = null;
        try
        {
            return await _transfers.ExecuteAsync(async ct =>
            {
                if (attempts++ > 0)
                {
                    meter.Resumed();
                    NotifyRetry($"document {what}", attempts, last?.InnerException);
                }

                try
                {
                    return await attempt(ct);
                }
                catch (BrokenTransferException e)
                {
                    last = e;
                    throw;
                }
            }, cancellationToken);
        }
        catch (BrokenTransferException e)
        {
            var inner = e.InnerException is RpcException rpc ? GlobeClientException.FromRpc(rpc) : null;
            throw new GlobeClientException(inner?.Status ?? StatusCode.Unavailable, inner?.Reason,
                $"The {what} of document {documentId} broke off {attempts} time{(attempts == 1 ? "" : "s")}; giving up ({(inner?.Detail ?? e.InnerException?.Message ?? e.Message).TrimEnd('.')}).",
                innerException: e.InnerException);
        }
    }

    /// <summary>A unary call of a transfer: a connection that cannot be reached is worth another try; anything else is the answer.</summary>
    private static async Task<T> UnaryAsync<T>(AsyncUnaryCall<T> call)
    {
        using (call)
        {
            try
            {
                return await call.ResponseAsync;
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.Unavailable)
            {
                throw new BrokenTransferException(e);
            }
            catch (RpcException e)
            {
                throw GlobeClientException.FromRpc(e);
            }
        }
    }

    /// <summary>
    /// Whether a streaming call failed because the connection or the stream broke (then resume),
    /// rather than being answered. A dropped stream surfaces as INTERNAL, UNKNOWN or CANCELLED
    /// made up by this side's HTTP/2 stack (the status then carries the transport's exception); the
    /// same codes sent by the server are its answer (a server error is not retried).
    /// </summary>
    private static bool IsBroken(Exception e, CancellationToken cancellationToken) =>
        !cancellationToken.IsCancellationRequested && e switch
        {
            RpcException { StatusCode: StatusCode.Unavailable } => true,
            RpcException rpc => rpc.StatusCode is StatusCode.Internal or StatusCode.Unknown or StatusCode.Cancelled && rpc.Status.DebugException is not null,
            IOException or HttpRequestException => true,
            _ => false,
        };

    /// <summary>The bearer header of a streaming call (the interceptor handles unary calls only), and the token in it.</summary>
    private async Task<(Metadata Headers, string Token)> BearerAsync(string? rejected, CancellationToken cancellationToken)
    {
        string token;
        try
        {
            token = await _session.TokenAsync(rejected, cancellationToken);
        }
        catch (RpcException e)
        {
            throw GlobeClientException.FromRpc(e);
        }

        return (new Metadata { { "authorization", $"Bearer {token}" } }, token);
    }

    /// <summary>Checks what the server says of a document against what its message signed; returns the chunk size.</summary>
    private static int CheckServedDocument(WireDocument document, DocumentAttachment attachment)
    {
        var id = attachment.DocumentId;
        if (document.Status != DocumentStatus.Sealed)
        {
            throw new GlobeClientException(StatusCode.FailedPrecondition, null,
                $"Document {id} is {document.Status.ToString().ToLowerInvariant()}, not sealed: there is nothing to download.");
        }

        int chunkSize;
        Guid headerId;
        try
        {
            (chunkSize, headerId) = DocumentCipher.ReadHeader(document.Header.Span);
        }
        catch (GlobeCryptoException e)
        {
            throw new GlobeTrustException($"The server's header of document {id} is not a document header ({e.Message}): refused.", e);
        }

        if (headerId != id || document.DocumentId != id.ToString() || document.Header.Length != DocumentCipher.HeaderBytes)
        {
            throw new GlobeTrustException($"Asked for document {id}, the server served another document's header: refused.");
        }

        if (document.CiphertextLength != DocumentCipher.CiphertextLength(attachment.PlaintextLength, chunkSize) ||
            document.ChunkCount != DocumentCipher.ChunkCount(attachment.PlaintextLength, chunkSize))
        {
            throw new GlobeTrustException(
                $"The server holds {document.CiphertextLength} bytes of ciphertext for document {id}, but the message signed a {attachment.PlaintextLength}-byte file: refused.");
        }

        if (!document.CiphertextHash.Span.SequenceEqual(attachment.CiphertextHash))
        {
            throw new GlobeTrustException($"The server sealed document {id} with another ciphertext hash than the one its message signed: refused.");
        }

        return chunkSize;
    }

    private static string CheckedFileName(string fileName)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(fileName);
        var name = Path.GetFileName(fileName.Replace('\\', '/'));
        if (name.Length is 0 or > MaxFileNameLength || name is "." or ".." || name.Any(char.IsControl))
        {
            throw new ArgumentException($"A file name is 1 to {MaxFileNameLength} characters without directories or control characters.", nameof(fileName));
        }

        return name;
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
            // Best effort: the name says it is partial.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    /// <summary>Thrown inside a transfer when the call broke rather than being refused: the retry pipeline resumes.</summary>
    private sealed class BrokenTransferException(Exception inner) : Exception("The transfer broke off.", inner);

    /// <summary>One upload's input, cipher, running hashes and progress.</summary>
    private sealed class Upload(GlobeClient client, DocumentEncryptor encryptor, Stream content, long start, long plaintextLength,
        TransferMeter meter) : IDisposable
    {
        private readonly Blake2b256 _plaintextHash = new();
        private readonly Blake2b256 _ciphertextHash = NewCiphertextHash(encryptor);
        private readonly long _chunkCount = DocumentCipher.ChunkCount(plaintextLength, encryptor.ChunkSize);
        private readonly byte[][] _buffers = [ArrayPool<byte>.Shared.Rent(encryptor.ChunkSize), ArrayPool<byte>.Shared.Rent(encryptor.ChunkSize)];
        private Task _hashing = Task.CompletedTask;
        private long _hashed;   // chunks in both running hashes (a resume re-sends, it never re-hashes)
        private long _read;     // the next chunk the input is positioned at
        private string? _token;
        private string? _rejectedToken;

        public TransferMeter Meter { get; } = meter;

        /// <summary>Sends every chunk from <paramref name="from"/>; the server's answer when it has them all.</summary>
        public async Task<WireDocument?> SendFromAsync(long from, CancellationToken cancellationToken)
        {
            if (from >= _chunkCount)
            {
                return null;
            }

            if (from > _hashed)
            {
                throw new GlobeTrustException($"The server says it holds {from} chunks of document {encryptor.DocumentId}, more than this device sent: refused.");
            }

            Position(from);
            var chunkSize = encryptor.ChunkSize;
            var id = encryptor.DocumentId.ToString();
            (var headers, _token) = await client.BearerAsync(_rejectedToken, cancellationToken);
            using var call = client._documents.UploadChunks(headers, cancellationToken: cancellationToken);
            Meter.Report(from * chunkSize);
            for (var index = from; index < _chunkCount; index++)
            {
                var buffer = _buffers[index % 2];
                var count = (int)Math.Min(chunkSize, plaintextLength - (index * chunkSize));
                await ReadChunkAsync(buffer, count, index, cancellationToken);
                var data = new byte[count + DocumentCipher.ChunkOverheadBytes];
                encryptor.EncryptChunk(index, buffer.AsSpan(0, count), final: index == _chunkCount - 1, data);

                // The previous chunk's hashes finish first (order matters); this chunk's overlap the send and the next chunk's cipher.
                await _hashing;
                if (index == _hashed)
                {
                    _hashing = Task.Run(() =>
                    {
                        _plaintextHash.Append(buffer.AsSpan(0, count));
                        _ciphertextHash.Append(data);
                    }, CancellationToken.None);
                    _hashed++;
                }

                await SendAsync(call, new UploadChunkRequest { DocumentId = id, Index = index, Data = UnsafeByteOperations.UnsafeWrap(data) },
                    cancellationToken);
                Meter.Report(Math.Min(plaintextLength, (index + 1) * chunkSize));
            }

            await _hashing;
            try
            {
                await call.RequestStream.CompleteAsync();
                return await call.ResponseAsync;
            }
            catch (Exception e) when (e is not GlobeClientException)
            {
                throw await FailureAsync(call, e, cancellationToken);
            }
        }

        public async Task<(byte[] Plaintext, byte[] Ciphertext)> FinishHashesAsync()
        {
            await _hashing;
            return (_plaintextHash.Finish(), _ciphertextHash.Finish());
        }

        public void Dispose()
        {
            // A hash still running must not outlive its buffers (only after an exception; awaited otherwise).
            try
            {
                _hashing.GetAwaiter().GetResult();
            }
            catch (ObjectDisposedException)
            {
            }

            foreach (var buffer in _buffers)
            {
                CryptographicOperations.ZeroMemory(buffer);
                ArrayPool<byte>.Shared.Return(buffer);
            }

            _plaintextHash.Dispose();
            _ciphertextHash.Dispose();
        }

        private static Blake2b256 NewCiphertextHash(DocumentEncryptor encryptor)
        {
            var hash = new Blake2b256();
            hash.Append(encryptor.Header);
            return hash;
        }

        private void Position(long chunk)
        {
            if (chunk == _read)
            {
                return;
            }

            if (!content.CanSeek)
            {
                throw new GlobeClientException(StatusCode.FailedPrecondition, null,
                    $"The upload of document {encryptor.DocumentId} broke off and the server lacks chunks from {chunk} on, but the input " +
                    "cannot be read again (it is not seekable): upload it again, from a file to allow resuming.");
            }

            content.Position = start + (chunk * encryptor.ChunkSize);
            _read = chunk;
        }

        private async Task ReadChunkAsync(byte[] buffer, int count, long index, CancellationToken cancellationToken)
        {
            var got = await content.ReadAtLeastAsync(buffer.AsMemory(0, count), count, throwOnEndOfStream: false, cancellationToken);
            if (got < count)
            {
                throw new GlobeClientException(StatusCode.FailedPrecondition, null,
                    $"The input of document {encryptor.DocumentId} ended {plaintextLength - (index * encryptor.ChunkSize) - got} bytes early (it changed while uploading).");
            }

            _read = index + 1;
            if (index == _chunkCount - 1 && !content.CanSeek && await content.ReadAsync(new byte[1], cancellationToken) > 0)
            {
                throw new GlobeClientException(StatusCode.FailedPrecondition, null,
                    $"The input of document {encryptor.DocumentId} is longer than the {plaintextLength} bytes declared.");
            }
        }

        private async Task SendAsync(AsyncClientStreamingCall<UploadChunkRequest, WireDocument> call, UploadChunkRequest request,
            CancellationToken cancellationToken)
        {
            try
            {
                await call.RequestStream.WriteAsync(request, cancellationToken);
            }
            catch (Exception e) when (e is RpcException or IOException or HttpRequestException or InvalidOperationException)
            {
                throw await FailureAsync(call, e, cancellationToken);
            }
        }

        /// <summary>Why a write or the answer failed: the call's own status when it ended with one.</summary>
        private async Task<Exception> FailureAsync(AsyncClientStreamingCall<UploadChunkRequest, WireDocument> call, Exception e,
            CancellationToken cancellationToken)
        {
            if (e is not RpcException)
            {
                try
                {
                    await call.ResponseAsync.WaitAsync(TimeSpan.FromSeconds(5), CancellationToken.None);
                }
                catch (RpcException status)
                {
                    e = status;
                }
                catch (TimeoutException)
                {
                    // No status came: the write's own error stands.
                }
            }

            if (e is RpcException { StatusCode: StatusCode.Unauthenticated } && _rejectedToken is null)
            {
                _rejectedToken = _token;
                return new BrokenTransferException(e); // The session ended (a server restart): renew once and resume.
            }

            if (IsBroken(e, cancellationToken))
            {
                return new BrokenTransferException(e);
            }

            return e is RpcException rpc ? GlobeClientException.FromRpc(rpc) : e;
        }
    }

    /// <summary>
    /// The document's ciphertext as a stream (header, then chunks in order) for
    /// <see cref="DocumentCipher.DecryptAsync"/>: checks every chunk's index and size, hashes the
    /// ciphertext as it arrives, resumes from the next chunk after a broken connection, and at the
    /// end refuses a ciphertext whose hash is not the signed one before reporting its end.
    /// </summary>
    private sealed class CiphertextDownload : Stream
    {
        private readonly GlobeClient _client;
        private readonly WireDocument _document;
        private readonly DocumentAttachment _attachment;
        private readonly int _fullChunk;
        private readonly TransferMeter _meter;
        private readonly Blake2b256 _hash = new();
        private Task _hashing = Task.CompletedTask; // the last chunk's hash, overlapping its decryption
        private readonly byte[] _header;
        private int _headerSent;
        private ReadOnlyMemory<byte> _pending;
        private long _next;
        private long _plaintextBytes;
        private bool _ended;
        private AsyncServerStreamingCall<DocumentChunk>? _call;
        private string? _token;
        private string? _rejectedToken;

        public CiphertextDownload(GlobeClient client, WireDocument document, DocumentAttachment attachment, int chunkSize, TransferMeter meter)
        {
            _client = client;
            _document = document;
            _attachment = attachment;
            _fullChunk = chunkSize + DocumentCipher.ChunkOverheadBytes;
            _meter = meter;
            _header = document.Header.ToByteArray();
            _hash.Append(_header);
        }

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (_headerSent < _header.Length)
            {
                var n = Math.Min(buffer.Length, _header.Length - _headerSent);
                _header.AsMemory(_headerSent, n).CopyTo(buffer);
                _headerSent += n;
                return n;
            }

            while (_pending.IsEmpty)
            {
                if (_ended)
                {
                    return 0;
                }

                var chunk = await _client.TransferAsync(_attachment.DocumentId, "download", NextAsync, _meter, cancellationToken);
                if (chunk is null)
                {
                    await EndAsync();
                    return 0;
                }

                await AcceptAsync(chunk);
            }

            var count = Math.Min(buffer.Length, _pending.Length);
            _pending[..count].CopyTo(buffer);
            _pending = _pending[count..];
            return count;
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer, offset, count, CancellationToken.None).GetAwaiter().GetResult();

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override async ValueTask DisposeAsync()
        {
            _call?.Dispose();
            await SettleHashingAsync();
            _hash.Dispose();
            await base.DisposeAsync();
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _call?.Dispose();
                SettleHashingAsync().GetAwaiter().GetResult();
                _hash.Dispose();
            }

            base.Dispose(disposing);
        }

        /// <summary>The next chunk, or null at the end of the stream; a broken stream is dropped, to reopen from the next chunk.</summary>
        private async Task<DocumentChunk?> NextAsync(CancellationToken cancellationToken)
        {
            if (_next >= _document.ChunkCount)
            {
                return null; // Everything arrived; the server's end of stream need not be awaited.
            }

            try
            {
                if (_call is null)
                {
                    (var headers, _token) = await _client.BearerAsync(_rejectedToken, cancellationToken);
                    _call = _client._documents.DownloadDocument(new DownloadDocumentRequest { DocumentId = _document.DocumentId, FromChunk = _next },
                        headers, cancellationToken: cancellationToken);
                }

                return await _call.ResponseStream.MoveNext(cancellationToken) ? _call.ResponseStream.Current : null;
            }
            catch (Exception e) when (e is RpcException or IOException or HttpRequestException)
            {
                _call?.Dispose();
                _call = null;
                if (e is RpcException { StatusCode: StatusCode.Unauthenticated } && _rejectedToken is null)
                {
                    _rejectedToken = _token;
                    throw new BrokenTransferException(e);
                }

                if (IsBroken(e, cancellationToken))
                {
                    throw new BrokenTransferException(e);
                }

                throw e is RpcException rpc ? GlobeClientException.FromRpc(rpc) : e;
            }
        }

        /// <summary>Waits for a hash still running (after a failure too) so that it never outlives the hash state.</summary>
        private async Task SettleHashingAsync()
        {
            try
            {
                await _hashing;
            }
            catch (ObjectDisposedException)
            {
            }
        }

        private async Task AcceptAsync(DocumentChunk chunk)
        {
            var id = _attachment.DocumentId;
            var last = _next == _document.ChunkCount - 1;
            var size = chunk.Data.Length;
            if (chunk.Index != _next)
            {
                throw new GlobeTrustException($"The server served chunk {chunk.Index} of document {id} where chunk {_next} belongs: refused.");
            }

            if (last ? size is < DocumentCipher.ChunkOverheadBytes || size > _fullChunk : size != _fullChunk)
            {
                throw new GlobeTrustException($"The server served a chunk {chunk.Index} of {size} bytes for document {id}: refused.");
            }

            // The previous chunk's hash first (order matters); this one's runs while the caller decrypts it.
            await _hashing;
            var data = chunk.Data;
            _hashing = Task.Run(() => _hash.Append(data.Span), CancellationToken.None);
            _pending = chunk.Data.Memory;
            _next++;
            _plaintextBytes += size - DocumentCipher.ChunkOverheadBytes;
            _meter.Report(_plaintextBytes);
        }

        private async Task EndAsync()
        {
            await _hashing;
            _ended = true;
            var id = _attachment.DocumentId;
            if (_next != _document.ChunkCount)
            {
                throw new GlobeTrustException($"The server ended the download of document {id} after {_next} of {_document.ChunkCount} chunks: refused.");
            }

            if (!CryptographicOperations.FixedTimeEquals(_hash.Finish(), _attachment.CiphertextHash))
            {
                throw new GlobeTrustException(
                    $"The ciphertext of document {id} the server served does not have the hash its message signed: refused before the last chunk was decrypted.");
            }
        }
    }
}
