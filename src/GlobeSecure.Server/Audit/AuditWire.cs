using GlobeSecure.Contracts.V1;
using GlobeSecure.EventStore;
using GlobeSecure.Server.Identity;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;

namespace GlobeSecure.Server.Audit;

/// <summary>Proto ⇄ audit selection and records; the filter's limits (audit.proto).</summary>
internal static class AuditWire
{
    public const int DefaultLimit = 100;
    public const int MaxLimit = 1000;
    public const int MaxActionLength = 256;
    public const int MaxTargetLength = 1024;

    /// <summary>
    /// The filter as a selection, every field checked (INVALID_ARGUMENT naming each bad one, e.g.
    /// "filter.actor_user_id"), narrowed to <paramref name="scope"/> (the auditor's own, if any).
    /// </summary>
    public static AuditSelection Selection(Violations v, AuditFilter? filter, AuditScope? scope)
    {
        filter ??= new AuditFilter();
        var user = v.OptionalId("filter.actor_user_id", filter.ActorUserId);
        var device = v.OptionalId("filter.actor_device_id", filter.ActorDeviceId);
        var authority = v.OptionalId("filter.authority_id", filter.AuthorityId);
        if (filter.Action.Length > MaxActionLength)
        {
            v.Add("filter.action", $"at most {MaxActionLength} characters (got {filter.Action.Length})");
        }

        if (filter.Target.Length > MaxTargetLength)
        {
            v.Add("filter.target", $"at most {MaxTargetLength} characters (got {filter.Target.Length})");
        }

        AuditOutcome? outcome = filter.Outcome switch
        {
            AuditOutcomeFilter.Unspecified => null,
            AuditOutcomeFilter.Allowed => AuditOutcome.Allowed,
            AuditOutcomeFilter.Denied => AuditOutcome.Denied,
            AuditOutcomeFilter.Failed => AuditOutcome.Failed,
            _ => Invalid(v, "filter.outcome", "AUDIT_OUTCOME_FILTER_ALLOWED, _DENIED, _FAILED, or unset for every outcome"),
        };
        var from = Time(v, "filter.from", filter.From);
        var to = Time(v, "filter.to", filter.To);
        if (from is { } f && to is { } t && t <= f)
        {
            v.Add("filter.to", "must be after filter.from");
        }

        if (filter.AfterPosition < 0)
        {
            v.Add("filter.after_position", "0 (from the start) or a position");
        }

        var prefix = filter.Action.EndsWith('/');
        var scopes = new List<AuditScope>();
        if (scope is not null)
        {
            scopes.Add(scope);
        }

        if (authority is { } a && a != scope?.AuthorityId)
        {
            scopes.Add(AuditScopes.Of(a));
        }

        return new AuditSelection
        {
            AfterPosition = filter.AfterPosition,
            ActorUserId = user,
            ActorDeviceId = device,
            Action = filter.Action.Length == 0 || prefix ? null : filter.Action,
            ActionPrefix = prefix ? filter.Action : null,
            Target = filter.Target.Length == 0 ? null : filter.Target,
            Outcome = outcome,
            From = from,
            To = to,
            Scopes = scopes,
        };
    }

    /// <summary>A page's size: 1 to <see cref="MaxLimit"/>, 0 for <see cref="DefaultLimit"/>.</summary>
    public static int Limit(Violations v, int limit)
    {
        if (limit is < 0 or > MaxLimit)
        {
            v.Add("limit", $"1 to {MaxLimit}, or 0 for {DefaultLimit}");
        }

        return limit == 0 ? DefaultLimit : limit;
    }

    public static AuditRecord ToProto(LinkedAuditEntry linked)
    {
        var (position, a, hash) = linked.Entry;
        return new AuditRecord
        {
            Position = position,
            EntryId = a.EntryId.ToString(),
            OccurredAt = Timestamp.FromDateTimeOffset(a.OccurredAt),
            Action = a.Action,
            Outcome = a.Outcome.ToWire(),
            ActorUserId = a.ActorUserId?.ToString() ?? "",
            ActorDeviceId = a.ActorDeviceId?.ToString() ?? "",
            ActorAuthorityId = a.ActorAuthorityId?.ToString() ?? "",
            Target = a.Target ?? "",
            Reason = a.Reason ?? "",
            Peer = a.Peer ?? "",
            TraceId = a.TraceId ?? "",
            Hash = ByteString.CopyFrom(hash.Span),
            PreviousHash = ByteString.CopyFrom(linked.Previous.Span),
        };
    }

    private static DateTimeOffset? Time(Violations v, string field, Timestamp? value)
    {
        if (value is null)
        {
            return null;
        }

        try
        {
            return value.ToDateTimeOffset();
        }
        catch (InvalidOperationException)
        {
            v.Add(field, "not a valid time (seconds from 0001-01-01 to 9999-12-31, nanos 0 to 999999999)");
            return null;
        }
    }

    private static AuditOutcome? Invalid(Violations v, string field, string description)
    {
        v.Add(field, description);
        return null;
    }
}
