using GlobeSecure.Contracts.V1;
using GlobeSecure.Server.Identity;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using EpochKeyDistribution = GlobeSecure.Crypto.EpochKeyDistribution;
using MessageEnvelope = GlobeSecure.Crypto.MessageEnvelope;
using MessageHeader = GlobeSecure.Crypto.MessageHeader;

namespace GlobeSecure.Server.Channels;

/// <summary>Proto ↔ domain for channels, with every limit of channels.proto enforced here, in one place.</summary>
internal static class ChannelWire
{
    public const int MinInfoBytes = 17;
    public const int MaxInfoBytes = 4096;
    public const int MaxRecipients = 1000;
    public const int MaxPlaintextBytes = 64 * 1024;
    public const int TagBytes = 16;
    public const int NonceBytes = 24;
    public const int MaxDocuments = 100;
    public const int MaxContentTypeLength = 100;
    public const int MaxAuthorities = 50;
    public const int MaxUsers = 200;

    public static void HandlingCode(Violations v, string field, string code)
    {
        if (HandlingPolicy.Level(code, out var problem) is null)
        {
            v.Add(field, problem!);
        }
    }

    public static EpochKeyDistribution Distribution(Violations v, string field, Contracts.V1.EpochKeyDistribution? d)
    {
        if (d is null)
        {
            v.Add(field, "required: the epoch key distribution");
            return new EpochKeyDistribution(Guid.Empty, 0, default, Guid.Empty, Guid.Empty, [], [], []);
        }

        if (d.Recipients.Count is 0 or > MaxRecipients)
        {
            v.Add($"{field}.recipients", $"1 to {MaxRecipients} recipients (got {d.Recipients.Count})");
        }

        var recipients = d.Recipients.Select((r, i) => new Crypto.SealedEpochKey(v.Id($"{field}.recipients[{i}].device_id", r.DeviceId),
            v.Bytes($"{field}.recipients[{i}].sealed_key", r.SealedKey, EpochKeyDistribution.SealedKeyBytes))).ToList();
        if (d.Epoch < 1)
        {
            v.Add($"{field}.epoch", "must be 1 or more");
        }

        return new EpochKeyDistribution(v.Id($"{field}.channel_id", d.ChannelId), d.Epoch, v.Time($"{field}.created_at", d.CreatedAt),
            v.Id($"{field}.creator_user_id", d.CreatorUserId), v.Id($"{field}.creator_device_id", d.CreatorDeviceId),
            v.Bytes($"{field}.key_commitment", d.KeyCommitment, 32), recipients, v.Bytes($"{field}.signature", d.Signature, IdentityWire.SignatureBytes));
    }

    public static MessageEnvelope Envelope(Violations v, string field, Contracts.V1.MessageEnvelope? e)
    {
        var h = e?.Header;
        if (e is null || h is null)
        {
            v.Add($"{field}.header", "required: the envelope and its header");
            return new MessageEnvelope(new MessageHeader(Guid.Empty, Guid.Empty, Guid.Empty, Guid.Empty, 0, default, "", "", "", []), [], [], []);
        }

        var hf = $"{field}.header";
        var contentType = v.Raw($"{hf}.content_type", h.ContentType, MaxContentTypeLength);
        if (contentType.Length == 0)
        {
            v.Add($"{hf}.content_type", $"required: a MIME type of 1 to {MaxContentTypeLength} characters");
        }

        HandlingCode(v, $"{hf}.handling_code", h.HandlingCode);
        if (Grading.Check(h.EvaluationGrade) is { } gradeProblem)
        {
            v.Add($"{hf}.evaluation_grade", gradeProblem);
        }

        if (h.DocumentIds.Count > MaxDocuments)
        {
            v.Add($"{hf}.document_ids", $"at most {MaxDocuments} (got {h.DocumentIds.Count})");
        }

        if (h.Epoch < 1)
        {
            v.Add($"{hf}.epoch", "must be 1 or more");
        }

        if (e.Ciphertext.Length < TagBytes || e.Ciphertext.Length > MaxPlaintextBytes + TagBytes)
        {
            v.Add($"{field}.ciphertext", $"{TagBytes} to {MaxPlaintextBytes + TagBytes} bytes (got {e.Ciphertext.Length})");
        }

        var header = new MessageHeader(v.Id($"{hf}.channel_id", h.ChannelId), v.Id($"{hf}.message_id", h.MessageId),
            v.Id($"{hf}.sender_user_id", h.SenderUserId), v.Id($"{hf}.sender_device_id", h.SenderDeviceId), h.Epoch,
            v.Time($"{hf}.sent_at", h.SentAt), contentType, h.HandlingCode, h.EvaluationGrade,
            [.. h.DocumentIds.Take(MaxDocuments).Select((d, i) => v.Id($"{hf}.document_ids[{i}]", d))], h.Spontaneous,
            v.OptionalId($"{hf}.reply_to_message_id", h.ReplyToMessageId) ?? Guid.Empty,
            v.OptionalId($"{hf}.forward_of_message_id", h.ForwardOfMessageId) ?? Guid.Empty);
        return new MessageEnvelope(header, v.Bytes($"{field}.nonce", e.Nonce, NonceBytes), e.Ciphertext.ToByteArray(),
            v.Bytes($"{field}.signature", e.Signature, IdentityWire.SignatureBytes));
    }

    public static Crypto.Receipt Receipt(Violations v, string field, Contracts.V1.Receipt? r)
    {
        if (r is null)
        {
            v.Add(field, "required: the signed receipt");
            return new Crypto.Receipt(Crypto.ReceiptKind.Delivered, Guid.Empty, Guid.Empty, [], Guid.Empty, Guid.Empty, default, []);
        }

        var kind = r.Kind switch
        {
            Contracts.V1.ReceiptKind.Delivered => Crypto.ReceiptKind.Delivered,
            Contracts.V1.ReceiptKind.Read => Crypto.ReceiptKind.Read,
            _ => Crypto.ReceiptKind.Delivered,
        };
        if (r.Kind is not (Contracts.V1.ReceiptKind.Delivered or Contracts.V1.ReceiptKind.Read))
        {
            v.Add($"{field}.kind", "must be DELIVERED or READ");
        }

        return new Crypto.Receipt(kind, v.Id($"{field}.channel_id", r.ChannelId), v.Id($"{field}.message_id", r.MessageId),
            v.Bytes($"{field}.message_digest", r.MessageDigest, 32), v.Id($"{field}.recipient_user_id", r.RecipientUserId),
            v.Id($"{field}.recipient_device_id", r.RecipientDeviceId), v.Time($"{field}.at", r.At),
            v.Bytes($"{field}.signature", r.Signature, IdentityWire.SignatureBytes));
    }

    public static Contracts.V1.Receipt ToProto(ReceiptData r) => new()
    {
        Kind = r.Kind == Crypto.ReceiptKind.Read ? Contracts.V1.ReceiptKind.Read : Contracts.V1.ReceiptKind.Delivered,
        ChannelId = r.ChannelId.ToString(),
        MessageId = r.MessageId.ToString(),
        MessageDigest = ByteString.CopyFrom(r.MessageDigest),
        RecipientUserId = r.RecipientUserId.ToString(),
        RecipientDeviceId = r.RecipientDeviceId.ToString(),
        At = Timestamp.FromDateTimeOffset(r.At),
        Signature = ByteString.CopyFrom(r.Signature),
    };

    public static IReadOnlyList<Guid> Ids(Violations v, string field, IReadOnlyList<string> ids, int max)
    {
        if (ids.Count > max)
        {
            v.Add(field, $"at most {max} (got {ids.Count})");
        }

        return [.. ids.Take(max).Select((id, i) => v.Id($"{field}[{i}]", id)).Distinct()];
    }

    public static Contracts.V1.EpochKeyDistribution ToProto(DistributionData d)
    {
        var proto = new Contracts.V1.EpochKeyDistribution
        {
            ChannelId = d.ChannelId.ToString(),
            Epoch = d.Epoch,
            CreatedAt = Timestamp.FromDateTimeOffset(d.CreatedAt),
            CreatorUserId = d.CreatorUserId.ToString(),
            CreatorDeviceId = d.CreatorDeviceId.ToString(),
            KeyCommitment = ByteString.CopyFrom(d.KeyCommitment),
            Signature = ByteString.CopyFrom(d.Signature),
        };
        proto.Recipients.AddRange(d.Recipients.Select(r => new Contracts.V1.SealedEpochKey { DeviceId = r.DeviceId.ToString(), SealedKey = ByteString.CopyFrom(r.SealedKey) }));
        return proto;
    }

    public static Contracts.V1.MessageEnvelope ToProto(EnvelopeData e)
    {
        var header = new Contracts.V1.MessageHeader
        {
            ChannelId = e.ChannelId.ToString(),
            MessageId = e.MessageId.ToString(),
            SenderUserId = e.SenderUserId.ToString(),
            SenderDeviceId = e.SenderDeviceId.ToString(),
            Epoch = e.Epoch,
            SentAt = Timestamp.FromDateTimeOffset(e.SentAt),
            ContentType = e.ContentType,
            HandlingCode = e.HandlingCode,
            EvaluationGrade = e.EvaluationGrade,
            Spontaneous = e.Spontaneous,
            ReplyToMessageId = e.ReplyToMessageId == Guid.Empty ? "" : e.ReplyToMessageId.ToString(),
            ForwardOfMessageId = e.ForwardOfMessageId == Guid.Empty ? "" : e.ForwardOfMessageId.ToString(),
        };
        header.DocumentIds.AddRange(e.DocumentIds.Select(d => d.ToString()));
        return new Contracts.V1.MessageEnvelope
        {
            Header = header,
            Nonce = ByteString.CopyFrom(e.Nonce),
            Ciphertext = ByteString.CopyFrom(e.Ciphertext),
            Signature = ByteString.CopyFrom(e.Signature),
        };
    }

    public static StoredMessage ToProto(MessageRow m) => new()
    {
        Envelope = ToProto(m.Envelope),
        Position = m.Position,
        AcceptedAt = Timestamp.FromDateTimeOffset(m.AcceptedAt),
    };

    /// <summary>
    /// The fields every epoch-starting request shares (channel, next epoch, re-sealed info) and,
    /// for a membership change (<paramref name="verb"/> "add" or "remove"), its authorities and
    /// users, at least one of them; every violation collected, then thrown.
    /// </summary>
    public static EpochChange EpochChange(string channelId, Contracts.V1.EpochKeyDistribution? nextEpoch, ByteString encryptedInfo,
        string? verb = null, IReadOnlyList<string>? authorityIds = null, IReadOnlyList<string>? userIds = null)
    {
        var v = new Violations();
        var id = v.Id("channel_id", channelId);
        var authorities = Ids(v, "authority_ids", authorityIds ?? [], MaxAuthorities);
        var users = Ids(v, "user_ids", userIds ?? [], MaxUsers);
        if (verb is not null && (authorityIds?.Count ?? 0) == 0 && (userIds?.Count ?? 0) == 0)
        {
            v.Add("user_ids", $"name at least one authority or user to {verb}");
        }

        var distribution = Distribution(v, "next_epoch", nextEpoch);
        var info = ResealedInfo(v, encryptedInfo);
        v.ThrowIfAny();
        return new EpochChange(id, authorities, users, distribution, info);
    }

    /// <summary>The optional re-sealed channel info of an epoch-starting request: null when empty, else 17 to 4096 bytes.</summary>
    public static byte[]? ResealedInfo(Violations v, ByteString info)
    {
        if (info.Length == 0)
        {
            return null;
        }

        if (info.Length is < MinInfoBytes or > MaxInfoBytes)
        {
            v.Add("encrypted_info", $"empty, or {MinInfoBytes} to {MaxInfoBytes} bytes: nonce and ciphertext (got {info.Length})");
        }

        return info.ToByteArray();
    }

    public static Channel ToProto(ChannelRow c, bool rotationRequired)
    {
        var proto = new Channel
        {
            ChannelId = c.ChannelId.ToString(),
            CreatedAt = Timestamp.FromDateTimeOffset(c.CreatedAt),
            CreatedByUserId = c.CreatedByUserId.ToString(),
            EncryptedInfo = ByteString.CopyFrom(c.EncryptedInfo),
            DefaultHandlingCode = c.DefaultHandlingCode,
            CurrentEpoch = c.CurrentEpoch,
            RotationRequired = rotationRequired,
            InfoEpoch = c.InfoEpoch,
        };
        proto.Members.AddRange(c.Members.Select(Member));
        proto.AuthorityIds.AddRange(c.Members.Select(m => m.AuthorityId).Distinct().Order().Select(a => a.ToString()));
        return proto;
    }

    public static ChannelMember Member(MemberData m) => new() { UserId = m.UserId.ToString(), AuthorityId = m.AuthorityId.ToString() };
}

/// <summary>A validated epoch-starting request (<see cref="ChannelWire.EpochChange"/>).</summary>
internal sealed record EpochChange(Guid ChannelId, IReadOnlyList<Guid> AuthorityIds, IReadOnlyList<Guid> UserIds, EpochKeyDistribution Distribution,
    byte[]? EncryptedInfo);
