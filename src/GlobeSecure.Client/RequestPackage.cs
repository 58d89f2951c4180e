using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using GlobeSecure.Crypto;
using Google.Protobuf;
using V1 = GlobeSecure.Contracts.V1;

namespace GlobeSecure.Client;

/// <summary>
/// An export package of one information request (docs/requests.md, "Export package"): the request,
/// every message of its thread as signed, decrypted beside it, the epoch keys and certificate chains
/// that re-check both offline, the attachments, the receipts and the server's record (events and
/// audit entries with their hash-chain links), listed with sizes and SHA-256 in a manifest signed by
/// the exporting device. <see cref="Verify(string, IEnumerable{SigningPublicKey})"/> checks all of
/// it with nothing but the pinned network root key: no server, no key of the verifier's own.
/// </summary>
/// <remarks>
/// A package is as sensitive as the plaintext it holds: it contains the thread's messages and
/// files in the clear and the keys of the thread's epochs.
/// </remarks>
public static class RequestPackage
{
    /// <summary>The signed manifest at the package's root.</summary>
    public const string ManifestPath = "manifest.json";

    /// <summary>The request's metadata as the server served it to the exporter (InformationRequest, protobuf JSON).</summary>
    public const string RequestPath = "request.json";

    /// <summary>The server's record of the request (RequestRecord, protobuf JSON): its events and audit entries with their links.</summary>
    public const string RecordPath = "record.json";

    /// <summary>A message's envelope as stored (StoredMessage, protobuf JSON) in its folder.</summary>
    public const string EnvelopeName = "envelope.json";

    /// <summary>The text of a message with attachments (UTF-8), in its folder.</summary>
    public const string TextName = "text.txt";

    /// <summary>The verified receipts of a message the exporter sent (ListReceiptsResponse, protobuf JSON), in its folder.</summary>
    public const string ReceiptsName = "receipts.json";

    internal static readonly JsonFormatter Formatter = new(JsonFormatter.Settings.Default.WithIndentation());

    private static readonly JsonParser Parser = new(JsonParser.Settings.Default);

    /// <summary>A signer's certificate chain (CertificateChain, protobuf JSON, leaf first).</summary>
    public static string CertificatePath(Guid deviceId) => $"certificates/{deviceId}.json";

    /// <summary>An epoch's signed key distribution and the key itself.</summary>
    public static string EpochPath(long epoch) => $"epochs/{epoch}.json";

    /// <summary>The folder of one message.</summary>
    public static string MessageFolder(Guid messageId) => $"messages/{messageId}";

    /// <summary>A document's decrypted file, under the name its sender gave.</summary>
    public static string AttachmentPath(Guid documentId, string fileName) => $"attachments/{documentId}/{fileName}";

    /// <summary>The name of a message's decrypted body: JSON for JSON types, text for text types, else binary.</summary>
    public static string BodyName(string contentType)
    {
        ArgumentNullException.ThrowIfNull(contentType);
        var type = contentType.Split(';')[0].Trim();
        return type.EndsWith("+json", StringComparison.OrdinalIgnoreCase) || type.Equals("application/json", StringComparison.OrdinalIgnoreCase) ? "body.json"
            : type.StartsWith("text/", StringComparison.OrdinalIgnoreCase) ? "body.txt"
            : "body.bin";
    }

    /// <summary>
    /// Verifies a package (a directory, or a .zip file of one) offline against the pinned network
    /// root keys and names the first problem: the manifest's signature and the exporter's chain; every
    /// file's size and SHA-256, and that nothing is missing or added; every epoch key against its
    /// creator's signed commitment; every message's signature and sender chain, and that its
    /// decryption with the included key is the included plaintext; every attachment against the size
    /// and BLAKE2b-256 its signed message states; every receipt's signature and message digest; every
    /// event and audit link of the server's record.
    /// </summary>
    /// <param name="path">The package directory or .zip file.</param>
    /// <param name="rootKeys">The pinned network root keys.</param>
    public static PackageVerification Verify(string path, IEnumerable<SigningPublicKey> rootKeys)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(rootKeys);
        var anchors = new TrustAnchors(rootKeys);
        if (File.Exists(path))
        {
            var extracted = Path.Combine(Path.GetTempPath(), $"globe-verify-{Guid.NewGuid():N}");
            try
            {
                try
                {
                    ZipFile.ExtractToDirectory(path, extracted);
                }
                catch (Exception e) when (e is InvalidDataException or IOException)
                {
                    return new PackageVerification(false, Path.GetFileName(path), $"not a readable zip file ({e.Message})", null, []);
                }

                return new PackageVerifier(extracted, anchors).Run();
            }
            finally
            {
                if (Directory.Exists(extracted))
                {
                    Directory.Delete(extracted, recursive: true);
                }
            }
        }

        return Directory.Exists(path)
            ? new PackageVerifier(path, anchors).Run()
            : new PackageVerification(false, path, "no such package directory or zip file", null, []);
    }

    /// <summary>A single root key: see <see cref="Verify(string, IEnumerable{SigningPublicKey})"/>.</summary>
    public static PackageVerification Verify(string path, SigningPublicKey rootKey) => Verify(path, [rootKey]);

    /// <summary>The manifest's file: fields in signing order, hashes in lower-case hex, the signature in base64; one exact layout.</summary>
    internal static byte[] WriteManifest(ExportManifest manifest)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartObject();
            json.WriteString("format", "globe-request-export");
            json.WriteNumber("formatVersion", manifest.FormatVersion);
            json.WriteString("requestId", manifest.RequestId.ToString());
            json.WriteString("exportedAt", manifest.ExportedAt.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", System.Globalization.CultureInfo.InvariantCulture));
            json.WriteString("exporterUserId", manifest.ExporterUserId.ToString());
            json.WriteString("exporterDeviceId", manifest.ExporterDeviceId.ToString());
            json.WriteStartArray("files");
            foreach (var file in manifest.Files)
            {
                json.WriteStartObject();
                json.WriteString("path", file.Path);
                json.WriteNumber("size", file.Size);
                json.WriteString("sha256", Convert.ToHexStringLower(file.Sha256));
                json.WriteEndObject();
            }

            json.WriteEndArray();
            json.WriteString("signature", Convert.ToBase64String(manifest.Signature));
            json.WriteEndObject();
        }

        buffer.WriteByte((byte)'\n');
        return buffer.ToArray();
    }

    /// <summary>Reads a manifest file; anything but the exact layout <see cref="WriteManifest"/> writes is refused.</summary>
    internal static ExportManifest ReadManifest(byte[] bytes)
    {
        using var document = JsonDocument.Parse(bytes);
        var root = document.RootElement;
        if (root.GetProperty("format").GetString() != "globe-request-export")
        {
            throw new FormatException("it is not a GlobeSecure request export manifest");
        }

        var files = root.GetProperty("files").EnumerateArray()
            .Select(f => new ManifestFile(f.GetProperty("path").GetString()!, f.GetProperty("size").GetInt64(),
                Convert.FromHexString(f.GetProperty("sha256").GetString()!)))
            .ToList();
        var manifest = new ExportManifest(root.GetProperty("formatVersion").GetInt64(), Guid.Parse(root.GetProperty("requestId").GetString()!),
            DateTimeOffset.Parse(root.GetProperty("exportedAt").GetString()!, System.Globalization.CultureInfo.InvariantCulture,
                System.Globalization.DateTimeStyles.AssumeUniversal | System.Globalization.DateTimeStyles.AdjustToUniversal),
            Guid.Parse(root.GetProperty("exporterUserId").GetString()!), Guid.Parse(root.GetProperty("exporterDeviceId").GetString()!), files,
            Convert.FromBase64String(root.GetProperty("signature").GetString()!));
        if (!WriteManifest(manifest).AsSpan().SequenceEqual(bytes))
        {
            throw new FormatException("it is not in the exact layout this format writes (a byte was changed, added or removed)");
        }

        return manifest;
    }

    /// <summary>An epoch's file: the signed distribution as served and the key in base64.</summary>
    internal static byte[] WriteEpoch(V1.EpochKeyDistribution distribution, byte[] key)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartObject();
            json.WritePropertyName("distribution");
            json.WriteRawValue(Formatter.Format(distribution));
            json.WriteString("key", Convert.ToBase64String(key));
            json.WriteEndObject();
        }

        buffer.WriteByte((byte)'\n');
        return buffer.ToArray();
    }

    internal static (V1.EpochKeyDistribution Distribution, byte[] Key) ReadEpoch(byte[] bytes)
    {
        using var document = JsonDocument.Parse(bytes);
        var root = document.RootElement;
        return (Parser.Parse<V1.EpochKeyDistribution>(root.GetProperty("distribution").GetRawText()),
            Convert.FromBase64String(root.GetProperty("key").GetString()!));
    }

    internal static byte[] WriteProto(IMessage message) => Encoding.UTF8.GetBytes(Formatter.Format(message) + "\n");

    internal static T ReadProto<T>(byte[] bytes)
        where T : IMessage<T>, new() => Parser.Parse<T>(Encoding.UTF8.GetString(bytes));

    /// <summary>SHA-256 and length of a file, read once.</summary>
    internal static ManifestFile Describe(string root, string relativePath)
    {
        using var stream = File.OpenRead(Path.Combine(root, relativePath));
        var hash = SHA256.HashData(stream);
        return new ManifestFile(relativePath, stream.Length, hash);
    }

    /// <summary>Every file under <paramref name="root"/> as a '/'-separated relative path.</summary>
    internal static List<string> ListFiles(string root) =>
        [.. Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(root, f).Replace(Path.DirectorySeparatorChar, '/'))
            .Order(StringComparer.Ordinal)];
}

/// <summary>
/// The result of <see cref="RequestPackage.Verify(string, IEnumerable{SigningPublicKey})"/>: valid, or the first
/// problem with the file it is in; and what was checked.
/// </summary>
/// <param name="IsValid">True when every check passed.</param>
/// <param name="File">The package file the first problem is in (a '/'-separated relative path), when invalid.</param>
/// <param name="Problem">What failed there, when invalid.</param>
/// <param name="RequestId">The request the manifest names, once it was read.</param>
/// <param name="Checks">What was checked, in order (the last one failed when invalid).</param>
public sealed record PackageVerification(bool IsValid, string? File, string? Problem, Guid? RequestId, IReadOnlyList<string> Checks)
{
    /// <summary>Throws <see cref="PackageVerificationException"/> unless the package verified.</summary>
    public void ThrowIfInvalid()
    {
        if (!IsValid)
        {
            throw new PackageVerificationException(this);
        }
    }

    /// <inheritdoc />
    public override string ToString() => IsValid ? $"package of request {RequestId} verified ({Checks.Count} checks)" : $"{File}: {Problem}";
}

/// <summary>A package that does not verify; <see cref="Result"/> names the first problem.</summary>
public sealed class PackageVerificationException(PackageVerification result)
    : Exception($"The export package does not verify: {result?.File}: {result?.Problem}")
{
    /// <summary>The verification's result.</summary>
    public PackageVerification Result { get; } = result ?? throw new ArgumentNullException(nameof(result));
}
