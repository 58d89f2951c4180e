using GlobeSecure.Contracts.V1;
using GlobeSecure.Testing;
using Grpc.Core;

namespace GlobeSecure.Client.Tests;

/// <summary>GlobeClient against the real server (Kestrel, real PostgreSQL), through a real channel.</summary>
public sealed class ClientServerTests(GlobeServerFixture server) : IClassFixture<GlobeServerFixture>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private GlobeClient Anonymous() => new(new GlobeClientOptions { Address = server.Address });

    internal static AuthorityApplication Application(string name = "Ethics and Anti-Corruption Commission", string country = "KE") =>
        new(name, country, AuthorityKind.AntiCorruptionAgency, "Specialised body under UNCAC art. 36.", "Focal Point", "focal@example.org");

    [Fact]
    public async Task Apply_ValidApplication_ReturnsThePendingAuthority()
    {
        await using var client = Anonymous();
        var id = Guid.CreateVersion7();

        var authority = await client.ApplyAsync(Application() with { AuthorityId = id }, Ct);

        Assert.Equal(id.ToString(), authority.AuthorityId);
        Assert.Equal(AuthorityStatus.Pending, authority.Status);
    }

    [Fact]
    public async Task Apply_InvalidFields_ThrowsGlobeClientExceptionWithEveryField()
    {
        await using var client = Anonymous();

        var error = await Assert.ThrowsAsync<GlobeClientException>(() =>
            client.ApplyAsync(Application(name: "", country: "XX") with { FocalPointEmail = "not an address" }, Ct));

        Assert.Equal(StatusCode.InvalidArgument, error.Status);
        Assert.Equal(ErrorReason.ValidationFailed, error.ReasonCode);
        Assert.Equal(["name", "country", "focal_point.email"], error.Violations.Select(v => v.Field));
        Assert.DoesNotContain('\n', error.Message);
    }

    [Fact]
    public async Task ListAuthorities_ClientWithoutDevice_IsRefusedBeforeCalling()
    {
        await using var client = Anonymous();

        var error = await Assert.ThrowsAsync<GlobeClientException>(() => client.ListAuthoritiesAsync(cancellationToken: Ct));

        Assert.Equal(StatusCode.Unauthenticated, error.Status);
    }

    [Fact]
    public async Task FindDevices_NoPinnedRoot_IsRefusedAsUntrusted()
    {
        await using var client = Anonymous();

        await Assert.ThrowsAsync<GlobeTrustException>(() => client.FindDevicesAsync(new DeviceScope(AuthorityId: Guid.CreateVersion7()), Ct));
    }
}
