using System.Text;
using System.Text.Json;
using GlobeSecure.Client.Templates;
using GlobeSecure.Contracts.V1;
using Grpc.Core;
using Google.Protobuf.WellKnownTypes;
using WireChannel = GlobeSecure.Contracts.V1.Channel;

namespace GlobeSecure.Client;

/// <summary>
/// Information requests (docs/requests.md): the server holds only metadata; the filled form
/// travels as an encrypted message in the request's case channel, sealed by the channel methods.
/// </summary>
public sealed partial class GlobeClient
{
    /// <summary>The content type of the filled form message in a request's thread.</summary>
    public const string RequestFormContentType = "application/vnd.globe.request-form+json";

    // ---------------------------------------------------------------- requester's workflow

    /// <summary>
    /// Requesting side: validates the draft against its template (nothing is
    /// sent when it has any problem: <see cref="DraftRejectedException"/> lists every one), then
    /// opens the request's thread (a case channel whose id is the request id, with the requested
    /// authority added), sends the form in it as an encrypted message whose id is the request id,
    /// creates the request referencing the thread and, unless <see cref="RequestSubmission.SendNow"/>
    /// is false, sends it.
    /// </summary>
    /// <remarks>
    /// Safe to retry with the same <see cref="RequestSubmission.RequestId"/> after a failure part
    /// way: each step that already happened (thread, members, form, request) is found and reused,
    /// so a retry never opens a second thread or sends the form twice. A form already sent under
    /// that id with other content is refused (<see cref="GlobeClientException"/>, ALREADY_EXISTS).
    /// The urgency, when <see cref="RequestSubmission.Urgency"/> is unspecified, is the draft's
    /// <c>urgency</c> field (normal when the template has none); an explicit urgency that
    /// contradicts the draft is a draft problem.
    /// </remarks>
    public async Task<SubmittedRequest> SubmitRequestAsync(RequestSubmission submission, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(submission);
        var template = await GetTemplateAsync(submission.TemplateId, submission.TemplateVersion, cancellationToken);
        var problems = DraftValidator.Validate(template, submission.DraftJson).ToList();
        var urgency = RequestUrgency.Resolve(template, submission.DraftJson, submission.Urgency, problems);
        if (problems.Count > 0)
        {
            throw new DraftRejectedException(template.TemplateId, template.Version, problems);
        }

        // Only a given id can have been used before: a new one needs no lookups.
        var resuming = submission.RequestId is not null;
        var requestId = submission.RequestId ?? Guid.CreateVersion7();
        var existing = resuming ? await FindRequestAsync(requestId, cancellationToken) : null;
        if (existing is not null)
        {
            if (existing.TemplateId != template.TemplateId || existing.TemplateVersion != template.Version
                || existing.RequestedAuthorityId != submission.RequestedAuthorityId.ToString())
            {
                throw new GlobeClientException(StatusCode.AlreadyExists, null,
                    $"Request {requestId} already exists with other content (template {existing.TemplateId} v{existing.TemplateVersion} to {existing.RequestedAuthorityId}); choose a new request id.");
            }

            if (submission.SendNow && existing.Status == RequestStatus.Draft)
            {
                existing = await SendRequestAsync(requestId, cancellationToken);
            }

            return new SubmittedRequest(existing, Wire.ParseId(existing.ChannelId, "channel id"), requestId);
        }

        await RequireRecipientAsync(submission.RequestedAuthorityId, cancellationToken);

        // The thread's id is the request id, so that a retry finds it.
        var channelId = requestId;
        var found = resuming ? await FindChannelAsync(channelId, cancellationToken) : null;
        var channel = found ?? await CreateChannelAsync($"Request {requestId}", $"{template.Name} (template {template.TemplateId} v{template.Version})",
            channelId: channelId, cancellationToken: cancellationToken);
        if (!channel.Members.Any(m => m.AuthorityId == submission.RequestedAuthorityId.ToString()))
        {
            await AddMembersAsync(channelId, authorityIds: [submission.RequestedAuthorityId], cancellationToken: cancellationToken);
        }

        // A thread opened just now holds no form yet; one found may (an earlier attempt's).
        await SendFormOnceAsync(channelId, requestId, submission, formMayExist: found is not null, cancellationToken);
        var request = await CreateRequestAsync(new CreateRequestRequest
        {
            RequestId = requestId.ToString(),
            RequestedAuthorityId = submission.RequestedAuthorityId.ToString(),
            TemplateId = template.TemplateId,
            TemplateVersion = template.Version,
            Urgency = urgency,
            AnswerBy = submission.AnswerBy is { } by ? Timestamp.FromDateTimeOffset(by) : null,
            Spontaneous = submission.Spontaneous,
            ChannelId = channelId.ToString(),
        }, cancellationToken);
        if (submission.SendNow && request.Status == RequestStatus.Draft)
        {
            request = await SendRequestAsync(requestId, cancellationToken);
        }

        return new SubmittedRequest(request, channelId, requestId);
    }

    private async Task<InformationRequest?> FindRequestAsync(Guid requestId, CancellationToken cancellationToken)
    {
        try
        {
            return await GetRequestAsync(requestId, cancellationToken);
        }
        catch (GlobeClientException e) when (e.Status == StatusCode.NotFound)
        {
            return null;
        }
    }

    private async Task<WireChannel?> FindChannelAsync(Guid channelId, CancellationToken cancellationToken)
    {
        try
        {
            return await GetChannelAsync(channelId, cancellationToken);
        }
        catch (GlobeClientException e) when (e.Status == StatusCode.NotFound)
        {
            return null;
        }
    }

    // The form under the request id, sent once: a retry finds it (and checks it is the same form).
    private async Task SendFormOnceAsync(Guid channelId, Guid requestId, RequestSubmission submission, bool formMayExist,
        CancellationToken cancellationToken)
    {
        StoredMessage? sent = null;
        try
        {
            sent = formMayExist ? await GetMessageAsync(channelId, requestId, cancellationToken) : null;
        }
        catch (GlobeClientException e) when (e.Status == StatusCode.NotFound)
        {
        }

        if (sent is null)
        {
            await SendAsync(channelId, Encoding.UTF8.GetBytes(submission.DraftJson),
                new SendOptions(ContentType: RequestFormContentType, MessageId: requestId, Spontaneous: submission.Spontaneous), cancellationToken);
            return;
        }

        var opened = await OpenAsync(sent, cancellationToken);
        if (opened.ContentType != RequestFormContentType || opened.Text != submission.DraftJson)
        {
            throw new GlobeClientException(StatusCode.AlreadyExists, null,
                $"Request {requestId}'s thread already holds a different form; submit the changed draft under a new request id.");
        }
    }

    /// <summary>
    /// Checked before the thread is opened, so that a request the server would refuse (to one's own
    /// authority, to one that does not exist, to one nobody could read it in) leaves no channel behind.
    /// </summary>
    private async Task RequireRecipientAsync(Guid requestedAuthorityId, CancellationToken cancellationToken)
    {
        var me = await MeAsync(cancellationToken);
        if (requestedAuthorityId == Wire.ParseId(me.AuthorityId, "authority id"))
        {
            throw new GlobeClientException(StatusCode.InvalidArgument, null, "A request goes to another authority than your own; nothing was sent.",
                [new FieldViolation("requested_authority_id", "must be another authority than your own")]);
        }

        // NOT_FOUND for an authority that does not exist (or is not visible to this user).
        await GetAuthorityAsync(requestedAuthorityId, cancellationToken);
        var devices = await FindDevicesAsync(new DeviceScope(AuthorityId: requestedAuthorityId), cancellationToken);
        if (!devices.Any(d => d.Role == Crypto.DeviceRole.Investigator))
        {
            throw new GlobeClientException(StatusCode.FailedPrecondition, null,
                $"Authority {requestedAuthorityId} has no investigator with an active device to receive the request; nothing was sent.");
        }
    }

    /// <summary>
    /// Either side: opens the request's filled form (the message in its thread whose id is the
    /// request id), verified to come from the requesting authority with the form content type.
    /// </summary>
    /// <exception cref="GlobeTrustException">The message is not a form from the requesting authority.</exception>
    public async Task<RequestForm> ReadRequestFormAsync(InformationRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var requestId = Wire.ParseId(request.RequestId, "request id");
        var channelId = Wire.ParseId(request.ChannelId, "channel id");
        var opened = await OpenAsync(await GetMessageAsync(channelId, requestId, cancellationToken), cancellationToken);
        if (opened.ContentType != RequestFormContentType)
        {
            throw new GlobeTrustException($"Message {requestId} of channel {channelId} is not a request form ({opened.ContentType}): refused.");
        }

        if (opened.SenderAuthorityId != Wire.ParseId(request.RequestingAuthorityId, "authority id"))
        {
            throw new GlobeTrustException($"The form of request {requestId} was sent by authority {opened.SenderAuthorityId}, not the requesting authority: refused.");
        }

        return new RequestForm(requestId, request.TemplateId, request.TemplateVersion, opened.Text, opened);
    }

    // ---------------------------------------------------------------- RequestService

    /// <summary>Requesting side: drafts a request (a spontaneous disclosure is sent at once); idempotent by request id.</summary>
    public Task<InformationRequest> CreateRequestAsync(CreateRequestRequest request, CancellationToken cancellationToken = default) =>
        CallAsync(_requests.CreateRequestAsync(request, cancellationToken: cancellationToken));

    /// <summary>Requesting side: sends a draft; the deadlines are fixed now.</summary>
    public Task<InformationRequest> SendRequestAsync(Guid requestId, CancellationToken cancellationToken = default) =>
        CallAsync(_requests.SendRequestAsync(new SendRequestRequest { RequestId = requestId.ToString() }, cancellationToken: cancellationToken));

    /// <summary>Requested side: confirms receipt.</summary>
    public Task<InformationRequest> AcknowledgeRequestAsync(Guid requestId, CancellationToken cancellationToken = default) =>
        CallAsync(_requests.AcknowledgeAsync(Action(requestId), cancellationToken: cancellationToken));

    /// <summary>Requested side: starts work.</summary>
    public Task<InformationRequest> StartWorkOnRequestAsync(Guid requestId, CancellationToken cancellationToken = default) =>
        CallAsync(_requests.StartWorkAsync(Action(requestId), cancellationToken: cancellationToken));

    /// <summary>Requested side: answers in full (send the answer itself as a message in the thread).</summary>
    public Task<InformationRequest> AnswerRequestAsync(Guid requestId, CancellationToken cancellationToken = default) =>
        CallAsync(_requests.AnswerAsync(Action(requestId), cancellationToken: cancellationToken));

    /// <summary>Requested side: answers in part; a full answer may follow.</summary>
    public Task<InformationRequest> PartiallyAnswerRequestAsync(Guid requestId, CancellationToken cancellationToken = default) =>
        CallAsync(_requests.PartiallyAnswerAsync(Action(requestId), cancellationToken: cancellationToken));

    /// <summary>Requested side: declines with a reason category.</summary>
    public Task<InformationRequest> DeclineRequestAsync(Guid requestId, DeclineReasonCategory reason, CancellationToken cancellationToken = default) =>
        CallAsync(_requests.DeclineAsync(new DeclineInformationRequest { RequestId = requestId.ToString(), Reason = reason },
            cancellationToken: cancellationToken));

    /// <summary>Requesting side: withdraws a draft or an open request.</summary>
    public Task<InformationRequest> WithdrawRequestAsync(Guid requestId, WithdrawReasonCategory reason = WithdrawReasonCategory.Unspecified,
        CancellationToken cancellationToken = default) =>
        CallAsync(_requests.WithdrawAsync(new WithdrawInformationRequest { RequestId = requestId.ToString(), Reason = reason },
            cancellationToken: cancellationToken));

    /// <summary>Requesting side: closes a finished request.</summary>
    public Task<InformationRequest> CloseRequestAsync(Guid requestId, CancellationToken cancellationToken = default) =>
        CallAsync(_requests.CloseAsync(Action(requestId), cancellationToken: cancellationToken));

    /// <summary>Requested side: asks question <paramref name="questionId"/> (its text is a message in the thread).</summary>
    public Task<InformationRequest> RequestClarificationAsync(Guid requestId, Guid questionId, CancellationToken cancellationToken = default) =>
        CallAsync(_requests.RequestClarificationAsync(new ClarificationRequest { RequestId = requestId.ToString(), QuestionId = questionId.ToString() },
            cancellationToken: cancellationToken));

    /// <summary>Requesting side: answers the open question <paramref name="questionId"/>.</summary>
    public Task<InformationRequest> ProvideClarificationAsync(Guid requestId, Guid questionId, CancellationToken cancellationToken = default) =>
        CallAsync(_requests.ProvideClarificationAsync(new ClarificationRequest { RequestId = requestId.ToString(), QuestionId = questionId.ToString() },
            cancellationToken: cancellationToken));

    /// <summary>Either side: the request as it stands.</summary>
    public Task<InformationRequest> GetRequestAsync(Guid requestId, CancellationToken cancellationToken = default) =>
        CallAsync(_requests.GetRequestAsync(new GetRequestRequest { RequestId = requestId.ToString() }, cancellationToken: cancellationToken));

    /// <summary>The caller's authority's requests, newest first (incoming ones only once sent): the first page of <paramref name="limit"/> (0: 100).</summary>
    public async Task<IReadOnlyList<InformationRequest>> ListRequestsAsync(RequestDirection direction = RequestDirection.Unspecified,
        IEnumerable<RequestStatus>? statuses = null, bool overdueOnly = false, int limit = 0, CancellationToken cancellationToken = default) =>
        (await ListRequestPageAsync(direction, statuses, overdueOnly, limit, null, cancellationToken)).Requests;

    /// <summary>
    /// One page of the caller's authority's requests, newest first; pass the response's
    /// <c>NextPageToken</c> (empty on the last page) with the same filters for the next one.
    /// </summary>
    public Task<ListRequestsResponse> ListRequestPageAsync(RequestDirection direction = RequestDirection.Unspecified,
        IEnumerable<RequestStatus>? statuses = null, bool overdueOnly = false, int limit = 0, string? pageToken = null,
        CancellationToken cancellationToken = default)
    {
        var request = new ListRequestsRequest { Direction = direction, OverdueOnly = overdueOnly, Limit = limit, PageToken = pageToken ?? "" };
        request.Statuses.AddRange(statuses ?? []);
        return CallAsync(_requests.ListRequestsAsync(request, cancellationToken: cancellationToken));
    }

    /// <summary>Figures from metadata: every authority and State for network administrators, else the caller's authority.</summary>
    public Task<GetStatisticsResponse> GetRequestStatisticsAsync(DateTimeOffset? from = null, DateTimeOffset? to = null,
        CancellationToken cancellationToken = default) =>
        CallAsync(_requests.GetStatisticsAsync(new GetStatisticsRequest
        {
            From = from is { } f ? Timestamp.FromDateTimeOffset(f) : null,
            To = to is { } t ? Timestamp.FromDateTimeOffset(t) : null,
        }, cancellationToken: cancellationToken));

    private static RequestActionRequest Action(Guid requestId) => new() { RequestId = requestId.ToString() };
}

/// <summary>What <see cref="GlobeClient.SubmitRequestAsync"/> sends.</summary>
/// <param name="TemplateId">A published template.</param>
/// <param name="TemplateVersion">Its version; 0: the latest.</param>
/// <param name="RequestedAuthorityId">The authority asked.</param>
/// <param name="DraftJson">The filled form (validated against the template before anything is sent).</param>
/// <param name="Urgency">Sets the default deadlines; unspecified: the draft's <c>urgency</c> field, else normal.</param>
/// <param name="AnswerBy">An earlier answer deadline, if any.</param>
/// <param name="Spontaneous">A spontaneous disclosure (sent at once, never answered).</param>
/// <param name="RequestId">The request's id; null for a new one.</param>
/// <param name="SendNow">Send the request after drafting it (default); false leaves a draft.</param>
public sealed record RequestSubmission(
    string TemplateId,
    long TemplateVersion,
    Guid RequestedAuthorityId,
    string DraftJson,
    Urgency Urgency = Urgency.Unspecified,
    DateTimeOffset? AnswerBy = null,
    bool Spontaneous = false,
    Guid? RequestId = null,
    bool SendNow = true)
{
    /// <summary>Ids only: the form is never part of a string form.</summary>
    public override string ToString() => $"RequestSubmission({TemplateId} v{TemplateVersion} to {RequestedAuthorityId})";
}

/// <summary>A request as submitted: its state, its thread and the id of its form message.</summary>
public sealed record SubmittedRequest(InformationRequest Request, Guid ChannelId, Guid FormMessageId);

/// <summary>A request's filled form, decrypted and verified (<see cref="GlobeClient.ReadRequestFormAsync"/>).</summary>
public sealed record RequestForm(Guid RequestId, string TemplateId, long TemplateVersion, string Json, OpenedMessage Message)
{
    /// <summary>Ids only: the form is never part of a string form.</summary>
    public override string ToString() => $"RequestForm({RequestId}, {TemplateId} v{TemplateVersion})";
}

/// <summary>
/// A draft that does not satisfy its template: nothing was sent. <see cref="Problems"/> lists every
/// missing or malformed field by its path.
/// </summary>
public sealed class DraftRejectedException : Exception
{
    /// <summary>Creates the exception for the template version the draft was checked against.</summary>
    public DraftRejectedException(string templateId, long templateVersion, IReadOnlyList<DraftProblem> problems)
        : base($"The draft does not satisfy template {templateId} v{templateVersion}; nothing was sent. Fix: "
            + string.Join("; ", (problems ?? []).Select(p => p.ToString())))
    {
        TemplateId = templateId;
        TemplateVersion = templateVersion;
        Problems = problems ?? [];
    }

    /// <summary>The template checked against.</summary>
    public string TemplateId { get; }

    /// <summary>Its version.</summary>
    public long TemplateVersion { get; }

    /// <summary>Every problem, in template order.</summary>
    public IReadOnlyList<DraftProblem> Problems { get; }
}

/// <summary>
/// The urgency a request is sent with: the one asked for, else the draft's own <c>urgency</c>
/// field (an enum field of that id in any section whose value is normal, urgent or emergency),
/// else normal. A draft that says otherwise than the urgency asked for is a draft problem.
/// </summary>
internal static class RequestUrgency
{
    private static readonly Dictionary<string, Urgency> Values = new(StringComparer.Ordinal)
    {
        ["normal"] = Urgency.Normal,
        ["urgent"] = Urgency.Urgent,
        ["emergency"] = Urgency.Emergency,
    };

    public static Urgency Resolve(Template template, string draftJson, Urgency asked, List<DraftProblem> problems)
    {
        var (path, inDraft) = FromDraft(template, draftJson);
        if (inDraft is not { } said)
        {
            return asked == Urgency.Unspecified ? Urgency.Normal : asked;
        }

        if (asked != Urgency.Unspecified && asked != said)
        {
            problems.Add(new DraftProblem(path!, $"the draft says {Name(said)} but the request is to be sent as {Name(asked)}: make them agree"));
        }

        return said;
    }

    public static string Name(Urgency urgency) => Values.First(v => v.Value == urgency).Key;

    private static (string? Path, Urgency? Urgency) FromDraft(Template template, string draftJson)
    {
        var field = template.Sections
            .SelectMany(s => s.Fields.Select(f => (Section: s.SectionId, Field: f)))
            .FirstOrDefault(x => x.Field.FieldId == "urgency" && x.Field.Type == FieldType.Enum && !x.Field.List);
        if (field.Field is null)
        {
            return (null, null);
        }

        try
        {
            using var draft = JsonDocument.Parse(draftJson);
            if (draft.RootElement.ValueKind == JsonValueKind.Object
                && draft.RootElement.TryGetProperty(field.Section, out var section) && section.ValueKind == JsonValueKind.Object
                && section.TryGetProperty(field.Field.FieldId, out var value) && value.ValueKind == JsonValueKind.String
                && Values.TryGetValue(value.GetString()!, out var urgency))
            {
                return ($"{field.Section}.{field.Field.FieldId}", urgency);
            }
        }
        catch (JsonException)
        {
            // The validator has already reported it.
        }

        return (null, null);
    }
}
