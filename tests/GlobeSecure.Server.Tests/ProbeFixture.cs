using GlobeSecure.EventStore;
using GlobeSecure.Server.Audit;
using GlobeSecure.Server.Infrastructure;
using GlobeSecure.Server.Tests.Probe;
using GlobeSecure.Testing;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

[assembly: AssemblyFixture(typeof(PostgresRun))]

namespace GlobeSecure.Server.Tests;

/// <summary>The real server plus the test-only Probe service.</summary>
public sealed class ProbeServerFixture : GlobeServerFixture
{
    protected override void Configure(WebApplicationBuilder builder) => builder.Services.AddSingleton<ProbeService>();

    protected override void Map(WebApplication app) => app.MapGrpcService<ProbeService>();
}

internal sealed class ProbeService(AuditTrail audit, NpgsqlDataSource dataSource) : Probe.Probe.ProbeBase
{
    public override Task<FailReply> Fail(FailRequest request, ServerCallContext context) => throw Failure(request.Kind);

    public override async Task FailStreaming(FailRequest request, IServerStreamWriter<FailReply> responseStream, ServerCallContext context)
    {
        await responseStream.WriteAsync(new FailReply(), context.CancellationToken);
        throw Failure(request.Kind);
    }

    public override async Task<AuditReply> Audit(AuditRequest request, ServerCallContext context)
    {
        var stored = await audit.RecordAsync(context, Actor.Anonymous, "probe.audit", AuditOutcome.Allowed, request.Target);
        return new AuditReply { Position = stored.Position };
    }

    public override async Task<SleepReply> Sleep(SleepRequest request, ServerCallContext context)
    {
        await using var command = dataSource.CreateCommand($"select pg_sleep($1) /* {request.Marker.Replace("*/", string.Empty, StringComparison.Ordinal)} */");
        command.Parameters.Add(new NpgsqlParameter { Value = request.Seconds });
        await command.ExecuteNonQueryAsync(context.CancellationToken);
        return new SleepReply();
    }

    private static Exception Failure(string kind) => kind switch
    {
        "validation" => new ValidationException([new FieldViolation("authority.country", "must be an ISO 3166-1 alpha-2 code such as \"FR\""), new FieldViolation("authority.name", "is required")]),
        "not-found" => new NotFoundException("authority", "a-1"),
        "permission" => new PermissionDeniedException("Only network administrators may approve authorities."),
        "unauthenticated" => new UnauthenticatedException("Sign in first: no session token was presented."),
        "wrong-state" => new WrongStateException("The authority is suspended; reinstate it first."),
        "limit" => new LimitExceededException("The document is larger than the 10 GiB limit."),
        "exists" => new AlreadyExistsException("authority", "a-1"),
        "concurrency" => new WrongExpectedVersionException("authority-a-1", ExpectedVersion.Exactly(3), 4),
        "id-conflict" => new EventIdConflictException(Guid.Empty, "Event id reused."),
        "bug" => new InvalidOperationException("secret internal detail"),
        _ => new ValidationException("kind", $"unknown failure kind '{kind}'"),
    };
}
