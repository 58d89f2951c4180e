using GlobeSecure.Server.Infrastructure;

namespace GlobeSecure.Server.Tests;

/// <summary>The background passes' loop (overdue marking, document cleanup), on a clock that reports the waits it is asked for.</summary>
public sealed class PeriodicPassTests
{
    /// <summary>Real time, but tells the test each timer it creates (Task.Delay's wait) and its due time.</summary>
    private sealed class WatchedClock : TimeProvider
    {
        public TaskCompletionSource<TimeSpan> FirstWait { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        {
            FirstWait.TrySetResult(dueTime);
            return base.CreateTimer(callback, state, dueTime, period);
        }
    }

    [Theory]
    [InlineData(60)]
    [InlineData(365)]
    [InlineData(3650)]
    public async Task RunAsync_IntervalLongerThanATimerAccepts_WaitsWithoutFailingOrRunningThePass(int days)
    {
        var clock = new WatchedClock();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        var failures = new List<Exception>();
        var passes = 0;
        var failed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        var loop = PeriodicPass.RunAsync(() => TimeSpan.FromDays(days), clock, _ =>
        {
            passes++;
            return Task.CompletedTask;
        }, e =>
        {
            // Before the fix, Task.Delay refused the interval at once and the loop spun on this callback.
            failures.Add(e);
            failed.TrySetResult();
            stop.Cancel();
        }, stop.Token);
        var first = await Task.WhenAny(clock.FirstWait.Task, failed.Task);
        await stop.CancelAsync();
        await loop;

        Assert.Empty(failures);
        Assert.Same(clock.FirstWait.Task, first);
        Assert.InRange(await clock.FirstWait.Task, TimeSpan.FromDays(1), TimeSpan.FromDays(days));
        Assert.Equal(0, passes);
    }
}
