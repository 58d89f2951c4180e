using Npgsql;

namespace GlobeSecure.EventStore;

/// <summary>
/// Wakes subscribers when events are committed: locally right after this process commits, and
/// through PostgreSQL LISTEN/NOTIFY for commits made by any other process. A wake-up only says
/// "read again"; subscribers always catch up by position, so a missed or duplicated
/// notification costs latency, never correctness.
/// </summary>
internal sealed class ChangeNotifier : IAsyncDisposable
{
    private readonly NpgsqlDataSource _dataSource;
    private readonly string _channel;
    private readonly CancellationToken _stopping;
    private readonly Lock _gate = new();
    private TaskCompletionSource _next = NewSignal();
    private Task? _listener;

    public ChangeNotifier(NpgsqlDataSource dataSource, string channel, CancellationToken stopping)
    {
        _dataSource = dataSource;
        _channel = channel;
        _stopping = stopping;
    }

    /// <summary>Completes at the next wake-up after it was taken.</summary>
    public Task NextSignal
    {
        get
        {
            lock (_gate)
            {
                return _next.Task;
            }
        }
    }

    public void EnsureListening()
    {
        lock (_gate)
        {
            _listener ??= Task.Run(ListenAsync);
        }
    }

    public void SignalLocal()
    {
        TaskCompletionSource fired;
        lock (_gate)
        {
            fired = _next;
            _next = NewSignal();
        }

        fired.TrySetResult();
    }

    public async ValueTask DisposeAsync()
    {
        Task? listener;
        lock (_gate)
        {
            listener = _listener;
        }

        if (listener is not null)
        {
            try
            {
                await listener;
            }
            catch (OperationCanceledException)
            {
            }
        }
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private async Task ListenAsync()
    {
        var delay = TimeSpan.FromMilliseconds(100);
        while (!_stopping.IsCancellationRequested)
        {
            try
            {
                await using var connection = await _dataSource.OpenConnectionAsync(_stopping);
                connection.Notification += (_, _) => SignalLocal();
                await using (var listen = new NpgsqlCommand($"listen \"{_channel}\"", connection))
                {
                    await listen.ExecuteNonQueryAsync(_stopping);
                }

                // Anything committed while we were not listening is picked up by this wake-up.
                SignalLocal();
                delay = TimeSpan.FromMilliseconds(100);
                while (!_stopping.IsCancellationRequested)
                {
                    await connection.WaitAsync(_stopping);
                }
            }
            catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is NpgsqlException or IOException or TimeoutException)
            {
                // The database went away: subscribers keep polling meanwhile; retry with backoff.
                try
                {
                    await Task.Delay(delay, _stopping);
                }
                catch (OperationCanceledException)
                {
                    return;
                }

                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(5).Ticks));
            }
        }
    }
}
