using GlobeSecure.Contracts.V1;
using GlobeSecure.EventStore;
using GlobeSecure.Server.Identity;
using GlobeSecure.Server.Infrastructure;
using GlobeSecure.Server.Templates;
using Grpc.Core;

namespace GlobeSecure.Server.Requests;

/// <summary>
/// Thin gRPC surface of information requests: authorise (investigators and authority
/// administrators; the decider decides the side and answers NOT_FOUND to other authorities) →
/// validate → decide → append with the audit entry → map back.
/// </summary>
internal sealed class RequestService(PostgresEventStore store, Access access, TimeProvider clock, RequestDeadlinePolicy policy, TemplateReadModel templates,
    IChannelAccess channels, RequestReadModel read, IAuthorities authorities) : Contracts.V1.RequestService.RequestServiceBase
{
    private static readonly Role[] Parties = [Role.Investigator, Role.AuthorityAdministrator];

    public override async Task<InformationRequest> CreateRequest(CreateRequestRequest request, ServerCallContext context)
    {
        var caller = await access.RequireRoleAsync(context, request.RequestId, Parties);
        var v = new Violations();
        var requestId = v.Id("request_id", request.RequestId);
        var requested = v.Id("requested_authority_id", request.RequestedAuthorityId);
        var channelId = v.Id("channel_id", request.ChannelId);
        var urgency = RequestWire.Urgency(v, request.Urgency);
        if (request.TemplateId.Length == 0)
        {
            v.Add("template_id", "required: the id of a published template");
        }

        if (request.TemplateVersion < 1)
        {
            v.Add("template_version", "must be a published version, 1 or more");
        }

        v.ThrowIfAny();
        if (await templates.FindAsync(request.TemplateId, request.TemplateVersion, context.CancellationToken) is null)
        {
            throw new ValidationException("template_version", $"template {request.TemplateId} has no published version {request.TemplateVersion}");
        }

        await channels.RequireMemberAsync(context, caller, channelId, requestId.ToString());
        if (!await channels.HasMemberOfAuthorityAsync(channelId, requested, context.CancellationToken))
        {
            throw new ValidationException("channel_id", "the channel must include a member of the requested authority: add the authority to it first");
        }

        var command = new CreateRequest(requestId, Actor(caller), requested, request.TemplateId, (int)request.TemplateVersion, urgency,
            request.AnswerBy?.ToDateTimeOffset(), request.Spontaneous, channelId, policy, clock.GetUtcNow());
        var (state, _) = await store.DecideAsync(RequestDecider.StreamId(requestId), RequestState.Initial, RequestDecider.Evolve,
            s => RequestDecider.Decide(command, s), access.Allowed(context, requestId.ToString()), cancellationToken: context.CancellationToken);
        return RequestWire.ToProto(state, caller.AuthorityId);
    }

    public override async Task<InformationRequest> SendRequest(SendRequestRequest request, ServerCallContext context)
    {
        var caller = await access.RequireRoleAsync(context, request.RequestId, Parties);
        var requestId = Id(request.RequestId);
        var (state, _) = await store.DecideAsync(RequestDecider.StreamId(requestId), RequestState.Initial, RequestDecider.Evolve,
            s => RequestDecider.Decide(new SendRequest(requestId, Actor(caller), policy, clock.GetUtcNow()), s), access.Allowed(context, requestId.ToString()),
            cancellationToken: context.CancellationToken);
        return RequestWire.ToProto(state, caller.AuthorityId);
    }

    public override Task<InformationRequest> Acknowledge(RequestActionRequest request, ServerCallContext context) =>
        ActAsync(request.RequestId, RequestAction.Acknowledge, context);

    public override Task<InformationRequest> StartWork(RequestActionRequest request, ServerCallContext context) =>
        ActAsync(request.RequestId, RequestAction.Start, context);

    public override Task<InformationRequest> Answer(RequestActionRequest request, ServerCallContext context) =>
        ActAsync(request.RequestId, RequestAction.Answer, context);

    public override Task<InformationRequest> PartiallyAnswer(RequestActionRequest request, ServerCallContext context) =>
        ActAsync(request.RequestId, RequestAction.PartiallyAnswer, context);

    public override Task<InformationRequest> Close(RequestActionRequest request, ServerCallContext context) =>
        ActAsync(request.RequestId, RequestAction.Close, context);

    public override Task<InformationRequest> Decline(DeclineInformationRequest request, ServerCallContext context) =>
        ActAsync(request.RequestId, RequestAction.Decline, context, decline: RequestWire.Decline(request.Reason));

    public override Task<InformationRequest> Withdraw(WithdrawInformationRequest request, ServerCallContext context) =>
        ActAsync(request.RequestId, RequestAction.Withdraw, context, withdraw: RequestWire.Withdraw(request.Reason));

    public override Task<InformationRequest> RequestClarification(ClarificationRequest request, ServerCallContext context) =>
        ActAsync(request.RequestId, RequestAction.RequestClarification, context, question: request.QuestionId);

    public override Task<InformationRequest> ProvideClarification(ClarificationRequest request, ServerCallContext context) =>
        ActAsync(request.RequestId, RequestAction.ProvideClarification, context, question: request.QuestionId);

    public override async Task<InformationRequest> GetRequest(GetRequestRequest request, ServerCallContext context)
    {
        var caller = await access.RequireRoleAsync(context, request.RequestId, Parties);
        var requestId = Id(request.RequestId);
        var (state, _) = await store.AggregateStreamAsync(RequestDecider.StreamId(requestId), RequestState.Initial, RequestDecider.Evolve, context.CancellationToken);
        if (state.Draft is not { } draft
            || (caller.AuthorityId != draft.RequestingAuthorityId && (caller.AuthorityId != draft.RequestedAuthorityId || state.Stage == RequestStage.Draft)))
        {
            throw new NotFoundException("request", requestId.ToString());
        }

        await access.RecordReadAsync(context, requestId.ToString());
        return RequestWire.ToProto(state, caller.AuthorityId);
    }

    /// <summary>At most this many audit entries in a record; the response says when more exist.</summary>
    internal const int MaxRecordAuditEntries = 10_000;

    public override async Task<RequestRecord> GetRequestRecord(GetRequestRecordRequest request, ServerCallContext context)
    {
        var caller = await access.RequireRoleAsync(context, request.RequestId, Parties);
        var requestId = Id(request.RequestId);
        var streamId = RequestDecider.StreamId(requestId);
        var (state, _) = await store.AggregateStreamAsync(streamId, RequestState.Initial, RequestDecider.Evolve, context.CancellationToken);
        if (state.Draft is not { } draft
            || (caller.AuthorityId != draft.RequestingAuthorityId && (caller.AuthorityId != draft.RequestedAuthorityId || state.Stage == RequestStage.Draft)))
        {
            throw new NotFoundException("request", requestId.ToString());
        }

        var events = await store.ReadStreamLinkedAsync(streamId, context.CancellationToken);
        // Entries acted by a third authority (a refused probe) are not the parties' business.
        var audit = (await store.ReadAuditOfTargetAsync(requestId.ToString(), MaxRecordAuditEntries + 1, context.CancellationToken))
            .Where(e => e.Entry.Entry.ActorAuthorityId is not { } actor || actor == draft.RequestingAuthorityId || actor == draft.RequestedAuthorityId)
            .ToList();
        var record = new RequestRecord { RequestId = requestId.ToString(), AuditTruncated = audit.Count > MaxRecordAuditEntries };
        record.Events.Add(events.Select(RequestWire.ToProto));
        record.Audit.Add(audit.Take(MaxRecordAuditEntries).Select(Audit.AuditWire.ToProto));
        await access.RecordReadAsync(context, requestId.ToString());
        return record;
    }

    public override async Task<ListRequestsResponse> ListRequests(ListRequestsRequest request, ServerCallContext context)
    {
        var caller = await access.RequireRoleAsync(context, null, Parties);
        var v = new Violations();
        if (request.Limit is < 0 or > 500)
        {
            v.Add("limit", "1 to 500, or 0 for 100");
        }

        if (!Enum.IsDefined(request.Direction))
        {
            v.Add("direction", "REQUEST_DIRECTION_INCOMING, REQUEST_DIRECTION_OUTGOING or unset for both");
        }

        if (request.Statuses.Any(s => s == RequestStatus.Unspecified || !Enum.IsDefined(s)))
        {
            v.Add("statuses", "only defined statuses");
        }

        var after = RequestPageToken.TryParse(request.PageToken, out var position) ? position : null;
        if (request.PageToken.Length > 0 && after is null)
        {
            v.Add("page_token", "not a token this server issued: pass next_page_token from the previous page, or nothing for the first page");
        }

        v.ThrowIfAny();
        var limit = request.Limit == 0 ? 100 : request.Limit;
        var rows = await read.ListAsync(caller.AuthorityId, (RequestDirection)(int)request.Direction, [.. request.Statuses.Select(s => (RequestStage)(int)s)],
            request.OverdueOnly, after, limit + 1, context.CancellationToken);
        var response = new ListRequestsResponse();
        response.Requests.Add(rows.Take(limit).Select(r => RequestWire.ToProto(r, caller.AuthorityId)));
        if (rows.Count > limit)
        {
            var last = rows[limit - 1].Draft!;
            response.NextPageToken = RequestPageToken.Format(last.DraftedAt, last.RequestId);
        }

        await access.RecordReadAsync(context);
        return response;
    }

    public override async Task<GetStatisticsResponse> GetStatistics(GetStatisticsRequest request, ServerCallContext context)
    {
        var caller = await access.RequireRoleAsync(context, null, Role.NetworkAdministrator, Role.Investigator, Role.AuthorityAdministrator);
        var everything = caller.Role == Role.NetworkAdministrator;
        var period = new StatisticsPeriod(request.From?.ToDateTimeOffset(), request.To?.ToDateTimeOffset());
        if (period is { From: { } from, To: { } to } && to <= from)
        {
            throw new ValidationException("to", "must be after from");
        }

        var rows = await read.SentAsync(everything ? null : caller.AuthorityId, period.From, period.To, context.CancellationToken);
        var found = await authorities.FindManyAsync(
            [.. rows.SelectMany(r => new[] { r.Draft!.RequestingAuthorityId, r.Draft.RequestedAuthorityId }).Distinct()], context.CancellationToken);
        string Country(Guid id) => found.TryGetValue(id, out var a) ? a.Country : "";
        var groups = RequestStatistics.Compute(rows.Select(r => RequestSummary.Of(r, Country(r.Draft!.RequestingAuthorityId), Country(r.Draft.RequestedAuthorityId))),
            period);
        var own = caller.AuthorityId.ToString();
        var response = new GetStatisticsResponse();
        response.Groups.Add(groups.Where(g => everything || (g.Key.Scope == StatisticsScope.Authority && g.Key.Id == own)).Select(RequestWire.ToProto));
        await access.RecordReadAsync(context, everything ? null : own);
        return response;
    }

    private async Task<InformationRequest> ActAsync(string rawId, RequestAction action, ServerCallContext context, DeclineReason? decline = null,
        WithdrawReason? withdraw = null, string? question = null)
    {
        var caller = await access.RequireRoleAsync(context, rawId, Parties);
        var v = new Violations();
        var requestId = v.Id("request_id", rawId);
        var questionId = question is null ? (Guid?)null : v.Id("question_id", question);
        v.ThrowIfAny();
        var (state, _) = await store.DecideAsync(RequestDecider.StreamId(requestId), RequestState.Initial, RequestDecider.Evolve,
            s => RequestDecider.Decide(new ActOnRequest(requestId, action, Actor(caller), clock.GetUtcNow(), questionId, decline, withdraw), s),
            access.Allowed(context, requestId.ToString()), cancellationToken: context.CancellationToken);
        return RequestWire.ToProto(state, caller.AuthorityId);
    }

    private static RequestActor Actor(Caller caller) => new(caller.UserId, caller.AuthorityId);

    private static Guid Id(string raw)
    {
        var v = new Violations();
        var id = v.Id("request_id", raw);
        v.ThrowIfAny();
        return id;
    }
}
