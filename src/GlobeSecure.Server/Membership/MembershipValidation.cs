using System.Text.RegularExpressions;
using GlobeSecure.Contracts;
using GlobeSecure.Contracts.V1;
using GlobeSecure.Server.Infrastructure;

namespace GlobeSecure.Server.Membership;

/// <summary>Request checks for membership rpcs: every violation of a request is reported at once, each naming its field.</summary>
internal static partial class MembershipValidation
{
    public static bool IsCountry(string code) => CountryCodes.IsAssigned(code);

    [GeneratedRegex(@"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
    private static partial Regex EmailPattern();

    public static Guid Id(List<FieldViolation> violations, string field, string value)
    {
        if (Guid.TryParse(value, out var id) && id != Guid.Empty)
        {
            return id;
        }

        violations.Add(new FieldViolation(field, string.IsNullOrEmpty(value) ? "required: a UUID" : "must be a UUID, e.g. 0192d7c4-6b1e-7c2a-9f3e-5a4b3c2d1e0f"));
        return Guid.Empty;
    }

    public static string Text(List<FieldViolation> violations, string field, string value, int max, bool required = true)
    {
        var trimmed = value.Trim();
        if (required && trimmed.Length == 0)
        {
            violations.Add(new FieldViolation(field, $"required: 1 to {max} characters"));
        }
        else if (trimmed.Length > max)
        {
            violations.Add(new FieldViolation(field, $"at most {max} characters (got {trimmed.Length})"));
        }

        return trimmed;
    }

    public static AuthorityApplied Application(ApplyRequest request, DateTimeOffset now)
    {
        var v = new List<FieldViolation>();
        var id = Id(v, "authority_id", request.AuthorityId);
        var name = Text(v, "name", request.Name, 200);
        if (!IsCountry(request.Country))
        {
            v.Add(new FieldViolation("country", "must be an ISO 3166-1 alpha-2 code in upper case, e.g. KE"));
        }

        if (request.Kind is AuthorityKind.Unspecified or AuthorityKind.NetworkSecretariat || !Enum.IsDefined(request.Kind))
        {
            v.Add(new FieldViolation("kind", "must be an authority kind other than UNSPECIFIED and NETWORK_SECRETARIAT"));
        }

        var legalBasis = Text(v, "legal_basis", request.LegalBasis, 2000);
        var focal = request.FocalPoint ?? new FocalPoint();
        var focalName = Text(v, "focal_point.name", focal.Name, 200);
        var email = Text(v, "focal_point.email", focal.Email, 200);
        if (email.Length > 0 && !EmailPattern().IsMatch(email))
        {
            v.Add(new FieldViolation("focal_point.email", "must be an email address"));
        }

        var phone = Text(v, "focal_point.phone", focal.Phone, 50, required: false);
        ThrowIfAny(v);
        return new AuthorityApplied(id, name, request.Country, request.Kind, legalBasis, focalName, email, phone.Length == 0 ? null : phone, now);
    }

    public static void ThrowIfAny(List<FieldViolation> violations)
    {
        if (violations.Count > 0)
        {
            throw new ValidationException(violations);
        }
    }
}
