using Google.Rpc;
using GlobeSecure.EventStore;
using GlobeSecure.Server.Tests.Probe;
using Grpc.Core;
using Grpc.Health.V1;
using Microsoft.Extensions.DependencyInjection;

namespace GlobeSecure.Server.Tests;

/// <summary>Through a real GrpcChannel to the real server on Kestrel and PostgreSQL.</summary>
public sealed class ServerEndToEndTests(ProbeServerFixture server) : IClassFixture<ProbeServerFixture>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task HealthCheck_DatabaseUp_AnswersServing()
    {
        using var channel = server.CreateChannel();

        var response = await new Health.HealthClient(channel).CheckAsync(new HealthCheckRequest(), cancellationToken: Ct);

        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, response.Status);
    }

    [Fact]
    public async Task Server_PlainListener_RefusesHttp11AndServesHttp2()
    {
        using var http = new HttpClient();
        using var http11 = new HttpRequestMessage(HttpMethod.Get, server.Address) { Version = System.Net.HttpVersion.Version11, VersionPolicy = HttpVersionPolicy.RequestVersionExact };
        using var http2 = new HttpRequestMessage(HttpMethod.Get, server.Address) { Version = System.Net.HttpVersion.Version20, VersionPolicy = HttpVersionPolicy.RequestVersionExact };

        // h2c has no upgrade negotiation: Kestrel answers HTTP/1.1 with 400 and never routes it.
        using var refused = await http.SendAsync(http11, Ct);
        using var served = await http.SendAsync(http2, Ct);

        Assert.Equal(System.Net.HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.Equal(System.Net.HttpVersion.Version20, served.Version);
    }

    [Fact]
    public async Task Reflection_OutsideDevelopment_IsNotServed()
    {
        using var channel = server.CreateChannel();
        var client = new Grpc.Reflection.V1Alpha.ServerReflection.ServerReflectionClient(channel);

        using var call = client.ServerReflectionInfo(cancellationToken: Ct);
        // No request message is written: the server answers the call itself, and a write could
        // race with that answer and fail as CANCELLED instead.
        var error = await Assert.ThrowsAsync<RpcException>(async () => await call.ResponseStream.MoveNext(Ct));

        Assert.Equal(StatusCode.Unimplemented, error.StatusCode);
    }

    [Fact]
    public async Task DomainError_ThroughTheInterceptor_ArrivesAsStatusWithFieldViolations()
    {
        using var channel = server.CreateChannel();

        var error = await Assert.ThrowsAsync<RpcException>(() => new Probe.Probe.ProbeClient(channel).FailAsync(new FailRequest { Kind = "validation" }, cancellationToken: Ct).ResponseAsync);

        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        var status = error.GetRpcStatus()!;
        Assert.Equal("ERROR_REASON_VALIDATION_FAILED", status.GetDetail<ErrorInfo>().Reason);
        Assert.Equal(["authority.country", "authority.name"], status.GetDetail<BadRequest>().FieldViolations.Select(v => v.Field));
    }

    [Theory]
    [InlineData("not-found", StatusCode.NotFound)]
    [InlineData("permission", StatusCode.PermissionDenied)]
    [InlineData("concurrency", StatusCode.Aborted)]
    [InlineData("wrong-state", StatusCode.FailedPrecondition)]
    [InlineData("limit", StatusCode.ResourceExhausted)]
    public async Task DomainError_EachKind_ArrivesWithItsStatus(string kind, StatusCode expected)
    {
        using var channel = server.CreateChannel();

        var error = await Assert.ThrowsAsync<RpcException>(() => new Probe.Probe.ProbeClient(channel).FailAsync(new FailRequest { Kind = kind }, cancellationToken: Ct).ResponseAsync);

        Assert.Equal(expected, error.StatusCode);
    }

    [Fact]
    public async Task UnexpectedError_ArrivesAsInternalWithoutInternalDetails()
    {
        using var channel = server.CreateChannel();

        var error = await Assert.ThrowsAsync<RpcException>(() => new Probe.Probe.ProbeClient(channel).FailAsync(new FailRequest { Kind = "bug" }, cancellationToken: Ct).ResponseAsync);

        Assert.Equal(StatusCode.Internal, error.StatusCode);
        Assert.DoesNotContain("secret", error.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DomainError_InAServerStream_IsMappedToo()
    {
        using var channel = server.CreateChannel();
        using var call = new Probe.Probe.ProbeClient(channel).FailStreaming(new FailRequest { Kind = "not-found" }, cancellationToken: Ct);

        Assert.True(await call.ResponseStream.MoveNext(Ct));
        var error = await Assert.ThrowsAsync<RpcException>(() => call.ResponseStream.MoveNext(Ct));

        Assert.Equal(StatusCode.NotFound, error.StatusCode);
    }

    [Fact]
    public async Task AuditTrail_RecordsPeerAndTraceOfTheCall()
    {
        using var channel = server.CreateChannel();
        var target = "doc-" + Guid.CreateVersion7();

        var reply = await new Probe.Probe.ProbeClient(channel).AuditAsync(new AuditRequest { Target = target }, cancellationToken: Ct);

        var store = server.Services.GetRequiredService<PostgresEventStore>();
        var entry = Assert.Single(await store.ReadAuditAsync(reply.Position - 1, 1, Ct));
        Assert.Equal(target, entry.Entry.Target);
        Assert.Equal("probe.audit", entry.Entry.Action);
        Assert.Equal(AuditOutcome.Allowed, entry.Entry.Outcome);
        Assert.StartsWith("ipv4:127.0.0.1:", entry.Entry.Peer, StringComparison.Ordinal);
        Assert.Matches("^[0-9a-f]{32}$", entry.Entry.TraceId);
        Assert.True((await store.VerifyAuditAsync(Ct)).IsValid);
    }

    [Fact]
    public async Task Deadline_PassesDuringADatabaseCommand_CancelsTheCommandInPostgres()
    {
        using var channel = server.CreateChannel();
        var marker = "sleep-" + Guid.NewGuid().ToString("N");

        var error = await Assert.ThrowsAsync<RpcException>(() => new Probe.Probe.ProbeClient(channel)
            .SleepAsync(new SleepRequest { Seconds = 30, Marker = marker }, deadline: DateTime.UtcNow.AddMilliseconds(500), cancellationToken: Ct).ResponseAsync);

        Assert.Equal(StatusCode.DeadlineExceeded, error.StatusCode);
        // The deadline reached PostgreSQL: the 30-second sleep is gone well before it would end.
        var running = 1L;
        for (var i = 0; i < 50 && running > 0; i++)
        {
            running = (long)(await server.Database.ExecuteScalarAsync(
                $"select count(*) from pg_stat_activity where state = 'active' and query like '%{marker}%' and query not like '%pg_stat_activity%'"))!;
            if (running > 0)
            {
                await Task.Delay(100, Ct);
            }
        }

        Assert.Equal(0L, running);
    }
}
