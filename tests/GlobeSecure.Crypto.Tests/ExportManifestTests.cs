using System.Security.Cryptography;

namespace GlobeSecure.Crypto.Tests;

public sealed class ExportManifestTests
{
    // Known answer, computed independently with Python's struct, hashlib and cryptography (Ed25519 seed 00 01 … 1f); docs/protocol.md §9.1.
    private const string VectorInput =
        "00000018676c6f62652f76312f6578706f72742d6d616e69666573740000000800000000000000010000001001936f3e7a2b7c4d8e5f0123456789ab0000000800066101ef6e8640"
        + "0000001000a11ce05d2c4f3b9a1e7c4b2d8e6f10000000100de71ce05d2c4f3b9a1e7c4b2d8e6f110000000800000000000000020000003d6174746163686d656e74732f303139"
        + "33613030302d303030302d373030302d383030302d3030303030303030303030312f65766964656e63652e706466000000080000000000000005000000202cf24dba5fb0a30e26"
        + "e83b2ac5b9e29e1b161e5c1fa7425e73043362938b98240000000c726571756573742e6a736f6e0000000800000000000000020000002044136fa355b3678a1146ad16f7e8649e"
        + "94fb4fc21fe77e8310c060f61caaff8a";

    private const string VectorSignature =
        "5563d60a8963299722a05a6a7c634c7881a69a8811c8ee643060690c774b91cf22daaf081d562562c19ea9c0aab072676080707e8bb8c8593a9a9924d232510c";

    private readonly TestPki _pki = new();
    private readonly TestDevice _exporter;

    public ExportManifestTests() => _exporter = _pki.Investigator(Guid.CreateVersion7());

    private static ManifestFile File(string path, string content) =>
        new(path, content.Length, SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(content)));

    private ExportManifest Signed() => ExportManifest.Sign(Guid.CreateVersion7(), TestPki.Now.AddTicks(7), _exporter.UserId, _exporter.Keys,
        [File("request.json", "{}"), File("attachments/d/evidence.pdf", "hello"), File("manifest-free/z.txt", "z")]);

    [Fact]
    public void Sign_KnownAnswer_MatchesTheIndependentVector()
    {
        using var keys = DeviceKeys.FromPrivateKeys(Guid.Parse("0de71ce0-5d2c-4f3b-9a1e-7c4b2d8e6f11"), Enumerable.Range(0, 32).Select(i => (byte)i).ToArray(),
            Bytes.Random(32));

        var manifest = ExportManifest.Sign(Guid.Parse("01936f3e-7a2b-7c4d-8e5f-0123456789ab"), new DateTimeOffset(2026, 11, 24, 9, 0, 0, TimeSpan.Zero).AddTicks(1_234_567),
            Guid.Parse("00a11ce0-5d2c-4f3b-9a1e-7c4b2d8e6f10"), keys,
            [File("request.json", "{}"), File("attachments/0193a000-0000-7000-8000-000000000001/evidence.pdf", "hello")]);

        Assert.Equal(VectorInput, Convert.ToHexStringLower(manifest.SigningInput()));
        Assert.Equal(VectorSignature, Convert.ToHexStringLower(manifest.Signature));
        Assert.Equal("03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8", Convert.ToHexStringLower(keys.Signing.PublicKey.ToArray()));
    }

    [Fact]
    public void Verify_SignedManifest_SucceedsWithFilesInPathOrderAndTimeInMicroseconds()
    {
        var manifest = Signed();

        manifest.Verify(_pki.Verify(_exporter));

        Assert.Equal(["attachments/d/evidence.pdf", "manifest-free/z.txt", "request.json"], manifest.Files.Select(f => f.Path));
        Assert.Equal(TestPki.Now, manifest.ExportedAt);
        Assert.Equal(ExportManifest.CurrentFormatVersion, manifest.FormatVersion);
    }

    [Theory]
    [InlineData("request-id")]
    [InlineData("exported-at")]
    [InlineData("file-path")]
    [InlineData("file-size")]
    [InlineData("file-hash")]
    [InlineData("file-removed")]
    [InlineData("file-added")]
    [InlineData("signature")]
    [InlineData("signature-truncated")]
    public void Verify_SignedFieldChanged_ThrowsSignatureInvalid(string field)
    {
        var m = Signed();
        var changed = field switch
        {
            "request-id" => m with { RequestId = Guid.NewGuid() },
            "exported-at" => m with { ExportedAt = m.ExportedAt.AddMicroseconds(1) },
            "file-path" => m with { Files = [m.Files[0] with { Path = "attachments/d/evidence.pdg" }, .. m.Files.Skip(1)] },
            "file-size" => m with { Files = [m.Files[0] with { Size = m.Files[0].Size + 1 }, .. m.Files.Skip(1)] },
            "file-hash" => m with { Files = [m.Files[0] with { Sha256 = Bytes.FlipBit(m.Files[0].Sha256, 31, 7) }, .. m.Files.Skip(1)] },
            "file-removed" => m with { Files = [.. m.Files.Skip(1)] },
            "file-added" => m with { Files = [.. m.Files, File("zz.txt", "added")] },
            "signature" => m with { Signature = Bytes.FlipBit(m.Signature, 63) },
            _ => m with { Signature = m.Signature[..63] },
        };

        var error = Assert.Throws<SignatureInvalidException>(() => changed.Verify(_pki.Verify(_exporter)));
        Assert.Equal("export manifest", error.ObjectKind);
    }

    [Fact]
    public void Verify_AnotherDevicesCertificate_ThrowsSenderMismatch()
    {
        var other = _pki.Investigator(_exporter.AuthorityId);

        Assert.Throws<SenderMismatchException>(() => Signed().Verify(_pki.Verify(other)));
        Assert.Throws<SenderMismatchException>(() => (Signed() with { ExporterUserId = other.UserId }).Verify(_pki.Verify(_exporter)));
    }

    [Theory]
    [InlineData("reordered")]
    [InlineData("repeated")]
    [InlineData("short-hash")]
    [InlineData("negative-size")]
    [InlineData("format-version")]
    public void Verify_MalformedManifest_ThrowsMalformedInput(string problem)
    {
        var m = Signed();
        var changed = problem switch
        {
            "reordered" => m with { Files = [.. m.Files.Reverse()] },
            "repeated" => m with { Files = [m.Files[0], .. m.Files] },
            "short-hash" => m with { Files = [m.Files[0] with { Sha256 = m.Files[0].Sha256[..31] }, .. m.Files.Skip(1)] },
            "negative-size" => m with { Files = [m.Files[0] with { Size = -1 }, .. m.Files.Skip(1)] },
            _ => m with { FormatVersion = 2 },
        };

        Assert.Throws<MalformedInputException>(() => changed.Verify(_pki.Verify(_exporter)));
    }

    [Theory]
    [InlineData("/etc/passwd")]
    [InlineData("a/../b")]
    [InlineData("a//b")]
    [InlineData("./a")]
    [InlineData("a\\b")]
    [InlineData("a/\u0007b")]
    [InlineData("")]
    public void Sign_UnacceptablePath_ThrowsMalformedInput(string path)
    {
        Assert.False(ExportManifest.IsValidPath(path));
        Assert.Throws<MalformedInputException>(() =>
            ExportManifest.Sign(Guid.CreateVersion7(), TestPki.Now, _exporter.UserId, _exporter.Keys, [File(path, "x")]));
    }

    [Fact]
    public void Sign_SamePathTwice_ThrowsMalformedInput() =>
        Assert.Throws<MalformedInputException>(() =>
            ExportManifest.Sign(Guid.CreateVersion7(), TestPki.Now, _exporter.UserId, _exporter.Keys, [File("a.txt", "x"), File("a.txt", "y")]));
}
