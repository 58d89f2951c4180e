namespace GlobeSecure.Crypto;

/// <summary>
/// Base of every error this library raises for input that does not verify, decrypt or parse.
/// Each failure has its own type so that callers (and tests) can tell them apart; messages name
/// the object and what is wrong, never key material or plaintext.
/// </summary>
public abstract class GlobeCryptoException : Exception
{
    /// <summary>Creates the error.</summary>
    protected GlobeCryptoException(string message) : base(message)
    {
    }
}

/// <summary>A field has the wrong size or an impossible value (for example a 31-byte key).</summary>
public sealed class MalformedInputException(string message) : GlobeCryptoException(message);

/// <summary>A signature does not verify under the key it claims.</summary>
public sealed class SignatureInvalidException(string objectKind)
    : GlobeCryptoException($"The {objectKind} signature does not verify: the object was altered or signed by another key.")
{
    /// <summary>What was signed: certificate, message, epoch-key distribution, receipt, …</summary>
    public string ObjectKind { get; } = objectKind;
}

/// <summary>The chain does not end in a certificate issued by a pinned network root key.</summary>
public sealed class UntrustedRootException(string message) : GlobeCryptoException(message);

/// <summary>A link is missing or inconsistent: the issuer named by a certificate is not the next certificate.</summary>
public sealed class CertificateChainBrokenException(string message) : GlobeCryptoException(message);

/// <summary>A certificate was issued by a role that may not issue it (or outside the issuer's authority).</summary>
public sealed class IssuerNotAllowedException(string message) : GlobeCryptoException(message);

/// <summary>A certificate's validity window ended before the time of verification.</summary>
public sealed class CertificateExpiredException(Guid certificateId, DateTimeOffset notAfter)
    : GlobeCryptoException($"Certificate {certificateId} expired at {notAfter:O}.")
{
    /// <summary>The expired certificate.</summary>
    public Guid CertificateId { get; } = certificateId;
}

/// <summary>A certificate's validity window starts after the time of verification.</summary>
public sealed class CertificateNotYetValidException(Guid certificateId, DateTimeOffset notBefore)
    : GlobeCryptoException($"Certificate {certificateId} is not valid before {notBefore:O}.")
{
    /// <summary>The certificate.</summary>
    public Guid CertificateId { get; } = certificateId;
}

/// <summary>A certificate in the chain was revoked at or before the time of verification.</summary>
public sealed class CertificateRevokedException(Guid certificateId, DateTimeOffset revokedAt)
    : GlobeCryptoException($"Certificate {certificateId} was revoked at {revokedAt:O}.")
{
    /// <summary>The revoked certificate.</summary>
    public Guid CertificateId { get; } = certificateId;
}

/// <summary>The verified certificate belongs to a different device or user than the object claims.</summary>
public sealed class SenderMismatchException(string message) : GlobeCryptoException(message);

/// <summary>A valid receipt, but for another message (or another version of it) than the one given.</summary>
public sealed class ReceiptMismatchException(Guid messageId)
    : GlobeCryptoException($"The receipt does not name message {messageId} as given: its id, channel or digest differ.")
{
    /// <summary>The message the receipt was checked against.</summary>
    public Guid MessageId { get; } = messageId;
}

/// <summary>The epoch key given is for another channel or epoch than the message.</summary>
public sealed class WrongEpochException(string message) : GlobeCryptoException(message);

/// <summary>This device is not among the recipients of an epoch-key distribution.</summary>
public sealed class NotARecipientException(Guid deviceId)
    : GlobeCryptoException($"Device {deviceId} is not a recipient of this epoch key.")
{
    /// <summary>The device that looked for its copy.</summary>
    public Guid DeviceId { get; } = deviceId;
}

/// <summary>Authenticated decryption failed: wrong key, wrong recipient, or altered ciphertext.</summary>
public sealed class DecryptionFailedException(string objectKind)
    : GlobeCryptoException($"The {objectKind} does not decrypt: wrong key or recipient, or the ciphertext was altered.")
{
    /// <summary>What failed to decrypt.</summary>
    public string ObjectKind { get; } = objectKind;
}

/// <summary>An opened epoch key does not match the commitment its creator signed.</summary>
public sealed class KeyCommitmentMismatchException(Guid channelId, long epoch)
    : GlobeCryptoException($"The key opened for channel {channelId} epoch {epoch} does not match the signed commitment.");
