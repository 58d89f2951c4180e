using GlobeSecure.Client;
using GlobeSecure.Contracts.V1;
using GlobeSecure.Crypto;
using GlobeSecure.Testing;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;

namespace GlobeSecure.Server.Tests.Identity;

/// <summary>Two server processes on one database, and concurrent writers: nothing identity needs lives in one process's memory.</summary>
public sealed class ScaleOutTests(NetworkFixture server) : IClassFixture<NetworkFixture>, IDisposable
{
    private readonly NetworkDriver _driver = new(server);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose() => _driver.Dispose();

    private Task<WebApplication> SecondServerAsync() => server.StartReplicaAsync(Ct);

    private static GrpcChannel ChannelTo(WebApplication app) => GlobeServerFixture.ChannelTo(app);

    [Fact]
    public async Task Authenticate_ChallengeFromOneServerAnsweredAtAnother_SessionWorksOnBoth()
    {
        var (network, _, _) = await server.WorldAsync(_driver);
        var device = network.Administrator.Device;
        await using var second = await SecondServerAsync();
        using var channel = ChannelTo(second);
        var otherAuth = new AuthService.AuthServiceClient(channel);

        var challenge = await _driver.Auth.BeginAuthenticationAsync(new BeginAuthenticationRequest { DeviceId = device.DeviceId.ToString() }, cancellationToken: Ct);
        var session = await otherAuth.CompleteAuthenticationAsync(new CompleteAuthenticationRequest
        {
            ChallengeId = challenge.ChallengeId,
            DeviceId = device.DeviceId.ToString(),
            Signature = ByteString.CopyFrom(AuthChallenge.Sign(device, challenge.Challenge_.Span, challenge.Audience, challenge.IssuedAt.ToDateTimeOffset())),
        }, cancellationToken: Ct);
        var headers = new Metadata { { "authorization", $"Bearer {session.Token}" } };

        Assert.Equal(device.DeviceId.ToString(), (await _driver.Auth.WhoAmIAsync(new WhoAmIRequest(), headers, cancellationToken: Ct)).DeviceId);
        Assert.Equal(device.DeviceId.ToString(), (await otherAuth.WhoAmIAsync(new WhoAmIRequest(), headers, cancellationToken: Ct)).DeviceId);
        await second.StopAsync(Ct);
    }

    [Fact]
    public async Task CertifyDevice_ManyAtOnceOnTwoServers_DirectoryLogStaysGapFreeAndVerifies()
    {
        var (network, _, admin) = await server.WorldAsync(_driver);
        await using var second = await SecondServerAsync();
        using var channel = ChannelTo(second);
        var otherDevices = new DeviceService.DeviceServiceClient(channel);
        var enrolled = new List<(EnrolmentCode Code, DeviceKeys Device)>();
        for (var i = 0; i < 8; i++)
        {
            var code = await _driver.InviteAsync(admin, Role.Investigator);
            enrolled.Add((code, await _driver.EnrolAsync(code)));
        }

        await Task.WhenAll(enrolled.Select((e, i) =>
        {
            var certificate = _driver.Issue(e.Device.Public, Guid.Parse(e.Code.UserId), admin.AuthorityId, DeviceRole.Investigator, admin.Device.Signing,
                admin.Device.DeviceId);
            var client = i % 2 == 0 ? _driver.Devices : otherDevices;
            return client.CertifyDeviceAsync(new CertifyDeviceRequest { Certificate = Wire.ToProto(certificate) }, admin.Headers, cancellationToken: Ct).ResponseAsync;
        }));

        var log = await _driver.Directory.ReadLogAsync(new ReadLogRequest(), admin.Headers, cancellationToken: Ct);
        var verifier = new DirectoryLogVerifier();
        verifier.Extend([.. log.Entries.Select(Wire.FromProto)]);
        verifier.CheckHead(log.HeadPosition, log.HeadLink.Span);
        Assert.Equal(Enumerable.Range(1, log.Entries.Count).Select(p => (long)p), log.Entries.Select(e => e.Position));
        Assert.All(enrolled, e => Assert.Contains(log.Entries, entry => entry.Certificate?.DeviceId == e.Device.DeviceId.ToString()));
        Assert.Equal(network.RootKey.PublicKey.ToArray(), log.Entries[0].RootKey.ToByteArray());
        await second.StopAsync(Ct);
    }
}
