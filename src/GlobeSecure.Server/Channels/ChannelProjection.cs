using System.Text.Json;
using GlobeSecure.EventStore;
using Npgsql;
using NpgsqlTypes;

namespace GlobeSecure.Server.Channels;

/// <summary>
/// Channels, membership intervals (by event position, so a subscription can tell whether a user
/// was a member at each event), epoch distributions and messages, updated in each append's
/// transaction.
/// </summary>
internal sealed class ChannelProjection : IInlineProjection
{
    private static readonly HashSet<Type> Types = [typeof(ChannelCreated), typeof(MembersAdded), typeof(MembersRemoved), typeof(EpochStarted), typeof(MessageAccepted),
        typeof(HistoryShared), typeof(ReceiptSubmitted), typeof(ConsentRequested), typeof(ConsentGranted), typeof(ConsentDenied)];

    public string Name => "channels";

    /// <summary>Every statement is deferred: the store sends them with the events' rows and the commit.</summary>
    public bool OnlyDefers => true;

    public IReadOnlyList<SchemaMigration> Migrations { get; } =
    [
        new(1, "channels, members, epochs, re-shared epochs and messages", """
            create table {schema}.channels (
                channel_id uuid primary key,
                created_by uuid not null,
                created_at timestamptz not null,
                encrypted_info bytea not null,
                default_handling_code text not null,
                current_epoch bigint not null default 0,
                epoch_started_at timestamptz);
            -- One row per membership interval: [from_position, to_position], to_position null while a member.
            create table {schema}.channel_members (
                channel_id uuid not null references {schema}.channels,
                user_id uuid not null,
                authority_id uuid not null,
                from_position bigint not null,
                to_position bigint,
                primary key (channel_id, user_id, from_position));
            create index channel_members_current on {schema}.channel_members (user_id) where to_position is null;
            create table {schema}.channel_epochs (
                channel_id uuid not null references {schema}.channels,
                epoch bigint not null,
                distribution jsonb not null,
                recipients uuid[] not null,
                primary key (channel_id, epoch));
            create table {schema}.channel_messages (
                position bigint primary key,
                channel_id uuid not null references {schema}.channels,
                message_id uuid not null unique,
                epoch bigint not null,
                envelope jsonb not null,
                accepted_at timestamptz not null);
            create index channel_messages_by_channel on {schema}.channel_messages (channel_id, position);
            create table {schema}.channel_receipts (
                message_id uuid not null,
                device_id uuid not null,
                kind text not null,
                receipt jsonb not null,
                primary key (message_id, device_id, kind));
            create table {schema}.channel_consents (
                consent_id uuid primary key,
                message_id uuid not null,
                origin_channel_id uuid not null,
                target_channel_id uuid not null,
                originator_authority_id uuid not null,
                requested_by uuid not null,
                reason text not null,
                status text not null,
                decided_by uuid,
                decision_reason text,
                requested_at timestamptz not null,
                decided_at timestamptz);
            create index channel_consents_by_message on {schema}.channel_consents (message_id, target_channel_id) where status = 'Granted';
            -- Epoch keys re-shared with members who joined later.
            create table {schema}.channel_epoch_shares (
                channel_id uuid not null references {schema}.channels,
                epoch bigint not null,
                user_id uuid not null,
                distribution jsonb not null,
                recipients uuid[] not null,
                primary key (channel_id, epoch, user_id));
            """),
        new(2, "the epoch the channel info is sealed under", """
            alter table {schema}.channels add column info_epoch bigint not null default 1;
            """),
    ];

    public bool Handles(Type eventType) => Types.Contains(eventType);

    /// <summary>
    /// Every statement here only writes, so all are deferred: the store sends them, in order, with
    /// the commit in one round trip (a group commit of many messages no longer waits for one
    /// round trip per message).
    /// </summary>
    public Task ApplyAsync(ProjectionContext context, IReadOnlyList<StoredEvent> events, CancellationToken cancellationToken)
    {
        var s = context.Schema;
        foreach (var stored in events)
        {
            var p = stored.Position;
            switch (stored.Data)
            {
                case ChannelCreated e:
                    Defer(context, $"""
                        insert into {s}.channels (channel_id, created_by, created_at, encrypted_info, default_handling_code)
                        values ($1, $2, $3, $4, $5)
                        """, e.ChannelId, e.CreatedByUserId, e.CreatedAt, e.EncryptedInfo, e.DefaultHandlingCode);
                    AddMembers(context, e.ChannelId, e.Members, p);
                    break;
                case MembersAdded e:
                    AddMembers(context, e.ChannelId, e.Members, p);
                    break;
                case MembersRemoved e:
                    Defer(context, $"""
                        update {s}.channel_members set to_position = $3
                        where channel_id = $1 and user_id = any($2) and to_position is null
                        """, e.ChannelId, e.UserIds.ToArray(), p);
                    break;
                case EpochStarted e:
                    Defer(context, $"insert into {s}.channel_epochs (channel_id, epoch, distribution, recipients) values ($1, $2, $3, $4)",
                        e.ChannelId, e.Distribution.Epoch, Json(e.Distribution), e.Distribution.Recipients.Select(r => r.DeviceId).ToArray());
                    Defer(context, $"update {s}.channels set current_epoch = $2, epoch_started_at = $3 where channel_id = $1",
                        e.ChannelId, e.Distribution.Epoch, e.StartedAt);
                    if (e.EncryptedInfo is { } info)
                    {
                        Defer(context, $"update {s}.channels set encrypted_info = $2, info_epoch = $3 where channel_id = $1",
                            e.ChannelId, info, e.Distribution.Epoch);
                    }

                    break;
                case HistoryShared e:
                    foreach (var d in e.Epochs)
                    {
                        Defer(context, $"""
                            insert into {s}.channel_epoch_shares (channel_id, epoch, user_id, distribution, recipients) values ($1, $2, $3, $4, $5)
                            on conflict (channel_id, epoch, user_id) do update set distribution = excluded.distribution, recipients = excluded.recipients
                            """, e.ChannelId, d.Epoch, e.ForUserId, Json(d), d.Recipients.Select(r => r.DeviceId).ToArray());
                    }

                    break;
                case ReceiptSubmitted e:
                    Defer(context, $"insert into {s}.channel_receipts (message_id, device_id, kind, receipt) values ($1, $2, $3, $4)",
                        e.MessageId, e.Receipt.RecipientDeviceId, e.Receipt.Kind.ToString(), Json(e.Receipt));
                    break;
                case ConsentRequested e:
                    Defer(context, $"""
                        insert into {s}.channel_consents (consent_id, message_id, origin_channel_id, target_channel_id, originator_authority_id,
                            requested_by, reason, status, requested_at)
                        values ($1, $2, $3, $4, $5, $6, $7, 'Pending', $8)
                        """, e.ConsentId, e.MessageId, e.OriginChannelId, e.TargetChannelId, e.OriginatorAuthorityId, e.RequestedByUserId,
                        e.Reason, e.RequestedAt);
                    break;
                case ConsentGranted e:
                    Defer(context, $"""
                        update {s}.channel_consents set status = 'Granted', decided_by = $2, decision_reason = $3, decided_at = $4 where consent_id = $1
                        """, e.ConsentId, e.ByUserId, e.Note, e.GrantedAt);
                    break;
                case ConsentDenied e:
                    Defer(context, $"""
                        update {s}.channel_consents set status = 'Denied', decided_by = $2, decision_reason = $3, decided_at = $4 where consent_id = $1
                        """, e.ConsentId, e.ByUserId, e.Reason, e.DeniedAt);
                    break;
                case MessageAccepted e:
                    // The busiest write: a group commit's messages go in as one statement.
                    context.DeferRow(Messages, (p, e));
                    break;
                default:
                    throw new InvalidOperationException($"Unhandled event {stored.Type}.");
            }
        }

        return Task.CompletedTask;
    }

    private static void AddMembers(ProjectionContext context, Guid channelId, IReadOnlyList<MemberData> members, long position)
    {
        foreach (var member in members)
        {
            Defer(context, $"""
                insert into {context.Schema}.channel_members (channel_id, user_id, authority_id, from_position) values ($1, $2, $3, $4)
                """, channelId, member.UserId, member.AuthorityId, position);
        }
    }

    /// <summary>Accepted messages, one row each, inserted from arrays in one statement per run of them.</summary>
    private static readonly DeferredRows<(long Position, MessageAccepted Message)> Messages = new((schema, rows) =>
    {
        var command = new NpgsqlBatchCommand($"""
            insert into {schema}.channel_messages (position, channel_id, message_id, epoch, envelope, accepted_at)
            select * from unnest($1::bigint[], $2::uuid[], $3::uuid[], $4::bigint[], $5::jsonb[], $6::timestamptz[])
            """);
        command.Parameters.Add(new NpgsqlParameter<long[]> { TypedValue = [.. rows.Select(r => r.Position)] });
        command.Parameters.Add(new NpgsqlParameter<Guid[]> { TypedValue = [.. rows.Select(r => r.Message.ChannelId)] });
        command.Parameters.Add(new NpgsqlParameter<Guid[]> { TypedValue = [.. rows.Select(r => r.Message.MessageId)] });
        command.Parameters.Add(new NpgsqlParameter<long[]> { TypedValue = [.. rows.Select(r => r.Message.Envelope.Epoch)] });
        command.Parameters.Add(new NpgsqlParameter<string[]>
        {
            TypedValue = [.. rows.Select(r => JsonSerializer.Serialize(r.Message.Envelope, EventTypeRegistry.JsonOptions))],
            NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Jsonb,
        });
        command.Parameters.Add(new NpgsqlParameter<DateTime[]> { TypedValue = [.. rows.Select(r => r.Message.AcceptedAt.UtcDateTime)] });
        return command;
    });

    private static NpgsqlParameter Json<T>(T value) =>
        new() { Value = JsonSerializer.Serialize(value, EventTypeRegistry.JsonOptions), NpgsqlDbType = NpgsqlDbType.Jsonb };

    private static void Defer(ProjectionContext context, string sql, params object[] parameters)
    {
        var command = new NpgsqlBatchCommand(sql);
        foreach (var value in parameters)
        {
            command.Parameters.Add(value as NpgsqlParameter ?? new NpgsqlParameter { Value = value });
        }

        context.Defer(command);
    }
}
