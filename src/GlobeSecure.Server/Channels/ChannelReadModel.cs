using System.Text.Json;
using GlobeSecure.EventStore;
using GlobeSecure.Server.Infrastructure;
using Npgsql;

namespace GlobeSecure.Server.Channels;

internal sealed record ChannelRow(Guid ChannelId, Guid CreatedByUserId, DateTimeOffset CreatedAt, byte[] EncryptedInfo, string DefaultHandlingCode,
    long CurrentEpoch, IReadOnlyList<MemberData> Members, DateTimeOffset EpochStartedAt, long MessagesInEpoch, long InfoEpoch);

internal sealed record MessageRow(long Position, EnvelopeData Envelope, DateTimeOffset AcceptedAt);

/// <summary>A user's membership of a channel from one event position to another (inclusive; <see cref="To"/> null while a member).</summary>
internal sealed record MembershipInterval(Guid ChannelId, long From, long? To);

/// <summary>Queries over the channel projection's tables (never writes).</summary>
internal sealed class ChannelReadModel(NpgsqlDataSource dataSource, PostgresEventStore store)
{
    private const string ChannelColumns = """
        c.channel_id, c.created_by, c.created_at, c.encrypted_info, c.default_handling_code, c.current_epoch,
        coalesce((select array_agg(m.user_id order by m.user_id) from {schema}.channel_members m where m.channel_id = c.channel_id and m.to_position is null), '{}'),
        coalesce((select array_agg(m.authority_id order by m.user_id) from {schema}.channel_members m where m.channel_id = c.channel_id and m.to_position is null), '{}'),
        coalesce(c.epoch_started_at, c.created_at),
        (select count(*) from {schema}.channel_messages x where x.channel_id = c.channel_id and x.epoch = c.current_epoch),
        c.info_epoch
        """;

    public async Task<ChannelRow?> ChannelAsync(Guid channelId, CancellationToken cancellationToken) =>
        (await ChannelsAsync($"select {ChannelColumns} from {{schema}}.channels c where c.channel_id = $1", channelId, cancellationToken)).FirstOrDefault();

    /// <summary>The channels <paramref name="userId"/> is currently a member of, oldest first.</summary>
    public Task<IReadOnlyList<ChannelRow>> ChannelsOfAsync(Guid userId, CancellationToken cancellationToken) =>
        ChannelsAsync($$"""
            select {{ChannelColumns}} from {schema}.channels c
            where exists (select 1 from {schema}.channel_members m where m.channel_id = c.channel_id and m.user_id = $1 and m.to_position is null)
            order by c.created_at, c.channel_id
            """, userId, cancellationToken);

    public async Task<DistributionData?> EpochAsync(Guid channelId, long epoch, CancellationToken cancellationToken)
    {
        await using var command = Command("select distribution::text from {schema}.channel_epochs where channel_id = $1 and epoch = $2", channelId, epoch);
        return await command.ExecuteScalarAsync(cancellationToken) is string json
            ? JsonSerializer.Deserialize<DistributionData>(json, EventTypeRegistry.JsonOptions)
            : null;
    }

    public async Task<bool> ConsentGrantedAsync(Guid messageId, Guid targetChannelId, CancellationToken cancellationToken)
    {
        await using var command = Command("""
            select exists (select 1 from {schema}.channel_consents where message_id = $1 and target_channel_id = $2 and status = 'Granted')
            """, messageId, targetChannelId);
        return await command.ExecuteScalarAsync(cancellationToken) is true;
    }

    public async Task<Contracts.V1.Consent?> ConsentAsync(Guid consentId, CancellationToken cancellationToken)
    {
        await using var command = Command("""
            select consent_id, message_id, origin_channel_id, target_channel_id, originator_authority_id, requested_by, reason, status, decided_by,
                decision_reason, requested_at, decided_at
            from {schema}.channel_consents where consent_id = $1
            """, consentId);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
        {
            return null;
        }

        return new Contracts.V1.Consent
        {
            ConsentId = reader.GetGuid(0).ToString(),
            MessageId = reader.GetGuid(1).ToString(),
            OriginChannelId = reader.GetGuid(2).ToString(),
            TargetChannelId = reader.GetGuid(3).ToString(),
            OriginatorAuthorityId = reader.GetGuid(4).ToString(),
            RequestedByUserId = reader.GetGuid(5).ToString(),
            Reason = reader.GetString(6),
            Status = Enum.Parse<Contracts.V1.ConsentStatus>(reader.GetString(7)),
            DecidedByUserId = reader.IsDBNull(8) ? "" : reader.GetGuid(8).ToString(),
            DecisionReason = reader.IsDBNull(9) ? "" : reader.GetString(9),
            RequestedAt = Google.Protobuf.WellKnownTypes.Timestamp.FromDateTimeOffset(reader.GetFieldValue<DateTimeOffset>(10)),
            DecidedAt = reader.IsDBNull(11) ? null : Google.Protobuf.WellKnownTypes.Timestamp.FromDateTimeOffset(reader.GetFieldValue<DateTimeOffset>(11)),
        };
    }

    /// <summary>The receipts of a message, by device, delivered before read.</summary>
    public async Task<IReadOnlyList<ReceiptData>> ReceiptsAsync(Guid messageId, CancellationToken cancellationToken)
    {
        await using var command = Command("select receipt::text from {schema}.channel_receipts where message_id = $1 order by device_id, kind", messageId);
        var result = new List<ReceiptData>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            result.Add(JsonSerializer.Deserialize<ReceiptData>(reader.GetString(0), EventTypeRegistry.JsonOptions)!);
        }

        return result;
    }

    /// <summary>The re-shared copy of an epoch that includes <paramref name="deviceId"/>, if any.</summary>
    public async Task<DistributionData?> SharedEpochAsync(Guid channelId, long epoch, Guid deviceId, CancellationToken cancellationToken)
    {
        await using var command = Command("""
            select distribution::text from {schema}.channel_epoch_shares where channel_id = $1 and epoch = $2 and $3 = any(recipients)
            """, channelId, epoch, deviceId);
        return await command.ExecuteScalarAsync(cancellationToken) is string json
            ? JsonSerializer.Deserialize<DistributionData>(json, EventTypeRegistry.JsonOptions)
            : null;
    }

    /// <summary>Newest first before <paramref name="before"/> (0: the newest), or oldest first after <paramref name="after"/> when it is positive.</summary>
    public async Task<IReadOnlyList<MessageRow>> MessagesAsync(Guid channelId, long before, long after, int limit, CancellationToken cancellationToken)
    {
        await using var command = after > 0
            ? Command("""
                select position, envelope::text, accepted_at from {schema}.channel_messages
                where channel_id = $1 and position > $2 order by position limit $3
                """, channelId, after, limit)
            : Command("""
                select position, envelope::text, accepted_at from {schema}.channel_messages
                where channel_id = $1 and ($2 = 0 or position < $2) order by position desc limit $3
                """, channelId, before, limit);
        var result = new List<MessageRow>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            result.Add(new MessageRow(reader.GetInt64(0), JsonSerializer.Deserialize<EnvelopeData>(reader.GetString(1), EventTypeRegistry.JsonOptions)!,
                reader.GetFieldValue<DateTimeOffset>(2)));
        }

        return result;
    }

    public async Task<MessageRow?> MessageAsync(Guid messageId, CancellationToken cancellationToken)
    {
        await using var command = Command("select position, envelope::text, accepted_at from {schema}.channel_messages where message_id = $1", messageId);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken)
            ? new MessageRow(reader.GetInt64(0), JsonSerializer.Deserialize<EnvelopeData>(reader.GetString(1), EventTypeRegistry.JsonOptions)!,
                reader.GetFieldValue<DateTimeOffset>(2))
            : null;
    }

    public async Task<IReadOnlyList<MembershipInterval>> MembershipsAsync(Guid userId, CancellationToken cancellationToken)
    {
        await using var command = Command("select channel_id, from_position, to_position from {schema}.channel_members where user_id = $1", userId);
        var result = new List<MembershipInterval>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            result.Add(new MembershipInterval(reader.GetGuid(0), reader.GetInt64(1), reader.IsDBNull(2) ? null : reader.GetInt64(2)));
        }

        return result;
    }

    private async Task<IReadOnlyList<ChannelRow>> ChannelsAsync(string sql, Guid id, CancellationToken cancellationToken)
    {
        await using var command = Command(sql, id);
        var result = new List<ChannelRow>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var users = reader.GetFieldValue<Guid[]>(6);
            var authorities = reader.GetFieldValue<Guid[]>(7);
            result.Add(new ChannelRow(reader.GetGuid(0), reader.GetGuid(1), reader.GetFieldValue<DateTimeOffset>(2), reader.GetFieldValue<byte[]>(3),
                reader.GetString(4), reader.GetInt64(5), [.. users.Select((u, i) => new MemberData(u, authorities[i]))],
                reader.GetFieldValue<DateTimeOffset>(8), reader.GetInt64(9), reader.GetInt64(10)));
        }

        return result;
    }

    private NpgsqlCommand Command(string sql, params object[] parameters) => dataSource.SchemaCommand(store, sql, parameters);
}
