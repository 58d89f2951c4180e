using System.Globalization;
using GlobeSecure.Contracts.V1;
using GlobeSecure.Crypto;
using Google.Protobuf.WellKnownTypes;

namespace GlobeSecure.Cli;

/// <summary>How the command line names the contract's enums (lower-case, hyphenated), both ways.</summary>
internal static class Names
{
    public static readonly IReadOnlyDictionary<string, AuthorityKind> Kinds = new Dictionary<string, AuthorityKind>(StringComparer.Ordinal)
    {
        ["anti-corruption-agency"] = AuthorityKind.AntiCorruptionAgency,
        ["police"] = AuthorityKind.Police,
        ["prosecution"] = AuthorityKind.Prosecution,
        ["financial-intelligence-unit"] = AuthorityKind.FinancialIntelligenceUnit,
        ["other"] = AuthorityKind.Other,
        ["observer-organisation"] = AuthorityKind.ObserverOrganisation,
    };

    public static readonly IReadOnlyDictionary<string, AuthorityStatus> Statuses = new Dictionary<string, AuthorityStatus>(StringComparer.Ordinal)
    {
        ["pending"] = AuthorityStatus.Pending,
        ["active"] = AuthorityStatus.Active,
        ["rejected"] = AuthorityStatus.Rejected,
        ["suspended"] = AuthorityStatus.Suspended,
        ["withdrawn"] = AuthorityStatus.Withdrawn,
    };

    // network-administrator: a network administrator invites the secretariat's next administrators
    // (their devices are then certified with the root key); the server decides who may invite what.
    public static readonly IReadOnlyDictionary<string, Role> InvitableRoles = new Dictionary<string, Role>(StringComparer.Ordinal)
    {
        ["network-administrator"] = Role.NetworkAdministrator,
        ["authority-administrator"] = Role.AuthorityAdministrator,
        ["investigator"] = Role.Investigator,
        ["auditor"] = Role.Auditor,
        ["observer"] = Role.Observer,
        ["partner-tool"] = Role.PartnerTool,
    };

    public static string Of(AuthorityKind kind) => kind switch
    {
        AuthorityKind.NetworkSecretariat => "network-secretariat",
        _ => Kinds.FirstOrDefault(k => k.Value == kind).Key ?? "unspecified",
    };

    public static string Of(AuthorityStatus status) => Statuses.FirstOrDefault(s => s.Value == status).Key ?? "unspecified";

    public static string Of(Role role) => role == Role.Unspecified ? "unspecified" : role.ToDeviceRoleName();

    public static string Of(UserStatus status) => status switch
    {
        UserStatus.Invited => "invited",
        UserStatus.Active => "active",
        UserStatus.Revoked => "revoked",
        _ => "unspecified",
    };

    public static string Of(DeviceStatus status) => status switch
    {
        DeviceStatus.Pending => "pending",
        DeviceStatus.Certified => "certified",
        DeviceStatus.Revoked => "revoked",
        _ => "unspecified",
    };

    public static string Of(ConsentStatus status) => status switch
    {
        ConsentStatus.Pending => "pending",
        ConsentStatus.Granted => "granted",
        ConsentStatus.Denied => "denied",
        _ => "unspecified",
    };

    public static string Of(Timestamp? time) =>
        time is null ? "" : time.ToDateTimeOffset().ToString("yyyy-MM-dd HH:mm'Z'", CultureInfo.InvariantCulture);

    private static string ToDeviceRoleName(this Role role)
    {
        try
        {
            return GlobeSecure.Client.Wire.ToDeviceRole(role).ToWire();
        }
        catch (MalformedInputException)
        {
            return role.ToString();
        }
    }
}
