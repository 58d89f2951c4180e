using System.IO.Compression;
using System.Runtime.CompilerServices;
using System.Text;
using GlobeSecure.Contracts.V1;
using GlobeSecure.Crypto;
using Google.Protobuf;

namespace GlobeSecure.Client.Tests.Story;

/// <summary>
/// The export package for formal mutual legal assistance, against the real server and PostgreSQL:
/// Kenya requests, Brazil answers with a message and an attached document, receipts are exchanged;
/// either side exports, and the package verifies offline with nothing but the root key — and fails
/// after any change.
/// </summary>
public sealed class RequestExportStoryTests(StoryServerFixture server) : IClassFixture<StoryServerFixture>, IDisposable
{
    private const string Rfi = "request-for-information";
    private const string AnswerText = "Company register extract attached; the beneficial owner is J. K. Mwangi.";

    private static readonly ConditionalWeakTable<StoryServerFixture, Task<CaseCast>> Casts = new();

    private readonly string _work = Directory.CreateTempSubdirectory("globe-export-").FullName;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private Task<CaseCast> CastAsync() => Casts.GetValue(server, CaseCast.CreateAsync);

    public void Dispose() => Directory.Delete(_work, recursive: true);

    [Fact]
    public async Task Export_AnsweredRequestWithAttachment_VerifiesOfflineWithEverythingDecrypted()
    {
        var c = await CastAsync();
        var story = await AnsweredRequestAsync(c, 5000);
        var target = Path.Combine(_work, "requester");

        var exported = await c.Otieno.Client.ExportRequestAsync(story.RequestId, target, Ct);
        var verification = RequestPackage.Verify(target, c.Network.RootKey.PublicKey);
        var formFolder = Path.Combine(target, "messages", story.RequestId.ToString());
        var answerFolder = Path.Combine(target, "messages", story.AnswerId.ToString());
        var record = RequestPackage.ReadProto<RequestRecord>(await File.ReadAllBytesAsync(Path.Combine(target, RequestPackage.RecordPath), Ct));
        var receipts = RequestPackage.ReadProto<ListReceiptsResponse>(await File.ReadAllBytesAsync(Path.Combine(formFolder, RequestPackage.ReceiptsName), Ct));

        Assert.True(verification.IsValid, verification.ToString());
        Assert.True(exported.Verification.IsValid);
        Assert.Equal(story.RequestId, verification.RequestId);
        Assert.Equal(story.Draft, await File.ReadAllTextAsync(Path.Combine(formFolder, "body.json"), Ct));
        Assert.Equal(AnswerText, await File.ReadAllTextAsync(Path.Combine(answerFolder, RequestPackage.TextName), Ct));
        Assert.Equal(story.Evidence, await File.ReadAllBytesAsync(Path.Combine(target, "attachments", story.DocumentId.ToString(), "register-extract.pdf"), Ct));
        Assert.Equal([Contracts.V1.ReceiptKind.Delivered, Contracts.V1.ReceiptKind.Read], receipts.Receipts.Select(r => r.Kind).Order());
        Assert.All(receipts.Receipts, r => Assert.Equal(c.Ana.DeviceId.ToString(), r.RecipientDeviceId));
        Assert.True(File.Exists(Path.Combine(target, "epochs", "2.json")));
        Assert.True(File.Exists(Path.Combine(target, "certificates", $"{c.Ana.DeviceId}.json")));
        Assert.Contains(record.Events, e => e.Type.Contains("answered", StringComparison.Ordinal));
        Assert.Contains(record.Audit, a => a.Action.EndsWith("/Answer", StringComparison.Ordinal) && a.ActorUserId == c.Ana.UserId.ToString());
        Assert.Contains(verification.Checks, s => s.Contains("decrypts to the included plaintext", StringComparison.Ordinal));
        Assert.Contains(verification.Checks, s => s.Contains("2 receipts", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Export_ByRequestedSideToZip_VerifiesAndCarriesItsOwnReceipts()
    {
        var c = await CastAsync();
        var story = await AnsweredRequestAsync(c, 100);
        var zip = Path.Combine(_work, "answer.zip");

        var exported = await c.Ana.Client.ExportRequestAsync(story.RequestId, zip, Ct);
        var verification = RequestPackage.Verify(zip, [c.Network.RootKey.PublicKey]);
        using var archive = ZipFile.OpenRead(zip);

        Assert.True(verification.IsValid, verification.ToString());
        Assert.Equal(exported.FileCount + 1, archive.Entries.Count);
        Assert.NotNull(archive.GetEntry($"messages/{story.AnswerId}/{RequestPackage.ReceiptsName}"));
        Assert.Null(archive.GetEntry($"messages/{story.RequestId}/{RequestPackage.ReceiptsName}"));
    }

    [Fact]
    public async Task Verify_AnotherRootKey_FailsAtTheExportersChain()
    {
        var c = await CastAsync();
        var story = await AnsweredRequestAsync(c, 10);
        var target = Path.Combine(_work, "other-root");
        await c.Otieno.Client.ExportRequestAsync(story.RequestId, target, Ct);
        using var stranger = NetworkRootKey.Generate();

        var verification = RequestPackage.Verify(target, stranger.PublicKey);

        Assert.False(verification.IsValid);
        Assert.Equal($"certificates/{c.Otieno.DeviceId}.json", verification.File);
        Assert.Contains("pinned network root", verification.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Verify_AnyByteChangedOrFileAddedOrRemoved_Fails()
    {
        var c = await CastAsync();
        var story = await AnsweredRequestAsync(c, 3000);
        var target = Path.Combine(_work, "tamper");
        await c.Otieno.Client.ExportRequestAsync(story.RequestId, target, Ct);
        var root = c.Network.RootKey.PublicKey;
        var files = RequestPackage.ListFiles(target);
        var flipped = 0;

        foreach (var file in files)
        {
            var path = Path.Combine(target, file);
            var length = new FileInfo(path).Length;
            // Every byte of the manifest and of files up to 4 KiB; a dense sample (every 13th, first and last) of larger ones.
            var offsets = file == RequestPackage.ManifestPath || length <= 4096
                ? Enumerable.Range(0, (int)length).Select(i => (long)i)
                : Enumerable.Range(0, (int)((length + 12) / 13)).Select(i => i * 13L).Append(length - 1).Distinct();
            foreach (var offset in offsets)
            {
                var original = Poke(path, offset, b => (byte)(b ^ 0x20));
                var verification = RequestPackage.Verify(target, root);
                Poke(path, offset, _ => original);
                Assert.False(verification.IsValid, $"{file} byte {offset} changed, yet the package verified");
                flipped++;
            }
        }

        File.WriteAllText(Path.Combine(target, "attachments", "note.txt"), "added later");
        var added = RequestPackage.Verify(target, root);
        File.Delete(Path.Combine(target, "attachments", "note.txt"));
        var receipts = Path.Combine(target, "messages", story.RequestId.ToString(), RequestPackage.ReceiptsName);
        var kept = await File.ReadAllBytesAsync(receipts, Ct);
        File.Delete(receipts);
        var removed = RequestPackage.Verify(target, root);
        await File.WriteAllBytesAsync(receipts, kept, Ct);

        Assert.True(flipped > 5000, $"only {flipped} bytes were changed");
        Assert.Equal(("attachments/note.txt", false), (added.File, added.IsValid));
        Assert.Equal(($"messages/{story.RequestId}/{RequestPackage.ReceiptsName}", false), (removed.File, removed.IsValid));
        Assert.Contains("missing", removed.Problem, StringComparison.Ordinal);
        Assert.True(RequestPackage.Verify(target, root).IsValid);
    }

    [Fact]
    public async Task Verify_ExporterChangesContentAndResignsManifest_FailsAtTheContentsOwnCheck()
    {
        var c = await CastAsync();
        var story = await AnsweredRequestAsync(c, 2000);
        var target = Path.Combine(_work, "resigned");
        await c.Otieno.Client.ExportRequestAsync(story.RequestId, target, Ct);
        var form = $"messages/{story.RequestId}";
        var answer = $"messages/{story.AnswerId}";
        var attachment = $"attachments/{story.DocumentId}/register-extract.pdf";

        // An exporter holds a valid signing key: a manifest re-signed over changed content must still be caught.
        var cases = new (string File, Func<byte[], byte[]> Change, string Expected)[]
        {
            ($"{form}/body.json", b => Replace(b, "Mwangi", "Mwangu"), "not what the signed ciphertext decrypts to"),
            ($"{answer}/{RequestPackage.TextName}", b => Replace(b, "Mwangi", "Kamau "), "not the text of the signed body"),
            (attachment, b => [.. b.Take(b.Length - 1), (byte)(b[^1] ^ 1)], "not the plaintext hash the signed message states"),
            (attachment, b => [.. b, 0], "the signed message says"),
            ("epochs/2.json", ReplaceKey, "not the one its creator committed to"),
            ($"{form}/{RequestPackage.ReceiptsName}", b => Replace(b, "\"kind\": \"RECEIPT_KIND_DELIVERED\"", "\"kind\": \"RECEIPT_KIND_READ\""), "does not verify"),
            (RequestPackage.RecordPath, b => Replace(b, "\"outcome\": \"allowed\"", "\"outcome\": \"denied\""), "link does not recompute"),
            (RequestPackage.RequestPath, b => Replace(b, story.RequestId.ToString(), Guid.CreateVersion7().ToString()), "not the manifest's"),
            (RequestPackage.RequestPath, b => Replace(b, c.Brazil.ToString(), Guid.CreateVersion7().ToString()), "the server's hash-chained drafting event records"),
        };

        foreach (var (file, change, expected) in cases)
        {
            var path = Path.Combine(target, file);
            var original = await File.ReadAllBytesAsync(path, Ct);
            await File.WriteAllBytesAsync(path, change(original), Ct);
            Resign(target, c.Otieno);
            var verification = RequestPackage.Verify(target, c.Network.RootKey.PublicKey);
            await File.WriteAllBytesAsync(path, original, Ct);

            Assert.False(verification.IsValid, $"changing {file} and re-signing verified");
            Assert.Equal(file, verification.File);
            Assert.Contains(expected, verification.Problem, StringComparison.Ordinal);
        }

        var formCopy = Path.Combine(_work, "form-copy");
        Directory.Move(Path.Combine(target, form), formCopy);
        Resign(target, c.Otieno);
        var withoutForm = RequestPackage.Verify(target, c.Network.RootKey.PublicKey);
        Directory.Move(formCopy, Path.Combine(target, form));

        Assert.Equal((form, false), (withoutForm.File, withoutForm.IsValid));
        Assert.Contains("form message", withoutForm.Problem, StringComparison.Ordinal);
        Resign(target, c.Otieno);
        Assert.True(RequestPackage.Verify(target, c.Network.RootKey.PublicKey).IsValid);
    }

    [Fact]
    public async Task Export_NonEmptyTarget_RefusedAndLeftAlone()
    {
        var c = await CastAsync();
        var story = await AnsweredRequestAsync(c, 10);
        var target = Directory.CreateDirectory(Path.Combine(_work, "busy")).FullName;
        await File.WriteAllTextAsync(Path.Combine(target, "keep.txt"), "mine", Ct);

        await Assert.ThrowsAsync<IOException>(() => c.Otieno.Client.ExportRequestAsync(story.RequestId, target, Ct));

        Assert.Equal(["keep.txt"], Directory.EnumerateFileSystemEntries(target).Select(Path.GetFileName));
    }

    // ---------------------------------------------------------------- arrange

    private sealed record Story(Guid RequestId, Guid ChannelId, Guid AnswerId, Guid DocumentId, string Draft, byte[] Evidence);

    /// <summary>Otieno requests; Ana reads the form (receipts), acknowledges, answers with an attachment; Otieno reads the answer (receipt).</summary>
    private static async Task<Story> AnsweredRequestAsync(CaseCast c, int evidenceBytes)
    {
        var draft = await File.ReadAllTextAsync(Path.Combine(AppContext.BaseDirectory, "Templates", "request-for-information.draft.json"), Ct);
        var submitted = await c.Otieno.Client.SubmitRequestAsync(new RequestSubmission(Rfi, 0, c.Brazil, draft, Urgency.Urgent), Ct);
        var requestId = Guid.Parse(submitted.Request.RequestId);
        var form = await c.Ana.Client.GetMessageAsync(submitted.ChannelId, requestId, Ct);
        await c.Ana.Client.SubmitReceiptAsync(form, MessageReceiptKind.Delivered, Ct);
        await c.Ana.Client.ReadRequestFormAsync(await c.Ana.Client.GetRequestAsync(requestId, Ct), Ct);
        await c.Ana.Client.SubmitReceiptAsync(form, MessageReceiptKind.Read, Ct);
        await c.Ana.Client.AcknowledgeRequestAsync(requestId, Ct);
        var evidence = new byte[evidenceBytes];
        Random.Shared.NextBytes(evidence);
        var attachment = await c.Ana.Client.UploadDocumentAsync(submitted.ChannelId, new MemoryStream(evidence), "register-extract.pdf",
            cancellationToken: Ct);
        var answer = await c.Ana.Client.SendTextAsync(submitted.ChannelId, AnswerText,
            new SendOptions(ReplyTo: requestId, Attachments: [attachment]), Ct);
        await c.Ana.Client.AnswerRequestAsync(requestId, Ct);
        await c.Otieno.Client.SubmitReceiptAsync(answer, MessageReceiptKind.Read, Ct);
        return new Story(requestId, submitted.ChannelId, Guid.Parse(answer.Envelope.Header.MessageId), attachment.DocumentId, draft, evidence);
    }

    private static byte Poke(string path, long offset, Func<byte, byte> change)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.ReadWrite);
        stream.Position = offset;
        var original = (byte)stream.ReadByte();
        stream.Position = offset;
        stream.WriteByte(change(original));
        return original;
    }

    private static byte[] Replace(byte[] bytes, string from, string to)
    {
        var text = Encoding.UTF8.GetString(bytes);
        Assert.Contains(from, text, StringComparison.Ordinal);
        return Encoding.UTF8.GetBytes(text.Replace(from, to, StringComparison.Ordinal));
    }

    private static byte[] ReplaceKey(byte[] bytes)
    {
        var (distribution, _) = RequestPackage.ReadEpoch(bytes);
        using var other = EpochKey.Generate(Guid.Parse(distribution.ChannelId), distribution.Epoch);
        return RequestPackage.WriteEpoch(distribution, other.ExportBytes());
    }

    /// <summary>What a dishonest exporter can do: sign a fresh manifest over the package as it now is.</summary>
    private static void Resign(string target, Participant exporter)
    {
        var old = RequestPackage.ReadManifest(File.ReadAllBytes(Path.Combine(target, RequestPackage.ManifestPath)));
        var manifest = ExportManifest.Sign(old.RequestId, old.ExportedAt, exporter.UserId, exporter.Keys,
            RequestPackage.ListFiles(target).Where(p => p != RequestPackage.ManifestPath).Select(p => RequestPackage.Describe(target, p)));
        File.WriteAllBytes(Path.Combine(target, RequestPackage.ManifestPath), RequestPackage.WriteManifest(manifest));
    }
}
