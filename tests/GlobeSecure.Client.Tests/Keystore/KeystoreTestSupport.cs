using System.Security.Cryptography;
using System.Text.Json.Nodes;
using GlobeSecure.Client.Keystore;
using GlobeSecure.Crypto;

namespace GlobeSecure.Client.Tests.Keystore;

/// <summary>A fresh directory per test, deleted afterwards.</summary>
internal sealed class TempDirectory : IDisposable
{
    public TempDirectory()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "globe-keystore-tests-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    /// <summary>Every entry in the directory, hidden ones included.</summary>
    public string[] Entries() => Directory.GetFileSystemEntries(Path).Select(System.IO.Path.GetFileName).Order().ToArray()!;

    public void Dispose() => Directory.Delete(Path, recursive: true);
}

/// <summary>Device keys whose private halves the test knows (Crypto's exporters are not visible here).</summary>
internal sealed class KnownKeys : IDisposable
{
    public KnownKeys(Guid? deviceId = null)
    {
        Seed = RandomNumberGenerator.GetBytes(32);
        BoxPrivateKey = RandomNumberGenerator.GetBytes(32);
        Keys = DeviceKeys.FromPrivateKeys(deviceId ?? Guid.CreateVersion7(), Seed, BoxPrivateKey);
    }

    public byte[] Seed { get; }

    public byte[] BoxPrivateKey { get; }

    public DeviceKeys Keys { get; }

    /// <summary>Every text form of the secrets that must never appear in a file or a string.</summary>
    public IEnumerable<string> SecretEncodings()
    {
        byte[][] secrets = [Seed, BoxPrivateKey, [.. Seed, .. BoxPrivateKey]];
        foreach (var secret in secrets)
        {
            yield return Convert.ToHexStringLower(secret);
            yield return Convert.ToHexString(secret);
            yield return Convert.ToBase64String(secret);
            yield return Convert.ToBase64String(secret).TrimEnd('=').Replace('+', '-').Replace('/', '_');
            // A prefix long enough to be meaningful even if the encoding was split or offset.
            yield return Convert.ToHexStringLower(secret.AsSpan(0, 12));
            yield return Convert.ToBase64String(secret.AsSpan(0, 12));
        }
    }

    public void Dispose() => Keys.Dispose();
}

internal static class KeystoreAssert
{
    public static readonly KeystoreOptions Fast = new() { KdfParameters = Argon2idParameters.InsecureForTests };

    public static ReadOnlyMemory<char> Pass(string text) => text.AsMemory();

    /// <summary>Same device, same public keys, and the opened signing key signs what the original verifies (and back).</summary>
    public static void SameKeys(DeviceKeys expected, DeviceKeys actual)
    {
        Assert.Equal(expected.DeviceId, actual.DeviceId);
        Assert.Equal(expected.Public.SigningKey, actual.Public.SigningKey);
        Assert.Equal(expected.Public.BoxKey, actual.Public.BoxKey);
        Assert.Equal(expected.Public.BoxKeySignature, actual.Public.BoxKeySignature);
        byte[] message = [.. "keystore round trip"u8, .. RandomNumberGenerator.GetBytes(16)];
        Assert.True(expected.Public.SigningKey.Verify(message, actual.Sign(message)));
        Assert.True(actual.Public.SigningKey.Verify(message, expected.Sign(message)));
        actual.Public.Verify();
    }

    public static JsonObject ReadJson(string path) => JsonNode.Parse(File.ReadAllText(path))!.AsObject();

    public static void WriteJson(string path, JsonObject json) => File.WriteAllText(path, json.ToJsonString());

    /// <summary>Applies <paramref name="change"/> to the key file's JSON and writes it back.</summary>
    public static void Edit(string path, Action<JsonObject> change)
    {
        var json = ReadJson(path);
        change(json);
        WriteJson(path, json);
    }

    /// <summary>The object holding a dotted path's last segment, and that segment.</summary>
    public static (JsonObject Parent, string Name) Locate(JsonObject root, string dottedPath)
    {
        var segments = dottedPath.Split('.');
        var parent = root;
        foreach (var segment in segments[..^1])
        {
            parent = parent[segment]!.AsObject();
        }

        return (parent, segments[^1]);
    }

    public static void Set(JsonObject root, string dottedPath, JsonNode? value)
    {
        var (parent, name) = Locate(root, dottedPath);
        parent[name] = value;
    }

    public static void Remove(JsonObject root, string dottedPath)
    {
        var (parent, name) = Locate(root, dottedPath);
        Assert.True(parent.Remove(name), $"{dottedPath} was not in the file");
    }

    public static string GetString(JsonObject root, string dottedPath)
    {
        var (parent, name) = Locate(root, dottedPath);
        return parent[name]!.GetValue<string>();
    }

    /// <summary>The base64 field with one bit of byte <paramref name="index"/> flipped.</summary>
    public static string FlipBit(string base64, int index = 0)
    {
        var bytes = Convert.FromBase64String(base64);
        bytes[index < 0 ? bytes.Length + index : index] ^= 0x01;
        return Convert.ToBase64String(bytes);
    }
}
