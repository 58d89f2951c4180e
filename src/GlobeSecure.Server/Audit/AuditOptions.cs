namespace GlobeSecure.Server.Audit;

/// <summary>Checkpoints and retention of the audit trail: section "Globe:Audit" (docs/audit.md).</summary>
internal sealed class AuditOptions
{
    public const string Section = "Globe:Audit";

    /// <summary>The shortest retention a server accepts, unless <see cref="AllowShortRetention"/> (tests only).</summary>
    public static readonly TimeSpan MinimumRetention = TimeSpan.FromDays(365);

    /// <summary>
    /// The file holding the server's Ed25519 checkpoint key seed (hex). Created with mode 0600 on the
    /// first start when missing. Default: <c>audit-checkpoint.key</c> in the per-user data directory
    /// (<c>$XDG_DATA_HOME/GlobeSecure</c> or <c>~/.local/share/GlobeSecure</c>). Replicas of one
    /// network share the same file. A new file is a key rotation: the earlier keys stay listed.
    /// </summary>
    public string? CheckpointKeyFile { get; set; }

    /// <summary>How often the head is signed when it has moved (default 15 min).</summary>
    public TimeSpan CheckpointInterval { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>How long entries are kept before the retention pass purges them (default 400 days; at least 365).</summary>
    public TimeSpan Retention { get; set; } = TimeSpan.FromDays(400);

    /// <summary>How often the retention pass runs (default 1 day).</summary>
    public TimeSpan RetentionInterval { get; set; } = TimeSpan.FromDays(1);

    /// <summary>Lets <see cref="Retention"/> be shorter than 365 days: for tests only.</summary>
    public bool AllowShortRetention { get; set; }

    internal bool IsValid => CheckpointInterval > TimeSpan.Zero && RetentionInterval > TimeSpan.Zero && Retention > TimeSpan.Zero
        && (AllowShortRetention || Retention >= MinimumRetention) && CheckpointKeyFile is null or { Length: > 0 };

    /// <summary>The key file to use: the configured one, or the per-user default.</summary>
    internal string KeyFilePath(IHostEnvironment environment)
    {
        if (!string.IsNullOrWhiteSpace(CheckpointKeyFile))
        {
            return Path.GetFullPath(CheckpointKeyFile, environment.ContentRootPath);
        }

        var data = Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData, Environment.SpecialFolderOption.DoNotVerify);
        return Path.Combine(string.IsNullOrEmpty(data) ? environment.ContentRootPath : Path.Combine(data, "GlobeSecure"), "audit-checkpoint.key");
    }
}
