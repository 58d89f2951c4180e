using GlobeSecure.Server.Infrastructure;

namespace GlobeSecure.Server.Requests;

/// <summary>The two deadlines of one urgency, counted from the moment a request is sent.</summary>
internal sealed class UrgencyDeadlines
{
    /// <summary>Time the requested authority has to acknowledge receipt.</summary>
    public TimeSpan Acknowledge { get; set; }

    /// <summary>Time the requested authority has to answer.</summary>
    public TimeSpan Answer { get; set; }
}

/// <summary>
/// Default deadlines by urgency: section "Globe:Requests:Deadlines" (docs/requests.md,
/// "Deadlines and overdue"). Defaults follow the network's template: normal 7 days, urgent 3 days,
/// emergency 8 hours, for acknowledging and for answering alike.
/// </summary>
internal sealed class RequestDeadlineOptions
{
    public const string Section = "Globe:Requests:Deadlines";

    public UrgencyDeadlines Normal { get; set; } = new() { Acknowledge = TimeSpan.FromDays(7), Answer = TimeSpan.FromDays(7) };

    public UrgencyDeadlines Urgent { get; set; } = new() { Acknowledge = TimeSpan.FromDays(3), Answer = TimeSpan.FromDays(3) };

    public UrgencyDeadlines Emergency { get; set; } = new() { Acknowledge = TimeSpan.FromHours(8), Answer = TimeSpan.FromHours(8) };

    /// <summary>What is wrong with these options, one sentence per setting (empty when valid); the startup check reports them all.</summary>
    public IReadOnlyList<string> Problems()
    {
        var problems = new List<string>();
        foreach (var (name, deadlines) in new[] { (nameof(Normal), Normal), (nameof(Urgent), Urgent), (nameof(Emergency), Emergency) })
        {
            var path = $"{Section}:{name}";
            if (deadlines is null)
            {
                problems.Add($"{path} is missing.");
                continue;
            }

            if (deadlines.Acknowledge <= TimeSpan.Zero)
            {
                problems.Add($"{path}:Acknowledge must be a positive duration, e.g. 7.00:00:00.");
            }

            if (deadlines.Answer <= TimeSpan.Zero)
            {
                problems.Add($"{path}:Answer must be a positive duration, e.g. 7.00:00:00.");
            }
            else if (deadlines.Acknowledge > deadlines.Answer)
            {
                problems.Add($"{path}:Acknowledge must not be longer than {path}:Answer.");
            }
        }

        return problems;
    }
}

/// <summary>The deadlines fixed when a request is sent; <see cref="AnswerBy"/> is null when no answer is expected (spontaneous disclosure).</summary>
internal readonly record struct SendDeadlines(DateTimeOffset AcknowledgeBy, DateTimeOffset? AnswerBy);

/// <summary>
/// Computes a request's deadlines from the urgency's defaults and the requester's earlier answer
/// deadline, if any. Pure; the options are validated before one is built.
/// </summary>
internal sealed class RequestDeadlinePolicy
{
    private readonly RequestDeadlineOptions _options;

    public RequestDeadlinePolicy(RequestDeadlineOptions options)
    {
        var problems = options.Problems();
        if (problems.Count > 0)
        {
            throw new ArgumentException($"Invalid deadline options: {string.Join(" ", problems)}", nameof(options));
        }

        _options = options;
    }

    /// <summary>The policy with the default deadlines.</summary>
    public static RequestDeadlinePolicy Default { get; } = new(new RequestDeadlineOptions());

    public UrgencyDeadlines For(UrgencyLevel urgency) => urgency switch
    {
        UrgencyLevel.Normal => _options.Normal,
        UrgencyLevel.Urgent => _options.Urgent,
        UrgencyLevel.Emergency => _options.Emergency,
        _ => throw new ArgumentOutOfRangeException(nameof(urgency), urgency, "Unknown urgency."),
    };

    /// <summary>
    /// The deadlines of a request sent at <paramref name="sentAt"/>. A requested answer deadline must
    /// be after the sending and no later than the policy's; it then also caps the acknowledge deadline.
    /// Spontaneous disclosures get only the acknowledge deadline.
    /// </summary>
    /// <exception cref="ValidationException">"answer_by" outside that window.</exception>
    public SendDeadlines Compute(UrgencyLevel urgency, DateTimeOffset sentAt, DateTimeOffset? requestedAnswerBy, bool spontaneous)
    {
        var defaults = For(urgency);
        var acknowledgeBy = sentAt + defaults.Acknowledge;
        if (spontaneous)
        {
            return new SendDeadlines(acknowledgeBy, null);
        }

        var answerBy = sentAt + defaults.Answer;
        if (requestedAnswerBy is not { } requested)
        {
            return new SendDeadlines(acknowledgeBy, answerBy);
        }

        if (requested <= sentAt)
        {
            throw new ValidationException("answer_by", "must be after the moment the request is sent");
        }

        if (requested > answerBy)
        {
            var latest = answerBy.ToUniversalTime();
            throw new ValidationException("answer_by",
                $"may only shorten the {urgency.ToString().ToLowerInvariant()} answer deadline: at the latest {latest:yyyy-MM-dd'T'HH:mm:ss'Z'} "
                + $"({Describe(defaults.Answer)} after sending)");
        }

        return new SendDeadlines(acknowledgeBy < requested ? acknowledgeBy : requested, requested);
    }

    internal static string Describe(TimeSpan span) =>
        span.TotalDays >= 1 && span.Ticks % TimeSpan.TicksPerDay == 0 ? $"{span.TotalDays:0} days"
        : span.Ticks % TimeSpan.TicksPerHour == 0 ? $"{span.TotalHours:0} hours"
        : $"{span.TotalMinutes:0} minutes";
}
