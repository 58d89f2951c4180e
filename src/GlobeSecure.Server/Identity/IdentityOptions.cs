namespace GlobeSecure.Server.Identity;

/// <summary>Lifetimes and limits of the Identity feature: section "Globe:Identity".</summary>
internal sealed class IdentityOptions
{
    public const string Section = "Globe:Identity";

    /// <summary>How long an enrolment code stays usable (default 72 h).</summary>
    public TimeSpan EnrolmentCodeLifetime { get; set; } = TimeSpan.FromHours(72);

    /// <summary>How long the bootstrap code stays usable (default 24 h).</summary>
    public TimeSpan BootstrapCodeLifetime { get; set; } = TimeSpan.FromHours(24);

    /// <summary>How long a session token is valid (default 15 min).</summary>
    public TimeSpan SessionLifetime { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>How long an authentication challenge may be answered (default 2 min).</summary>
    public TimeSpan ChallengeLifetime { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>Failed authentications allowed per client address within <see cref="FailureWindow"/> (default 5), whichever devices they named.</summary>
    public int MaxFailures { get; set; } = 5;

    /// <summary>The window in which failures are counted (default 5 min).</summary>
    public TimeSpan FailureWindow { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>What is wrong with the settings, if anything (checked at start-up).</summary>
    internal IEnumerable<string> Problems()
    {
        if (EnrolmentCodeLifetime <= TimeSpan.Zero || BootstrapCodeLifetime <= TimeSpan.Zero || SessionLifetime <= TimeSpan.Zero
            || ChallengeLifetime <= TimeSpan.Zero || FailureWindow <= TimeSpan.Zero)
        {
            yield return "Globe:Identity lifetimes and windows must be positive durations, e.g. 00:15:00.";
        }

        if (MaxFailures < 1)
        {
            yield return $"Globe:Identity:MaxFailures must be at least 1, not {MaxFailures}.";
        }
    }
}
