namespace GlobeSecure.Server.Channels;

/// <summary>
/// When a channel's epoch is due for rotation: section "Globe:Channels". The server cannot
/// rotate (it holds no key); it reports <c>Channel.rotation_required</c> and members' clients
/// rotate.
/// </summary>
internal sealed class ChannelOptions
{
    public const string Section = "Globe:Channels";

    /// <summary>Messages after which the current epoch should be replaced (default 1000).</summary>
    public int RotateAfterMessages { get; set; } = 1000;

    /// <summary>Age after which the current epoch should be replaced (default 7 days).</summary>
    public TimeSpan RotateAfterAge { get; set; } = TimeSpan.FromDays(7);

    internal bool IsValid => RotateAfterMessages >= 1 && RotateAfterAge > TimeSpan.Zero;
}
