using GlobeSecure.Contracts.V1;
using GlobeSecure.Crypto;
using GlobeSecure.EventStore;
using GlobeSecure.Server.Identity;
using GlobeSecure.Server.Infrastructure;
using GlobeSecure.Server.Membership;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Microsoft.Extensions.Options;
using ProtoChannelCreated = GlobeSecure.Contracts.V1.ChannelCreated;
using ProtoEpochStarted = GlobeSecure.Contracts.V1.EpochStarted;

namespace GlobeSecure.Server.Channels;

/// <summary>
/// Thin gRPC surface of case channels: authenticate → validate → look up what the deciders need
/// in the directory → decide → append (with the audit entry) → map back.
/// </summary>
internal sealed class ChannelService(
    PostgresEventStore store,
    Access access,
    TimeProvider clock,
    ChannelReadModel read,
    IDeviceDirectory directory,
    IAuthorities authorities,
    ChannelStates channels,
    ChannelAccess membership,
    IDocumentCatalog documents,
    IOptions<ChannelOptions> options) : Contracts.V1.ChannelService.ChannelServiceBase
{
    private const int DefaultPageSize = 100;
    private const int MaxPageSize = 500;

    // A send decided on stale state is decided again; this many times at most under contention.
    private const int MaxSendAttempts = 5;

    public override async Task<Channel> CreateChannel(CreateChannelRequest request, ServerCallContext context)
    {
        var caller = await access.RequireRoleAsync(context, request.ChannelId, Role.Investigator);
        var v = new Violations();
        var channelId = v.Id("channel_id", request.ChannelId);
        if (request.EncryptedInfo.Length is < ChannelWire.MinInfoBytes or > ChannelWire.MaxInfoBytes)
        {
            v.Add("encrypted_info", $"{ChannelWire.MinInfoBytes} to {ChannelWire.MaxInfoBytes} bytes: nonce and ciphertext (got {request.EncryptedInfo.Length})");
        }

        ChannelWire.HandlingCode(v, "default_handling_code", request.DefaultHandlingCode);
        var distribution = ChannelWire.Distribution(v, "first_epoch", request.FirstEpoch);
        v.ThrowIfAny();

        var ct = context.CancellationToken;
        var authority = await authorities.FindAsync(caller.AuthorityId, ct) ?? throw new NotFoundException("authority", caller.AuthorityId.ToString());
        var users = await directory.UsersOfAuthorityAsync(caller.AuthorityId, ct);
        var proposal = await ProposalAsync("first_epoch", distribution, caller, users.Select(u => u.UserId), ct);
        await store.DecideAsync(ChannelDecider.StreamId(channelId), ChannelState.Initial, ChannelDecider.Evolve,
            s => ChannelDecider.Decide(new CreateChannel(channelId, caller.UserId, caller.DeviceId, caller.Role, authority, request.EncryptedInfo.ToByteArray(),
                request.DefaultHandlingCode, users, proposal, clock.GetUtcNow()), s),
            access.Allowed(context, channelId.ToString()), cancellationToken: ct);
        return await ChannelAsync(channelId, ct);
    }

    public override async Task<Channel> GetChannel(GetChannelRequest request, ServerCallContext context)
    {
        var caller = await access.RequireAuthenticatedAsync(context, request.ChannelId);
        var channelId = Violations.RequiredId("channel_id", request.ChannelId);
        var row = await MemberChannelAsync(context, caller, channelId);
        await access.RecordReadAsync(context, channelId.ToString());
        return ChannelWire.ToProto(row, await RotationRequiredAsync(row, context.CancellationToken));
    }

    public override async Task<ListChannelsResponse> ListChannels(ListChannelsRequest request, ServerCallContext context)
    {
        var caller = await access.RequireAuthenticatedAsync(context);
        var response = new ListChannelsResponse();
        foreach (var row in await read.ChannelsOfAsync(caller.UserId, context.CancellationToken))
        {
            response.Channels.Add(ChannelWire.ToProto(row, await RotationRequiredAsync(row, context.CancellationToken)));
        }

        await access.RecordReadAsync(context);
        return response;
    }

    public override async Task<Channel> AddMembers(AddMembersRequest request, ServerCallContext context)
    {
        var caller = await access.RequireAuthenticatedAsync(context, request.ChannelId);
        var (channelId, authorityIds, userIds, distribution, info) = ChannelWire.EpochChange(request.ChannelId, request.NextEpoch, request.EncryptedInfo,
            "add", request.AuthorityIds, request.UserIds);

        var ct = context.CancellationToken;
        var row = await MemberChannelAsync(context, caller, channelId);
        var views = new List<AuthorityView>();
        var candidates = new List<Candidate>();
        foreach (var authorityId in authorityIds)
        {
            var authority = await authorities.FindAsync(authorityId, ct) ?? throw new NotFoundException("authority", authorityId.ToString());
            views.Add(authority);
            candidates.AddRange((await directory.UsersOfAuthorityAsync(authorityId, ct)).Select(u => new Candidate(u, authority, Named: false)));
        }

        foreach (var userId in userIds)
        {
            var user = await directory.FindUserAsync(userId, ct) ?? throw new NotFoundException("user", userId.ToString());
            var authority = await authorities.FindAsync(user.AuthorityId, ct) ?? throw new NotFoundException("authority", user.AuthorityId.ToString());
            candidates.Add(new Candidate(user, authority, Named: true));
        }

        var proposal = await ProposalAsync("next_epoch", distribution, caller,
            row.Members.Select(m => m.UserId).Concat(candidates.Select(c => c.User.UserId)), ct) with { EncryptedInfo = info };
        await DecideAsync(context, new AddMembers(channelId, caller.UserId, caller.DeviceId, views, candidates, proposal, clock.GetUtcNow()));
        return await ChannelAsync(channelId, ct);
    }

    public override async Task<Channel> RemoveMembers(RemoveMembersRequest request, ServerCallContext context)
    {
        var caller = await access.RequireAuthenticatedAsync(context, request.ChannelId);
        var (channelId, authorityIds, userIds, distribution, info) = ChannelWire.EpochChange(request.ChannelId, request.NextEpoch, request.EncryptedInfo,
            "remove", request.AuthorityIds, request.UserIds);

        var row = await MemberChannelAsync(context, caller, channelId);
        var proposal = await ProposalAsync("next_epoch", distribution, caller, row.Members.Select(m => m.UserId), context.CancellationToken)
            with { EncryptedInfo = info };
        await DecideAsync(context, new RemoveMembers(channelId, caller.UserId, caller.DeviceId, authorityIds, userIds, proposal, clock.GetUtcNow()));
        return await ChannelAsync(channelId, context.CancellationToken);
    }

    public override async Task<Channel> RotateEpoch(RotateEpochRequest request, ServerCallContext context)
    {
        var caller = await access.RequireAuthenticatedAsync(context, request.ChannelId);
        var (channelId, _, _, distribution, info) = ChannelWire.EpochChange(request.ChannelId, request.NextEpoch, request.EncryptedInfo);

        var row = await MemberChannelAsync(context, caller, channelId);
        var proposal = await ProposalAsync("next_epoch", distribution, caller, row.Members.Select(m => m.UserId), context.CancellationToken)
            with { EncryptedInfo = info };
        await DecideAsync(context, new RotateEpoch(channelId, caller.UserId, caller.DeviceId, proposal, clock.GetUtcNow()));
        return await ChannelAsync(channelId, context.CancellationToken);
    }

    public override async Task<Contracts.V1.EpochKeyDistribution> GetEpochKey(GetEpochKeyRequest request, ServerCallContext context)
    {
        var caller = await access.RequireAuthenticatedAsync(context, request.ChannelId);
        var channelId = Violations.RequiredId("channel_id", request.ChannelId);
        if (request.Epoch < 0)
        {
            throw new ValidationException("epoch", "must be 0 (the current epoch) or more");
        }

        var row = await MemberChannelAsync(context, caller, channelId);
        var epoch = request.Epoch == 0 ? row.CurrentEpoch : request.Epoch;
        var distribution = await read.EpochAsync(channelId, epoch, context.CancellationToken);
        if (distribution is not null && distribution.Recipients.All(r => r.DeviceId != caller.DeviceId))
        {
            distribution = await read.SharedEpochAsync(channelId, epoch, caller.DeviceId, context.CancellationToken);
        }

        if (distribution is null)
        {
            // A device that was not a recipient (enrolled later, or of a newcomer) learns nothing about the epoch.
            throw new NotFoundException("epoch key for this device", $"{channelId}/{epoch}");
        }

        await access.RecordReadAsync(context, $"{channelId}/{epoch}");
        return ChannelWire.ToProto(distribution);
    }

    public override async Task<ShareHistoryResponse> ShareHistory(ShareHistoryRequest request, ServerCallContext context)
    {
        var caller = await access.RequireAuthenticatedAsync(context, request.ChannelId);
        var v = new Violations();
        var channelId = v.Id("channel_id", request.ChannelId);
        var userId = v.Id("user_id", request.UserId);
        if (request.Epochs.Count is 0 or > ChannelWire.MaxRecipients)
        {
            v.Add("epochs", $"1 to {ChannelWire.MaxRecipients} epochs (got {request.Epochs.Count})");
        }

        var epochs = request.Epochs.Take(ChannelWire.MaxRecipients).Select((d, i) => ChannelWire.Distribution(v, $"epochs[{i}]", d)).ToList();
        v.ThrowIfAny();

        var ct = context.CancellationToken;
        await MemberChannelAsync(context, caller, channelId);
        var share = new ShareHistory(channelId, caller.UserId, caller.DeviceId, userId, epochs, await directory.VerifiedDeviceAsync(caller.DeviceId, ct),
            await directory.CertifiedDevicesAsync(userId, ct), clock.GetUtcNow());
        await store.DecideAsync(ChannelDecider.StreamId(channelId), ChannelState.Initial, ChannelDecider.Evolve,
            s => ChannelDecider.Decide(share, s), access.Allowed(context, $"{channelId}/{userId}"), cancellationToken: ct);
        var response = new ShareHistoryResponse();
        response.Epochs.AddRange(epochs.Select(e => e.Epoch).Order());
        return response;
    }

    public override async Task<StoredMessage> SendMessage(SendMessageRequest request, ServerCallContext context)
    {
        var caller = await access.RequireAuthenticatedAsync(context, request.Envelope?.Header?.MessageId);
        var v = new Violations();
        var envelope = ChannelWire.Envelope(v, "envelope", request.Envelope);
        v.ThrowIfAny();

        var ct = context.CancellationToken;
        var header = envelope.Header;
        var parent = header.ReplyToMessageId == Guid.Empty
            ? null
            : (await store.AggregateStreamAsync(MessageDecider.StreamId(header.ReplyToMessageId), MessageState.Initial, MessageDecider.Evolve, ct)).State.Accepted;
        var send = new SendMessage(envelope, caller.UserId, caller.DeviceId, null, parent, clock.GetUtcNow());
        if (header.ForwardOfMessageId != Guid.Empty
            && (await store.AggregateStreamAsync(MessageDecider.StreamId(header.ForwardOfMessageId), MessageState.Initial, MessageDecider.Evolve, ct)).State.Accepted
                is { } original)
        {
            var originalChannel = await channels.LoadAsync(original.ChannelId, ct);
            send = send with
            {
                Original = (original, originalChannel.State),
                ConsentGranted = await read.ConsentGrantedAsync(original.MessageId, header.ChannelId, ct),
            };
        }

        var accepted = await AcceptAsync(context, send);
        if (accepted is not null)
        {
            // Just stored: the answer is what was appended (accepted_at as the read model keeps it, to
            // the microsecond), without reading the row back.
            return ChannelWire.ToProto(new MessageRow(accepted.Value.Position, accepted.Value.Message.Envelope,
                CanonicalWriter.TruncateToMicroseconds(accepted.Value.Message.AcceptedAt)));
        }

        // A retry of a stored message: the stored one.
        var stored = await read.MessageAsync(header.MessageId, ct) ?? throw new InvalidOperationException("An accepted message is not in the read model.");
        return ChannelWire.ToProto(stored);
    }

    /// <summary>
    /// Decides and appends a message; null when its id was already used by the same envelope
    /// (the stored message is the answer). The common case reads nothing: the channel and the
    /// sender's verified chain as this process last knew them, and no message stream yet. The
    /// append is conditioned on the channel's stream and the identity streams of the chain's
    /// devices still being at those versions, and the message's stream at the version decided
    /// on, so a membership change, a new epoch or a revocation committed meanwhile (through any
    /// process) fails it; then all of them are read afresh and the decision is taken again. A
    /// refusal is only ever given on freshly read state.
    /// </summary>
    private async Task<(MessageAccepted Message, long Position)?> AcceptAsync(ServerCallContext context, SendMessage send)
    {
        var header = send.Envelope.Header;
        var streamId = MessageDecider.StreamId(header.MessageId);
        var audit = access.Allowed(context, header.MessageId.ToString());
        var ct = context.CancellationToken;
        var channel = await channels.KnownAsync(header.ChannelId, ct);
        var sender = await directory.KnownVerifiedDeviceAsync(send.CallerDeviceId, fresh: false, ct);
        var message = new Aggregate<MessageState>(MessageState.Initial, 0);
        var attached = await AttachedAsync();
        var fresh = false;
        for (var attempt = 1; ; attempt++)
        {
            IReadOnlyList<object> events;
            try
            {
                events = MessageDecider.Decide(send with { Sender = sender?.Device, Documents = attached }, channel.State, message.State);
            }
            catch (DomainException) when (!fresh)
            {
                // Perhaps stale knowledge, or a retry of a message stored before: decide again on what is stored.
                (channel, sender, message, fresh) = await FreshAsync();
                attached = await AttachedAsync();
                continue;
            }

            try
            {
                var append = await store.AppendAsync(streamId, ExpectedVersion.Exactly(message.Version), [.. events.Select(NewEvent.From)],
                    [new StreamCondition(ChannelDecider.StreamId(header.ChannelId), channel.Version), .. sender?.Conditions ?? [],
                        .. attached.Select(d => new StreamCondition(d.StreamId, d.Version))], audit,
                    cancellationToken: ct);
                return events is [MessageAccepted accepted] ? (accepted, append.FirstPosition) : null;
            }
            catch (WrongExpectedVersionException) when (attempt < MaxSendAttempts)
            {
                (channel, sender, message, fresh) = await FreshAsync();
                attached = await AttachedAsync();
            }
        }

        // The documents the header names, with their versions: a document expired or deleted meanwhile fails the append.
        async Task<IReadOnlyList<AttachableDocument>> AttachedAsync() =>
            header.DocumentIds.Count == 0 ? [] : await documents.FindAsync(header.DocumentIds, ct);

        async Task<(Aggregate<ChannelState>, ConditionalDevice?, Aggregate<MessageState>, bool)> FreshAsync() =>
            (await channels.LoadAsync(header.ChannelId, ct), await directory.KnownVerifiedDeviceAsync(send.CallerDeviceId, fresh: true, ct),
                await store.AggregateStreamAsync(streamId, MessageState.Initial, MessageDecider.Evolve, ct), true);
    }

    public override async Task<SubmitReceiptResponse> SubmitReceipt(SubmitReceiptRequest request, ServerCallContext context)
    {
        var caller = await access.RequireAuthenticatedAsync(context, request.Receipt?.MessageId);
        var v = new Violations();
        var receipt = ChannelWire.Receipt(v, "receipt", request.Receipt);
        v.ThrowIfAny();

        var ct = context.CancellationToken;
        var channel = await channels.LoadAsync(receipt.ChannelId, ct);
        var message = await store.AggregateStreamAsync(MessageDecider.StreamId(receipt.MessageId), MessageState.Initial, MessageDecider.Evolve, ct);
        var submit = new SubmitReceipt(receipt, caller.UserId, caller.DeviceId, await directory.VerifiedDeviceAsync(caller.DeviceId, ct), message.State.Accepted,
            channel.State, clock.GetUtcNow());
        await store.DecideAsync(ReceiptDecider.StreamId(receipt.MessageId), ReceiptsState.Initial, ReceiptDecider.Evolve,
            s => ReceiptDecider.Decide(submit, s), access.Allowed(context, receipt.MessageId.ToString()), cancellationToken: ct);
        return new SubmitReceiptResponse();
    }

    public override async Task<ListReceiptsResponse> ListReceipts(ListReceiptsRequest request, ServerCallContext context)
    {
        var caller = await access.RequireAuthenticatedAsync(context, request.MessageId);
        var message = await MemberMessageAsync(context, caller, request.ChannelId, request.MessageId);
        var messageId = message.Envelope.MessageId;
        if (message.Envelope.SenderUserId != caller.UserId)
        {
            await access.DenyAsync(context, caller, messageId.ToString(), "only the sender of a message lists its receipts");
        }

        await access.RecordReadAsync(context, messageId.ToString());
        var response = new ListReceiptsResponse();
        response.Receipts.AddRange((await read.ReceiptsAsync(messageId, context.CancellationToken)).Select(ChannelWire.ToProto));
        return response;
    }

    public override async Task<Consent> RequestConsent(RequestConsentRequest request, ServerCallContext context)
    {
        var caller = await access.RequireAuthenticatedAsync(context, request.ConsentId);
        var v = new Violations();
        var consentId = v.Id("consent_id", request.ConsentId);
        var messageId = v.Id("message_id", request.MessageId);
        var targetId = v.Id("target_channel_id", request.TargetChannelId);
        var reason = v.Text("reason", request.Reason, 500);
        v.ThrowIfAny();

        var ct = context.CancellationToken;
        var message = (await store.AggregateStreamAsync(MessageDecider.StreamId(messageId), MessageState.Initial, MessageDecider.Evolve, ct)).State.Accepted;
        var origin = message is null
            ? ChannelState.Initial
            : (await channels.LoadAsync(message.ChannelId, ct)).State;
        var target = (await channels.LoadAsync(targetId, ct)).State
            with { ChannelId = targetId };
        var originator = message is null ? null : await directory.FindUserAsync(message.Envelope.SenderUserId, ct);
        var command = new RequestConsent(consentId, messageId, message, origin, target, originator?.AuthorityId ?? Guid.Empty, caller.UserId, reason, clock.GetUtcNow());
        await store.DecideAsync(ConsentDecider.StreamId(consentId), ConsentState.Initial, ConsentDecider.Evolve, s => ConsentDecider.Decide(command, s),
            access.Allowed(context, consentId.ToString()), cancellationToken: ct);
        return await read.ConsentAsync(consentId, ct) ?? throw new NotFoundException("consent request", consentId.ToString());
    }

    public override Task<Consent> GrantConsent(DecideConsentRequest request, ServerCallContext context) => DecideConsentAsync(request, context, grant: true);

    public override Task<Consent> DenyConsent(DecideConsentRequest request, ServerCallContext context) => DecideConsentAsync(request, context, grant: false);

    private async Task<Consent> DecideConsentAsync(DecideConsentRequest request, ServerCallContext context, bool grant)
    {
        var caller = await access.RequireRoleAsync(context, request.ConsentId, Role.Investigator, Role.AuthorityAdministrator);
        var v = new Violations();
        var consentId = v.Id("consent_id", request.ConsentId);
        var reason = v.Text("reason", request.Reason, 500, required: !grant);
        v.ThrowIfAny();

        var command = new DecideConsent(consentId, grant, caller.UserId, caller.AuthorityId, caller.Role, reason, clock.GetUtcNow());
        await store.DecideAsync(ConsentDecider.StreamId(consentId), ConsentState.Initial, ConsentDecider.Evolve, s => ConsentDecider.Decide(command, s),
            access.Allowed(context, consentId.ToString()), cancellationToken: context.CancellationToken);
        return await read.ConsentAsync(consentId, context.CancellationToken) ?? throw new NotFoundException("consent request", consentId.ToString());
    }

    public override async Task<StoredMessage> GetMessage(GetMessageRequest request, ServerCallContext context)
    {
        var caller = await access.RequireAuthenticatedAsync(context, request.MessageId);
        var message = await MemberMessageAsync(context, caller, request.ChannelId, request.MessageId);
        var messageId = message.Envelope.MessageId;
        await access.RecordReadAsync(context, messageId.ToString());
        return ChannelWire.ToProto(message);
    }

    public override async Task<HistoryResponse> History(HistoryRequest request, ServerCallContext context)
    {
        var caller = await access.RequireAuthenticatedAsync(context, request.ChannelId);
        var v = new Violations();
        var channelId = v.Id("channel_id", request.ChannelId);
        if (request.PageSize is < 0 or > MaxPageSize)
        {
            v.Add("page_size", $"0 (default {DefaultPageSize}) to {MaxPageSize}");
        }

        if (request.BeforePosition < 0 || request.AfterPosition < 0)
        {
            v.Add("before_position", "positions are 0 or more");
        }

        v.ThrowIfAny();
        await MemberChannelAsync(context, caller, channelId);
        var messages = await read.MessagesAsync(channelId, request.BeforePosition, request.AfterPosition,
            request.PageSize == 0 ? DefaultPageSize : request.PageSize, context.CancellationToken);
        await access.RecordReadAsync(context, channelId.ToString());
        var response = new HistoryResponse();
        response.Messages.AddRange(messages.Select(ChannelWire.ToProto));
        return response;
    }

    public override async Task Subscribe(SubscribeRequest request, IServerStreamWriter<ChannelEvent> responseStream, ServerCallContext context)
    {
        var caller = await access.RequireAuthenticatedAsync(context);
        if (request.AfterPosition < 0)
        {
            throw new ValidationException("after_position", "0 or more");
        }

        var ct = context.CancellationToken;
        var memberships = new MembershipTracker(await read.MembershipsAsync(caller.UserId, ct));
        await access.RecordReadAsync(context, request.AfterPosition.ToString(System.Globalization.CultureInfo.InvariantCulture));
        await foreach (var stored in store.SubscribeAsync(request.AfterPosition, ct))
        {
            switch (stored.Data)
            {
                case DeviceRevoked revoked when revoked.DeviceId == caller.DeviceId:
                    throw new UnauthenticatedException("This device was revoked; the subscription ended.");
                case AuthoritySuspended or AuthorityWithdrawn when AuthorityOf(stored.Data) == caller.AuthorityId:
                    throw new PermissionDeniedException("Permission denied: your authority is no longer active; the subscription ended.");
            }

            memberships.Observe(stored, caller.UserId);
            if (ToEvent(stored) is { } channelEvent && memberships.WasMember(Guid.Parse(channelEvent.ChannelId), stored.Position))
            {
                await responseStream.WriteAsync(channelEvent, ct);
            }
        }
    }

    private static Guid AuthorityOf(object e) => e switch
    {
        AuthoritySuspended s => s.AuthorityId,
        AuthorityWithdrawn w => w.AuthorityId,
        _ => Guid.Empty,
    };

    private static ChannelEvent? ToEvent(StoredEvent stored)
    {
        var e = new ChannelEvent { Position = stored.Position };
        switch (stored.Data)
        {
            case ChannelCreated c:
                e.ChannelId = c.ChannelId.ToString();
                e.At = Timestamp.FromDateTimeOffset(c.CreatedAt);
                e.Created = new ProtoChannelCreated
                {
                    CreatedByUserId = c.CreatedByUserId.ToString(),
                    EncryptedInfo = ByteString.CopyFrom(c.EncryptedInfo),
                    DefaultHandlingCode = c.DefaultHandlingCode,
                };
                e.Created.Members.AddRange(c.Members.Select(ChannelWire.Member));
                return e;
            case MembersAdded a:
                e.ChannelId = a.ChannelId.ToString();
                e.At = Timestamp.FromDateTimeOffset(a.AddedAt);
                e.MembersChanged = new MembersChanged { ByUserId = a.ByUserId.ToString() };
                e.MembersChanged.Added.AddRange(a.Members.Select(ChannelWire.Member));
                return e;
            case MembersRemoved r:
                e.ChannelId = r.ChannelId.ToString();
                e.At = Timestamp.FromDateTimeOffset(r.RemovedAt);
                e.MembersChanged = new MembersChanged { ByUserId = r.ByUserId.ToString() };
                e.MembersChanged.RemovedUserIds.AddRange(r.UserIds.Select(u => u.ToString()));
                return e;
            case EpochStarted s:
                e.ChannelId = s.ChannelId.ToString();
                e.At = Timestamp.FromDateTimeOffset(s.StartedAt);
                e.EpochStarted = new ProtoEpochStarted { Epoch = s.Distribution.Epoch, CreatorDeviceId = s.Distribution.CreatorDeviceId.ToString() };
                return e;
            case HistoryShared h:
                e.ChannelId = h.ChannelId.ToString();
                e.At = Timestamp.FromDateTimeOffset(h.SharedAt);
                e.HistoryShared = new Contracts.V1.HistoryShared { UserId = h.ForUserId.ToString(), ByUserId = h.ByUserId.ToString() };
                e.HistoryShared.Epochs.AddRange(h.Epochs.Select(d => d.Epoch));
                return e;
            case ConsentRequested c:
                e.ChannelId = c.OriginChannelId.ToString();
                e.At = Timestamp.FromDateTimeOffset(c.RequestedAt);
                e.Consent = new Consent
                {
                    ConsentId = c.ConsentId.ToString(),
                    MessageId = c.MessageId.ToString(),
                    OriginChannelId = c.OriginChannelId.ToString(),
                    TargetChannelId = c.TargetChannelId.ToString(),
                    OriginatorAuthorityId = c.OriginatorAuthorityId.ToString(),
                    RequestedByUserId = c.RequestedByUserId.ToString(),
                    Reason = c.Reason,
                    Status = ConsentStatus.Pending,
                    RequestedAt = e.At,
                };
                return e;
            case ConsentGranted g:
                return Decision(e, g.ConsentId, g.OriginChannelId, g.ByUserId, g.Note, g.GrantedAt, ConsentStatus.Granted);
            case ConsentDenied d:
                return Decision(e, d.ConsentId, d.OriginChannelId, d.ByUserId, d.Reason, d.DeniedAt, ConsentStatus.Denied);
            case MessageAccepted m:
                e.ChannelId = m.ChannelId.ToString();
                e.At = Timestamp.FromDateTimeOffset(m.AcceptedAt);
                e.Message = ChannelWire.ToProto(new MessageRow(stored.Position, m.Envelope, m.AcceptedAt));
                return e;
            default:
                return null;
        }
    }

    /// <summary>A consent decision as a channel event: the decision only; the request (an earlier event) carries the rest.</summary>
    private static ChannelEvent Decision(ChannelEvent e, Guid consentId, Guid originId, Guid by, string note, DateTimeOffset at, ConsentStatus status)
    {
        e.ChannelId = originId.ToString();
        e.At = Timestamp.FromDateTimeOffset(at);
        e.Consent = new Consent
        {
            ConsentId = consentId.ToString(),
            OriginChannelId = originId.ToString(),
            Status = status,
            DecidedByUserId = by.ToString(),
            DecisionReason = note,
            DecidedAt = e.At,
        };
        return e;
    }

    private async Task DecideAsync(ServerCallContext context, ChannelCommand command) =>
        await store.DecideAsync(ChannelDecider.StreamId(command.ChannelId), ChannelState.Initial, ChannelDecider.Evolve,
            s => ChannelDecider.Decide(command, s), access.Allowed(context, command.ChannelId.ToString()), cancellationToken: context.CancellationToken);

    /// <summary>A message of a channel the caller is a member of (ids validated; NOT_FOUND when it is not in that channel).</summary>
    private async Task<MessageRow> MemberMessageAsync(ServerCallContext context, Caller caller, string channelText, string messageText)
    {
        var v = new Violations();
        var channelId = v.Id("channel_id", channelText);
        var messageId = v.Id("message_id", messageText);
        v.ThrowIfAny();

        await MemberChannelAsync(context, caller, channelId);
        var message = await read.MessageAsync(messageId, context.CancellationToken);
        return message is not null && message.Envelope.ChannelId == channelId ? message : throw new NotFoundException("message", messageId.ToString());
    }

    private Task<ChannelRow> MemberChannelAsync(ServerCallContext context, Caller caller, Guid channelId) =>
        membership.MemberChannelAsync(context, caller, channelId);

    private async Task<EpochProposal> ProposalAsync(string field, Crypto.EpochKeyDistribution distribution, Caller caller, IEnumerable<Guid> users,
        CancellationToken ct)
    {
        var devices = await directory.CertifiedDevicesAsync(users, ct);
        return new EpochProposal(field, distribution, await directory.VerifiedDeviceAsync(caller.DeviceId, ct), devices);
    }

    /// <summary>The current epoch is due: by message count or age (options), or its recipients are no longer exactly the members' devices.</summary>
    private async Task<bool> RotationRequiredAsync(ChannelRow row, CancellationToken ct)
    {
        if (row.MessagesInEpoch >= options.Value.RotateAfterMessages || clock.GetUtcNow() - row.EpochStartedAt >= options.Value.RotateAfterAge)
        {
            return true;
        }

        var current = await read.EpochAsync(row.ChannelId, row.CurrentEpoch, ct);
        var expected = (await directory.CertifiedDevicesAsync(row.Members.Select(m => m.UserId), ct)).Values.SelectMany(d => d).ToHashSet();

        return current is null || !expected.SetEquals(current.Recipients.Select(r => r.DeviceId));
    }

    private async Task<Channel> ChannelAsync(Guid channelId, CancellationToken ct)
    {
        var row = await read.ChannelAsync(channelId, ct) ?? throw new NotFoundException("channel", channelId.ToString());
        return ChannelWire.ToProto(row, await RotationRequiredAsync(row, ct));
    }


    /// <summary>Which channels the subscriber belonged to at each position: the read model's intervals, kept up to date from the stream.</summary>
    private sealed class MembershipTracker(IReadOnlyList<MembershipInterval> intervals)
    {
        private readonly List<MembershipInterval> _intervals = [.. intervals];

        public void Observe(StoredEvent stored, Guid userId)
        {
            switch (stored.Data)
            {
                case ChannelCreated c when c.Members.Any(m => m.UserId == userId):
                    Open(c.ChannelId, stored.Position);
                    break;
                case MembersAdded a when a.Members.Any(m => m.UserId == userId):
                    Open(a.ChannelId, stored.Position);
                    break;
                case MembersRemoved r when r.UserIds.Contains(userId):
                    // The interval this removal ends: open and begun before it. A subscription that
                    // resumes from before a removal replays it while the member's later interval (a
                    // re-addition, read from the projection) is open; that one must stay open.
                    var open = _intervals.FindIndex(i => i.ChannelId == r.ChannelId && i.To is null && i.From < stored.Position);
                    if (open >= 0)
                    {
                        _intervals[open] = _intervals[open] with { To = stored.Position };
                    }

                    break;
            }
        }

        // The removal event itself is still delivered, so the removed member learns of it.
        public bool WasMember(Guid channelId, long position) =>
            _intervals.Exists(i => i.ChannelId == channelId && i.From <= position && (i.To is null || position <= i.To));

        private void Open(Guid channelId, long position)
        {
            if (!_intervals.Exists(i => i.ChannelId == channelId && i.From == position))
            {
                _intervals.Add(new MembershipInterval(channelId, position, null));
            }
        }
    }
}
