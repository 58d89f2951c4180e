using System.Text;
using System.Text.Json.Nodes;
using CsCheck;
using GlobeSecure.Client.Keystore;
using GlobeSecure.Crypto;
using static GlobeSecure.Client.Tests.Keystore.KeystoreAssert;

namespace GlobeSecure.Client.Tests.Keystore;

/// <summary>Files that are not key files this library reads: each one a KeystoreFormatException, never a crash.</summary>
public sealed class KeystoreFormatTests
{
    private const string Passphrase = "format-test passphrase";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public static TheoryData<string> RawContents() =>
    [
        "",
        "   \n",
        "not json",
        "[]",
        "null",
        "\"globe-keystore\"",
        "{}",
        "{\"format\":\"globe-keystore\"",
        "{\"format\":\"globe-keystore\",\"version\":1}",
        "\u00ff\u00fe{",
    ];

    [Theory]
    [MemberData(nameof(RawContents))]
    public async Task Open_NotAKeyFile_ThrowsKeystoreFormat(string contents)
    {
        using var dir = new TempDirectory();
        var path = dir.File("device.key");
        await File.WriteAllTextAsync(path, contents, Ct);

        await Assert.ThrowsAsync<KeystoreFormatException>(() => DeviceKeystore.OpenAsync(path, Pass(Passphrase), Ct));
        await Assert.ThrowsAsync<KeystoreFormatException>(() => DeviceKeystore.ReadAsync(path, Ct));
    }

    public static TheoryData<string> RequiredFields() =>
    [
        "format", "version", "purpose", "deviceId", "publicKeys", "publicKeys.signing", "publicKeys.box", "publicKeys.boxKeySignature",
        "kdf", "kdf.algorithm", "kdf.opsLimit", "kdf.memLimitBytes", "kdf.salt", "cipher", "cipher.algorithm", "cipher.nonce",
        "cipher.ciphertext",
    ];

    [Theory]
    [MemberData(nameof(RequiredFields))]
    public async Task Open_RequiredFieldMissing_ThrowsKeystoreFormat(string field)
    {
        using var dir = new TempDirectory();
        var path = await WriteValidFileAsync(dir);
        Edit(path, json => Remove(json, field));

        await Assert.ThrowsAsync<KeystoreFormatException>(() => DeviceKeystore.OpenAsync(path, Pass(Passphrase), Ct));
    }

    public static TheoryData<string, string> BadValues() => new()
    {
        // Wrong JSON types.
        { "version", "\"1\"" },
        { "version", "1.0" },
        { "version", "0" },
        { "version", "99999999999" },
        { "purpose", "\"Device\"" },
        { "purpose", "null" },
        { "deviceId", "5" },
        { "deviceId", "\"not-an-id\"" },
        { "deviceId", "\"00000000-0000-0000-0000-000000000000\"" },
        { "deviceId", "UPPER" },
        { "deviceId", "BRACES" },
        { "userId", "null" },
        { "userId", "\"00000000-0000-0000-0000-000000000000\"" },
        { "userId", "\"x\"" },
        { "label", "\"\"" },
        { "label", "LONG" },
        { "label", "7" },
        { "publicKeys", "[]" },
        { "kdf", "\"argon2id13\"" },
        { "cipher", "null" },
        // Unknown algorithms.
        { "kdf.algorithm", "\"argon2i13\"" },
        { "kdf.algorithm", "\"ARGON2ID13\"" },
        { "cipher.algorithm", "\"aes-256-gcm\"" },
        // KDF parameters out of range or not integers.
        { "kdf.opsLimit", "2" },
        { "kdf.opsLimit", "65" },
        { "kdf.opsLimit", "-1" },
        { "kdf.opsLimit", "3.5" },
        { "kdf.opsLimit", "\"3\"" },
        { "kdf.opsLimit", "1e100" },
        { "kdf.memLimitBytes", "4096" },
        { "kdf.memLimitBytes", "1073741825" },
        { "kdf.memLimitBytes", "2147483648" },
        { "kdf.memLimitBytes", "-8192" },
        // Bad base64.
        { "kdf.salt", "\"!!!!!!!!!!!!!!!!!!!!!!!!\"" },
        { "kdf.salt", "123" },
        { "kdf.salt", "NONCANONICAL" },
        { "kdf.salt", "WHITESPACE" },
        { "kdf.salt", "URLSAFE" },
        { "cipher.nonce", "\"\"" },
        // Wrong lengths.
        { "kdf.salt", "LEN:15" },
        { "kdf.salt", "LEN:17" },
        { "cipher.nonce", "LEN:23" },
        { "cipher.nonce", "LEN:12" },
        { "cipher.ciphertext", "LEN:79" },
        { "cipher.ciphertext", "LEN:81" },
        { "cipher.ciphertext", "LEN:16" },
        { "publicKeys.signing", "LEN:31" },
        { "publicKeys.box", "LEN:33" },
        { "publicKeys.boxKeySignature", "LEN:63" },
        // Fields this version does not know.
        { "comment", "\"hello\"" },
        { "kdf.pepper", "\"x\"" },
        { "cipher.tag", "\"x\"" },
        { "publicKeys.extra", "\"x\"" },
    };

    [Theory]
    [MemberData(nameof(BadValues))]
    public async Task Open_FieldWithBadValue_ThrowsKeystoreFormat(string field, string value)
    {
        using var dir = new TempDirectory();
        var path = await WriteValidFileAsync(dir);
        Edit(path, json => Set(json, field, Replacement(json, field, value)));

        var error = await Assert.ThrowsAsync<KeystoreFormatException>(() => DeviceKeystore.OpenAsync(path, Pass(Passphrase), Ct));

        Assert.DoesNotContain(Passphrase, error.ToString(), StringComparison.Ordinal);
        await Assert.ThrowsAsync<KeystoreFormatException>(() => DeviceKeystore.ReadAsync(path, Ct));
    }

    [Fact]
    public async Task Open_KdfParametersOutOfRange_WrapsTheCryptoErrorWithARangeMessage()
    {
        using var dir = new TempDirectory();
        var path = await WriteValidFileAsync(dir);
        Edit(path, json => Set(json, "kdf.opsLimit", 1000));

        var error = await Assert.ThrowsAsync<KeystoreFormatException>(() => DeviceKeystore.OpenAsync(path, Pass(Passphrase), Ct));

        Assert.IsType<MalformedInputException>(error.InnerException);
        Assert.Contains("out of range", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Open_DuplicateField_ThrowsKeystoreFormat()
    {
        using var dir = new TempDirectory();
        var path = await WriteValidFileAsync(dir);
        var text = await File.ReadAllTextAsync(path, Ct);
        // The second "purpose" would win in a lenient parser; here it is refused.
        await File.WriteAllTextAsync(path, text.Replace("{", "{\"purpose\":\"backup\",", StringComparison.Ordinal), Ct);

        await Assert.ThrowsAsync<KeystoreFormatException>(() => DeviceKeystore.OpenAsync(path, Pass(Passphrase), Ct));
    }

    [Fact]
    public async Task Open_InvalidUtf8InsideAString_ThrowsKeystoreFormat()
    {
        // Found by Parse_AnySingleByteChanged: a stray byte inside a string escaped as InvalidOperationException.
        using var dir = new TempDirectory();
        var path = await WriteValidFileAsync(dir);
        var bytes = await File.ReadAllBytesAsync(path, Ct);
        var label = Encoding.UTF8.GetBytes("\"desk\"");
        var at = bytes.AsSpan().IndexOf(label);
        bytes[at + 1] = 0xC3;
        await File.WriteAllBytesAsync(path, bytes, Ct);

        await Assert.ThrowsAsync<KeystoreFormatException>(() => DeviceKeystore.OpenAsync(path, Pass(Passphrase), Ct));
    }

    [Fact]
    public async Task Open_EscapedUnpairedSurrogateInAString_ThrowsKeystoreFormat()
    {
        using var dir = new TempDirectory();
        var path = await WriteValidFileAsync(dir);
        var text = await File.ReadAllTextAsync(path, Ct);
        await File.WriteAllTextAsync(path, text.Replace("\"desk\"", "\"\\ud800\"", StringComparison.Ordinal), Ct);

        await Assert.ThrowsAsync<KeystoreFormatException>(() => DeviceKeystore.OpenAsync(path, Pass(Passphrase), Ct));
    }

    [Fact]
    public async Task Open_FileTooLarge_ThrowsKeystoreFormatWithoutParsing()
    {
        using var dir = new TempDirectory();
        var path = await WriteValidFileAsync(dir);
        var text = await File.ReadAllTextAsync(path, Ct);
        await File.WriteAllTextAsync(path, text + new string(' ', KeyFileIo.MaxFileBytes), Ct);

        var error = await Assert.ThrowsAsync<KeystoreFormatException>(() => DeviceKeystore.OpenAsync(path, Pass(Passphrase), Ct));

        Assert.Contains("larger than", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Open_ByteOrderMarkAndReformatted_StillOpens()
    {
        // Whitespace and a byte-order mark carry no meaning: an editor that adds them does not break the file.
        using var dir = new TempDirectory();
        using var known = new KnownKeys();
        var path = dir.File("device.key");
        await DeviceKeystore.CreateAsync(path, known.Keys, Pass(Passphrase), Fast, Ct);
        var compact = ReadJson(path).ToJsonString();
        await File.WriteAllBytesAsync(path, [0xEF, 0xBB, 0xBF, .. Encoding.UTF8.GetBytes(compact)], Ct);

        using var opened = await DeviceKeystore.OpenAsync(path, Pass(Passphrase), Ct);

        SameKeys(known.Keys, opened);
    }

    [Fact]
    public void Parse_AnySingleByteChanged_OpensTheSameKeysOrThrowsAKeystoreError()
    {
        using var known = new KnownKeys();
        using var passphrase = PassphraseBuffer.From(Passphrase, "passphrase");
        var original = KeystoreFile.Seal(known.Keys, KeystorePurpose.Device, Guid.CreateVersion7(), null, "label",
            Argon2idParameters.InsecureForTests, passphrase).ToJson();

        Gen.Select(Gen.Int[0, original.Length - 1], Gen.Byte).Sample((index, value) =>
        {
            var altered = (byte[])original.Clone();
            altered[index] = value;
            try
            {
                using var keys = KeystoreFile.Parse(altered).Unseal(passphrase);
                // Only a change without meaning (whitespace for whitespace, or the same byte) may still open.
                Assert.True(altered[index] == original[index] || IsJsonWhitespace(altered[index]) && IsJsonWhitespace(original[index]),
                    $"byte {index} changed from {original[index]} to {value} and the file still opened");
                SameKeys(known.Keys, keys);
            }
            catch (KeystoreException)
            {
                // Expected: format, corruption or failed decryption, each typed.
            }
        }, iter: 2000);
    }

    [Fact]
    public void Parse_EveryTruncation_ThrowsKeystoreFormat()
    {
        using var known = new KnownKeys();
        using var passphrase = PassphraseBuffer.From(Passphrase, "passphrase");
        var json = KeystoreFile.Seal(known.Keys, KeystorePurpose.Device, null, null, null, Argon2idParameters.InsecureForTests, passphrase).ToJson();

        // The last byte is the trailing newline: without it the file is still whole.
        for (var length = 0; length < json.Length - 1; length++)
        {
            Assert.Throws<KeystoreFormatException>(() => KeystoreFile.Parse(json[..length]));
        }
    }

    [Fact]
    public void SealThenUnseal_AnyValidPassphrase_RoundTripsAndAnyOtherFails()
    {
        using var known = new KnownKeys();
        var text = Gen.String[Gen.Char, 1, 40].Where(s => !HasUnpairedSurrogate(s));

        text.Sample(passphraseText =>
        {
            using var passphrase = PassphraseBuffer.From(passphraseText, "passphrase");
            using var other = PassphraseBuffer.From(passphraseText + "\0", "passphrase");
            var file = KeystoreFile.Parse(KeystoreFile.Seal(known.Keys, KeystorePurpose.Device, null, null, null,
                Argon2idParameters.InsecureForTests, passphrase).ToJson());

            using var opened = file.Unseal(passphrase);
            SameKeys(known.Keys, opened);
            Assert.Throws<WrongPassphraseException>(() => file.Unseal(other));
        }, iter: 30);
    }

    private static bool IsJsonWhitespace(byte b) => b is (byte)' ' or (byte)'\t' or (byte)'\n' or (byte)'\r';

    private static bool HasUnpairedSurrogate(string s)
    {
        for (var i = 0; i < s.Length; i++)
        {
            if (char.IsHighSurrogate(s[i]) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1]))
            {
                i++;
            }
            else if (char.IsSurrogate(s[i]))
            {
                return true;
            }
        }

        return false;
    }

    private static async Task<string> WriteValidFileAsync(TempDirectory dir)
    {
        using var known = new KnownKeys();
        var path = dir.File("device.key");
        await DeviceKeystore.CreateAsync(path, known.Keys, Pass(Passphrase),
            new KeystoreOptions { KdfParameters = Argon2idParameters.InsecureForTests, UserId = Guid.CreateVersion7(), Label = "desk" }, Ct);
        using (await DeviceKeystore.OpenAsync(path, Pass(Passphrase), Ct))
        {
            // The control: before the edit, the file opens.
        }

        return path;
    }

    /// <summary>The JSON value to put in place of <paramref name="field"/>; a few symbolic values are computed from the file.</summary>
    private static JsonNode? Replacement(JsonObject json, string field, string value)
    {
        string Current() => GetString(json, field);
        switch (value)
        {
            case "UPPER":
                return JsonValue.Create(Current().ToUpperInvariant());
            case "BRACES":
                return JsonValue.Create("{" + Current() + "}");
            case "LONG":
                return JsonValue.Create(new string('x', DeviceKeystore.MaxLabelLength + 1));
            case "NONCANONICAL":
            {
                // 16 bytes end in two characters and "==": the second carries four unused bits, here set.
                var text = Current().ToCharArray();
                const string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
                text[21] = alphabet[alphabet.IndexOf(text[21], StringComparison.Ordinal) ^ 0x01];
                return JsonValue.Create(new string(text));
            }
            case "WHITESPACE":
                return JsonValue.Create(Current().Insert(8, " "));
            case "URLSAFE":
                return JsonValue.Create(Convert.ToBase64String([0xfb, 0xff, 0xbf, .. new byte[13]]).Replace('+', '-').Replace('/', '_'));
            case var len when len.StartsWith("LEN:", StringComparison.Ordinal):
                return JsonValue.Create(Convert.ToBase64String(new byte[int.Parse(len[4..], System.Globalization.CultureInfo.InvariantCulture)]));
            default:
                return JsonNode.Parse(value);
        }
    }
}
