using System.Security.Cryptography;
using System.Text.Json;
using GlobeSecure.Crypto;

namespace GlobeSecure.Client.Keystore;

/// <summary>
/// One key file, parsed: its clear fields and its encrypted payload. docs/keystore.md is the
/// specification; this type is its only reader and writer.
/// </summary>
internal sealed record KeystoreFile(
    int Version,
    KeystorePurpose Purpose,
    PublicDeviceKeys PublicKeys,
    Guid? UserId,
    Guid? AuthorityId,
    string? Label,
    Argon2idParameters Kdf,
    byte[] Salt,
    byte[] Nonce,
    byte[] Ciphertext)
{
    public const string FormatName = "globe-keystore";
    public const int CurrentVersion = 1;
    public const string KdfAlgorithm = "argon2id13";
    public const string CipherAlgorithm = "xchacha20poly1305-ietf";
    public const string AssociatedDataContext = "globe/v1/keystore";

    /// <summary>Payload layout: Ed25519 seed (bytes 0–31) then X25519 private key (bytes 32–63).</summary>
    public const int SeedBytes = 32;

    public const int BoxPrivateKeyBytes = 32;
    public const int PayloadBytes = SeedBytes + BoxPrivateKeyBytes;
    public const int CiphertextBytes = PayloadBytes + SecretBox.TagBytes;
    public const int MaxLabelLength = 256;

    private const int PublicKeyBytes = 32;
    private const int SignatureBytes = 64;

    private static readonly string[] RootProperties =
        ["format", "version", "purpose", "deviceId", "userId", "authorityId", "label", "publicKeys", "kdf", "cipher"];

    private static readonly string[] PublicKeysProperties = ["signing", "box", "boxKeySignature"];
    private static readonly string[] KdfProperties = ["algorithm", "opsLimit", "memLimitBytes", "salt"];
    private static readonly string[] CipherProperties = ["algorithm", "nonce", "ciphertext"];

    public Guid DeviceId => PublicKeys.DeviceId;

    /// <summary>
    /// Canonical bytes (context <c>globe/v1/keystore</c>) of every clear field, in this order:
    /// version, purpose, device id, user id, authority id, label, signing key, box key, box-key
    /// signature, KDF algorithm, passes, memory, salt, cipher algorithm. Altering any of them makes
    /// decryption fail.
    /// </summary>
    public byte[] AssociatedData() =>
        new CanonicalWriter(AssociatedDataContext)
            .Int64(Version)
            .Text(PurposeName(Purpose))
            .Guid(DeviceId)
            .Guid(UserId)
            .Guid(AuthorityId)
            .Text(Label)
            .Bytes(PublicKeys.SigningKey.Span)
            .Bytes(PublicKeys.BoxKey.Span)
            .Bytes(PublicKeys.BoxKeySignature)
            .Text(KdfAlgorithm)
            .Int64(Kdf.OpsLimit)
            .Int64(Kdf.MemLimitBytes)
            .Bytes(Salt)
            .Text(CipherAlgorithm)
            .ToArray();

    /// <summary>Encrypts <paramref name="keys"/> under the passphrase with a fresh salt and nonce.</summary>
    public static KeystoreFile Seal(DeviceKeys keys, KeystorePurpose purpose, Guid? userId, Guid? authorityId, string? label,
        Argon2idParameters kdf, PassphraseBuffer passphrase)
    {
        var payload = GC.AllocateArray<byte>(PayloadBytes, pinned: true);
        try
        {
            keys.Signing.ExportSeed(payload.AsSpan(0, SeedBytes));
            keys.Box.ExportPrivateKey(payload.AsSpan(SeedBytes, BoxPrivateKeyBytes));
            return Seal(keys.Public, payload, purpose, userId, authorityId, label, kdf, passphrase);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(payload);
        }
    }

    /// <summary>Encrypts a raw payload next to the given public keys (tests use it to build inconsistent files).</summary>
    internal static KeystoreFile Seal(PublicDeviceKeys publicKeys, ReadOnlySpan<byte> payload, KeystorePurpose purpose, Guid? userId,
        Guid? authorityId, string? label, Argon2idParameters kdf, PassphraseBuffer passphrase)
    {
        var header = new KeystoreFile(CurrentVersion, purpose, publicKeys, userId, authorityId, label, kdf,
            PassphraseKdf.NewSalt(), [], []);
        var key = PassphraseKdf.DeriveKey(passphrase.Span, header.Salt, kdf);
        try
        {
            var (nonce, ciphertext) = SecretBox.Encrypt(payload, header.AssociatedData(), key);
            return header with { Nonce = nonce, Ciphertext = ciphertext };
        }
        finally
        {
            CryptographicOperations.ZeroMemory(key);
        }
    }

    /// <summary>Decrypts the private keys and checks they are the ones the clear public keys name.</summary>
    public DeviceKeys Unseal(PassphraseBuffer passphrase)
    {
        var key = PassphraseKdf.DeriveKey(passphrase.Span, Salt, Kdf);
        byte[]? payload = null;
        try
        {
            payload = SecretBox.TryDecrypt(Ciphertext, AssociatedData(), Nonce, key) ?? throw new WrongPassphraseException();
            if (payload.Length != PayloadBytes)
            {
                throw new KeystoreCorruptException("The key file's private payload has the wrong length.");
            }

            var keys = DeviceKeys.FromPrivateKeys(DeviceId, payload.AsSpan(0, SeedBytes), payload.AsSpan(SeedBytes, BoxPrivateKeyBytes));
            if (!keys.Public.SigningKey.Equals(PublicKeys.SigningKey) || !keys.Public.BoxKey.Equals(PublicKeys.BoxKey) ||
                !keys.Public.BoxKeySignature.AsSpan().SequenceEqual(PublicKeys.BoxKeySignature))
            {
                keys.Dispose();
                throw new KeystoreCorruptException("The key file's private keys do not match its public keys.");
            }

            return keys;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(key);
            if (payload is not null)
            {
                CryptographicOperations.ZeroMemory(payload);
            }
        }
    }

    public static string PurposeName(KeystorePurpose purpose) => purpose switch
    {
        KeystorePurpose.Device => "device",
        KeystorePurpose.Backup => "backup",
        _ => throw new ArgumentOutOfRangeException(nameof(purpose)),
    };

    public byte[] ToJson()
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartObject();
            json.WriteString("format", FormatName);
            json.WriteNumber("version", Version);
            json.WriteString("purpose", PurposeName(Purpose));
            json.WriteString("deviceId", DeviceId.ToString("D"));
            if (UserId is { } userId)
            {
                json.WriteString("userId", userId.ToString("D"));
            }

            if (AuthorityId is { } authorityId)
            {
                json.WriteString("authorityId", authorityId.ToString("D"));
            }

            if (Label is not null)
            {
                json.WriteString("label", Label);
            }

            json.WriteStartObject("publicKeys");
            json.WriteBase64String("signing", PublicKeys.SigningKey.Span);
            json.WriteBase64String("box", PublicKeys.BoxKey.Span);
            json.WriteBase64String("boxKeySignature", PublicKeys.BoxKeySignature);
            json.WriteEndObject();

            json.WriteStartObject("kdf");
            json.WriteString("algorithm", KdfAlgorithm);
            json.WriteNumber("opsLimit", Kdf.OpsLimit);
            json.WriteNumber("memLimitBytes", Kdf.MemLimitBytes);
            json.WriteBase64String("salt", Salt);
            json.WriteEndObject();

            json.WriteStartObject("cipher");
            json.WriteString("algorithm", CipherAlgorithm);
            json.WriteBase64String("nonce", Nonce);
            json.WriteBase64String("ciphertext", Ciphertext);
            json.WriteEndObject();
            json.WriteEndObject();
        }

        buffer.WriteByte((byte)'\n');
        return buffer.ToArray();
    }

    /// <summary>
    /// Parses and checks a key file strictly: every field present with its exact type and length,
    /// no unknown or repeated fields, canonical base64, KDF parameters within bounds, and public keys
    /// that match their signature. Throws <see cref="KeystoreFormatException"/> or
    /// <see cref="KeystoreCorruptException"/>; never anything else for bad input.
    /// </summary>
    public static KeystoreFile Parse(byte[] utf8Json)
    {
        ReadOnlyMemory<byte> json = utf8Json;
        if (json.Span.StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF]))
        {
            // An editor may have added a byte-order mark; it carries no meaning.
            json = json[3..];
        }

        if (!System.Text.Unicode.Utf8.IsValid(json.Span))
        {
            throw new KeystoreFormatException("The key file is not valid UTF-8 text.");
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 4, AllowDuplicateProperties = false });
        }
        catch (JsonException e)
        {
            throw new KeystoreFormatException("The key file is not valid JSON.", e);
        }

        using (document)
        {
            var root = document.RootElement;
            RequireObject(root, "The key file", RootProperties);
            if (RequiredString(root, "format") != FormatName)
            {
                throw new KeystoreFormatException($"The file is not a GlobeSecure key file: its format is not '{FormatName}'.");
            }

            var version = RequiredElement(root, "version", JsonValueKind.Number);
            if (!version.TryGetInt32(out var versionNumber) || versionNumber != CurrentVersion)
            {
                throw new KeystoreFormatException($"Key file version {version.GetRawText()} is not supported: this library reads version {CurrentVersion}.");
            }

            var purpose = RequiredString(root, "purpose") switch
            {
                "device" => KeystorePurpose.Device,
                "backup" => KeystorePurpose.Backup,
                _ => throw new KeystoreFormatException("The key file's purpose is neither 'device' nor 'backup'."),
            };
            var deviceId = ParseId(RequiredString(root, "deviceId"), "deviceId");
            Guid? userId = OptionalString(root, "userId") is { } user ? ParseId(user, "userId") : null;
            Guid? authorityId = OptionalString(root, "authorityId") is { } authority ? ParseId(authority, "authorityId") : null;
            var label = OptionalString(root, "label");
            if (label is { Length: 0 or > MaxLabelLength })
            {
                // Empty is refused because canonical bytes cannot tell it from an absent label.
                throw new KeystoreFormatException($"The key file's label must be 1 to {MaxLabelLength} characters.");
            }

            var publicKeys = RequiredElement(root, "publicKeys", JsonValueKind.Object);
            RequireObject(publicKeys, "publicKeys", PublicKeysProperties);
            var signingKey = new SigningPublicKey(RequiredBase64(publicKeys, "signing", PublicKeyBytes, "publicKeys.signing"));
            var boxKey = new BoxPublicKey(RequiredBase64(publicKeys, "box", PublicKeyBytes, "publicKeys.box"));
            var boxKeySignature = RequiredBase64(publicKeys, "boxKeySignature", SignatureBytes, "publicKeys.boxKeySignature");

            var kdf = RequiredElement(root, "kdf", JsonValueKind.Object);
            RequireObject(kdf, "kdf", KdfProperties);
            if (RequiredString(kdf, "algorithm") != KdfAlgorithm)
            {
                throw new KeystoreFormatException($"The key file's KDF algorithm is not supported: this library uses '{KdfAlgorithm}'.");
            }

            var parameters = new Argon2idParameters(RequiredInt64(kdf, "opsLimit"), RequiredInt32(kdf, "memLimitBytes"));
            try
            {
                parameters.Validate();
            }
            catch (MalformedInputException e)
            {
                throw new KeystoreFormatException($"The key file's KDF parameters are out of range: {e.Message}", e);
            }

            var salt = RequiredBase64(kdf, "salt", PassphraseKdf.SaltBytes, "kdf.salt");

            var cipher = RequiredElement(root, "cipher", JsonValueKind.Object);
            RequireObject(cipher, "cipher", CipherProperties);
            if (RequiredString(cipher, "algorithm") != CipherAlgorithm)
            {
                throw new KeystoreFormatException($"The key file's cipher is not supported: this library uses '{CipherAlgorithm}'.");
            }

            var nonce = RequiredBase64(cipher, "nonce", SecretBox.NonceBytes, "cipher.nonce");
            var ciphertext = RequiredBase64(cipher, "ciphertext", CiphertextBytes, "cipher.ciphertext");

            var publicDeviceKeys = new PublicDeviceKeys(deviceId, signingKey, boxKey, boxKeySignature);
            try
            {
                publicDeviceKeys.Verify();
            }
            catch (SignatureInvalidException e)
            {
                throw new KeystoreCorruptException(
                    $"The key file's public keys do not match their signature: the device id or a public key was altered. ({e.Message})");
            }

            return new KeystoreFile(versionNumber, purpose, publicDeviceKeys, userId, authorityId, label, parameters, salt, nonce, ciphertext);
        }
    }

    private static void RequireObject(JsonElement element, string name, string[] allowed)
    {
        if (element.ValueKind != JsonValueKind.Object)
        {
            throw new KeystoreFormatException($"{name} is not a JSON object.");
        }

        foreach (var property in element.EnumerateObject())
        {
            if (Array.IndexOf(allowed, property.Name) < 0)
            {
                // Every clear field is authenticated; a field this version does not know could not be.
                throw new KeystoreFormatException($"{name} has a field this version does not know.");
            }
        }
    }

    private static JsonElement RequiredElement(JsonElement parent, string name, JsonValueKind kind)
    {
        if (!parent.TryGetProperty(name, out var element))
        {
            throw new KeystoreFormatException($"The key file has no '{name}' field.");
        }

        if (element.ValueKind != kind)
        {
            throw new KeystoreFormatException($"The key file's '{name}' field is not a JSON {kind.ToString().ToLowerInvariant()}.");
        }

        return element;
    }

    private static string RequiredString(JsonElement parent, string name)
    {
        var element = RequiredElement(parent, name, JsonValueKind.String);
        try
        {
            return element.GetString()!;
        }
        catch (InvalidOperationException e)
        {
            // An escape such as \ud800 unescapes to text that is not valid UTF-16.
            throw new KeystoreFormatException($"The key file's '{name}' is not valid text.", e);
        }
    }

    private static string? OptionalString(JsonElement parent, string name) =>
        parent.TryGetProperty(name, out _) ? RequiredString(parent, name) : null;

    private static long RequiredInt64(JsonElement parent, string name) =>
        RequiredElement(parent, name, JsonValueKind.Number).TryGetInt64(out var value)
            ? value
            : throw new KeystoreFormatException($"The key file's '{name}' is not a whole number in range.");

    private static int RequiredInt32(JsonElement parent, string name) =>
        RequiredElement(parent, name, JsonValueKind.Number).TryGetInt32(out var value)
            ? value
            : throw new KeystoreFormatException($"The key file's '{name}' is not a whole number in range.");

    private static Guid ParseId(string text, string name) =>
        // The empty id is refused: canonical bytes would not tell it from an absent one, and no device or user has it.
        Guid.TryParseExact(text, "D", out var id) && id != Guid.Empty && text == id.ToString("D")
            ? id
            : throw new KeystoreFormatException($"The key file's '{name}' is not a non-empty id in lower-case hex (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx).");

    private static byte[] RequiredBase64(JsonElement parent, string name, int length, string path)
    {
        var text = RequiredString(parent, name);
        var bytes = new byte[length];
        // Exactly the expected length, and canonical: the encoding of the decoded bytes is the text itself.
        if (!Convert.TryFromBase64String(text, bytes, out var written) || written != length ||
            !string.Equals(Convert.ToBase64String(bytes), text, StringComparison.Ordinal))
        {
            throw new KeystoreFormatException($"The key file's '{path}' is not {length} bytes of canonical base64.");
        }

        return bytes;
    }
}
