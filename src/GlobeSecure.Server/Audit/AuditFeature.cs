using System.Diagnostics;
using GlobeSecure.EventStore;
using GlobeSecure.Server.Infrastructure;
using Grpc.Core;

namespace GlobeSecure.Server.Audit;

/// <summary>Who is calling, as far as the server knows (empty until authentication exists).</summary>
internal sealed record Actor(Guid? UserId = null, Guid? DeviceId = null, Guid? AuthorityId = null)
{
    public static Actor Anonymous { get; } = new();
}

/// <summary>
/// Builds audit entries from a call (peer address, trace id, time) for features to append with
/// their events, in the same transaction, or to record on their own for reads and refusals.
/// </summary>
internal sealed class AuditTrail(PostgresEventStore store, TimeProvider clock)
{
    public AuditEntry Entry(ServerCallContext call, Actor actor, string action, AuditOutcome outcome, string? target = null, string? reason = null) =>
        new(Guid.CreateVersion7(), clock.GetUtcNow(), action, outcome, actor.UserId, actor.DeviceId, actor.AuthorityId,
            target, reason, call.Peer, Activity.Current?.TraceId.ToString());

    /// <summary>
    /// Records an entry on its own. Not tied to the call's cancellation: a refusal or failure is
    /// audited even when the caller has gone.
    /// </summary>
    public Task<StoredAuditEntry> RecordAsync(ServerCallContext call, Actor actor, string action, AuditOutcome outcome,
        string? target = null, string? reason = null) =>
        store.RecordAuditAsync(Entry(call, actor, action, outcome, target, reason), CancellationToken.None);
}

internal static class AuditFeature
{
    public static IServiceCollection AddAudit(this IServiceCollection services)
    {
        services.AddSingleton<AuditTrail>();
        services.AddSingleton<AuditScopes>();
        services.AddSingleton<AuditQueries>();
        services.AddOptions<AuditOptions>()
            .BindConfiguration(AuditOptions.Section)
            .Validate(o => o.IsValid,
                "Globe:Audit: CheckpointInterval and RetentionInterval must be positive durations (e.g. 00:15:00), Retention at least 365.00:00:00, CheckpointKeyFile a path when set.")
            .ValidateOnStart();
        services.AddSingleton<CheckpointKey>();
        services.AddSingleton<AuditCheckpoints>();
        services.AddSingleton<IServerKeys>(sp => sp.GetRequiredService<AuditCheckpoints>());
        // The export's header keys and checkpoint lines.
        services.AddSingleton<IAuditCheckpointSource>(sp => sp.GetRequiredService<AuditCheckpoints>());
        services.AddHostedService<AuditPasses>();
        return services;
    }

    public static void MapAudit(this WebApplication app) => app.MapGrpcService<AuditService>();
}
