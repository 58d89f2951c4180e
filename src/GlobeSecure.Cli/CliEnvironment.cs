namespace GlobeSecure.Cli;

/// <summary>What the command reads from outside its arguments: environment variables, the terminal and the output streams.</summary>
internal sealed record CliEnvironment(
    Func<string, string?> Variable,
    TextWriter Out,
    TextWriter Error,
    Func<bool> InputIsTerminal,
    Func<string, string?> ReadSecret)
{
    public static CliEnvironment System { get; } = new(
        Environment.GetEnvironmentVariable,
        Console.Out,
        Console.Error,
        () => !Console.IsInputRedirected,
        PromptWithoutEcho)
    {
        Input = Console.In,
    };

    /// <summary>Standard input (message text for 'globe send'); empty unless set.</summary>
    public TextReader Input { get; init; } = TextReader.Null;

    /// <summary>Reads a line from the terminal without echoing it; null at end of input.</summary>
    private static string? PromptWithoutEcho(string prompt)
    {
        Console.Error.Write(prompt);
        var text = new global::System.Text.StringBuilder();
        while (true)
        {
            var key = Console.ReadKey(intercept: true);
            if (key.Key == ConsoleKey.Enter)
            {
                Console.Error.WriteLine();
                return text.ToString();
            }

            if (key.Key == ConsoleKey.Backspace)
            {
                if (text.Length > 0)
                {
                    text.Length--;
                }
            }
            else if (key.KeyChar != '\0')
            {
                text.Append(key.KeyChar);
            }
        }
    }
}

/// <summary>A usage error: the command line itself is wrong (exit code 2).</summary>
internal sealed class CliUsageException(string message) : Exception(message);

/// <summary>A failure the user can act on (exit code 1), with a one-line message.</summary>
internal sealed class CliFailureException(string message) : Exception(message);
