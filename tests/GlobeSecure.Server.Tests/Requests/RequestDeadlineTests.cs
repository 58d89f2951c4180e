using GlobeSecure.Server.Infrastructure;
using Microsoft.Extensions.Configuration;
using GlobeSecure.Server.Requests;

namespace GlobeSecure.Server.Tests.Requests;

/// <summary>The deadline policy from options, and the overdue marks due at an explicit time: no database, no clock.</summary>
public sealed class RequestDeadlineTests
{
    private static readonly DateTimeOffset SentAt = new(2026, 11, 24, 12, 0, 0, TimeSpan.Zero);
    private readonly Guid _request = Guid.CreateVersion7();
    private readonly Guid _requested = Guid.CreateVersion7();
    private readonly Guid _user = Guid.CreateVersion7();

    private static RequestState Given(params object[] events) => events.Aggregate(RequestState.Initial, RequestDecider.Evolve);

    private RequestDrafted Drafted(bool spontaneous = false) =>
        new(_request, Guid.CreateVersion7(), _user, _requested, "request-for-information", 1, UrgencyLevel.Emergency, null, spontaneous, Guid.CreateVersion7(),
            SentAt.AddHours(-1));

    /// <summary>An emergency request sent at <see cref="SentAt"/>: acknowledge within 2 hours, answer within 8.</summary>
    private RequestSent Sent() => new(_request, _user, SentAt.AddHours(2), SentAt.AddHours(8), SentAt);

    [Fact]
    public void Defaults_PerUrgency_AreTheNetworksFigures()
    {
        var policy = RequestDeadlinePolicy.Default;

        Assert.Equal((TimeSpan.FromDays(7), TimeSpan.FromDays(7)), (policy.For(UrgencyLevel.Normal).Acknowledge, policy.For(UrgencyLevel.Normal).Answer));
        Assert.Equal((TimeSpan.FromDays(3), TimeSpan.FromDays(3)), (policy.For(UrgencyLevel.Urgent).Acknowledge, policy.For(UrgencyLevel.Urgent).Answer));
        Assert.Equal((TimeSpan.FromHours(8), TimeSpan.FromHours(8)), (policy.For(UrgencyLevel.Emergency).Acknowledge, policy.For(UrgencyLevel.Emergency).Answer));
    }

    [Fact]
    public void Compute_ConfiguredUrgentDeadlines_CountFromTheSending()
    {
        var options = new RequestDeadlineOptions { Urgent = new UrgencyDeadlines { Acknowledge = TimeSpan.FromHours(12), Answer = TimeSpan.FromDays(2) } };

        var deadlines = new RequestDeadlinePolicy(options).Compute(UrgencyLevel.Urgent, SentAt, null, spontaneous: false);

        Assert.Equal(new SendDeadlines(SentAt.AddHours(12), SentAt.AddDays(2)), deadlines);
    }

    [Fact]
    public void Compute_RequestedAnswerDeadlineBeforeTheSending_ValidationFailsOnAnswerBy() =>
        Assert.Equal("answer_by", Assert.Single(Assert.Throws<ValidationException>(() =>
            RequestDeadlinePolicy.Default.Compute(UrgencyLevel.Normal, SentAt, SentAt, spontaneous: false)).Violations).Field);

    [Fact]
    public void Compute_RequestedAnswerDeadlineEqualToThePolicy_IsAccepted() =>
        Assert.Equal(SentAt.AddDays(7), RequestDeadlinePolicy.Default.Compute(UrgencyLevel.Normal, SentAt, SentAt.AddDays(7), spontaneous: false).AnswerBy);

    [Fact]
    public void Problems_InvalidOptions_NameEverySetting()
    {
        var options = new RequestDeadlineOptions
        {
            Normal = new UrgencyDeadlines { Acknowledge = TimeSpan.FromDays(8), Answer = TimeSpan.FromDays(7) },
            Urgent = new UrgencyDeadlines { Acknowledge = TimeSpan.Zero, Answer = TimeSpan.FromDays(3) },
            Emergency = new UrgencyDeadlines { Acknowledge = TimeSpan.FromHours(1), Answer = TimeSpan.FromHours(-1) },
        };

        Assert.Equal(
        [
            "Globe:Requests:Deadlines:Normal:Acknowledge must not be longer than Globe:Requests:Deadlines:Normal:Answer.",
            "Globe:Requests:Deadlines:Urgent:Acknowledge must be a positive duration, e.g. 7.00:00:00.",
            "Globe:Requests:Deadlines:Emergency:Answer must be a positive duration, e.g. 7.00:00:00.",
        ], options.Problems());
        Assert.Throws<ArgumentException>(() => new RequestDeadlinePolicy(options));
    }

    [Fact]
    public void Bind_ConfigurationSection_OverridesOnlyTheSettingsGiven()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Globe:Requests:Deadlines:Normal:Acknowledge"] = "2.00:00:00",
            ["Globe:Requests:Deadlines:Emergency:Answer"] = "06:00:00",
            ["Globe:Requests:Deadlines:Emergency:Acknowledge"] = "01:00:00",
        }).Build();
        var options = new RequestDeadlineOptions();

        configuration.GetSection(RequestDeadlineOptions.Section).Bind(options);

        Assert.Equal((TimeSpan.FromDays(2), TimeSpan.FromDays(7)), (options.Normal.Acknowledge, options.Normal.Answer));
        Assert.Equal((TimeSpan.FromHours(1), TimeSpan.FromHours(6)), (options.Emergency.Acknowledge, options.Emergency.Answer));
        Assert.Empty(options.Problems());
    }

    [Fact]
    public void Problems_DefaultOptions_None() => Assert.Empty(new RequestDeadlineOptions().Problems());

    [Fact]
    public void OverdueAt_BeforeEitherDeadline_MarksNothing() => Assert.Empty(RequestDecider.OverdueAt(Given(Drafted(), Sent()), SentAt.AddHours(2)));

    [Fact]
    public void OverdueAt_Draft_MarksNothing() => Assert.Empty(RequestDecider.OverdueAt(Given(Drafted()), SentAt.AddDays(30)));

    [Fact]
    public void OverdueAt_AcknowledgeDeadlinePassedWhileSent_MarksItOnce()
    {
        var now = SentAt.AddHours(2).AddSeconds(1);

        var mark = Assert.IsType<RequestMarkedOverdue>(Assert.Single(RequestDecider.OverdueAt(Given(Drafted(), Sent()), now)));

        Assert.Equal((RequestDeadline.Acknowledge, SentAt.AddHours(2), now), (mark.Deadline, mark.DueAt, mark.MarkedAt));
        Assert.Empty(RequestDecider.OverdueAt(Given(Drafted(), Sent(), mark), now.AddMinutes(5)));
    }

    [Fact]
    public void OverdueAt_BothDeadlinesPassedWhileSent_MarksBoth()
    {
        var marks = RequestDecider.OverdueAt(Given(Drafted(), Sent()), SentAt.AddHours(9)).Cast<RequestMarkedOverdue>();

        Assert.Equal([RequestDeadline.Acknowledge, RequestDeadline.Answer], marks.Select(m => m.Deadline));
    }

    [Fact]
    public void OverdueAt_AnswerDeadlinePassedWhileInProgress_MarksOnlyTheAnswerOnce()
    {
        var state = Given(Drafted(), Sent(), new RequestAcknowledged(_request, _user, SentAt.AddHours(1)), new RequestWorkStarted(_request, _user, SentAt.AddHours(1)));

        var mark = Assert.IsType<RequestMarkedOverdue>(Assert.Single(RequestDecider.OverdueAt(state, SentAt.AddHours(9))));

        Assert.Equal(RequestDeadline.Answer, mark.Deadline);
        Assert.Empty(RequestDecider.OverdueAt(RequestDecider.Evolve(state, mark), SentAt.AddHours(10)));
    }

    [Fact]
    public void OverdueAt_ClarificationAskedBeforeTheAcknowledgeDeadline_MeetsItButNotTheAnswerDeadline()
    {
        var asked = new ClarificationRequested(_request, Guid.CreateVersion7(), _user, SentAt.AddHours(1));
        var provided = new ClarificationProvided(_request, asked.QuestionId, _user, SentAt.AddHours(7));

        var marks = RequestDecider.OverdueAt(Given(Drafted(), Sent(), asked, provided), SentAt.AddHours(9)).Cast<RequestMarkedOverdue>();

        Assert.Equal([RequestDeadline.Answer], marks.Select(m => m.Deadline));
    }

    [Fact]
    public void OverdueAt_PartiallyAnsweredPastTheAnswerDeadline_MarksTheAnswer()
    {
        var state = Given(Drafted(), Sent(), new RequestAcknowledged(_request, _user, SentAt.AddHours(1)), new RequestPartiallyAnswered(_request, _user, SentAt.AddHours(3)));

        var mark = Assert.IsType<RequestMarkedOverdue>(Assert.Single(RequestDecider.OverdueAt(state, SentAt.AddHours(9))));

        Assert.Equal(RequestDeadline.Answer, mark.Deadline);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void OverdueAt_AnsweredOrDeclinedPastBothDeadlines_MarksNothing(bool answered)
    {
        object outcome = answered ? new RequestAnswered(_request, _user, SentAt.AddHours(1)) : new RequestDeclined(_request, _user, DeclineReason.Other, SentAt.AddHours(1));

        Assert.Empty(RequestDecider.OverdueAt(Given(Drafted(), Sent(), new RequestAcknowledged(_request, _user, SentAt.AddMinutes(30)), outcome), SentAt.AddDays(1)));
    }

    [Fact]
    public void OverdueAt_WithdrawnPastBothDeadlines_MarksNothing() =>
        Assert.Empty(RequestDecider.OverdueAt(Given(Drafted(), Sent(), new RequestWithdrawn(_request, _user, null, SentAt.AddHours(1))), SentAt.AddDays(1)));

    [Fact]
    public void OverdueAt_SpontaneousDisclosureNeverAcknowledged_MarksOnlyTheAcknowledgeDeadline()
    {
        var disclosure = Given(Drafted(spontaneous: true), new RequestSent(_request, _user, SentAt.AddHours(8), null, SentAt));

        Assert.Equal([RequestDeadline.Acknowledge], RequestDecider.OverdueAt(disclosure, SentAt.AddDays(30)).Cast<RequestMarkedOverdue>().Select(m => m.Deadline));
    }
}
