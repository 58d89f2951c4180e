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
                await Task.Delay(interval(), clock, stoppingToken);
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
}
