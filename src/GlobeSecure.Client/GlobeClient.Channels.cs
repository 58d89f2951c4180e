using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Text;
using GlobeSecure.Contracts.V1;
using GlobeSecure.Crypto;
using Google.Protobuf;
using Grpc.Core;
using CryptoDistribution = GlobeSecure.Crypto.EpochKeyDistribution;
using CryptoEnvelope = GlobeSecure.Crypto.MessageEnvelope;
using CryptoHeader = GlobeSecure.Crypto.MessageHeader;
using CryptoReceipt = GlobeSecure.Crypto.Receipt;
using CryptoReceiptKind = GlobeSecure.Crypto.ReceiptKind;
using WireChannel = GlobeSecure.Contracts.V1.Channel;

namespace GlobeSecure.Client;

/// <summary>Case channels: every key is handled here (docs/channels.md, docs/protocol.md §7–§9).</summary>
public sealed partial class GlobeClient
{
    // A verified sender or member device is trusted this long before its chain is checked again
    // against the directory (a revocation published meanwhile is then seen).
    private static readonly TimeSpan DeviceCacheLifetime = TimeSpan.FromMinutes(5);

    private readonly ConcurrentDictionary<(Guid Channel, long Epoch), EpochKey> _epochKeys = new();
    private readonly ConcurrentDictionary<Guid, (VerifiedDevice Device, DateTimeOffset At)> _verifiedDevices = new();
    private WhoAmIResponse? _me;

    /// <summary>The default content type of text messages.</summary>
    public const string TextContentType = "text/plain; charset=utf-8";

    // ---------------------------------------------------------------- channels

    /// <summary>
    /// Investigators: opens a case channel whose first members are every investigator of the
    /// caller's authority. Generates epoch 1, seals it to exactly their verified devices, and
    /// encrypts the title and description under it: the server never sees them.
    /// </summary>
    /// <param name="title">1 to 200 characters.</param>
    /// <param name="description">Optional; title and description together at most about 4 KB.</param>
    /// <param name="defaultHandlingCode">The default handling code of new messages: H0, H1 (default), H2 or "H3:conditions".</param>
    /// <param name="channelId">The channel's id; null for a new one.</param>
    /// <param name="cancellationToken">Cancels the calls.</param>
    public async Task<WireChannel> CreateChannelAsync(string title, string? description = null, string defaultHandlingCode = "H1",
        Guid? channelId = null, CancellationToken cancellationToken = default)
    {
        var me = await MeAsync(cancellationToken);
        if (me.Role != Role.Investigator)
        {
            throw new GlobeClientException(StatusCode.PermissionDenied, null,
                $"Only investigators open case channels; this device's user is a {RoleName(me.Role)}.");
        }

        var id = channelId ?? Guid.CreateVersion7();
        var devices = (await FindDevicesAsync(new DeviceScope(AuthorityId: Wire.ParseId(me.AuthorityId, "authority id")), cancellationToken))
            .Where(d => d.Role == DeviceRole.Investigator).ToList();
        var key = EpochKey.Generate(id, 1);
        try
        {
            var info = new ChannelInfo(title, description ?? "").Seal(key);
            WireChannel channel;
            try
            {
                channel = await CallAsync(_channels.CreateChannelAsync(new CreateChannelRequest
                {
                    ChannelId = id.ToString(),
                    EncryptedInfo = ByteString.CopyFrom(info),
                    DefaultHandlingCode = defaultHandlingCode,
                    FirstEpoch = Distribute(key, devices, me).ToProto(),
                }, cancellationToken: cancellationToken));
            }
            catch (GlobeClientException e) when (e.Status == StatusCode.AlreadyExists && channelId is null)
            {
                // A fresh id is taken only by this call itself: the retry of a creation whose
                // answer was lost (the retry sends the identical request). It is the channel.
                channel = await GetChannelAsync(id, cancellationToken);
            }

            Remember(key);
            return channel;
        }
        catch
        {
            key.Dispose();
            throw;
        }
    }

    /// <summary>Members: the channel as the server sees it.</summary>
    public Task<WireChannel> GetChannelAsync(Guid channelId, CancellationToken cancellationToken = default) =>
        CallAsync(_channels.GetChannelAsync(new GetChannelRequest { ChannelId = channelId.ToString() }, cancellationToken: cancellationToken));

    /// <summary>The channels the caller is a member of.</summary>
    public async Task<IReadOnlyList<WireChannel>> ListChannelsAsync(CancellationToken cancellationToken = default) =>
        (await CallAsync(_channels.ListChannelsAsync(new ListChannelsRequest(), cancellationToken: cancellationToken))).Channels;

    /// <summary>
    /// The channel's title and description, decrypted with the key of the epoch they are sealed
    /// under (<c>Channel.info_epoch</c>: every epoch this library starts re-seals them, so members
    /// who join later can read them). Null when this device does not hold that key.
    /// </summary>
    /// <exception cref="GlobeTrustException">The key's distribution or the info does not verify.</exception>
    public async Task<ChannelInfo?> ReadChannelInfoAsync(WireChannel channel, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(channel);
        var channelId = Wire.ParseId(channel.ChannelId, "channel id");
        EpochKey key;
        try
        {
            key = await EpochKeyAsync(channelId, Math.Max(1, channel.InfoEpoch), cancellationToken);
        }
        catch (GlobeClientException e) when (e.Status == StatusCode.NotFound)
        {
            return null;
        }

        try
        {
            return ChannelInfo.Open(channel.EncryptedInfo.Span, key);
        }
        catch (GlobeCryptoException e)
        {
            throw new GlobeTrustException($"The title of channel {channelId} does not decrypt with its epoch-{key.Epoch} key ({e.Message}): refused.", e);
        }
    }

    /// <summary>
    /// Members: adds whole authorities (their investigators) and/or named users, and starts the
    /// next epoch sealed to exactly the devices of the members after the change.
    /// </summary>
    public async Task<WireChannel> AddMembersAsync(Guid channelId, IEnumerable<Guid>? authorityIds = null, IEnumerable<Guid>? userIds = null,
        CancellationToken cancellationToken = default)
    {
        var authorities = (authorityIds ?? []).Distinct().ToList();
        var users = (userIds ?? []).Distinct().ToList();
        if (authorities.Count == 0 && users.Count == 0)
        {
            throw new ArgumentException("Name at least one authority or user to add.", nameof(userIds));
        }

        var me = await MeAsync(cancellationToken);
        var channel = await GetChannelAsync(channelId, cancellationToken);
        var devices = await MemberDevicesAsync(channel.Members, cancellationToken);
        foreach (var authorityId in authorities)
        {
            devices.AddRange((await FindDevicesAsync(new DeviceScope(AuthorityId: authorityId), cancellationToken))
                .Where(d => d.Role == DeviceRole.Investigator));
        }

        foreach (var userId in users)
        {
            devices.AddRange(await FindDevicesAsync(new DeviceScope(UserId: userId), cancellationToken));
        }

        var request = new AddMembersRequest { ChannelId = channelId.ToString() };
        request.AuthorityIds.AddRange(authorities.Select(a => a.ToString()));
        request.UserIds.AddRange(users.Select(u => u.ToString()));
        return await NextEpochAsync(channel, devices, me, (d, info) => (request.NextEpoch, request.EncryptedInfo) = (d, info),
            () => _channels.AddMembersAsync(request, cancellationToken: cancellationToken), cancellationToken);
    }

    /// <summary>
    /// Members: removes whole authorities and/or named users (yourself: leaving) and starts the
    /// next epoch without them — they never get its key.
    /// </summary>
    public async Task<WireChannel> RemoveMembersAsync(Guid channelId, IEnumerable<Guid>? authorityIds = null, IEnumerable<Guid>? userIds = null,
        CancellationToken cancellationToken = default)
    {
        var authorities = (authorityIds ?? []).ToHashSet();
        var users = (userIds ?? []).ToHashSet();
        if (authorities.Count == 0 && users.Count == 0)
        {
            throw new ArgumentException("Name at least one authority or user to remove.", nameof(userIds));
        }

        var me = await MeAsync(cancellationToken);
        var channel = await GetChannelAsync(channelId, cancellationToken);
        var remaining = channel.Members
            .Where(m => !users.Contains(Wire.ParseId(m.UserId, "user id")) && !authorities.Contains(Wire.ParseId(m.AuthorityId, "authority id")))
            .ToList();
        var devices = await MemberDevicesAsync(remaining, cancellationToken);
        var request = new RemoveMembersRequest { ChannelId = channelId.ToString() };
        request.AuthorityIds.AddRange(authorities.Select(a => a.ToString()));
        request.UserIds.AddRange(users.Select(u => u.ToString()));
        return await NextEpochAsync(channel, devices, me, (d, info) => (request.NextEpoch, request.EncryptedInfo) = (d, info),
            () => _channels.RemoveMembersAsync(request, cancellationToken: cancellationToken), cancellationToken);
    }

    /// <summary>Members: starts the next epoch for the current members (periodic rotation, or after a device change).</summary>
    public async Task<WireChannel> RotateEpochAsync(Guid channelId, CancellationToken cancellationToken = default)
    {
        var me = await MeAsync(cancellationToken);
        var channel = await GetChannelAsync(channelId, cancellationToken);
        var devices = await MemberDevicesAsync(channel.Members, cancellationToken);
        var request = new RotateEpochRequest { ChannelId = channelId.ToString() };
        return await NextEpochAsync(channel, devices, me, (d, info) => (request.NextEpoch, request.EncryptedInfo) = (d, info),
            () => _channels.RotateEpochAsync(request, cancellationToken: cancellationToken), cancellationToken);
    }

    /// <summary>
    /// Members: re-shares earlier epochs' keys with a member who joined later (explicit and
    /// audited). Null <paramref name="epochs"/> shares every epoch this device holds that the
    /// member's devices do not already have in the channel's history before the current one.
    /// </summary>
    /// <returns>The epochs now shared with the member.</returns>
    public async Task<IReadOnlyList<long>> ShareHistoryAsync(Guid channelId, Guid userId, IEnumerable<long>? epochs = null,
        CancellationToken cancellationToken = default)
    {
        var me = await MeAsync(cancellationToken);
        var channel = await GetChannelAsync(channelId, cancellationToken);
        var devices = await FindDevicesAsync(new DeviceScope(UserId: userId), cancellationToken);
        if (devices.Count == 0)
        {
            throw new GlobeClientException(StatusCode.FailedPrecondition, null,
                $"User {userId} has no certified device: there is nothing to seal the history to yet.");
        }

        var wanted = epochs?.Distinct().Order().ToList() ?? [.. LongRange(1, channel.CurrentEpoch - 1)];
        var request = new ShareHistoryRequest { ChannelId = channelId.ToString(), UserId = userId.ToString() };
        foreach (var epoch in wanted)
        {
            EpochKey key;
            try
            {
                key = await EpochKeyAsync(channelId, epoch, cancellationToken);
            }
            catch (GlobeClientException e) when (e.Status == StatusCode.NotFound && epochs is null)
            {
                continue; // This device never held that epoch: it cannot share it.
            }

            request.Epochs.Add(Distribute(key, devices, me).ToProto());
        }

        if (request.Epochs.Count == 0)
        {
            throw new GlobeClientException(StatusCode.FailedPrecondition, null,
                "This device holds no earlier epoch of the channel to share.");
        }

        return (await CallAsync(_channels.ShareHistoryAsync(request, cancellationToken: cancellationToken))).Epochs;
    }

    // ---------------------------------------------------------------- messages

    /// <summary>
    /// Members: encrypts <paramref name="content"/> under the channel's current epoch key, signs it
    /// with this device and sends it. Rotates the epoch first when the server says it is due, and
    /// re-seals once under the newer epoch if another member rotated in between. Idempotent by
    /// <see cref="SendOptions.MessageId"/>.
    /// </summary>
    /// <remarks>
    /// With <see cref="SendOptions.Attachments"/>, <paramref name="content"/> is the message's text
    /// in UTF-8 (possibly empty) and the body sent is a <see cref="MessageContent"/> holding it and
    /// every attachment's key and hashes (content type <see cref="MessageContentType"/>); the signed
    /// header lists the documents in the same order. The server refuses documents that are not
    /// sealed, not uploaded to this channel, or not uploaded by this user.
    /// </remarks>
    public async Task<StoredMessage> SendAsync(Guid channelId, ReadOnlyMemory<byte> content, SendOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        options ??= new SendOptions();
        if (options.Attachments is { Count: > 0 } attachments)
        {
            (content, options) = (WithAttachments(content, attachments), options with
            {
                ContentType = MessageContentType,
                DocumentIds = options.DocumentIds is { Count: > 0 }
                    ? throw new ArgumentException("Give attachments or document ids, not both: attachments name their documents.", nameof(options))
                    : [.. attachments.Select(a => a.DocumentId)],
            });
        }

        var me = await MeAsync(cancellationToken);
        var messageId = options.MessageId ?? Guid.CreateVersion7();
        var channel = await GetChannelAsync(channelId, cancellationToken);
        if (channel.RotationRequired)
        {
            channel = await TryRotateAsync(channel, cancellationToken);
        }

        var handling = options.HandlingCode;
        if (handling is null && options.ReplyTo is { } parentId)
        {
            // A reply keeps its parent's restrictions unless told otherwise (it may only tighten them).
            var parent = await GetMessageAsync(channelId, parentId, cancellationToken);
            handling = HandlingCodes.Stricter(parent.Envelope.Header.HandlingCode, channel.DefaultHandlingCode);
        }

        handling ??= channel.DefaultHandlingCode;
        for (var attempt = 0; ; attempt++)
        {
            var key = await EpochKeyAsync(channelId, channel.CurrentEpoch, cancellationToken);
            var header = new CryptoHeader(channelId, messageId, Wire.ParseId(me.UserId, "user id"), Device().DeviceId, key.Epoch,
                _options.Clock.GetUtcNow(), options.ContentType, handling, options.EvaluationGrade ?? "", options.DocumentIds ?? [],
                options.Spontaneous, options.ReplyTo ?? Guid.Empty, options.ForwardOf ?? Guid.Empty);
            var envelope = CryptoEnvelope.Seal(header, content.Span, key, Device());
            try
            {
                return await CallAsync(_channels.SendMessageAsync(new SendMessageRequest { Envelope = envelope.ToProto() },
                    cancellationToken: cancellationToken));
            }
            catch (GlobeClientException e) when (attempt == 0 && e.ReasonCode == ErrorReason.StaleEpoch)
            {
                channel = await GetChannelAsync(channelId, cancellationToken);
            }
            catch (GlobeClientException e) when (e.Status == StatusCode.AlreadyExists && options.MessageId is not null)
            {
                // A retry of a send whose answer was lost: sealed again (another nonce and time), it
                // differs from the stored envelope byte for byte, so the server cannot tell it from a
                // different message under the same id. This device can: the stored message is this
                // send when it is this device's and opens to the same content and header fields.
                if (await SameSendAsync(channelId, messageId, content, options, handling, cancellationToken) is not { } stored)
                {
                    throw;
                }

                return stored;
            }
        }
    }

    /// <summary>The stored message under <paramref name="messageId"/> when it is exactly what this send would have sent; else null.</summary>
    private async Task<StoredMessage?> SameSendAsync(Guid channelId, Guid messageId, ReadOnlyMemory<byte> content, SendOptions options, string handling,
        CancellationToken cancellationToken)
    {
        StoredMessage stored;
        OpenedMessage opened;
        try
        {
            stored = await GetMessageAsync(channelId, messageId, cancellationToken);
            opened = await OpenAsync(stored, cancellationToken);
        }
        catch (Exception e) when (e is GlobeClientException or GlobeTrustException)
        {
            return null; // Another channel's message, or one this device cannot open: not this send.
        }

        var same = opened.SenderDeviceId == Device().DeviceId
            && string.Equals(opened.ContentType, options.ContentType, StringComparison.Ordinal)
            && string.Equals(opened.HandlingCode, handling, StringComparison.Ordinal)
            && string.Equals(opened.EvaluationGrade, options.EvaluationGrade ?? "", StringComparison.Ordinal)
            && opened.Spontaneous == options.Spontaneous
            && (opened.ReplyTo ?? Guid.Empty) == (options.ReplyTo ?? Guid.Empty)
            && (opened.ForwardOf ?? Guid.Empty) == (options.ForwardOf ?? Guid.Empty)
            && opened.DocumentIds.SequenceEqual(options.DocumentIds ?? [])
            && opened.Content.AsSpan().SequenceEqual(content.Span);
        return same ? stored : null;
    }

    /// <summary>Sends UTF-8 text (<see cref="TextContentType"/>); see <see cref="SendAsync"/>.</summary>
    public Task<StoredMessage> SendTextAsync(Guid channelId, string text, SendOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(text);
        return SendAsync(channelId, Encoding.UTF8.GetBytes(text), (options ?? new SendOptions()) with { ContentType = TextContentType },
            cancellationToken);
    }

    /// <summary>
    /// Members of both channels: forwards a message's content into another channel. H1 and H2
    /// content needs the originating authority's granted consent for exactly this message and
    /// target (<see cref="RequestConsentAsync"/>): without it this method refuses before anything
    /// is sent. The forward keeps the original's handling code unless a stricter one is given.
    /// </summary>
    public async Task<StoredMessage> ForwardAsync(StoredMessage original, Guid targetChannelId, Consent? consent = null, SendOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(original);
        var opened = await OpenAsync(original, cancellationToken);
        if (opened.DocumentIds.Count > 0)
        {
            throw new GlobeClientException(StatusCode.FailedPrecondition, null,
                $"Message {opened.MessageId} carries documents, which belong to their channel: download them and attach them to a new message instead.");
        }

        if (opened.HandlingCode is "H1" or "H2" &&
            (consent is null || consent.Status != ConsentStatus.Granted || consent.MessageId != opened.MessageId.ToString() ||
             consent.TargetChannelId != targetChannelId.ToString()))
        {
            throw new GlobeClientException(StatusCode.FailedPrecondition, null,
                $"Message {opened.MessageId} is {opened.HandlingCode}: forwarding it needs the originating authority's granted consent for channel {targetChannelId} (request it first).");
        }

        options = (options ?? new SendOptions()) with
        {
            ForwardOf = opened.MessageId,
            ContentType = opened.ContentType,
            HandlingCode = options?.HandlingCode ?? opened.HandlingCode,
            EvaluationGrade = options?.EvaluationGrade ?? opened.EvaluationGrade,
        };
        return await SendAsync(targetChannelId, opened.Content, options, cancellationToken);
    }

    /// <summary>Members: one message of the channel (still sealed; <see cref="OpenAsync"/> decrypts it).</summary>
    public Task<StoredMessage> GetMessageAsync(Guid channelId, Guid messageId, CancellationToken cancellationToken = default) =>
        CallAsync(_channels.GetMessageAsync(new GetMessageRequest { ChannelId = channelId.ToString(), MessageId = messageId.ToString() },
            cancellationToken: cancellationToken));

    /// <summary>Members: a page of messages, newest first before <paramref name="beforePosition"/> (0: from the newest), or oldest first after <paramref name="afterPosition"/> when it is above 0.</summary>
    public async Task<IReadOnlyList<StoredMessage>> HistoryAsync(Guid channelId, long beforePosition = 0, long afterPosition = 0, int pageSize = 100,
        CancellationToken cancellationToken = default) =>
        (await CallAsync(_channels.HistoryAsync(new HistoryRequest
        {
            ChannelId = channelId.ToString(),
            BeforePosition = beforePosition,
            AfterPosition = afterPosition,
            PageSize = pageSize,
        }, cancellationToken: cancellationToken))).Messages;

    /// <summary>
    /// Verifies the sender's certificate chain to the pinned root, fetches and opens the epoch
    /// key (checking its creator's signature and commitment), checks the message signature and
    /// decrypts. Anything that does not verify throws <see cref="GlobeTrustException"/>; a key
    /// this device was never given (a message from after its removal, or before it joined)
    /// throws <see cref="GlobeClientException"/> with PERMISSION_DENIED or NOT_FOUND.
    /// </summary>
    public async Task<OpenedMessage> OpenAsync(StoredMessage message, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(message);
        var envelope = FromWire(message.Envelope);
        var header = envelope.Header;
        var sender = await VerifiedDeviceAsync(header.SenderUserId, header.SenderDeviceId, cancellationToken);
        var key = await EpochKeyAsync(header.ChannelId, header.Epoch, cancellationToken);
        byte[] content;
        try
        {
            content = envelope.Open(sender, key);
        }
        catch (GlobeCryptoException e)
        {
            throw new GlobeTrustException($"Message {header.MessageId} does not verify ({e.Message}): refused.", e);
        }

        var (text, attachments) = ReadContent(header, content);
        return new OpenedMessage(header.ChannelId, header.MessageId, message.Position, header.SenderUserId, header.SenderDeviceId, sender.AuthorityId,
            header.Epoch, header.SentAt, message.AcceptedAt.ToDateTimeOffset(), header.ContentType, header.HandlingCode, header.EvaluationGrade,
            header.Spontaneous, NullIfEmpty(header.ReplyToMessageId), NullIfEmpty(header.ForwardOfMessageId), header.DocumentIds, content)
        {
            MessageText = text,
            Attachments = attachments,
        };
    }

    /// <summary>The body of a message with attachments: its text and every document's key and hashes.</summary>
    private static ReadOnlyMemory<byte> WithAttachments(ReadOnlyMemory<byte> text, IReadOnlyList<DocumentAttachment> attachments)
    {
        string decoded;
        try
        {
            decoded = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(text.Span);
        }
        catch (DecoderFallbackException e)
        {
            throw new ArgumentException("With attachments, the content is the message's text and must be UTF-8.", nameof(text), e);
        }

        var body = new MessageContent { Text = decoded };
        body.Documents.AddRange(attachments.Select(a => a.ToProto()));
        return body.ToByteArray();
    }

    /// <summary>
    /// A body of <see cref="MessageContentType"/>: its text and attachments, which must name exactly
    /// the documents of the signed header, in order. Other content types have neither.
    /// </summary>
    private static (string? Text, IReadOnlyList<DocumentAttachment> Attachments) ReadContent(CryptoHeader header, byte[] content)
    {
        if (!string.Equals(header.ContentType, MessageContentType, StringComparison.Ordinal))
        {
            return (null, []);
        }

        try
        {
            var body = MessageContent.Parser.ParseFrom(content);
            var attachments = body.Documents.Select(Wire.FromProto).ToList();
            if (!attachments.Select(a => a.DocumentId).SequenceEqual(header.DocumentIds))
            {
                throw new GlobeTrustException(
                    $"Message {header.MessageId}'s attachments do not name the documents its signed header lists, in the same order: refused.");
            }

            return (body.Text, attachments);
        }
        catch (Exception e) when (e is InvalidProtocolBufferException or GlobeCryptoException)
        {
            throw new GlobeTrustException($"Message {header.MessageId}'s body is not a valid message with attachments ({e.Message}): refused.", e);
        }
    }

    /// <summary>
    /// Any authenticated user: every event of the caller's channels after <paramref name="afterPosition"/>,
    /// then live. Reconnects by itself (with back-off) when the connection or the server goes away,
    /// resuming after the last event yielded: no loss, no duplicates. Ends only when cancelled.
    /// </summary>
    public async IAsyncEnumerable<ChannelEvent> SubscribeAsync(long afterPosition = 0,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var position = afterPosition;
        var delay = TimeSpan.FromMilliseconds(200);
        string? token = null;
        var renewed = false;
        while (true)
        {
            // The bearer interceptor handles unary calls only: a stream carries its token itself.
            try
            {
                token = await _session.TokenAsync(renewed ? token : null, cancellationToken);
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.Unavailable && !cancellationToken.IsCancellationRequested)
            {
                // The server or its database is away: authenticate again after the back-off.
                await Task.Delay(delay, _options.Clock, cancellationToken);
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(10).Ticks));
                continue;
            }
            catch (RpcException e)
            {
                throw GlobeClientException.FromRpc(e);
            }

            using var call = _channels.Subscribe(new SubscribeRequest { AfterPosition = position },
                new Metadata { { "authorization", $"Bearer {token}" } }, cancellationToken: cancellationToken);
            var stream = call.ResponseStream;
            while (true)
            {
                bool moved;
                try
                {
                    moved = await stream.MoveNext(cancellationToken);
                }
                catch (RpcException e) when (e.StatusCode == StatusCode.Unauthenticated && !renewed)
                {
                    renewed = true; // The session ended (expired, or the server restarted): renew once and resume.
                    break;
                }
                catch (RpcException e) when (e.StatusCode is StatusCode.Unavailable or StatusCode.Internal or StatusCode.Unknown &&
                                             !cancellationToken.IsCancellationRequested)
                {
                    break; // Reconnect below, from the last position yielded.
                }
                catch (RpcException e) when (e.StatusCode == StatusCode.Cancelled && cancellationToken.IsCancellationRequested)
                {
                    yield break;
                }
                catch (RpcException e)
                {
                    throw GlobeClientException.FromRpc(e);
                }

                if (!moved)
                {
                    break;
                }

                renewed = false;
                var current = stream.Current;
                if (current.Position <= position)
                {
                    continue;
                }

                position = current.Position;
                delay = TimeSpan.FromMilliseconds(200);
                yield return current;
            }

            if (!renewed)
            {
                await Task.Delay(delay, _options.Clock, cancellationToken);
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(10).Ticks));
            }
        }
    }

    // ---------------------------------------------------------------- receipts

    /// <summary>Signs and submits this device's delivery or read receipt of a message (idempotent per kind).</summary>
    public async Task SubmitReceiptAsync(StoredMessage message, MessageReceiptKind kind, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(message);
        var me = await MeAsync(cancellationToken);
        var receipt = CryptoReceipt.Create(kind == MessageReceiptKind.Read ? CryptoReceiptKind.Read : CryptoReceiptKind.Delivered,
            FromWire(message.Envelope), _options.Clock.GetUtcNow(), Wire.ParseId(me.UserId, "user id"), Device());
        await CallAsync(_channels.SubmitReceiptAsync(new SubmitReceiptRequest { Receipt = receipt.ToProto() }, cancellationToken: cancellationToken));
    }

    /// <summary>
    /// The sender: every receipt of one of their messages, each verified against the recipient's
    /// certificate chain and the message's digest. A receipt that does not verify throws
    /// <see cref="GlobeTrustException"/>.
    /// </summary>
    public async Task<IReadOnlyList<VerifiedReceipt>> ListReceiptsAsync(StoredMessage message, CancellationToken cancellationToken = default) =>
        [.. (await ListReceiptsVerifiedAsync(message, cancellationToken)).Select(r => r.Verified)];

    /// <summary>Every receipt of a message as served, each with what verified it (<see cref="ListReceiptsAsync"/>).</summary>
    private async Task<List<(Contracts.V1.Receipt Wire, VerifiedReceipt Verified, VerifiedDevice Recipient)>> ListReceiptsVerifiedAsync(StoredMessage message,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(message);
        var envelope = FromWire(message.Envelope);
        var response = await CallAsync(_channels.ListReceiptsAsync(new ListReceiptsRequest
        {
            ChannelId = envelope.Header.ChannelId.ToString(),
            MessageId = envelope.Header.MessageId.ToString(),
        }, cancellationToken: cancellationToken));
        var verified = new List<(Contracts.V1.Receipt, VerifiedReceipt, VerifiedDevice)>(response.Receipts.Count);
        foreach (var wire in response.Receipts)
        {
            CryptoReceipt receipt;
            try
            {
                receipt = Wire.FromProto(wire);
            }
            catch (GlobeCryptoException e)
            {
                throw new GlobeTrustException($"A receipt of message {envelope.Header.MessageId} is malformed ({e.Message}): refused.", e);
            }

            var recipient = await VerifiedDeviceAsync(receipt.RecipientUserId, receipt.RecipientDeviceId, cancellationToken);
            try
            {
                receipt.Verify(recipient, envelope);
            }
            catch (GlobeCryptoException e)
            {
                throw new GlobeTrustException(
                    $"The receipt of device {receipt.RecipientDeviceId} for message {envelope.Header.MessageId} does not verify ({e.Message}): refused.", e);
            }

            verified.Add((wire, new VerifiedReceipt(receipt.Kind == CryptoReceiptKind.Read ? MessageReceiptKind.Read : MessageReceiptKind.Delivered,
                receipt.RecipientUserId, receipt.RecipientDeviceId, recipient.AuthorityId, receipt.At), recipient));
        }

        return verified;
    }

    // ---------------------------------------------------------------- consent

    /// <summary>Members of both channels: asks the originating authority for consent to forward an H1/H2 message into another channel.</summary>
    public Task<Consent> RequestConsentAsync(Guid messageId, Guid targetChannelId, string reason, Guid? consentId = null,
        CancellationToken cancellationToken = default) =>
        CallAsync(_channels.RequestConsentAsync(new RequestConsentRequest
        {
            ConsentId = (consentId ?? Guid.CreateVersion7()).ToString(),
            MessageId = messageId.ToString(),
            TargetChannelId = targetChannelId.ToString(),
            Reason = reason,
        }, cancellationToken: cancellationToken));

    /// <summary>Investigators and authority administrators of the originating authority: grants a pending request.</summary>
    public Task<Consent> GrantConsentAsync(Guid consentId, string? note = null, CancellationToken cancellationToken = default) =>
        CallAsync(_channels.GrantConsentAsync(new DecideConsentRequest { ConsentId = consentId.ToString(), Reason = note ?? "" },
            cancellationToken: cancellationToken));

    /// <summary>Investigators and authority administrators of the originating authority: denies a pending request, with a reason.</summary>
    public Task<Consent> DenyConsentAsync(Guid consentId, string reason, CancellationToken cancellationToken = default) =>
        CallAsync(_channels.DenyConsentAsync(new DecideConsentRequest { ConsentId = consentId.ToString(), Reason = reason },
            cancellationToken: cancellationToken));

    // ---------------------------------------------------------------- helpers

    private async Task<WhoAmIResponse> MeAsync(CancellationToken cancellationToken) =>
        _me ??= await WhoAmIAsync(cancellationToken);

    /// <summary>This device's key for an epoch: fetched once, the creator's chain verified, the commitment checked, then kept in memory.</summary>
    private async Task<EpochKey> EpochKeyAsync(Guid channelId, long epoch, CancellationToken cancellationToken)
    {
        if (_epochKeys.TryGetValue((channelId, epoch), out var known))
        {
            return known;
        }

        return Remember((await FetchEpochKeyAsync(channelId, epoch, cancellationToken)).Key);
    }

    /// <summary>An epoch's signed distribution as served, and the key it gives this device once the creator's chain, the signature and the commitment verified.</summary>
    private async Task<(Contracts.V1.EpochKeyDistribution Wire, CryptoDistribution Distribution, VerifiedDevice Creator, EpochKey Key)> FetchEpochKeyAsync(
        Guid channelId, long epoch, CancellationToken cancellationToken)
    {
        var wire = await CallAsync(_channels.GetEpochKeyAsync(new GetEpochKeyRequest { ChannelId = channelId.ToString(), Epoch = epoch },
            cancellationToken: cancellationToken));
        CryptoDistribution distribution;
        try
        {
            distribution = Wire.FromProto(wire);
        }
        catch (GlobeCryptoException e)
        {
            throw new GlobeTrustException($"The key of channel {channelId} epoch {epoch} is malformed ({e.Message}): refused.", e);
        }

        if (distribution.ChannelId != channelId || distribution.Epoch != epoch)
        {
            throw new GlobeTrustException($"Asked for channel {channelId} epoch {epoch}, the server served another epoch's key: refused.");
        }

        var creator = await VerifiedDeviceAsync(distribution.CreatorUserId, distribution.CreatorDeviceId, cancellationToken);
        EpochKey key;
        try
        {
            key = distribution.Open(creator, Device());
        }
        catch (GlobeCryptoException e)
        {
            throw new GlobeTrustException($"The key of channel {channelId} epoch {epoch} does not verify ({e.Message}): refused.", e);
        }

        return (wire, distribution, creator, key);
    }

    private EpochKey Remember(EpochKey key)
    {
        var kept = _epochKeys.GetOrAdd((key.ChannelId, key.Epoch), key);
        if (!ReferenceEquals(kept, key))
        {
            key.Dispose();
        }

        return kept;
    }

    /// <summary>A user's device, its chain verified to the pinned root (cached for a few minutes).</summary>
    private async Task<VerifiedDevice> VerifiedDeviceAsync(Guid userId, Guid deviceId, CancellationToken cancellationToken)
    {
        var now = _options.Clock.GetUtcNow();
        if (_verifiedDevices.TryGetValue(deviceId, out var cached) && now - cached.At < DeviceCacheLifetime && cached.Device.UserId == userId)
        {
            return cached.Device;
        }

        var devices = await FindDevicesAsync(new DeviceScope(UserId: userId), cancellationToken);
        foreach (var device in devices)
        {
            _verifiedDevices[device.DeviceId] = (device, now);
        }

        return devices.FirstOrDefault(d => d.DeviceId == deviceId)
            ?? throw new GlobeTrustException(
                $"Device {deviceId} of user {userId} is not a certified, unrevoked device in the verified directory: nothing it signed is trusted.");
    }

    /// <summary>The verified devices of the given members, one directory lookup per authority.</summary>
    private async Task<List<VerifiedDevice>> MemberDevicesAsync(IEnumerable<ChannelMember> members, CancellationToken cancellationToken)
    {
        var devices = new List<VerifiedDevice>();
        foreach (var group in members.GroupBy(m => Wire.ParseId(m.AuthorityId, "authority id")))
        {
            var userIds = group.Select(m => Wire.ParseId(m.UserId, "user id")).ToHashSet();
            devices.AddRange((await FindDevicesAsync(new DeviceScope(AuthorityId: group.Key), cancellationToken)).Where(d => userIds.Contains(d.UserId)));
        }

        return devices;
    }

    private CryptoDistribution Distribute(EpochKey key, IEnumerable<VerifiedDevice> devices, WhoAmIResponse me)
    {
        var recipients = devices.DistinctBy(d => d.DeviceId).Select(d => (d.DeviceId, d.BoxKey)).ToList();
        if (recipients.Count == 0)
        {
            throw new GlobeClientException(StatusCode.FailedPrecondition, null,
                $"No member of channel {key.ChannelId} has a certified device: the epoch key cannot be sealed to anyone.");
        }

        return CryptoDistribution.Create(key, recipients, _options.Clock.GetUtcNow(), Wire.ParseId(me.UserId, "user id"), Device());
    }

    /// <summary>
    /// Starts the next epoch: a new key sealed to <paramref name="devices"/>, and the channel's
    /// title re-sealed under it when this device can read it (so that members who join later can).
    /// </summary>
    private async Task<WireChannel> NextEpochAsync(WireChannel channel, List<VerifiedDevice> devices, WhoAmIResponse me,
        Action<Contracts.V1.EpochKeyDistribution, ByteString> attach, Func<AsyncUnaryCall<WireChannel>> call, CancellationToken cancellationToken)
    {
        var channelId = Wire.ParseId(channel.ChannelId, "channel id");
        ChannelInfo? info;
        try
        {
            info = await ReadChannelInfoAsync(channel, cancellationToken);
        }
        catch (GlobeTrustException)
        {
            info = null; // Unreadable info is not re-sealed; the new epoch starts without it.
        }

        var key = EpochKey.Generate(channelId, channel.CurrentEpoch + 1);
        try
        {
            attach(Distribute(key, devices, me).ToProto(), info is null ? ByteString.Empty : ByteString.CopyFrom(info.Seal(key)));
            var result = await CallAsync(call());
            if (devices.Any(d => d.DeviceId == Device().DeviceId))
            {
                Remember(key);
            }
            else
            {
                key.Dispose(); // This device left the channel: it keeps no key of the new epoch.
            }

            return result;
        }
        catch
        {
            key.Dispose();
            throw;
        }
    }

    private async Task<WireChannel> TryRotateAsync(WireChannel channel, CancellationToken cancellationToken)
    {
        try
        {
            return await RotateEpochAsync(Wire.ParseId(channel.ChannelId, "channel id"), cancellationToken);
        }
        catch (GlobeClientException e) when (e.Status is StatusCode.FailedPrecondition or StatusCode.Aborted or StatusCode.InvalidArgument or StatusCode.Unavailable)
        {
            // Another member rotated first, the directory changed under us, or the server is away
            // for a while (a rotation is not repeated by itself): the current epoch still works;
            // the next send tries again.
            return await GetChannelAsync(Wire.ParseId(channel.ChannelId, "channel id"), cancellationToken);
        }
    }

    private static CryptoEnvelope FromWire(Contracts.V1.MessageEnvelope envelope)
    {
        try
        {
            return Wire.FromProto(envelope);
        }
        catch (GlobeCryptoException e)
        {
            throw new GlobeTrustException($"A message envelope is malformed ({e.Message}): refused.", e);
        }
        catch (FormatException e)
        {
            throw new GlobeTrustException($"A message envelope is malformed ({e.Message}): refused.", e);
        }
    }

    private static string RoleName(Role role) => role.ToString().ToLowerInvariant();

    private static Guid? NullIfEmpty(Guid id) => id == Guid.Empty ? null : id;

    private static IEnumerable<long> LongRange(long from, long to)
    {
        for (var i = from; i <= to; i++)
        {
            yield return i;
        }
    }

    private void DisposeChannelKeys()
    {
        foreach (var key in _epochKeys.Values)
        {
            key.Dispose();
        }

        _epochKeys.Clear();
    }
}

/// <summary>How <see cref="GlobeClient.SendAsync"/> marks a message; null means the default.</summary>
/// <param name="HandlingCode">H0, H1, H2 or "H3:conditions"; null: the parent's when replying (or the channel's default if stricter), else the channel's default.</param>
/// <param name="EvaluationGrade">"scheme:grade", e.g. "4x4:B2"; null for none.</param>
/// <param name="Spontaneous">True when the information is shared without a prior request.</param>
/// <param name="ReplyTo">The message of the same channel this one replies to.</param>
/// <param name="ForwardOf">The message of another channel whose content this one forwards (use <see cref="GlobeClient.ForwardAsync"/>).</param>
/// <param name="ContentType">A MIME type; default application/octet-stream (text: <see cref="GlobeClient.SendTextAsync"/>).</param>
/// <param name="MessageId">The message id; null for a new one. Retrying with the same id is safe.</param>
/// <param name="DocumentIds">Documents the message carries keys for (a body of your own making); prefer <paramref name="Attachments"/>.</param>
/// <param name="Attachments">Documents uploaded to the channel (<see cref="GlobeClient.UploadDocumentAsync(Guid, string, string?, IProgress{TransferProgress}?, CancellationToken)"/>) that the message carries: their keys and hashes go into its encrypted body, their ids into its signed header.</param>
public sealed record SendOptions(
    string? HandlingCode = null,
    string? EvaluationGrade = null,
    bool Spontaneous = false,
    Guid? ReplyTo = null,
    Guid? ForwardOf = null,
    string ContentType = "application/octet-stream",
    Guid? MessageId = null,
    IReadOnlyList<Guid>? DocumentIds = null,
    IReadOnlyList<DocumentAttachment>? Attachments = null);

/// <summary>A message decrypted and verified by <see cref="GlobeClient.OpenAsync"/>.</summary>
public sealed record OpenedMessage(
    Guid ChannelId,
    Guid MessageId,
    long Position,
    Guid SenderUserId,
    Guid SenderDeviceId,
    Guid SenderAuthorityId,
    long Epoch,
    DateTimeOffset SentAt,
    DateTimeOffset AcceptedAt,
    string ContentType,
    string HandlingCode,
    string EvaluationGrade,
    bool Spontaneous,
    Guid? ReplyTo,
    Guid? ForwardOf,
    IReadOnlyList<Guid> DocumentIds,
    byte[] Content)
{
    /// <summary>The message's text: from the body of a message with attachments, else the content as UTF-8.</summary>
    public string Text => MessageText ?? Encoding.UTF8.GetString(Content);

    /// <summary>The documents the message carries, in the order of its signed header (each verified to be listed there).</summary>
    public IReadOnlyList<DocumentAttachment> Attachments { get; init; } = [];

    internal string? MessageText { get; init; }

    /// <summary>Ids only: the content is never part of a string form.</summary>
    public override string ToString() => $"OpenedMessage({ChannelId}/{MessageId}, {HandlingCode})";
}

/// <summary>What a receipt attests.</summary>
public enum MessageReceiptKind
{
    /// <summary>The message reached the recipient's device.</summary>
    Delivered = 1,

    /// <summary>The recipient opened the message.</summary>
    Read = 2,
}

/// <summary>A receipt whose signature verified against the recipient's certificate chain and the message's digest.</summary>
public sealed record VerifiedReceipt(MessageReceiptKind Kind, Guid RecipientUserId, Guid RecipientDeviceId, Guid RecipientAuthorityId, DateTimeOffset At);

/// <summary>Handling codes as the client reasons about them (the server enforces the same order: H0 &lt; H1 &lt; H2 &lt; H3).</summary>
public static class HandlingCodes
{
    /// <summary>The more restrictive of two codes (the first when they rank the same).</summary>
    public static string Stricter(string a, string b) => Rank(b) > Rank(a) ? b : a;

    /// <summary>0 for H0 up to 3 for any H3 code; -1 for anything else.</summary>
    public static int Rank(string code) => code switch
    {
        "H0" => 0,
        "H1" => 1,
        "H2" => 2,
        _ when code.StartsWith("H3:", StringComparison.Ordinal) => 3,
        _ => -1,
    };
}
