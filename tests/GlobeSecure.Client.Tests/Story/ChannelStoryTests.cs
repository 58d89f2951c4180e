using GlobeSecure.Contracts.V1;
using System.Runtime.CompilerServices;
using Grpc.Core;

namespace GlobeSecure.Client.Tests.Story;

/// <summary>
/// Case channels through <see cref="GlobeClient"/>'s typed methods against the real server and
/// PostgreSQL: every key is generated, sealed, fetched and opened by the client library, and
/// every sender and receipt verified to the pinned root.
/// </summary>
public sealed class ChannelStoryTests(StoryServerFixture server) : IClassFixture<StoryServerFixture>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    // One cast per fixture (applications are rate-limited per address); tests use fresh channels.
    private static readonly ConditionalWeakTable<StoryServerFixture, Task<CaseCast>> Casts = new();

    /// <summary>Kenya: Otieno and Wanjiru investigate; Brazil: Ana.</summary>
    private Task<CaseCast> CastAsync() => Casts.GetValue(server, CaseCast.CreateAsync);

    [Fact]
    public async Task Exchange_TwoAuthorities_BothWaysDecryptedWithSenderAuthorityAndHandling()
    {
        var c = await CastAsync();
        var created = await c.Otieno.Client.CreateChannelAsync("Case 2026-117: port concession", "Bribery of a port official", "H1", cancellationToken: Ct);
        var channelId = Guid.Parse(created.ChannelId);
        var joined = await c.Otieno.Client.AddMembersAsync(channelId, authorityIds: [c.Brazil], cancellationToken: Ct);

        var fromAna = await c.Ana.Client.SendTextAsync(channelId, "The shell company's account is at Banco X.",
            new SendOptions(HandlingCode: "H2", EvaluationGrade: "4x4:B2", Spontaneous: true), Ct);
        var readByOtieno = await c.Otieno.Client.OpenAsync(await c.Otieno.Client.GetMessageAsync(channelId, MessageIdOf(fromAna), Ct), Ct);
        var reply = await c.Otieno.Client.SendTextAsync(channelId, "Thank you; we will request the statements.",
            new SendOptions(ReplyTo: readByOtieno.MessageId), Ct);
        var history = await c.Ana.Client.HistoryAsync(channelId, cancellationToken: Ct);
        var readByAna = await c.Ana.Client.OpenAsync(history[0], Ct);

        Assert.Equal(2, joined.CurrentEpoch);
        Assert.Equal(new[] { c.Brazil.ToString(), c.Kenya.ToString() }.Order(), joined.AuthorityIds.Order());
        Assert.Equal("The shell company's account is at Banco X.", readByOtieno.Text);
        Assert.Equal(c.Brazil, readByOtieno.SenderAuthorityId);
        Assert.Equal(c.Ana.DeviceId, readByOtieno.SenderDeviceId);
        Assert.Equal(("H2", "4x4:B2", true), (readByOtieno.HandlingCode, readByOtieno.EvaluationGrade, readByOtieno.Spontaneous));
        Assert.Equal(2, history.Count);
        Assert.Equal("Thank you; we will request the statements.", readByAna.Text);
        Assert.Equal(c.Kenya, readByAna.SenderAuthorityId);
        Assert.Equal(readByOtieno.MessageId, readByAna.ReplyTo);
        Assert.Equal("H2", readByAna.HandlingCode); // a reply keeps its parent's stricter code by default
        Assert.Equal(reply.Position, readByAna.Position);
    }

    [Fact]
    public async Task ChannelTitle_MemberWhoJoinedLater_ReadsItAtOnceButEarlierMessagesOnlyAfterHistoryIsShared()
    {
        var c = await CastAsync();
        var created = await c.Otieno.Client.CreateChannelAsync("Case 2026-118", "Embezzlement of public funds", cancellationToken: Ct);
        var channelId = Guid.Parse(created.ChannelId);
        var early = await c.Otieno.Client.SendTextAsync(channelId, "Before Brazil joined.", cancellationToken: Ct);
        var joined = await c.Otieno.Client.AddMembersAsync(channelId, userIds: [c.Ana.UserId], cancellationToken: Ct);

        var wanjiruSees = await c.Wanjiru.Client.ReadChannelInfoAsync(joined, Ct);
        var anaSees = await c.Ana.Client.ReadChannelInfoAsync(await c.Ana.Client.GetChannelAsync(channelId, Ct), Ct);
        var earlyBefore = await Assert.ThrowsAsync<GlobeClientException>(() => c.Ana.Client.OpenAsync(early, Ct));
        var shared = await c.Otieno.Client.ShareHistoryAsync(channelId, c.Ana.UserId, cancellationToken: Ct);
        var earlyAfter = await c.Ana.Client.OpenAsync(early, Ct);

        Assert.Equal((1L, 2L), (created.InfoEpoch, joined.InfoEpoch));
        Assert.NotEqual(created.EncryptedInfo, joined.EncryptedInfo);
        Assert.Equal(new ChannelInfoView("Case 2026-118", "Embezzlement of public funds"), View(wanjiruSees));
        Assert.Equal(new ChannelInfoView("Case 2026-118", "Embezzlement of public funds"), View(anaSees));
        Assert.Equal(StatusCode.NotFound, earlyBefore.Status);
        Assert.Equal([1L], shared);
        Assert.Equal("Before Brazil joined.", earlyAfter.Text);
    }

    [Fact]
    public async Task Removal_RemovedMemberCannotReadLaterMessages_RemainingMembersCan()
    {
        var c = await CastAsync();
        var channelId = await SharedChannelAsync(c, "Case 2026-119");
        var before = await c.Ana.Client.SendTextAsync(channelId, "Sent while Ana was a member.", cancellationToken: Ct);

        var removed = await c.Otieno.Client.RemoveMembersAsync(channelId, authorityIds: [c.Brazil], cancellationToken: Ct);
        var after = await c.Otieno.Client.SendTextAsync(channelId, "Sent after Brazil's removal.", cancellationToken: Ct);

        var byWanjiru = await c.Wanjiru.Client.OpenAsync(after, Ct);
        var keyRefused = await Assert.ThrowsAsync<GlobeClientException>(() => c.Ana.Client.OpenAsync(after, Ct));
        var historyRefused = await Assert.ThrowsAsync<GlobeClientException>(() => c.Ana.Client.HistoryAsync(channelId, cancellationToken: Ct));
        Assert.Equal(3, removed.CurrentEpoch);
        Assert.DoesNotContain(removed.Members, m => m.AuthorityId == c.Brazil.ToString());
        Assert.Equal(removed.CurrentEpoch, after.Envelope.Header.Epoch);
        Assert.Equal("Sent after Brazil's removal.", byWanjiru.Text);
        Assert.Equal(StatusCode.PermissionDenied, keyRefused.Status);
        Assert.Equal(StatusCode.PermissionDenied, historyRefused.Status);
        Assert.Equal("Sent while Ana was a member.", (await c.Otieno.Client.OpenAsync(before, Ct)).Text);
    }

    [Fact]
    public async Task Send_RotationDue_ClientRotatesAndEveryMemberStillReadsEverything()
    {
        var c = await CastAsync();
        var channelId = await SharedChannelAsync(c, "Case 2026-120");

        var sent = new List<StoredMessage>();
        for (var i = 0; i < StoryServerFixture.RotateAfterMessages + 2; i++)
        {
            sent.Add(await (i % 2 == 0 ? c.Otieno : c.Ana).Client.SendTextAsync(channelId, $"message {i}", cancellationToken: Ct));
        }

        var texts = new List<string>();
        foreach (var message in sent)
        {
            texts.Add((await c.Wanjiru.Client.OpenAsync(message, Ct)).Text);
        }

        Assert.Equal(2, sent[0].Envelope.Header.Epoch);
        Assert.Equal(3, sent[^1].Envelope.Header.Epoch);
        Assert.Equal(Enumerable.Range(0, sent.Count).Select(i => $"message {i}"), texts);
        Assert.False((await c.Ana.Client.GetChannelAsync(channelId, Ct)).RotationRequired);
    }

    [Fact]
    public async Task Send_AnotherMemberRotatesMeanwhile_ClientResealsUnderTheNewEpochOnce()
    {
        var c = await CastAsync();
        var channelId = await SharedChannelAsync(c, "Case 2026-125");
        server.Forge.BeforeNextSend(() => c.Wanjiru.Client.RotateEpochAsync(channelId, Ct));

        var sent = await c.Otieno.Client.SendTextAsync(channelId, "Sealed twice, stored once.", cancellationToken: Ct);

        Assert.Equal(3, sent.Envelope.Header.Epoch);
        Assert.Equal("Sealed twice, stored once.", (await c.Ana.Client.OpenAsync(sent, Ct)).Text);
        Assert.Single(await c.Ana.Client.HistoryAsync(channelId, cancellationToken: Ct));
    }

    [Fact]
    public async Task Send_RetriedWithTheSameIdAfterItWasStored_AnsweredWithTheStoredMessageNotAlreadyExists()
    {
        // Found by the model-based test (ChannelModelTests): a retry re-seals (another nonce and
        // time), so the server saw a different envelope under a stored id and answered
        // ALREADY_EXISTS — a client whose first answer was lost could not tell "stored" from "taken".
        var c = await CastAsync();
        var channelId = await SharedChannelAsync(c, "Case 2026-126");
        var id = Guid.CreateVersion7();
        var first = await c.Ana.Client.SendTextAsync(channelId, "Sent once, its answer lost.", new SendOptions(MessageId: id), Ct);
        await c.Otieno.Client.RotateEpochAsync(channelId, Ct);

        var retried = await c.Ana.Client.SendTextAsync(channelId, "Sent once, its answer lost.", new SendOptions(MessageId: id), Ct);
        var otherContent = await Assert.ThrowsAsync<GlobeClientException>(() =>
            c.Ana.Client.SendTextAsync(channelId, "Something else.", new SendOptions(MessageId: id), Ct));
        var otherSender = await Assert.ThrowsAsync<GlobeClientException>(() =>
            c.Otieno.Client.SendTextAsync(channelId, "Sent once, its answer lost.", new SendOptions(MessageId: id), Ct));

        Assert.Equal(first.Position, retried.Position);
        Assert.Equal(first.Envelope, retried.Envelope);
        Assert.Equal(StatusCode.AlreadyExists, otherContent.Status);
        Assert.Equal(StatusCode.AlreadyExists, otherSender.Status);
        Assert.Single(await c.Wanjiru.Client.HistoryAsync(channelId, cancellationToken: Ct));
    }

    [Fact]
    public async Task Receipts_DeliveredAndRead_VerifyThroughTheClient()
    {
        var c = await CastAsync();
        var channelId = await SharedChannelAsync(c, "Case 2026-121");
        var message = await c.Ana.Client.SendTextAsync(channelId, "Please confirm receipt.", cancellationToken: Ct);

        await c.Otieno.Client.SubmitReceiptAsync(message, MessageReceiptKind.Delivered, Ct);
        await c.Otieno.Client.SubmitReceiptAsync(message, MessageReceiptKind.Read, Ct);
        await c.Wanjiru.Client.SubmitReceiptAsync(message, MessageReceiptKind.Delivered, Ct);
        var receipts = await c.Ana.Client.ListReceiptsAsync(message, Ct);

        Assert.Equal(
            [(c.Otieno.DeviceId, MessageReceiptKind.Delivered), (c.Otieno.DeviceId, MessageReceiptKind.Read), (c.Wanjiru.DeviceId, MessageReceiptKind.Delivered)],
            receipts.Select(r => (r.RecipientDeviceId, r.Kind)).OrderBy(r => r.RecipientDeviceId == c.Otieno.DeviceId ? 0 : 1).ThenBy(r => r.Kind));
        Assert.All(receipts, r => Assert.Equal(c.Kenya, r.RecipientAuthorityId));

        server.Forge.Mode = Forgery.TamperReceipts;
        try
        {
            var refused = await Assert.ThrowsAsync<GlobeTrustException>(() => c.Ana.Client.ListReceiptsAsync(message, Ct));
            Assert.Contains("does not verify", refused.Message, StringComparison.Ordinal);
        }
        finally
        {
            server.Forge.Mode = Forgery.None;
        }
    }

    [Fact]
    public async Task Forward_H2Content_ClientRefusesWithoutGrantAndForwardsWithIt()
    {
        var c = await CastAsync();
        var origin = await SharedChannelAsync(c, "Case 2026-122");
        var target = Guid.Parse((await c.Otieno.Client.CreateChannelAsync("Case 2026-122 (domestic)", cancellationToken: Ct)).ChannelId);
        var original = await c.Ana.Client.SendTextAsync(origin, "Statements attached; no onward dissemination.", new SendOptions(HandlingCode: "H2"), Ct);

        var withoutGrant = await Assert.ThrowsAsync<GlobeClientException>(() => c.Otieno.Client.ForwardAsync(original, target, cancellationToken: Ct));
        var pending = await c.Otieno.Client.RequestConsentAsync(MessageIdOf(original), target, "Needed by the domestic prosecution team.", cancellationToken: Ct);
        var stillPending = await Assert.ThrowsAsync<GlobeClientException>(() => c.Otieno.Client.ForwardAsync(original, target, pending, cancellationToken: Ct));
        var granted = await c.Ana.Client.GrantConsentAsync(Guid.Parse(pending.ConsentId), cancellationToken: Ct);
        var forwarded = await c.Otieno.Client.ForwardAsync(original, target, granted, cancellationToken: Ct);
        var readByWanjiru = await c.Wanjiru.Client.OpenAsync(forwarded, Ct);

        Assert.Equal(StatusCode.FailedPrecondition, withoutGrant.Status);
        Assert.Equal(StatusCode.FailedPrecondition, stillPending.Status);
        Assert.Equal(ConsentStatus.Granted, granted.Status);
        Assert.Equal(c.Brazil.ToString(), granted.OriginatorAuthorityId);
        Assert.Equal("Statements attached; no onward dissemination.", readByWanjiru.Text);
        Assert.Equal(MessageIdOf(original), readByWanjiru.ForwardOf);
        Assert.Equal("H2", readByWanjiru.HandlingCode);
        Assert.Single(await c.Wanjiru.Client.HistoryAsync(target, cancellationToken: Ct));
    }

    [Fact]
    public async Task Subscribe_MessageSentByAnotherMember_ArrivesLiveAndOpens()
    {
        var c = await CastAsync();
        var channelId = Guid.Parse((await c.Otieno.Client.CreateChannelAsync("Case 2026-123", cancellationToken: Ct)).ChannelId);
        var start = (await c.Wanjiru.Client.HistoryAsync(channelId, cancellationToken: Ct)).Select(m => m.Position).DefaultIfEmpty(0).Max();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(30));

        var arrival = Task.Run(async () =>
        {
            await foreach (var e in c.Wanjiru.Client.SubscribeAsync(start, timeout.Token))
            {
                if (e.EventCase == ChannelEvent.EventOneofCase.Message && e.ChannelId == channelId.ToString())
                {
                    return e.Message;
                }
            }

            throw new InvalidOperationException("The subscription ended.");
        }, timeout.Token);
        var sent = await c.Otieno.Client.SendTextAsync(channelId, "Live to Wanjiru.", cancellationToken: Ct);
        var received = await arrival;

        Assert.Equal(sent.Position, received.Position);
        Assert.Equal("Live to Wanjiru.", (await c.Wanjiru.Client.OpenAsync(received, Ct)).Text);
    }

    [Fact]
    public async Task Subscribe_ResumedFromBeforeARemovalOfAMemberAddedAgain_DeliversWhatCameAfterTheReaddition()
    {
        // Found by the model-based test (ChannelModelTests): replaying the removal closed the member's
        // current interval (the re-addition's) instead of the one it ended, so nothing after the
        // re-addition reached a subscription that resumed from before the removal.
        var c = await CastAsync();
        var channelId = await SharedChannelAsync(c, "Case 2026-127");
        var before = await c.Ana.Client.SendTextAsync(channelId, "Before Ana's removal.", cancellationToken: Ct);
        await c.Otieno.Client.RemoveMembersAsync(channelId, userIds: [c.Ana.UserId], cancellationToken: Ct);
        var absent = await c.Otieno.Client.SendTextAsync(channelId, "While Ana was away.", cancellationToken: Ct);
        await c.Otieno.Client.AddMembersAsync(channelId, userIds: [c.Ana.UserId], cancellationToken: Ct);
        var after = await c.Otieno.Client.SendTextAsync(channelId, "After Ana came back.", cancellationToken: Ct);

        var received = new List<long>();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(30)); // Only a hang guard: the passing run stops at the last message.
        await foreach (var e in c.Ana.Client.SubscribeAsync(before.Position - 1, timeout.Token))
        {
            if (e.ChannelId == channelId.ToString() && e.EventCase == ChannelEvent.EventOneofCase.Message)
            {
                received.Add(e.Position);
                if (e.Position >= after.Position)
                {
                    break;
                }
            }
        }

        Assert.Equal([before.Position, after.Position], received);
        Assert.DoesNotContain(absent.Position, received);
    }

    [Fact]
    public async Task Observers_CannotCreateOrJoinChannels_AndNothingChanges()
    {
        var c = await CastAsync();
        var observerOrg = await c.Network.Anonymous().ApplyAsync(new AuthorityApplication($"Observer {Guid.NewGuid().ToString("N")[..6]}", "AT",
            AuthorityKind.ObserverOrganisation, "Observer status granted by the network.", "Focal Point", "focal@example.org"), Ct);
        var observerOrgId = Guid.Parse(observerOrg.AuthorityId);
        await c.Network.FirstAdministrator.Client.ApproveAsync(observerOrgId, Ct);
        var approved = await c.SecondAdministrator.Client.ApproveAsync(observerOrgId, Ct);
        var observerAdmin = await c.Network.AuthorityAdministratorAsync(observerOrgId, approved.AdministratorCode);
        var observer = await c.Network.UserAsync(observerAdmin, "Observer", Role.Observer);
        var channel = await c.Otieno.Client.CreateChannelAsync("Case 2026-124", cancellationToken: Ct);
        var channelId = Guid.Parse(channel.ChannelId);

        var create = await Assert.ThrowsAsync<GlobeClientException>(() => observer.Client.CreateChannelAsync("Observer's own case", cancellationToken: Ct));
        var addOrg = await Assert.ThrowsAsync<GlobeClientException>(() =>
            c.Otieno.Client.AddMembersAsync(channelId, authorityIds: [observerOrgId], cancellationToken: Ct));
        var addUser = await Assert.ThrowsAsync<GlobeClientException>(() =>
            c.Otieno.Client.AddMembersAsync(channelId, userIds: [observer.UserId], cancellationToken: Ct));
        var after = await c.Otieno.Client.GetChannelAsync(channelId, Ct);

        Assert.Equal(StatusCode.PermissionDenied, create.Status);
        Assert.Equal(StatusCode.PermissionDenied, addOrg.Status);
        Assert.Equal(StatusCode.PermissionDenied, addUser.Status);
        Assert.Equal(channel.CurrentEpoch, after.CurrentEpoch);
        Assert.Equal(channel.Members, after.Members);
        Assert.Empty(await observer.Client.ListChannelsAsync(Ct));
    }

    private static Task<Guid> SharedChannelAsync(CaseCast c, string title) => c.SharedChannelAsync(title);

    private static Guid MessageIdOf(StoredMessage message) => Guid.Parse(message.Envelope.Header.MessageId);

    private static ChannelInfoView? View(Crypto.ChannelInfo? info) => info is null ? null : new ChannelInfoView(info.Title, info.Description);

    private sealed record ChannelInfoView(string Title, string Description);
}
