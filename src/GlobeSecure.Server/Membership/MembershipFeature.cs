using GlobeSecure.EventStore;
using GlobeSecure.Server.Infrastructure;

namespace GlobeSecure.Server.Membership;

/// <summary>Member authorities (applications, four-eyes approval, suspension) and regional groups.</summary>
internal static class MembershipFeature
{
    public static IServiceCollection AddMembership(this IServiceCollection services)
    {
        services.AddEventTypes(r => r
            .Register<AuthorityApplied>("membership.authority-applied")
            .Register<SecretariatRegistered>("membership.secretariat-registered")
            .Register<AuthorityApprovalGiven>("membership.authority-approval-given")
            .Register<AuthorityApproved>("membership.authority-approved")
            .Register<AuthorityRejected>("membership.authority-rejected")
            .Register<AuthoritySuspended>("membership.authority-suspended")
            .Register<AuthorityReinstated>("membership.authority-reinstated")
            .Register<AuthorityWithdrawn>("membership.authority-withdrawn")
            .Register<GroupCreated>("membership.group-created")
            .Register<AuthorityAddedToGroup>("membership.authority-added-to-group")
            .Register<AuthorityRemovedFromGroup>("membership.authority-removed-from-group"));
        services.AddSingleton<IInlineProjection, MembershipProjection>();
        services.AddSingleton<MembershipReadModel>();
        services.AddSingleton<IAuthorities, MembershipAuthorities>();
        services.AddSingleton<ApplicationRateLimiter>();
        return services;
    }

    public static void MapMembership(this WebApplication app) => app.MapGrpcService<MembershipService>();
}
