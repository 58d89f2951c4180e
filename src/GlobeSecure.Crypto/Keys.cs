using System.Security.Cryptography;

namespace GlobeSecure.Crypto;

/// <summary>A 32-byte public key with value equality. Its text form is a short fingerprint, never more.</summary>
public abstract class PublicKey : IEquatable<PublicKey>
{
    private readonly byte[] _bytes;

    private protected PublicKey(ReadOnlySpan<byte> bytes, string kind)
    {
        if (bytes.Length != Primitives.PublicKeyBytes)
        {
            throw new MalformedInputException($"A {kind} public key is {Primitives.PublicKeyBytes} bytes, not {bytes.Length}.");
        }

        _bytes = bytes.ToArray();
    }

    /// <summary>The key's 32 bytes.</summary>
    public ReadOnlySpan<byte> Span => _bytes;

    /// <summary>A copy of the key's 32 bytes.</summary>
    public byte[] ToArray() => (byte[])_bytes.Clone();

    /// <summary>Lower-case hex of the first 8 bytes of BLAKE2b-256(key): enough to tell keys apart in logs and UIs.</summary>
    public string Fingerprint => Convert.ToHexStringLower(Primitives.Hash(_bytes).AsSpan(0, 8));

    /// <inheritdoc />
    public bool Equals(PublicKey? other) =>
        other is not null && other.GetType() == GetType() && CryptographicOperations.FixedTimeEquals(_bytes, other._bytes);

    /// <inheritdoc />
    public override bool Equals(object? obj) => Equals(obj as PublicKey);

    /// <inheritdoc />
    public override int GetHashCode() => BitConverter.ToInt32(_bytes, 0);

    /// <inheritdoc />
    public override string ToString() => $"{GetType().Name}({Fingerprint})";
}

/// <summary>An Ed25519 public (verification) key.</summary>
public sealed class SigningPublicKey(ReadOnlySpan<byte> bytes) : PublicKey(bytes, "Ed25519")
{
    /// <summary>True when <paramref name="signature"/> is this key's Ed25519 signature of <paramref name="message"/>.</summary>
    public bool Verify(ReadOnlySpan<byte> message, ReadOnlySpan<byte> signature) =>
        Primitives.Verify(signature, message, Span);
}

/// <summary>An X25519 public (encryption) key.</summary>
public sealed class BoxPublicKey(ReadOnlySpan<byte> bytes) : PublicKey(bytes, "X25519");

/// <summary>An Ed25519 key pair. The private half never leaves this object except to the keystore; Dispose clears it.</summary>
public sealed class SigningKeyPair : IDisposable
{
    private readonly byte[] _secretKey;

    private SigningKeyPair(byte[] secretKey, byte[] publicKey)
    {
        _secretKey = secretKey;
        PublicKey = new SigningPublicKey(publicKey);
    }

    /// <summary>The public half.</summary>
    public SigningPublicKey PublicKey { get; }

    /// <summary>A new random key pair.</summary>
    public static SigningKeyPair Generate()
    {
        Span<byte> seed = stackalloc byte[Primitives.SeedBytes];
        Primitives.Random(seed);
        try
        {
            return FromSeed(seed);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(seed);
        }
    }

    /// <summary>The key pair of a 32-byte Ed25519 seed (RFC 8032's private key).</summary>
    public static SigningKeyPair FromSeed(ReadOnlySpan<byte> seed)
    {
        if (seed.Length != Primitives.SeedBytes)
        {
            throw new MalformedInputException($"An Ed25519 seed is {Primitives.SeedBytes} bytes, not {seed.Length}.");
        }

        var secret = Primitives.Ed25519SecretKeyFromSeed(seed, out var publicKey);
        return new SigningKeyPair(secret, publicKey);
    }

    /// <summary>The Ed25519 signature (64 bytes) of <paramref name="message"/>.</summary>
    public byte[] Sign(ReadOnlySpan<byte> message)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return Primitives.Sign(message, _secretKey);
    }

    /// <summary>Copies the 32-byte seed out, for the keystore only. The caller clears the destination.</summary>
    internal void ExportSeed(Span<byte> destination)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        _secretKey.AsSpan(0, Primitives.SeedBytes).CopyTo(destination);
    }

    private bool _disposed;

    /// <summary>Clears the private key.</summary>
    public void Dispose()
    {
        CryptographicOperations.ZeroMemory(_secretKey);
        _disposed = true;
    }

    /// <inheritdoc />
    public override string ToString() => $"SigningKeyPair({PublicKey.Fingerprint})";
}

/// <summary>An X25519 key pair for sealed boxes. Dispose clears the private key.</summary>
public sealed class BoxKeyPair : IDisposable
{
    private readonly byte[] _privateKey;
    private bool _disposed;

    private BoxKeyPair(byte[] privateKey)
    {
        _privateKey = privateKey;
        PublicKey = new BoxPublicKey(Primitives.X25519Base(privateKey));
    }

    /// <summary>The public half.</summary>
    public BoxPublicKey PublicKey { get; }

    /// <summary>A new random key pair.</summary>
    public static BoxKeyPair Generate() => new(Primitives.Random(Primitives.X25519PrivateKeyBytes));

    /// <summary>The key pair of a 32-byte X25519 private key (RFC 7748 scalar).</summary>
    public static BoxKeyPair FromPrivateKey(ReadOnlySpan<byte> privateKey)
    {
        if (privateKey.Length != Primitives.X25519PrivateKeyBytes)
        {
            throw new MalformedInputException($"An X25519 private key is {Primitives.X25519PrivateKeyBytes} bytes, not {privateKey.Length}.");
        }

        return new BoxKeyPair(privateKey.ToArray());
    }

    /// <summary>Opens a sealed box addressed to this key; null when it was not (or was altered).</summary>
    internal byte[]? OpenSealed(ReadOnlySpan<byte> sealedBox)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return Primitives.OpenSealed(sealedBox, _privateKey, PublicKey.Span);
    }

    /// <summary>X25519(private, peer): RFC 7748's function, exposed for known-answer tests.</summary>
    internal byte[] SharedSecret(BoxPublicKey peer)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return Primitives.X25519(_privateKey, peer.Span);
    }

    /// <summary>Copies the private key out, for the keystore only. The caller clears the destination.</summary>
    internal void ExportPrivateKey(Span<byte> destination)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        _privateKey.CopyTo(destination);
    }

    /// <summary>Clears the private key.</summary>
    public void Dispose()
    {
        CryptographicOperations.ZeroMemory(_privateKey);
        _disposed = true;
    }

    /// <inheritdoc />
    public override string ToString() => $"BoxKeyPair({PublicKey.Fingerprint})";
}

/// <summary>
/// A device's public keys as it publishes them at enrolment: the box key signed by the signing key
/// (<c>globe/v1/box-key</c>: device id, signing key, box key), so that nobody can pair someone
/// else's signing key with their own box key.
/// </summary>
public sealed record PublicDeviceKeys(Guid DeviceId, SigningPublicKey SigningKey, BoxPublicKey BoxKey, byte[] BoxKeySignature)
{
    /// <summary>Context string of the box-key signature.</summary>
    public const string Context = "globe/v1/box-key";

    internal static byte[] SigningInput(Guid deviceId, SigningPublicKey signingKey, BoxPublicKey boxKey) =>
        new CanonicalWriter(Context).Guid(deviceId).Bytes(signingKey.Span).Bytes(boxKey.Span).ToArray();

    /// <summary>Checks the box-key signature; throws <see cref="SignatureInvalidException"/> when it fails.</summary>
    public void Verify()
    {
        if (!SigningKey.Verify(SigningInput(DeviceId, SigningKey, BoxKey), BoxKeySignature))
        {
            throw new SignatureInvalidException("box-key");
        }
    }
}

/// <summary>A device's private keys: an Ed25519 signing key and an X25519 box key. Dispose clears both.</summary>
public sealed class DeviceKeys : IDisposable
{
    private DeviceKeys(Guid deviceId, SigningKeyPair signing, BoxKeyPair box)
    {
        DeviceId = deviceId;
        Signing = signing;
        Box = box;
        Public = new PublicDeviceKeys(deviceId, signing.PublicKey, box.PublicKey,
            signing.Sign(PublicDeviceKeys.SigningInput(deviceId, signing.PublicKey, box.PublicKey)));
    }

    /// <summary>The device these keys belong to.</summary>
    public Guid DeviceId { get; }

    /// <summary>The signing key pair.</summary>
    public SigningKeyPair Signing { get; }

    /// <summary>The box key pair.</summary>
    public BoxKeyPair Box { get; }

    /// <summary>What the device publishes.</summary>
    public PublicDeviceKeys Public { get; }

    /// <summary>New random keys for a device.</summary>
    public static DeviceKeys Generate(Guid deviceId) => new(deviceId, SigningKeyPair.Generate(), BoxKeyPair.Generate());

    /// <summary>Rebuilds keys from their private halves (keystore, test vectors).</summary>
    public static DeviceKeys FromPrivateKeys(Guid deviceId, ReadOnlySpan<byte> signingSeed, ReadOnlySpan<byte> boxPrivateKey) =>
        new(deviceId, SigningKeyPair.FromSeed(signingSeed), BoxKeyPair.FromPrivateKey(boxPrivateKey));

    /// <summary>Signs canonical bytes with the device's signing key.</summary>
    public byte[] Sign(ReadOnlySpan<byte> canonicalBytes) => Signing.Sign(canonicalBytes);

    /// <summary>Clears both private keys.</summary>
    public void Dispose()
    {
        Signing.Dispose();
        Box.Dispose();
    }

    /// <inheritdoc />
    public override string ToString() => $"DeviceKeys({DeviceId}, {Signing.PublicKey.Fingerprint})";
}
