namespace GlobeSecure.Crypto;

/// <summary>
/// BLAKE2b-256 over data that arrives in pieces (a document's ciphertext as it is uploaded or
/// downloaded, say), with constant memory. Finish once; Dispose clears the state.
/// </summary>
public sealed class Blake2b256 : IDisposable
{
    /// <summary>Output length in bytes.</summary>
    public const int HashBytes = Primitives.HashBytes;

    private readonly IncrementalHash _hash = new();

    /// <summary>Bytes appended so far.</summary>
    public long Length { get; private set; }

    /// <summary>BLAKE2b-256 of <paramref name="input"/> in one call.</summary>
    public static byte[] Hash(ReadOnlySpan<byte> input) => Primitives.Hash(input);

    /// <summary>Feeds the next piece.</summary>
    public void Append(ReadOnlySpan<byte> input)
    {
        _hash.Append(input);
        Length += input.Length;
    }

    /// <summary>The hash of everything appended; the object cannot be used afterwards.</summary>
    public byte[] Finish() => _hash.Finish();

    /// <inheritdoc />
    public void Dispose() => _hash.Dispose();
}
