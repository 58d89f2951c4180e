using System.CommandLine;
using GlobeSecure.Client;
using GlobeSecure.Crypto;

namespace GlobeSecure.Cli;

/// <summary>The export package for formal mutual legal assistance (docs/requests.md, "Export package"): request export, verify-package.</summary>
internal sealed partial class Commands
{
    /// <summary><c>globe request export REQUEST_ID --out DIR|FILE.zip</c>.</summary>
    public Command RequestExport()
    {
        var id = new Argument<Guid>("request") { Description = "The request's id" };
        var output = new Option<string>("--out") { Description = "A new or empty directory, or a new file ending in .zip", Required = true };
        var command = new Command("export",
            "Either side: verify and decrypt the request's thread, attachments, receipts and the server's record into one package with a signed manifest, for a formal MLA request (it holds plaintext and keys: keep it as confidential as the case)")
        {
            id, output,
        };
        command.Handle(options, environment, async (context, cancellationToken) =>
        {
            await using var session = await context.ConnectAsync(cancellationToken);
            var exported = await session.Client.ExportRequestAsync(context.Get(id), context.Get(output)!, cancellationToken);
            if (context.Json)
            {
                context.WriteJson(new
                {
                    requestId = exported.RequestId,
                    path = exported.Path,
                    files = exported.FileCount,
                    bytes = exported.Bytes,
                    verified = exported.Verification.IsValid,
                    checks = exported.Verification.Checks.Count,
                });
                return;
            }

            context.Unwrapped($"Request {exported.RequestId} exported to {exported.Path}: {Number(exported.FileCount)} files, {Number(exported.Bytes)} bytes, "
                + $"verified offline ({Number(exported.Verification.Checks.Count)} checks).");
            context.Unwrapped("The package holds the thread's messages and files in the clear and its keys: keep it as confidential as the case.");
            context.Unwrapped($"Check it anywhere with: globe verify-package {exported.Path} --root-key {session.Profile.RootKey}");
        });
        return command;
    }

    /// <summary><c>globe verify-package PATH [--root-key HEX]</c>: offline, no session, no device key.</summary>
    public Command VerifyPackage()
    {
        var path = new Argument<string>("package") { Description = "The package directory or .zip file" };
        var rootKey = new Option<string?>("--root-key")
        {
            Description = "The network root public key, 64 hex characters (default: the profile's pinned root; compare its fingerprint out of band)",
        };
        var command = new Command("verify-package",
            "Offline: check an export package's signed manifest, every file's SHA-256, every signature, certificate chain, decryption, attachment hash, receipt and audit link; exit 1 naming the first problem")
        {
            path, rootKey,
        };
        command.Handle(options, environment, async (context, cancellationToken) =>
        {
            var root = await RootKeyForVerificationAsync(context, context.Get(rootKey), cancellationToken);
            var result = RequestPackage.Verify(context.Get(path)!, root);
            if (context.Json)
            {
                context.WriteJson(new
                {
                    valid = result.IsValid,
                    requestId = result.RequestId,
                    rootFingerprint = root.Fingerprint,
                    file = result.File,
                    problem = result.Problem,
                    checks = result.Checks,
                });
            }
            else
            {
                context.Unwrapped($"Network root {root.Fingerprint}");
                foreach (var check in result.Checks)
                {
                    context.Unwrapped($"  ok  {check}");
                }

                if (result.IsValid)
                {
                    context.Unwrapped($"Package of request {result.RequestId} verifies: every signature, hash, decryption and link checked offline.");
                }
            }

            if (!result.IsValid)
            {
                throw new CliFailureException($"the package does not verify: {result.File}: {result.Problem}");
            }
        });
        return command;
    }

    private static async Task<SigningPublicKey> RootKeyForVerificationAsync(CliContext context, string? hex, CancellationToken cancellationToken)
    {
        if (hex is not null)
        {
            return PublicKeyOption(hex, "--root-key takes the network root public key as 64 hex characters.");
        }

        var profile = await context.Store.LoadAsync(context.ProfileName, cancellationToken);
        return profile.PinnedRootKey
            ?? throw new CliUsageException($"The profile '{context.ProfileName}' pins no network root key: pass --root-key.");
    }

    /// <summary>An Ed25519 public key given as 64 hex characters on the command line; a usage error saying <paramref name="usage"/> otherwise.</summary>
    private static SigningPublicKey PublicKeyOption(string hex, string usage)
    {
        try
        {
            return new SigningPublicKey(Convert.FromHexString(hex.Trim()));
        }
        catch (Exception e) when (e is FormatException or MalformedInputException)
        {
            throw new CliUsageException(usage);
        }
    }
}
