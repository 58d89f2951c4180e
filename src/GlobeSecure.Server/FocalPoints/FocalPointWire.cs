using System.Text.RegularExpressions;
using GlobeSecure.Contracts;
using GlobeSecure.Contracts.V1;
using GlobeSecure.Server.Identity;
using GlobeSecure.Server.Infrastructure;
using Timestamp = Google.Protobuf.WellKnownTypes.Timestamp;

namespace GlobeSecure.Server.FocalPoints;

/// <summary>Checks directory entries from the wire (every problem, by path) and maps between wire and stored form.</summary>
internal static partial class FocalPointWire
{
    public const int MaxNameLength = 200;
    public const int MaxEmailLength = 200;
    public const int MaxPhoneLength = 50;
    public const int MaxLanguages = 20;
    public const int MaxNotesLength = 2000;

    [GeneratedRegex(@"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
    private static partial Regex EmailPattern();

    /// <summary>An optional country filter, or a required country.</summary>
    public static string Country(Violations v, string field, string value, bool required)
    {
        if ((required || value.Length > 0) && !CountryCodes.IsAssigned(value))
        {
            v.Add(field, "must be an ISO 3166-1 alpha-2 code in upper case, e.g. KE");
        }

        return value;
    }

    public static FocalPointKind Kind(Violations v, string field, FocalPointKind kind, bool required)
    {
        if (!Enum.IsDefined(kind) || (required && kind == FocalPointKind.Unspecified))
        {
            v.Add(field, required
                ? "required: CENTRAL_AUTHORITY, ASSET_RECOVERY, GLOBE, FINANCIAL_INTELLIGENCE_UNIT or OTHER"
                : "unset (every kind) or CENTRAL_AUTHORITY, ASSET_RECOVERY, GLOBE, FINANCIAL_INTELLIGENCE_UNIT or OTHER");
        }

        return kind;
    }

    /// <summary>Practical requirements (absent: none stated).</summary>
    public static Requirements RequirementsOf(Violations v, string path, PracticalRequirements? r)
    {
        if (r is null)
        {
            return Requirements.None;
        }

        if (r.Languages.Count > MaxLanguages)
        {
            v.Add($"{path}.languages", $"at most {MaxLanguages} languages (got {r.Languages.Count})");
        }

        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < r.Languages.Count; i++)
        {
            if (!LanguageCodes.IsAssigned(r.Languages[i]))
            {
                v.Add($"{path}.languages[{i}]", "must be an ISO 639-1 code in lower case, e.g. en, fr, es");
            }
            else if (!seen.Add(r.Languages[i]))
            {
                v.Add($"{path}.languages[{i}]", $"'{r.Languages[i]}' is listed twice");
            }
        }

        if (!Enum.IsDefined(r.ElectronicRequests))
        {
            v.Add($"{path}.electronic_requests", "ACCEPTED, NOT_ACCEPTED or unset (not stated)");
        }

        var notes = v.Text($"{path}.notes", r.Notes, MaxNotesLength, required: false);
        return new Requirements([.. r.Languages], r.ElectronicRequests, notes);
    }

    /// <summary>A contact entry to add or update: its id and content, with a violation named by its path for each problem.</summary>
    public static (Guid ContactId, ContactDetails Details) Contact(Violations v, string path, ContactEntry? c)
    {
        if (c is null)
        {
            v.Add(path, "required: the contact entry");
            return (Guid.Empty, new ContactDetails(FocalPointKind.Unspecified, "", "", "", null, "", "", Requirements.None));
        }

        var id = v.Id($"{path}.contact_id", c.ContactId);
        var kind = Kind(v, $"{path}.kind", c.Kind, required: true);
        var country = Country(v, $"{path}.country", c.Country, required: true);
        var name = v.Text($"{path}.name", c.Name, MaxNameLength);
        var organisation = v.Text($"{path}.organisation", c.Organisation, MaxNameLength, required: false);
        var authorityId = v.OptionalId($"{path}.authority_id", c.AuthorityId);
        var email = v.Text($"{path}.email", c.Email, MaxEmailLength, required: false);
        if (email.Length > 0 && !EmailPattern().IsMatch(email))
        {
            v.Add($"{path}.email", "must be an email address, e.g. mla@example.org");
        }

        var phone = v.Text($"{path}.phone", c.Phone, MaxPhoneLength, required: false);
        var requirements = RequirementsOf(v, $"{path}.requirements", c.Requirements);
        return (id, new ContactDetails(kind, country, name, organisation, authorityId, email, phone, requirements));
    }

    public static PracticalRequirements ToProto(Requirements r)
    {
        var proto = new PracticalRequirements { ElectronicRequests = r.ElectronicRequests, Notes = r.Notes };
        proto.Languages.Add(r.Languages);
        return proto;
    }

    public static ContactEntry ToProto(Guid contactId, ContactDetails d, DateTimeOffset updatedAt, Guid updatedBy) => new()
    {
        ContactId = contactId.ToString(),
        Kind = d.Kind,
        Country = d.Country,
        Name = d.Name,
        Organisation = d.Organisation,
        AuthorityId = d.AuthorityId?.ToString() ?? "",
        Email = d.Email,
        Phone = d.Phone,
        Requirements = ToProto(d.Requirements),
        UpdatedAt = Timestamp.FromDateTimeOffset(updatedAt),
        UpdatedBy = updatedBy.ToString(),
    };

    public static ContactEntry ToProto(ContactRow row) => ToProto(row.ContactId, row.Details, row.UpdatedAt, row.UpdatedBy);

    public static MemberAuthorityEntry ToProto(MemberAuthorityView member, RequirementsRow? requirements)
    {
        var a = member.Authority;
        var entry = new MemberAuthorityEntry
        {
            AuthorityId = a.AuthorityId.ToString(),
            Name = a.Name,
            Country = a.Country,
            Kind = a.Kind,
            FocalPoint = new FocalPoint { Name = member.FocalName, Email = member.FocalEmail, Phone = member.FocalPhone },
        };
        if (requirements is not null)
        {
            entry.Requirements = ToProto(requirements.Requirements);
            entry.RequirementsUpdatedAt = Timestamp.FromDateTimeOffset(requirements.UpdatedAt);
            entry.RequirementsUpdatedBy = requirements.UpdatedBy.ToString();
        }

        return entry;
    }
}
