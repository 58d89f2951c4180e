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
        services.AddOptions<ChannelOptions>()
            .BindConfiguration(ChannelOptions.Section)
            .Validate(o => o.IsValid, "Globe:Channels:RotateAfterMessages must be at least 1 and RotateAfterAge a positive duration, e.g. 7.00:00:00.")
            .ValidateOnStart();
        services.AddSingleton<IInlineProjection, ChannelProjection>();
        services.AddSingleton<ChannelReadModel>();
        services.AddSingleton<ChannelStates>();
        services.AddSingleton<ChannelAccess>();
        services.AddSingleton<IChannelAccess>(sp => sp.GetRequiredService<ChannelAccess>());
        return services;
    }

    public static void MapChannels(this WebApplication app) => app.MapGrpcService<ChannelService>();
}
