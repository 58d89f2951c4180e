using System.Collections.Immutable;
using GlobeSecure.Crypto;
using GlobeSecure.Server.Infrastructure;

namespace GlobeSecure.Server.Channels;

/// <summary>The receipts of one message, by recipient device and kind.</summary>
internal sealed record ReceiptsState(ImmutableDictionary<(Guid DeviceId, ReceiptKind Kind), ReceiptData> Receipts)
{
    public static ReceiptsState Initial { get; } = new(ImmutableDictionary<(Guid, ReceiptKind), ReceiptData>.Empty);
}

/// <summary>
/// A device submits a receipt. <see cref="Recipient"/> is the calling device's verified chain
/// (null when it does not verify); <see cref="Message"/> the stored message, if it exists.
/// </summary>
internal sealed record SubmitReceipt(Receipt Receipt, Guid CallerUserId, Guid CallerDeviceId, VerifiedDevice? Recipient, MessageAccepted? Message,
    ChannelState Channel, DateTimeOffset At);

/// <summary>
/// The rules of receipts: the recipient is the caller and a current member; the receipt names a
/// stored message of the channel with its exact digest; the signature verifies. One receipt per
/// message, device and kind: the same again records nothing, a different one is ALREADY_EXISTS.
/// </summary>
internal static class ReceiptDecider
{
    public static string StreamId(Guid messageId) => $"channel-receipts-{messageId}";

    public static ReceiptsState Evolve(ReceiptsState state, object @event) => @event is ReceiptSubmitted e
        ? new ReceiptsState(state.Receipts.SetItem((e.Receipt.RecipientDeviceId, e.Receipt.Kind), e.Receipt))
        : state;

    public static IReadOnlyList<object> Decide(SubmitReceipt submit, ReceiptsState state)
    {
        var receipt = submit.Receipt;
        if (receipt.RecipientUserId != submit.CallerUserId || receipt.RecipientDeviceId != submit.CallerDeviceId)
        {
            throw new PermissionDeniedException("Permission denied: a receipt's recipient must be the calling user and device.");
        }

        if (submit.Message is null || submit.Message.ChannelId != receipt.ChannelId || !submit.Channel.Exists)
        {
            throw new NotFoundException("message", receipt.MessageId.ToString());
        }

        if (!submit.Channel.Members.ContainsKey(submit.CallerUserId))
        {
            throw new PermissionDeniedException("Permission denied: not a member of this channel.");
        }

        if (state.Receipts.TryGetValue((receipt.RecipientDeviceId, receipt.Kind), out var stored))
        {
            return stored.Signature.AsSpan().SequenceEqual(receipt.Signature)
                ? []
                : throw new AlreadyExistsException($"{receipt.Kind.ToString().ToLowerInvariant()} receipt of device {receipt.RecipientDeviceId} for message",
                    receipt.MessageId.ToString());
        }

        if (submit.Recipient is null)
        {
            throw new PermissionDeniedException("Permission denied: your device's certificate chain does not verify.");
        }

        if (!receipt.MessageDigest.AsSpan().SequenceEqual(submit.Message.Digest))
        {
            throw new ValidationException("receipt.message_digest", "is not the digest of the stored message");
        }

        try
        {
            receipt.Verify(submit.Recipient);
        }
        catch (SignatureInvalidException)
        {
            throw new ValidationException("receipt.signature", "signature does not verify");
        }

        return [new ReceiptSubmitted(receipt.ChannelId, receipt.MessageId, ReceiptData.From(receipt), submit.At)];
    }
}
