using GlobeSecure.EventStore;
using GlobeSecure.Server.Infrastructure;
using Microsoft.Extensions.Options;

namespace GlobeSecure.Server.Requests;

/// <summary>
/// Every <see cref="RequestOverdueOptions.Interval"/>: marks requests whose acknowledge or answer
/// deadline passed, one event per deadline, decided by <see cref="RequestDecider.OverdueAt"/> on
/// the stream (so a mark is recorded once, even with several processes or a reply racing it:
/// the append is conditioned on the version it decided on). Audited as the server's own action.
/// </summary>
internal sealed partial class RequestOverdue(PostgresEventStore store, RequestReadModel read, TimeProvider clock, IOptions<RequestOverdueOptions> options,
    ILogger<RequestOverdue> logger) : BackgroundService
{
    private const int PageSize = 200;

    /// <summary>The audited action of an overdue mark.</summary>
    public const string MarkAction = "globesecure.requests/mark-overdue";

    /// <summary>One pass, as of the clock's now; returns how many overdue marks it recorded.</summary>
    public async Task<int> RunOnceAsync(CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow();
        var marked = 0;
        foreach (var requestId in await read.OverdueCandidatesAsync(now, PageSize, cancellationToken))
        {
            var streamId = RequestDecider.StreamId(requestId);
            var (state, version) = await store.AggregateStreamAsync(streamId, RequestState.Initial, RequestDecider.Evolve, cancellationToken);
            var events = RequestDecider.OverdueAt(state, now);
            if (events.Count == 0)
            {
                continue;
            }

            var audit = new AuditEntry(Guid.CreateVersion7(), now, MarkAction, AuditOutcome.Allowed, Target: requestId.ToString());
            try
            {
                await store.AppendAsync(streamId, ExpectedVersion.Exactly(version), [.. events.Select(NewEvent.From)], audit, cancellationToken: cancellationToken);
                marked += events.Count;
            }
            catch (WrongExpectedVersionException)
            {
                // A reply or another process's pass got there first; the next pass decides again.
            }
        }

        if (marked > 0)
        {
            LogPass(logger, marked);
        }

        return marked;
    }

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        PeriodicPass.RunAsync(() => options.Value.Interval, clock, RunOnceAsync, e => LogPassFailed(logger, e), stoppingToken);

    [LoggerMessage(EventId = 7100, Level = LogLevel.Information, Message = "Request overdue pass: {Marked} deadline(s) marked overdue")]
    private static partial void LogPass(ILogger logger, int marked);

    [LoggerMessage(EventId = 7101, Level = LogLevel.Warning, Message = "Request overdue pass failed; the next pass tries again")]
    private static partial void LogPassFailed(ILogger logger, Exception exception);
}

/// <summary>Section "Globe:Requests:Overdue": how often the overdue pass runs.</summary>
internal sealed class RequestOverdueOptions
{
    public const string Section = "Globe:Requests:Overdue";

    public TimeSpan Interval { get; set; } = TimeSpan.FromMinutes(1);
}
