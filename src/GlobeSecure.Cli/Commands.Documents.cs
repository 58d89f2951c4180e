using System.CommandLine;
using System.Globalization;
using GlobeSecure.Client;
using GlobeSecure.Contracts.V1;
using GlobeSecure.Crypto;
using Grpc.Core;
using Spectre.Console;
using WireDocument = GlobeSecure.Contracts.V1.Document;

namespace GlobeSecure.Cli;

/// <summary>
/// Encrypted documents (docs/documents.md, "Command line"): 'globe send --attach' uploads and
/// attaches, 'globe doc download' fetches and verifies, 'globe doc list' shows a channel's
/// documents. Every key and hash is handled by the client library.
/// </summary>
internal sealed partial class Commands
{
    public Command Doc()
    {
        var messageId = IdArgument("message-id", "The message that carries the documents");
        var channel = new Option<Guid?>("--channel") { Description = "The message's channel (default: looked up among your channels)", HelpName = "channel-id" };
        var output = new Option<string?>("--out")
        {
            HelpName = "path",
            Description = "A directory to write into (each document under the name its sender gave), or the file to write when the message carries one document (default: the current directory)",
        };
        var document = new Option<Guid?>("--document") { Description = "Only this document of the message", HelpName = "document-id" };
        var overwrite = new Option<bool>("--overwrite") { Description = "Replace existing files (only once the download verified)" };
        var download = new Command("download",
            "Download a message's documents: every chunk, the ciphertext hash and the plaintext hash the sender signed are verified before the file takes its name")
        {
            messageId, channel, output, document, overwrite,
        };
        download.Handle(options, environment, async (context, cancellationToken) =>
        {
            await using var session = await context.ConnectAsync(cancellationToken);
            var (channelId, message) = await FindMessageAsync(session.Client, context.Get(messageId), context.Get(channel), cancellationToken);
            var opened = await session.Client.OpenAsync(message, cancellationToken);
            var wanted = opened.Attachments.Where(a => context.Get(document) is not { } only || a.DocumentId == only).ToList();
            if (wanted.Count == 0)
            {
                throw new CliFailureException(context.Get(document) is { } only
                    ? $"Message {opened.MessageId} does not carry document {only}."
                    : $"Message {opened.MessageId} carries no documents.");
            }

            var targets = Targets(context.Get(output), wanted);
            foreach (var (_, path) in targets.Where(t => !context.Get(overwrite) && File.Exists(t.Path)))
            {
                throw new CliFailureException($"'{Path.GetFullPath(path)}' exists; choose another --out or pass --overwrite.");
            }

            var transfers = new TransferDisplay(context);
            var results = new List<(DocumentAttachment Attachment, DownloadedDocument Downloaded)>();
            foreach (var (attachment, path) in targets)
            {
                var downloaded = await transfers.RunAsync("download", attachment.FileName, attachment.PlaintextLength, progress =>
                    session.Client.DownloadDocumentAsync(attachment, path, progress, context.Get(overwrite), cancellationToken));
                results.Add((attachment, downloaded));
                if (!context.Json)
                {
                    context.Unwrapped($"Downloaded {Printable(attachment.FileName)} ({Size(downloaded.Length)}) to {downloaded.Path}: every chunk, the ciphertext hash and the plaintext hash signed by the sender verified (BLAKE2b-256 {Convert.ToHexStringLower(downloaded.PlaintextHash)}).");
                }
            }

            if (context.Json)
            {
                context.WriteJson(new
                {
                    channelId,
                    messageId = opened.MessageId,
                    documents = results.Select(r => new
                    {
                        documentId = r.Attachment.DocumentId,
                        fileName = r.Attachment.FileName,
                        mediaType = r.Attachment.MediaType,
                        path = r.Downloaded.Path,
                        length = r.Downloaded.Length,
                        plaintextHash = Convert.ToHexStringLower(r.Downloaded.PlaintextHash),
                    }).ToArray(),
                });
            }
        });

        var listChannel = new Option<Guid>("--channel") { Description = "The channel", HelpName = "channel-id", Required = true };
        var list = new Command("list", "A channel's documents that messages carry, and your own uploads to it, newest first (names from the messages you can read)")
        {
            listChannel,
        };
        list.Handle(options, environment, async (context, cancellationToken) =>
        {
            await using var session = await context.ConnectAsync(cancellationToken);
            var channelId = context.Get(listChannel);
            var documents = await session.Client.ListDocumentsAsync(channelId, cancellationToken);
            var names = await AttachmentNamesAsync(session.Client, channelId, documents, cancellationToken);
            if (context.Json)
            {
                context.WriteJson(documents.Select(d => new
                {
                    documentId = d.DocumentId,
                    fileName = names.GetValueOrDefault(d.DocumentId)?.FileName,
                    mediaType = names.GetValueOrDefault(d.DocumentId)?.MediaType,
                    plaintextLength = PlaintextLength(d),
                    ciphertextLength = d.CiphertextLength,
                    status = StatusName(d.Status),
                    chunksHeld = d.ChunksHeld,
                    chunkCount = d.ChunkCount,
                    uploaderUserId = d.UploaderUserId,
                    uploaderAuthorityId = d.UploaderAuthorityId,
                    messageIds = d.MessageIds.ToArray(),
                    createdAt = d.CreatedAt?.ToDateTimeOffset(),
                    sealedAt = d.SealedAt?.ToDateTimeOffset(),
                    expiresAt = d.ExpiresAt?.ToDateTimeOffset(),
                }).ToArray());
                return;
            }

            if (documents.Count == 0)
            {
                context.Line("No documents in this channel yet.");
                return;
            }

            var table = Table("id", "name", "size", "status", "user", "messages", "created");
            foreach (var d in documents)
            {
                var name = names.GetValueOrDefault(d.DocumentId) is { } a ? Printable(a.FileName)
                    : d.MessageIds.Count == 0 ? "(not sent in a message yet)" : "(in a message you cannot read)";
                var status = d.Status == DocumentStatus.Uploading ? $"uploading {d.ChunksHeld}/{d.ChunkCount}" : StatusName(d.Status);
                Row(table, d.DocumentId, name, Size(PlaintextLength(d)), status, d.UploaderUserId,
                    d.MessageIds.Count.ToString(CultureInfo.InvariantCulture), d.CreatedAt is null ? "" : Time(d.CreatedAt.ToDateTimeOffset()));
            }

            context.Console.Write(table);
        });

        return new Command("doc", "Encrypted documents of a channel: list and download (send them with 'globe send --attach')") { download, list };
    }

    /// <summary>The files to upload with 'globe send --attach', checked before anything is sent.</summary>
    private static IReadOnlyList<string> AttachedFiles(string[]? files)
    {
        var paths = (files ?? []).Select(Path.GetFullPath).ToList();
        foreach (var path in paths.Where(p => !File.Exists(p)))
        {
            throw new CliUsageException(
                $"--attach: there is no file at '{path}' (--attach takes every word after it as a file: put the message text before it).");
        }

        return paths;
    }

    /// <summary>Uploads the files to the channel, one progress display each.</summary>
    private static async Task<List<DocumentAttachment>> UploadAsync(CliContext context, GlobeClient client, Guid channelId, IReadOnlyList<string> files,
        CancellationToken cancellationToken)
    {
        var transfers = new TransferDisplay(context);
        var attachments = new List<DocumentAttachment>();
        foreach (var file in files)
        {
            attachments.Add(await transfers.RunAsync("upload", Path.GetFileName(file), new FileInfo(file).Length, progress =>
                client.UploadDocumentAsync(channelId, file, progress: progress, cancellationToken: cancellationToken)));
        }

        return attachments;
    }

    /// <summary>The message: in the given channel, or the first of the caller's channels that holds it.</summary>
    private static async Task<(Guid ChannelId, StoredMessage Message)> FindMessageAsync(GlobeClient client, Guid messageId, Guid? channelId,
        CancellationToken cancellationToken)
    {
        if (channelId is { } given)
        {
            return (given, await client.GetMessageAsync(given, messageId, cancellationToken));
        }

        foreach (var channel in await client.ListChannelsAsync(cancellationToken))
        {
            var id = Guid.Parse(channel.ChannelId);
            try
            {
                return (id, await client.GetMessageAsync(id, messageId, cancellationToken));
            }
            catch (GlobeClientException e) when (e.Status is StatusCode.NotFound or StatusCode.PermissionDenied)
            {
                // Not this channel's.
            }
        }

        throw new CliFailureException($"Message {messageId} is in none of your channels (name its channel with --channel).");
    }

    /// <summary>Where each document goes: into a directory under its sender's name for it, or to the one file named.</summary>
    private static List<(DocumentAttachment Attachment, string Path)> Targets(string? output, List<DocumentAttachment> attachments)
    {
        var directory = output ?? Environment.CurrentDirectory;
        if (System.IO.Directory.Exists(directory) || directory.EndsWith(Path.DirectorySeparatorChar) || directory.EndsWith(Path.AltDirectorySeparatorChar))
        {
            System.IO.Directory.CreateDirectory(directory);
            var names = attachments.Select(a => a.FileName).ToList();
            if (names.Distinct(StringComparer.Ordinal).Count() != names.Count)
            {
                throw new CliUsageException("Several documents of the message have the same name: download them one by one with --document and --out <file>.");
            }

            return [.. attachments.Select(a => (a, Path.Combine(directory, a.FileName)))];
        }

        return attachments.Count == 1
            ? [(attachments[0], output!)]
            : throw new CliUsageException($"--out names a file, but the message carries {attachments.Count} documents: give a directory, or pick one with --document.");
    }

    /// <summary>The name and type of every listed document that a message this device can open carries.</summary>
    private static async Task<Dictionary<string, DocumentAttachment>> AttachmentNamesAsync(GlobeClient client, Guid channelId,
        IEnumerable<WireDocument> documents, CancellationToken cancellationToken)
    {
        var found = new Dictionary<string, DocumentAttachment>(StringComparer.OrdinalIgnoreCase);
        var opened = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var messageId in documents.Where(d => d.MessageIds.Count > 0).Select(d => d.MessageIds[0]))
        {
            if (!opened.Add(messageId) || !Guid.TryParse(messageId, out var id))
            {
                continue;
            }

            try
            {
                var message = await client.OpenAsync(await client.GetMessageAsync(channelId, id, cancellationToken), cancellationToken);
                foreach (var attachment in message.Attachments)
                {
                    found.TryAdd(attachment.DocumentId.ToString(), attachment);
                }
            }
            catch (Exception e) when (e is GlobeClientException { Status: StatusCode.NotFound or StatusCode.PermissionDenied } or GlobeTrustException)
            {
                // A message this device cannot read (or trust) names nothing.
            }
        }

        return found;
    }

    /// <summary>The plaintext length the server's sizes imply (it never sees the plaintext).</summary>
    private static long PlaintextLength(WireDocument document)
    {
        var body = document.CiphertextLength - DocumentCipher.HeaderBytes;
        var full = (long)document.ChunkSize + DocumentCipher.ChunkOverheadBytes;
        if (body < DocumentCipher.ChunkOverheadBytes || document.ChunkSize <= 0)
        {
            return 0;
        }

        var chunks = (body + full - 1) / full;
        return body - (chunks * DocumentCipher.ChunkOverheadBytes);
    }

    private static string StatusName(DocumentStatus status) => status switch
    {
        DocumentStatus.Uploading => "uploading",
        DocumentStatus.Sealed => "sealed",
        DocumentStatus.Expired => "expired",
        DocumentStatus.Deleted => "deleted",
        _ => "unspecified",
    };

    /// <summary>Bytes for people: B, KiB, MiB, GiB.</summary>
    internal static string Size(long bytes) => bytes switch
    {
        < 1024 => $"{bytes} B",
        < 1024 * 1024 => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1024.0:0.0} KiB"),
        < 1024L * 1024 * 1024 => string.Create(CultureInfo.InvariantCulture, $"{bytes / (1024.0 * 1024):0.0} MiB"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{bytes / (1024.0 * 1024 * 1024):0.00} GiB"),
    };

    /// <summary>
    /// Shows transfers: Spectre.Console progress bars (bytes, rate, time left) on an interactive
    /// terminal; otherwise (scripts, CI, --json) plain lines on standard error, about one a second.
    /// </summary>
    private sealed class TransferDisplay(CliContext context)
    {
        private bool Interactive => !context.Json && context.Console.Profile.Capabilities.Interactive && context.Console.Profile.Out.IsTerminal;

        public async Task<T> RunAsync<T>(string verb, string name, long total, Func<IProgress<TransferProgress>, Task<T>> transfer)
        {
            var label = $"{verb} {Printable(name)}";
            if (!Interactive)
            {
                return await transfer(new PlainLines(context.Environment.Error, label));
            }

            var result = default(T)!;
            await context.Console.Progress()
                .AutoClear(false)
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new DownloadedColumn(),
                    new TransferSpeedColumn(), new RemainingTimeColumn())
                .StartAsync(async progress =>
                {
                    var task = progress.AddTask(Markup.Escape(label), maxValue: Math.Max(1, total));
                    result = await transfer(new Bar(task));
                    task.Value = task.MaxValue;
                });
            return result;
        }

        private sealed class Bar(ProgressTask task) : IProgress<TransferProgress>
        {
            public void Report(TransferProgress value) => task.Value = value.Bytes;
        }

        private sealed class PlainLines(TextWriter error, string label) : IProgress<TransferProgress>
        {
            private DateTimeOffset _last = DateTimeOffset.MinValue;
            private int _resumes;
            private bool _done;

            public void Report(TransferProgress value)
            {
                var now = DateTimeOffset.UtcNow;
                var done = value.Bytes >= value.Total;
                if (value.Resumes > _resumes)
                {
                    _resumes = value.Resumes;
                    error.WriteLine($"{label}: the connection broke; resuming ({_resumes})");
                }

                if (_done || (!done && (value.Bytes == 0 || now - _last < TimeSpan.FromSeconds(1))))
                {
                    return;
                }

                _last = now;
                _done = done;
                var left = value.Remaining is { } r && !done ? $", about {Math.Ceiling(r.TotalSeconds).ToString(CultureInfo.InvariantCulture)} s left" : "";
                error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{label}: {Size(value.Bytes)} of {Size(value.Total)} ({value.Fraction * 100:0}%), {Size((long)value.BytesPerSecond)}/s{left}"));
            }
        }
    }
}
