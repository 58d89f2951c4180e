using System.Security.Cryptography;
using System.Text;
using GlobeSecure.Client;
using GlobeSecure.Contracts.V1;
using GlobeSecure.Crypto;
using GlobeSecure.Server.Tests.Identity;
using Google.Protobuf;
using Microsoft.AspNetCore.Builder;
using EpochKeyDistribution = GlobeSecure.Crypto.EpochKeyDistribution;
using MessageEnvelope = GlobeSecure.Crypto.MessageEnvelope;
using MessageHeader = GlobeSecure.Crypto.MessageHeader;

namespace GlobeSecure.Server.Tests.Channels;

/// <summary>
/// One network per test class: two member authorities, Alice and Bob investigating in the first,
/// Carol in the second. Tests use fresh channels, so they do not depend on each other.
/// </summary>
public class ChannelFixture : IdentityServerFixture
{
    /// <summary>Small, so that a test reaches it.</summary>
    public const int RotateAfterMessages = 5;

    private ChannelWorld? _world;

    protected override void Configure(WebApplicationBuilder builder)
    {
        base.Configure(builder);
        builder.Configuration["Globe:Channels:RotateAfterMessages"] = RotateAfterMessages.ToString(System.Globalization.CultureInfo.InvariantCulture);
    }

    public async Task<ChannelWorld> WorldAsync(NetworkDriver driver)
    {
        if (_world is null)
        {
            var network = await driver.BootstrapAsync();
            var second = await driver.AddNetworkAdministratorAsync(network);
            var commission = await driver.AdmitAuthorityAsync(network.Administrator, second, "Anti-Corruption Commission", "KE");
            var police = await driver.AdmitAuthorityAsync(network.Administrator, second, "Police Investigations", "UG", AuthorityKind.Police);
            _world = new ChannelWorld(network, second, commission, police,
                await InvestigatorAsync(driver, commission, "Alice"), await InvestigatorAsync(driver, commission, "Bob"),
                await InvestigatorAsync(driver, police, "Carol"));
        }

        return _world;
    }

    /// <summary>A new investigator of the administrator's authority, with a certified, authenticated device.</summary>
    public static async Task<Member> InvestigatorAsync(NetworkDriver driver, Member authorityAdmin, string name) =>
        await driver.EnrolAndCertifyAsync(await driver.InviteAsync(authorityAdmin, Role.Investigator, name), authorityAdmin, Role.Investigator);
}

public sealed record ChannelWorld(BootstrappedNetwork Network, Member SecondAdmin, Member CommissionAdmin, Member PoliceAdmin, Member Alice, Member Bob,
    Member Carol);

/// <summary>What a channel client does — key handling included — as intent methods over a real gRPC channel.</summary>
public sealed class ChannelDriver(NetworkDriver network, BootstrappedNetwork world)
{
    public ChannelService.ChannelServiceClient Channels { get; } = new(network.Channel);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>The certified devices of <paramref name="userIds"/> as <paramref name="caller"/>'s client sees them (chains verified to the root).</summary>
    public async Task<IReadOnlyList<VerifiedDevice>> DevicesAsync(Member caller, params Guid[] userIds)
    {
        var result = new List<VerifiedDevice>();
        foreach (var userId in userIds)
        {
            result.AddRange(await network.FindVerifiedDevicesAsync(caller, world, userId));
        }

        return result;
    }

    /// <summary>A fresh epoch key for <paramref name="epoch"/>, sealed to every device of <paramref name="members"/> and signed by <paramref name="creator"/>.</summary>
    public async Task<EpochKeyDistribution> DistributionAsync(Member creator, Guid channelId, long epoch, params Member[] members)
    {
        var devices = await DevicesAsync(creator, [.. members.Select(m => m.UserId)]);
        using var key = EpochKey.Generate(channelId, epoch);
        return EpochKeyDistribution.Create(key, devices.Select(d => (d.DeviceId, d.BoxKey)), network.Now, creator.UserId, creator.Device);
    }

    /// <summary><paramref name="creator"/> opens a channel: epoch 1 sealed to their authority's investigators (<paramref name="firstMembers"/>).</summary>
    public async Task<Channel> CreateAsync(Member creator, params Member[] firstMembers)
    {
        var channelId = Guid.CreateVersion7();
        return await Channels.CreateChannelAsync(new CreateChannelRequest
        {
            ChannelId = channelId.ToString(),
            EncryptedInfo = ByteString.CopyFrom(RandomNumberGenerator.GetBytes(64)),
            DefaultHandlingCode = "H1",
            FirstEpoch = Wire.ToProto(await DistributionAsync(creator, channelId, 1, firstMembers)),
        }, creator.Headers, cancellationToken: Ct);
    }

    public async Task<Channel> AddAuthorityAsync(Member by, Channel channel, Guid authorityId, params Member[] membersAfter)
    {
        var channelId = Guid.Parse(channel.ChannelId);
        var request = new AddMembersRequest
        {
            ChannelId = channel.ChannelId,
            NextEpoch = Wire.ToProto(await DistributionAsync(by, channelId, channel.CurrentEpoch + 1, membersAfter)),
        };
        request.AuthorityIds.Add(authorityId.ToString());
        return await Channels.AddMembersAsync(request, by.Headers, cancellationToken: Ct);
    }

    public async Task<Channel> RemoveUserAsync(Member by, Channel channel, Member removed, params Member[] membersAfter)
    {
        var request = new RemoveMembersRequest
        {
            ChannelId = channel.ChannelId,
            NextEpoch = Wire.ToProto(await DistributionAsync(by, Guid.Parse(channel.ChannelId), channel.CurrentEpoch + 1, membersAfter)),
        };
        request.UserIds.Add(removed.UserId.ToString());
        return await Channels.RemoveMembersAsync(request, by.Headers, cancellationToken: Ct);
    }

    /// <summary><paramref name="by"/> starts the channel's next epoch, sealed to the devices of <paramref name="members"/>.</summary>
    public async Task<Channel> RotateAsync(Member by, Channel channel, params Member[] members) =>
        await Channels.RotateEpochAsync(new RotateEpochRequest
        {
            ChannelId = channel.ChannelId,
            NextEpoch = Wire.ToProto(await DistributionAsync(by, Guid.Parse(channel.ChannelId), channel.CurrentEpoch + 1, members)),
        }, by.Headers, cancellationToken: Ct);

    /// <summary>The devices an epoch was sealed to, as the caller's copy of its signed distribution lists them.</summary>
    public async Task<IReadOnlyList<Guid>> RecipientsAsync(Member caller, Guid channelId, long epoch) =>
        [.. (await Channels.GetEpochKeyAsync(new GetEpochKeyRequest { ChannelId = channelId.ToString(), Epoch = epoch }, caller.Headers, cancellationToken: Ct))
            .Recipients.Select(r => Guid.Parse(r.DeviceId))];

    /// <summary>The caller's key for an epoch: fetched, the creator's chain verified, opened with the caller's device keys.</summary>
    public async Task<EpochKey> OpenEpochKeyAsync(Member caller, Guid channelId, long epoch)
    {
        var distribution = Wire.FromProto(await Channels.GetEpochKeyAsync(new GetEpochKeyRequest { ChannelId = channelId.ToString(), Epoch = epoch },
            caller.Headers, cancellationToken: Ct));
        var creator = (await DevicesAsync(caller, distribution.CreatorUserId)).Single(d => d.DeviceId == distribution.CreatorDeviceId);
        return distribution.Open(creator, caller.Device);
    }

    /// <summary>An envelope sealed under <paramref name="key"/> and signed by the sender's device (not sent).</summary>
    public MessageEnvelope Seal(Member sender, EpochKey key, string text, Guid? messageId = null, string handling = "H1", Guid replyTo = default,
        Guid forwardOf = default, IReadOnlyList<Guid>? documentIds = null) =>
        MessageEnvelope.Seal(new MessageHeader(key.ChannelId, messageId ?? Guid.CreateVersion7(), sender.UserId, sender.Device.DeviceId, key.Epoch,
            network.Now, "text/plain", handling, "4x4:B2", documentIds ?? [], Spontaneous: replyTo == Guid.Empty, ReplyToMessageId: replyTo,
            ForwardOfMessageId: forwardOf),
            Encoding.UTF8.GetBytes(text), key, sender.Device);

    public async Task<StoredMessage> SendAsync(Member sender, MessageEnvelope envelope) =>
        await Channels.SendMessageAsync(new SendMessageRequest { Envelope = Wire.ToProto(envelope) }, sender.Headers, cancellationToken: Ct);

    /// <summary>Seals <paramref name="text"/> under the channel's current epoch key (fetched and opened) and sends it.</summary>
    public async Task<StoredMessage> SendTextAsync(Member sender, Guid channelId, string text, IReadOnlyList<Guid>? documentIds = null)
    {
        var channel = await Channels.GetChannelAsync(new GetChannelRequest { ChannelId = channelId.ToString() }, sender.Headers, cancellationToken: Ct);
        using var key = await OpenEpochKeyAsync(sender, channelId, channel.CurrentEpoch);
        return await SendAsync(sender, Seal(sender, key, text, documentIds: documentIds));
    }

    /// <summary>Opens a stored message as the reader's client does: the sender's chain verified, the epoch key fetched and opened.</summary>
    public async Task<string> ReadAsync(Member reader, StoredMessage message)
    {
        var envelope = Wire.FromProto(message.Envelope);
        var sender = (await DevicesAsync(reader, envelope.Header.SenderUserId)).Single(d => d.DeviceId == envelope.Header.SenderDeviceId);
        using var key = await OpenEpochKeyAsync(reader, envelope.Header.ChannelId, envelope.Header.Epoch);
        return Encoding.UTF8.GetString(envelope.Open(sender, key));
    }

    public async Task<IReadOnlyList<StoredMessage>> HistoryAsync(Member reader, Guid channelId) =>
        [.. (await Channels.HistoryAsync(new HistoryRequest { ChannelId = channelId.ToString() }, reader.Headers, cancellationToken: Ct)).Messages];
}
