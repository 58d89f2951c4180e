using System.CommandLine;
using System.Globalization;
using GlobeSecure.Client;
using GlobeSecure.Client.Keystore;
using GlobeSecure.Client.Profiles;
using GlobeSecure.Contracts.V1;
using GlobeSecure.Crypto;
using Spectre.Console;

namespace GlobeSecure.Cli;

internal sealed partial class Commands
{
    public Command User()
    {
        var name = new Option<string>("--name") { Description = "The user's display name", Required = true };
        var role = new Option<string>("--role") { Description = "The user's role", Required = true };
        role.AcceptOnlyFromAmong([.. Names.InvitableRoles.Keys]);
        var inviteAuthority = new Option<Guid?>("--authority") { Description = "The authority (default: your own)" };
        var invite = new Command("invite", "Invite a user: prints a one-time enrolment code (72 h by default)") { name, role, inviteAuthority };
        invite.Handle(options, environment, async (context, cancellationToken) =>
        {
            await using var session = await context.ConnectAsync(cancellationToken);
            var authorityId = OwnAuthority(session.Profile, context.Get(inviteAuthority))!.Value;
            WriteCode(context, await session.Client.InviteUserAsync(authorityId, context.Get(name)!, Names.InvitableRoles[context.Get(role)!],
                cancellationToken: cancellationToken));
        });

        var listAuthority = new Option<Guid?>("--authority") { Description = "The authority (default: your own)" };
        var list = new Command("list", "The users of an authority") { listAuthority };
        list.Handle(options, environment, async (context, cancellationToken) =>
        {
            await using var session = await context.ConnectAsync(cancellationToken);
            var users = await session.Client.ListUsersAsync(OwnAuthority(session.Profile, context.Get(listAuthority))!.Value, cancellationToken);
            if (context.Json)
            {
                context.WriteJson(users.Select(u => new
                {
                    userId = u.UserId,
                    authorityId = u.AuthorityId,
                    displayName = u.DisplayName,
                    role = Names.Of(u.Role),
                    status = Names.Of(u.Status),
                }).ToArray());
                return;
            }

            var table = Table("id", "name", "role", "status", "invited");
            foreach (var u in users)
            {
                Row(table, u.UserId, u.DisplayName, Names.Of(u.Role), Names.Of(u.Status), Names.Of(u.InvitedAt));
            }

            context.Console.Write(table);
        });

        var revokeId = IdArgument("user-id", "The user");
        var revokeReason = new Option<string>("--reason") { Description = "Why (1 to 200 characters)", Required = true };
        var revokeRoot = RootKeyOptions();
        var revoke = new Command("revoke", "Revoke a user: each certified device gets a revocation signed here; sessions end at once")
        {
            revokeId, revokeReason, revokeRoot.With, revokeRoot.Path,
        };
        revoke.Handle(options, environment, async (context, cancellationToken) =>
        {
            await using var session = await context.ConnectAsync(cancellationToken);
            using var rootKey = await OpenRootKeyIfAskedAsync(context, revokeRoot, cancellationToken);
            var user = await session.Client.RevokeUserAsync(context.Get(revokeId), context.Get(revokeReason)!, rootKey, cancellationToken);
            if (context.Json)
            {
                context.WriteJson(new { userId = user.UserId, status = Names.Of(user.Status) });
                return;
            }

            context.Line($"User {user.UserId} ({user.DisplayName}) is {Names.Of(user.Status)}.");
        });

        return new Command("user", "Users of your authority") { invite, list, revoke };
    }

    public Command Device()
    {
        var device = new Command("device", "Devices: enrolment, certification, revocation");
        device.Subcommands.Add(Enrol());

        var listScope = ScopeOptions();
        var pending = new Option<bool>("--pending") { Description = "Only devices waiting for certification" };
        var list = new Command("list", "The devices of a user or an authority (default: your authority)") { listScope.User, listScope.Authority, pending };
        list.Handle(options, environment, async (context, cancellationToken) =>
        {
            await using var session = await context.ConnectAsync(cancellationToken);
            var devices = await session.Client.ListDevicesAsync(Scope(context, listScope), context.Get(pending), cancellationToken);
            if (context.Json)
            {
                context.WriteJson(devices.Select(d => new
                {
                    deviceId = d.DeviceId,
                    userId = d.UserId,
                    authorityId = d.AuthorityId,
                    role = Names.Of(d.Role),
                    status = Names.Of(d.Status),
                    label = d.Label,
                    signingKeyFingerprint = KeyFingerprint(d),
                }).ToArray());
                return;
            }

            var table = Table("device", "user", "role", "status", "label", "signing key");
            foreach (var d in devices)
            {
                Row(table, d.DeviceId, d.UserId, Names.Of(d.Role), Names.Of(d.Status), d.Label, KeyFingerprint(d));
            }

            context.Console.Write(table);
        });
        device.Subcommands.Add(list);

        var certifyId = IdArgument("device-id", "The pending device");
        var certifyScope = ScopeOptions();
        var validityDays = new Option<int>("--validity-days") { Description = "Validity in days (default 365; never beyond your own certificate)" };
        var fingerprint = new Option<string?>("--fingerprint") { Description = "The device's signing-key fingerprint as its owner read it to you; refused if it differs" };
        var certifyRoot = RootKeyOptions();
        var certify = new Command("certify", "Certify a pending device: its certificate is built and signed here with your device key (or the root key for a network administrator)")
        {
            certifyId, certifyScope.User, certifyScope.Authority, validityDays, fingerprint, certifyRoot.With, certifyRoot.Path,
        };
        certify.Handle(options, environment, async (context, cancellationToken) =>
        {
            var days = context.Get(validityDays);
            if (days < 0)
            {
                throw new CliUsageException("--validity-days must be positive.");
            }

            await using var session = await context.ConnectAsync(cancellationToken);
            using var rootKey = await OpenRootKeyIfAskedAsync(context, certifyRoot, cancellationToken);
            var certified = await session.Client.CertifyDeviceAsync(context.Get(certifyId), Scope(context, certifyScope), rootKey,
                days > 0 ? TimeSpan.FromDays(days) : null, context.Get(fingerprint), cancellationToken);
            WriteDevice(context, certified);
        });
        device.Subcommands.Add(certify);

        var revokeId = IdArgument("device-id", "The certified device");
        var revokeScope = ScopeOptions();
        var reason = new Option<string>("--reason") { Description = "Why, in a few words (no personal data)", Required = true };
        var revokeRoot = RootKeyOptions();
        var revoke = new Command("revoke", "Revoke a device with a revocation signed here; its sessions end at once")
        {
            revokeId, revokeScope.User, revokeScope.Authority, reason, revokeRoot.With, revokeRoot.Path,
        };
        revoke.Handle(options, environment, async (context, cancellationToken) =>
        {
            await using var session = await context.ConnectAsync(cancellationToken);
            using var rootKey = await OpenRootKeyIfAskedAsync(context, revokeRoot, cancellationToken);
            WriteDevice(context, await session.Client.RevokeDeviceAsync(context.Get(revokeId), context.Get(reason)!, Scope(context, revokeScope),
                rootKey, cancellationToken));
        });
        device.Subcommands.Add(revoke);
        return device;
    }

    private Command Enrol()
    {
        var code = new Option<string?>("--code") { Description = "The one-time enrolment code your administrator gave you" };
        var codeFile = new Option<string?>("--code-file") { Description = "A file holding the enrolment code (instead of --code)" };
        var label = new Option<string?>("--label") { Description = "A label for this device, e.g. \"laptop\"" };
        var rootFingerprint = new Option<string?>("--root-fingerprint")
        {
            Description = "The network root fingerprint you were given out of band; enrolment is refused if the server's differs",
        };
        var enrol = new Command("enrol", "Enrol this machine as a device: keys are generated here, the private keys saved passphrase-encrypted")
        {
            code, codeFile, label, rootFingerprint,
        };
        enrol.Handle(options, environment, async (context, cancellationToken) =>
        {
            var profileName = context.ProfileName;
            if (context.Store.Exists(profileName) || File.Exists(context.Store.DeviceKeyPath(profileName)))
            {
                throw new CliFailureException($"The profile '{profileName}' already exists; choose another with --profile.");
            }

            var enrolmentCode = await CodeAsync(context.Get(code), context.Get(codeFile), "enrolment code", cancellationToken);
            var server = context.ServerAddresses();
            await using var client = context.AnonymousClient();
            var network = await client.GetNetworkAsync(cancellationToken);
            var expected = context.Get(rootFingerprint)?.Trim().ToLowerInvariant();
            var root = network.RootKeys
                .Select(k => new SigningPublicKey(k.PublicKey.Span))
                .FirstOrDefault(k => expected is null || k.Fingerprint == expected)
                ?? throw new GlobeTrustException(
                    expected is null
                        ? "The server states no network root key."
                        : $"The server's root keys ({string.Join(", ", network.RootKeys.Select(k => k.Fingerprint))}) do not include the expected {expected}: not enrolled.");
            var passphrase = await context.DevicePassphraseAsync(confirm: true, cancellationToken);
            context.Store.EnsureDirectory(profileName);
            using var enrolled = await client.EnrolDeviceAsync(enrolmentCode, context.Get(label), cancellationToken);
            var registered = enrolled.Device;
            var userId = Wire.ParseId(registered.UserId, "user id");
            var authorityId = Wire.ParseId(registered.AuthorityId, "authority id");
            try
            {
                await DeviceKeystore.CreateAsync(context.Store.DeviceKeyPath(profileName), enrolled.Keys, passphrase,
                    new KeystoreOptions { UserId = userId, AuthorityId = authorityId, Label = context.Get(label) }, cancellationToken);
            }
            finally
            {
                Array.Clear(passphrase);
            }

            var profile = new GlobeProfile
            {
                Server = CliContext.ServerSetting(server),
                NetworkName = network.Name,
                NetworkAuthorityId = Guid.TryParse(network.NetworkAuthorityId, out var secretariat) ? secretariat : null,
                DeviceId = enrolled.Keys.DeviceId,
                UserId = userId,
                AuthorityId = authorityId,
                Role = Names.Of(registered.Role),
            }.WithRoot(root);
            await context.Store.SaveAsync(profileName, profile, cancellationToken);

            var signingFingerprint = enrolled.Keys.Public.SigningKey.Fingerprint;
            if (context.Json)
            {
                context.WriteJson(new
                {
                    deviceId = enrolled.Keys.DeviceId,
                    userId,
                    authorityId,
                    role = Names.Of(registered.Role),
                    status = Names.Of(registered.Status),
                    signingKeyFingerprint = signingFingerprint,
                    rootFingerprint = root.Fingerprint,
                    profile = profileName,
                });
                return;
            }

            var grid = Grid();
            Add(grid, "device", enrolled.Keys.DeviceId.ToString());
            Add(grid, "user", userId.ToString());
            Add(grid, "authority", authorityId.ToString());
            Add(grid, "role", Names.Of(registered.Role));
            Add(grid, "signing key", signingFingerprint);
            Add(grid, "network root", root.Fingerprint + (expected is null ? " (compare it out of band!)" : " (as expected)"));
            context.Console.Write(grid);
            context.Line($"Enrolled. Ask your administrator to certify device {enrolled.Keys.DeviceId} and read them the signing-key fingerprint {signingFingerprint}.");
        });
        return enrol;
    }

    public Command Directory()
    {
        var (country, kind) = DirectoryFilterOptions();
        var command = new Command("directory",
            "Verify the directory log, then show the authorities and their verified devices, and per country the competent authorities and focal points: where to send what")
        {
            country, kind,
        };
        command.Handle(options, environment, async (context, cancellationToken) =>
        {
            var onlyCountry = CountryOption(context, country);
            await using var session = await context.ConnectAsync(cancellationToken);
            var head = await session.Client.VerifyDirectoryAsync(cancellationToken);
            var authorities = await session.Client.ListAuthoritiesAsync(new AuthorityFilter(Country: onlyCountry), cancellationToken);
            var focalPoints = await session.Client.ListFocalPointsAsync(onlyCountry, KindOption(context, kind), cancellationToken);
            var rows = new List<(Authority Authority, IReadOnlyList<VerifiedDevice> Devices)>();
            foreach (var authority in authorities)
            {
                IReadOnlyList<VerifiedDevice> devices = authority.Status is AuthorityStatus.Active or AuthorityStatus.Suspended
                    ? await session.Client.FindDevicesAsync(new DeviceScope(AuthorityId: Guid.Parse(authority.AuthorityId)), cancellationToken)
                    : [];
                rows.Add((authority, devices));
            }

            if (context.Json)
            {
                context.WriteJson(new
                {
                    headPosition = head.Position,
                    headLink = head.LinkHex,
                    authorities = rows.Select(r => new
                    {
                        authorityId = r.Authority.AuthorityId,
                        name = r.Authority.Name,
                        country = r.Authority.Country,
                        kind = Names.Of(r.Authority.Kind),
                        status = Names.Of(r.Authority.Status),
                        devices = r.Devices.Select(d => new
                        {
                            deviceId = d.DeviceId,
                            userId = d.UserId,
                            role = d.Role.ToWire(),
                            signingKeyFingerprint = d.SigningKey.Fingerprint,
                            notAfter = d.Certificate.NotAfter,
                        }).ToArray(),
                    }).ToArray(),
                    countries = FocalPointsJson(focalPoints),
                });
                return;
            }

            context.Line($"Directory log verified up to position {head.Position} (head {head.LinkHex[..Math.Min(16, head.LinkHex.Length)]}…), every chain checked to the pinned root {session.Profile.RootFingerprint}.");
            var table = Table("authority", "country", "kind", "status", "device", "role", "signing key", "valid until");
            foreach (var (authority, devices) in rows)
            {
                if (devices.Count == 0)
                {
                    Row(table, authority.Name, authority.Country, Names.Of(authority.Kind), Names.Of(authority.Status), "", "", "", "");
                }

                foreach (var d in devices)
                {
                    Row(table, authority.Name, authority.Country, Names.Of(authority.Kind), Names.Of(authority.Status), d.DeviceId.ToString(),
                        d.Role.ToWire(), d.SigningKey.Fingerprint, d.Certificate.NotAfter.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture));
                }
            }

            context.Console.Write(table);
            WriteFocalPoints(context, focalPoints, onlyCountry);
        });
        AddFocalPointCommands(command);
        return command;
    }

    private sealed record ScopeOptionSet(Option<Guid?> User, Option<Guid?> Authority);

    private sealed record RootKeyOptionSet(Option<bool> With, Option<string?> Path);

    private static ScopeOptionSet ScopeOptions() => new(
        new Option<Guid?>("--user") { Description = "The device's user" },
        new Option<Guid?>("--authority") { Description = "The device's authority (default: your own)" });

    private static RootKeyOptionSet RootKeyOptions() => new(
        new Option<bool>("--with-root-key") { Description = "Sign with the network root key (network administrators' devices)" },
        new Option<string?>("--root-key") { Description = "The root key file (implies --with-root-key; default: the profile's root.key)" });

    private static DeviceScope Scope(CliContext context, ScopeOptionSet scope)
    {
        var user = context.Get(scope.User);
        var authority = context.Get(scope.Authority);
        return user is not null && authority is not null
            ? throw new CliUsageException("Give --user or --authority, not both.")
            : new DeviceScope(user, authority);
    }

    private static async Task<NetworkRootKey?> OpenRootKeyIfAskedAsync(CliContext context, RootKeyOptionSet root, CancellationToken cancellationToken)
    {
        var path = context.Get(root.Path);
        return context.Get(root.With) || path is not null ? await context.OpenRootKeyAsync(path, cancellationToken) : null;
    }

    private static string KeyFingerprint(Device device) =>
        device.Keys is { SigningKey.Length: 32 } keys ? new SigningPublicKey(keys.SigningKey.Span).Fingerprint : "";

    private static void WriteDevice(CliContext context, Device device)
    {
        if (context.Json)
        {
            context.WriteJson(new
            {
                deviceId = device.DeviceId,
                userId = device.UserId,
                authorityId = device.AuthorityId,
                role = Names.Of(device.Role),
                status = Names.Of(device.Status),
                certificateId = device.Certificate?.CertificateId,
                notAfter = device.Certificate?.NotAfter?.ToDateTimeOffset(),
            });
            return;
        }

        var grid = Grid();
        Add(grid, "device", device.DeviceId);
        Add(grid, "user", device.UserId);
        Add(grid, "authority", device.AuthorityId);
        Add(grid, "role", Names.Of(device.Role));
        Add(grid, "status", Names.Of(device.Status));
        Add(grid, "signing key", KeyFingerprint(device));
        if (device.Certificate is { } certificate)
        {
            Add(grid, "valid until", Names.Of(certificate.NotAfter));
        }

        context.Console.Write(grid);
    }
}
