using GlobeSecure.Contracts.V1;
using GlobeSecure.EventStore;
using Google.Protobuf;
using GlobeSecure.Server.Identity;
using Google.Protobuf.WellKnownTypes;

namespace GlobeSecure.Server.Requests;

/// <summary>Proto ⇄ domain for information requests.</summary>
internal static class RequestWire
{
    public static RecordedEvent ToProto(LinkedEvent linked)
    {
        var e = linked.Event;
        return new RecordedEvent
        {
            Position = e.Position,
            EventId = e.EventId.ToString(),
            StreamId = e.StreamId,
            Version = e.Version,
            Type = e.Type,
            DataJson = e.Json,
            MetadataJson = linked.MetadataJson ?? "",
            RecordedAt = Timestamp.FromDateTimeOffset(e.RecordedAt),
            Hash = ByteString.CopyFrom(e.Hash.Span),
            PreviousHash = ByteString.CopyFrom(linked.Previous.Span),
        };
    }

    public static UrgencyLevel Urgency(Violations v, Urgency urgency)
    {
        if (urgency is Contracts.V1.Urgency.Normal or Contracts.V1.Urgency.Urgent or Contracts.V1.Urgency.Emergency)
        {
            return (UrgencyLevel)(int)urgency;
        }

        v.Add("urgency", "required: URGENCY_NORMAL, URGENCY_URGENT or URGENCY_EMERGENCY");
        return UrgencyLevel.Normal;
    }

    public static DeclineReason? Decline(DeclineReasonCategory reason) =>
        reason == DeclineReasonCategory.Unspecified ? null : (DeclineReason)(int)reason;

    public static WithdrawReason? Withdraw(WithdrawReasonCategory reason) =>
        reason == WithdrawReasonCategory.Unspecified ? null : (WithdrawReason)(int)reason;

    public static InformationRequest ToProto(RequestState state, Guid callerAuthorityId)
    {
        var d = state.Draft ?? throw new ArgumentException("The request does not exist.", nameof(state));
        var side = callerAuthorityId == d.RequestingAuthorityId ? RequestSide.Requesting : RequestSide.Requested;
        var proto = new InformationRequest
        {
            RequestId = d.RequestId.ToString(),
            RequestingAuthorityId = d.RequestingAuthorityId.ToString(),
            RequestingUserId = d.RequestingUserId.ToString(),
            RequestedAuthorityId = d.RequestedAuthorityId.ToString(),
            TemplateId = d.TemplateId,
            TemplateVersion = d.TemplateVersion,
            Urgency = (Urgency)(int)d.Urgency,
            Spontaneous = d.Spontaneous,
            ChannelId = d.ChannelId.ToString(),
            Status = (RequestStatus)(int)state.Stage,
            DraftedAt = Timestamp.FromDateTimeOffset(d.DraftedAt),
            SentAt = Ts(state.SentAt),
            AcknowledgeBy = Ts(state.AcknowledgeBy),
            AnswerBy = Ts(state.AnswerBy ?? d.RequestedAnswerBy),
            AcknowledgedAt = Ts(state.AcknowledgedAt),
            FirstAnswerAt = Ts(state.FirstAnswerAt),
            DeclineReason = state.DeclineReason is { } dr ? (DeclineReasonCategory)(int)dr : DeclineReasonCategory.Unspecified,
            WithdrawReason = state.WithdrawReason is { } wr ? (WithdrawReasonCategory)(int)wr : WithdrawReasonCategory.Unspecified,
            OpenQuestionId = state.OpenQuestionId?.ToString() ?? "",
            AcknowledgeOverdue = state.AcknowledgeOverdue,
            AnswerOverdue = state.AnswerOverdue,
        };
        proto.AllowedActions.Add(RequestDecider.AllowedNow(state).Where(a => RequestDecider.SideOf(a) == side).Select(RequestDecider.Name));
        return proto;
    }

    public static StatisticsGroup ToProto(KeyValuePair<StatisticsKey, RequestFigures> group)
    {
        var (key, f) = (group.Key, group.Value);
        var proto = new StatisticsGroup
        {
            Scope = key.Scope == StatisticsScope.Authority ? Contracts.V1.StatisticsScope.Authority : Contracts.V1.StatisticsScope.Country,
            As = key.As == RequestSide.Requesting ? RequestParty.Requesting : RequestParty.Requested,
            Id = key.Id,
            Total = f.Total,
            TimeToAcknowledge = ToProto(f.TimeToAcknowledge),
            TimeToAnswer = ToProto(f.TimeToAnswer),
            AcknowledgeOverdue = f.AcknowledgeOverdue,
            AnswerOverdue = f.AnswerOverdue,
        };
        proto.ByStatus.Add(f.ByStage.Select(p => new StatusCount { Status = (RequestStatus)(int)p.Key, Count = p.Value }));
        proto.ByUrgency.Add(f.ByUrgency.Select(p => new UrgencyCount { Urgency = (Urgency)(int)p.Key, Count = p.Value }));
        return proto;
    }

    private static Contracts.V1.DurationFigures ToProto(DurationFigures d) => new()
    {
        Count = d.Count,
        Median = d.Median is { } m ? Duration.FromTimeSpan(m) : null,
        Percentile90 = d.Percentile90 is { } p ? Duration.FromTimeSpan(p) : null,
    };

    private static Timestamp? Ts(DateTimeOffset? at) => at is { } t ? Timestamp.FromDateTimeOffset(t) : null;
}

/// <summary>
/// ListRequests' continuation: the last row of a page (drafted at, request id), opaque to
/// clients. Not a secret and not signed: a forged token only moves where the caller's own list starts.
/// </summary>
internal static class RequestPageToken
{
    private const string Prefix = "r1.";

    public static string Format(DateTimeOffset draftedAt, Guid requestId) =>
        Prefix + Convert.ToBase64String(System.Text.Encoding.ASCII.GetBytes(
            string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{draftedAt.UtcTicks}:{requestId:N}"))).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    public static bool TryParse(string token, out (DateTimeOffset DraftedAt, Guid RequestId)? position)
    {
        position = null;
        if (!token.StartsWith(Prefix, StringComparison.Ordinal) || token.Length > 100)
        {
            return false;
        }

        var body = token[Prefix.Length..].Replace('-', '+').Replace('_', '/');
        body = body.PadRight(body.Length + ((4 - (body.Length % 4)) % 4), '=');
        Span<byte> bytes = stackalloc byte[75];
        if (!Convert.TryFromBase64String(body, bytes, out var written))
        {
            return false;
        }

        var parts = System.Text.Encoding.ASCII.GetString(bytes[..written]).Split(':');
        if (parts.Length != 2 || !long.TryParse(parts[0], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var ticks)
            || ticks < DateTimeOffset.UnixEpoch.UtcTicks || ticks > DateTimeOffset.MaxValue.UtcTicks || !Guid.TryParseExact(parts[1], "N", out var id))
        {
            return false;
        }

        position = (new DateTimeOffset(ticks, TimeSpan.Zero), id);
        return true;
    }
}
