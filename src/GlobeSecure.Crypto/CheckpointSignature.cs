namespace GlobeSecure.Crypto;

/// <summary>
/// The server's signature over the audit chain's head at a position (docs/audit.md "Checkpoints",
/// docs/protocol.md §9.2): canonical bytes <c>globe/v1/audit-checkpoint</c> ‖ network id ‖
/// position (int64) ‖ hash (bytes 32) ‖ signed at (time) ‖ key id (text), signed with the
/// server's Ed25519 checkpoint key. The key id is the key's <see cref="PublicKey.Fingerprint"/>.
/// Here so that the server and an offline verifier of an export use the same code.
/// </summary>
public static class CheckpointSignature
{
    /// <summary>Context string of audit checkpoints.</summary>
    public const string Context = "globe/v1/audit-checkpoint";

    /// <summary>The bytes a checkpoint's signature covers.</summary>
    public static byte[] SigningInput(Guid networkId, long position, ReadOnlySpan<byte> hash, DateTimeOffset signedAt, string keyId)
    {
        if (hash.Length != ChainLinks.HashLength)
        {
            throw new MalformedInputException($"A checkpoint's hash is {ChainLinks.HashLength} bytes, not {hash.Length}.");
        }

        return new CanonicalWriter(Context)
            .Guid(networkId)
            .Int64(position)
            .Bytes(hash)
            .Time(signedAt)
            .Text(keyId)
            .ToArray();
    }

    /// <summary>Signs the link <paramref name="hash"/> at <paramref name="position"/> (the time is truncated to microseconds by the encoding).</summary>
    public static byte[] Sign(SigningKeyPair key, Guid networkId, long position, ReadOnlySpan<byte> hash, DateTimeOffset signedAt)
    {
        ArgumentNullException.ThrowIfNull(key);
        return key.Sign(SigningInput(networkId, position, hash, signedAt, key.PublicKey.Fingerprint));
    }

    /// <summary>
    /// True when <paramref name="keyId"/> is <paramref name="key"/>'s fingerprint and
    /// <paramref name="signature"/> is its signature over the checkpoint; false for a malformed hash.
    /// </summary>
    public static bool Verify(SigningPublicKey key, Guid networkId, long position, ReadOnlySpan<byte> hash, DateTimeOffset signedAt,
        string keyId, ReadOnlySpan<byte> signature)
    {
        ArgumentNullException.ThrowIfNull(key);
        return hash.Length == ChainLinks.HashLength && string.Equals(key.Fingerprint, keyId, StringComparison.Ordinal)
            && key.Verify(SigningInput(networkId, position, hash, signedAt, keyId), signature);
    }
}
