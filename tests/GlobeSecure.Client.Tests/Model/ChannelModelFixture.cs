using GlobeSecure.Client.Tests.Story;
using GlobeSecure.Contracts.V1;
using GlobeSecure.Testing;

namespace GlobeSecure.Client.Tests.Model;

/// <summary>
/// The real server with the model test's cast, set up once (enrolment is the expensive part):
/// the network, three approved authorities with their administrators, five investigators with six
/// devices, each device with its own client and subscription, and one "beacon" channel per
/// authority. A beacon is a message a device sends to its authority's beacon channel: once its
/// subscription has given that message, it has given everything committed before it (positions
/// are gap-free and in commit order), so "caught up" needs no waiting and no clock.
/// </summary>
public sealed class ChannelModelFixture : GlobeServerFixture
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private TestNetwork? _network;
    private ModelCast? _cast;

    internal async Task<ModelCast> CastAsync()
    {
        await _gate.WaitAsync(TestContext.Current.CancellationToken);
        try
        {
            if (_cast is null)
            {
                _network = await TestNetwork.BootstrapAsync(this);
                _cast = await ModelCast.CreateAsync(_network);
            }

            return _cast;
        }
        finally
        {
            _gate.Release();
        }
    }

    public override async ValueTask DisposeAsync()
    {
        if (_cast is not null)
        {
            await _cast.DisposeAsync();
        }

        if (_network is not null)
        {
            await _network.DisposeAsync();
        }

        _gate.Dispose();
        await base.DisposeAsync();
    }
}

/// <summary>The six devices (<see cref="Cast"/>), the authorities' and users' ids, and the beacon channels.</summary>
internal sealed class ModelCast : IAsyncDisposable
{
    private ModelCast(IReadOnlyList<ModelDevice> devices, IReadOnlyList<Guid> authorities, IReadOnlyList<Guid> beacons)
    {
        Devices = devices;
        AuthorityIds = authorities;
        Beacons = beacons;
    }

    public IReadOnlyList<ModelDevice> Devices { get; }

    public IReadOnlyList<Guid> AuthorityIds { get; }

    public IReadOnlyList<Guid> Beacons { get; }

    /// <summary>Whether the last sequence ended with every device subscribed and caught up.</summary>
    public bool Settled { get; set; }

    public Guid UserId(int user) => Devices[Array.IndexOf(Cast.UserOfDevice, user)].Participant.UserId;

    public string UserName(Guid userId) => Cast.Users[Cast.UserOfDevice[Devices.First(d => d.Participant.UserId == userId).Index]];

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public static async Task<ModelCast> CreateAsync(TestNetwork network)
    {
        var second = await network.AddNetworkAdministratorAsync();
        var suffix = Guid.NewGuid().ToString("N")[..6];
        string[] countries = ["KE", "BR", "DE"];
        var authorities = new List<Guid>();
        var administrators = new List<Participant>();
        for (var a = 0; a < Cast.Authorities.Length; a++)
        {
            var (id, code) = await network.ApproveAuthorityAsync(second, $"Authority {Cast.Authorities[a]} {suffix}", countries[a]);
            authorities.Add(id);
            administrators.Add(await network.AuthorityAdministratorAsync(id, code));
        }

        var users = new List<Participant>();
        for (var u = 0; u < Cast.Users.Length; u++)
        {
            users.Add(await network.UserAsync(administrators[Cast.AuthorityOfUser[u]], $"Investigator {Cast.Users[u]}"));
        }

        var devices = new List<ModelDevice>();
        for (var d = 0; d < Cast.Devices.Length; d++)
        {
            var user = Cast.UserOfDevice[d];
            var participant = devices.Any(x => Cast.UserOfDevice[x.Index] == user)
                ? await network.DeviceAsync(administrators[Cast.AuthorityOfUser[user]], users[user], $"Investigator {Cast.Users[user]}", "phone")
                : users[user];
            var faulty = new FaultyNetwork();
            devices.Add(new ModelDevice(d, participant, network.ClientFor(participant.Keys, handler: faulty), faulty));
        }

        var beacons = new List<Guid>();
        for (var a = 0; a < Cast.Authorities.Length; a++)
        {
            beacons.Add(Guid.Parse((await devices[Cast.FirstDeviceOf(a)].Client.CreateChannelAsync($"Beacon {Cast.Authorities[a]}", cancellationToken: Ct)).ChannelId));
        }

        var cast = new ModelCast(devices, authorities, beacons);
        foreach (var device in devices)
        {
            _ = device.Subscribe();
        }

        await cast.SettleAsync(_ => { });
        cast.Settled = true;
        return cast;
    }

    /// <summary>Sends a beacon from <paramref name="device"/> to its authority's beacon channel; returns its position.</summary>
    public async Task<long> BeaconAsync(ModelDevice device) =>
        (await device.Client.SendTextAsync(Beacons[Cast.AuthorityOfDevice(device.Index)], "beacon", cancellationToken: Ct)).Position;

    /// <summary>Every device subscribed again where it was not, then read up to now.</summary>
    public async Task SettleAsync(Action<(ModelDevice Device, ChannelEvent Event)> seen)
    {
        foreach (var device in Devices)
        {
            device.Network.LoseNextSendAnswer(false);
            _ = device.Subscribe();
        }

        var beacons = new long[Cast.Authorities.Length];
        for (var a = 0; a < beacons.Length; a++)
        {
            beacons[a] = await BeaconAsync(Devices[Cast.FirstDeviceOf(a)]);
        }

        foreach (var device in Devices)
        {
            await device.ReadUntilAsync(beacons[Cast.AuthorityOfDevice(device.Index)], e => seen((device, e)));
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var device in Devices)
        {
            await device.DisposeAsync();
        }
    }
}
