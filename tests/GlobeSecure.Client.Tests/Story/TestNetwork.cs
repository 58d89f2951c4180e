using GlobeSecure.Contracts.V1;
using GlobeSecure.Crypto;
using GlobeSecure.Testing;

namespace GlobeSecure.Client.Tests.Story;

/// <summary>A participant: a device's keys and a client connected as that device. The network owns both.</summary>
internal sealed class Participant(DeviceKeys keys, GlobeClient client, Guid userId, Guid authorityId)
{
    public DeviceKeys Keys { get; } = keys;

    public GlobeClient Client { get; } = client;

    public Guid UserId { get; } = userId;

    public Guid AuthorityId { get; } = authorityId;

    public Guid DeviceId => Keys.DeviceId;
}

/// <summary>
/// Intent methods for the client's integration tests: a network bootstrapped through
/// <see cref="GlobeClient"/> against the real server, and the steps of the membership story.
/// </summary>
internal sealed class TestNetwork : IAsyncDisposable
{
    private readonly Uri _address;
    private readonly List<IAsyncDisposable> _owned = [];
    private readonly List<IDisposable> _keys = [];

    private TestNetwork(Uri address, NetworkInitResult created, Participant firstAdministrator)
    {
        _address = address;
        Created = created;
        FirstAdministrator = firstAdministrator;
        _owned.Add(firstAdministrator.Client);
    }

    public NetworkInitResult Created { get; }

    public NetworkRootKey RootKey => Created.RootKey;

    public Guid Secretariat => Created.NetworkAuthorityId;

    public Participant FirstAdministrator { get; }

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>Bootstraps the fixture's server (once per fixture: the bootstrap code works once).</summary>
    public static Task<TestNetwork> BootstrapAsync(GlobeServerFixture server) =>
        BootstrapAsync(server.Address, ct => BootstrapCodes.IssueAsync(server, ct));

    /// <summary>Bootstraps the server at <paramref name="address"/> with a code from <paramref name="issueCode"/> (e.g. a server process's command).</summary>
    public static async Task<TestNetwork> BootstrapAsync(Uri address, Func<CancellationToken, Task<string>> issueCode)
    {
        var code = await issueCode(Ct);
        await using var anonymous = new GlobeClient(new GlobeClientOptions { Address = address });
        var created = await anonymous.NetworkInitAsync(code, "GlobE Network", "Amina Diallo", cancellationToken: Ct);
        var admin = new Participant(created.AdministratorDevice,
            ClientFor(address, created.AdministratorDevice, created.RootKey.PublicKey, created.Network.Name),
            created.AdministratorUserId, created.NetworkAuthorityId);
        return new TestNetwork(address, created, admin);
    }

    public GlobeClient Anonymous() => Own(new GlobeClient(new GlobeClientOptions { Address = _address, PinnedRootKeys = [RootKey.PublicKey] }));

    public GlobeClient ClientFor(DeviceKeys keys, DirectoryHead? head = null, TimeProvider? clock = null, HttpMessageHandler? handler = null) =>
        Own(ClientFor(_address, keys, RootKey.PublicKey, Created.Network.Name, head, clock, handler));

    /// <summary>Enrols a new device with <paramref name="code"/>; the participant is pending until certified.</summary>
    public async Task<Participant> EnrolAsync(EnrolmentCode code, string label = "laptop")
    {
        await using var anonymous = new GlobeClient(new GlobeClientOptions { Address = _address });
        var enrolled = await anonymous.EnrolDeviceAsync(code.Code, label, Ct);
        var participant = new Participant(enrolled.Keys, ClientFor(_address, enrolled.Keys, RootKey.PublicKey, Created.Network.Name),
            Guid.Parse(enrolled.Device.UserId), Guid.Parse(enrolled.Device.AuthorityId));
        _owned.Add(participant.Client);
        _keys.Add(enrolled);
        return participant;
    }

    /// <summary>A second network administrator: invited into the secretariat, enrolled, certified with the root key.</summary>
    public async Task<Participant> AddNetworkAdministratorAsync(string name = "Lukas Berger")
    {
        var code = await FirstAdministrator.Client.InviteUserAsync(Secretariat, name, Role.NetworkAdministrator, cancellationToken: Ct);
        var administrator = await EnrolAsync(code);
        await FirstAdministrator.Client.CertifyDeviceAsync(administrator.DeviceId, new DeviceScope(AuthorityId: Secretariat), RootKey,
            expectedFingerprint: administrator.Keys.Public.SigningKey.Fingerprint, cancellationToken: Ct);
        return administrator;
    }

    /// <summary>An authority that applied and was approved by two administrators; returns its id and the first administrator's code.</summary>
    public async Task<(Guid AuthorityId, EnrolmentCode Code)> ApproveAuthorityAsync(Participant second, string name, string country)
    {
        var authority = await Anonymous().ApplyAsync(new AuthorityApplication(name, country, AuthorityKind.AntiCorruptionAgency,
            "Specialised body under UNCAC art. 36.", "Focal Point", "focal@example.org"), Ct);
        var id = Guid.Parse(authority.AuthorityId);
        await FirstAdministrator.Client.ApproveAsync(id, Ct);
        var approved = await second.Client.ApproveAsync(id, Ct);
        return (id, approved.AdministratorCode);
    }

    /// <summary>An authority administrator, enrolled with the approval's code and certified by a network administrator.</summary>
    public async Task<Participant> AuthorityAdministratorAsync(Guid authorityId, EnrolmentCode code)
    {
        var administrator = await EnrolAsync(code);
        await FirstAdministrator.Client.CertifyDeviceAsync(administrator.DeviceId, new DeviceScope(AuthorityId: authorityId), cancellationToken: Ct);
        return administrator;
    }

    /// <summary>A user invited by <paramref name="administrator"/>, enrolled and certified by them.</summary>
    public async Task<Participant> UserAsync(Participant administrator, string name, Role role = Role.Investigator)
    {
        var code = await administrator.Client.InviteUserAsync(administrator.AuthorityId, name, role, cancellationToken: Ct);
        var user = await EnrolAsync(code);
        await administrator.Client.CertifyDeviceAsync(user.DeviceId, cancellationToken: Ct);
        return user;
    }

    /// <summary>Another device of an existing user: the user invited again under their id, the device enrolled and certified by <paramref name="administrator"/>.</summary>
    public async Task<Participant> DeviceAsync(Participant administrator, Participant user, string name, string label, Role role = Role.Investigator)
    {
        var code = await administrator.Client.InviteUserAsync(administrator.AuthorityId, name, role, userId: user.UserId, cancellationToken: Ct);
        var device = await EnrolAsync(code, label);
        await administrator.Client.CertifyDeviceAsync(device.DeviceId, cancellationToken: Ct);
        return device;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var owned in _owned)
        {
            await owned.DisposeAsync();
        }

        foreach (var keys in _keys)
        {
            keys.Dispose();
        }

        Created.Dispose();
    }

    private static GlobeClient ClientFor(Uri address, DeviceKeys keys, SigningPublicKey root, string networkName,
        DirectoryHead? head = null, TimeProvider? clock = null, HttpMessageHandler? handler = null) =>
        new(new GlobeClientOptions
        {
            HttpHandler = handler,
            Address = address,
            Device = keys,
            PinnedRootKeys = [root],
            NetworkName = networkName,
            DirectoryHead = head ?? DirectoryHead.None,
            Clock = clock ?? TimeProvider.System,
        });

    private GlobeClient Own(GlobeClient client)
    {
        _owned.Add(client);
        return client;
    }
}
