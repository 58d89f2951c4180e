using GlobeSecure.Client;
using GlobeSecure.Contracts.V1;
using GlobeSecure.Crypto;
using GlobeSecure.Server.Tests.Identity;
using Google.Protobuf;
using EpochKeyDistribution = GlobeSecure.Crypto.EpochKeyDistribution;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;

namespace GlobeSecure.Server.Tests.Channels;

/// <summary>Case channels end to end: real gRPC, real PostgreSQL, real keys on the "devices".</summary>
public sealed class ChannelFlowTests(ChannelFixture server) : IClassFixture<ChannelFixture>, IDisposable
{
    private readonly NetworkDriver _driver = new(server);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private async Task<(ChannelWorld World, ChannelDriver Channels)> WorldAsync()
    {
        var world = await server.WorldAsync(_driver);
        return (world, new ChannelDriver(_driver, world.Network));
    }

    /// <summary>Alice's channel with Carol's whole authority added: members Alice, Bob and Carol, epoch 2.</summary>
    private static async Task<Channel> SharedChannelAsync(ChannelWorld w, ChannelDriver channels)
    {
        var channel = await channels.CreateAsync(w.Alice, w.Alice, w.Bob);
        return await channels.AddAuthorityAsync(w.Alice, channel, w.Carol.AuthorityId, w.Alice, w.Bob, w.Carol);
    }

    [Fact]
    public async Task Messages_TwoAuthoritiesInvestigators_ExchangeBothWaysEndToEnd()
    {
        var (w, channels) = await WorldAsync();
        var channel = await SharedChannelAsync(w, channels);
        var channelId = Guid.Parse(channel.ChannelId);

        var fromAlice = await channels.SendTextAsync(w.Alice, channelId, "Suspect account at bank X");
        var fromCarol = await channels.SendTextAsync(w.Carol, channelId, "Same account seen in our case");

        Assert.Equal(2, channel.CurrentEpoch);
        Assert.Equal(new[] { w.Commission().ToString(), w.Carol.AuthorityId.ToString() }.Order(), channel.AuthorityIds.Order());
        Assert.False(channel.RotationRequired);
        Assert.Equal("Suspect account at bank X", await channels.ReadAsync(w.Carol, fromAlice));
        Assert.Equal("Same account seen in our case", await channels.ReadAsync(w.Alice, fromCarol));
        Assert.Equal([fromCarol.Position, fromAlice.Position], (await channels.HistoryAsync(w.Bob, channelId)).Select(m => m.Position));
    }

    [Fact]
    public async Task RemoveMember_NewEpoch_RemovedMemberGetsNoKeyAndCannotReadWhileOthersCan()
    {
        var (w, channels) = await WorldAsync();
        var channel = await SharedChannelAsync(w, channels);
        var channelId = Guid.Parse(channel.ChannelId);
        using var carolsOldKey = await channels.OpenEpochKeyAsync(w.Carol, channelId, 2);

        channel = await channels.RemoveUserAsync(w.Alice, channel, w.Carol, w.Alice, w.Bob);
        var after = await channels.SendTextAsync(w.Alice, channelId, "After Carol left");

        Assert.Equal(3, channel.CurrentEpoch);
        Assert.DoesNotContain(channel.Members, m => m.UserId == w.Carol.UserId.ToString());
        Assert.Equal("After Carol left", await channels.ReadAsync(w.Bob, after));
        foreach (var epoch in new long[] { 3, 2, 1 })
        {
            var refused = await Assert.ThrowsAsync<RpcException>(() => channels.OpenEpochKeyAsync(w.Carol, channelId, epoch));
            Assert.Equal(StatusCode.PermissionDenied, refused.StatusCode);
        }

        var history = await Assert.ThrowsAsync<RpcException>(() => channels.HistoryAsync(w.Carol, channelId));
        Assert.Equal(StatusCode.PermissionDenied, history.StatusCode);
        var envelope = Wire.FromProto(after.Envelope);
        var alice = (await channels.DevicesAsync(w.Carol, w.Alice.UserId)).Single();
        Assert.Throws<WrongEpochException>(() => envelope.Open(alice, carolsOldKey));
    }

    [Fact]
    public async Task ShareHistory_EarlierEpochResealedForANewcomer_LetsThemReadOlderMessages()
    {
        var (w, channels) = await WorldAsync();
        var channel = await channels.CreateAsync(w.Alice, w.Alice, w.Bob);
        var channelId = Guid.Parse(channel.ChannelId);
        var before = await channels.SendTextAsync(w.Alice, channelId, "Before Carol joined");
        await channels.AddAuthorityAsync(w.Alice, channel, w.Carol.AuthorityId, w.Alice, w.Bob, w.Carol);
        var notYet = await Assert.ThrowsAsync<RpcException>(() => channels.ReadAsync(w.Carol, before));

        using var epoch1 = await channels.OpenEpochKeyAsync(w.Alice, channelId, 1);
        var carolsDevices = await channels.DevicesAsync(w.Alice, w.Carol.UserId);
        var request = new ShareHistoryRequest { ChannelId = channel.ChannelId, UserId = w.Carol.UserId.ToString() };
        request.Epochs.Add(Wire.ToProto(EpochKeyDistribution.Create(epoch1, carolsDevices.Select(d => (d.DeviceId, d.BoxKey)), _driver.Now, w.Alice.UserId,
            w.Alice.Device)));
        var shared = await channels.Channels.ShareHistoryAsync(request, w.Alice.Headers, cancellationToken: Ct);

        Assert.Equal(StatusCode.NotFound, notYet.StatusCode);
        Assert.Equal([1L], shared.Epochs);
        Assert.Equal("Before Carol joined", await channels.ReadAsync(w.Carol, before));
    }

    [Fact]
    public async Task Receipts_DeliveredAndReadByAMember_SenderListsAndVerifiesThem()
    {
        var (w, channels) = await WorldAsync();
        var channel = await channels.CreateAsync(w.Alice, w.Alice, w.Bob);
        var sent = await channels.SendTextAsync(w.Alice, Guid.Parse(channel.ChannelId), "Please confirm receipt");
        var envelope = Wire.FromProto(sent.Envelope);

        foreach (var kind in new[] { Crypto.ReceiptKind.Delivered, Crypto.ReceiptKind.Read })
        {
            var receipt = Crypto.Receipt.Create(kind, envelope, _driver.Now, w.Bob.UserId, w.Bob.Device);
            await channels.Channels.SubmitReceiptAsync(new SubmitReceiptRequest { Receipt = Wire.ToProto(receipt) }, w.Bob.Headers, cancellationToken: Ct);
        }

        var listRequest = new ListReceiptsRequest { ChannelId = channel.ChannelId, MessageId = sent.Envelope.Header.MessageId };
        var listed = await channels.Channels.ListReceiptsAsync(listRequest, w.Alice.Headers, cancellationToken: Ct);
        var notSender = await Assert.ThrowsAsync<RpcException>(() => channels.Channels.ListReceiptsAsync(listRequest, w.Bob.Headers, cancellationToken: Ct).ResponseAsync);

        var bob = (await channels.DevicesAsync(w.Alice, w.Bob.UserId)).Single();
        Assert.Equal(2, listed.Receipts.Count);
        Assert.All(listed.Receipts, r => Wire.FromProto(r).Verify(bob, envelope));
        Assert.Equal(StatusCode.PermissionDenied, notSender.StatusCode);
    }

    [Fact]
    public async Task Forward_H2ContentToAnotherChannel_NeedsTheOriginatorsGrant()
    {
        var (w, channels) = await WorldAsync();
        var origin = await channels.CreateAsync(w.Alice, w.Alice, w.Bob);
        var target = await channels.CreateAsync(w.Carol, w.Carol);
        var addAlice = new AddMembersRequest
        {
            ChannelId = target.ChannelId,
            NextEpoch = Wire.ToProto(await channels.DistributionAsync(w.Carol, Guid.Parse(target.ChannelId), 2, w.Carol, w.Alice)),
        };
        addAlice.UserIds.Add(w.Alice.UserId.ToString());
        await channels.Channels.AddMembersAsync(addAlice, w.Carol.Headers, cancellationToken: Ct);
        using var originKey = await channels.OpenEpochKeyAsync(w.Bob, Guid.Parse(origin.ChannelId), 1);
        var original = await channels.SendAsync(w.Bob, channels.Seal(w.Bob, originKey, "Account 123 — do not disseminate", handling: "H2"));
        var originalId = Guid.Parse(original.Envelope.Header.MessageId);
        using var targetKey = await channels.OpenEpochKeyAsync(w.Alice, Guid.Parse(target.ChannelId), 2);

        var withoutGrant = await Assert.ThrowsAsync<RpcException>(() =>
            channels.SendAsync(w.Alice, channels.Seal(w.Alice, targetKey, "Account 123 — do not disseminate", handling: "H2", forwardOf: originalId)));
        var consentId = Guid.CreateVersion7().ToString();
        var requested = await channels.Channels.RequestConsentAsync(new RequestConsentRequest
        {
            ConsentId = consentId,
            MessageId = originalId.ToString(),
            TargetChannelId = target.ChannelId,
            Reason = "Joint investigation with the police",
        }, w.Alice.Headers, cancellationToken: Ct);
        var notOriginator = await Assert.ThrowsAsync<RpcException>(() =>
            channels.Channels.GrantConsentAsync(new DecideConsentRequest { ConsentId = consentId }, w.Carol.Headers, cancellationToken: Ct).ResponseAsync);
        var granted = await channels.Channels.GrantConsentAsync(new DecideConsentRequest { ConsentId = consentId }, w.Bob.Headers, cancellationToken: Ct);
        var forwarded = await channels.SendAsync(w.Alice,
            channels.Seal(w.Alice, targetKey, "Account 123 — do not disseminate", handling: "H2", forwardOf: originalId));

        Assert.Equal((StatusCode.FailedPrecondition, true), (withoutGrant.StatusCode, withoutGrant.Status.Detail.Contains("consent")));
        Assert.Equal((ConsentStatus.Pending, w.Alice.AuthorityId.ToString()), (requested.Status, requested.OriginatorAuthorityId));
        Assert.Equal(StatusCode.PermissionDenied, notOriginator.StatusCode);
        Assert.Equal((ConsentStatus.Granted, w.Bob.UserId.ToString()), (granted.Status, granted.DecidedByUserId));
        Assert.Equal(originalId.ToString(), forwarded.Envelope.Header.ForwardOfMessageId);
        Assert.Equal("Account 123 — do not disseminate", await channels.ReadAsync(w.Carol, forwarded));
    }

    [Fact]
    public async Task GetChannel_EpochCarriedTheConfiguredNumberOfMessages_RequiresRotationUntilRotated()
    {
        var (w, channels) = await WorldAsync();
        var channel = await channels.CreateAsync(w.Alice, w.Alice, w.Bob);
        var channelId = Guid.Parse(channel.ChannelId);
        var get = new GetChannelRequest { ChannelId = channel.ChannelId };
        for (var i = 0; i < ChannelFixture.RotateAfterMessages - 1; i++)
        {
            await channels.SendTextAsync(w.Alice, channelId, $"message {i}");
        }

        var notYet = await channels.Channels.GetChannelAsync(get, w.Bob.Headers, cancellationToken: Ct);
        await channels.SendTextAsync(w.Alice, channelId, "the last one of the epoch");
        var due = await channels.Channels.GetChannelAsync(get, w.Bob.Headers, cancellationToken: Ct);
        var rotated = await channels.Channels.RotateEpochAsync(new RotateEpochRequest
        {
            ChannelId = channel.ChannelId,
            NextEpoch = Wire.ToProto(await channels.DistributionAsync(w.Bob, channelId, 2, [.. MembersWithDevices(w, due)])),
        }, w.Bob.Headers, cancellationToken: Ct);

        Assert.Equal((false, true, false), (notYet.RotationRequired, due.RotationRequired, rotated.RotationRequired));
    }

    /// <summary>The world's members of a channel (tests' own helper users like Dave have no usable devices).</summary>
    private static IEnumerable<Member> MembersWithDevices(ChannelWorld w, Channel channel) =>
        new[] { w.Alice, w.Bob, w.Carol }.Where(m => channel.Members.Any(c => c.UserId == m.UserId.ToString()));

    [Fact]
    public async Task SendMessage_EachRefusal_HasItsOwnErrorAndStoresNothing()
    {
        var (w, channels) = await WorldAsync();
        var channel = await channels.CreateAsync(w.Alice, w.Alice, w.Bob);
        var channelId = Guid.Parse(channel.ChannelId);
        using var epoch1 = await channels.OpenEpochKeyAsync(w.Alice, channelId, 1);
        var dave = await ChannelFixture.InvestigatorAsync(_driver, w.CommissionAdmin, "Dave");

        var tampered = channels.Seal(w.Alice, epoch1, "tampered");
        tampered.Ciphertext[0] ^= 1;
        var badSignature = await Assert.ThrowsAsync<RpcException>(() => channels.SendAsync(w.Alice, tampered));

        var nonMember = await Assert.ThrowsAsync<RpcException>(() => channels.SendAsync(w.Carol, channels.Seal(w.Carol, epoch1, "intruder")));

        channel = await channels.RotateAsync(w.Alice, channel, w.Alice, w.Bob);
        var stale = await Assert.ThrowsAsync<RpcException>(() => channels.SendAsync(w.Bob, channels.Seal(w.Bob, epoch1, "old key")));

        await _driver.RevokeDeviceAsync(w.CommissionAdmin, dave.Certificate);
        using var epoch2 = await channels.OpenEpochKeyAsync(w.Alice, channelId, 2);
        var revoked = await Assert.ThrowsAsync<RpcException>(() => channels.SendAsync(dave, channels.Seal(dave, epoch2, "from a lost laptop")));

        Assert.Equal((StatusCode.InvalidArgument, true), (badSignature.StatusCode, badSignature.Status.Detail.Contains("signature does not verify")));
        Assert.Equal((StatusCode.PermissionDenied, true), (nonMember.StatusCode, nonMember.Status.Detail.Contains("not a member")));
        Assert.Equal((StatusCode.FailedPrecondition, true), (stale.StatusCode, stale.Status.Detail.Contains("current is 2")));
        Assert.Equal(ErrorReason.StaleEpoch, GlobeClientException.FromRpc(stale).ReasonCode);
        Assert.Equal(StatusCode.Unauthenticated, revoked.StatusCode);
        Assert.Empty(await channels.HistoryAsync(w.Alice, channelId));
    }

    [Fact]
    public async Task SendMessage_FromASuspendedAuthority_IsRefusedAndStoresNothing()
    {
        var (w, channels) = await WorldAsync();
        var unit = await _driver.AdmitAuthorityAsync(w.Network.Administrator, w.SecondAdmin, "Financial Intelligence Unit", "TZ",
            AuthorityKind.FinancialIntelligenceUnit);
        var erin = await ChannelFixture.InvestigatorAsync(_driver, unit, "Erin");
        var channel = await channels.CreateAsync(erin, erin);
        using var key = await channels.OpenEpochKeyAsync(erin, Guid.Parse(channel.ChannelId), 1);

        await _driver.Membership.SuspendAsync(new SuspendRequest { AuthorityId = erin.AuthorityId.ToString(), Reason = "Under review" },
            w.Network.Administrator.Headers, cancellationToken: Ct);
        var refused = await Assert.ThrowsAsync<RpcException>(() => channels.SendAsync(erin, channels.Seal(erin, key, "from a suspended authority")));
        await _driver.Membership.ReinstateAsync(new ReinstateRequest { AuthorityId = erin.AuthorityId.ToString() }, w.Network.Administrator.Headers,
            cancellationToken: Ct);
        erin.Token = await _driver.AuthenticateAsync(erin.Device);

        Assert.Equal((StatusCode.PermissionDenied, true), (refused.StatusCode, refused.Status.Detail.Contains("suspended")));
        Assert.Empty(await channels.HistoryAsync(erin, Guid.Parse(channel.ChannelId)));
    }

    [Fact]
    public async Task SendMessage_IssuerOfTheSendersCertificateRevokedAfterASend_SessionEndsAndNothingMoreIsStored()
    {
        var (w, channels) = await WorldAsync();
        var prosecution = await _driver.AdmitAuthorityAsync(w.Network.Administrator, w.SecondAdmin, $"Prosecution {Guid.NewGuid():N}", "RW",
            AuthorityKind.Prosecution);
        var frank = await ChannelFixture.InvestigatorAsync(_driver, prosecution, "Frank");
        var channel = await channels.CreateAsync(frank, frank);
        channel = await channels.AddAuthorityAsync(frank, channel, w.Alice.AuthorityId, frank, w.Alice, w.Bob);
        var channelId = Guid.Parse(channel.ChannelId);
        using var key = await channels.OpenEpochKeyAsync(frank, channelId, channel.CurrentEpoch);
        await channels.SendAsync(frank, channels.Seal(frank, key, "while the chain verifies"));

        await _driver.RevokeDeviceAsync(w.Network.Administrator, prosecution.Certificate, "administrator's laptop stolen");
        var refused = await Assert.ThrowsAsync<RpcException>(() => channels.SendAsync(frank, channels.Seal(frank, key, "after the issuer's revocation")));

        Assert.Equal(StatusCode.Unauthenticated, refused.StatusCode);
        Assert.Single(await channels.HistoryAsync(w.Alice, channelId));
    }

    [Fact]
    public async Task IssuerRevoked_MembersDeviceBelowItLosesItsSessionAndIsDroppedFromTheNextEpoch()
    {
        var (w, channels) = await WorldAsync();
        var prosecution = await _driver.AdmitAuthorityAsync(w.Network.Administrator, w.SecondAdmin, $"Prosecution {Guid.NewGuid():N}", "TZ",
            AuthorityKind.Prosecution);
        var gina = await ChannelFixture.InvestigatorAsync(_driver, prosecution, "Gina");
        var channel = await channels.CreateAsync(w.Alice, w.Alice, w.Bob);
        var request = new AddMembersRequest
        {
            ChannelId = channel.ChannelId,
            NextEpoch = Wire.ToProto(await channels.DistributionAsync(w.Alice, Guid.Parse(channel.ChannelId), 2, w.Alice, w.Bob, gina)),
        };
        request.UserIds.Add(gina.UserId.ToString());
        channel = await channels.Channels.AddMembersAsync(request, w.Alice.Headers, cancellationToken: Ct);

        // The administrator who certified Gina's device loses theirs: Gina's chain stops verifying
        // (protocol §5.2), so her session ends and she cannot open another one.
        await _driver.RevokeDeviceAsync(w.Network.Administrator, prosecution.Certificate, "administrator's laptop stolen");
        var ginasCall = await Assert.ThrowsAsync<RpcException>(() => channels.OpenEpochKeyAsync(gina, Guid.Parse(channel.ChannelId), 2));
        var ginasLogin = await Assert.ThrowsAsync<RpcException>(() => _driver.AuthenticateAsync(gina.Device));
        var due = await channels.Channels.GetChannelAsync(new GetChannelRequest { ChannelId = channel.ChannelId }, w.Alice.Headers, cancellationToken: Ct);
        var rotated = await channels.RotateAsync(w.Alice, due, w.Alice, w.Bob, gina);

        Assert.Equal(StatusCode.Unauthenticated, ginasCall.StatusCode);
        Assert.Equal(StatusCode.Unauthenticated, ginasLogin.StatusCode);
        Assert.True(due.RotationRequired);
        Assert.Equal(3, rotated.CurrentEpoch);
        Assert.Contains(rotated.Members, m => m.UserId == gina.UserId.ToString());
        Assert.DoesNotContain(await channels.RecipientsAsync(w.Alice, Guid.Parse(channel.ChannelId), 3), d => d == gina.Device.DeviceId);
    }

    [Fact]
    public async Task SendMessage_RetriedAfterTheEpochMovedOn_ReturnsTheStoredMessage()
    {
        var (w, channels) = await WorldAsync();
        var channel = await channels.CreateAsync(w.Alice, w.Alice, w.Bob);
        var channelId = Guid.Parse(channel.ChannelId);
        using var key = await channels.OpenEpochKeyAsync(w.Alice, channelId, 1);
        var envelope = channels.Seal(w.Alice, key, "sent just before a rotation");
        var first = await channels.SendAsync(w.Alice, envelope);

        await channels.RotateAsync(w.Bob, channel, w.Alice, w.Bob);
        var retried = await channels.SendAsync(w.Alice, envelope);

        Assert.Equal(first, retried);
        Assert.Single(await channels.HistoryAsync(w.Alice, channelId));
    }

    [Fact]
    public async Task SendMessage_ThroughAServerThatKnewTheChannelBeforeAnotherServerRotatedIt_OldEpochIsRefusedNewAccepted()
    {
        var (w, channels) = await WorldAsync();
        var channel = await channels.CreateAsync(w.Alice, w.Alice, w.Bob);
        var channelId = Guid.Parse(channel.ChannelId);
        using var epoch1 = await channels.OpenEpochKeyAsync(w.Alice, channelId, 1);
        await using var other = await OtherServerAsync();
        var viaOther = ClientOf(other, out var grpcChannel);
        using (grpcChannel)
        {
            // Server B now knows the channel at epoch 1.
            await viaOther.SendMessageAsync(new SendMessageRequest { Envelope = Wire.ToProto(channels.Seal(w.Alice, epoch1, "through B")) }, w.Alice.Headers,
                cancellationToken: Ct);

            await channels.RotateAsync(w.Bob, channel, w.Alice, w.Bob);
            var stale = await Assert.ThrowsAsync<RpcException>(() => viaOther.SendMessageAsync(
                new SendMessageRequest { Envelope = Wire.ToProto(channels.Seal(w.Alice, epoch1, "sealed under the old epoch")) }, w.Alice.Headers,
                cancellationToken: Ct).ResponseAsync);
            using var epoch2 = await channels.OpenEpochKeyAsync(w.Alice, channelId, 2);
            var current = await viaOther.SendMessageAsync(new SendMessageRequest { Envelope = Wire.ToProto(channels.Seal(w.Alice, epoch2, "under epoch 2")) },
                w.Alice.Headers, cancellationToken: Ct);

            Assert.Equal((StatusCode.FailedPrecondition, true), (stale.StatusCode, stale.Status.Detail.Contains("current is 2")));
            Assert.Equal(2, current.Envelope.Header.Epoch);
            Assert.Equal(2, (await channels.HistoryAsync(w.Alice, channelId)).Count);
        }

        await other.StopAsync(Ct);
    }

    [Fact]
    public async Task SendMessage_SameEnvelopeTwice_IsStoredOnceAndDifferentContentUnderItsIdIsRefused()
    {
        var (w, channels) = await WorldAsync();
        var channel = await channels.CreateAsync(w.Alice, w.Alice, w.Bob);
        using var key = await channels.OpenEpochKeyAsync(w.Alice, Guid.Parse(channel.ChannelId), 1);
        var id = Guid.CreateVersion7();
        var envelope = channels.Seal(w.Alice, key, "once", id);

        var first = await channels.SendAsync(w.Alice, envelope);
        var again = await channels.SendAsync(w.Alice, envelope);
        var conflict = await Assert.ThrowsAsync<RpcException>(() => channels.SendAsync(w.Alice, channels.Seal(w.Alice, key, "twice", id)));

        Assert.Equal(first.Position, again.Position);
        Assert.Equal(StatusCode.AlreadyExists, conflict.StatusCode);
        Assert.Single(await channels.HistoryAsync(w.Alice, Guid.Parse(channel.ChannelId)));
    }

    [Fact]
    public async Task Reply_SignedReplyToAndHandlingCode_KeepsOrTightensAndLooseningIsRefused()
    {
        var (w, channels) = await WorldAsync();
        var channel = await channels.CreateAsync(w.Alice, w.Alice, w.Bob);
        var channelId = Guid.Parse(channel.ChannelId);
        using var aliceKey = await channels.OpenEpochKeyAsync(w.Alice, channelId, 1);
        using var bobKey = await channels.OpenEpochKeyAsync(w.Bob, channelId, 1);
        var parent = await channels.SendAsync(w.Alice, channels.Seal(w.Alice, aliceKey, "no onward dissemination", handling: "H2"));
        var parentId = Guid.Parse(parent.Envelope.Header.MessageId);

        var reply = await channels.SendAsync(w.Bob, channels.Seal(w.Bob, bobKey, "understood", handling: "H2", replyTo: parentId));
        var loosened = await Assert.ThrowsAsync<RpcException>(() => channels.SendAsync(w.Bob, channels.Seal(w.Bob, bobKey, "pass it on", handling: "H0", replyTo: parentId)));

        Assert.True(parent.Envelope.Header.Spontaneous);
        Assert.Equal((parent.Envelope.Header.MessageId, false), (reply.Envelope.Header.ReplyToMessageId, reply.Envelope.Header.Spontaneous));
        Assert.Equal("understood", await channels.ReadAsync(w.Alice, reply));
        Assert.Equal(StatusCode.InvalidArgument, loosened.StatusCode);
        Assert.Equal(2, (await channels.HistoryAsync(w.Alice, channelId)).Count);
    }

    [Fact]
    public async Task AddMembers_EpochNotSealedToEveryNewMemberDevice_IsRefusedAndChangesNothing()
    {
        var (w, channels) = await WorldAsync();
        var channel = await channels.CreateAsync(w.Alice, w.Alice, w.Bob);
        var request = new AddMembersRequest
        {
            ChannelId = channel.ChannelId,
            NextEpoch = Wire.ToProto(await channels.DistributionAsync(w.Alice, Guid.Parse(channel.ChannelId), 2, w.Alice, w.Bob)),
        };
        request.AuthorityIds.Add(w.Carol.AuthorityId.ToString());

        var error = await Assert.ThrowsAsync<RpcException>(() => channels.Channels.AddMembersAsync(request, w.Alice.Headers, cancellationToken: Ct).ResponseAsync);
        var unchanged = await channels.Channels.GetChannelAsync(new GetChannelRequest { ChannelId = channel.ChannelId }, w.Alice.Headers, cancellationToken: Ct);

        Assert.Equal(StatusCode.FailedPrecondition, error.StatusCode);
        Assert.Equal(1, unchanged.CurrentEpoch);
        Assert.Equal(channel.Members.Count, unchanged.Members.Count);
    }

    [Fact]
    public async Task NewEpoch_WithResealedInfo_ReplacesTheInfoAndItsEpoch_WithoutKeepsIt_MalformedIsRefused()
    {
        var (w, channels) = await WorldAsync();
        var channel = await channels.CreateAsync(w.Alice, w.Alice, w.Bob);
        var channelId = Guid.Parse(channel.ChannelId);
        var resealed = ByteString.CopyFrom(System.Security.Cryptography.RandomNumberGenerator.GetBytes(80));

        var plain = await channels.RotateAsync(w.Alice, channel, w.Alice, w.Bob);
        var malformed = await Assert.ThrowsAsync<RpcException>(async () => await channels.Channels.RotateEpochAsync(new RotateEpochRequest
        {
            ChannelId = channel.ChannelId,
            NextEpoch = Wire.ToProto(await channels.DistributionAsync(w.Alice, channelId, 3, w.Alice, w.Bob)),
            EncryptedInfo = ByteString.CopyFrom(new byte[10]),
        }, w.Alice.Headers, cancellationToken: Ct));
        var withInfo = await channels.Channels.RotateEpochAsync(new RotateEpochRequest
        {
            ChannelId = channel.ChannelId,
            NextEpoch = Wire.ToProto(await channels.DistributionAsync(w.Alice, channelId, 3, w.Alice, w.Bob)),
            EncryptedInfo = resealed,
        }, w.Alice.Headers, cancellationToken: Ct);

        Assert.Equal((2L, 1L, channel.EncryptedInfo), (plain.CurrentEpoch, plain.InfoEpoch, plain.EncryptedInfo));
        Assert.Equal(StatusCode.InvalidArgument, malformed.StatusCode);
        Assert.Equal((3L, 3L, resealed), (withInfo.CurrentEpoch, withInfo.InfoEpoch, withInfo.EncryptedInfo));
    }

    [Fact]
    public async Task MembershipChange_NamingNobody_IsInvalidArgumentOnUserIdsAndChangesNothing()
    {
        var (w, channels) = await WorldAsync();
        var channel = await channels.CreateAsync(w.Alice, w.Alice, w.Bob);
        var nextEpoch = Wire.ToProto(await channels.DistributionAsync(w.Alice, Guid.Parse(channel.ChannelId), 2, w.Alice, w.Bob));

        var add = await Assert.ThrowsAsync<RpcException>(() => channels.Channels.AddMembersAsync(
            new AddMembersRequest { ChannelId = channel.ChannelId, NextEpoch = nextEpoch }, w.Alice.Headers, cancellationToken: Ct).ResponseAsync);
        var remove = await Assert.ThrowsAsync<RpcException>(() => channels.Channels.RemoveMembersAsync(
            new RemoveMembersRequest { ChannelId = channel.ChannelId, NextEpoch = nextEpoch }, w.Alice.Headers, cancellationToken: Ct).ResponseAsync);
        var unchanged = await channels.Channels.GetChannelAsync(new GetChannelRequest { ChannelId = channel.ChannelId }, w.Alice.Headers, cancellationToken: Ct);

        Assert.Equal("user_ids", Assert.Single(GlobeClientException.FromRpc(add).Violations).Field);
        Assert.Contains("to add", GlobeClientException.FromRpc(add).Violations[0].Description, StringComparison.Ordinal);
        Assert.Contains("to remove", Assert.Single(GlobeClientException.FromRpc(remove).Violations).Description, StringComparison.Ordinal);
        Assert.Equal(1, unchanged.CurrentEpoch);
    }

    [Fact]
    public async Task GetMessage_MemberGetsItNonMemberAndOtherChannelAreRefused()
    {
        var (w, channels) = await WorldAsync();
        var channel = await channels.CreateAsync(w.Alice, w.Alice, w.Bob);
        var other = await channels.CreateAsync(w.Alice, w.Alice, w.Bob);
        var sent = await channels.SendTextAsync(w.Alice, Guid.Parse(channel.ChannelId), "Only for the commission");
        GetMessageRequest Request(string channelId) => new() { ChannelId = channelId, MessageId = sent.Envelope.Header.MessageId };

        var byBob = await channels.Channels.GetMessageAsync(Request(channel.ChannelId), w.Bob.Headers, cancellationToken: Ct);
        var byCarol = await Assert.ThrowsAsync<RpcException>(() =>
            channels.Channels.GetMessageAsync(Request(channel.ChannelId), w.Carol.Headers, cancellationToken: Ct).ResponseAsync);
        var viaOther = await Assert.ThrowsAsync<RpcException>(() =>
            channels.Channels.GetMessageAsync(Request(other.ChannelId), w.Bob.Headers, cancellationToken: Ct).ResponseAsync);

        Assert.Equal(sent, byBob);
        Assert.Equal("Only for the commission", await channels.ReadAsync(w.Bob, byBob));
        Assert.Equal(StatusCode.PermissionDenied, byCarol.StatusCode);
        Assert.Equal(StatusCode.NotFound, viaOther.StatusCode);
    }

    [Fact]
    public async Task CreateChannel_ByAnObserver_IsPermissionDeniedAndCreatesNothing()
    {
        var (w, channels) = await WorldAsync();
        var observers = await _driver.AdmitAuthorityAsync(w.Network.Administrator, w.SecondAdmin, $"Observer {Guid.NewGuid():N}", "AT",
            AuthorityKind.ObserverOrganisation);
        var observer = await _driver.EnrolAndCertifyAsync(await _driver.InviteAsync(observers, Role.Observer, "Observer"), observers, Role.Observer);
        var channelId = Guid.CreateVersion7();
        var request = new CreateChannelRequest
        {
            ChannelId = channelId.ToString(),
            EncryptedInfo = Google.Protobuf.ByteString.CopyFrom(new byte[64]),
            DefaultHandlingCode = "H1",
            FirstEpoch = Wire.ToProto(await channels.DistributionAsync(observer, channelId, 1, observer)),
        };

        var error = await Assert.ThrowsAsync<RpcException>(() => channels.Channels.CreateChannelAsync(request, observer.Headers, cancellationToken: Ct).ResponseAsync);
        var get = await Assert.ThrowsAsync<RpcException>(() =>
            channels.Channels.GetChannelAsync(new GetChannelRequest { ChannelId = channelId.ToString() }, w.Alice.Headers, cancellationToken: Ct).ResponseAsync);

        Assert.Equal(StatusCode.PermissionDenied, error.StatusCode);
        Assert.Equal(StatusCode.NotFound, get.StatusCode);
        Assert.Empty((await channels.Channels.ListChannelsAsync(new ListChannelsRequest(), observer.Headers, cancellationToken: Ct)).Channels);
    }

    [Fact]
    public async Task Subscribe_MessageSentAfterSubscribing_IsDeliveredLive()
    {
        var (w, channels) = await WorldAsync();
        var channel = await channels.CreateAsync(w.Alice, w.Alice, w.Bob);
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        cancel.CancelAfter(TimeSpan.FromSeconds(30));
        using var call = channels.Channels.Subscribe(new SubscribeRequest(), w.Bob.Headers, cancellationToken: cancel.Token);

        var sent = await channels.SendTextAsync(w.Alice, Guid.Parse(channel.ChannelId), "live");
        ChannelEvent? received = null;
        while (await call.ResponseStream.MoveNext(cancel.Token))
        {
            if (call.ResponseStream.Current.Message?.Position == sent.Position)
            {
                received = call.ResponseStream.Current;
                break;
            }
        }

        Assert.NotNull(received);
        Assert.Equal("live", await channels.ReadAsync(w.Bob, received.Message));
    }

    [Fact]
    public async Task Subscribe_ResumedFromLastPosition_MissesNothingAndRepeatsNothing()
    {
        var (w, channels) = await WorldAsync();
        var channel = await channels.CreateAsync(w.Alice, w.Alice, w.Bob);
        var channelId = Guid.Parse(channel.ChannelId);
        var first = await channels.SendTextAsync(w.Alice, channelId, "one");
        var firstEvents = await ReadUntilAsync(channels, w.Bob, 0, first.Position);

        var second = await channels.SendTextAsync(w.Alice, channelId, "two");
        var third = await channels.SendTextAsync(w.Alice, channelId, "three");
        var resumed = await ReadUntilAsync(channels, w.Bob, firstEvents[^1].Position, third.Position);

        Assert.Equal([second.Position, third.Position], resumed.Where(e => e.ChannelId == channel.ChannelId && e.Message is not null).Select(e => e.Message.Position));
        Assert.All(resumed, e => Assert.True(e.Position > first.Position));
        Assert.Equal(resumed.Count, resumed.Select(e => e.Position).Distinct().Count());
        // Every delivered event names its channel and carries one of the kinds (whatever other
        // tests of this class did to the same members before: history shares, consents…).
        Assert.All(firstEvents.Concat(resumed), e => Assert.True(e.ChannelId != "" && e.EventCase != ChannelEvent.EventOneofCase.None,
            $"event at {e.Position} is empty"));
    }

    [Fact]
    public async Task Subscribe_ChannelOfOthers_IsNotDelivered()
    {
        var (w, channels) = await WorldAsync();
        var theirs = await channels.CreateAsync(w.Alice, w.Alice, w.Bob);
        var mine = await channels.CreateAsync(w.Carol, w.Carol);
        await channels.SendTextAsync(w.Alice, Guid.Parse(theirs.ChannelId), "not for Carol");
        var marker = await channels.SendTextAsync(w.Carol, Guid.Parse(mine.ChannelId), "for Carol");

        var events = await ReadUntilAsync(channels, w.Carol, 0, marker.Position);

        Assert.DoesNotContain(events, e => e.ChannelId == theirs.ChannelId);
        Assert.Contains(events, e => e.Message?.Position == marker.Position);
    }

    private Task<WebApplication> OtherServerAsync() => server.StartReplicaAsync(Ct);

    private static ChannelService.ChannelServiceClient ClientOf(WebApplication app, out GrpcChannel channel)
    {
        channel = GlobeSecure.Testing.GlobeServerFixture.ChannelTo(app);
        return new ChannelService.ChannelServiceClient(channel);
    }

    private static async Task<ChannelEvent> NextMessageAsync(AsyncServerStreamingCall<ChannelEvent> call, CancellationToken cancel)
    {
        while (await call.ResponseStream.MoveNext(cancel))
        {
            if (call.ResponseStream.Current.Message is not null)
            {
                return call.ResponseStream.Current;
            }
        }

        throw new InvalidOperationException("The subscription ended without a message.");
    }

    [Fact]
    public async Task Subscribe_OnAnotherServerThatRestarts_ReceivesLiveThenResumesWithoutLossOrRepeats()
    {
        var (w, channels) = await WorldAsync();
        var channel = await channels.CreateAsync(w.Alice, w.Alice, w.Bob);
        var channelId = Guid.Parse(channel.ChannelId);
        var start = await channels.SendTextAsync(w.Alice, channelId, "before subscribing");
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        cancel.CancelAfter(TimeSpan.FromSeconds(60));

        ChannelEvent live;
        var other = await OtherServerAsync();
        await using (other)
        {
            var client = ClientOf(other, out var grpcChannel);
            using (grpcChannel)
            using (var call = client.Subscribe(new SubscribeRequest { AfterPosition = start.Position }, w.Bob.Headers, cancellationToken: cancel.Token))
            {
                var sent = await channels.SendTextAsync(w.Alice, channelId, "through server A");
                live = await NextMessageAsync(call, cancel.Token);
                Assert.Equal(sent.Position, live.Position);
            }

            await other.StopAsync(Ct);
        }

        var whileDown1 = await channels.SendTextAsync(w.Alice, channelId, "while B was down 1");
        var whileDown2 = await channels.SendTextAsync(w.Alice, channelId, "while B was down 2");
        await using var restarted = await OtherServerAsync();
        var resumedClient = ClientOf(restarted, out var resumedChannel);
        using (resumedChannel)
        using (var resumed = resumedClient.Subscribe(new SubscribeRequest { AfterPosition = live.Position }, w.Bob.Headers, cancellationToken: cancel.Token))
        {
            var first = await NextMessageAsync(resumed, cancel.Token);
            var second = await NextMessageAsync(resumed, cancel.Token);

            Assert.Equal([whileDown1.Position, whileDown2.Position], new[] { first.Position, second.Position });
            Assert.Equal("while B was down 2", await channels.ReadAsync(w.Bob, second.Message));
        }

        await restarted.StopAsync(Ct);
    }

    /// <summary>Subscribes after <paramref name="after"/> and collects events until one at <paramref name="until"/>, then disconnects.</summary>
    private static async Task<List<ChannelEvent>> ReadUntilAsync(ChannelDriver channels, Member member, long after, long until)
    {
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        cancel.CancelAfter(TimeSpan.FromSeconds(30));
        using var call = channels.Channels.Subscribe(new SubscribeRequest { AfterPosition = after }, member.Headers, cancellationToken: cancel.Token);
        var events = new List<ChannelEvent>();
        while (await call.ResponseStream.MoveNext(cancel.Token))
        {
            events.Add(call.ResponseStream.Current);
            if (call.ResponseStream.Current.Position >= until)
            {
                break;
            }
        }

        return events;
    }

    public void Dispose() => _driver.Dispose();
}

internal static class ChannelWorldExtensions
{
    public static Guid Commission(this ChannelWorld world) => world.Alice.AuthorityId;
}
