using System.CommandLine;
using GlobeSecure.Client;
using GlobeSecure.Contracts.V1;
using System.Globalization;
using Google.Protobuf;
using Grpc.Core;

namespace GlobeSecure.Cli;

/// <summary>Information requests (docs/requests.md, "Client library and command line") and their statistics.</summary>
internal sealed partial class Commands
{
    private static readonly IReadOnlyDictionary<string, Urgency> Urgencies = new Dictionary<string, Urgency>(StringComparer.Ordinal)
    {
        ["normal"] = Urgency.Normal,
        ["urgent"] = Urgency.Urgent,
        ["emergency"] = Urgency.Emergency,
    };

    private static readonly IReadOnlyDictionary<string, DeclineReasonCategory> DeclineReasons = new Dictionary<string, DeclineReasonCategory>(StringComparer.Ordinal)
    {
        ["outside-competence"] = DeclineReasonCategory.OutsideCompetence,
        ["insufficient-information"] = DeclineReasonCategory.InsufficientInformation,
        ["legal-impediment"] = DeclineReasonCategory.LegalImpediment,
        ["confidentiality-conditions-unacceptable"] = DeclineReasonCategory.ConfidentialityConditionsUnacceptable,
        ["information-not-held"] = DeclineReasonCategory.InformationNotHeld,
        ["other"] = DeclineReasonCategory.Other,
    };

    private static readonly IReadOnlyDictionary<string, WithdrawReasonCategory> WithdrawReasons = new Dictionary<string, WithdrawReasonCategory>(StringComparer.Ordinal)
    {
        ["no-longer-needed"] = WithdrawReasonCategory.NoLongerNeeded,
        ["obtained-elsewhere"] = WithdrawReasonCategory.ObtainedElsewhere,
        ["sent-in-error"] = WithdrawReasonCategory.SentInError,
        ["other"] = WithdrawReasonCategory.Other,
    };

    public Command Request()
    {
        var request = new Command("request", "Information requests: new, list, show, ack, start, clarify, answer, decline, withdraw, close, export");
        request.Subcommands.Add(RequestNew());
        request.Subcommands.Add(RequestList());
        request.Subcommands.Add(RequestShow());
        request.Subcommands.Add(RequestAction("ack", "Requested side: confirm receipt", (c, r, ct) => c.AcknowledgeRequestAsync(r, ct)));
        request.Subcommands.Add(RequestAction("start", "Requested side: start work on the request (in progress)", (c, r, ct) => c.StartWorkOnRequestAsync(r, ct)));
        request.Subcommands.Add(RequestClarify());
        request.Subcommands.Add(RequestAnswer());
        request.Subcommands.Add(RequestDecline());
        request.Subcommands.Add(RequestWithdraw());
        request.Subcommands.Add(RequestAction("close", "Requesting side: close a finished request (answered, partially answered, declined or withdrawn)",
            (c, r, ct) => c.CloseRequestAsync(r, ct)));
        request.Subcommands.Add(RequestExport());
        return request;
    }

    private Command RequestNew()
    {
        var templateId = new Option<string>("--template") { Description = "The template's id, e.g. request-for-information", Required = true };
        var templateVersion = new Option<long>("--version") { Description = "The template version (default: the latest)" };
        var to = new Option<Guid>("--to") { Description = "The requested authority's id", Required = true };
        var urgency = new Option<string?>("--urgency") { Description = "normal, urgent or emergency (default: the draft's urgency field, else normal)" };
        urgency.AcceptOnlyFromAmong([.. Urgencies.Keys]);
        var answerBy = TimeOption("--answer-by", "An earlier answer deadline than the urgency's default (e.g. 2026-12-01T12:00Z)");
        var spontaneous = new Option<bool>("--spontaneous") { Description = "A spontaneous disclosure (UNCAC art. 46(4)): information sent without a request, never answered" };
        var requestId = new Option<Guid?>("--request-id") { Description = "The request's id: give the one a failed attempt printed to finish it without a second thread or form" };
        var draft = new Argument<FileInfo>("draft") { Description = "The filled form: a JSON object, section id → field id → value" };
        var create = new Command("new", "Investigators: check the draft against its template (every problem listed, nothing sent), open the request's thread with the requested authority, send the form encrypted in it and send the request")
        {
            templateId, templateVersion, to, urgency, answerBy, spontaneous, requestId, draft,
        };
        create.Handle(options, environment, async (context, cancellationToken) =>
        {
            var file = context.Get(draft)!;
            if (!file.Exists)
            {
                throw new CliUsageException($"There is no draft file at '{file.FullName}'.");
            }

            var json = await File.ReadAllTextAsync(file.FullName, cancellationToken);
            var id = context.Get(requestId) ?? Guid.CreateVersion7();
            await using var session = await context.ConnectAsync(cancellationToken);
            SubmittedRequest submitted;
            try
            {
                submitted = await session.Client.SubmitRequestAsync(new RequestSubmission(context.Get(templateId)!, context.Get(templateVersion),
                    context.Get(to), json, context.Get(urgency) is { } u ? Urgencies[u] : Urgency.Unspecified, ParseTime(context.Get(answerBy), "--answer-by"),
                    context.Get(spontaneous), id), cancellationToken);
            }
            catch (DraftRejectedException e)
            {
                if (context.Json)
                {
                    context.WriteJson(e.Problems.Select(p => new { path = p.Path, problem = p.Problem }).ToArray());
                }
                else
                {
                    var table = Table("field", "what to fix");
                    foreach (var p in e.Problems)
                    {
                        Row(table, p.Path, p.Problem);
                    }

                    context.Console.Write(table);
                }

                throw new CliFailureException($"{Number(e.Problems.Count)} problem(s) in the draft for {e.TemplateId} version {Number(e.TemplateVersion)}; nothing was sent.");
            }
            catch (GlobeClientException e) when (e.Status is StatusCode.Unavailable or StatusCode.DeadlineExceeded or StatusCode.Internal or StatusCode.Unknown)
            {
                throw new CliFailureException($"{e.Message} The request may be partly sent: run the same command again with --request-id {id} to finish it.");
            }

            if (!context.Json)
            {
                context.Unwrapped(submitted.Request.Status == RequestStatus.Draft
                    ? $"Request {submitted.Request.RequestId} drafted in channel {submitted.ChannelId}."
                    : $"Request {submitted.Request.RequestId} sent in channel {submitted.ChannelId}.");
            }

            WriteRequest(context, submitted.Request);
        });
        return create;
    }

    private Command RequestList()
    {
        var incoming = new Option<bool>("--incoming") { Description = "Only requests to your authority" };
        var outgoing = new Option<bool>("--outgoing") { Description = "Only requests from your authority" };
        var overdue = new Option<bool>("--overdue") { Description = "Only overdue requests" };
        var open = new Option<bool>("--open") { Description = "Only requests still open (sent, acknowledged, in progress, awaiting clarification, partially answered)" };
        var limit = new Option<int>("--limit") { Description = "At most this many (1 to 500; default 100)", DefaultValueFactory = _ => 100 };
        limit.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int>() is < 1 or > 500)
            {
                result.AddError("--limit: 1 to 500.");
            }
        });
        var all = new Option<bool>("--all") { Description = "Every request, page after page (--limit is then the page size)" };
        var list = new Command("list", "Your authority's requests, newest first") { incoming, outgoing, overdue, open, limit, all };
        list.Handle(options, environment, async (context, cancellationToken) =>
        {
            if (context.Get(incoming) && context.Get(outgoing))
            {
                throw new CliUsageException("Give --incoming or --outgoing, not both.");
            }

            var direction = context.Get(incoming) ? RequestDirection.Incoming : context.Get(outgoing) ? RequestDirection.Outgoing : RequestDirection.Unspecified;
            RequestStatus[]? statuses = context.Get(open)
                ? [RequestStatus.Sent, RequestStatus.Acknowledged, RequestStatus.InProgress, RequestStatus.ClarificationRequested, RequestStatus.PartiallyAnswered]
                : null;
            await using var session = await context.ConnectAsync(cancellationToken);
            var requests = new List<InformationRequest>();
            string? token = null;
            do
            {
                var page = await session.Client.ListRequestPageAsync(direction, statuses, context.Get(overdue), context.Get(limit), token, cancellationToken);
                requests.AddRange(page.Requests);
                token = page.NextPageToken;
            }
            while (context.Get(all) && token.Length > 0);

            if (context.Json)
            {
                context.Unwrapped($"[{string.Join(",", requests.Select(r => JsonFormatter.Default.Format(r)))}]");
                return;
            }

            if (requests.Count == 0)
            {
                context.Line("No requests.");
                return;
            }

            var table = Table("id", "from", "to", "urgency", "status", "answer by", "overdue");
            foreach (var r in requests)
            {
                Row(table, r.RequestId, r.RequestingAuthorityId, r.RequestedAuthorityId, StatusName(r.Urgency.ToString()), StatusName(r.Status.ToString()),
                    Names.Of(r.AnswerBy), Overdue(r));
            }

            context.Console.Write(table);
        });
        return list;
    }

    private Command RequestShow()
    {
        var id = new Argument<Guid>("request") { Description = "The request's id" };
        var form = new Option<bool>("--form") { Description = "Also decrypt and print the filled form" };
        var show = new Command("show", "A request as it stands (and with --form its decrypted form)") { id, form };
        show.Handle(options, environment, async (context, cancellationToken) =>
        {
            await using var session = await context.ConnectAsync(cancellationToken);
            var r = await session.Client.GetRequestAsync(context.Get(id), cancellationToken);
            if (context.Get(form))
            {
                var filled = await session.Client.ReadRequestFormAsync(r, cancellationToken);
                if (context.Json)
                {
                    context.Unwrapped($"{{\"request\":{JsonFormatter.Default.Format(r)},\"form\":{filled.Json}}}");
                    return;
                }

                WriteRequest(context, r);
                context.Unwrapped(filled.Json);
                return;
            }

            WriteRequest(context, r);
        });
        return show;
    }

    private Command RequestClarify()
    {
        var id = new Argument<Guid>("request") { Description = "The request's id" };
        var question = new Option<string?>("--question") { Description = "Requested side: the question, sent encrypted in the request's thread; work pauses until it is answered" };
        var answer = new Option<string?>("--answer") { Description = "Requesting side: the answer to the open question, sent encrypted in the thread; the request resumes" };
        var clarify = new Command("clarify", "Ask for clarification (requested side, --question) or provide it (requesting side, --answer)") { id, question, answer };
        clarify.Handle(options, environment, async (context, cancellationToken) =>
        {
            var (q, a) = (context.Get(question), context.Get(answer));
            if (string.IsNullOrWhiteSpace(q) == string.IsNullOrWhiteSpace(a))
            {
                throw new CliUsageException("Give either --question \"text\" (requested side) or --answer \"text\" (requesting side).");
            }

            var requestId = context.Get(id);
            await using var session = await context.ConnectAsync(cancellationToken);
            var r = await session.Client.GetRequestAsync(requestId, cancellationToken);
            if (q is { Length: > 0 })
            {
                RequireAllowed(r, "request clarification");
                var questionId = Guid.CreateVersion7();
                await session.Client.SendTextAsync(Guid.Parse(r.ChannelId), q, new SendOptions(ReplyTo: requestId, MessageId: questionId), cancellationToken);
                WriteRequest(context, await session.Client.RequestClarificationAsync(requestId, questionId, cancellationToken));
                return;
            }

            RequireAllowed(r, "provide clarification");
            var open = Guid.Parse(r.OpenQuestionId);
            await session.Client.SendTextAsync(Guid.Parse(r.ChannelId), a!, new SendOptions(ReplyTo: open), cancellationToken);
            WriteRequest(context, await session.Client.ProvideClarificationAsync(requestId, open, cancellationToken));
        });
        return clarify;
    }

    private Command RequestAnswer()
    {
        var id = new Argument<Guid>("request") { Description = "The request's id" };
        var text = new Option<string?>("--message") { Description = "The answer's text, sent encrypted in the request's thread first" };
        var partial = new Option<bool>("--partial") { Description = "Answer in part; a full answer may follow" };
        var attach = new Option<string[]>("--attach")
        {
            Description = "Files to encrypt, upload and attach to the answer's message (--attach a.pdf b.zip, or repeat --attach)",
            HelpName = "file",
            AllowMultipleArgumentsPerToken = true,
        };
        var answer = new Command("answer", "Requested side: answer (the text and attached files go encrypted in the request's thread first)")
        {
            id, text, partial, attach,
        };
        answer.Handle(options, environment, async (context, cancellationToken) =>
        {
            var files = AttachedFiles(context.Get(attach));
            var requestId = context.Get(id);
            await using var session = await context.ConnectAsync(cancellationToken);
            var r = await session.Client.GetRequestAsync(requestId, cancellationToken);
            var partly = context.Get(partial);
            RequireAllowed(r, partly ? "answer partially" : "answer");
            if (context.Get(text) is { Length: > 0 } || files.Count > 0)
            {
                var channelId = Guid.Parse(r.ChannelId);
                var attachments = await UploadAsync(context, session.Client, channelId, files, cancellationToken);
                var sent = await session.Client.SendTextAsync(channelId, context.Get(text) ?? "", new SendOptions(ReplyTo: requestId, Attachments: attachments),
                    cancellationToken);
                if (!context.Json)
                {
                    context.Unwrapped($"Answer sent as message {sent.Envelope.Header.MessageId} in channel {channelId}.");
                    foreach (var a in attachments)
                    {
                        context.Unwrapped($"  attached document {a.DocumentId}: {Printable(a.FileName)} ({Size(a.PlaintextLength)}, BLAKE2b-256 {a.PlaintextHashHex})");
                    }
                }
            }

            WriteRequest(context, partly
                ? await session.Client.PartiallyAnswerRequestAsync(requestId, cancellationToken)
                : await session.Client.AnswerRequestAsync(requestId, cancellationToken));
        });
        return answer;
    }

    private Command RequestDecline()
    {
        var id = new Argument<Guid>("request") { Description = "The request's id" };
        var reason = new Option<string>("--reason") { Description = "The reason category", Required = true };
        reason.AcceptOnlyFromAmong([.. DeclineReasons.Keys]);
        var text = new Option<string?>("--message") { Description = "The explanation, sent encrypted in the request's thread first" };
        var decline = new Command("decline", "Requested side: decline with a reason category (and an explanation in the thread)") { id, reason, text };
        decline.Handle(options, environment, async (context, cancellationToken) =>
        {
            var requestId = context.Get(id);
            await using var session = await context.ConnectAsync(cancellationToken);
            await ExplainAsync(session.Client, requestId, "decline", context.Get(text), cancellationToken);
            WriteRequest(context, await session.Client.DeclineRequestAsync(requestId, DeclineReasons[context.Get(reason)!], cancellationToken));
        });
        return decline;
    }

    private Command RequestWithdraw()
    {
        var id = new Argument<Guid>("request") { Description = "The request's id" };
        var reason = new Option<string?>("--reason") { Description = "The reason category (optional)" };
        reason.AcceptOnlyFromAmong([.. WithdrawReasons.Keys]);
        var text = new Option<string?>("--message") { Description = "An explanation, sent encrypted in the request's thread first" };
        var withdraw = new Command("withdraw", "Requesting side: withdraw a draft or an open request") { id, reason, text };
        withdraw.Handle(options, environment, async (context, cancellationToken) =>
        {
            var requestId = context.Get(id);
            await using var session = await context.ConnectAsync(cancellationToken);
            await ExplainAsync(session.Client, requestId, "withdraw", context.Get(text), cancellationToken);
            WriteRequest(context, await session.Client.WithdrawRequestAsync(requestId,
                context.Get(reason) is { } category ? WithdrawReasons[category] : WithdrawReasonCategory.Unspecified, cancellationToken));
        });
        return withdraw;
    }

    public Command Stats()
    {
        var from = TimeOption("--from", "Only requests sent at or after this time (e.g. 2026-01-01)");
        var to = TimeOption("--to", "Only requests sent before this time (e.g. 2027-01-01)");
        var stats = new Command("stats", "Request statistics from metadata only: your authority's (network administrators: every authority and State), as requesting and as requested party")
        {
            from, to,
        };
        stats.Handle(options, environment, async (context, cancellationToken) =>
        {
            var (since, until) = (ParseTime(context.Get(from), "--from"), ParseTime(context.Get(to), "--to"));
            if (since is { } s && until is { } u && u <= s)
            {
                throw new CliUsageException("--to must be later than --from.");
            }

            await using var session = await context.ConnectAsync(cancellationToken);
            var figures = await session.Client.GetRequestStatisticsAsync(since, until, cancellationToken);
            if (context.Json)
            {
                context.Unwrapped(JsonFormatter.Default.Format(figures));
                return;
            }

            if (figures.Groups.Count == 0)
            {
                context.Line("No requests sent in the period.");
                return;
            }

            var table = Table("scope", "as", "id", "total", "by status", "by urgency", "ack median / p90", "answer median / p90", "overdue ack / answer");
            foreach (var g in figures.Groups)
            {
                Row(table, g.Scope == StatisticsScope.Country ? "State" : "authority", g.As == RequestParty.Requesting ? "requesting" : "requested", g.Id,
                    Number(g.Total),
                    string.Join(", ", g.ByStatus.Select(c => $"{StatusName(c.Status.ToString())} {Number(c.Count)}")),
                    string.Join(", ", g.ByUrgency.Select(c => $"{StatusName(c.Urgency.ToString())} {Number(c.Count)}")),
                    Figures(g.TimeToAcknowledge), Figures(g.TimeToAnswer),
                    $"{Number(g.AcknowledgeOverdue)} / {Number(g.AnswerOverdue)}");
            }

            context.Console.Write(table);
        });
        return stats;
    }

    // A sentence of explanation before a decline or withdrawal, in the thread, replying to the form.
    private static async Task ExplainAsync(GlobeClient client, Guid requestId, string action, string? text, CancellationToken cancellationToken)
    {
        if (text is not { Length: > 0 })
        {
            return;
        }

        var r = await client.GetRequestAsync(requestId, cancellationToken);
        RequireAllowed(r, action);
        await client.SendTextAsync(Guid.Parse(r.ChannelId), text, new SendOptions(ReplyTo: requestId), cancellationToken);
    }

    // Checked before anything goes into the thread, so a refused step leaves no stray message;
    // the server checks again.
    private static void RequireAllowed(InformationRequest r, string action)
    {
        if (!r.AllowedActions.Contains(action))
        {
            throw new CliFailureException($"Cannot {action}: request {r.RequestId} is {StatusName(r.Status.ToString())}; "
                + (r.AllowedActions.Count == 0 ? "your side can do nothing with it now." : $"your side may now: {string.Join(", ", r.AllowedActions)}."));
        }
    }

    private static string Figures(DurationFigures? f) =>
        f is null || f.Count == 0 ? "" : $"{Span(f.Median.ToTimeSpan())} / {Span(f.Percentile90.ToTimeSpan())} (n={Number(f.Count)})";

    private static string Span(TimeSpan t) =>
        t.TotalDays >= 1 ? $"{t.TotalDays:0.#} d" : t.TotalHours >= 1 ? $"{t.TotalHours:0.#} h" : t.TotalMinutes >= 1 ? $"{t.TotalMinutes:0.#} min" : $"{t.TotalSeconds:0} s";

    private static string Overdue(InformationRequest r) =>
        string.Join(", ", new[] { r.AcknowledgeOverdue ? "acknowledge" : "", r.AnswerOverdue ? "answer" : "" }.Where(s => s.Length > 0));

    private static Option<string?> TimeOption(string name, string description) => new(name) { Description = description, HelpName = "time" };

    private static DateTimeOffset? ParseTime(string? value, string option)
    {
        if (value is null)
        {
            return null;
        }

        if (DateTimeOffset.TryParseExact(value, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var date))
        {
            return date;
        }

        if (DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at) && value.Contains('T', StringComparison.Ordinal))
        {
            return at;
        }

        throw new CliUsageException($"{option}: '{value}' is not a date (2026-12-01) or an ISO 8601 time (2026-12-01T12:00:00Z).");
    }

    private Command RequestAction(string name, string description, Func<GlobeClient, Guid, CancellationToken, Task<InformationRequest>> call)
    {
        var id = new Argument<Guid>("request") { Description = "The request's id" };
        var command = new Command(name, description) { id };
        command.Handle(options, environment, async (context, cancellationToken) =>
        {
            await using var session = await context.ConnectAsync(cancellationToken);
            WriteRequest(context, await call(session.Client, context.Get(id), cancellationToken));
        });
        return command;
    }

    private static void WriteRequest(CliContext context, InformationRequest r)
    {
        if (context.Json)
        {
            context.Unwrapped(JsonFormatter.Default.Format(r));
            return;
        }

        var table = Table("request", r.RequestId);
        Row(table, "from", r.RequestingAuthorityId);
        Row(table, "to", r.RequestedAuthorityId);
        Row(table, "template", $"{r.TemplateId} v{Number(r.TemplateVersion)}");
        Row(table, "urgency", StatusName(r.Urgency.ToString()));
        Row(table, "status", StatusName(r.Status.ToString()));
        Row(table, "channel", r.ChannelId);
        Row(table, "acknowledge by", Names.Of(r.AcknowledgeBy));
        Row(table, "answer by", Names.Of(r.AnswerBy));
        Row(table, "overdue", Overdue(r));
        Row(table, "allowed now", r.AllowedActions.Count == 0 ? "nothing (for your side)" : string.Join(", ", r.AllowedActions));
        context.Console.Write(table);
    }

    // "InProgress" → "in progress".
    private static string StatusName(string name) =>
        string.Concat(name.Select((ch, i) => char.IsUpper(ch) && i > 0 ? $" {char.ToLowerInvariant(ch)}" : char.ToLowerInvariant(ch).ToString()));
}
