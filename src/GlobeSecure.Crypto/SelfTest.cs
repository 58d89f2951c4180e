namespace GlobeSecure.Crypto;

/// <summary>
/// PLACEHOLDER on the benchmark branch only, so that the benchmark compiles against the agreed
/// signature; the real known-answer self-test replaces this file at merge.
/// </summary>
public static class CryptoSelfTest
{
    /// <summary>Runs the known-answer checks; returns the names of those that passed, throws on the first failure.</summary>
    public static IReadOnlyList<string> Run() => throw new NotImplementedException("CryptoSelfTest is a placeholder on this branch.");
}
