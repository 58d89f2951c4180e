namespace GlobeSecure.Cli;

/// <summary>
/// Where passphrases come from: a file (<c>--passphrase-file</c>, first line), an environment
/// variable, or a prompt without echo when standard input is a terminal. Never from the command
/// line, never logged or printed.
/// </summary>
internal static class Passphrases
{
    public static async Task<char[]> ReadAsync(CliEnvironment environment, string? file, string variable, string what, bool confirm,
        string fileOption, CancellationToken cancellationToken)
    {
        if (file is not null)
        {
            string text;
            try
            {
                text = await File.ReadAllTextAsync(file, cancellationToken);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new CliFailureException($"Cannot read the {what} from '{file}': {e.Message}");
            }

            var line = text.Split('\n', 2)[0].TrimEnd('\r');
            return line.Length > 0 ? line.ToCharArray() : throw new CliFailureException($"The {what} file '{file}' is empty.");
        }

        if (environment.Variable(variable) is { Length: > 0 } fromEnvironment)
        {
            return fromEnvironment.ToCharArray();
        }

        if (!environment.InputIsTerminal())
        {
            throw new CliFailureException($"No {what}: pass {fileOption} <file> or set {variable} (standard input is not a terminal, so it cannot be asked for).");
        }

        var entered = environment.ReadSecret($"{char.ToUpperInvariant(what[0])}{what[1..]}: ");
        if (string.IsNullOrEmpty(entered))
        {
            throw new CliFailureException($"No {what} entered.");
        }

        if (confirm && environment.ReadSecret($"Repeat the {what}: ") != entered)
        {
            throw new CliFailureException($"The two {what}s differ.");
        }

        return entered.ToCharArray();
    }
}
