using System.Text.Json.Nodes;
using GlobeSecure.Client.Keystore;
using GlobeSecure.Crypto;
using static GlobeSecure.Client.Tests.Keystore.KeystoreAssert;

namespace GlobeSecure.Client.Tests.Keystore;

/// <summary>Every clear field an attacker holding the file can alter, and the error each alteration must cause.</summary>
public sealed class KeystoreTamperingTests
{
    private const string Passphrase = "tamper-test passphrase";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public static TheoryData<string, Type> Alterations() => new()
    {
        // Covered by the box-key signature (device id, signing key, box key): caught before any decryption.
        { "deviceId", typeof(KeystoreCorruptException) },
        { "publicKeys.signing", typeof(KeystoreCorruptException) },
        { "publicKeys.box", typeof(KeystoreCorruptException) },
        { "publicKeys.boxKeySignature", typeof(KeystoreCorruptException) },
        // Covered by the associated data (or they change the derived key): decryption fails.
        { "publicKeys (another device's consistent set)", typeof(WrongPassphraseException) },
        { "userId", typeof(WrongPassphraseException) },
        { "userId removed", typeof(WrongPassphraseException) },
        { "authorityId", typeof(WrongPassphraseException) },
        { "label", typeof(WrongPassphraseException) },
        { "label removed", typeof(WrongPassphraseException) },
        { "kdf.opsLimit", typeof(WrongPassphraseException) },
        { "kdf.memLimitBytes", typeof(WrongPassphraseException) },
        { "kdf.salt", typeof(WrongPassphraseException) },
        { "cipher.nonce", typeof(WrongPassphraseException) },
        { "cipher.ciphertext (first byte)", typeof(WrongPassphraseException) },
        { "cipher.ciphertext (tag)", typeof(WrongPassphraseException) },
        // Checked before decryption: the file is not what the caller asked for.
        { "purpose", typeof(KeystoreFormatException) },
        { "version", typeof(KeystoreFormatException) },
        { "format", typeof(KeystoreFormatException) },
    };

    [Theory]
    [MemberData(nameof(Alterations))]
    public async Task Open_ClearFieldAltered_ThrowsTheSpecificError(string alteration, Type expected)
    {
        using var dir = new TempDirectory();
        using var known = new KnownKeys();
        using var other = new KnownKeys();
        var path = dir.File("device.key");
        var options = new KeystoreOptions
        {
            KdfParameters = Argon2idParameters.InsecureForTests, UserId = Guid.CreateVersion7(), AuthorityId = Guid.CreateVersion7(), Label = "desk",
        };
        await DeviceKeystore.CreateAsync(path, known.Keys, Pass(Passphrase), options, Ct);
        using (var control = await DeviceKeystore.OpenAsync(path, Pass(Passphrase), Ct))
        {
            SameKeys(known.Keys, control);
        }

        Edit(path, json => Alter(json, alteration, other.Keys));
        var error = await Assert.ThrowsAnyAsync<KeystoreException>(() => DeviceKeystore.OpenAsync(path, Pass(Passphrase), Ct));

        Assert.IsType(expected, error);
        Assert.DoesNotContain(Passphrase, error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Open_PrivateKeysDoNotMatchPublicKeys_ThrowsKeystoreCorrupt()
    {
        // Only someone who knows the passphrase can build this file; the check guards against a writer bug or a planted key.
        using var dir = new TempDirectory();
        using var shown = new KnownKeys();
        using var hidden = new KnownKeys(shown.Keys.DeviceId);
        using var passphrase = PassphraseBuffer.From(Passphrase, "passphrase");
        var file = KeystoreFile.Seal(shown.Keys.Public, [.. hidden.Seed, .. hidden.BoxPrivateKey], KeystorePurpose.Device, null, null, null,
            Argon2idParameters.InsecureForTests, passphrase);
        var path = dir.File("device.key");
        await File.WriteAllBytesAsync(path, file.ToJson(), Ct);

        var error = await Assert.ThrowsAsync<KeystoreCorruptException>(() => DeviceKeystore.OpenAsync(path, Pass(Passphrase), Ct));

        Assert.Contains("do not match", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AssociatedData_EachClearField_ChangesTheBytes()
    {
        using var known = new KnownKeys();
        using var other = new KnownKeys(known.Keys.DeviceId);
        using var passphrase = PassphraseBuffer.From(Passphrase, "passphrase");
        var file = KeystoreFile.Seal(known.Keys, KeystorePurpose.Device, Guid.CreateVersion7(), Guid.CreateVersion7(), "label",
            Argon2idParameters.InsecureForTests, passphrase);
        var baseline = file.AssociatedData();
        KeystoreFile[] variants =
        [
            file with { Version = 2 },
            file with { Purpose = KeystorePurpose.Backup },
            file with { PublicKeys = known.Keys.Public with { DeviceId = Guid.CreateVersion7() } },
            file with { PublicKeys = known.Keys.Public with { SigningKey = other.Keys.Public.SigningKey } },
            file with { PublicKeys = known.Keys.Public with { BoxKey = other.Keys.Public.BoxKey } },
            file with { PublicKeys = known.Keys.Public with { BoxKeySignature = other.Keys.Public.BoxKeySignature } },
            file with { UserId = null },
            file with { AuthorityId = Guid.CreateVersion7() },
            file with { Label = "other" },
            file with { Kdf = new Argon2idParameters(4, Argon2idParameters.InsecureForTests.MemLimitBytes) },
            file with { Kdf = new Argon2idParameters(3, 2 * Argon2idParameters.InsecureForTests.MemLimitBytes) },
            file with { Salt = PassphraseKdf.NewSalt() },
        ];

        Assert.All(variants, variant => Assert.NotEqual(baseline, variant.AssociatedData()));
        Assert.Equal(baseline, (file with { Nonce = new byte[24] }).AssociatedData());
    }

    [Fact]
    public void AssociatedData_KnownFile_HasTheDocumentedLayout()
    {
        // docs/keystore.md spells out this layout: context, then the fields as length-prefixed canonical values.
        var deviceId = Guid.Parse("01890a5d-ac96-774b-bcce-b302099a8057");
        using var keys = DeviceKeys.FromPrivateKeys(deviceId, new byte[32], Enumerable.Repeat((byte)1, 32).ToArray());
        var salt = Enumerable.Range(0, 16).Select(i => (byte)i).ToArray();
        var file = new KeystoreFile(1, KeystorePurpose.Device, keys.Public, null, null, "L", new Argon2idParameters(3, 8192), salt, [], []);

        var expected = new CanonicalWriter("globe/v1/keystore")
            .Int64(1).Text("device").Guid(deviceId).Guid(null).Guid(null).Text("L")
            .Bytes(keys.Public.SigningKey.Span).Bytes(keys.Public.BoxKey.Span).Bytes(keys.Public.BoxKeySignature)
            .Text("argon2id13").Int64(3).Int64(8192).Bytes(salt).Text("xchacha20poly1305-ietf")
            .ToArray();

        Assert.Equal(expected, file.AssociatedData());
        // The first field: length 17, then the context's bytes.
        Assert.Equal([0, 0, 0, 17, .. "globe/v1/keystore"u8], file.AssociatedData()[..21]);
    }

    private static void Alter(JsonObject json, string alteration, DeviceKeys other)
    {
        switch (alteration)
        {
            case "deviceId":
                json["deviceId"] = Guid.CreateVersion7().ToString("D");
                break;
            case "publicKeys.signing":
            case "publicKeys.box":
            case "publicKeys.boxKeySignature":
            case "kdf.salt":
            case "cipher.nonce":
                Set(json, alteration, FlipBit(GetString(json, alteration)));
                break;
            case "publicKeys (another device's consistent set)":
                json["deviceId"] = other.DeviceId.ToString("D");
                json["publicKeys"] = new JsonObject
                {
                    ["signing"] = Convert.ToBase64String(other.Public.SigningKey.Span),
                    ["box"] = Convert.ToBase64String(other.Public.BoxKey.Span),
                    ["boxKeySignature"] = Convert.ToBase64String(other.Public.BoxKeySignature),
                };
                break;
            case "userId":
            case "authorityId":
                json[alteration] = Guid.CreateVersion7().ToString("D");
                break;
            case "userId removed":
                Remove(json, "userId");
                break;
            case "label":
                json["label"] = "desl";
                break;
            case "label removed":
                Remove(json, "label");
                break;
            case "kdf.opsLimit":
                Set(json, alteration, 4);
                break;
            case "kdf.memLimitBytes":
                Set(json, alteration, 16 * 1024);
                break;
            case "cipher.ciphertext (first byte)":
                Set(json, "cipher.ciphertext", FlipBit(GetString(json, "cipher.ciphertext")));
                break;
            case "cipher.ciphertext (tag)":
                Set(json, "cipher.ciphertext", FlipBit(GetString(json, "cipher.ciphertext"), -1));
                break;
            case "purpose":
                json["purpose"] = "backup";
                break;
            case "version":
                json["version"] = 2;
                break;
            case "format":
                json["format"] = "globe-keystore2";
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(alteration), alteration, "unknown alteration");
        }
    }
}
