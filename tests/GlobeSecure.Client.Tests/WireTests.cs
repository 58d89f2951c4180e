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

    private static DocumentAttachment Attachment(string name = "ledger.pdf") =>
        new(Guid.CreateVersion7(), new byte[32], Blake2b256.Hash([1]), Blake2b256.Hash([2]), 1234, name, "application/pdf");

    [Fact]
    public void Attachment_ThroughProto_RoundTripsEveryField()
    {
        var attachment = Attachment();

        var back = Wire.FromProto(attachment.ToProto());

        Assert.Equal((attachment.DocumentId, attachment.PlaintextLength, attachment.FileName, attachment.MediaType),
            (back.DocumentId, back.PlaintextLength, back.FileName, back.MediaType));
        Assert.Equal(attachment.FileKey, back.FileKey);
        Assert.Equal(attachment.PlaintextHash, back.PlaintextHash);
        Assert.Equal(attachment.CiphertextHash, back.CiphertextHash);
        Assert.DoesNotContain(attachment.FileName, attachment.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("../../.bashrc")]
    [InlineData("reports/ledger.pdf")]
    [InlineData("c:\\ledger.pdf")]
    [InlineData("..")]
    [InlineData("")]
    [InlineData("ledger\u001b[2J.pdf")]
    public void FromProto_AttachmentFileNameNotABaseName_IsMalformed(string name)
    {
        var proto = Attachment().ToProto();
        proto.FileName = name;

        Assert.Throws<MalformedInputException>(() => Wire.FromProto(proto));
    }

    [Fact]
    public void FromProto_AttachmentKeyOrHashOfWrongSize_IsMalformed()
    {
        var shortKey = Attachment().ToProto();
        shortKey.FileKey = Google.Protobuf.ByteString.CopyFrom(new byte[31]);
        var shortHash = Attachment().ToProto();
        shortHash.CiphertextHash = Google.Protobuf.ByteString.CopyFrom(new byte[16]);
        var negative = Attachment().ToProto();
        negative.PlaintextLength = -1;

        Assert.Throws<MalformedInputException>(() => Wire.FromProto(shortKey));
        Assert.Throws<MalformedInputException>(() => Wire.FromProto(shortHash));
        Assert.Throws<MalformedInputException>(() => Wire.FromProto(negative));
    }
}
