using GlobeSecure.Contracts.V1;
using GlobeSecure.Server.Documents;
using GlobeSecure.Server.Identity;
using GlobeSecure.Server.Infrastructure;
using GlobeSecure.Server.Requests;

namespace GlobeSecure.Server.Audit;

/// <summary>
/// The audit categories of the CJIS Security Policy (5.4.1.1, "Events"), as flags: one action
/// may be several (revoking a device deletes a key and changes what its user may do).
/// </summary>
[Flags]
internal enum AuditCategories
{
    None = 0,
    Authentication = 1,
    Read = 2,
    Create = 4,
    Change = 8,
    Delete = 16,
    PermissionChange = 32,
    PrivilegedAction = 64,
    AuditAccess = 128,
}

/// <summary>What kind of thing an action touches, in the CJIS list's terms.</summary>
internal enum AuditSubject
{
    Sessions,
    Network,
    /// <summary>Authorities' membership of the network, regional groups, users and their roles, channel members.</summary>
    Memberships,
    /// <summary>Device keys and certificates, the key directory, channel epoch keys, the server's keys.</summary>
    Keys,
    Channels,
    /// <summary>Messages and what hangs on them: receipts, consents for onward use.</summary>
    Messages,
    Documents,
    Requests,
    Templates,
    /// <summary>The directory of focal points and authorities' requirements.</summary>
    FocalPoints,
    AuditTrail,
    /// <summary>The read models as a whole: the projections' tables, rebuilt from the event log.</summary>
    ReadModels,
}

internal enum AuditCallerKind
{
    /// <summary>No session needed (the rpc checks a code or a signature, or is public).</summary>
    Anyone,
    /// <summary>Any authenticated caller (the rpc may check membership further).</summary>
    AnySession,
    /// <summary>A session of one of the listed roles.</summary>
    Roles,
    /// <summary>Not an rpc: the server itself (a background pass or a local command).</summary>
    Server,
}

/// <summary>Who may perform an action; <paramref name="SecretariatOnly"/>: only users of the network secretariat (e.g. network auditors).</summary>
internal sealed record AuditCallers(AuditCallerKind Kind, IReadOnlyList<Role> Roles, bool SecretariatOnly = false)
{
    public static AuditCallers Anyone { get; } = new(AuditCallerKind.Anyone, []);

    public static AuditCallers AnySession { get; } = new(AuditCallerKind.AnySession, []);

    public static AuditCallers Server { get; } = new(AuditCallerKind.Server, []);

    public static AuditCallers Only(params Role[] roles) => new(AuditCallerKind.Roles, roles);

    public static AuditCallers OnlyOfSecretariat(params Role[] roles) => new(AuditCallerKind.Roles, roles, SecretariatOnly: true);

    public bool Allows(Role role, bool ofSecretariat) =>
        Kind == AuditCallerKind.AnySession || (Kind == AuditCallerKind.Roles && Roles.Contains(role) && (ofSecretariat || !SecretariatOnly));
}

/// <summary>One audited action: its name, CJIS categories, subject, who may do it and what its entries' target is.</summary>
internal sealed record AuditCatalogEntry(string Action, AuditCategories Categories, AuditSubject Subject, AuditCallers Callers, string Target);

/// <summary>
/// Every action that records audit entries (docs/audit.md, "Coverage"): each rpc of every gRPC
/// service by its full method name, and the server's own passes by theirs. AuditCoverageTests
/// hold it against the generated descriptors (no rpc may be missing, none may be invented),
/// call every rpc to see its entries, and check the table in docs/audit.md against it.
/// </summary>
internal static class AuditCatalog
{
    private const AuditCategories Read = AuditCategories.Read;
    private const AuditCategories Create = AuditCategories.Create;
    private const AuditCategories Change = AuditCategories.Change;
    private const AuditCategories Delete = AuditCategories.Delete;
    private const AuditCategories Permission = AuditCategories.PermissionChange;
    private const AuditCategories Privileged = AuditCategories.PrivilegedAction;

    private static readonly AuditCallers Administrators = AuditCallers.Only(Role.AuthorityAdministrator, Role.NetworkAdministrator);
    private static readonly AuditCallers NetworkAdministrators = AuditCallers.Only(Role.NetworkAdministrator);
    private static readonly AuditCallers RequestParties = AuditCallers.Only(Role.Investigator, Role.AuthorityAdministrator);

    private static AuditCatalogEntry Rpc(string service, string method, AuditCategories categories, AuditSubject subject, AuditCallers callers,
        string target) =>
        new($"/globesecure.v1.{service}/{method}", categories, subject, callers, target);

    /// <summary>The rpcs, by service, in the order of their protos.</summary>
    public static IReadOnlyList<AuditCatalogEntry> Rpcs { get; } =
    [
        Rpc("NetworkService", "Bootstrap", Privileged | Create, AuditSubject.Network, AuditCallers.Anyone, "secretariat authority id, then first administrator's user id"),
        Rpc("NetworkService", "GetNetwork", Read, AuditSubject.Network, AuditCallers.Anyone, "—"),

        Rpc("AuthService", "BeginAuthentication", AuditCategories.Authentication, AuditSubject.Sessions, AuditCallers.Anyone, "device id"),
        Rpc("AuthService", "CompleteAuthentication", AuditCategories.Authentication | Create, AuditSubject.Sessions, AuditCallers.Anyone, "device id"),
        Rpc("AuthService", "SignOut", AuditCategories.Authentication | Delete, AuditSubject.Sessions, AuditCallers.AnySession, "caller's device id"),
        Rpc("AuthService", "WhoAmI", Read, AuditSubject.Sessions, AuditCallers.AnySession, "caller's device id"),

        Rpc("DeviceService", "InviteUser", Create | Permission, AuditSubject.Memberships, Administrators, "user id (authority id when refused)"),
        Rpc("DeviceService", "ListUsers", Read, AuditSubject.Memberships, Administrators, "authority id"),
        Rpc("DeviceService", "RevokeUser", Delete | Permission, AuditSubject.Memberships, Administrators, "user id"),
        Rpc("DeviceService", "EnrolDevice", Create, AuditSubject.Keys, AuditCallers.Anyone, "device id"),
        Rpc("DeviceService", "ListDevices", Read, AuditSubject.Keys, Administrators, "authority id or user id"),
        Rpc("DeviceService", "CertifyDevice", Change | Permission, AuditSubject.Keys, Administrators, "device id"),
        Rpc("DeviceService", "RevokeDevice", Delete | Permission, AuditSubject.Keys, AuditCallers.AnySession, "device id"),

        Rpc("DirectoryService", "FindDevices", Read, AuditSubject.Keys, AuditCallers.AnySession, "user id or authority id"),
        Rpc("DirectoryService", "ReadLog", Read, AuditSubject.Keys, AuditCallers.AnySession, "—"),
        Rpc("DirectoryService", "GetServerKeys", Read, AuditSubject.Keys, AuditCallers.AnySession, "—"),

        Rpc("MembershipService", "Apply", Create, AuditSubject.Memberships, AuditCallers.Anyone, "authority id"),
        Rpc("MembershipService", "Approve", Privileged | Permission, AuditSubject.Memberships, NetworkAdministrators, "authority id"),
        Rpc("MembershipService", "Reject", Privileged | Change, AuditSubject.Memberships, NetworkAdministrators, "authority id"),
        Rpc("MembershipService", "Suspend", Privileged | Permission, AuditSubject.Memberships, NetworkAdministrators, "authority id"),
        Rpc("MembershipService", "Reinstate", Privileged | Permission, AuditSubject.Memberships, NetworkAdministrators, "authority id"),
        Rpc("MembershipService", "Withdraw", Privileged | Delete, AuditSubject.Memberships, NetworkAdministrators, "authority id"),
        Rpc("MembershipService", "IssueAdministratorCode", Privileged | Permission, AuditSubject.Memberships, NetworkAdministrators, "authority id"),
        Rpc("MembershipService", "ListAuthorities", Read, AuditSubject.Memberships, AuditCallers.AnySession, "—"),
        Rpc("MembershipService", "GetAuthority", Read, AuditSubject.Memberships, AuditCallers.AnySession, "authority id"),
        Rpc("MembershipService", "CreateGroup", Privileged | Create, AuditSubject.Memberships, NetworkAdministrators, "group id"),
        Rpc("MembershipService", "AddToGroup", Privileged | Change, AuditSubject.Memberships, NetworkAdministrators, "group id"),
        Rpc("MembershipService", "RemoveFromGroup", Privileged | Delete, AuditSubject.Memberships, NetworkAdministrators, "group id"),
        Rpc("MembershipService", "ListGroups", Read, AuditSubject.Memberships, AuditCallers.AnySession, "—"),

        Rpc("ChannelService", "CreateChannel", Create, AuditSubject.Channels, AuditCallers.Only(Role.Investigator), "channel id"),
        Rpc("ChannelService", "GetChannel", Read, AuditSubject.Channels, AuditCallers.AnySession, "channel id"),
        Rpc("ChannelService", "ListChannels", Read, AuditSubject.Channels, AuditCallers.AnySession, "—"),
        Rpc("ChannelService", "AddMembers", Create | Permission, AuditSubject.Memberships, AuditCallers.AnySession, "channel id"),
        Rpc("ChannelService", "RemoveMembers", Delete | Permission, AuditSubject.Memberships, AuditCallers.AnySession, "channel id"),
        Rpc("ChannelService", "RotateEpoch", Create, AuditSubject.Keys, AuditCallers.AnySession, "channel id"),
        Rpc("ChannelService", "GetEpochKey", Read, AuditSubject.Keys, AuditCallers.AnySession, "channel id (channel id/epoch when allowed)"),
        Rpc("ChannelService", "ShareHistory", Create | Permission, AuditSubject.Keys, AuditCallers.AnySession, "channel id/user id"),
        Rpc("ChannelService", "SendMessage", Create, AuditSubject.Messages, AuditCallers.AnySession, "message id"),
        Rpc("ChannelService", "SubmitReceipt", Change, AuditSubject.Messages, AuditCallers.AnySession, "message id"),
        Rpc("ChannelService", "ListReceipts", Read, AuditSubject.Messages, AuditCallers.AnySession, "message id"),
        Rpc("ChannelService", "RequestConsent", Create, AuditSubject.Messages, AuditCallers.AnySession, "consent id"),
        Rpc("ChannelService", "GrantConsent", Permission, AuditSubject.Messages, AuditCallers.Only(Role.Investigator, Role.AuthorityAdministrator), "consent id"),
        Rpc("ChannelService", "DenyConsent", Permission, AuditSubject.Messages, AuditCallers.Only(Role.Investigator, Role.AuthorityAdministrator), "consent id"),
        Rpc("ChannelService", "History", Read, AuditSubject.Messages, AuditCallers.AnySession, "channel id"),
        Rpc("ChannelService", "GetMessage", Read, AuditSubject.Messages, AuditCallers.AnySession, "message id"),
        Rpc("ChannelService", "Subscribe", Read, AuditSubject.Messages, AuditCallers.AnySession, "position subscribed after"),

        Rpc("DocumentService", "BeginUpload", Create, AuditSubject.Documents, AuditCallers.AnySession, "document id"),
        Rpc("DocumentService", "UploadChunks", Change, AuditSubject.Documents, AuditCallers.AnySession, "document id"),
        Rpc("DocumentService", "GetDocument", Read, AuditSubject.Documents, AuditCallers.AnySession, "document id"),
        Rpc("DocumentService", "SealDocument", Change, AuditSubject.Documents, AuditCallers.AnySession, "document id"),
        Rpc("DocumentService", "DownloadDocument", Read, AuditSubject.Documents, AuditCallers.AnySession, "document id"),
        Rpc("DocumentService", "ListDocuments", Read, AuditSubject.Documents, AuditCallers.AnySession, "channel id"),

        Rpc("FocalPointService", "ListFocalPoints", Read, AuditSubject.FocalPoints, AuditCallers.AnySession, "country"),
        Rpc("FocalPointService", "GetContact", Read, AuditSubject.FocalPoints, AuditCallers.AnySession, "contact id"),
        Rpc("FocalPointService", "AddContact", Create, AuditSubject.FocalPoints, NetworkAdministrators, "contact id"),
        Rpc("FocalPointService", "UpdateContact", Change, AuditSubject.FocalPoints, NetworkAdministrators, "contact id"),
        Rpc("FocalPointService", "RemoveContact", Delete, AuditSubject.FocalPoints, NetworkAdministrators, "contact id"),
        Rpc("FocalPointService", "SetAuthorityRequirements", Change, AuditSubject.FocalPoints,
            AuditCallers.Only(Role.NetworkAdministrator, Role.AuthorityAdministrator), "authority id"),

        Rpc("RequestService", "CreateRequest", Create, AuditSubject.Requests, RequestParties, "request id"),
        Rpc("RequestService", "SendRequest", Change, AuditSubject.Requests, RequestParties, "request id"),
        Rpc("RequestService", "Acknowledge", Change, AuditSubject.Requests, RequestParties, "request id"),
        Rpc("RequestService", "StartWork", Change, AuditSubject.Requests, RequestParties, "request id"),
        Rpc("RequestService", "Answer", Change, AuditSubject.Requests, RequestParties, "request id"),
        Rpc("RequestService", "PartiallyAnswer", Change, AuditSubject.Requests, RequestParties, "request id"),
        Rpc("RequestService", "Decline", Change, AuditSubject.Requests, RequestParties, "request id"),
        Rpc("RequestService", "Withdraw", Change, AuditSubject.Requests, RequestParties, "request id"),
        Rpc("RequestService", "Close", Change, AuditSubject.Requests, RequestParties, "request id"),
        Rpc("RequestService", "RequestClarification", Change, AuditSubject.Requests, RequestParties, "request id"),
        Rpc("RequestService", "ProvideClarification", Change, AuditSubject.Requests, RequestParties, "request id"),
        Rpc("RequestService", "GetRequest", Read, AuditSubject.Requests, RequestParties, "request id"),
        Rpc("RequestService", "ListRequests", Read, AuditSubject.Requests, RequestParties, "—"),
        Rpc("RequestService", "GetStatistics", Read, AuditSubject.Requests,
            AuditCallers.Only(Role.NetworkAdministrator, Role.Investigator, Role.AuthorityAdministrator), "caller's authority id (— for the whole network)"),
        Rpc("RequestService", "GetRequestRecord", Read, AuditSubject.Requests, RequestParties, "request id"),

        Rpc("TemplateService", "ListTemplates", Read, AuditSubject.Templates, AuditCallers.AnySession, "—"),
        Rpc("TemplateService", "GetTemplate", Read, AuditSubject.Templates, AuditCallers.AnySession, "template id/version"),
        Rpc("TemplateService", "PublishTemplate", Privileged | Create, AuditSubject.Templates, NetworkAdministrators, "template id/version"),

        Rpc("AuditService", "QueryAudit", AuditCategories.AuditAccess | Read, AuditSubject.AuditTrail, AuditCallers.Only(Role.Auditor), "—"),
        Rpc("AuditService", "ExportAudit", AuditCategories.AuditAccess | Read, AuditSubject.AuditTrail, AuditCallers.Only(Role.Auditor), "—"),
        Rpc("AuditService", "ListCheckpoints", AuditCategories.AuditAccess | Read, AuditSubject.AuditTrail, AuditCallers.Only(Role.Auditor), "—"),
        Rpc("AuditService", "VerifyAudit", AuditCategories.AuditAccess, AuditSubject.AuditTrail, AuditCallers.OnlyOfSecretariat(Role.Auditor), "—"),
    ];

    /// <summary>The server's own actions: local commands and background passes (actor: none).</summary>
    public static IReadOnlyList<AuditCatalogEntry> ServerActions { get; } =
    [
        new(BootstrapCodes.Action, Privileged | Create, AuditSubject.Network, AuditCallers.Server, "the network stream"),
        new(DocumentCleanup.ExpireAction, Delete, AuditSubject.Documents, AuditCallers.Server, "document id"),
        new(DocumentCleanup.DeleteAction, Delete, AuditSubject.Documents, AuditCallers.Server, "document id"),
        new(RequestOverdue.MarkAction, Change, AuditSubject.Requests, AuditCallers.Server, "request id"),
        new(AuditCheckpoints.RetentionAction, Delete | Privileged, AuditSubject.AuditTrail, AuditCallers.Server, "position of the retention cut"),
        new(ProjectionRebuildCommand.Action, Change | Privileged, AuditSubject.ReadModels, AuditCallers.Server, "event position rebuilt through"),
    ];

    public static IEnumerable<AuditCatalogEntry> All => Rpcs.Concat(ServerActions);

    /// <summary>The catalogue as the markdown table of docs/audit.md, "Coverage".</summary>
    public static string ToMarkdown()
    {
        var table = new System.Text.StringBuilder();
        table.Append("| action | CJIS categories | subject | who may call | target |\n");
        table.Append("|---|---|---|---|---|\n");
        foreach (var entry in All)
        {
            table.Append(System.Globalization.CultureInfo.InvariantCulture,
                $"| `{entry.Action}` | {Describe(entry.Categories)} | {Words(entry.Subject.ToString())} | {Describe(entry.Callers)} | {entry.Target} |\n");
        }

        return table.ToString();
    }

    private static string Describe(AuditCategories categories) =>
        string.Join(", ", Enum.GetValues<AuditCategories>().Where(c => c != AuditCategories.None && categories.HasFlag(c)).Select(c => Words(c.ToString())));

    private static string Describe(AuditCallers callers) => callers.Kind switch
    {
        AuditCallerKind.Anyone => "anyone",
        AuditCallerKind.AnySession => "any session",
        AuditCallerKind.Server => "the server",
        _ => string.Join(", ", callers.Roles.Select(r => Words(r.ToString()))) + (callers.SecretariatOnly ? " of the secretariat" : ""),
    };

    private static string Words(string pascal) =>
        string.Concat(pascal.Select((c, i) => char.IsUpper(c) && i > 0 ? " " + char.ToLowerInvariant(c) : char.ToLowerInvariant(c).ToString()));
}
