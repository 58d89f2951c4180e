namespace GlobeSecure.Server.Documents;

/// <summary>Limits and lifetimes of encrypted documents: section "Globe:Documents" (docs/operations.md).</summary>
internal sealed class DocumentOptions
{
    public const string Section = "Globe:Documents";

    /// <summary>Largest ciphertext (header plus chunks) one document may declare (default 10 GiB).</summary>
    public long MaxDocumentBytes { get; set; } = 10L * 1024 * 1024 * 1024;

    /// <summary>Bytes one authority's UPLOADING and SEALED documents may reserve together (default 100 GiB).</summary>
    public long AuthorityQuotaBytes { get; set; } = 100L * 1024 * 1024 * 1024;

    /// <summary>How long an upload may stay unsealed before it expires and its chunks are deleted (default 24 h).</summary>
    public TimeSpan UploadExpiry { get; set; } = TimeSpan.FromHours(24);

    /// <summary>Days a sealed document is kept before it is deleted; 0 keeps documents (default).</summary>
    public int RetentionDays { get; set; }

    /// <summary>How often the cleanup pass runs (default 1 min).</summary>
    public TimeSpan CleanupInterval { get; set; } = TimeSpan.FromMinutes(1);

    internal bool IsValid => MaxDocumentBytes > 0 && AuthorityQuotaBytes > 0 && UploadExpiry > TimeSpan.Zero && RetentionDays >= 0
        && CleanupInterval > TimeSpan.Zero;
}
