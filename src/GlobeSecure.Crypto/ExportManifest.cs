namespace GlobeSecure.Crypto;

/// <summary>One file of an export package as its manifest lists it.</summary>
/// <param name="Path">Relative path inside the package, '/'-separated (never absolute, never "." or "..").</param>
/// <param name="Size">Length in bytes.</param>
/// <param name="Sha256">SHA-256 of the file's bytes (32 bytes), so that anyone can check it with common tools.</param>
public sealed record ManifestFile(string Path, long Size, byte[] Sha256)
{
    /// <summary>Length of a file hash in bytes.</summary>
    public const int HashBytes = 32;
}

/// <summary>
/// The signed table of contents of an export package (docs/protocol.md §9.1): which request, when,
/// by which user and device, and every file with its size and SHA-256. Signed bytes:
/// <c>globe/v1/export-manifest</c> then format version, request id, exported at, exporter user id,
/// exporter device id, file count n, and for each file in ascending ordinal order of its path:
/// path (text), size (int64), SHA-256 (bytes 32).
/// </summary>
public sealed record ExportManifest(
    long FormatVersion,
    Guid RequestId,
    DateTimeOffset ExportedAt,
    Guid ExporterUserId,
    Guid ExporterDeviceId,
    IReadOnlyList<ManifestFile> Files,
    byte[] Signature)
{
    /// <summary>Context string of export manifests.</summary>
    public const string Context = "globe/v1/export-manifest";

    /// <summary>The package format this library writes and reads.</summary>
    public const long CurrentFormatVersion = 1;

    /// <summary>The bytes the exporter signs.</summary>
    public byte[] SigningInput()
    {
        ArgumentNullException.ThrowIfNull(Files);
        var writer = new CanonicalWriter(Context, 256 + (Files.Count * 96))
            .Int64(FormatVersion)
            .Guid(RequestId)
            .Time(ExportedAt)
            .Guid(ExporterUserId)
            .Guid(ExporterDeviceId)
            .Int64(Files.Count);
        foreach (var file in Files)
        {
            writer.Text(file.Path).Int64(file.Size).Bytes(file.Sha256);
        }

        return writer.ToArray();
    }

    /// <summary>
    /// Signs a manifest by the exporting device: the files are put in ascending ordinal order of
    /// their paths and the time is truncated to microseconds, so the object carries exactly what
    /// was signed.
    /// </summary>
    public static ExportManifest Sign(Guid requestId, DateTimeOffset exportedAt, Guid exporterUserId, DeviceKeys exporter,
        IEnumerable<ManifestFile> files)
    {
        ArgumentNullException.ThrowIfNull(exporter);
        ArgumentNullException.ThrowIfNull(files);
        var sorted = files.OrderBy(f => f.Path, StringComparer.Ordinal).ToList();
        CheckFiles(sorted);
        var unsigned = new ExportManifest(CurrentFormatVersion, requestId, CanonicalWriter.TruncateToMicroseconds(exportedAt), exporterUserId,
            exporter.DeviceId, sorted, []);
        return unsigned with { Signature = exporter.Sign(unsigned.SigningInput()) };
    }

    /// <summary>
    /// Checks that <paramref name="exporter"/> (a verified certificate) is the device and user the
    /// manifest names, that the files are well formed and in order, and that the signature verifies.
    /// </summary>
    public void Verify(VerifiedDevice exporter)
    {
        ArgumentNullException.ThrowIfNull(exporter);
        if (exporter.DeviceId != ExporterDeviceId || exporter.UserId != ExporterUserId)
        {
            throw new SenderMismatchException(
                $"The manifest names exporter device {ExporterDeviceId}, but the certificate given is for device {exporter.DeviceId}.");
        }

        if (FormatVersion != CurrentFormatVersion)
        {
            throw new MalformedInputException($"Export package format {FormatVersion} is not supported (this library reads {CurrentFormatVersion}).");
        }

        CheckFiles(Files);
        if (!exporter.SigningKey.Verify(SigningInput(), Signature))
        {
            throw new SignatureInvalidException("export manifest");
        }
    }

    /// <summary>Whether a package path is acceptable: relative, '/'-separated, no empty, "." or ".." segment, no backslash or control character.</summary>
    public static bool IsValidPath(string path) =>
        !string.IsNullOrEmpty(path) && path.Length <= 1024 && !path.Contains('\\', StringComparison.Ordinal) && !path.Any(char.IsControl)
        && path.Split('/').All(s => s.Length > 0 && s != "." && s != "..");

    private static void CheckFiles(IReadOnlyList<ManifestFile> files)
    {
        for (var i = 0; i < files.Count; i++)
        {
            var file = files[i] ?? throw new MalformedInputException($"Manifest file {i} is missing.");
            if (!IsValidPath(file.Path))
            {
                throw new MalformedInputException($"Manifest file {i} has an unacceptable path (absolute, empty segment, '.', '..', backslash or control character).");
            }

            if (file.Size < 0)
            {
                throw new MalformedInputException($"Manifest file {file.Path} has a negative size.");
            }

            if (file.Sha256 is not { Length: ManifestFile.HashBytes })
            {
                throw new MalformedInputException($"Manifest file {file.Path}'s SHA-256 is not {ManifestFile.HashBytes} bytes.");
            }

            if (i > 0 && string.CompareOrdinal(files[i - 1].Path, file.Path) >= 0)
            {
                throw new MalformedInputException($"Manifest files are not in strictly ascending order of path at {file.Path} (repeated or out of order).");
            }
        }
    }
}
