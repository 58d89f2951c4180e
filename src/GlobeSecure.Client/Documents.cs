namespace GlobeSecure.Client;

/// <summary>How far a document upload or download has got.</summary>
/// <param name="Bytes">Plaintext bytes transferred (after a resume: from where it resumed).</param>
/// <param name="Total">Plaintext bytes in all.</param>
/// <param name="BytesPerSecond">Average rate of this transfer so far.</param>
/// <param name="Remaining">Estimated time left; null until the rate is known.</param>
/// <param name="Resumes">How many times the transfer resumed after a broken connection.</param>
public sealed record TransferProgress(long Bytes, long Total, double BytesPerSecond, TimeSpan? Remaining, int Resumes)
{
    /// <summary>Done, as a fraction from 0 to 1 (1 for an empty document).</summary>
    public double Fraction => Total == 0 ? 1 : (double)Bytes / Total;
}

/// <summary>
/// A document as a message carries it (AttachedDocument): what a reader needs to download it and
/// verify it is the file the sender signed. Holds the file key: keep it as secret as the message.
/// </summary>
/// <param name="DocumentId">The document.</param>
/// <param name="FileKey">Its 32-byte file key.</param>
/// <param name="PlaintextHash">BLAKE2b-256 of the plaintext.</param>
/// <param name="CiphertextHash">BLAKE2b-256 of the whole ciphertext the uploader sealed.</param>
/// <param name="PlaintextLength">The file's length in bytes.</param>
/// <param name="FileName">The file's base name as the sender had it.</param>
/// <param name="MediaType">Its MIME type.</param>
public sealed record DocumentAttachment(Guid DocumentId, byte[] FileKey, byte[] PlaintextHash, byte[] CiphertextHash, long PlaintextLength,
    string FileName, string MediaType)
{
    /// <summary>Ids and sizes only: never the key or the name.</summary>
    public override string ToString() => $"DocumentAttachment({DocumentId}, {PlaintextLength} bytes)";

    /// <summary>The plaintext hash in lower-case hex (to compare with a file's, e.g. from b2sum -l 256).</summary>
    public string PlaintextHashHex => Convert.ToHexStringLower(PlaintextHash);
}

/// <summary>A download that verified: every chunk, the signed ciphertext hash and the signed plaintext hash.</summary>
/// <param name="DocumentId">The document.</param>
/// <param name="Path">The file written.</param>
/// <param name="Length">Its length.</param>
/// <param name="PlaintextHash">Its BLAKE2b-256 (the signed one).</param>
public sealed record DownloadedDocument(Guid DocumentId, string Path, long Length, byte[] PlaintextHash);

/// <summary>Measures a transfer and tells its observer, at most every 100 ms.</summary>
internal sealed class TransferMeter(IProgress<TransferProgress>? progress, long total, TimeProvider clock)
{
    // Progress is told at most this often (and always at the end).
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(100);

    private readonly long _started = clock.GetTimestamp();
    private long _lastReport = long.MinValue;
    private long _bytes;
    private long _moved;
    private int _resumes;

    public void Resumed() => _resumes++;

    public void Report(long bytes, bool force = false)
    {
        if (bytes > _bytes)
        {
            _moved += bytes - _bytes;
        }

        _bytes = bytes;
        if (progress is null)
        {
            return;
        }

        var now = clock.GetTimestamp();
        if (!force && bytes < total && _lastReport != long.MinValue && clock.GetElapsedTime(_lastReport, now) < Interval)
        {
            return;
        }

        _lastReport = now;
        var elapsed = clock.GetElapsedTime(_started, now).TotalSeconds;
        var rate = elapsed > 0 ? _moved / elapsed : 0;
        TimeSpan? remaining = rate > 0 ? TimeSpan.FromSeconds(Math.Max(0, total - bytes) / rate) : null;
        progress.Report(new TransferProgress(bytes, total, rate, remaining, _resumes));
    }
}

/// <summary>A file's MIME type from its extension: the common evidence formats; application/octet-stream otherwise.</summary>
internal static class MediaTypes
{
    private static readonly Dictionary<string, string> ByExtension = new(StringComparer.OrdinalIgnoreCase)
    {
        [".pdf"] = "application/pdf",
        [".txt"] = "text/plain",
        [".csv"] = "text/csv",
        [".json"] = "application/json",
        [".xml"] = "application/xml",
        [".zip"] = "application/zip",
        [".7z"] = "application/x-7z-compressed",
        [".eml"] = "message/rfc822",
        [".jpg"] = "image/jpeg",
        [".jpeg"] = "image/jpeg",
        [".png"] = "image/png",
        [".tif"] = "image/tiff",
        [".tiff"] = "image/tiff",
        [".mp4"] = "video/mp4",
        [".mp3"] = "audio/mpeg",
        [".doc"] = "application/msword",
        [".docx"] = "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        [".xls"] = "application/vnd.ms-excel",
        [".xlsx"] = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    };

    public static string Guess(string path) => ByExtension.GetValueOrDefault(Path.GetExtension(path), GlobeClient.OctetStream);
}
