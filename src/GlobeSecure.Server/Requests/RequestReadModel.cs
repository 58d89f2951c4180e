using GlobeSecure.EventStore;
using Npgsql;

namespace GlobeSecure.Server.Requests;

/// <summary>Which of an authority's requests a list shows.</summary>
internal enum RequestDirection
{
    Both = 0,
    Incoming = 1,
    Outgoing = 2,
}

/// <summary>Reads of the <see cref="RequestProjection"/> table.</summary>
internal sealed class RequestReadModel(NpgsqlDataSource db, PostgresEventStore store)
{
    private const string Columns = """
        request_id, requesting_authority_id, requesting_user_id, requested_authority_id, template_id, template_version, urgency, requested_answer_by,
        spontaneous, channel_id, drafted_at, stage, resume_stage, sent_at, acknowledge_by, answer_by, first_response_at, acknowledged_at, first_answer_at,
        decline_reason, withdraw_reason, open_question_id, acknowledge_overdue, answer_overdue
        """;

    private readonly string _s = store.Schema;

    /// <summary>
    /// The authority's requests, newest first: outgoing ones (drafts included) and incoming ones
    /// once sent; optionally only some stages, only overdue ones; the page after <c>after</c>
    /// (the last row of the previous page: drafted at, request id).
    /// </summary>
    public async Task<IReadOnlyList<RequestState>> ListAsync(Guid authorityId, RequestDirection direction, IReadOnlyList<RequestStage> stages, bool overdueOnly,
        (DateTimeOffset DraftedAt, Guid RequestId)? after, int limit, CancellationToken ct)
    {
        var outgoing = "requesting_authority_id = $1";
        var incoming = $"(requested_authority_id = $1 and stage <> {(int)RequestStage.Draft})";
        var party = direction switch
        {
            RequestDirection.Incoming => incoming,
            RequestDirection.Outgoing => outgoing,
            _ => $"({outgoing} or {incoming})",
        };
        await using var command = db.CreateCommand($"""
            select {Columns} from {_s}.requests
            where {party} and (cardinality($2::int[]) = 0 or stage = any($2)) and (not $3 or acknowledge_overdue or answer_overdue)
              and ($5::timestamptz is null or (drafted_at, request_id) < ($5, $6))
            order by drafted_at desc, request_id desc limit $4
            """);
        command.Parameters.Add(new NpgsqlParameter { Value = authorityId });
        command.Parameters.Add(new NpgsqlParameter { Value = stages.Select(s => (int)s).ToArray() });
        command.Parameters.Add(new NpgsqlParameter { Value = overdueOnly });
        command.Parameters.Add(new NpgsqlParameter { Value = limit });
        command.Parameters.Add(new NpgsqlParameter { Value = after is { } a ? a.DraftedAt : DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.TimestampTz });
        command.Parameters.Add(new NpgsqlParameter { Value = after is { } b ? b.RequestId : Guid.Empty });
        return await ReadAsync(command, ct);
    }

    /// <summary>Requests with a deadline passed at <paramref name="now"/> and not yet marked (the decider has the last word).</summary>
    public async Task<IReadOnlyList<Guid>> OverdueCandidatesAsync(DateTimeOffset now, int limit, CancellationToken ct)
    {
        await using var command = db.CreateCommand($"""
            select request_id from {_s}.requests
            where (stage = {(int)RequestStage.Sent} and not acknowledge_overdue and first_response_at is null and acknowledge_by < $1)
               or (stage in ({(int)RequestStage.Sent}, {(int)RequestStage.Acknowledged}, {(int)RequestStage.InProgress},
                             {(int)RequestStage.ClarificationRequested}, {(int)RequestStage.PartiallyAnswered})
                   and not answer_overdue and answer_by < $1)
            order by request_id limit $2
            """);
        command.Parameters.Add(new NpgsqlParameter { Value = now });
        command.Parameters.Add(new NpgsqlParameter { Value = limit });
        await using var reader = await command.ExecuteReaderAsync(ct);
        var ids = new List<Guid>();
        while (await reader.ReadAsync(ct))
        {
            ids.Add(reader.GetGuid(0));
        }

        return ids;
    }

    /// <summary>
    /// Every request sent in [<paramref name="from"/>, <paramref name="to"/>) (open ends when null),
    /// for statistics; or only those where <paramref name="authorityId"/> is a party.
    /// </summary>
    public async Task<IReadOnlyList<RequestState>> SentAsync(Guid? authorityId, DateTimeOffset? from, DateTimeOffset? to, CancellationToken ct)
    {
        await using var command = db.CreateCommand($"""
            select {Columns} from {_s}.requests
            where sent_at is not null and ($1::uuid is null or requesting_authority_id = $1 or requested_authority_id = $1)
              and ($2::timestamptz is null or sent_at >= $2) and ($3::timestamptz is null or sent_at < $3)
            """);
        command.Parameters.Add(new NpgsqlParameter { Value = authorityId is { } a ? a : DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Uuid });
        command.Parameters.Add(new NpgsqlParameter { Value = from is { } f ? f : DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.TimestampTz });
        command.Parameters.Add(new NpgsqlParameter { Value = to is { } t ? t : DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.TimestampTz });
        return await ReadAsync(command, ct);
    }

    private static async Task<IReadOnlyList<RequestState>> ReadAsync(NpgsqlCommand command, CancellationToken ct)
    {
        await using var reader = await command.ExecuteReaderAsync(ct);
        var list = new List<RequestState>();
        while (await reader.ReadAsync(ct))
        {
            DateTimeOffset? At(int i) => reader.IsDBNull(i) ? null : reader.GetFieldValue<DateTimeOffset>(i);
            var draft = new RequestDrafted(reader.GetGuid(0), reader.GetGuid(1), reader.GetGuid(2), reader.GetGuid(3), reader.GetString(4), reader.GetInt32(5),
                (UrgencyLevel)reader.GetInt32(6), At(7), reader.GetBoolean(8), reader.GetGuid(9), reader.GetFieldValue<DateTimeOffset>(10));
            list.Add(new RequestState(draft, (RequestStage)reader.GetInt32(11), (RequestStage)reader.GetInt32(12),
                reader.IsDBNull(21) ? null : reader.GetGuid(21), null, At(13), At(14), At(15), At(16), At(17), At(18),
                reader.IsDBNull(19) ? null : (DeclineReason)reader.GetInt32(19), reader.IsDBNull(20) ? null : (WithdrawReason)reader.GetInt32(20),
                reader.GetBoolean(22), reader.GetBoolean(23)));
        }

        return list;
    }
}
