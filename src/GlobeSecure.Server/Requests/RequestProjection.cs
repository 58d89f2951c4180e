using GlobeSecure.EventStore;
using Npgsql;

namespace GlobeSecure.Server.Requests;

/// <summary>One row per request with its metadata and stage, for lists, the overdue pass and statistics.</summary>
internal sealed class RequestProjection : IInlineProjection
{
    public string Name => "requests";

    public bool OnlyDefers => true;

    public IReadOnlyList<SchemaMigration> Migrations { get; } =
    [
        new(1, "requests", """
            create table {schema}.requests (
                request_id uuid primary key,
                requesting_authority_id uuid not null,
                requesting_user_id uuid not null,
                requested_authority_id uuid not null,
                template_id text not null,
                template_version int not null,
                urgency int not null,
                requested_answer_by timestamptz,
                spontaneous boolean not null,
                channel_id uuid not null,
                drafted_at timestamptz not null,
                stage int not null,
                resume_stage int not null default 0,
                sent_at timestamptz,
                acknowledge_by timestamptz,
                answer_by timestamptz,
                first_response_at timestamptz,
                acknowledged_at timestamptz,
                first_answer_at timestamptz,
                decline_reason int,
                withdraw_reason int,
                open_question_id uuid,
                acknowledge_overdue boolean not null default false,
                answer_overdue boolean not null default false);
            create index requests_requesting on {schema}.requests (requesting_authority_id, drafted_at);
            create index requests_requested on {schema}.requests (requested_authority_id, drafted_at);
            create index requests_open_deadlines on {schema}.requests (answer_by) where stage between 2 and 7;
            """),
    ];

    public bool Handles(Type eventType) => eventType.Namespace == typeof(RequestDrafted).Namespace
        && eventType.Name is nameof(RequestDrafted) or nameof(RequestSent) or nameof(RequestAcknowledged) or nameof(RequestWorkStarted) or nameof(RequestAnswered)
            or nameof(RequestPartiallyAnswered) or nameof(RequestDeclined) or nameof(RequestWithdrawn) or nameof(RequestClosed) or nameof(ClarificationRequested)
            or nameof(ClarificationProvided) or nameof(RequestMarkedOverdue);

    public Task ApplyAsync(ProjectionContext context, IReadOnlyList<StoredEvent> events, CancellationToken cancellationToken)
    {
        var t = $"{context.Schema}.requests";
        foreach (var stored in events)
        {
            var (sql, values) = stored.Data switch
            {
                RequestDrafted e => ($"""
                    insert into {t} (request_id, requesting_authority_id, requesting_user_id, requested_authority_id, template_id, template_version, urgency,
                        requested_answer_by, spontaneous, channel_id, drafted_at, stage)
                    values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, {(int)RequestStage.Draft})
                    """, new object?[] { e.RequestId, e.RequestingAuthorityId, e.RequestingUserId, e.RequestedAuthorityId, e.TemplateId, e.TemplateVersion,
                    (int)e.Urgency, e.RequestedAnswerBy, e.Spontaneous, e.ChannelId, e.DraftedAt }),
                RequestSent e => ($"update {t} set stage = {(int)RequestStage.Sent}, sent_at = $2, acknowledge_by = $3, answer_by = $4 where request_id = $1",
                    [e.RequestId, e.SentAt, e.AcknowledgeBy, e.AnswerBy]),
                RequestAcknowledged e => ($"""
                    update {t} set stage = {(int)RequestStage.Acknowledged}, acknowledged_at = $2, first_response_at = coalesce(first_response_at, $2)
                    where request_id = $1
                    """, [e.RequestId, e.AcknowledgedAt]),
                RequestWorkStarted e => (Stage(t, RequestStage.InProgress), [e.RequestId]),
                RequestAnswered e => ($"update {t} set stage = {(int)RequestStage.Answered}, first_answer_at = coalesce(first_answer_at, $2) where request_id = $1",
                    [e.RequestId, e.AnsweredAt]),
                RequestPartiallyAnswered e => (
                    $"update {t} set stage = {(int)RequestStage.PartiallyAnswered}, first_answer_at = coalesce(first_answer_at, $2) where request_id = $1",
                    [e.RequestId, e.PartiallyAnsweredAt]),
                RequestDeclined e => ($"""
                    update {t} set stage = {(int)RequestStage.Declined}, decline_reason = $2, first_response_at = coalesce(first_response_at, $3),
                        open_question_id = null
                    where request_id = $1
                    """, [e.RequestId, (int)e.Reason, e.DeclinedAt]),
                RequestWithdrawn e => ($"update {t} set stage = {(int)RequestStage.Withdrawn}, withdraw_reason = $2, open_question_id = null where request_id = $1",
                    [e.RequestId, e.Reason is { } r ? (int)r : null]),
                RequestClosed e => (Stage(t, RequestStage.Closed), [e.RequestId]),
                ClarificationRequested e => ($"""
                    update {t} set resume_stage = stage, stage = {(int)RequestStage.ClarificationRequested}, open_question_id = $2,
                        first_response_at = coalesce(first_response_at, $3)
                    where request_id = $1
                    """, [e.RequestId, e.QuestionId, e.RequestedAt]),
                ClarificationProvided e => ($"update {t} set stage = resume_stage, resume_stage = 0, open_question_id = null where request_id = $1",
                    [e.RequestId]),
                RequestMarkedOverdue { Deadline: RequestDeadline.Acknowledge } e => ($"update {t} set acknowledge_overdue = true where request_id = $1",
                    [e.RequestId]),
                RequestMarkedOverdue e => ($"update {t} set answer_overdue = true where request_id = $1", new object?[] { e.RequestId }),
                _ => throw new InvalidOperationException($"Unhandled event {stored.Type}."),
            };

            var command = new NpgsqlBatchCommand(sql);
            foreach (var value in values)
            {
                command.Parameters.Add(new NpgsqlParameter { Value = value ?? DBNull.Value });
            }

            context.Defer(command);
        }

        return Task.CompletedTask;
    }

    private static string Stage(string table, RequestStage stage) => $"update {table} set stage = {(int)stage} where request_id = $1";
}
