using GlobeSecure.Contracts.V1;
using GlobeSecure.Crypto;

namespace GlobeSecure.Client;

/// <summary>What <see cref="GlobeClient.NetworkInitAsync"/> created. Store the keys, then dispose.</summary>
public sealed class NetworkInitResult : IDisposable
{
    internal NetworkInitResult(Network network, NetworkRootKey rootKey, DeviceKeys administratorDevice, Guid administratorUserId,
        Guid networkAuthorityId, DeviceCertificate certificate)
    {
        Network = network;
        RootKey = rootKey;
        AdministratorDevice = administratorDevice;
        AdministratorUserId = administratorUserId;
        NetworkAuthorityId = networkAuthorityId;
        Certificate = certificate;
    }

    /// <summary>The network as the server now describes it.</summary>
    public Network Network { get; }

    /// <summary>The new network root key: save it (<see cref="NetworkRootKey.SaveAsync"/>) and keep it offline.</summary>
    public NetworkRootKey RootKey { get; }

    /// <summary>The first network administrator's device keys: save them in a device keystore.</summary>
    public DeviceKeys AdministratorDevice { get; }

    /// <summary>The first network administrator's user id.</summary>
    public Guid AdministratorUserId { get; }

    /// <summary>The network secretariat's authority id.</summary>
    public Guid NetworkAuthorityId { get; }

    /// <summary>The root-signed certificate of the administrator's device.</summary>
    public DeviceCertificate Certificate { get; }

    /// <summary>Clears both private keys.</summary>
    public void Dispose()
    {
        RootKey.Dispose();
        AdministratorDevice.Dispose();
    }
}

/// <summary>The keys <see cref="GlobeClient.NetworkInitAsync"/> generated, handed over to be saved before the network is created.</summary>
/// <param name="RootKey">The new network root key.</param>
/// <param name="AdministratorDevice">The first network administrator's device keys.</param>
/// <param name="AdministratorUserId">The first network administrator's user id.</param>
/// <param name="NetworkAuthorityId">The secretariat's authority id.</param>
public sealed record NetworkInitKeys(NetworkRootKey RootKey, DeviceKeys AdministratorDevice, Guid AdministratorUserId, Guid NetworkAuthorityId);

/// <summary>What <see cref="GlobeClient.EnrolDeviceAsync"/> created. Store the keys, then dispose.</summary>
public sealed class EnrolmentResult : IDisposable
{
    internal EnrolmentResult(DeviceKeys keys, Device device)
    {
        Keys = keys;
        Device = device;
    }

    /// <summary>The new device's keys, generated on this machine: save them in a device keystore.</summary>
    public DeviceKeys Keys { get; }

    /// <summary>The device as registered (pending certification), with its user and authority.</summary>
    public Device Device { get; }

    /// <summary>Clears the private keys.</summary>
    public void Dispose() => Keys.Dispose();
}

/// <summary>An authority's application, as <see cref="GlobeClient.ApplyAsync"/> files it.</summary>
/// <param name="Name">1 to 200 characters.</param>
/// <param name="Country">ISO 3166-1 alpha-2, upper case.</param>
/// <param name="Kind">Not UNSPECIFIED or NETWORK_SECRETARIAT.</param>
/// <param name="LegalBasis">The legal basis as a specialised authority (UNCAC art. 36).</param>
/// <param name="FocalPointName">The focal point's name.</param>
/// <param name="FocalPointEmail">The focal point's email address.</param>
/// <param name="FocalPointPhone">Optional phone number.</param>
/// <param name="AuthorityId">The application's (and authority's) id; null for a new one. Retrying with the same id is safe.</param>
public sealed record AuthorityApplication(
    string Name,
    string Country,
    AuthorityKind Kind,
    string LegalBasis,
    string FocalPointName,
    string FocalPointEmail,
    string? FocalPointPhone = null,
    Guid? AuthorityId = null);

/// <summary>Filters of <see cref="GlobeClient.ListAuthoritiesAsync"/>; null means any.</summary>
/// <param name="Country">ISO 3166-1 alpha-2.</param>
/// <param name="Kind">Kind of authority.</param>
/// <param name="GroupId">Regional group.</param>
/// <param name="Status">Status.</param>
public sealed record AuthorityFilter(string? Country = null, AuthorityKind? Kind = null, Guid? GroupId = null, AuthorityStatus? Status = null);

/// <summary>Where to look for a device: the devices of a user, or of an authority (null: the caller's own authority).</summary>
/// <param name="UserId">The device's user.</param>
/// <param name="AuthorityId">The device's authority.</param>
public sealed record DeviceScope(Guid? UserId = null, Guid? AuthorityId = null)
{
    /// <summary>The caller's own authority.</summary>
    public static DeviceScope Own { get; } = new();
}
