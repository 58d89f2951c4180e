using GlobeSecure.EventStore;
using Microsoft.Extensions.Options;
using Npgsql;

namespace GlobeSecure.Server.Infrastructure;

/// <summary>A feature's event types: each feature registers its own with <see cref="EventStoreHosting.AddEventTypes"/>.</summary>
internal sealed record EventTypeRegistration(Action<EventTypeRegistry> Register);

internal static class EventStoreHosting
{
    public static IServiceCollection AddEventTypes(this IServiceCollection services, Action<EventTypeRegistry> register) =>
        services.AddSingleton(new EventTypeRegistration(register));

    public static IServiceCollection AddGlobeEventStore(this IServiceCollection services)
    {
        services.AddSingleton(sp =>
        {
            var options = sp.GetRequiredService<IOptions<GlobeOptions>>().Value;
            var builder = new NpgsqlDataSourceBuilder(options.ConnectionString);
            builder.ConnectionStringBuilder.MaxPoolSize = options.Limits.MaxDatabaseConnections;
            builder.ConnectionStringBuilder.ApplicationName ??= "globesecure-server";
            builder.UseLoggerFactory(sp.GetRequiredService<ILoggerFactory>());
            return builder.Build();
        });
        services.AddSingleton(sp =>
        {
            var registry = new EventTypeRegistry();
            foreach (var registration in sp.GetServices<EventTypeRegistration>())
            {
                registration.Register(registry);
            }

            return registry;
        });
        services.AddSingleton(sp => new PostgresEventStore(
            sp.GetRequiredService<NpgsqlDataSource>(),
            sp.GetRequiredService<EventTypeRegistry>(),
            new EventStoreOptions
            {
                Schema = sp.GetRequiredService<IOptions<GlobeOptions>>().Value.Schema,
                TimeProvider = sp.GetRequiredService<TimeProvider>(),
                Projections = sp.GetServices<IInlineProjection>().ToList(),
            }));
        services.AddHostedService<EventStoreMigration>();
        return services;
    }

    /// <summary>
    /// Migrates the schema before Kestrel starts accepting calls (hosted services start first),
    /// so no call ever meets a half-created schema; an unreachable database stops start-up with
    /// a message naming it.
    /// </summary>
    private sealed class EventStoreMigration(PostgresEventStore store, IOptions<GlobeOptions> options, ILogger<EventStoreMigration> logger) : IHostedService
    {
        public async Task StartAsync(CancellationToken cancellationToken)
        {
            try
            {
                var applied = await store.MigrateAsync(cancellationToken);
                Log.Migrated(logger, store.Schema, applied);
            }
            catch (Exception ex) when (ex is NpgsqlException or TimeoutException)
            {
                var target = new NpgsqlConnectionStringBuilder(options.Value.ConnectionString);
                Log.DatabaseUnreachable(logger, target.Database, target.Host, target.Port, ex);
                throw new InvalidOperationException(
                    $"Cannot prepare the database '{target.Database}' on {target.Host}:{target.Port}: {ex.Message}. Check that PostgreSQL is running and the connection string (ConnectionStrings:Globe or GLOBE_DB) is right.", ex);
            }
        }

        // The container disposes the store last, after Kestrel has drained the calls that use it.
        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
