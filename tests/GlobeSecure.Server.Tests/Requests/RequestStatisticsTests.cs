using GlobeSecure.Server.Requests;

namespace GlobeSecure.Server.Tests.Requests;

/// <summary>
/// Statistics figures on a small scenario worked out by hand: France (authorities A1, A2) asks
/// Germany (B1) three times in November, Germany asks A1 once, A1 asked Italy (C1) in October, and
/// A1 holds an unsent draft.
/// </summary>
public sealed class RequestStatisticsTests
{
    private static readonly DateTimeOffset November = new(2026, 11, 2, 9, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset October = new(2026, 10, 5, 9, 0, 0, TimeSpan.Zero);
    private static readonly StatisticsPeriod InNovember = new(new DateTimeOffset(2026, 11, 1, 0, 0, 0, TimeSpan.Zero), new DateTimeOffset(2026, 12, 1, 0, 0, 0, TimeSpan.Zero));
    private static readonly TimeSpan Hour = TimeSpan.FromHours(1);
    private static readonly TimeSpan Day = TimeSpan.FromDays(1);
    private readonly Guid _a1 = Guid.CreateVersion7();
    private readonly Guid _a2 = Guid.CreateVersion7();
    private readonly Guid _b1 = Guid.CreateVersion7();
    private readonly Guid _c1 = Guid.CreateVersion7();

    private RequestSummary Summary(Guid from, string fromCountry, Guid to, string toCountry, UrgencyLevel urgency, RequestStage stage, DateTimeOffset? sent,
        TimeSpan? acknowledgedAfter = null, TimeSpan? answeredAfter = null, bool acknowledgeOverdue = false, bool answerOverdue = false) =>
        new(Guid.CreateVersion7(), from, fromCountry, to, toCountry, urgency, stage, false, sent, sent + acknowledgedAfter, sent + answeredAfter,
            acknowledgeOverdue, answerOverdue);

    private List<RequestSummary> Scenario() =>
    [
        // r1: answered in 3 days, acknowledged after 1 day, closed.
        Summary(_a1, "FR", _b1, "DE", UrgencyLevel.Normal, RequestStage.Closed, November, Day, 3 * Day),
        // r2: acknowledged after 2 hours, partially answered after 1 day.
        Summary(_a1, "FR", _b1, "DE", UrgencyLevel.Urgent, RequestStage.PartiallyAnswered, November, 2 * Hour, Day),
        // r3: never acknowledged, both deadlines marked overdue.
        Summary(_a2, "FR", _b1, "DE", UrgencyLevel.Emergency, RequestStage.Sent, November, acknowledgeOverdue: true, answerOverdue: true),
        // r4: Germany asks A1: acknowledged after 4 days, then declined (no answer time).
        Summary(_b1, "DE", _a1, "FR", UrgencyLevel.Normal, RequestStage.Declined, November, 4 * Day),
        // r5: October, outside the November period: acknowledged after 1 day, answered after 2.
        Summary(_a1, "FR", _c1, "IT", UrgencyLevel.Normal, RequestStage.Answered, October, Day, 2 * Day),
        // r6: a draft is never counted.
        Summary(_a1, "FR", _b1, "DE", UrgencyLevel.Normal, RequestStage.Draft, null),
    ];

    private static RequestFigures Of(IReadOnlyList<KeyValuePair<StatisticsKey, RequestFigures>> groups, StatisticsScope scope, RequestSide side, string id) =>
        Assert.Single(groups, g => g.Key == new StatisticsKey(scope, side, id)).Value;

    [Fact]
    public void Compute_FranceAsRequestingInNovember_CountsAndTimesMatchTheScenario()
    {
        var france = Of(RequestStatistics.Compute(Scenario(), InNovember), StatisticsScope.Country, RequestSide.Requesting, "FR");

        Assert.Equal(3, france.Total);
        Assert.Equal(new Dictionary<RequestStage, int> { [RequestStage.Sent] = 1, [RequestStage.PartiallyAnswered] = 1, [RequestStage.Closed] = 1 }, france.ByStage);
        Assert.Equal(new Dictionary<UrgencyLevel, int> { [UrgencyLevel.Normal] = 1, [UrgencyLevel.Urgent] = 1, [UrgencyLevel.Emergency] = 1 }, france.ByUrgency);
        // Acknowledged: 2 h, 1 d (r3 never) → median rank ⌈0.5×2⌉ = 1 → 2 h; p90 rank ⌈0.9×2⌉ = 2 → 1 d.
        Assert.Equal(new DurationFigures(2, 2 * Hour, Day), france.TimeToAcknowledge);
        // Answered (first answer, partial counts): 1 d, 3 d.
        Assert.Equal(new DurationFigures(2, Day, 3 * Day), france.TimeToAnswer);
        Assert.Equal((1, 1), (france.AcknowledgeOverdue, france.AnswerOverdue));
    }

    [Fact]
    public void Compute_GermanyAsRequestedInNovember_MirrorsFranceAsRequesting()
    {
        var groups = RequestStatistics.Compute(Scenario(), InNovember);

        var germany = Of(groups, StatisticsScope.Country, RequestSide.Requested, "DE");
        var b1 = Of(groups, StatisticsScope.Authority, RequestSide.Requested, _b1.ToString());

        Assert.Equal((3, new DurationFigures(2, 2 * Hour, Day), 1), (germany.Total, germany.TimeToAcknowledge, germany.AcknowledgeOverdue));
        Assert.Equal((3, germany.TimeToAnswer, 1), (b1.Total, b1.TimeToAnswer, b1.AnswerOverdue));
    }

    [Fact]
    public void Compute_AuthorityA1InNovember_SeparatesItsRequestingAndRequestedFigures()
    {
        var groups = RequestStatistics.Compute(Scenario(), InNovember);

        var asking = Of(groups, StatisticsScope.Authority, RequestSide.Requesting, _a1.ToString());
        var asked = Of(groups, StatisticsScope.Authority, RequestSide.Requested, _a1.ToString());

        Assert.Equal((2, new DurationFigures(2, 2 * Hour, Day), new DurationFigures(2, Day, 3 * Day), 0), (asking.Total, asking.TimeToAcknowledge, asking.TimeToAnswer, asking.AnswerOverdue));
        Assert.Equal((1, new DurationFigures(1, 4 * Day, 4 * Day), new DurationFigures(0, null, null)), (asked.Total, asked.TimeToAcknowledge, asked.TimeToAnswer));
        Assert.Equal(1, asked.ByStage[RequestStage.Declined]);
    }

    [Fact]
    public void Compute_NoPeriod_IncludesOctoberButNeverTheDraft()
    {
        var groups = RequestStatistics.Compute(Scenario(), StatisticsPeriod.All);

        var a1 = Of(groups, StatisticsScope.Authority, RequestSide.Requesting, _a1.ToString());

        // r1, r2, r5 (the draft r6 is not counted). Acknowledged: 2 h, 1 d, 1 d → median rank 2 → 1 d; p90 rank 3 → 1 d.
        // Answered: 1 d, 2 d, 3 d → median 2 d, p90 3 d.
        Assert.Equal((3, new DurationFigures(3, Day, Day), new DurationFigures(3, Day * 2, Day * 3)), (a1.Total, a1.TimeToAcknowledge, a1.TimeToAnswer));
        Assert.Contains(groups, g => g.Key == new StatisticsKey(StatisticsScope.Country, RequestSide.Requested, "IT"));
    }

    [Fact]
    public void Compute_InNovember_HasOneGroupPerPartyScopeAndSide()
    {
        var keys = RequestStatistics.Compute(Scenario(), InNovember).Select(g => g.Key).ToList();

        // Authorities: requesting A1, A2, B1; requested B1, A1. Countries: requesting FR, DE; requested DE, FR.
        Assert.Equal(9, keys.Count);
        Assert.DoesNotContain(keys, k => k.Id == "IT" || k.Id == _c1.ToString());
    }

    [Fact]
    public void Compute_SpontaneousDisclosure_CountsButHasNoTimeToAnswer()
    {
        var disclosure = Summary(_a1, "FR", _b1, "DE", UrgencyLevel.Normal, RequestStage.Acknowledged, November, Hour) with { Spontaneous = true };

        var figures = RequestStatistics.Figures([disclosure]);

        Assert.Equal((1, 1, 0), (figures.Total, figures.TimeToAcknowledge.Count, figures.TimeToAnswer.Count));
    }

    [Theory]
    [InlineData(10, 50, 5)]
    [InlineData(10, 90, 9)]
    [InlineData(20, 90, 18)]
    [InlineData(1, 90, 1)]
    [InlineData(4, 50, 2)]
    [InlineData(3, 100, 3)]
    public void Percentile_OneToNHours_IsTheNearestRankValue(int n, int percent, int expectedHours)
    {
        TimeSpan[] sorted = [.. Enumerable.Range(1, n).Select(h => TimeSpan.FromHours(h))];

        Assert.Equal(TimeSpan.FromHours(expectedHours), RequestStatistics.Percentile(sorted, percent));
    }

    [Fact]
    public void Percentile_NoValues_IsNull() => Assert.Null(RequestStatistics.Percentile([], 50));

    [Fact]
    public void Of_RequestState_SummarisesItsMetadata()
    {
        var request = Guid.CreateVersion7();
        var user = Guid.CreateVersion7();
        var state = new object[]
        {
            new RequestDrafted(request, _a1, user, _b1, "request-for-information", 1, UrgencyLevel.Urgent, null, false, Guid.CreateVersion7(), October),
            new RequestSent(request, user, November.AddDays(3), November.AddDays(3), November),
            new RequestAcknowledged(request, user, November.AddHours(5)),
            new RequestPartiallyAnswered(request, user, November.AddDays(2)),
            new RequestAnswered(request, user, November.AddDays(4)),
            new RequestMarkedOverdue(request, RequestDeadline.Answer, November.AddDays(3), November.AddDays(3)),
        }.Aggregate(RequestState.Initial, RequestDecider.Evolve);

        var summary = RequestSummary.Of(state, "FR", "DE");

        Assert.Equal(new RequestSummary(request, _a1, "FR", _b1, "DE", UrgencyLevel.Urgent, RequestStage.Answered, false, November, November.AddHours(5),
            November.AddDays(2), false, true), summary);
    }
}
