using System.CommandLine;
using GlobeSecure.Client;
using GlobeSecure.Client.Keystore;
using GlobeSecure.Client.Profiles;
using GlobeSecure.Crypto;

namespace GlobeSecure.Cli;

/// <summary>
/// The <c>globe</c> command. Exit codes: 0 success, 1 a failure (one line on standard error),
/// 2 a usage error. Passphrases never come from the command line.
/// </summary>
internal static class GlobeCli
{
    public static async Task<int> RunAsync(string[] args, CliEnvironment environment, CancellationToken cancellationToken)
    {
        var options = new GlobalOptions();
        var root = Build(options, environment);
        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            environment.Error.WriteLine($"error: {OneLine(parse.Errors[0].Message)} (see 'globe --help')");
            return 2;
        }

        return await parse.InvokeAsync(new InvocationConfiguration
        {
            Output = environment.Out,
            Error = environment.Error,
            EnableDefaultExceptionHandler = false,
        }, cancellationToken);
    }

    public static RootCommand Build(GlobalOptions options, CliEnvironment environment)
    {
        var root = new RootCommand("globe: the GlobeSecure command line (network, authorities, users, devices, directory, case channels, documents, request templates)");
        foreach (var option in options.All)
        {
            root.Options.Add(option);
        }

        var commands = new Commands(options, environment);
        root.Subcommands.Add(commands.Network());
        root.Subcommands.Add(commands.Authority());
        root.Subcommands.Add(commands.Group());
        root.Subcommands.Add(commands.User());
        root.Subcommands.Add(commands.Device());
        root.Subcommands.Add(commands.WhoAmI());
        root.Subcommands.Add(commands.Fingerprint());
        root.Subcommands.Add(commands.Directory());
        root.Subcommands.Add(commands.Channel());
        root.Subcommands.Add(commands.Send());
        root.Subcommands.Add(commands.History());
        root.Subcommands.Add(commands.Watch());
        root.Subcommands.Add(commands.Consent());
        root.Subcommands.Add(commands.Receipts());
        root.Subcommands.Add(commands.Doc());
        root.Subcommands.Add(commands.Template());
        root.Subcommands.Add(commands.Request());
        root.Subcommands.Add(commands.Stats());
        root.Subcommands.Add(commands.Audit());
        root.Subcommands.Add(commands.VerifyPackage());
        return root;
    }

    /// <summary>Runs a command body, turning every expected failure into one line on standard error and an exit code.</summary>
    public static void Handle(this Command command, GlobalOptions options, CliEnvironment environment,
        Func<CliContext, CancellationToken, Task> body) =>
        command.SetAction(async (parse, cancellationToken) =>
        {
            try
            {
                await body(new CliContext(parse, options, environment), cancellationToken);
                return 0;
            }
            catch (Exception e) when (ExitCodeOf(e) is { } code)
            {
                environment.Error.WriteLine($"error: {ErrorLine(e)}");
                return code;
            }
        });

    internal static int? ExitCodeOf(Exception exception) => exception switch
    {
        CliUsageException => 2,
        CliFailureException or GlobeClientException or GlobeTrustException or GlobeProfileException or KeystoreException
            or GlobeCryptoException or IOException or UnauthorizedAccessException => 1,
        OperationCanceledException => 1,
        _ => null,
    };

    /// <summary>
    /// The failure as one line. The client names the status before the server's message, and some
    /// server messages name it again ("permission denied: Permission denied: not a member…"): said once.
    /// </summary>
    internal static string ErrorLine(Exception exception)
    {
        var line = OneLine(exception.Message);
        var colon = line.IndexOf(": ", StringComparison.Ordinal);
        if (colon > 0 && line.AsSpan(colon + 2).StartsWith(line.AsSpan(0, colon + 2), StringComparison.OrdinalIgnoreCase))
        {
            line = line[..(colon + 2)] + line[(2 * colon + 4)..];
        }

        return line;
    }

    internal static string OneLine(string text) =>
        string.Join(' ', text.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
}
