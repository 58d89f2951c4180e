using System.CommandLine;
using System.Globalization;
using System.Text;
using GlobeSecure.Client;
using GlobeSecure.Contracts.V1;
using Grpc.Core;
using Spectre.Console;
using WireChannel = GlobeSecure.Contracts.V1.Channel;

namespace GlobeSecure.Cli;

/// <summary>
/// Case channels (docs/channels.md, "Command line"): every key is handled by the client library;
/// these commands only say what to do and show what was verified and decrypted.
/// </summary>
internal sealed partial class Commands
{
    private const string NoTitle = "(title not shared with you)";

    // The server's limit on a message's ciphertext is 64 KiB + 16 (the tag).
    private const int MaxContentBytes = 64 * 1024;

    // An attachment's entry in the message body at most: ids, key, two hashes, length, a 255-character name (UTF-8) and a media type.
    private const int MaxAttachmentEntryBytes = 1024;

    public Command Channel()
    {
        var channel = new Command("channel", "Case channels: create, members, history sharing (messages: 'globe send', 'globe history', 'globe watch')");

        var title = new Option<string>("--title") { Description = "The channel's title (1 to 200 characters; encrypted, the server never sees it)", Required = true };
        var description = new Option<string?>("--description") { Description = "A description (encrypted like the title)" };
        var handling = HandlingOption("The default handling code of new messages: H0, H1 (default), H2 or H3:<conditions>");
        var create = new Command("create", "Open a case channel with your authority's investigators (you add other authorities with 'invite')")
        {
            title, description, handling,
        };
        create.Handle(options, environment, async (context, cancellationToken) =>
        {
            await using var session = await context.ConnectAsync(cancellationToken);
            var created = await session.Client.CreateChannelAsync(context.Get(title)!, context.Get(description), context.Get(handling) ?? "H1",
                cancellationToken: cancellationToken);
            if (!context.Json)
            {
                context.Unwrapped($"Channel {created.ChannelId} created.");
            }

            await WriteChannelAsync(context, session, created, detailed: false, cancellationToken);
        });
        channel.Subcommands.Add(create);

        var list = new Command("list", "The channels you are a member of, with their decrypted titles");
        list.Handle(options, environment, async (context, cancellationToken) =>
        {
            await using var session = await context.ConnectAsync(cancellationToken);
            var channels = await session.Client.ListChannelsAsync(cancellationToken);
            var rows = new List<(WireChannel Channel, string? Title)>();
            foreach (var c in channels)
            {
                rows.Add((c, (await TitleAsync(session.Client, c, cancellationToken)).Title));
            }

            if (context.Json)
            {
                context.WriteJson(rows.Select(r => ChannelJson(r.Channel, r.Title, null, null)).ToArray());
                return;
            }

            if (rows.Count == 0)
            {
                context.Line("You are not a member of any channel.");
                return;
            }

            var names = await AuthorityNamesAsync(session.Client, cancellationToken);
            var table = Table("id", "title", "authorities", "members", "epoch", "handling", "rotation");
            foreach (var (c, t) in rows)
            {
                Row(table, c.ChannelId, t ?? NoTitle, string.Join(", ", c.AuthorityIds.Select(a => names.Of(a))),
                    c.Members.Count.ToString(CultureInfo.InvariantCulture), c.CurrentEpoch.ToString(CultureInfo.InvariantCulture),
                    c.DefaultHandlingCode, c.RotationRequired ? "due" : "");
            }

            context.Console.Write(table);
        });
        channel.Subcommands.Add(list);

        channel.Subcommands.Add(OneChannel("show", "One channel: decrypted title and description, members and their authorities, epoch, handling",
            (client, id, ct) => client.GetChannelAsync(id, ct), detailed: true));
        channel.Subcommands.Add(MembershipChange("invite",
            "Add authorities (all their investigators) and/or named users; starts a new epoch sealed to the members after the change",
            (client, id, authorities, users, ct) => client.AddMembersAsync(id, authorities, users, ct)));
        channel.Subcommands.Add(MembershipChange("remove",
            "Remove authorities and/or users (yourself: leave); starts a new epoch they never get the key of",
            (client, id, authorities, users, ct) => client.RemoveMembersAsync(id, authorities, users, ct)));

        channel.Subcommands.Add(OneChannel("rotate", "Start a new epoch for the current members (when 'rotation' says due; sending does it by itself)",
            (client, id, ct) => client.RotateEpochAsync(id, ct), detailed: false));

        var shareId = IdArgument("channel-id", "The channel");
        var shareUser = new Option<Guid>("--user") { Description = "The member who joined later", Required = true };
        var shareEpochs = new Option<long[]>("--epoch")
        {
            Description = "An earlier epoch to share (repeat for several; default: every earlier epoch this device holds)",
            AllowMultipleArgumentsPerToken = true,
        };
        shareEpochs.Validators.Add(result =>
        {
            // Tokens, not values: System.CommandLine reports no error for an array element that does not parse.
            foreach (var token in result.Tokens.Where(t => !long.TryParse(t.Value, CultureInfo.InvariantCulture, out var epoch) || epoch < 1))
            {
                result.AddError($"--epoch: '{token.Value}' is not an epoch (they are numbered from 1).");
            }
        });
        var share = new Command("share-history", "Re-seal earlier epochs' keys to a member who joined later, so they can read the history (audited)")
        {
            shareId, shareUser, shareEpochs,
        };
        share.Handle(options, environment, async (context, cancellationToken) =>
        {
            await using var session = await context.ConnectAsync(cancellationToken);
            var epochs = context.Get(shareEpochs) is { Length: > 0 } given ? given : null;
            var shared = await session.Client.ShareHistoryAsync(context.Get(shareId), context.Get(shareUser), epochs, cancellationToken);
            if (context.Json)
            {
                context.WriteJson(new { channelId = context.Get(shareId), userId = context.Get(shareUser), epochs = shared.ToArray() });
                return;
            }

            context.Unwrapped($"Shared epoch{(shared.Count == 1 ? "" : "s")} {string.Join(", ", shared)} of channel {context.Get(shareId)} with user {context.Get(shareUser)}.");
        });
        channel.Subcommands.Add(share);
        return channel;
    }

    private Command MembershipChange(string verb, string description,
        Func<GlobeClient, Guid, IEnumerable<Guid>, IEnumerable<Guid>, CancellationToken, Task<WireChannel>> change)
    {
        var id = IdArgument("channel-id", "The channel");
        var authorities = IdsOption("--authority", "An authority (repeat for several)");
        var users = IdsOption("--user", "A user (repeat for several)");
        var command = new Command(verb, description) { id, authorities, users };
        command.Validators.Add(result =>
        {
            // Token counts, not values: a value that does not parse is reported by the parser itself.
            if ((result.GetResult(authorities)?.Tokens.Count ?? 0) == 0 && (result.GetResult(users)?.Tokens.Count ?? 0) == 0)
            {
                result.AddError("Name at least one --authority or --user.");
            }
        });
        command.Handle(options, environment, async (context, cancellationToken) =>
        {
            await using var session = await context.ConnectAsync(cancellationToken);
            var changed = await change(session.Client, context.Get(id), context.Get(authorities) ?? [], context.Get(users) ?? [], cancellationToken);
            await WriteChannelAsync(context, session, changed, detailed: false, cancellationToken);
        });
        return command;
    }

    // ---------------------------------------------------------------- messages

    public Command Send()
    {
        var channelId = IdArgument("channel-id", "The channel");
        var text = new Argument<string?>("text")
        {
            Description = "The message; absent or '-': read from standard input (absent with --attach: no text)",
            Arity = ArgumentArity.ZeroOrOne,
        };
        var attach = new Option<string[]>("--attach")
        {
            Description = "Files to encrypt, upload and attach, any size (--attach a.pdf b.zip, or repeat --attach; put the text before it); uploads resume by themselves after a broken connection",
            HelpName = "file",
            AllowMultipleArgumentsPerToken = true,
        };
        var handling = HandlingOption("Handling code: H0, H1, H2 or H3:<conditions> (default: the channel's; a reply keeps its parent's or stricter)");
        var grade = new Option<string?>("--grade") { Description = "Evaluation grade: 4x4:<A|B|C|X><1-4> (e.g. 4x4:B2) or 3x5x2:<1-3><A-E><P|C> (e.g. 3x5x2:1AP)" };
        var spontaneous = new Option<bool>("--spontaneous") { Description = "The information is shared without a prior request" };
        var replyTo = new Option<Guid?>("--reply-to") { Description = "The message of this channel this one replies to" };
        var command = new Command("send", "Send a message to a channel, with attached files if you like: encrypted and signed on this device")
        {
            channelId, text, handling, grade, spontaneous, replyTo, attach,
        };
        command.Handle(options, environment, async (context, cancellationToken) =>
        {
            var files = AttachedFiles(context.Get(attach));
            var content = files.Count > 0 && context.Get(text) is null ? "" : await MessageTextAsync(context.Get(text), cancellationToken);
            if (files.Count > 0 && Encoding.UTF8.GetByteCount(content) + (files.Count * MaxAttachmentEntryBytes) > MaxContentBytes)
            {
                // Checked before any upload: a message refused after gigabytes went up would waste them.
                throw new CliUsageException($"The text and {files.Count} attachment{(files.Count == 1 ? "" : "s")} do not fit in one message ({MaxContentBytes} bytes); shorten the text or send fewer files per message.");
            }

            await using var session = await context.ConnectAsync(cancellationToken);
            var attachments = await UploadAsync(context, session.Client, context.Get(channelId), files, cancellationToken);
            var sent = await session.Client.SendTextAsync(context.Get(channelId), content, new SendOptions(
                HandlingCode: context.Get(handling),
                EvaluationGrade: context.Get(grade),
                Spontaneous: context.Get(spontaneous),
                ReplyTo: context.Get(replyTo),
                Attachments: attachments), cancellationToken);
            var header = sent.Envelope.Header;
            if (context.Json)
            {
                context.WriteJson(new
                {
                    messageId = header.MessageId,
                    position = sent.Position,
                    channelId = header.ChannelId,
                    epoch = header.Epoch,
                    handlingCode = header.HandlingCode,
                    evaluationGrade = NullIfEmpty(header.EvaluationGrade),
                    documents = attachments.Count == 0 ? null : attachments.Select(AttachmentJson).ToArray(),
                });
                return;
            }

            context.Unwrapped($"Sent message {header.MessageId} at position {sent.Position} (epoch {header.Epoch}, {Marks(header.HandlingCode, header.EvaluationGrade, header.Spontaneous)}).");
            foreach (var a in attachments)
            {
                context.Unwrapped($"  attached document {a.DocumentId}: {Printable(a.FileName)} ({Size(a.PlaintextLength)}, BLAKE2b-256 {a.PlaintextHashHex})");
            }
        });
        return command;
    }

    public Command History()
    {
        var channelId = IdArgument("channel-id", "The channel");
        var limit = new Option<int>("--limit") { Description = "How many messages (1 to 500)", DefaultValueFactory = _ => 20 };
        limit.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int>() is < 1 or > 500)
            {
                result.AddError("--limit: 1 to 500.");
            }
        });
        var before = new Option<long>("--before") { Description = "Only messages before this position (to page back)" };
        var command = new Command("history", "A channel's messages, newest first, verified and decrypted on this device") { channelId, limit, before };
        command.Handle(options, environment, async (context, cancellationToken) =>
        {
            await using var session = await context.ConnectAsync(cancellationToken);
            var id = context.Get(channelId);
            var messages = await session.Client.HistoryAsync(id, context.Get(before), 0, context.Get(limit), cancellationToken);
            var view = new MessageView(session.Client, await AuthorityNamesAsync(session.Client, cancellationToken));
            var shown = new List<Shown>();
            foreach (var message in messages)
            {
                shown.Add(await view.OpenAsync(message, cancellationToken));
            }

            if (context.Json)
            {
                context.WriteJson(shown.Select(s => s.Json()).ToArray());
                return;
            }

            if (shown.Count == 0)
            {
                context.Line(context.Get(before) > 0 ? "No earlier messages." : "No messages yet.");
                return;
            }

            foreach (var s in shown)
            {
                s.Write(context);
            }

            if (shown.Count == context.Get(limit))
            {
                context.Unwrapped($"(older messages: globe history {id} --before {shown[^1].Position})");
            }
        });
        return command;
    }

    public Command Watch()
    {
        var after = new Option<long?>("--after")
        {
            Description = "Start after this position (default: where the last watch of this profile without --channel stopped; 0 the first time)",
        };
        after.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<long?>() is < 0)
            {
                result.AddError("--after: a position, 0 or more.");
            }
        });
        var channelId = new Option<Guid?>("--channel") { Description = "Only this channel" };
        var count = new Option<int?>("--count") { Description = "Exit after this many messages" };
        count.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int?>() is < 1)
            {
                result.AddError("--count: 1 or more.");
            }
        });
        var timeout = new Option<double?>("--timeout") { Description = "Exit after this many seconds (with --count: a failure if fewer messages came)" };
        timeout.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<double?>() is <= 0)
            {
                result.AddError("--timeout: more than 0 seconds.");
            }
        });
        var noReceipts = new Option<bool>("--no-receipts") { Description = "Do not send delivered/read receipts for the messages shown" };
        var command = new Command("watch",
            "Follow your channels live until Ctrl-C: messages verified and decrypted, membership changes, consent requests and decisions; " +
            "sends delivered and read receipts for others' messages")
        {
            after, channelId, count, timeout, noReceipts,
        };
        command.Handle(options, environment, async (context, cancellationToken) =>
        {
            await using var session = await context.ConnectAsync(cancellationToken);
            var me = session.Profile.UserId?.ToString() ?? (await session.Client.WhoAmIAsync(cancellationToken)).UserId;
            var view = new MessageView(session.Client, await AuthorityNamesAsync(session.Client, cancellationToken));
            var only = context.Get(channelId)?.ToString();
            var wanted = context.Get(count);
            var seconds = context.Get(timeout);
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            if (seconds is { } s)
            {
                stop.CancelAfter(TimeSpan.FromSeconds(s));
            }

            // Remembered only when every channel is watched, and only once an event was shown, so that the next watch misses nothing.
            void Shown(ChannelEvent e)
            {
                if (only is null)
                {
                    session.WatchPosition = e.Position;
                }
            }

            var messages = 0;
            try
            {
                await foreach (var e in session.Client.SubscribeAsync(context.Get(after) ?? session.WatchPosition, stop.Token))
                {
                    if (only is not null && e.ChannelId != only)
                    {
                        continue;
                    }

                    if (e.EventCase != ChannelEvent.EventOneofCase.Message)
                    {
                        WriteEvent(context, e, me, view.Authorities);
                        Shown(e);
                        continue;
                    }

                    var shown = await view.OpenAsync(e.Message, stop.Token);
                    if (context.Json)
                    {
                        context.WriteJson(shown.Json());
                    }
                    else
                    {
                        shown.Write(context);
                    }

                    if (shown.Opened is { } opened && opened.SenderUserId.ToString() != me && !context.Get(noReceipts) &&
                        await ReceiptsAsync(context, session.Client, e.Message, stop.Token) && !context.Json)
                    {
                        context.Unwrapped("      (delivered and read receipts signed and sent)");
                    }

                    Shown(e);
                    if (++messages == wanted)
                    {
                        return;
                    }
                }
            }
            catch (Exception e) when (e is OperationCanceledException || e is GlobeClientException { Status: StatusCode.Cancelled })
            {
                if (!stop.IsCancellationRequested)
                {
                    throw;
                }
            }

            // Stopped by Ctrl-C or --timeout: the normal end of watching, unless a count was not reached.
            if (wanted is { } n && !cancellationToken.IsCancellationRequested)
            {
                throw new CliFailureException($"Only {messages} of {n} message{(n == 1 ? "" : "s")} arrived within {seconds?.ToString(CultureInfo.InvariantCulture)} s.");
            }
        });
        return command;
    }

    public Command Receipts()
    {
        var channelId = IdArgument("channel-id", "The channel");
        var messageId = IdArgument("message-id", "Your message");
        var command = new Command("receipts", "The delivered and read receipts of a message you sent, each verified against the recipient device's certificate chain")
        {
            channelId, messageId,
        };
        command.Handle(options, environment, async (context, cancellationToken) =>
        {
            await using var session = await context.ConnectAsync(cancellationToken);
            var message = await session.Client.GetMessageAsync(context.Get(channelId), context.Get(messageId), cancellationToken);
            var receipts = await session.Client.ListReceiptsAsync(message, cancellationToken);
            var names = await AuthorityNamesAsync(session.Client, cancellationToken);
            if (context.Json)
            {
                context.WriteJson(receipts.Select(r => new
                {
                    kind = r.Kind == MessageReceiptKind.Read ? "read" : "delivered",
                    recipientUserId = r.RecipientUserId,
                    recipientDeviceId = r.RecipientDeviceId,
                    recipientAuthorityId = r.RecipientAuthorityId,
                    recipientAuthority = names.NameOf(r.RecipientAuthorityId),
                    at = r.At,
                }).ToArray());
                return;
            }

            if (receipts.Count == 0)
            {
                context.Line("No receipts yet.");
                return;
            }

            var table = Table("authority", "user", "device", "receipt", "at");
            foreach (var r in receipts)
            {
                Row(table, names.Of(r.RecipientAuthorityId.ToString()), r.RecipientUserId.ToString(), r.RecipientDeviceId.ToString(),
                    r.Kind == MessageReceiptKind.Read ? "read" : "delivered", Time(r.At));
            }

            context.Unwrapped($"Receipts of message {context.Get(messageId)} (every signature verified against the recipient's certificate chain):");
            context.Console.Write(table);
        });
        return command;
    }

    public Command Consent()
    {
        var messageId = IdArgument("message-id", "The H1/H2 message to forward");
        var origin = new Option<Guid?>("--channel") { Description = "The message's channel (checked before asking)" };
        var target = new Option<Guid>("--to") { Description = "The channel to forward it to", Required = true };
        var reason = new Option<string>("--reason") { Description = "Why (1 to 500 characters; no case content)", Required = true };
        var request = new Command("request", "Ask the originating authority for consent to forward an H1/H2 message into another channel")
        {
            messageId, origin, target, reason,
        };
        request.Handle(options, environment, async (context, cancellationToken) =>
        {
            await using var session = await context.ConnectAsync(cancellationToken);
            if (context.Get(origin) is { } channelId)
            {
                var message = await session.Client.GetMessageAsync(channelId, context.Get(messageId), cancellationToken);
                if (message.Envelope.Header.HandlingCode is not ("H1" or "H2"))
                {
                    throw new CliFailureException(
                        $"Message {context.Get(messageId)} is {message.Envelope.Header.HandlingCode}: only H1 and H2 content needs consent to be forwarded.");
                }
            }

            WriteConsent(context, await session.Client.RequestConsentAsync(context.Get(messageId), context.Get(target), context.Get(reason)!,
                cancellationToken: cancellationToken));
        });

        var grantId = IdArgument("consent-id", "The pending request");
        var note = new Option<string?>("--note") { Description = "An optional note (at most 500 characters)" };
        var grant = new Command("grant", "Grant a pending request (investigators and administrators of the originating authority)") { grantId, note };
        grant.Handle(options, environment, async (context, cancellationToken) =>
        {
            await using var session = await context.ConnectAsync(cancellationToken);
            WriteConsent(context, await session.Client.GrantConsentAsync(context.Get(grantId), context.Get(note), cancellationToken));
        });

        var denyId = IdArgument("consent-id", "The pending request");
        var denyReason = new Option<string>("--reason") { Description = "Why (1 to 500 characters)", Required = true };
        var deny = new Command("deny", "Deny a pending request, with a reason") { denyId, denyReason };
        deny.Handle(options, environment, async (context, cancellationToken) =>
        {
            await using var session = await context.ConnectAsync(cancellationToken);
            WriteConsent(context, await session.Client.DenyConsentAsync(context.Get(denyId), context.Get(denyReason)!, cancellationToken));
        });

        return new Command("consent", "Originator consent to forward H1/H2 messages to another channel (requests and decisions also show in 'globe watch')")
        {
            request, grant, deny,
        };
    }

    // ---------------------------------------------------------------- helpers

    /// <summary>A repeatable id option whose every value is checked while parsing (System.CommandLine does not report array elements that do not parse).</summary>
    internal static Option<Guid[]> IdsOption(string name, string description)
    {
        var option = new Option<Guid[]>(name) { Description = description, AllowMultipleArgumentsPerToken = true };
        option.Validators.Add(result =>
        {
            foreach (var token in result.Tokens.Where(t => !Guid.TryParse(t.Value, out _)))
            {
                result.AddError($"{name}: '{token.Value}' is not an id.");
            }
        });
        return option;
    }

    private static Option<string?> HandlingOption(string description)
    {
        var option = new Option<string?>("--handling") { Description = description };
        option.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<string?>() is { } code && HandlingCodes.Rank(code) < 0)
            {
                result.AddError($"--handling: '{code}' is not a handling code; use H0, H1, H2 or H3:<conditions>.");
            }
        });
        return option;
    }

    /// <summary>The text to send: the argument, or standard input when it is absent or "-" (one trailing newline dropped).</summary>
    private async Task<string> MessageTextAsync(string? argument, CancellationToken cancellationToken)
    {
        var text = argument;
        if (text is null or "-")
        {
            if (environment.InputIsTerminal())
            {
                await environment.Error.WriteLineAsync("Type the message; end it with Ctrl-D on a line of its own.");
            }

            text = await environment.Input.ReadToEndAsync(cancellationToken);
            text = text.EndsWith("\r\n", StringComparison.Ordinal) ? text[..^2] : text.EndsWith('\n') ? text[..^1] : text;
        }

        if (string.IsNullOrWhiteSpace(text))
        {
            throw new CliUsageException("The message is empty.");
        }

        var bytes = Encoding.UTF8.GetByteCount(text);
        return bytes > MaxContentBytes
            ? throw new CliUsageException($"The message is {bytes} bytes; at most {MaxContentBytes} fit in one message.")
            : text;
    }

    private static async Task<(string? Title, string Description)> TitleAsync(GlobeClient client, WireChannel channel, CancellationToken cancellationToken)
    {
        var info = await client.ReadChannelInfoAsync(channel, cancellationToken);
        return info is null ? (null, "") : (Printable(info.Title), Printable(info.Description));
    }

    private static async Task WriteChannelAsync(CliContext context, CliContext.Session session, WireChannel channel, bool detailed,
        CancellationToken cancellationToken)
    {
        var (title, description) = await TitleAsync(session.Client, channel, cancellationToken);
        var names = await AuthorityNamesAsync(session.Client, cancellationToken);
        if (context.Json)
        {
            context.WriteJson(ChannelJson(channel, title, description, names));
            return;
        }

        var grid = Grid();
        Add(grid, "channel", channel.ChannelId);
        Add(grid, "title", title ?? NoTitle);
        if (description.Length > 0)
        {
            Add(grid, "description", description);
        }

        Add(grid, "default handling", channel.DefaultHandlingCode);
        Add(grid, "current epoch", channel.CurrentEpoch.ToString(CultureInfo.InvariantCulture) + (channel.RotationRequired ? " (rotation due)" : ""));
        Add(grid, "authorities", string.Join(", ", channel.AuthorityIds.Select(a => names.Of(a))));
        if (detailed)
        {
            Add(grid, "created", $"{Names.Of(channel.CreatedAt)} by user {channel.CreatedByUserId}");
        }

        context.Console.Write(grid);
        if (detailed)
        {
            var table = Table("user", "authority");
            foreach (var member in channel.Members)
            {
                Row(table, member.UserId + (member.UserId == session.Profile.UserId?.ToString() ? " (you)" : ""), names.Of(member.AuthorityId));
            }

            context.Console.Write(table);
        }
        else
        {
            context.Unwrapped($"{channel.Members.Count} member{(channel.Members.Count == 1 ? "" : "s")}: {string.Join(", ", channel.Members.Select(m => m.UserId))}");
        }
    }

    private static object ChannelJson(WireChannel channel, string? title, string? description, AuthorityNames? names) => new
    {
        channelId = channel.ChannelId,
        title,
        description = string.IsNullOrEmpty(description) ? null : description,
        defaultHandlingCode = channel.DefaultHandlingCode,
        currentEpoch = channel.CurrentEpoch,
        rotationRequired = channel.RotationRequired,
        createdAt = channel.CreatedAt?.ToDateTimeOffset(),
        createdByUserId = channel.CreatedByUserId,
        authorityIds = channel.AuthorityIds.ToArray(),
        members = channel.Members.Select(m => new { userId = m.UserId, authorityId = m.AuthorityId, authority = names?.NameOf(m.AuthorityId) }).ToArray(),
    };

    /// <summary>A command on one channel that prints the channel as the server returns it.</summary>
    private Command OneChannel(string name, string description, Func<GlobeClient, Guid, CancellationToken, Task<Channel>> call, bool detailed)
    {
        var id = IdArgument("channel-id", "The channel");
        var command = new Command(name, description) { id };
        command.Handle(options, environment, async (context, cancellationToken) =>
        {
            await using var session = await context.ConnectAsync(cancellationToken);
            await WriteChannelAsync(context, session, await call(session.Client, context.Get(id), cancellationToken), detailed, cancellationToken);
        });
        return command;
    }

    private static void WriteConsent(CliContext context, Consent consent)
    {
        if (context.Json)
        {
            context.WriteJson(new
            {
                consentId = consent.ConsentId,
                status = Names.Of(consent.Status),
                messageId = consent.MessageId,
                originChannelId = consent.OriginChannelId,
                targetChannelId = consent.TargetChannelId,
                originatorAuthorityId = consent.OriginatorAuthorityId,
                requestedByUserId = consent.RequestedByUserId,
                reason = consent.Reason,
                decidedByUserId = NullIfEmpty(consent.DecidedByUserId),
                decisionReason = NullIfEmpty(consent.DecisionReason),
                requestedAt = consent.RequestedAt?.ToDateTimeOffset(),
                decidedAt = consent.DecidedAt?.ToDateTimeOffset(),
            });
            return;
        }

        var grid = Grid();
        Add(grid, "consent", consent.ConsentId);
        Add(grid, "status", Names.Of(consent.Status));
        Add(grid, "message", consent.MessageId);
        Add(grid, "from channel", consent.OriginChannelId);
        Add(grid, "to channel", consent.TargetChannelId);
        Add(grid, "decided by", consent.Status == ConsentStatus.Pending ? $"authority {consent.OriginatorAuthorityId}" : consent.DecidedByUserId);
        Add(grid, "requested by", $"{consent.RequestedByUserId} ({Names.Of(consent.RequestedAt)})");
        Add(grid, "reason", Printable(consent.Reason));
        if (consent.DecisionReason.Length > 0)
        {
            Add(grid, consent.Status == ConsentStatus.Denied ? "denial" : "note", Printable(consent.DecisionReason));
        }

        context.Console.Write(grid);
    }

    private static void WriteEvent(CliContext context, ChannelEvent e, string me, AuthorityNames names)
    {
        var json = e.EventCase switch
        {
            ChannelEvent.EventOneofCase.Created => (object)new
            {
                kind = "created",
                byUserId = e.Created.CreatedByUserId,
                members = e.Created.Members.Select(m => new { userId = m.UserId, authorityId = m.AuthorityId }).ToArray(),
            },
            ChannelEvent.EventOneofCase.MembersChanged => new
            {
                kind = "members-changed",
                byUserId = e.MembersChanged.ByUserId,
                added = e.MembersChanged.Added.Select(m => new { userId = m.UserId, authorityId = m.AuthorityId }).ToArray(),
                removedUserIds = e.MembersChanged.RemovedUserIds.ToArray(),
            },
            ChannelEvent.EventOneofCase.EpochStarted => new { kind = "epoch-started", epoch = e.EpochStarted.Epoch, creatorDeviceId = e.EpochStarted.CreatorDeviceId },
            ChannelEvent.EventOneofCase.HistoryShared => new
            {
                kind = "history-shared",
                userId = e.HistoryShared.UserId,
                epochs = e.HistoryShared.Epochs.ToArray(),
                byUserId = e.HistoryShared.ByUserId,
            },
            ChannelEvent.EventOneofCase.Consent => new
            {
                kind = "consent",
                consentId = e.Consent.ConsentId,
                status = Names.Of(e.Consent.Status),
                messageId = e.Consent.MessageId,
                targetChannelId = e.Consent.TargetChannelId,
                requestedByUserId = e.Consent.RequestedByUserId,
                reason = e.Consent.Reason,
                decidedByUserId = NullIfEmpty(e.Consent.DecidedByUserId),
                decisionReason = NullIfEmpty(e.Consent.DecisionReason),
            },
            _ => new { kind = "unknown" },
        };
        if (context.Json)
        {
            context.WriteJson(new { position = e.Position, channelId = e.ChannelId, at = e.At?.ToDateTimeOffset(), @event = json });
            return;
        }

        string You(string user) => user == me ? "you" : $"user {user}";
        var what = e.EventCase switch
        {
            ChannelEvent.EventOneofCase.Created =>
                $"channel created by {You(e.Created.CreatedByUserId)} with {e.Created.Members.Count} member{(e.Created.Members.Count == 1 ? "" : "s")} (default handling {e.Created.DefaultHandlingCode})",
            ChannelEvent.EventOneofCase.MembersChanged => MembersChanged(e.MembersChanged),
            ChannelEvent.EventOneofCase.EpochStarted => $"epoch {e.EpochStarted.Epoch} started (new key, sealed to the members' devices)",
            ChannelEvent.EventOneofCase.HistoryShared =>
                $"epoch{(e.HistoryShared.Epochs.Count == 1 ? "" : "s")} {string.Join(", ", e.HistoryShared.Epochs)} shared with {You(e.HistoryShared.UserId)} by {You(e.HistoryShared.ByUserId)}",
            ChannelEvent.EventOneofCase.Consent => e.Consent.Status switch
            {
                ConsentStatus.Pending =>
                    $"consent {e.Consent.ConsentId} requested by {You(e.Consent.RequestedByUserId)}: forward message {e.Consent.MessageId} to channel {e.Consent.TargetChannelId} — \"{Printable(e.Consent.Reason)}\" (decide: globe consent grant|deny {e.Consent.ConsentId})",
                ConsentStatus.Granted => $"consent {e.Consent.ConsentId} GRANTED by {You(e.Consent.DecidedByUserId)} (message {e.Consent.MessageId} → channel {e.Consent.TargetChannelId})",
                ConsentStatus.Denied => $"consent {e.Consent.ConsentId} DENIED by {You(e.Consent.DecidedByUserId)}: \"{Printable(e.Consent.DecisionReason)}\"",
                _ => $"consent {e.Consent.ConsentId}: {Names.Of(e.Consent.Status)}",
            },
            _ => "an event this version of globe does not know",
        };
        context.Unwrapped($"#{e.Position}  {(e.At is null ? "" : Time(e.At.ToDateTimeOffset()))}  channel {e.ChannelId}: {what}");

        string MembersChanged(MembersChanged changed)
        {
            var parts = new List<string>();
            if (changed.Added.Count > 0)
            {
                parts.Add("added " + string.Join(", ", changed.Added.Select(m => $"{You(m.UserId)} ({names.Of(m.AuthorityId)})")));
            }

            if (changed.RemovedUserIds.Count > 0)
            {
                parts.Add("removed " + string.Join(", ", changed.RemovedUserIds.Select(You)));
            }

            return string.Join("; ", parts) + $" by {You(changed.ByUserId)}";
        }
    }

    private static async Task<bool> ReceiptsAsync(CliContext context, GlobeClient client, StoredMessage message, CancellationToken cancellationToken)
    {
        try
        {
            await client.SubmitReceiptAsync(message, MessageReceiptKind.Delivered, cancellationToken);
            await client.SubmitReceiptAsync(message, MessageReceiptKind.Read, cancellationToken);
            return true;
        }
        catch (GlobeClientException e) when (e.Status is not StatusCode.Cancelled)
        {
            // Watching goes on: a missing receipt is the sender's loss, not a reason to stop reading.
            await context.Environment.Error.WriteLineAsync($"warning: no receipt sent for message {message.Envelope.Header.MessageId}: {GlobeCli.OneLine(e.Message)}");
            return false;
        }
    }

    private static async Task<AuthorityNames> AuthorityNamesAsync(GlobeClient client, CancellationToken cancellationToken)
    {
        try
        {
            return new AuthorityNames((await client.ListAuthoritiesAsync(cancellationToken: cancellationToken))
                .ToDictionary(a => a.AuthorityId, a => $"{Printable(a.Name)} ({a.Country})", StringComparer.OrdinalIgnoreCase));
        }
        catch (GlobeClientException e) when (e.Status is StatusCode.PermissionDenied)
        {
            return new AuthorityNames(new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)); // Ids, then.
        }
    }

    private static string Marks(string handling, string grade, bool spontaneous)
    {
        var marks = new List<string> { handling };
        if (grade.Length > 0)
        {
            marks.Add(grade);
        }

        if (spontaneous)
        {
            marks.Add("spontaneous");
        }

        return string.Join(' ', marks);
    }

    private static object AttachmentJson(DocumentAttachment a) => new
    {
        documentId = a.DocumentId,
        fileName = a.FileName,
        mediaType = a.MediaType,
        length = a.PlaintextLength,
        plaintextHash = a.PlaintextHashHex,
    };

    private static string Time(DateTimeOffset at) => at.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    private static string? NullIfEmpty(string value) => value.Length == 0 ? null : value;

    /// <summary>
    /// Text written by others, made safe for a terminal: control characters (escape sequences
    /// that could rewrite the screen) become U+FFFD; line breaks and tabs stay.
    /// </summary>
    internal static string Printable(string text)
    {
        if (!text.Any(c => char.IsControl(c) && c is not ('\n' or '\t')))
        {
            return text;
        }

        var builder = new StringBuilder(text.Length);
        foreach (var c in text)
        {
            builder.Append(char.IsControl(c) && c is not ('\n' or '\t') ? '\uFFFD' : c);
        }

        return builder.ToString();
    }

    /// <summary>Authority ids as names, where the directory lists them.</summary>
    private sealed class AuthorityNames(IReadOnlyDictionary<string, string> names)
    {
        public string Of(string authorityId) => names.TryGetValue(authorityId, out var name) ? name : $"authority {authorityId}";

        public string Of(Guid authorityId) => Of(authorityId.ToString());

        public string? NameOf(string authorityId) => names.GetValueOrDefault(authorityId);

        public string? NameOf(Guid authorityId) => NameOf(authorityId.ToString());
    }

    /// <summary>A message as this device could open it: verified and decrypted, or why not.</summary>
    private sealed record Shown(StoredMessage Message, OpenedMessage? Opened, string? Problem, bool Untrusted, AuthorityNames Authorities)
    {
        public long Position => Message.Position;

        public object Json()
        {
            var header = Message.Envelope.Header;
            if (Opened is not { } m)
            {
                return new
                {
                    position = Message.Position,
                    channelId = header.ChannelId,
                    messageId = header.MessageId,
                    epoch = header.Epoch,
                    acceptedAt = Message.AcceptedAt?.ToDateTimeOffset(),
                    readable = false,
                    verified = Untrusted ? false : (bool?)null,
                    reason = Problem,
                };
            }

            return new
            {
                position = m.Position,
                channelId = m.ChannelId,
                messageId = m.MessageId,
                epoch = m.Epoch,
                sentAt = m.SentAt,
                acceptedAt = m.AcceptedAt,
                senderUserId = m.SenderUserId,
                senderDeviceId = m.SenderDeviceId,
                senderAuthorityId = m.SenderAuthorityId,
                senderAuthority = Authorities.NameOf(m.SenderAuthorityId),
                handlingCode = m.HandlingCode,
                evaluationGrade = NullIfEmpty(m.EvaluationGrade),
                spontaneous = m.Spontaneous,
                replyTo = m.ReplyTo,
                forwardOf = m.ForwardOf,
                contentType = m.ContentType,
                readable = true,
                verified = true,
                text = IsText(m.ContentType) || m.ContentType == GlobeClient.MessageContentType ? m.Text : null,
                size = m.Content.Length,
                documents = m.Attachments.Count == 0 ? null : m.Attachments.Select(AttachmentJson).ToArray(),
            };
        }

        public void Write(CliContext context)
        {
            var header = Message.Envelope.Header;
            if (Opened is not { } m)
            {
                var label = Untrusted ? "NOT VERIFIED, not shown" : "not readable";
                context.Unwrapped($"#{Message.Position}  {Time(Message.AcceptedAt.ToDateTimeOffset())}  epoch {header.Epoch}  message {header.MessageId}");
                context.Unwrapped($"      {label}: {Problem}");
                return;
            }

            var extra = (m.ReplyTo is { } r ? $" · reply to {r}" : "") + (m.ForwardOf is { } f ? $" · forward of {f}" : "");
            context.Unwrapped($"#{m.Position}  {Time(m.SentAt)}  [{Marks(m.HandlingCode, m.EvaluationGrade, m.Spontaneous)}]  {Authorities.Of(m.SenderAuthorityId)}");
            context.Unwrapped($"      user {m.SenderUserId} · message {m.MessageId}{extra}");
            var body = IsText(m.ContentType) || m.ContentType == GlobeClient.MessageContentType ? Printable(m.Text)
                : $"({m.Content.Length} bytes of {Printable(m.ContentType)})";
            if (body.Length > 0 || m.Attachments.Count == 0)
            {
                foreach (var line in body.Split('\n'))
                {
                    context.Unwrapped("      │ " + line.TrimEnd('\r'));
                }
            }

            foreach (var a in m.Attachments)
            {
                context.Unwrapped($"      + {Printable(a.FileName)} ({Size(a.PlaintextLength)}, {Printable(a.MediaType)}) · document {a.DocumentId}");
            }

            if (m.Attachments.Count > 0)
            {
                context.Unwrapped($"      (download: globe doc download {m.MessageId} --channel {m.ChannelId})");
            }
        }

        private static bool IsText(string contentType) => contentType.StartsWith("text/", StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>Opens messages for display: never throws for one message this device cannot read or trust.</summary>
    private sealed class MessageView(GlobeClient client, AuthorityNames names)
    {
        public AuthorityNames Authorities => names;

        public async Task<Shown> OpenAsync(StoredMessage message, CancellationToken cancellationToken)
        {
            try
            {
                return new Shown(message, await client.OpenAsync(message, cancellationToken), null, false, names);
            }
            catch (GlobeClientException e) when (e.Status is StatusCode.NotFound or StatusCode.PermissionDenied)
            {
                var epoch = message.Envelope.Header.Epoch;
                return new Shown(message, null,
                    $"this device holds no key for epoch {epoch}: it was sent before you joined or while you were not a member " +
                    "(a member can share it with 'globe channel share-history')", false, names);
            }
            catch (GlobeTrustException e)
            {
                return new Shown(message, null, GlobeCli.OneLine(e.Message), true, names);
            }
        }
    }
}
