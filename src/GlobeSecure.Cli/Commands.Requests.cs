using System.CommandLine;
using GlobeSecure.Client;
using GlobeSecure.Contracts.V1;
using Google.Protobuf;

namespace GlobeSecure.Cli;

/// <summary>Information requests (docs/requests.md, "Client library and command line"): new, list, show, ack, answer, decline.</summary>
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

    public Command Request()
    {
        var request = new Command("request", "Information requests: new, list, show, ack, answer, decline");

        var templateId = new Option<string>("--template") { Description = "The template's id, e.g. request-for-information", Required = true };
        var templateVersion = new Option<long>("--version") { Description = "The template version (default: the latest)" };
        var to = new Option<Guid>("--to") { Description = "The requested authority's id", Required = true };
        var urgency = new Option<string>("--urgency") { Description = "normal (default), urgent or emergency", DefaultValueFactory = _ => "normal" };
        urgency.AcceptOnlyFromAmong([.. Urgencies.Keys]);
        var draft = new Argument<FileInfo>("draft") { Description = "The filled form: a JSON object, section id → field id → value" };
        var create = new Command("new", "Investigators: check the draft against its template (every problem listed, nothing sent), open the request's thread with the requested authority, send the form encrypted in it and send the request")
        {
            templateId, templateVersion, to, urgency, draft,
        };
        create.Handle(options, environment, async (context, cancellationToken) =>
        {
            var json = await File.ReadAllTextAsync(context.Get(draft)!.FullName, cancellationToken);
            await using var session = await context.ConnectAsync(cancellationToken);
            SubmittedRequest submitted;
            try
            {
                submitted = await session.Client.SubmitRequestAsync(new RequestSubmission(context.Get(templateId)!, context.Get(templateVersion),
                    context.Get(to), json, Urgencies[context.Get(urgency)!]), cancellationToken);
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

            if (!context.Json)
            {
                context.Unwrapped($"Request {submitted.Request.RequestId} sent in channel {submitted.ChannelId}.");
            }

            WriteRequest(context, submitted.Request);
        });
        request.Subcommands.Add(create);

        var incoming = new Option<bool>("--incoming") { Description = "Only requests to your authority" };
        var outgoing = new Option<bool>("--outgoing") { Description = "Only requests from your authority" };
        var overdue = new Option<bool>("--overdue") { Description = "Only overdue requests" };
        var list = new Command("list", "Your authority's requests, newest first") { incoming, outgoing, overdue };
        list.Handle(options, environment, async (context, cancellationToken) =>
        {
            if (context.Get(incoming) && context.Get(outgoing))
            {
                throw new CliUsageException("Give --incoming or --outgoing, not both.");
            }

            var direction = context.Get(incoming) ? RequestDirection.Incoming : context.Get(outgoing) ? RequestDirection.Outgoing : RequestDirection.Unspecified;
            await using var session = await context.ConnectAsync(cancellationToken);
            var requests = await session.Client.ListRequestsAsync(direction, overdueOnly: context.Get(overdue), cancellationToken: cancellationToken);
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
                    Names.Of(r.AnswerBy), r.AcknowledgeOverdue || r.AnswerOverdue ? "yes" : "");
            }

            context.Console.Write(table);
        });
        request.Subcommands.Add(list);

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
        request.Subcommands.Add(show);

        request.Subcommands.Add(RequestAction("ack", "Requested side: confirm receipt", (c, r, ct) => c.AcknowledgeRequestAsync(r, ct)));

        var answerId = new Argument<Guid>("request") { Description = "The request's id" };
        var answerText = new Option<string?>("--message") { Description = "The answer's text, sent encrypted in the request's thread first" };
        var answer = new Command("answer", "Requested side: answer in full (the answer's text is a message in the thread)") { answerId, answerText };
        answer.Handle(options, environment, async (context, cancellationToken) =>
        {
            await using var session = await context.ConnectAsync(cancellationToken);
            var requestId = context.Get(answerId);
            if (context.Get(answerText) is { Length: > 0 } text)
            {
                var r = await session.Client.GetRequestAsync(requestId, cancellationToken);
                await session.Client.SendTextAsync(Guid.Parse(r.ChannelId), text, new SendOptions(ReplyTo: requestId), cancellationToken);
            }

            WriteRequest(context, await session.Client.AnswerRequestAsync(requestId, cancellationToken));
        });
        request.Subcommands.Add(answer);

        var declineId = new Argument<Guid>("request") { Description = "The request's id" };
        var reason = new Option<string>("--reason") { Description = "The reason category", Required = true };
        reason.AcceptOnlyFromAmong([.. DeclineReasons.Keys]);
        var decline = new Command("decline", "Requested side: decline with a reason category") { declineId, reason };
        decline.Handle(options, environment, async (context, cancellationToken) =>
        {
            await using var session = await context.ConnectAsync(cancellationToken);
            WriteRequest(context, await session.Client.DeclineRequestAsync(context.Get(declineId), DeclineReasons[context.Get(reason)!], cancellationToken));
        });
        request.Subcommands.Add(decline);
        request.Subcommands.Add(RequestExport());
        return request;
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
        Row(table, "overdue", string.Join(", ", new[] { r.AcknowledgeOverdue ? "acknowledge" : "", r.AnswerOverdue ? "answer" : "" }.Where(s => s.Length > 0)));
        Row(table, "allowed now", string.Join(", ", r.AllowedActions));
        context.Console.Write(table);
    }

    // "InProgress" → "in progress".
    private static string StatusName(string name) =>
        string.Concat(name.Select((ch, i) => char.IsUpper(ch) && i > 0 ? $" {char.ToLowerInvariant(ch)}" : char.ToLowerInvariant(ch).ToString()));
}
