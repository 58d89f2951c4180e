using GlobeSecure.EventStore;
using GlobeSecure.Server.Infrastructure;

namespace GlobeSecure.Server.Channels;

/// <summary>Case channels: membership, client-created epoch keys, end-to-end-encrypted messages and live delivery.</summary>
internal static class ChannelsFeature
{
    public static IServiceCollection AddChannels(this IServiceCollection services)
    {
        services.AddEventTypes(r => r
            .Register<ChannelCreated>("channels.channel-created")
            .Register<MembersAdded>("channels.members-added")
            .Register<MembersRemoved>("channels.members-removed")
            .Register<EpochStarted>("channels.epoch-started")
            .Register<HistoryShared>("channels.history-shared")
            .Register<ReceiptSubmitted>("channels.receipt-submitted")
            .Register<ConsentRequested>("channels.consent-requested")
            .Register<ConsentGranted>("channels.consent-granted")
            .Register<ConsentDenied>("channels.consent-denied")
            .Register<MessageAccepted>("channels.message-accepted"));
        services.AddSingleton<IInlineProjection, ChannelProjection>();
        services.AddSingleton<ChannelReadModel>();
        return services;
    }

    public static void MapChannels(this WebApplication app) => app.MapGrpcService<ChannelService>();
}
