using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;

namespace GlobeSecure.Client.Profiles;

/// <summary>
/// Profiles on disk: <c>&lt;home&gt;/profiles/&lt;name&gt;/</c> holds <c>profile.json</c>
/// (<see cref="GlobeProfile"/>), <c>device.key</c> (the device keystore) and, for the first network
/// administrator, <c>root.key</c> (the network root key, <see cref="NetworkRootKey"/>). The home is
/// <c>GLOBE_HOME</c> when set, else <c>~/.globe</c>. Directories are created owner-only (0700) and
/// profile.json is replaced atomically.
/// </summary>
public sealed partial class ProfileStore
{
    /// <summary>The profile used when none is named.</summary>
    public const string DefaultProfile = "default";

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary>A store under <paramref name="home"/>; null for <c>GLOBE_HOME</c> or <c>~/.globe</c>.</summary>
    public ProfileStore(string? home = null)
    {
        Home = Path.GetFullPath(home ?? DefaultHome());
    }

    /// <summary>The globe home directory.</summary>
    public string Home { get; }

    /// <summary>The default home: <c>GLOBE_HOME</c>, else <c>~/.globe</c>.</summary>
    public static string DefaultHome() =>
        Environment.GetEnvironmentVariable("GLOBE_HOME") is { Length: > 0 } home
            ? home
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".globe");

    /// <summary>The directory of a profile.</summary>
    /// <exception cref="GlobeProfileException">The name is not 1–64 letters, digits, '.', '_' or '-' (or starts with '.').</exception>
    public string ProfileDirectory(string name) => Path.Combine(Home, "profiles", CheckName(name));

    /// <summary>The profile's <c>profile.json</c>.</summary>
    public string ProfilePath(string name) => Path.Combine(ProfileDirectory(name), "profile.json");

    /// <summary>The profile's device key file.</summary>
    public string DeviceKeyPath(string name) => Path.Combine(ProfileDirectory(name), "device.key");

    /// <summary>The profile's network root key file (first network administrator only).</summary>
    public string RootKeyPath(string name) => Path.Combine(ProfileDirectory(name), "root.key");

    /// <summary>Whether the profile exists.</summary>
    public bool Exists(string name) => File.Exists(ProfilePath(name));

    /// <summary>Creates the profile's directory (owner-only) and returns it.</summary>
    public string EnsureDirectory(string name)
    {
        var directory = ProfileDirectory(name);
        foreach (var path in new[] { Home, Path.Combine(Home, "profiles"), directory })
        {
            if (!Directory.Exists(path))
            {
                if (OperatingSystem.IsWindows())
                {
                    Directory.CreateDirectory(path);
                }
                else
                {
                    Directory.CreateDirectory(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
                }
            }
        }

        return directory;
    }

    /// <summary>Reads a profile.</summary>
    /// <exception cref="GlobeProfileException">It does not exist or is not a valid profile.</exception>
    public async Task<GlobeProfile> LoadAsync(string name, CancellationToken cancellationToken = default)
    {
        var path = ProfilePath(name);
        if (!File.Exists(path))
        {
            throw new GlobeProfileException(
                $"There is no profile '{name}' in {Home}: run 'globe network init' or 'globe device enrol' first (or pass --profile).");
        }

        try
        {
            await using var stream = File.OpenRead(path);
            var profile = await JsonSerializer.DeserializeAsync<GlobeProfile>(stream, Json, cancellationToken)
                ?? throw new GlobeProfileException($"The profile '{name}' ({path}) is empty.");
            if (profile.Version != 1)
            {
                throw new GlobeProfileException($"The profile '{name}' has version {profile.Version}; this client reads version 1.");
            }

            return profile;
        }
        catch (JsonException e)
        {
            throw new GlobeProfileException($"The profile '{name}' ({path}) is not valid JSON: {e.Message}", e);
        }
    }

    /// <summary>Writes a profile atomically (a temporary file, then a rename).</summary>
    public async Task SaveAsync(string name, GlobeProfile profile, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(profile);
        var directory = EnsureDirectory(name);
        var path = ProfilePath(name);
        var temporary = Path.Combine(directory, $".profile.{Guid.NewGuid():N}.tmp");
        try
        {
            await File.WriteAllBytesAsync(temporary, JsonSerializer.SerializeToUtf8Bytes(profile, Json), cancellationToken);
            File.Move(temporary, path, overwrite: true);
        }
        finally
        {
            File.Delete(temporary);
        }
    }

    /// <summary>The names of the profiles in this home.</summary>
    public IReadOnlyList<string> List()
    {
        var root = Path.Combine(Home, "profiles");
        return Directory.Exists(root)
            ? [.. Directory.GetDirectories(root).Select(Path.GetFileName).OfType<string>().Where(n => NameRule().IsMatch(n) && Exists(n)).Order(StringComparer.Ordinal)]
            : [];
    }

    private static string CheckName(string name) =>
        name is not null && NameRule().IsMatch(name)
            ? name
            : throw new GlobeProfileException($"'{name}' is not a profile name: use 1 to 64 letters, digits, '.', '_' or '-', not starting with '.'.");

    [GeneratedRegex("^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$")]
    private static partial Regex NameRule();
}
