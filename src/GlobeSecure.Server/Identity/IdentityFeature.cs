using GlobeSecure.EventStore;
using GlobeSecure.Server.Infrastructure;
using Microsoft.Extensions.Options;

namespace GlobeSecure.Server.Identity;

/// <summary>Users, devices, enrolment, authentication, the network bootstrap and the key directory.</summary>
internal static class IdentityFeature
{
    public static IServiceCollection AddIdentity(this IServiceCollection services)
    {
        services.AddEventTypes(r => r
            .Register<BootstrapCodeIssued>("identity.bootstrap-code-issued")
            .Register<NetworkBootstrapped>("identity.network-bootstrapped")
            .Register<UserInvited>("identity.user-invited")
            .Register<UserRegistered>("identity.user-registered")
            .Register<EnrolmentCodeIssued>("identity.enrolment-code-issued")
            .Register<UserRevoked>("identity.user-revoked")
            .Register<DeviceEnrolled>("identity.device-enrolled")
            .Register<DeviceCertified>("identity.device-certified")
            .Register<DeviceRevoked>("identity.device-revoked")
            .Register<ChallengeIssued>("identity.challenge-issued")
            .Register<SessionStarted>("identity.session-started")
            .Register<SessionEnded>("identity.session-ended")
            .Register<AuthenticationFailed>("identity.authentication-failed"));
        services.AddOptions<IdentityOptions>()
            .BindConfiguration(IdentityOptions.Section)
            .Validate(o => !o.Problems().Any(), "Globe:Identity lifetimes must be positive and MaxFailures at least 1.")
            .ValidateOnStart();
        services.AddSingleton<IInlineProjection, IdentityProjection>();
        services.AddSingleton<IdentityReadModel>();
        services.AddSingleton<Users>();
        services.AddSingleton<BootstrapCodes>();
        services.AddSingleton<ICallerResolver, SessionResolver>();
        services.AddSingleton<IEnrolmentCodes, EnrolmentCodes>();
        services.AddSingleton<IDeviceDirectory, DeviceDirectory>();
        return services;
    }

    public static void MapIdentity(this WebApplication app)
    {
        app.MapGrpcService<NetworkService>();
        app.MapGrpcService<DeviceService>();
        app.MapGrpcService<AuthService>();
        app.MapGrpcService<DirectoryService>();
    }

    /// <summary>
    /// The <c>bootstrap-code</c> server command: migrates the schema, issues a bootstrap code and
    /// prints only the code on stdout (logs go to stderr). Exit 0, or 1 with a message on stderr
    /// (already bootstrapped, database unreachable).
    /// </summary>
    public static async Task<int> RunBootstrapCodeCommandAsync(WebApplication app, TextWriter output, TextWriter error)
    {
        try
        {
            await app.Services.GetRequiredService<PostgresEventStore>().MigrateAsync();
            var code = await app.Services.GetRequiredService<BootstrapCodes>().IssueAsync(CancellationToken.None);
            await output.WriteLineAsync(code);
            return 0;
        }
        catch (WrongStateException e)
        {
            await error.WriteLineAsync($"error: {e.Message}");
            return 1;
        }
        catch (OptionsValidationException e)
        {
            await error.WriteLineAsync($"error: {e.Message}");
            return 2;
        }
        catch (Exception e) when (e is Npgsql.NpgsqlException or TimeoutException)
        {
            await error.WriteLineAsync($"error: cannot reach the database ({e.Message}); check GLOBE_DB or ConnectionStrings:Globe.");
            return 1;
        }
    }
}
