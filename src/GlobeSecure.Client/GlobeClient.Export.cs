using System.IO.Compression;
using System.Text;
using GlobeSecure.Contracts.V1;
using GlobeSecure.Crypto;
using WireChain = GlobeSecure.Contracts.V1.CertificateChain;

namespace GlobeSecure.Client;

/// <summary>Export of a request for formal mutual legal assistance (docs/requests.md, "Export package").</summary>
public sealed partial class GlobeClient
{
    /// <summary>
    /// Either party's investigators and authority administrators: writes the request's export package
    /// to <paramref name="target"/> (a new or empty directory, or a path ending in .zip). Everything is
    /// verified first, as when opening: each message's sender chain, signature and epoch key; each
    /// attachment as it downloads; each receipt; every link of the server's record. Then messages and
    /// attachments are written decrypted beside what was signed, with what re-checks them offline
    /// (the thread's epoch keys and every signer's chain), and a manifest signed by this device lists
    /// every file with its SHA-256. Finally the package is verified as
    /// <see cref="RequestPackage.Verify(string, IEnumerable{SigningPublicKey})"/> would, against the pinned root.
    /// </summary>
    /// <remarks>The package is as sensitive as the plaintext it holds: it contains the thread in the clear and its epoch keys.</remarks>
    /// <exception cref="GlobeTrustException">Something served does not verify; nothing is left at the target.</exception>
    public async Task<ExportedPackage> ExportRequestAsync(Guid requestId, string target, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(target);
        var zip = target.EndsWith(".zip", StringComparison.OrdinalIgnoreCase);
        if (zip ? File.Exists(target) || Directory.Exists(target) : File.Exists(target) || (Directory.Exists(target) && Directory.EnumerateFileSystemEntries(target).Any()))
        {
            throw new IOException(zip ? $"'{target}' exists: choose a new .zip path." : $"'{target}' is not empty: export into a new or empty directory.");
        }

        var full = Path.GetFullPath(target);
        var root = zip ? Path.Combine(Path.GetDirectoryName(full)!, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.partial") : full;
        var createdRoot = !Directory.Exists(root);
        try
        {
            Directory.CreateDirectory(root);
            var manifest = await WritePackageAsync(requestId, root, cancellationToken);
            RequireAnchors();
            var verification = RequestPackage.Verify(root, _options.PinnedRootKeys);
            verification.ThrowIfInvalid();
            if (zip)
            {
                ZipFile.CreateFromDirectory(root, full, CompressionLevel.Optimal, includeBaseDirectory: false);
                Directory.Delete(root, recursive: true);
            }

            return new ExportedPackage(requestId, full, manifest.Files.Count, manifest.Files.Sum(f => f.Size), verification);
        }
        catch
        {
            if (createdRoot || zip)
            {
                TryDeleteTree(root);
            }
            else
            {
                foreach (var entry in Directory.EnumerateFileSystemEntries(root))
                {
                    TryDeleteTree(entry);
                }
            }

            throw;
        }
    }

    private async Task<ExportManifest> WritePackageAsync(Guid requestId, string root, CancellationToken cancellationToken)
    {
        var me = await MeAsync(cancellationToken);
        var myUserId = Wire.ParseId(me.UserId, "user id");
        var request = await GetRequestAsync(requestId, cancellationToken);
        var channelId = Wire.ParseId(request.ChannelId, "channel id");
        var signers = new Dictionary<Guid, VerifiedDevice> { [Device().DeviceId] = await OwnVerifiedDeviceAsync(cancellationToken) };
        var epochs = new SortedSet<long>();
        var written = new List<string>();

        void Write(string path, byte[] bytes)
        {
            var file = Path.Combine(root, path);
            Directory.CreateDirectory(Path.GetDirectoryName(file)!);
            File.WriteAllBytes(file, bytes);
            written.Add(path);
        }

        Write(RequestPackage.RequestPath, RequestPackage.WriteProto(request));
        foreach (var message in await ThreadAsync(channelId, cancellationToken))
        {
            var envelope = FromWire(message.Envelope);
            var header = envelope.Header;
            var folder = RequestPackage.MessageFolder(header.MessageId);
            Write($"{folder}/{RequestPackage.EnvelopeName}", RequestPackage.WriteProto(message));
            OpenedMessage opened;
            try
            {
                opened = await OpenAsync(message, cancellationToken);
            }
            catch (GlobeClientException e) when (e.Status is Grpc.Core.StatusCode.NotFound or Grpc.Core.StatusCode.PermissionDenied)
            {
                // A key this device never received (a message from before it joined): the envelope
                // goes in as signed, checked for its signature only.
                signers[header.SenderDeviceId] = await VerifiedDeviceAsync(header.SenderUserId, header.SenderDeviceId, cancellationToken);
                continue;
            }

            signers[header.SenderDeviceId] = await VerifiedDeviceAsync(header.SenderUserId, header.SenderDeviceId, cancellationToken);
            epochs.Add(header.Epoch);
            Write($"{folder}/{RequestPackage.BodyName(header.ContentType)}", opened.Content);
            if (header.ContentType == MessageContentType)
            {
                Write($"{folder}/{RequestPackage.TextName}", Encoding.UTF8.GetBytes(opened.Text));
            }

            foreach (var attachment in opened.Attachments)
            {
                var path = RequestPackage.AttachmentPath(attachment.DocumentId, attachment.FileName);
                if (!written.Contains(path))
                {
                    var file = Path.Combine(root, path);
                    Directory.CreateDirectory(Path.GetDirectoryName(file)!);
                    await DownloadDocumentAsync(attachment, file, cancellationToken: cancellationToken);
                    written.Add(path);
                }
            }

            if (header.SenderUserId == myUserId)
            {
                var receipts = await ListReceiptsVerifiedAsync(message, cancellationToken);
                if (receipts.Count > 0)
                {
                    var list = new ListReceiptsResponse();
                    list.Receipts.AddRange(receipts.Select(r => r.Wire));
                    Write($"{folder}/{RequestPackage.ReceiptsName}", RequestPackage.WriteProto(list));
                    foreach (var (_, _, recipient) in receipts)
                    {
                        signers[recipient.DeviceId] = recipient;
                    }
                }
            }
        }

        foreach (var epoch in epochs)
        {
            var (wire, _, creator, key) = await FetchEpochKeyAsync(channelId, epoch, cancellationToken);
            using (key)
            {
                Write(RequestPackage.EpochPath(epoch), RequestPackage.WriteEpoch(wire, key.ExportBytes()));
            }

            signers[creator.DeviceId] = creator;
        }

        foreach (var signer in signers.Values)
        {
            var chain = new WireChain();
            chain.Certificates.AddRange(signer.Chain.Select(c => c.ToProto()));
            Write(RequestPackage.CertificatePath(signer.DeviceId), RequestPackage.WriteProto(chain));
        }

        var record = await GetRequestRecordAsync(requestId, cancellationToken);
        Write(RequestPackage.RecordPath, RequestPackage.WriteProto(record));

        var manifest = ExportManifest.Sign(requestId, _options.Clock.GetUtcNow(), myUserId, Device(),
            written.Select(p => RequestPackage.Describe(root, p)));
        await File.WriteAllBytesAsync(Path.Combine(root, RequestPackage.ManifestPath), RequestPackage.WriteManifest(manifest), cancellationToken);
        return manifest;
    }

    /// <summary>Either party: the server's record of a request (its events and the parties' audit entries, with their links).</summary>
    public Task<RequestRecord> GetRequestRecordAsync(Guid requestId, CancellationToken cancellationToken = default) =>
        CallAsync(_requests.GetRequestRecordAsync(new GetRequestRecordRequest { RequestId = requestId.ToString() }, cancellationToken: cancellationToken));

    /// <summary>Every message of a channel, oldest first.</summary>
    private async Task<List<StoredMessage>> ThreadAsync(Guid channelId, CancellationToken cancellationToken)
    {
        var messages = new List<StoredMessage>();
        long before = 0;
        while (true)
        {
            var page = await HistoryAsync(channelId, beforePosition: before, pageSize: 500, cancellationToken: cancellationToken);
            if (page.Count == 0)
            {
                break;
            }

            messages.AddRange(page);
            before = page.Min(m => m.Position);
            if (before <= 1)
            {
                break;
            }
        }

        return [.. messages.OrderBy(m => m.Position)];
    }

    private static void TryDeleteTree(string path)
    {
        try
        {
            if (Directory.Exists(path))
            {
                Directory.Delete(path, recursive: true);
            }
            else if (File.Exists(path))
            {
                File.Delete(path);
            }
        }
        catch (IOException)
        {
            // Best effort: the caller's exception says what went wrong.
        }
        catch (UnauthorizedAccessException)
        {
            // Same.
        }
    }
}

/// <summary>A package written by <see cref="GlobeClient.ExportRequestAsync"/>.</summary>
/// <param name="RequestId">The request.</param>
/// <param name="Path">The package directory or zip file.</param>
/// <param name="FileCount">Files the manifest lists.</param>
/// <param name="Bytes">Their total size.</param>
/// <param name="Verification">The offline verification run on it before returning.</param>
public sealed record ExportedPackage(Guid RequestId, string Path, int FileCount, long Bytes, PackageVerification Verification);
