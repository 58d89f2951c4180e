using GlobeSecure.Contracts.V1;
using GlobeSecure.Server.Infrastructure;
using Google.Protobuf;
using Timestamp = Google.Protobuf.WellKnownTypes.Timestamp;

namespace GlobeSecure.Server.Identity;

/// <summary>Proto ⇄ domain for identity messages, collecting every field violation of a request.</summary>
internal sealed class Violations
{
    private readonly List<FieldViolation> _list = [];

    public void Add(string field, string description) => _list.Add(new FieldViolation(field, description));

    public Guid Id(string field, string value)
    {
        if (Guid.TryParse(value, out var id) && id != Guid.Empty)
        {
            return id;
        }

        Add(field, value.Length == 0 ? "required: a UUID" : "must be a UUID, e.g. 0192d7c4-6b1e-7c2a-9f3e-5a4b3c2d1e0f");
        return Guid.Empty;
    }

    public Guid? OptionalId(string field, string value) => value.Length == 0 ? null : Id(field, value);

    public string Text(string field, string value, int max, bool required = true)
    {
        var trimmed = value.Trim();
        if (required && trimmed.Length == 0)
        {
            Add(field, $"required: 1 to {max} characters");
        }
        else if (trimmed.Length > max)
        {
            Add(field, $"at most {max} characters (got {trimmed.Length})");
        }

        return trimmed;
    }

    /// <summary>Text that is signed: kept exactly as sent (trimming would break the signature).</summary>
    public string Raw(string field, string value, int max)
    {
        if (value.Length > max)
        {
            Add(field, $"at most {max} characters (got {value.Length})");
        }

        return value;
    }

    public byte[] Bytes(string field, ByteString value, int length)
    {
        if (value.Length != length)
        {
            Add(field, $"must be {length} bytes (got {value.Length})");
        }

        return value.ToByteArray();
    }

    public DateTimeOffset Time(string field, Timestamp? value)
    {
        if (value is null)
        {
            Add(field, "required: a time");
            return DateTimeOffset.MinValue;
        }

        return value.ToDateTimeOffset();
    }

    public Role Role(string field, Role value)
    {
        if (value == Contracts.V1.Role.Unspecified || !Enum.IsDefined(value))
        {
            Add(field, "must be a role other than UNSPECIFIED");
        }

        return value;
    }

    /// <summary>The one id a request names, or INVALID_ARGUMENT on <paramref name="field"/>.</summary>
    public static Guid RequiredId(string field, string value)
    {
        var v = new Violations();
        var id = v.Id(field, value);
        v.ThrowIfAny();
        return id;
    }

    public void ThrowIfAny()
    {
        if (_list.Count > 0)
        {
            throw new ValidationException([.. _list]);
        }
    }
}

internal static class IdentityWire
{
    public const int KeyBytes = 32;
    public const int SignatureBytes = 64;

    public static DeviceKeysData Keys(Violations v, string field, DevicePublicKeys? keys)
    {
        if (keys is null)
        {
            v.Add(field, "required: the device's public keys");
            return new DeviceKeysData(Guid.Empty, [], [], []);
        }

        return new DeviceKeysData(v.Id($"{field}.device_id", keys.DeviceId), v.Bytes($"{field}.signing_key", keys.SigningKey, KeyBytes),
            v.Bytes($"{field}.box_key", keys.BoxKey, KeyBytes), v.Bytes($"{field}.box_key_signature", keys.BoxKeySignature, SignatureBytes));
    }

    public static CertificateData Certificate(Violations v, string field, Certificate? c)
    {
        if (c is null)
        {
            v.Add(field, "required: a certificate");
            return new CertificateData(Guid.Empty, Guid.Empty, Guid.Empty, Guid.Empty, Role.Unspecified, [], [], default, default, null, [], []);
        }

        return new CertificateData(v.Id($"{field}.certificate_id", c.CertificateId), v.Id($"{field}.device_id", c.DeviceId),
            v.Id($"{field}.user_id", c.UserId), v.Id($"{field}.authority_id", c.AuthorityId), v.Role($"{field}.role", c.Role),
            v.Bytes($"{field}.signing_key", c.SigningKey, KeyBytes), v.Bytes($"{field}.box_key", c.BoxKey, KeyBytes),
            v.Time($"{field}.not_before", c.NotBefore), v.Time($"{field}.not_after", c.NotAfter),
            v.OptionalId($"{field}.issuer_device_id", c.IssuerDeviceId), v.Bytes($"{field}.issuer_signing_key", c.IssuerSigningKey, KeyBytes),
            v.Bytes($"{field}.signature", c.Signature, SignatureBytes));
    }

    public static RevocationData Revocation(Violations v, string field, Contracts.V1.Revocation? r)
    {
        if (r is null)
        {
            v.Add(field, "required: a signed revocation");
            return new RevocationData(Guid.Empty, Guid.Empty, Guid.Empty, default, "", null, [], []);
        }

        return new RevocationData(v.Id($"{field}.revocation_id", r.RevocationId), v.Id($"{field}.certificate_id", r.CertificateId),
            v.Id($"{field}.device_id", r.DeviceId), v.Time($"{field}.revoked_at", r.RevokedAt), v.Raw($"{field}.reason", r.Reason, 200),
            v.OptionalId($"{field}.issuer_device_id", r.IssuerDeviceId), v.Bytes($"{field}.issuer_signing_key", r.IssuerSigningKey, KeyBytes),
            v.Bytes($"{field}.signature", r.Signature, SignatureBytes));
    }

    public static DevicePublicKeys ToProto(DeviceKeysData k) => new()
    {
        DeviceId = k.DeviceId.ToString(),
        SigningKey = ByteString.CopyFrom(k.SigningKey),
        BoxKey = ByteString.CopyFrom(k.BoxKey),
        BoxKeySignature = ByteString.CopyFrom(k.BoxKeySignature),
    };

    public static Certificate ToProto(CertificateData c) => new()
    {
        CertificateId = c.CertificateId.ToString(),
        DeviceId = c.DeviceId.ToString(),
        UserId = c.UserId.ToString(),
        AuthorityId = c.AuthorityId.ToString(),
        Role = c.Role,
        SigningKey = ByteString.CopyFrom(c.SigningKey),
        BoxKey = ByteString.CopyFrom(c.BoxKey),
        NotBefore = Timestamp.FromDateTimeOffset(c.NotBefore),
        NotAfter = Timestamp.FromDateTimeOffset(c.NotAfter),
        IssuerDeviceId = c.IssuerDeviceId?.ToString() ?? "",
        IssuerSigningKey = ByteString.CopyFrom(c.IssuerSigningKey),
        Signature = ByteString.CopyFrom(c.Signature),
    };

    public static Contracts.V1.Revocation ToProto(RevocationData r) => new()
    {
        RevocationId = r.RevocationId.ToString(),
        CertificateId = r.CertificateId.ToString(),
        DeviceId = r.DeviceId.ToString(),
        RevokedAt = Timestamp.FromDateTimeOffset(r.RevokedAt),
        Reason = r.Reason,
        IssuerDeviceId = r.IssuerDeviceId?.ToString() ?? "",
        IssuerSigningKey = ByteString.CopyFrom(r.IssuerSigningKey),
        Signature = ByteString.CopyFrom(r.Signature),
    };

    public static Device ToProto(Guid userId, Guid authorityId, Role role, DeviceState d)
    {
        var device = new Device
        {
            DeviceId = d.DeviceId.ToString(),
            UserId = userId.ToString(),
            AuthorityId = authorityId.ToString(),
            Role = role,
            Status = d.Status,
            Keys = ToProto(d.Keys),
            Label = d.Label,
            EnrolledAt = Timestamp.FromDateTimeOffset(d.EnrolledAt),
        };
        if (d.Certificate is not null)
        {
            device.Certificate = ToProto(d.Certificate);
        }

        if (d.Revocation is not null)
        {
            device.Revocation = ToProto(d.Revocation);
        }

        return device;
    }

    public static User ToProto(UserState u) => new()
    {
        UserId = u.UserId.ToString(),
        AuthorityId = u.AuthorityId.ToString(),
        DisplayName = u.DisplayName,
        Role = u.Role,
        Status = u.Status,
        InvitedAt = Timestamp.FromDateTimeOffset(u.InvitedAt),
    };
}
