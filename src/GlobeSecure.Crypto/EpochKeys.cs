using System.Security.Cryptography;

namespace GlobeSecure.Crypto;

/// <summary>A channel epoch's 32-byte symmetric key. Dispose clears it.</summary>
public sealed class EpochKey : IDisposable
{
    /// <summary>Context string of the key commitment.</summary>
    public const string CommitmentContext = "globe/v1/epoch-key-commitment";

    private readonly byte[] _key;
    private bool _disposed;

    private EpochKey(Guid channelId, long epoch, byte[] key)
    {
        if (epoch < 0)
        {
            throw new MalformedInputException("An epoch number is zero or more.");
        }

        ChannelId = channelId;
        Epoch = epoch;
        _key = key;
        Commitment = Primitives.Hash(new CanonicalWriter(CommitmentContext).Guid(channelId).Int64(epoch).Bytes(key).WrittenSpan);
    }

    /// <summary>The channel.</summary>
    public Guid ChannelId { get; }

    /// <summary>The epoch number within the channel.</summary>
    public long Epoch { get; }

    /// <summary>BLAKE2b-256 of <c>globe/v1/epoch-key-commitment</c> ‖ channel ‖ epoch ‖ key: lets every member check they hold the same key.</summary>
    public byte[] Commitment { get; }

    /// <summary>A new random key for an epoch.</summary>
    public static EpochKey Generate(Guid channelId, long epoch) => new(channelId, epoch, Primitives.Random(Primitives.SymmetricKeyBytes));

    /// <summary>A key from its bytes (test vectors; opening a distribution).</summary>
    public static EpochKey FromBytes(Guid channelId, long epoch, ReadOnlySpan<byte> key)
    {
        if (key.Length != Primitives.SymmetricKeyBytes)
        {
            throw new MalformedInputException($"An epoch key is {Primitives.SymmetricKeyBytes} bytes, not {key.Length}.");
        }

        return new EpochKey(channelId, epoch, key.ToArray());
    }

    /// <summary>
    /// A copy of the key's bytes, for an export package that must let an offline verifier re-check
    /// decryption (docs/requests.md, "Export package"): as secret as every message of the epoch.
    /// </summary>
    public byte[] ExportBytes() => Key.ToArray();

    internal ReadOnlySpan<byte> Key
    {
        get
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _key;
        }
    }

    /// <summary>Clears the key.</summary>
    public void Dispose()
    {
        CryptographicOperations.ZeroMemory(_key);
        _disposed = true;
    }

    /// <inheritdoc />
    public override string ToString() => $"EpochKey({ChannelId}, epoch {Epoch})";
}

/// <summary>One recipient device's copy of an epoch key: <c>crypto_box_seal</c>(key, device box key).</summary>
public sealed record SealedEpochKey(Guid RecipientDeviceId, byte[] SealedKey);

/// <summary>
/// An epoch key sealed to each member device, signed by its creator. Signed bytes:
/// <c>globe/v1/epoch-key</c> then channel id, epoch, created at, creator user id, creator device
/// id, key commitment, recipient count, and for each recipient in ascending id order (RFC 4122
/// bytes) its device id and sealed key.
/// </summary>
public sealed record EpochKeyDistribution(
    Guid ChannelId,
    long Epoch,
    DateTimeOffset CreatedAt,
    Guid CreatorUserId,
    Guid CreatorDeviceId,
    byte[] KeyCommitment,
    IReadOnlyList<SealedEpochKey> Recipients,
    byte[] Signature)
{
    /// <summary>Context string of distributions.</summary>
    public const string Context = "globe/v1/epoch-key";

    /// <summary>Length of each recipient's sealed key: 32 key bytes plus the sealed box's 48.</summary>
    public const int SealedKeyBytes = Primitives.SymmetricKeyBytes + Primitives.SealOverheadBytes;

    /// <summary>The bytes the creator signs.</summary>
    public byte[] SigningInput()
    {
        var writer = new CanonicalWriter(Context, 256 + (Recipients.Count * 100))
            .Guid(ChannelId)
            .Int64(Epoch)
            .Time(CreatedAt)
            .Guid(CreatorUserId)
            .Guid(CreatorDeviceId)
            .Bytes(KeyCommitment)
            .Int64(Recipients.Count);
        foreach (var recipient in Recipients)
        {
            writer.Guid(recipient.RecipientDeviceId).Bytes(recipient.SealedKey);
        }

        return writer.ToArray();
    }

    /// <summary>Seals <paramref name="key"/> to each recipient's box key and signs the result.</summary>
    public static EpochKeyDistribution Create(EpochKey key, IEnumerable<(Guid DeviceId, BoxPublicKey BoxKey)> recipients,
        DateTimeOffset createdAt, Guid creatorUserId, DeviceKeys creator)
    {
        var sealedKeys = new List<SealedEpochKey>();
        foreach (var (deviceId, boxKey) in recipients.OrderBy(r => r.DeviceId, RfcGuidComparer.Instance))
        {
            if (sealedKeys.Count > 0 && sealedKeys[^1].RecipientDeviceId == deviceId)
            {
                throw new MalformedInputException($"Device {deviceId} is listed twice as a recipient.");
            }

            sealedKeys.Add(new SealedEpochKey(deviceId, Primitives.Seal(key.Key, boxKey.Span)));
        }

        if (sealedKeys.Count == 0)
        {
            throw new MalformedInputException("An epoch key needs at least one recipient device.");
        }

        return CreateSigned(key.ChannelId, key.Epoch, createdAt, creatorUserId, creator, key.Commitment, sealedKeys);
    }

    /// <summary>Signs a distribution whose sealed keys are given (test vectors: sealing is randomised).</summary>
    internal static EpochKeyDistribution CreateSigned(Guid channelId, long epoch, DateTimeOffset createdAt, Guid creatorUserId,
        DeviceKeys creator, byte[] commitment, IReadOnlyList<SealedEpochKey> sealedKeys)
    {
        var unsigned = new EpochKeyDistribution(channelId, epoch, CanonicalWriter.TruncateToMicroseconds(createdAt),
            creatorUserId, creator.DeviceId, commitment, sealedKeys, []);
        return unsigned with { Signature = creator.Sign(unsigned.SigningInput()) };
    }

    /// <summary>
    /// Checks the creator's signature against the creator's verified certificate (which must be
    /// for <see cref="CreatorDeviceId"/> and <see cref="CreatorUserId"/>), that the commitment is
    /// 32 bytes and that recipients are in order without duplicates.
    /// </summary>
    public void Verify(VerifiedDevice creator)
    {
        ArgumentNullException.ThrowIfNull(creator);
        if (creator.DeviceId != CreatorDeviceId || creator.UserId != CreatorUserId)
        {
            throw new SenderMismatchException(
                $"The distribution names creator device {CreatorDeviceId}, but the certificate given is for device {creator.DeviceId}.");
        }

        if (KeyCommitment.Length != Primitives.HashBytes)
        {
            throw new MalformedInputException($"A key commitment is {Primitives.HashBytes} bytes, not {KeyCommitment.Length}.");
        }

        if (Recipients.Count == 0)
        {
            throw new MalformedInputException("An epoch-key distribution has at least one recipient.");
        }

        foreach (var recipient in Recipients)
        {
            if (recipient.SealedKey.Length != SealedKeyBytes)
            {
                throw new MalformedInputException(
                    $"A sealed epoch key is {SealedKeyBytes} bytes, not {recipient.SealedKey.Length} (device {recipient.RecipientDeviceId}).");
            }
        }

        for (var i = 1; i < Recipients.Count; i++)
        {
            if (RfcGuidComparer.Instance.Compare(Recipients[i - 1].RecipientDeviceId, Recipients[i].RecipientDeviceId) >= 0)
            {
                throw new MalformedInputException("Recipients must be in ascending device-id order, each once.");
            }
        }

        if (!creator.SigningKey.Verify(SigningInput(), Signature))
        {
            throw new SignatureInvalidException("epoch-key distribution");
        }
    }

    /// <summary>
    /// Verifies the distribution, then opens this device's copy and checks it against the signed
    /// commitment. Throws <see cref="NotARecipientException"/> when the device has no copy and
    /// <see cref="DecryptionFailedException"/> when its copy does not open.
    /// </summary>
    public EpochKey Open(VerifiedDevice creator, DeviceKeys recipient)
    {
        ArgumentNullException.ThrowIfNull(recipient);
        Verify(creator);
        var mine = Recipients.FirstOrDefault(r => r.RecipientDeviceId == recipient.DeviceId)
            ?? throw new NotARecipientException(recipient.DeviceId);
        var keyBytes = recipient.Box.OpenSealed(mine.SealedKey);
        if (keyBytes is not { Length: Primitives.SymmetricKeyBytes })
        {
            throw new DecryptionFailedException("sealed epoch key");
        }

        try
        {
            var key = EpochKey.FromBytes(ChannelId, Epoch, keyBytes);
            if (!CryptographicOperations.FixedTimeEquals(key.Commitment, KeyCommitment))
            {
                key.Dispose();
                throw new KeyCommitmentMismatchException(ChannelId, Epoch);
            }

            return key;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(keyBytes);
        }
    }
}

/// <summary>Orders ids by their RFC 4122 bytes (the order canonical bytes use), not .NET's mixed-endian order.</summary>
public sealed class RfcGuidComparer : IComparer<Guid>
{
    /// <summary>The comparer.</summary>
    public static RfcGuidComparer Instance { get; } = new();

    /// <inheritdoc />
    public int Compare(Guid x, Guid y)
    {
        Span<byte> a = stackalloc byte[16];
        Span<byte> b = stackalloc byte[16];
        x.TryWriteBytes(a, bigEndian: true, out _);
        y.TryWriteBytes(b, bigEndian: true, out _);
        return a.SequenceCompareTo(b);
    }
}
