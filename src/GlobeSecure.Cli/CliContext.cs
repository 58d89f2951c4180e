using System.CommandLine;
using System.Text.Json;
using GlobeSecure.Client;
using GlobeSecure.Client.Keystore;
using GlobeSecure.Client.Profiles;
using GlobeSecure.Crypto;
using Spectre.Console;

namespace GlobeSecure.Cli;

/// <summary>The options every command accepts.</summary>
internal sealed class GlobalOptions
{
    public Option<string?> Server { get; } = new("--server")
    {
        Description = "Server address, e.g. http://127.0.0.1:5080; replicas comma-separated (default: GLOBE_SERVER, then the profile's)",
        Recursive = true,
    };

    public Option<string> Profile { get; } = new("--profile")
    {
        Description = "Profile name under GLOBE_HOME (default ~/.globe)",
        DefaultValueFactory = _ => ProfileStore.DefaultProfile,
        Recursive = true,
    };

    public Option<string?> PassphraseFile { get; } = new("--passphrase-file")
    {
        Description = "File whose first line is the device key passphrase (default: GLOBE_PASSPHRASE, then a prompt)",
        Recursive = true,
    };

    public Option<string?> RootPassphraseFile { get; } = new("--root-passphrase-file")
    {
        Description = "File whose first line is the root key passphrase (default: GLOBE_ROOT_PASSPHRASE, then a prompt)",
        Recursive = true,
    };

    public Option<string?> CaFile { get; } = new("--ca-file")
    {
        Description = "For an https server with a private certificate authority: the CA certificate (PEM or DER) its certificate must chain to (default: GLOBE_CA_FILE, else the system's roots)",
        Recursive = true,
    };

    public Option<string?> ClientCertificate { get; } = new("--client-cert")
    {
        Description = "For a server that asks for mutual TLS: your PKCS#12 (.pfx) client certificate, password in GLOBE_CLIENT_CERT_PASSWORD (default: GLOBE_CLIENT_CERT)",
        Recursive = true,
    };

    public Option<bool> Json { get; } = new("--json")
    {
        Description = "Write the result as one line of JSON (for scripts)",
        Recursive = true,
    };

    public IEnumerable<Option> All => [Server, Profile, PassphraseFile, RootPassphraseFile, CaFile, ClientCertificate, Json];
}

/// <summary>One invocation: its options, profile, passphrases, client and output.</summary>
internal sealed class CliContext
{
    // One line per result, null fields left out, so scripts can pick fields with plain text tools.
    private static readonly JsonSerializerOptions JsonOutput = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull,
    };

    private readonly ParseResult _parse;
    private readonly GlobalOptions _options;

    public CliContext(ParseResult parse, GlobalOptions options, CliEnvironment environment)
    {
        _parse = parse;
        _options = options;
        Environment = environment;
        Store = new ProfileStore(environment.Variable("GLOBE_HOME") is { Length: > 0 } home ? home : null);
        Console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = AnsiSupport.Detect,
            ColorSystem = ColorSystemSupport.Detect,
            Out = new AnsiConsoleOutput(environment.Out),
        });
        if (!Console.Profile.Out.IsTerminal)
        {
            // Redirected (scripts, the demo's log): Spectre would assume 80 columns and wrap ids.
            Console.Profile.Width = int.TryParse(environment.Variable("COLUMNS"), out var columns) && columns >= 40 ? columns : 160;
        }
    }

    public CliEnvironment Environment { get; }

    public ProfileStore Store { get; }

    public IAnsiConsole Console { get; }

    public string ProfileName => _parse.GetValue(_options.Profile) ?? ProfileStore.DefaultProfile;

    public bool Json => _parse.GetValue(_options.Json);

    public T? Get<T>(Option<T> option) => _parse.GetValue(option);

    public T? Get<T>(Argument<T> argument) => _parse.GetValue(argument);

    /// <summary>--server, else GLOBE_SERVER, else the profile's; a usage error when none. The first of a list.</summary>
    public Uri ServerAddress(GlobeProfile? profile = null) => ServerAddresses(profile)[0];

    /// <summary>
    /// Every address of --server (else GLOBE_SERVER, else the profile's): a comma-separated list
    /// names replicas of one server, which the client balances over (GlobeClientOptions.OtherAddresses).
    /// </summary>
    public IReadOnlyList<Uri> ServerAddresses(GlobeProfile? profile = null)
    {
        var text = _parse.GetValue(_options.Server) ?? Environment.Variable("GLOBE_SERVER") ?? profile?.Server;
        if (string.IsNullOrWhiteSpace(text))
        {
            throw new CliUsageException("No server address: pass --server or set GLOBE_SERVER.");
        }

        var addresses = new List<Uri>();
        foreach (var part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            addresses.Add(Uri.TryCreate(part, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps)
                ? uri
                : throw new CliUsageException($"'{part}' is not a server address: use http://host:port or https://host:port (several: comma-separated)."));
        }

        if (addresses.Count == 0)
        {
            throw new CliUsageException("No server address: pass --server or set GLOBE_SERVER.");
        }

        if (addresses.Any(a => a.Scheme != addresses[0].Scheme))
        {
            throw new CliUsageException("The server addresses mix http:// and https://: replicas of one server share a scheme.");
        }

        return addresses;
    }

    /// <summary>The addresses as a profile keeps them: comma-separated.</summary>
    public static string ServerSetting(IReadOnlyList<Uri> addresses) => string.Join(',', addresses);

    /// <summary>--ca-file, else GLOBE_CA_FILE, else none (the system's roots); a usage error when the file is missing.</summary>
    public string? CertificateAuthorityFile()
    {
        var path = _parse.GetValue(_options.CaFile) ?? Environment.Variable("GLOBE_CA_FILE");
        if (string.IsNullOrWhiteSpace(path))
        {
            return null;
        }

        return File.Exists(path) ? Path.GetFullPath(path) : throw new CliUsageException($"--ca-file: there is no certificate at '{Path.GetFullPath(path)}'.");
    }

    /// <summary>--client-cert, else GLOBE_CLIENT_CERT, else none; a usage error when the file is missing. Its password only from GLOBE_CLIENT_CERT_PASSWORD.</summary>
    public (string? File, string? Password) ClientCertificate()
    {
        var path = _parse.GetValue(_options.ClientCertificate) ?? Environment.Variable("GLOBE_CLIENT_CERT");
        if (string.IsNullOrWhiteSpace(path))
        {
            return (null, null);
        }

        return File.Exists(path)
            ? (Path.GetFullPath(path), Environment.Variable("GLOBE_CLIENT_CERT_PASSWORD"))
            : throw new CliUsageException($"--client-cert: there is no certificate at '{Path.GetFullPath(path)}'.");
    }

    public Task<char[]> DevicePassphraseAsync(bool confirm, CancellationToken cancellationToken) =>
        Passphrases.ReadAsync(Environment, _parse.GetValue(_options.PassphraseFile), "GLOBE_PASSPHRASE", "device key passphrase", confirm,
            "--passphrase-file", cancellationToken);

    public Task<char[]> RootPassphraseAsync(bool confirm, CancellationToken cancellationToken) =>
        Passphrases.ReadAsync(Environment, _parse.GetValue(_options.RootPassphraseFile), "GLOBE_ROOT_PASSPHRASE", "root key passphrase",
            confirm, "--root-passphrase-file", cancellationToken);

    /// <summary>An anonymous client (apply, enrol, network information).</summary>
    public GlobeClient AnonymousClient(GlobeProfile? profile = null) => new(new GlobeClientOptions
    {
        Address = ServerAddress(profile),
        OtherAddresses = [.. ServerAddresses(profile).Skip(1)],
        PinnedRootKeys = profile?.PinnedRootKey is { } root ? [root] : [],
        TrustedCertificateAuthorityFile = CertificateAuthorityFile(),
        ClientCertificateFile = ClientCertificate().File,
        ClientCertificatePassword = ClientCertificate().Password,
    });

    /// <summary>Opens the profile and its device key and connects as that device.</summary>
    public async Task<Session> ConnectAsync(CancellationToken cancellationToken)
    {
        var profile = await Store.LoadAsync(ProfileName, cancellationToken);
        var root = profile.PinnedRootKey
            ?? throw new CliFailureException($"The profile '{ProfileName}' pins no network root key; enrol again.");
        var passphrase = await DevicePassphraseAsync(confirm: false, cancellationToken);
        DeviceKeys keys;
        try
        {
            keys = await DeviceKeystore.OpenAsync(Store.DeviceKeyPath(ProfileName), passphrase, cancellationToken);
        }
        finally
        {
            Array.Clear(passphrase);
        }

        if (profile.DeviceId is { } expected && keys.DeviceId != expected)
        {
            keys.Dispose();
            throw new CliFailureException($"The device key file of profile '{ProfileName}' belongs to another device than its profile.json.");
        }

        var client = new GlobeClient(new GlobeClientOptions
        {
            Address = ServerAddress(profile),
            OtherAddresses = [.. ServerAddresses(profile).Skip(1)],
            TrustedCertificateAuthorityFile = CertificateAuthorityFile(),
            ClientCertificateFile = ClientCertificate().File,
            ClientCertificatePassword = ClientCertificate().Password,
            Device = keys,
            PinnedRootKeys = [root],
            NetworkName = profile.NetworkName,
            DirectoryHead = profile.DirectoryHead,
        });
        return new Session(this, profile, keys, client);
    }

    /// <summary>Opens the root key: --root-key, else the profile's root.key.</summary>
    public async Task<NetworkRootKey> OpenRootKeyAsync(string? path, CancellationToken cancellationToken)
    {
        path ??= Store.RootKeyPath(ProfileName);
        if (!File.Exists(path))
        {
            throw new CliFailureException($"No root key file at '{path}': pass --root-key <file> (the file written by 'globe network init').");
        }

        var passphrase = await RootPassphraseAsync(confirm: false, cancellationToken);
        try
        {
            return await NetworkRootKey.OpenAsync(path, passphrase, cancellationToken);
        }
        finally
        {
            Array.Clear(passphrase);
        }
    }

    /// <summary>Writes one line of JSON to standard output.</summary>
    public void WriteJson(object value) => Environment.Out.WriteLine(JsonSerializer.Serialize(value, JsonOutput));

    /// <summary>A line of plain text (escaped: never markup).</summary>
    public void Line(string text) => Console.WriteLine(text);

    /// <summary>A line written as is, never wrapped by the console (ids stay whole for copying; the terminal folds long lines).</summary>
    public void Unwrapped(string text) => Environment.Out.WriteLine(text);

    /// <summary>A connected device: saves the directory head it verified (and where <c>watch</c> got to) when disposed.</summary>
    internal sealed class Session(CliContext context, GlobeProfile profile, DeviceKeys keys, GlobeClient client) : IAsyncDisposable
    {
        public GlobeProfile Profile { get; } = profile;

        public GlobeClient Client { get; } = client;

        public DeviceKeys Keys { get; } = keys;

        /// <summary>Set by <c>watch</c>: the last channel event position it went past, saved with the profile.</summary>
        public long WatchPosition { get; set; } = profile.WatchPosition;

        public async ValueTask DisposeAsync()
        {
            try
            {
                var headMoved = Client.DirectoryHead.Position > Profile.DirectoryHeadPosition;
                if (headMoved || WatchPosition > Profile.WatchPosition)
                {
                    var updated = headMoved ? Profile.WithHead(Client.DirectoryHead) : Profile;
                    await context.Store.SaveAsync(context.ProfileName, updated with { WatchPosition = Math.Max(WatchPosition, Profile.WatchPosition) });
                }
            }
            finally
            {
                await Client.DisposeAsync();
                Keys.Dispose();
            }
        }
    }
}
