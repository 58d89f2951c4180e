using GlobeSecure.EventStore;
using GlobeSecure.Server.Infrastructure;
using Microsoft.Extensions.Options;

namespace GlobeSecure.Server.Requests;

/// <summary>Information requests between authorities: lifecycle, deadlines by urgency (docs/requests.md).</summary>
internal static class RequestsFeature
{
    public static IServiceCollection AddRequests(this IServiceCollection services)
    {
        services.AddEventTypes(r => r
            .Register<RequestDrafted>("requests.drafted")
            .Register<RequestSent>("requests.sent")
            .Register<RequestAcknowledged>("requests.acknowledged")
            .Register<RequestWorkStarted>("requests.work-started")
            .Register<RequestAnswered>("requests.answered")
            .Register<RequestPartiallyAnswered>("requests.partially-answered")
            .Register<RequestDeclined>("requests.declined")
            .Register<RequestWithdrawn>("requests.withdrawn")
            .Register<RequestClosed>("requests.closed")
            .Register<ClarificationRequested>("requests.clarification-requested")
            .Register<ClarificationProvided>("requests.clarification-provided")
            .Register<RequestMarkedOverdue>("requests.marked-overdue"));
        services.AddOptions<RequestDeadlineOptions>()
            .BindConfiguration(RequestDeadlineOptions.Section)
            .ValidateOnStart();
        services.AddSingleton<IValidateOptions<RequestDeadlineOptions>, DeadlineOptionsValidation>();
        services.AddSingleton(sp => new RequestDeadlinePolicy(sp.GetRequiredService<IOptions<RequestDeadlineOptions>>().Value));
        services.AddOptions<RequestOverdueOptions>()
            .BindConfiguration(RequestOverdueOptions.Section)
            .Validate(o => o.Interval > TimeSpan.Zero, "Globe:Requests:Overdue:Interval must be a positive duration, e.g. 00:01:00.")
            .ValidateOnStart();
        services.AddSingleton<IInlineProjection, RequestProjection>();
        services.AddSingleton<RequestReadModel>();
        services.AddSingleton<RequestOverdue>();
        services.AddHostedService(sp => sp.GetRequiredService<RequestOverdue>());
        return services;
    }

    public static void MapRequests(this WebApplication app) => app.MapGrpcService<RequestService>();
}

/// <summary>Start-up check of <see cref="RequestDeadlineOptions"/>: every problem, by its setting path.</summary>
internal sealed class DeadlineOptionsValidation : IValidateOptions<RequestDeadlineOptions>
{
    public ValidateOptionsResult Validate(string? name, RequestDeadlineOptions options) =>
        options.Problems() is { Count: > 0 } problems ? ValidateOptionsResult.Fail(problems) : ValidateOptionsResult.Success;
}
