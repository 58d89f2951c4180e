using GlobeSecure.Server.Infrastructure;

namespace GlobeSecure.Server.Identity;

/// <summary>Users, devices, enrolment, authentication, the network bootstrap and the key directory.</summary>
internal static class IdentityFeature
{
    public static IServiceCollection AddIdentity(this IServiceCollection services)
    {
        // Placeholder until sessions exist: every bearer token is refused.
        services.AddSingleton<ICallerResolver, NoSessions>();
        return services;
    }

    public static void MapIdentity(this WebApplication app)
    {
    }

    private sealed class NoSessions : ICallerResolver
    {
        public Task<Caller?> ResolveAsync(string token, CancellationToken cancellationToken) => Task.FromResult<Caller?>(null);
    }
}
