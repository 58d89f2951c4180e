using Npgsql;

namespace GlobeSecure.EventStore;

/// <summary>
/// Wakes subscribers when events are committed: locally right after this process commits, and
/// through PostgreSQL LISTEN/NOTIFY for commits made by any other process. A wake-up only says
/// "read again"; subscribers always catch up by position, so a missed or duplicated
/// notification costs latency, never correctness.
/// </summary>
/// <remarks>
/// The NOTIFY is sent after the commit, on its own connection, and coalesced: at most one per
/// <see cref="PublishInterval"/>, commits meanwhile sharing the next one. A NOTIFY inside every
/// append's transaction cost a lone writer about a fifth of its throughput (ops/bench.sh), and
/// one per commit on the side still competed for the database's CPU. If this process dies
/// between commit and NOTIFY, other processes' subscribers still read the events at their next
/// poll.
/// </remarks>
internal sealed class ChangeNotifier : IAsyncDisposable
{
    private readonly NpgsqlDataSource _dataSource;
    private readonly string _channel;
    private readonly CancellationToken _stopping;
    private readonly Lock _gate = new();
    private TaskCompletionSource _next = NewSignal();
    private Task? _listener;
    /// <summary>The longest a commit waits for its NOTIFY to other processes, under load.</summary>
    internal static readonly TimeSpan PublishInterval = TimeSpan.FromMilliseconds(2);

    private int _publishRequested;
    private int _publishing;
    private Task _publisher = Task.CompletedTask;

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

    /// <summary>Asks for a NOTIFY to other processes; returns at once.</summary>
    public void Publish()
    {
        Volatile.Write(ref _publishRequested, 1);
        if (Interlocked.CompareExchange(ref _publishing, 1, 0) == 0)
        {
            _publisher = Task.Run(PublishLoopAsync);
        }
    }

    private async Task PublishLoopAsync()
    {
        while (true)
        {
            while (Interlocked.Exchange(ref _publishRequested, 0) == 1 && !_stopping.IsCancellationRequested)
            {
                try
                {
                    await using var command = _dataSource.CreateCommand("select pg_notify($1, '')");
                    command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = _channel });
                    await command.ExecuteNonQueryAsync(_stopping);
                }
                catch (Exception ex) when (ex is NpgsqlException or IOException or TimeoutException or OperationCanceledException)
                {
                    // Other processes' subscribers poll; the next commit publishes again.
                }

                // Commits during this pause share the next NOTIFY: at most one per interval, so
                // a busy writer does not spend the database's CPU on one NOTIFY per commit.
                try
                {
                    await Task.Delay(PublishInterval, _stopping);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }

            Volatile.Write(ref _publishing, 0);
            // A request that arrived after the loop's last check but before the release above
            // would otherwise wait for the next commit: take the lead again if there is one.
            if (Volatile.Read(ref _publishRequested) == 0 || Interlocked.CompareExchange(ref _publishing, 1, 0) != 0)
            {
                return;
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await _publisher;
        }
        catch (OperationCanceledException)
        {
        }

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
