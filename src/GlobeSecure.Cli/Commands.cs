using System.CommandLine;
using GlobeSecure.Client;
using GlobeSecure.Client.Keystore;
using GlobeSecure.Client.Profiles;
using GlobeSecure.Crypto;
using Grpc.Core;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace GlobeSecure.Cli;

/// <summary>The command tree. One method per top-level command; bodies read like the story they serve.</summary>
internal sealed partial class Commands(GlobalOptions options, CliEnvironment environment)
{
    // ---------------------------------------------------------------- network

    public Command Network()
    {
        var code = new Option<string?>("--code") { Description = "The one-time bootstrap code the server operator printed" };
        var codeFile = new Option<string?>("--code-file") { Description = "A file holding the bootstrap code (instead of --code)" };
        var name = new Option<string>("--name") { Description = "The network's name", DefaultValueFactory = _ => "GlobE Network" };
        var adminName = new Option<string>("--admin-name") { Description = "Your display name (the first network administrator)", Required = true };
        var label = new Option<string?>("--label") { Description = "A label for this device, e.g. \"secretariat laptop\"" };
        var rootKeyOut = new Option<string?>("--root-key-out") { Description = "Where to write the root key file (default: the profile's root.key)" };
        var init = new Command("init", "Create the network: root key and your device keys are generated here; the root key is saved passphrase-encrypted, to be kept offline")
        {
            code, codeFile, name, adminName, label, rootKeyOut,
        };
        init.Handle(options, environment, async (context, cancellationToken) =>
        {
            var profileName = context.ProfileName;
            if (context.Store.Exists(profileName))
            {
                throw new CliFailureException($"The profile '{profileName}' already exists; choose another with --profile.");
            }

            var bootstrapCode = await CodeAsync(context.Get(code), context.Get(codeFile), "bootstrap code", cancellationToken);
            var server = context.ServerAddresses();
            var devicePassphrase = await context.DevicePassphraseAsync(confirm: true, cancellationToken);
            var rootPassphrase = await context.RootPassphraseAsync(confirm: true, cancellationToken);
            var rootPath = context.Get(rootKeyOut) ?? context.Store.RootKeyPath(profileName);
            var directory = context.Store.EnsureDirectory(profileName);
            if (File.Exists(context.Store.DeviceKeyPath(profileName)) || File.Exists(rootPath))
            {
                throw new CliFailureException($"Key files already exist in {directory} (or at {rootPath}); refusing to overwrite them.");
            }

            var devicePath = context.Store.DeviceKeyPath(profileName);
            await using var anonymous = context.AnonymousClient();
            NetworkInitResult created;
            var sent = false;
            try
            {
                // The keys are written before the network is created: a network whose root key was
                // never saved would be lost for good.
                created = await anonymous.NetworkInitAsync(bootstrapCode, context.Get(name)!, context.Get(adminName)!,
                    saveKeysAsync: async (keys, ct) =>
                    {
                        await DeviceKeystore.CreateAsync(devicePath, keys.AdministratorDevice, devicePassphrase,
                            new KeystoreOptions { UserId = keys.AdministratorUserId, AuthorityId = keys.NetworkAuthorityId, Label = context.Get(label) }, ct);
                        await keys.RootKey.SaveAsync(rootPath, rootPassphrase, cancellationToken: ct);
                        sent = true;
                    },
                    cancellationToken: cancellationToken);
            }
            catch (Exception e) when (!sent || e is GlobeClientException { Status: StatusCode.Unauthenticated or StatusCode.FailedPrecondition
                or StatusCode.InvalidArgument or StatusCode.PermissionDenied or StatusCode.ResourceExhausted })
            {
                // The server certainly created nothing: keys for a network that does not exist are of no
                // use. (After any other failure the network may exist, so the keys are kept.)
                File.Delete(devicePath);
                File.Delete(rootPath);
                throw;
            }
            finally
            {
                Array.Clear(devicePassphrase);
                Array.Clear(rootPassphrase);
            }

            using var _ = created;
            var profile = new GlobeProfile
            {
                Server = CliContext.ServerSetting(server),
                NetworkName = created.Network.Name,
                NetworkAuthorityId = created.NetworkAuthorityId,
                DeviceId = created.AdministratorDevice.DeviceId,
                UserId = created.AdministratorUserId,
                AuthorityId = created.NetworkAuthorityId,
                Role = DeviceRole.NetworkAdministrator.ToWire(),
            }.WithRoot(created.RootKey.PublicKey);
            await context.Store.SaveAsync(profileName, profile, cancellationToken);

            if (context.Json)
            {
                context.WriteJson(new
                {
                    networkName = created.Network.Name,
                    networkAuthorityId = created.NetworkAuthorityId,
                    rootFingerprint = created.RootKey.Fingerprint,
                    userId = created.AdministratorUserId,
                    deviceId = created.AdministratorDevice.DeviceId,
                    rootKeyPath = rootPath,
                    profile = profileName,
                });
                return;
            }

            context.Console.MarkupLine($"[green]Network[/] '{Markup.Escape(created.Network.Name)}' created.");
            var grid = Grid();
            Add(grid, "root key fingerprint", created.RootKey.Fingerprint);
            Add(grid, "your user", created.AdministratorUserId.ToString());
            Add(grid, "your device", created.AdministratorDevice.DeviceId.ToString());
            Add(grid, "secretariat", created.NetworkAuthorityId.ToString());
            Add(grid, "profile", context.Store.ProfileDirectory(profileName));
            Add(grid, "root key file", rootPath);
            context.Console.Write(grid);
            context.Line("Move the root key file offline: it is needed only to certify network administrators' devices.");
            context.Line("Members compare the root key fingerprint out of band ('globe fingerprint').");
        });

        var show = new Command("show", "The network's name and root keys as the server states them (compare the fingerprint out of band)");
        show.Handle(options, environment, async (context, cancellationToken) =>
        {
            var profile = context.Store.Exists(context.ProfileName) ? await context.Store.LoadAsync(context.ProfileName, cancellationToken) : null;
            await using var client = context.AnonymousClient(profile);
            var network = await client.GetNetworkAsync(cancellationToken);
            if (context.Json)
            {
                context.WriteJson(new
                {
                    name = network.Name,
                    networkAuthorityId = network.NetworkAuthorityId,
                    rootFingerprints = network.RootKeys.Select(k => k.Fingerprint).ToArray(),
                    pinned = profile?.RootFingerprint,
                });
                return;
            }

            var grid = Grid();
            Add(grid, "network", network.Name);
            Add(grid, "secretariat", network.NetworkAuthorityId);
            foreach (var key in network.RootKeys)
            {
                Add(grid, "root key fingerprint", key.Fingerprint + (key.Fingerprint == profile?.RootFingerprint ? " (pinned)" : ""));
            }

            context.Console.Write(grid);
        });

        return new Command("network", "The network itself: bootstrap and root keys") { init, show };
    }

    // ---------------------------------------------------------------- whoami, fingerprint

    public Command WhoAmI()
    {
        var command = new Command("whoami", "Authenticate with this device and show who the server thinks you are");
        command.Handle(options, environment, async (context, cancellationToken) =>
        {
            await using var session = await context.ConnectAsync(cancellationToken);
            var me = await session.Client.WhoAmIAsync(cancellationToken);
            if (context.Json)
            {
                context.WriteJson(new
                {
                    userId = me.UserId,
                    deviceId = me.DeviceId,
                    authorityId = me.AuthorityId,
                    role = Names.Of(me.Role),
                    displayName = me.DisplayName,
                    sessionExpiresAt = me.SessionExpiresAt?.ToDateTimeOffset(),
                });
                return;
            }

            var grid = Grid();
            Add(grid, "name", me.DisplayName);
            Add(grid, "role", Names.Of(me.Role));
            Add(grid, "user", me.UserId);
            Add(grid, "device", me.DeviceId);
            Add(grid, "authority", me.AuthorityId);
            Add(grid, "session expires", Names.Of(me.SessionExpiresAt));
            Add(grid, "server", string.Join(", ", session.Client.Addresses));
            context.Console.Write(grid);
        });
        return command;
    }

    public Command Fingerprint()
    {
        var check = new Option<bool>("--check") { Description = "Also ask the server for its root keys and check the pinned one is among them" };
        var command = new Command("fingerprint", "Show the pinned network root fingerprint and this device's fingerprint, to compare out of band") { check };
        command.Handle(options, environment, async (context, cancellationToken) =>
        {
            var profile = await context.Store.LoadAsync(context.ProfileName, cancellationToken);
            var keystore = await DeviceKeystore.ReadAsync(context.Store.DeviceKeyPath(context.ProfileName), cancellationToken);
            var device = keystore.PublicKeys;
            string? served = null;
            if (context.Get(check))
            {
                await using var client = context.AnonymousClient(profile);
                var network = await client.GetNetworkAsync(cancellationToken);
                served = network.RootKeys.Any(k => k.Fingerprint == profile.RootFingerprint) ? "matches" : "MISMATCH";
                if (served == "MISMATCH")
                {
                    throw new GlobeTrustException(
                        $"The server's root keys ({string.Join(", ", network.RootKeys.Select(k => k.Fingerprint))}) do not include the pinned root {profile.RootFingerprint}.");
                }
            }

            var safety = DeviceSafetyNumber(device);
            if (context.Json)
            {
                context.WriteJson(new
                {
                    rootFingerprint = profile.RootFingerprint,
                    deviceId = device.DeviceId,
                    signingKeyFingerprint = device.SigningKey.Fingerprint,
                    deviceSafetyNumber = safety,
                    server = served,
                });
                return;
            }

            var grid = Grid();
            Add(grid, "network root", profile.RootFingerprint ?? "(none pinned)");
            Add(grid, "this device", device.DeviceId.ToString());
            Add(grid, "signing key", device.SigningKey.Fingerprint);
            Add(grid, "device safety number", safety);
            if (served is not null)
            {
                Add(grid, "server's root", served);
            }

            context.Console.Write(grid);
        });
        return command;
    }

    /// <summary>
    /// This device's half of a safety number (docs/protocol.md §11): its 30 digits in six groups.
    /// The safety number of a device with itself is its own digits twice, so the first half is it.
    /// </summary>
    internal static string DeviceSafetyNumber(PublicDeviceKeys device) =>
        string.Join(' ', SafetyNumber.Compute(device, device).Split(' ').Take(6));

    // ---------------------------------------------------------------- helpers

    private static async Task<string> CodeAsync(string? code, string? file, string what, CancellationToken cancellationToken)
    {
        if ((code is null) == (file is null))
        {
            throw new CliUsageException($"Give the {what} with --code or --code-file (one of the two).");
        }

        if (file is not null)
        {
            code = (await File.ReadAllTextAsync(file, cancellationToken)).Trim();
        }

        return string.IsNullOrWhiteSpace(code) ? throw new CliUsageException($"The {what} is empty.") : code.Trim();
    }

    private static Guid? OwnAuthority(GlobeProfile profile, Guid? given) =>
        given ?? profile.AuthorityId ?? throw new CliUsageException("Name the authority with --authority.");

    private static Grid Grid()
    {
        var grid = new Grid();
        grid.AddColumn(new GridColumn().NoWrap().PadRight(2));
        grid.AddColumn();
        return grid;
    }

    private static void Add(Grid grid, string name, string value) =>
        grid.AddRow(new Text(name, new Style(decoration: Decoration.Bold)), new Text(value));

    private static Table Table(params string[] columns)
    {
        var table = new Table().Border(TableBorder.Rounded);
        foreach (var column in columns)
        {
            var tableColumn = new TableColumn(new Text(column, new Style(decoration: Decoration.Bold)));
            // Ids and fingerprints are copied from the screen: never wrap them.
            table.AddColumn(column is "id" or "device" or "user" or "signing key" or "valid until" ? tableColumn.NoWrap() : tableColumn);
        }

        return table;
    }

    private static void Row(Table table, params string[] cells) => table.AddRow(cells.Select(c => (IRenderable)new Text(c)).ToArray());
}
