using GlobeSecure.Server.Infrastructure;

namespace GlobeSecure.Server.Identity;

/// <summary>Users, devices, enrolment, authentication, the network bootstrap and the key directory.</summary>
internal static class IdentityFeature
{
    public static IServiceCollection AddIdentity(this IServiceCollection services)
    {
        // Placeholder until sessions exist: every bearer token is refused.
        services.AddSingleton<ICallerResolver, NoSessions>();
        services.AddSingleton<IEnrolmentCodes, NoCodes>();
        return services;
    }

    public static void MapIdentity(this WebApplication app)
    {
    }

    private sealed class NoCodes : IEnrolmentCodes
    {
        public Task<Contracts.V1.EnrolmentCode> IssueAdministratorCodeAsync(Grpc.Core.ServerCallContext call, Guid authorityId, Guid userId,
            string displayName, CancellationToken cancellationToken) =>
            throw new WrongStateException("Enrolment codes are not available yet.");
    }

    private sealed class NoSessions : ICallerResolver
    {
        public Task<Caller?> ResolveAsync(string token, CancellationToken cancellationToken) => Task.FromResult<Caller?>(null);
    }
}
