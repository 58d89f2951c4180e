namespace GlobeSecure.Crypto;

/// <summary>
/// The clear header of a message: what the server needs to route, enforce policy and audit.
/// Its canonical bytes (<c>globe/v1/message-header</c> then format version, channel id, message
/// id, sender user id, sender device id, epoch, sent at, content type, handling code, evaluation
/// grade, document count, each document id, spontaneous (1 or 0), reply-to message id and
/// forwarded message id (each the nil UUID when absent)) are the body's associated data.
/// </summary>
public sealed record MessageHeader(
    Guid ChannelId,
    Guid MessageId,
    Guid SenderUserId,
    Guid SenderDeviceId,
    long Epoch,
    DateTimeOffset SentAt,
    string ContentType,
    string HandlingCode,
    string EvaluationGrade,
    IReadOnlyList<Guid> DocumentIds,
    bool Spontaneous = false,
    Guid ReplyToMessageId = default,
    Guid ForwardOfMessageId = default)
{
    /// <summary>Context string of message headers.</summary>
    public const string Context = "globe/v1/message-header";

    /// <summary>The envelope format version this library writes and reads.</summary>
    public const long FormatVersion = 1;

    /// <summary>The header's canonical bytes.</summary>
    public byte[] CanonicalBytes()
    {
        var writer = new CanonicalWriter(Context)
            .Int64(FormatVersion)
            .Guid(ChannelId)
            .Guid(MessageId)
            .Guid(SenderUserId)
            .Guid(SenderDeviceId)
            .Int64(Epoch)
            .Time(SentAt)
            .Text(ContentType)
            .Text(HandlingCode)
            .Text(EvaluationGrade)
            .Int64(DocumentIds.Count);
        foreach (var id in DocumentIds)
        {
            writer.Guid(id);
        }

        return writer.Int64(Spontaneous ? 1 : 0).Guid(ReplyToMessageId).Guid(ForwardOfMessageId).ToArray();
    }

    /// <inheritdoc />
    public bool Equals(MessageHeader? other) =>
        other is not null && CanonicalBytes().AsSpan().SequenceEqual(other.CanonicalBytes());

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(ChannelId, MessageId, Epoch);
}

/// <summary>
/// A sealed, signed message. Body = XChaCha20-Poly1305(epoch key, <see cref="Nonce"/>, plaintext,
/// AAD = header canonical bytes). Signature = Ed25519 over <c>globe/v1/message</c> ‖ header
/// canonical bytes ‖ BLAKE2b-256(nonce ‖ ciphertext), each as a canonical field.
/// </summary>
public sealed record MessageEnvelope(MessageHeader Header, byte[] Nonce, byte[] Ciphertext, byte[] Signature)
{
    /// <summary>Context string of message signatures.</summary>
    public const string Context = "globe/v1/message";

    /// <summary>The bytes the sender signs.</summary>
    public byte[] SigningInput() => SigningInput(Header.CanonicalBytes(), Nonce, Ciphertext);

    private static byte[] SigningInput(byte[] header, ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> ciphertext)
    {
        using var hash = new IncrementalHash();
        hash.Append(nonce);
        hash.Append(ciphertext);
        return new CanonicalWriter(Context, header.Length + 64).Bytes(header).Bytes(hash.Finish()).ToArray();
    }

    /// <summary>BLAKE2b-256 of the signing input: what receipts name.</summary>
    public byte[] Digest() => Primitives.Hash(SigningInput());

    /// <summary>Encrypts <paramref name="plaintext"/> under the epoch key with a random nonce and signs the envelope.</summary>
    public static MessageEnvelope Seal(MessageHeader header, ReadOnlySpan<byte> plaintext, EpochKey key, DeviceKeys sender) =>
        Seal(header, plaintext, key, sender, Primitives.Random(Primitives.NonceBytes));

    /// <summary>Seal with a chosen nonce: test vectors only (a repeated nonce under one key is fatal).</summary>
    internal static MessageEnvelope Seal(MessageHeader header, ReadOnlySpan<byte> plaintext, EpochKey key, DeviceKeys sender, byte[] nonce)
    {
        ArgumentNullException.ThrowIfNull(header);
        if (header.SenderDeviceId != sender.DeviceId)
        {
            throw new SenderMismatchException($"The header names sender device {header.SenderDeviceId}, but the keys are device {sender.DeviceId}'s.");
        }

        CheckEpoch(header, key);
        header = header with { SentAt = CanonicalWriter.TruncateToMicroseconds(header.SentAt) };
        var headerBytes = header.CanonicalBytes();
        var ciphertext = new byte[plaintext.Length + Primitives.TagBytes];
        Primitives.Encrypt(ciphertext, plaintext, headerBytes, nonce, key.Key);
        var signature = sender.Sign(SigningInput(headerBytes, nonce, ciphertext));
        return new MessageEnvelope(header, nonce, ciphertext, signature);
    }

    /// <summary>
    /// Checks that <paramref name="sender"/> (a verified certificate) is the device and user the
    /// header names and that the signature verifies. The server does this before accepting a
    /// message; it needs no key.
    /// </summary>
    public void VerifySignature(VerifiedDevice sender)
    {
        ArgumentNullException.ThrowIfNull(sender);
        if (sender.DeviceId != Header.SenderDeviceId || sender.UserId != Header.SenderUserId)
        {
            throw new SenderMismatchException(
                $"The message names sender device {Header.SenderDeviceId}, but the certificate given is for device {sender.DeviceId}.");
        }

        if (Nonce.Length != Primitives.NonceBytes)
        {
            throw new MalformedInputException($"A message nonce is {Primitives.NonceBytes} bytes, not {Nonce.Length}.");
        }

        if (!sender.SigningKey.Verify(SigningInput(), Signature))
        {
            throw new SignatureInvalidException("message");
        }
    }

    /// <summary>Verifies the signature against the sender's verified certificate, then decrypts.</summary>
    public byte[] Open(VerifiedDevice sender, EpochKey key)
    {
        ArgumentNullException.ThrowIfNull(key);
        VerifySignature(sender);
        CheckEpoch(Header, key);
        if (Ciphertext.Length < Primitives.TagBytes)
        {
            throw new DecryptionFailedException("message body");
        }

        var plaintext = new byte[Ciphertext.Length - Primitives.TagBytes];
        if (!Primitives.TryDecrypt(plaintext, Ciphertext, Header.CanonicalBytes(), Nonce, key.Key, out _))
        {
            throw new DecryptionFailedException("message body");
        }

        return plaintext;
    }

    private static void CheckEpoch(MessageHeader header, EpochKey key)
    {
        if (key.ChannelId != header.ChannelId || key.Epoch != header.Epoch)
        {
            throw new WrongEpochException(
                $"The message is for channel {header.ChannelId} epoch {header.Epoch}; the key is for channel {key.ChannelId} epoch {key.Epoch}.");
        }
    }
}

/// <summary>What a receipt attests.</summary>
public enum ReceiptKind
{
    /// <summary>The message reached the recipient's device.</summary>
    Delivered = 1,

    /// <summary>The recipient opened the message.</summary>
    Read = 2,
}

/// <summary>
/// A signed delivery or read receipt. Signed bytes: <c>globe/v1/receipt</c> then kind
/// (<c>delivered</c> or <c>read</c>), channel id, message id, message digest, recipient user id,
/// recipient device id, at.
/// </summary>
public sealed record Receipt(
    ReceiptKind Kind,
    Guid ChannelId,
    Guid MessageId,
    byte[] MessageDigest,
    Guid RecipientUserId,
    Guid RecipientDeviceId,
    DateTimeOffset At,
    byte[] Signature)
{
    /// <summary>Context string of receipts.</summary>
    public const string Context = "globe/v1/receipt";

    /// <summary>The bytes the recipient signs.</summary>
    public byte[] SigningInput() => new CanonicalWriter(Context)
        .Text(Kind switch
        {
            ReceiptKind.Delivered => "delivered",
            ReceiptKind.Read => "read",
            _ => throw new MalformedInputException($"Unknown receipt kind {(int)Kind}."),
        })
        .Guid(ChannelId)
        .Guid(MessageId)
        .Bytes(MessageDigest)
        .Guid(RecipientUserId)
        .Guid(RecipientDeviceId)
        .Time(At)
        .ToArray();

    /// <summary>Signs a receipt for <paramref name="message"/> by the recipient device.</summary>
    public static Receipt Create(ReceiptKind kind, MessageEnvelope message, DateTimeOffset at, Guid recipientUserId, DeviceKeys recipient)
    {
        ArgumentNullException.ThrowIfNull(message);
        var unsigned = new Receipt(kind, message.Header.ChannelId, message.Header.MessageId, message.Digest(), recipientUserId,
            recipient.DeviceId, CanonicalWriter.TruncateToMicroseconds(at), []);
        return unsigned with { Signature = recipient.Sign(unsigned.SigningInput()) };
    }

    /// <summary>Checks the receipt was signed by <paramref name="recipient"/> and, when given, names <paramref name="message"/>.</summary>
    public void Verify(VerifiedDevice recipient, MessageEnvelope? message = null)
    {
        ArgumentNullException.ThrowIfNull(recipient);
        if (recipient.DeviceId != RecipientDeviceId || recipient.UserId != RecipientUserId)
        {
            throw new SenderMismatchException(
                $"The receipt names device {RecipientDeviceId}, but the certificate given is for device {recipient.DeviceId}.");
        }

        if (!recipient.SigningKey.Verify(SigningInput(), Signature))
        {
            throw new SignatureInvalidException("receipt");
        }

        if (message is not null &&
            (message.Header.MessageId != MessageId || message.Header.ChannelId != ChannelId ||
             !message.Digest().AsSpan().SequenceEqual(MessageDigest)))
        {
            throw new ReceiptMismatchException(message.Header.MessageId);
        }
    }
}
