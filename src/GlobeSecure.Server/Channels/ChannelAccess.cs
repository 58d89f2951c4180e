using GlobeSecure.Server.Infrastructure;
using Grpc.Core;

namespace GlobeSecure.Server.Channels;

/// <summary>
/// Who may read a channel: its current members. The one rule behind GetChannel, GetMessage and
/// History, and behind downloads of the documents a channel's messages carry (<see cref="IChannelAccess"/>).
/// </summary>
internal sealed class ChannelAccess(ChannelReadModel read, Access access) : IChannelAccess
{
    /// <summary>The channel, when the caller is a current member; otherwise NOT_FOUND (no such channel) or PERMISSION_DENIED (audited).</summary>
    public async Task<ChannelRow> MemberChannelAsync(ServerCallContext context, Caller caller, Guid channelId, string? target = null)
    {
        var row = await read.ChannelAsync(channelId, context.CancellationToken) ?? throw new NotFoundException("channel", channelId.ToString());
        if (row.Members.All(m => m.UserId != caller.UserId))
        {
            await access.DenyAsync(context, caller, target ?? channelId.ToString(), "not a member of this channel");
        }

        return row;
    }

    Task IChannelAccess.RequireMemberAsync(ServerCallContext call, Caller caller, Guid channelId, string? target) =>
        MemberChannelAsync(call, caller, channelId, target);

    async Task<bool> IChannelAccess.HasMemberOfAuthorityAsync(Guid channelId, Guid authorityId, CancellationToken cancellationToken) =>
        await read.ChannelAsync(channelId, cancellationToken) is { } row && row.Members.Any(m => m.AuthorityId == authorityId);
}
