using GlobeSecure.Crypto;

namespace GlobeSecure.Client.Tests;

public sealed class WireTests
{
    [Fact]
    public void Certificate_ThroughProto_StillVerifies()
    {
        using var root = SigningKeyPair.Generate();
        using var device = DeviceKeys.Generate(Guid.CreateVersion7());
        var now = DateTimeOffset.UtcNow;
        var certificate = DeviceCertificate.Issue(Guid.CreateVersion7(), device.Public, Guid.CreateVersion7(), Guid.CreateVersion7(),
            DeviceRole.NetworkAdministrator, now, now.AddDays(1), root, null);

        var back = Wire.FromProto(certificate.ToProto());

        Assert.True(back.HasValidSignature());
        Assert.Equal(certificate.SigningInput(), back.SigningInput());
        Assert.Null(back.IssuerDeviceId);
    }

    [Fact]
    public void Revocation_ThroughProto_StillVerifies()
    {
        using var issuer = DeviceKeys.Generate(Guid.CreateVersion7());
        using var device = DeviceKeys.Generate(Guid.CreateVersion7());
        var now = DateTimeOffset.UtcNow;
        var certificate = DeviceCertificate.Issue(Guid.CreateVersion7(), device.Public, Guid.CreateVersion7(), Guid.CreateVersion7(),
            DeviceRole.Investigator, now, now.AddDays(1), issuer.Signing, issuer.DeviceId);
        var revocation = Revocation.Issue(Guid.CreateVersion7(), certificate, now, "lost", issuer.Signing, issuer.DeviceId);

        var back = Wire.FromProto(revocation.ToProto());

        Assert.True(back.HasValidSignature());
        Assert.Equal(issuer.DeviceId, back.IssuerDeviceId);
    }

    [Fact]
    public void DeviceKeys_ThroughProto_StillVerify()
    {
        using var device = DeviceKeys.Generate(Guid.CreateVersion7());

        var back = Wire.FromProto(device.Public.ToProto());

        back.Verify();
        Assert.Equal(device.Public.SigningKey, back.SigningKey);
    }

    [Fact]
    public void FromProto_CertificateWithBadId_IsMalformed()
    {
        using var root = SigningKeyPair.Generate();
        using var device = DeviceKeys.Generate(Guid.CreateVersion7());
        var now = DateTimeOffset.UtcNow;
        var proto = DeviceCertificate.Issue(Guid.CreateVersion7(), device.Public, Guid.CreateVersion7(), Guid.CreateVersion7(),
            DeviceRole.NetworkAdministrator, now, now.AddDays(1), root, null).ToProto();
        proto.UserId = "not-a-uuid";

        Assert.Throws<MalformedInputException>(() => Wire.FromProto(proto));
    }

    [Fact]
    public void Roles_EveryDeviceRole_RoundTrips()
    {
        foreach (var role in Enum.GetValues<DeviceRole>())
        {
            Assert.Equal(role, role.ToProto().ToDeviceRole());
        }

        Assert.Throws<MalformedInputException>(() => GlobeSecure.Contracts.V1.Role.Unspecified.ToDeviceRole());
    }
}
