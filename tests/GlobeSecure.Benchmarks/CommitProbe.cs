using System.Diagnostics;
using System.Diagnostics.Metrics;
using GlobeSecure.EventStore;

namespace GlobeSecure.Benchmarks;

/// <summary>
/// Listens to the store's own <c>globe.eventstore.batch_size</c> histogram (one measurement per
/// group commit: how many appends it committed) while <see cref="Counting"/> is on, so the report
/// can say how many appends shared each commit, and times the store's <c>eventstore.commit</c>
/// activity (the single writer's work for one batch: two round trips and COMMIT).
/// </summary>
internal sealed class CommitProbe : IDisposable
{
    private const string BatchSizeInstrument = "globe.eventstore.batch_size";
    private const string CommitActivity = "eventstore.commit";

    private readonly MeterListener _listener = new();
    private readonly ActivityListener _activities;
    private long _commits;
    private long _timedCommits;
    private long _commitTicks;
    private long _appends;
    private long _largest;
    private volatile bool _counting;

    public CommitProbe()
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == PostgresEventStore.TelemetryName && instrument.Name == BatchSizeInstrument)
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<int>((_, value, _, _) => OnBatch(value));
        _listener.Start();

        _activities = new ActivityListener
        {
            ShouldListenTo = source => source.Name == PostgresEventStore.TelemetryName,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllData,
            ActivityStopped = activity =>
            {
                if (_counting && activity.OperationName == CommitActivity)
                {
                    Interlocked.Increment(ref _timedCommits);
                    Interlocked.Add(ref _commitTicks, activity.Duration.Ticks);
                }
            },
        };
        ActivitySource.AddActivityListener(_activities);
    }

    /// <summary>Whether commits are counted now (on during a measurement window only).</summary>
    public bool Counting
    {
        get => _counting;
        set => _counting = value;
    }

    /// <summary>Commits, appends committed, the largest batch and the total time spent committing since the last reset.</summary>
    public (long Commits, long Appends, long Largest, TimeSpan CommitTime) Snapshot()
    {
        var timed = Interlocked.Read(ref _timedCommits);
        var commits = Interlocked.Read(ref _commits);
        var ticks = Interlocked.Read(ref _commitTicks);

        // Scale the timed commits to the counted ones (the two signals switch on a hair apart).
        var time = timed == 0 ? TimeSpan.Zero : TimeSpan.FromTicks(ticks * commits / timed);
        return (commits, Interlocked.Read(ref _appends), Interlocked.Read(ref _largest), time);
    }

    public void Reset()
    {
        Interlocked.Exchange(ref _timedCommits, 0);
        Interlocked.Exchange(ref _commitTicks, 0);
        Interlocked.Exchange(ref _commits, 0);
        Interlocked.Exchange(ref _appends, 0);
        Interlocked.Exchange(ref _largest, 0);
    }

    public void Dispose()
    {
        _listener.Dispose();
        _activities.Dispose();
    }

    private void OnBatch(int size)
    {
        if (!_counting)
        {
            return;
        }

        Interlocked.Increment(ref _commits);
        Interlocked.Add(ref _appends, size);
        long seen;
        while (size > (seen = Interlocked.Read(ref _largest)) && Interlocked.CompareExchange(ref _largest, size, seen) != seen)
        {
        }
    }
}
