using GlobeSecure.Cli;

using var cancellation = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    cancellation.Cancel();
};
return await GlobeCli.RunAsync(args, CliEnvironment.System, cancellation.Token);
