namespace GlobeSecure.Server.Infrastructure;

/// <summary>The loop of a background pass: wait an interval on the server's clock, run the pass, and survive a failed pass.</summary>
internal static class PeriodicPass
{
    /// <summary>
    /// Runs <paramref name="pass"/> every <paramref name="interval"/> (read before each wait, so a
    /// changed setting applies) until <paramref name="stoppingToken"/> is cancelled; a pass that
    /// throws is reported to <paramref name="failed"/> and the next pass tries again.
    /// </summary>
    public static async Task RunAsync(Func<TimeSpan> interval, TimeProvider clock, Func<CancellationToken, Task> pass, Action<Exception> failed,
        CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await WaitAsync(interval(), clock, stoppingToken);
                await pass(stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
#pragma warning disable CA1031 // A failed pass (database briefly away) must not stop the next one.
            catch (Exception e)
#pragma warning restore CA1031
            {
                failed(e);
            }
        }
    }

    // Task.Delay refuses more than about 49.7 days (it threw at once, and the loop spun on the
    // failure without waiting): a longer interval is waited in pieces.
    private static readonly TimeSpan LongestDelay = TimeSpan.FromDays(49);

    private static async Task WaitAsync(TimeSpan interval, TimeProvider clock, CancellationToken stoppingToken)
    {
        for (var left = interval; left > TimeSpan.Zero; left -= LongestDelay)
        {
            await Task.Delay(left < LongestDelay ? left : LongestDelay, clock, stoppingToken);
        }
    }
}
