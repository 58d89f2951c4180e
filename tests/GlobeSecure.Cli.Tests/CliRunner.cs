namespace GlobeSecure.Cli.Tests;

/// <summary>Runs the real `globe` command in-process with its own home, environment and captured output.</summary>
internal sealed class CliRunner : IDisposable
{
    private readonly Dictionary<string, string?> _variables = new(StringComparer.Ordinal);

    public CliRunner()
    {
        Home = Directory.CreateTempSubdirectory("globe-cli-").FullName;
        _variables["GLOBE_HOME"] = Home;
    }

    public string Home { get; }

    /// <summary>Answers to prompts, in order (null: no terminal).</summary>
    public Queue<string>? TerminalAnswers { get; set; }

    /// <summary>Standard input of the next runs (empty when null).</summary>
    public string? Input { get; set; }

    public CliRunner With(string name, string? value)
    {
        _variables[name] = value;
        return this;
    }

    public async Task<CliResult> RunAsync(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var environment = new CliEnvironment(
            name => _variables.TryGetValue(name, out var value) ? value : null,
            output,
            error,
            () => TerminalAnswers is not null,
            _ => TerminalAnswers is { Count: > 0 } answers ? answers.Dequeue() : null)
        {
            Input = new StringReader(Input ?? ""),
        };
        var exitCode = await GlobeCli.RunAsync(args, environment, TestContext.Current.CancellationToken);
        return new CliResult(exitCode, output.ToString(), error.ToString());
    }

    public string WriteFile(string name, string content)
    {
        var path = Path.Combine(Home, name);
        File.WriteAllText(path, content);
        return path;
    }

    public void Dispose() => Directory.Delete(Home, recursive: true);
}

internal sealed record CliResult(int ExitCode, string Output, string Error)
{
    /// <summary>The single line written to standard error.</summary>
    public string ErrorLine => Assert.Single(Error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
}
