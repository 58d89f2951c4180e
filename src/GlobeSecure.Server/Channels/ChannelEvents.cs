using GlobeSecure.Crypto;

namespace GlobeSecure.Server.Channels;

// Events of the Channels feature. Signed objects (epoch-key distributions, message envelopes)
// are stored field by field so that their signatures can be checked again from the event
// alone. The server stores ciphertext and sealed keys, never a key or a plaintext.

/// <summary>A member of a channel: a user and the authority they belong to.</summary>
internal sealed record MemberData(Guid UserId, Guid AuthorityId);

internal sealed record SealedKeyData(Guid DeviceId, byte[] SealedKey);

/// <summary>An <see cref="EpochKeyDistribution"/> as stored.</summary>
internal sealed record DistributionData(Guid ChannelId, long Epoch, DateTimeOffset CreatedAt, Guid CreatorUserId, Guid CreatorDeviceId,
    byte[] KeyCommitment, IReadOnlyList<SealedKeyData> Recipients, byte[] Signature)
{
    public EpochKeyDistribution ToCrypto() => new(ChannelId, Epoch, CreatedAt, CreatorUserId, CreatorDeviceId, KeyCommitment,
        [.. Recipients.Select(r => new SealedEpochKey(r.DeviceId, r.SealedKey))], Signature);

    public static DistributionData From(EpochKeyDistribution d) => new(d.ChannelId, d.Epoch, d.CreatedAt, d.CreatorUserId, d.CreatorDeviceId,
        d.KeyCommitment, [.. d.Recipients.Select(r => new SealedKeyData(r.RecipientDeviceId, r.SealedKey))], d.Signature);
}

/// <summary>A <see cref="MessageEnvelope"/> as stored.</summary>
internal sealed record EnvelopeData(Guid ChannelId, Guid MessageId, Guid SenderUserId, Guid SenderDeviceId, long Epoch, DateTimeOffset SentAt,
    string ContentType, string HandlingCode, string EvaluationGrade, IReadOnlyList<Guid> DocumentIds, bool Spontaneous, Guid ReplyToMessageId,
    Guid ForwardOfMessageId, byte[] Nonce, byte[] Ciphertext, byte[] Signature)
{
    public MessageEnvelope ToCrypto() => new(
        new MessageHeader(ChannelId, MessageId, SenderUserId, SenderDeviceId, Epoch, SentAt, ContentType, HandlingCode, EvaluationGrade, DocumentIds,
            Spontaneous, ReplyToMessageId, ForwardOfMessageId),
        Nonce, Ciphertext, Signature);

    public static EnvelopeData From(MessageEnvelope e) => new(e.Header.ChannelId, e.Header.MessageId, e.Header.SenderUserId, e.Header.SenderDeviceId,
        e.Header.Epoch, e.Header.SentAt, e.Header.ContentType, e.Header.HandlingCode, e.Header.EvaluationGrade, e.Header.DocumentIds,
        e.Header.Spontaneous, e.Header.ReplyToMessageId, e.Header.ForwardOfMessageId, e.Nonce, e.Ciphertext, e.Signature);
}

/// <summary>A channel was created with its first members (every investigator of the creator's authority).</summary>
internal sealed record ChannelCreated(Guid ChannelId, Guid CreatedByUserId, Guid CreatedByDeviceId, byte[] EncryptedInfo, string DefaultHandlingCode,
    IReadOnlyList<MemberData> Members, DateTimeOffset CreatedAt);

internal sealed record MembersAdded(Guid ChannelId, IReadOnlyList<MemberData> Members, Guid ByUserId, DateTimeOffset AddedAt);

internal sealed record MembersRemoved(Guid ChannelId, IReadOnlyList<Guid> UserIds, Guid ByUserId, DateTimeOffset RemovedAt);

/// <summary>
/// A new epoch key, sealed by a member's device to every member device, became current; with the
/// channel's info re-sealed under it when the member's client did so (null: unchanged).
/// </summary>
internal sealed record EpochStarted(Guid ChannelId, DistributionData Distribution, Guid ByUserId, DateTimeOffset StartedAt, byte[]? EncryptedInfo = null);

/// <summary>
/// A member re-shared earlier epoch keys with another member: each distribution carries an
/// existing epoch's key, re-sealed to that member's devices and signed by the sharing device.
/// </summary>
internal sealed record HistoryShared(Guid ChannelId, Guid ForUserId, IReadOnlyList<DistributionData> Epochs, Guid ByUserId, DateTimeOffset SharedAt);

/// <summary>A <see cref="Receipt"/> as stored.</summary>
internal sealed record ReceiptData(ReceiptKind Kind, Guid ChannelId, Guid MessageId, byte[] MessageDigest, Guid RecipientUserId, Guid RecipientDeviceId,
    DateTimeOffset At, byte[] Signature)
{
    public Receipt ToCrypto() => new(Kind, ChannelId, MessageId, MessageDigest, RecipientUserId, RecipientDeviceId, At, Signature);

    public static ReceiptData From(Receipt r) => new(r.Kind, r.ChannelId, r.MessageId, r.MessageDigest, r.RecipientUserId, r.RecipientDeviceId, r.At,
        r.Signature);
}

/// <summary>A recipient device's signed receipt was stored; stream <c>channel-receipts-{message id}</c>.</summary>
internal sealed record ReceiptSubmitted(Guid ChannelId, Guid MessageId, ReceiptData Receipt, DateTimeOffset SubmittedAt);

/// <summary>Stream <c>consent-{id}</c>: a member asks the originating authority to let them forward an H1/H2 message to another channel.</summary>
internal sealed record ConsentRequested(Guid ConsentId, Guid MessageId, Guid OriginChannelId, Guid TargetChannelId, Guid OriginatorAuthorityId,
    Guid RequestedByUserId, string Reason, DateTimeOffset RequestedAt);

internal sealed record ConsentGranted(Guid ConsentId, Guid OriginChannelId, Guid ByUserId, string Note, DateTimeOffset GrantedAt);

internal sealed record ConsentDenied(Guid ConsentId, Guid OriginChannelId, Guid ByUserId, string Reason, DateTimeOffset DeniedAt);

/// <summary>A message was accepted; stream <c>channel-message-{id}</c>. <see cref="Digest"/> is <see cref="MessageEnvelope.Digest"/>.</summary>
internal sealed record MessageAccepted(Guid ChannelId, Guid MessageId, EnvelopeData Envelope, byte[] Digest, DateTimeOffset AcceptedAt);
