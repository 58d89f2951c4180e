using GlobeSecure.Server.Infrastructure;

namespace GlobeSecure.Server.Identity;

/// <summary>The network as its stream tells it: the current bootstrap code (hashed) and, once bootstrapped, its name and root key.</summary>
internal sealed record NetworkState(
    bool Bootstrapped,
    string Name,
    byte[]? RootKey,
    Guid SecretariatId,
    byte[]? CodeHash,
    DateTimeOffset CodeExpiresAt)
{
    public static NetworkState Initial { get; } = new(false, "", null, Guid.Empty, null, DateTimeOffset.MinValue);
}

internal abstract record NetworkCommand(DateTimeOffset At);

internal sealed record IssueBootstrapCode(byte[] CodeHash, DateTimeOffset ExpiresAt, DateTimeOffset At) : NetworkCommand(At);

internal sealed record BootstrapNetwork(byte[] CodeHash, string Name, byte[] RootKey, Guid SecretariatId, Guid AdministratorUserId,
    DateTimeOffset At) : NetworkCommand(At);

/// <summary>
/// Bootstrap rules: a code is usable once, until it expires, and only the latest one issued
/// (a new code supersedes the old); the network is bootstrapped once. Wrong, superseded, used and
/// expired codes get the same answer.
/// </summary>
internal static class NetworkDecider
{
    public const string StreamId = "network";

    public const string BadCode = "The bootstrap code is wrong, used or expired: ask the server operator for a new one (ops/bootstrap-code.sh).";

    public static NetworkState Evolve(NetworkState state, object @event) => @event switch
    {
        BootstrapCodeIssued e => state with { CodeHash = e.CodeHash, CodeExpiresAt = e.ExpiresAt },
        NetworkBootstrapped e => state with { Bootstrapped = true, Name = e.Name, RootKey = e.RootKey, SecretariatId = e.SecretariatId },
        _ => state,
    };

    public static IReadOnlyList<object> Decide(NetworkCommand command, NetworkState state) => (command, state) switch
    {
        (IssueBootstrapCode, { Bootstrapped: true }) => throw new WrongStateException(
            "The network is already bootstrapped: a bootstrap code is of no use. Network administrators invite further administrators."),
        (IssueBootstrapCode issue, _) => [new BootstrapCodeIssued(StreamId, issue.CodeHash, issue.ExpiresAt, issue.At)],

        // The code that bootstrapped the network is "used"; any other code meets a network that exists.
        (BootstrapNetwork bootstrap, { Bootstrapped: true }) when Secrets.SameHash(bootstrap.CodeHash, state.CodeHash) =>
            throw new UnauthenticatedException(BadCode),
        (BootstrapNetwork, { Bootstrapped: true }) => throw new WrongStateException(
            "The network is already bootstrapped; it has a root key and administrators."),
        (BootstrapNetwork bootstrap, _) when !Secrets.SameHash(bootstrap.CodeHash, state.CodeHash) || bootstrap.At >= state.CodeExpiresAt =>
            throw new UnauthenticatedException(BadCode),
        (BootstrapNetwork bootstrap, _) => [new NetworkBootstrapped(StreamId, bootstrap.Name, bootstrap.RootKey, bootstrap.SecretariatId,
            bootstrap.AdministratorUserId, bootstrap.At)],

        _ => throw new InvalidOperationException($"Unhandled command {command.GetType().Name}."),
    };
}
