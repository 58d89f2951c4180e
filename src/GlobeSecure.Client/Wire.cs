using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using GlobeSecure.Crypto;
using V1 = GlobeSecure.Contracts.V1;

namespace GlobeSecure.Client;

/// <summary>
/// Conversions between the wire messages (GlobeSecure.Contracts.V1) and the signed objects of
/// GlobeSecure.Crypto. Signatures cover the canonical bytes of the crypto objects, never these
/// protobuf encodings, so a conversion that loses or changes a field makes a signature fail
/// rather than pass.
/// </summary>
public static class Wire
{
    /// <summary>The proto role of a certificate role.</summary>
    public static V1.Role ToProto(this DeviceRole role) => role switch
    {
        DeviceRole.NetworkAdministrator => V1.Role.NetworkAdministrator,
        DeviceRole.AuthorityAdministrator => V1.Role.AuthorityAdministrator,
        DeviceRole.Investigator => V1.Role.Investigator,
        DeviceRole.Auditor => V1.Role.Auditor,
        DeviceRole.Observer => V1.Role.Observer,
        DeviceRole.PartnerTool => V1.Role.PartnerTool,
        _ => throw new MalformedInputException($"Unknown device role {(int)role}."),
    };

    /// <summary>The certificate role of a proto role; throws <see cref="MalformedInputException"/> for UNSPECIFIED or unknown values.</summary>
    public static DeviceRole ToDeviceRole(this V1.Role role) => role switch
    {
        V1.Role.NetworkAdministrator => DeviceRole.NetworkAdministrator,
        V1.Role.AuthorityAdministrator => DeviceRole.AuthorityAdministrator,
        V1.Role.Investigator => DeviceRole.Investigator,
        V1.Role.Auditor => DeviceRole.Auditor,
        V1.Role.Observer => DeviceRole.Observer,
        V1.Role.PartnerTool => DeviceRole.PartnerTool,
        _ => throw new MalformedInputException($"The role {role} is not a device role."),
    };

    /// <summary>A device's published keys as sent on the wire.</summary>
    public static V1.DevicePublicKeys ToProto(this PublicDeviceKeys keys)
    {
        ArgumentNullException.ThrowIfNull(keys);
        return new V1.DevicePublicKeys
        {
            DeviceId = keys.DeviceId.ToString(),
            SigningKey = ByteString.CopyFrom(keys.SigningKey.Span),
            BoxKey = ByteString.CopyFrom(keys.BoxKey.Span),
            BoxKeySignature = ByteString.CopyFrom(keys.BoxKeySignature),
        };
    }

    /// <summary>A device's published keys from the wire; the box-key signature is not checked here.</summary>
    public static PublicDeviceKeys FromProto(V1.DevicePublicKeys keys)
    {
        ArgumentNullException.ThrowIfNull(keys);
        return new PublicDeviceKeys(ParseId(keys.DeviceId, "device id"), new SigningPublicKey(keys.SigningKey.Span),
            new BoxPublicKey(keys.BoxKey.Span), keys.BoxKeySignature.ToByteArray());
    }

    /// <summary>A certificate as sent on the wire.</summary>
    public static V1.Certificate ToProto(this DeviceCertificate certificate)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        return new V1.Certificate
        {
            CertificateId = certificate.CertificateId.ToString(),
            DeviceId = certificate.DeviceId.ToString(),
            UserId = certificate.UserId.ToString(),
            AuthorityId = certificate.AuthorityId.ToString(),
            Role = certificate.Role.ToProto(),
            SigningKey = ByteString.CopyFrom(certificate.SigningKey.Span),
            BoxKey = ByteString.CopyFrom(certificate.BoxKey.Span),
            NotBefore = Timestamp.FromDateTimeOffset(certificate.NotBefore),
            NotAfter = Timestamp.FromDateTimeOffset(certificate.NotAfter),
            IssuerDeviceId = certificate.IssuerDeviceId?.ToString() ?? "",
            IssuerSigningKey = ByteString.CopyFrom(certificate.IssuerSigningKey.Span),
            Signature = ByteString.CopyFrom(certificate.Signature),
        };
    }

    /// <summary>A certificate from the wire; its signature is not checked here.</summary>
    public static DeviceCertificate FromProto(V1.Certificate certificate)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        return new DeviceCertificate(
            ParseId(certificate.CertificateId, "certificate id"),
            ParseId(certificate.DeviceId, "device id"),
            ParseId(certificate.UserId, "user id"),
            ParseId(certificate.AuthorityId, "authority id"),
            certificate.Role.ToDeviceRole(),
            new SigningPublicKey(certificate.SigningKey.Span),
            new BoxPublicKey(certificate.BoxKey.Span),
            ToTime(certificate.NotBefore, "not before"),
            ToTime(certificate.NotAfter, "not after"),
            certificate.IssuerDeviceId.Length == 0 ? null : ParseId(certificate.IssuerDeviceId, "issuer device id"),
            new SigningPublicKey(certificate.IssuerSigningKey.Span),
            certificate.Signature.ToByteArray());
    }

    /// <summary>A revocation as sent on the wire.</summary>
    public static V1.Revocation ToProto(this Revocation revocation)
    {
        ArgumentNullException.ThrowIfNull(revocation);
        return new V1.Revocation
        {
            RevocationId = revocation.RevocationId.ToString(),
            CertificateId = revocation.CertificateId.ToString(),
            DeviceId = revocation.DeviceId.ToString(),
            RevokedAt = Timestamp.FromDateTimeOffset(revocation.RevokedAt),
            Reason = revocation.Reason,
            IssuerDeviceId = revocation.IssuerDeviceId?.ToString() ?? "",
            IssuerSigningKey = ByteString.CopyFrom(revocation.IssuerSigningKey.Span),
            Signature = ByteString.CopyFrom(revocation.Signature),
        };
    }

    /// <summary>A revocation from the wire; its signature is not checked here.</summary>
    public static Revocation FromProto(V1.Revocation revocation)
    {
        ArgumentNullException.ThrowIfNull(revocation);
        return new Revocation(
            ParseId(revocation.RevocationId, "revocation id"),
            ParseId(revocation.CertificateId, "certificate id"),
            ParseId(revocation.DeviceId, "device id"),
            ToTime(revocation.RevokedAt, "revoked at"),
            revocation.Reason,
            revocation.IssuerDeviceId.Length == 0 ? null : ParseId(revocation.IssuerDeviceId, "issuer device id"),
            new SigningPublicKey(revocation.IssuerSigningKey.Span),
            revocation.Signature.ToByteArray());
    }

    /// <summary>A directory-log entry as the log verifier sees it.</summary>
    public static DirectoryEntry FromProto(V1.DirectoryEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        var link = entry.Link.ToByteArray();
        return entry.EntryCase switch
        {
            V1.DirectoryEntry.EntryOneofCase.RootKey =>
                DirectoryEntry.ForRootKey(entry.Position, new SigningPublicKey(entry.RootKey.Span), link),
            V1.DirectoryEntry.EntryOneofCase.Certificate => DirectoryEntry.For(entry.Position, FromProto(entry.Certificate), link),
            V1.DirectoryEntry.EntryOneofCase.Revocation => DirectoryEntry.For(entry.Position, FromProto(entry.Revocation), link),
            _ => throw new MalformedInputException($"Directory log entry {entry.Position} publishes nothing."),
        };
    }

    /// <summary>An epoch-key distribution as sent on the wire.</summary>
    public static V1.EpochKeyDistribution ToProto(this EpochKeyDistribution distribution)
    {
        ArgumentNullException.ThrowIfNull(distribution);
        var proto = new V1.EpochKeyDistribution
        {
            ChannelId = distribution.ChannelId.ToString(),
            Epoch = distribution.Epoch,
            CreatedAt = Timestamp.FromDateTimeOffset(distribution.CreatedAt),
            CreatorUserId = distribution.CreatorUserId.ToString(),
            CreatorDeviceId = distribution.CreatorDeviceId.ToString(),
            KeyCommitment = ByteString.CopyFrom(distribution.KeyCommitment),
            Signature = ByteString.CopyFrom(distribution.Signature),
        };
        proto.Recipients.AddRange(distribution.Recipients.Select(r =>
            new V1.SealedEpochKey { DeviceId = r.RecipientDeviceId.ToString(), SealedKey = ByteString.CopyFrom(r.SealedKey) }));
        return proto;
    }

    /// <summary>An epoch-key distribution from the wire; verify it (<see cref="EpochKeyDistribution.Open"/>) before use.</summary>
    public static EpochKeyDistribution FromProto(V1.EpochKeyDistribution distribution)
    {
        ArgumentNullException.ThrowIfNull(distribution);
        return new EpochKeyDistribution(
            ParseId(distribution.ChannelId, "channel id"),
            distribution.Epoch,
            ToTime(distribution.CreatedAt, "created at"),
            ParseId(distribution.CreatorUserId, "creator user id"),
            ParseId(distribution.CreatorDeviceId, "creator device id"),
            distribution.KeyCommitment.ToByteArray(),
            [.. distribution.Recipients.Select(r => new SealedEpochKey(ParseId(r.DeviceId, "recipient device id"), r.SealedKey.ToByteArray()))],
            distribution.Signature.ToByteArray());
    }

    /// <summary>A message envelope as sent on the wire.</summary>
    public static V1.MessageEnvelope ToProto(this MessageEnvelope envelope)
    {
        ArgumentNullException.ThrowIfNull(envelope);
        var h = envelope.Header;
        var header = new V1.MessageHeader
        {
            ChannelId = h.ChannelId.ToString(),
            MessageId = h.MessageId.ToString(),
            SenderUserId = h.SenderUserId.ToString(),
            SenderDeviceId = h.SenderDeviceId.ToString(),
            Epoch = h.Epoch,
            SentAt = Timestamp.FromDateTimeOffset(h.SentAt),
            ContentType = h.ContentType,
            HandlingCode = h.HandlingCode,
            EvaluationGrade = h.EvaluationGrade,
            Spontaneous = h.Spontaneous,
            ReplyToMessageId = h.ReplyToMessageId == Guid.Empty ? "" : h.ReplyToMessageId.ToString(),
            ForwardOfMessageId = h.ForwardOfMessageId == Guid.Empty ? "" : h.ForwardOfMessageId.ToString(),
        };
        header.DocumentIds.AddRange(h.DocumentIds.Select(d => d.ToString()));
        return new V1.MessageEnvelope
        {
            Header = header,
            Nonce = ByteString.CopyFrom(envelope.Nonce),
            Ciphertext = ByteString.CopyFrom(envelope.Ciphertext),
            Signature = ByteString.CopyFrom(envelope.Signature),
        };
    }

    /// <summary>A message envelope from the wire; its signature is checked when it is opened.</summary>
    public static MessageEnvelope FromProto(V1.MessageEnvelope envelope)
    {
        ArgumentNullException.ThrowIfNull(envelope);
        var h = envelope.Header ?? throw new MalformedInputException("The message has no header.");
        return new MessageEnvelope(
            new MessageHeader(ParseId(h.ChannelId, "channel id"), ParseId(h.MessageId, "message id"), ParseId(h.SenderUserId, "sender user id"),
                ParseId(h.SenderDeviceId, "sender device id"), h.Epoch, ToTime(h.SentAt, "sent at"), h.ContentType, h.HandlingCode,
                h.EvaluationGrade, [.. h.DocumentIds.Select(d => ParseId(d, "document id"))], h.Spontaneous,
                h.ReplyToMessageId.Length == 0 ? Guid.Empty : ParseId(h.ReplyToMessageId, "reply-to message id"),
                h.ForwardOfMessageId.Length == 0 ? Guid.Empty : ParseId(h.ForwardOfMessageId, "forwarded message id")),
            envelope.Nonce.ToByteArray(),
            envelope.Ciphertext.ToByteArray(),
            envelope.Signature.ToByteArray());
    }

    /// <summary>A receipt as sent on the wire.</summary>
    public static V1.Receipt ToProto(this Receipt receipt)
    {
        ArgumentNullException.ThrowIfNull(receipt);
        return new V1.Receipt
        {
            Kind = receipt.Kind == ReceiptKind.Read ? V1.ReceiptKind.Read : V1.ReceiptKind.Delivered,
            ChannelId = receipt.ChannelId.ToString(),
            MessageId = receipt.MessageId.ToString(),
            MessageDigest = ByteString.CopyFrom(receipt.MessageDigest),
            RecipientUserId = receipt.RecipientUserId.ToString(),
            RecipientDeviceId = receipt.RecipientDeviceId.ToString(),
            At = Timestamp.FromDateTimeOffset(receipt.At),
            Signature = ByteString.CopyFrom(receipt.Signature),
        };
    }

    /// <summary>A receipt from the wire; verify it (<see cref="Receipt.Verify"/>) with the recipient's chain.</summary>
    public static Receipt FromProto(V1.Receipt receipt)
    {
        ArgumentNullException.ThrowIfNull(receipt);
        return new Receipt(
            receipt.Kind switch
            {
                V1.ReceiptKind.Delivered => ReceiptKind.Delivered,
                V1.ReceiptKind.Read => ReceiptKind.Read,
                _ => throw new MalformedInputException($"Unknown receipt kind {receipt.Kind}."),
            },
            ParseId(receipt.ChannelId, "channel id"),
            ParseId(receipt.MessageId, "message id"),
            receipt.MessageDigest.ToByteArray(),
            ParseId(receipt.RecipientUserId, "recipient user id"),
            ParseId(receipt.RecipientDeviceId, "recipient device id"),
            ToTime(receipt.At, "receipt"),
            receipt.Signature.ToByteArray());
    }

    /// <summary>A document as a message's body carries it.</summary>
    public static V1.AttachedDocument ToProto(this DocumentAttachment attachment)
    {
        ArgumentNullException.ThrowIfNull(attachment);
        return new V1.AttachedDocument
        {
            DocumentId = attachment.DocumentId.ToString(),
            FileKey = ByteString.CopyFrom(attachment.FileKey),
            PlaintextHash = ByteString.CopyFrom(attachment.PlaintextHash),
            CiphertextHash = ByteString.CopyFrom(attachment.CiphertextHash),
            PlaintextLength = attachment.PlaintextLength,
            FileName = attachment.FileName,
            MediaType = attachment.MediaType,
        };
    }

    /// <summary>A document from a message's body; throws <see cref="MalformedInputException"/> for a key or hash of the wrong size, or a name with directories.</summary>
    public static DocumentAttachment FromProto(V1.AttachedDocument document)
    {
        ArgumentNullException.ThrowIfNull(document);
        if (document.FileKey.Length != 32 || document.PlaintextHash.Length != Blake2b256.HashBytes ||
            document.CiphertextHash.Length != Blake2b256.HashBytes || document.PlaintextLength < 0)
        {
            throw new MalformedInputException($"The attachment of document '{Truncate(document.DocumentId)}' has a key, hash or length of the wrong size.");
        }

        var name = document.FileName;
        if (name.Length is 0 or > 255 || name.IndexOfAny(['/', '\\']) >= 0 || name is "." or ".." || name.Any(char.IsControl))
        {
            throw new MalformedInputException($"The attachment of document '{Truncate(document.DocumentId)}' has a file name that is not a plain base name.");
        }

        return new DocumentAttachment(ParseId(document.DocumentId, "document id"), document.FileKey.ToByteArray(), document.PlaintextHash.ToByteArray(),
            document.CiphertextHash.ToByteArray(), document.PlaintextLength, name,
            document.MediaType.Length == 0 ? "application/octet-stream" : document.MediaType);
    }

    /// <summary>A UUID from the wire; throws <see cref="MalformedInputException"/> naming <paramref name="what"/> otherwise.</summary>
    public static Guid ParseId(string text, string what) =>
        Guid.TryParse(text, out var id) ? id : throw new MalformedInputException($"The {what} '{Truncate(text)}' is not a UUID.");

    // Timestamp's own range (0001-01-01 to 9999-12-31, nanos 0..999,999,999): outside it
    // ToDateTimeOffset throws InvalidOperationException, which is no documented refusal of a wire object.
    private const long MinTimestampSeconds = -62_135_596_800;
    private const long MaxTimestampSeconds = 253_402_300_799;

    private static DateTimeOffset ToTime(Timestamp? timestamp, string what) =>
        timestamp is null ? throw new MalformedInputException($"The {what} time is missing.")
        : timestamp.Seconds is < MinTimestampSeconds or > MaxTimestampSeconds || timestamp.Nanos is < 0 or > 999_999_999
            ? throw new MalformedInputException($"The {what} time is out of range.")
            : timestamp.ToDateTimeOffset();

    private static string Truncate(string text) => text.Length <= 40 ? text : text[..40] + "…";
}
