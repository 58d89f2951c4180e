using GlobeSecure.Crypto;
using GlobeSecure.Server.Infrastructure;

namespace GlobeSecure.Server.Channels;

/// <summary>A message stream: empty, or the accepted message.</summary>
internal sealed record MessageState(MessageAccepted? Accepted)
{
    public static MessageState Initial { get; } = new((MessageAccepted?)null);
}

/// <summary>
/// A device sends an envelope. <see cref="Sender"/> is the calling device's certificate chain
/// verified to the network root (null when it does not verify); <see cref="Parent"/> the message
/// replied to, when the header names one and it exists. The envelope's fields were validated at
/// the edge (sizes, handling code, grade).
/// </summary>
internal sealed record SendMessage(MessageEnvelope Envelope, Guid CallerUserId, Guid CallerDeviceId, VerifiedDevice? Sender, MessageAccepted? Parent,
    DateTimeOffset At)
{
    /// <summary>The forwarded message and its channel, when the header names one and it exists.</summary>
    public (MessageAccepted Message, ChannelState Channel)? Original { get; init; }

    /// <summary>Whether the originator granted consent to forward the original into this channel.</summary>
    public bool ConsentGranted { get; init; }

    /// <summary>The documents the header names, as stored (unknown ones are missing).</summary>
    public IReadOnlyList<AttachableDocument> Documents { get; init; } = [];
}

/// <summary>
/// The rules of accepting a message: idempotent by message id; the sender is the caller, a
/// current member, sending in the current epoch, with a signature that verifies against their
/// certified device; a reply names a message of the same channel and keeps or tightens its
/// handling code. Each refusal is its own error and produces no event. Pure.
/// </summary>
internal static class MessageDecider
{
    public static string StreamId(Guid messageId) => $"channel-message-{messageId}";

    public static MessageState Evolve(MessageState state, object @event) => @event is MessageAccepted e ? new MessageState(e) : state;

    public static IReadOnlyList<object> Decide(SendMessage send, ChannelState channel, MessageState existing)
    {
        var envelope = send.Envelope;
        var header = envelope.Header;
        if (existing.Accepted is { } stored)
        {
            return stored.Digest.AsSpan().SequenceEqual(envelope.Digest())
                ? []
                : throw new AlreadyExistsException("message", header.MessageId.ToString());
        }

        if (header.SenderUserId != send.CallerUserId || header.SenderDeviceId != send.CallerDeviceId)
        {
            throw new PermissionDeniedException("Permission denied: the header's sender must be the calling user and device.");
        }

        if (!channel.Exists)
        {
            throw new NotFoundException("channel", header.ChannelId.ToString());
        }

        if (!channel.Members.ContainsKey(send.CallerUserId))
        {
            throw new PermissionDeniedException("Permission denied: not a member of this channel.");
        }

        if (header.Epoch != channel.Epoch)
        {
            throw new StaleEpochException(channel.Epoch);
        }

        CheckDocuments(send, header);
        if (header.ReplyToMessageId != Guid.Empty)
        {
            if (send.Parent is null || send.Parent.ChannelId != header.ChannelId)
            {
                throw new NotFoundException("message to reply to", header.ReplyToMessageId.ToString());
            }

            if (!HandlingPolicy.KeepsOrTightens(send.Parent.Envelope.HandlingCode, header.HandlingCode))
            {
                throw new ValidationException("envelope.header.handling_code",
                    $"a reply keeps or tightens its parent's handling code ({HandlingPolicy.Describe(send.Parent.Envelope.HandlingCode)})");
            }
        }

        if (header.ForwardOfMessageId != Guid.Empty)
        {
            CheckForward(send, header);
        }

        if (send.Sender is null)
        {
            throw new PermissionDeniedException("Permission denied: the sending device's certificate chain does not verify.");
        }

        try
        {
            envelope.VerifySignature(send.Sender);
        }
        catch (SignatureInvalidException)
        {
            throw new ValidationException("envelope.signature", "signature does not verify");
        }
        catch (GlobeCryptoException e)
        {
            throw new ValidationException("envelope", e.Message);
        }

        return [new MessageAccepted(header.ChannelId, header.MessageId, EnvelopeData.From(envelope), envelope.Digest(), send.At)];
    }

    /// <summary>A message carries only SEALED documents that its sender uploaded to its channel.</summary>
    private static void CheckDocuments(SendMessage send, MessageHeader header)
    {
        foreach (var documentId in header.DocumentIds)
        {
            var document = send.Documents.FirstOrDefault(d => d.DocumentId == documentId);
            if (document is null || document.UploaderUserId != send.CallerUserId)
            {
                // Another user's document is as good as unknown: the sender learns nothing about it.
                throw new NotFoundException("document uploaded by you", documentId.ToString());
            }

            if (document.ChannelId != header.ChannelId)
            {
                throw new WrongStateException($"Document {documentId} was uploaded to another channel; a message carries only documents uploaded to its own channel.");
            }

            if (!document.Sealed)
            {
                throw new WrongStateException($"Document {documentId} is not sealed: finish its upload and seal it (SealDocument) before sending the message.");
            }
        }
    }

    private static void CheckForward(SendMessage send, MessageHeader header)
    {
        if (send.Original is not { } original)
        {
            throw new NotFoundException("message to forward", header.ForwardOfMessageId.ToString());
        }

        if (!original.Channel.Members.ContainsKey(send.CallerUserId))
        {
            throw new PermissionDeniedException("Permission denied: you can forward only messages of channels you are a member of.");
        }

        var code = original.Message.Envelope.HandlingCode;
        if (!HandlingPolicy.KeepsOrTightens(code, header.HandlingCode))
        {
            throw new ValidationException("envelope.header.handling_code",
                $"a forward keeps or tightens the original's handling code ({HandlingPolicy.Describe(code)})");
        }

        if (ConsentDecider.NeedsConsent(code) && !send.ConsentGranted)
        {
            throw new WrongStateException(
                $"Forwarding {code} content needs the originating authority's consent for this message and this channel: request it (RequestConsent) and wait for a grant.");
        }
    }
}
