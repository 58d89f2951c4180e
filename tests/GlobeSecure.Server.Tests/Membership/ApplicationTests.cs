using Google.Rpc;
using GlobeSecure.Contracts.V1;
using GlobeSecure.EventStore;
using GlobeSecure.Testing;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;

namespace GlobeSecure.Server.Tests.Membership;

/// <summary>Anonymous applications and the checks every rpc makes before anything else, through a real channel.</summary>
public sealed class ApplicationTests(GlobeServerFixture server) : IClassFixture<GlobeServerFixture>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private MembershipService.MembershipServiceClient Client() => new(server.CreateChannel());

    internal static ApplyRequest Application(string name = "Ethics and Anti-Corruption Commission", string country = "KE") => new()
    {
        AuthorityId = Guid.CreateVersion7().ToString(),
        Name = name,
        Country = country,
        Kind = AuthorityKind.AntiCorruptionAgency,
        LegalBasis = "Specialised body under UNCAC art. 36, established by the Anti-Corruption Act.",
        FocalPoint = new FocalPoint { Name = "Focal Point", Email = "focal@example.org" },
    };

    private async Task<IReadOnlyList<StoredAuditEntry>> AuditAsync() =>
        await server.Services.GetRequiredService<PostgresEventStore>().ReadAuditAsync(0, 100_000, Ct);

    [Fact]
    public async Task Apply_ValidApplication_IsPendingAndAudited()
    {
        var request = Application();

        var response = await Client().ApplyAsync(request, cancellationToken: Ct);

        Assert.Equal(request.AuthorityId, response.Authority.AuthorityId);
        Assert.Equal(AuthorityStatus.Pending, response.Authority.Status);
        Assert.Empty(response.Authority.ApprovedBy);
        Assert.Contains(await AuditAsync(), e => e.Entry.Target == request.AuthorityId && e.Entry.Outcome == AuditOutcome.Allowed
            && e.Entry.Action == "/globesecure.v1.MembershipService/Apply");
    }

    [Fact]
    public async Task Apply_SameRequestTwice_IsIdempotent()
    {
        var request = Application();

        await Client().ApplyAsync(request, cancellationToken: Ct);
        var again = await Client().ApplyAsync(request, cancellationToken: Ct);

        Assert.Equal(AuthorityStatus.Pending, again.Authority.Status);
    }

    [Fact]
    public async Task Apply_InvalidFields_ReturnsEveryFieldViolationAndStoresNothing()
    {
        var request = Application(name: "", country: "XX");
        request.Kind = AuthorityKind.NetworkSecretariat;
        request.FocalPoint.Email = "not an address";
        var head = await server.Services.GetRequiredService<PostgresEventStore>().HeadPositionAsync(Ct);

        var error = await Assert.ThrowsAsync<RpcException>(() => Client().ApplyAsync(request, cancellationToken: Ct).ResponseAsync);

        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        var fields = error.GetRpcStatus()!.GetDetail<BadRequest>().FieldViolations.Select(v => v.Field).ToList();
        Assert.Equal(["name", "country", "kind", "focal_point.email"], fields);
        Assert.Equal(head, await server.Services.GetRequiredService<PostgresEventStore>().HeadPositionAsync(Ct));
        Assert.Contains(await AuditAsync(), e => e.Entry.Outcome == AuditOutcome.Failed && e.Entry.Action == "/globesecure.v1.MembershipService/Apply");
    }

    [Fact]
    public async Task ListAuthorities_Anonymous_IsUnauthenticatedAndAuditedAsDenied()
    {
        var error = await Assert.ThrowsAsync<RpcException>(() => Client().ListAuthoritiesAsync(new ListAuthoritiesRequest(), cancellationToken: Ct).ResponseAsync);

        Assert.Equal(StatusCode.Unauthenticated, error.StatusCode);
        Assert.Contains(await AuditAsync(), e => e.Entry.Outcome == AuditOutcome.Denied && e.Entry.Action == "/globesecure.v1.MembershipService/ListAuthorities");
    }

    [Fact]
    public async Task Approve_UnknownBearerToken_IsUnauthenticatedBeforeTheServiceRuns()
    {
        var headers = new Metadata { { "authorization", "Bearer not-a-session" } };

        var error = await Assert.ThrowsAsync<RpcException>(() =>
            Client().ApproveAsync(new ApproveRequest { AuthorityId = Guid.CreateVersion7().ToString() }, headers, cancellationToken: Ct).ResponseAsync);

        Assert.Equal(StatusCode.Unauthenticated, error.StatusCode);
        Assert.DoesNotContain("not-a-session", error.Status.Detail, StringComparison.Ordinal);
    }
}

/// <summary>The application rate limit, on its own server so other tests' applications do not count.</summary>
public sealed class ApplicationRateLimitTests(GlobeServerFixture server) : IClassFixture<GlobeServerFixture>
{
    [Fact]
    public async Task Apply_MoreThanTheHourlyLimitFromOneAddress_IsResourceExhausted()
    {
        var client = new MembershipService.MembershipServiceClient(server.CreateChannel());
        for (var i = 0; i < GlobeSecure.Server.Membership.ApplicationRateLimiter.PermitsPerHour; i++)
        {
            await client.ApplyAsync(ApplicationTests.Application(), cancellationToken: TestContext.Current.CancellationToken);
        }

        var error = await Assert.ThrowsAsync<RpcException>(() =>
            client.ApplyAsync(ApplicationTests.Application(), cancellationToken: TestContext.Current.CancellationToken).ResponseAsync);

        Assert.Equal(StatusCode.ResourceExhausted, error.StatusCode);
    }
}
