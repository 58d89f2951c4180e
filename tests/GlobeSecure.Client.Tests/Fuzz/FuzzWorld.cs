using GlobeSecure.Crypto;

namespace GlobeSecure.Client.Tests.Fuzz;

/// <summary>
/// A network made only of fixed keys, ids and times, so that the committed seeds (made from it by
/// <see cref="ClientParserFuzzTests.WriteCorpus"/>) verify on every run: root → network
/// administrator → authority administrator → sender and recipient investigators. Never change a
/// value here without regenerating the corpus.
/// </summary>
internal sealed class FuzzWorld : IDisposable
{
    public static readonly DateTimeOffset Now = new(2026, 6, 1, 12, 0, 0, TimeSpan.Zero);

    public static readonly Guid ChannelId = Id(0xC4A1);
    public static readonly Guid NetworkId = Id(0x4E7);

    public FuzzWorld()
    {
        Root = SigningKeyPair.FromSeed(Bytes(1));
        Anchors = new TrustAnchors([Root.PublicKey]);
        NetworkAdmin = Device(10, DeviceRole.NetworkAdministrator, Id(0xA0), null);
        AuthorityAdmin = Device(20, DeviceRole.AuthorityAdministrator, Id(0xA1), NetworkAdmin);
        Sender = Device(30, DeviceRole.Investigator, Id(0xA1), AuthorityAdmin);
        Recipient = Device(40, DeviceRole.Investigator, Id(0xA1), AuthorityAdmin);
        EpochKey = EpochKey.FromBytes(ChannelId, 2, Bytes(50));
        CheckpointKey = SigningKeyPair.FromSeed(Bytes(60));
    }

    public SigningKeyPair Root { get; }

    public TrustAnchors Anchors { get; }

    public WorldDevice NetworkAdmin { get; }

    public WorldDevice AuthorityAdmin { get; }

    public WorldDevice Sender { get; }

    public WorldDevice Recipient { get; }

    public EpochKey EpochKey { get; }

    /// <summary>The audit checkpoint key of the audit-export seeds.</summary>
    public SigningKeyPair CheckpointKey { get; }

    public VerifiedDevice Verify(WorldDevice device) => CertificateChain.Verify(device.Chain, Anchors, Now);

    public static Guid Id(int n) => Guid.Parse($"0193a6f0-0000-7000-8000-{n:x12}");

    private static byte[] Bytes(int start) => [.. Enumerable.Range(start, 32).Select(i => (byte)i)];

    private WorldDevice Device(int n, DeviceRole role, Guid authorityId, WorldDevice? issuer)
    {
        var keys = DeviceKeys.FromPrivateKeys(Id(n), Bytes(n), Bytes(n + 100));
        var certificate = DeviceCertificate.Issue(Id(n + 1), keys.Public, Id(n + 2), authorityId, role, Now.AddDays(-30), Now.AddDays(365),
            issuer?.Keys.Signing ?? Root, issuer?.Keys.DeviceId);
        return new WorldDevice(keys, Id(n + 2), issuer is null ? [certificate] : [certificate, .. issuer.Chain]);
    }

    public void Dispose()
    {
        foreach (var device in new[] { NetworkAdmin, AuthorityAdmin, Sender, Recipient })
        {
            device.Keys.Dispose();
        }

        Root.Dispose();
        CheckpointKey.Dispose();
        EpochKey.Dispose();
    }
}

internal sealed record WorldDevice(DeviceKeys Keys, Guid UserId, IReadOnlyList<DeviceCertificate> Chain)
{
    public DeviceCertificate Certificate => Chain[0];
}
