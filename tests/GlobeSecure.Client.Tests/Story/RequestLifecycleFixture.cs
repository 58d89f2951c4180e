using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace GlobeSecure.Client.Tests.Story;

/// <summary>
/// The server's clock in the request lifecycle story: real time until the scenario stops it, then
/// it moves only when the test advances it, so every duration between two times the server records
/// is exactly the sum of the advances in between. Certificates and sessions made before the stop
/// stay valid (it stops at about the real time); a session that expires as the clock moves is
/// renewed by the client on the server's UNAUTHENTICATED answer.
/// </summary>
internal sealed class ScenarioClock : TimeProvider
{
    private readonly Lock _gate = new();
    private DateTimeOffset? _stopped;

    public override DateTimeOffset GetUtcNow()
    {
        lock (_gate)
        {
            return _stopped ?? TimeProvider.System.GetUtcNow();
        }
    }

    /// <summary>Stops the clock at the current whole second (once); returns the time it shows.</summary>
    public DateTimeOffset Stop()
    {
        lock (_gate)
        {
            var now = TimeProvider.System.GetUtcNow();
            _stopped ??= new DateTimeOffset(now.UtcTicks - (now.UtcTicks % TimeSpan.TicksPerSecond), TimeSpan.Zero);
            return _stopped.Value;
        }
    }

    /// <summary>Moves the stopped clock forward; returns the time it shows.</summary>
    public DateTimeOffset Advance(TimeSpan by)
    {
        lock (_gate)
        {
            _stopped = (_stopped ?? throw new InvalidOperationException("Stop the clock before advancing it.")) + by;
            return _stopped.Value;
        }
    }
}

/// <summary>
/// The story server on a database of its own (so statistics count only this story) with the
/// <see cref="ScenarioClock"/>. Emergency requests get the default 8 hours to be acknowledged but a
/// day to be answered, so that an unacknowledged one is overdue on one deadline and not the other;
/// the overdue pass runs only when the test runs it.
/// </summary>
public sealed class RequestLifecycleFixture : StoryServerFixture
{
    internal ScenarioClock Clock { get; } = new();

    protected override void Configure(WebApplicationBuilder builder)
    {
        base.Configure(builder);
        builder.Services.AddSingleton<TimeProvider>(Clock);
        builder.Configuration["Globe:Requests:Deadlines:Emergency:Answer"] = "1.00:00:00";
        builder.Configuration["Globe:Requests:Overdue:Interval"] = "365.00:00:00";
    }
}
