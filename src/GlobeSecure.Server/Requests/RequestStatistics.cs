namespace GlobeSecure.Server.Requests;

/// <summary>
/// What statistics know of one request: metadata only (parties, their States, urgency, stage,
/// times and overdue marks), never content. Countries are ISO 3166-1 alpha-2 codes of the
/// authorities' States.
/// </summary>
internal sealed record RequestSummary(Guid RequestId, Guid RequestingAuthorityId, string RequestingCountry, Guid RequestedAuthorityId, string RequestedCountry,
    UrgencyLevel Urgency, RequestStage Stage, bool Spontaneous, DateTimeOffset? SentAt, DateTimeOffset? AcknowledgedAt, DateTimeOffset? AnsweredAt,
    bool AcknowledgeOverdue, bool AnswerOverdue)
{
    /// <summary>The summary of a request's state; the countries come from the authorities directory.</summary>
    public static RequestSummary Of(RequestState state, string requestingCountry, string requestedCountry)
    {
        var draft = state.Draft ?? throw new ArgumentException("The request does not exist.", nameof(state));
        return new RequestSummary(draft.RequestId, draft.RequestingAuthorityId, requestingCountry, draft.RequestedAuthorityId, requestedCountry, draft.Urgency,
            state.Stage, draft.Spontaneous, state.SentAt, state.AcknowledgedAt, state.FirstAnswerAt, state.AcknowledgeOverdue, state.AnswerOverdue);
    }
}

/// <summary>Requests sent from <see cref="From"/> (inclusive) to <see cref="To"/> (exclusive); null ends are open.</summary>
internal sealed record StatisticsPeriod(DateTimeOffset? From, DateTimeOffset? To)
{
    public static StatisticsPeriod All { get; } = new(null, null);

    public bool Contains(DateTimeOffset sentAt) => (From is not { } from || sentAt >= from) && (To is not { } to || sentAt < to);
}

/// <summary>Whether a group is one authority or one State.</summary>
internal enum StatisticsScope
{
    Authority = 1,
    Country = 2,
}

/// <summary>A group: an authority (its id) or a State (its code), as requesting or as requested party.</summary>
internal sealed record StatisticsKey(StatisticsScope Scope, RequestSide As, string Id);

/// <summary>How many durations were measured, and their median and 90th percentile (nearest rank; null when none).</summary>
internal sealed record DurationFigures(int Count, TimeSpan? Median, TimeSpan? Percentile90);

/// <summary>The figures of one group.</summary>
internal sealed record RequestFigures(int Total, IReadOnlyDictionary<RequestStage, int> ByStage, IReadOnlyDictionary<UrgencyLevel, int> ByUrgency,
    DurationFigures TimeToAcknowledge, DurationFigures TimeToAnswer, int AcknowledgeOverdue, int AnswerOverdue);

/// <summary>
/// Statistics of information requests from metadata only (docs/requests.md, "Statistics"). Pure:
/// drafts are not counted; a request belongs to the period its sending falls in; time to
/// acknowledge is acknowledged − sent, time to answer is the first (full or partial) answer − sent;
/// percentiles use the nearest-rank method, so every figure is an observed duration.
/// </summary>
internal static class RequestStatistics
{
    /// <summary>Figures per authority and per State, as requesting and as requested party, ordered by scope, side and id.</summary>
    public static IReadOnlyList<KeyValuePair<StatisticsKey, RequestFigures>> Compute(IEnumerable<RequestSummary> requests, StatisticsPeriod period)
    {
        var counted = requests.Where(r => r.SentAt is { } sent && period.Contains(sent)).ToList();
        return
        [
            .. counted
                .SelectMany(r => new[]
                {
                    (Key: new StatisticsKey(StatisticsScope.Authority, RequestSide.Requesting, r.RequestingAuthorityId.ToString()), Request: r),
                    (Key: new StatisticsKey(StatisticsScope.Authority, RequestSide.Requested, r.RequestedAuthorityId.ToString()), Request: r),
                    (Key: new StatisticsKey(StatisticsScope.Country, RequestSide.Requesting, r.RequestingCountry), Request: r),
                    (Key: new StatisticsKey(StatisticsScope.Country, RequestSide.Requested, r.RequestedCountry), Request: r),
                })
                .GroupBy(p => p.Key, p => p.Request)
                .OrderBy(g => g.Key.Scope).ThenBy(g => g.Key.As).ThenBy(g => g.Key.Id, StringComparer.Ordinal)
                .Select(g => KeyValuePair.Create(g.Key, Figures(g))),
        ];
    }

    /// <summary>The figures of one group of sent requests.</summary>
    public static RequestFigures Figures(IEnumerable<RequestSummary> group)
    {
        var requests = group.ToList();
        return new RequestFigures(
            requests.Count,
            requests.GroupBy(r => r.Stage).OrderBy(g => g.Key).ToDictionary(g => g.Key, g => g.Count()),
            requests.GroupBy(r => r.Urgency).OrderBy(g => g.Key).ToDictionary(g => g.Key, g => g.Count()),
            Durations(requests.Select(r => r.AcknowledgedAt - r.SentAt)),
            Durations(requests.Where(r => !r.Spontaneous).Select(r => r.AnsweredAt - r.SentAt)),
            requests.Count(r => r.AcknowledgeOverdue),
            requests.Count(r => r.AnswerOverdue));
    }

    /// <summary>
    /// The nearest-rank percentile <paramref name="percent"/> (1 to 100) of ascending
    /// <paramref name="sorted"/>: the value at rank ⌈percent/100 × n⌉; null when empty.
    /// </summary>
    public static TimeSpan? Percentile(IReadOnlyList<TimeSpan> sorted, int percent)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(percent, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(percent, 100);
        if (sorted.Count == 0)
        {
            return null;
        }

        // ⌈percent × n / 100⌉ in integers: no floating-point rounding at exact ranks.
        var rank = ((percent * sorted.Count) + 99) / 100;
        return sorted[rank - 1];
    }

    private static DurationFigures Durations(IEnumerable<TimeSpan?> measured)
    {
        List<TimeSpan> sorted = [.. measured.OfType<TimeSpan>().Order()];
        return new DurationFigures(sorted.Count, Percentile(sorted, 50), Percentile(sorted, 90));
    }
}
