using System.Text;
using GlobeSecure.Contracts.V1;
using GlobeSecure.Crypto;
using GlobeSecure.Server.Channels;
using GlobeSecure.Server.Infrastructure;
using EpochKeyDistribution = GlobeSecure.Crypto.EpochKeyDistribution;
using MessageEnvelope = GlobeSecure.Crypto.MessageEnvelope;
using MessageHeader = GlobeSecure.Crypto.MessageHeader;
using ChannelCreated = GlobeSecure.Server.Channels.ChannelCreated;
using EpochStarted = GlobeSecure.Server.Channels.EpochStarted;
using CertificateChain = GlobeSecure.Crypto.CertificateChain;
using ReceiptKind = GlobeSecure.Crypto.ReceiptKind;

namespace GlobeSecure.Server.Tests.Channels;

/// <summary>A small PKI in memory: a root, a network administrator, and authorities whose administrators certify users' devices.</summary>
internal sealed class Pki
{
    public static readonly DateTimeOffset At = new(2026, 11, 24, 12, 0, 0, TimeSpan.Zero);

    private readonly SigningKeyPair _root = SigningKeyPair.Generate();
    private readonly DeviceKeys _networkAdmin = DeviceKeys.Generate(Guid.CreateVersion7());
    private readonly DeviceCertificate _networkAdminCertificate;

    public Pki() => _networkAdminCertificate = Issue(_networkAdmin.Public, Guid.CreateVersion7(), Guid.CreateVersion7(), DeviceRole.NetworkAdministrator,
        _root, null);

    public TrustAnchors Anchors => new([_root.PublicKey]);

    public PkiAuthority Authority(AuthorityKind kind = AuthorityKind.Police, AuthorityStatus status = AuthorityStatus.Active)
    {
        var id = Guid.CreateVersion7();
        var admin = DeviceKeys.Generate(Guid.CreateVersion7());
        var certificate = Issue(admin.Public, Guid.CreateVersion7(), id, DeviceRole.AuthorityAdministrator, _networkAdmin.Signing, _networkAdmin.DeviceId);
        return new PkiAuthority(this, new AuthorityView(id, "Authority", kind, status), admin, certificate);
    }

    internal DeviceCertificate NetworkAdminCertificate => _networkAdminCertificate;

    internal static DeviceCertificate Issue(PublicDeviceKeys subject, Guid userId, Guid authorityId, DeviceRole role, SigningKeyPair issuer, Guid? issuerDeviceId) =>
        DeviceCertificate.Issue(Guid.CreateVersion7(), subject, userId, authorityId, role, At.AddDays(-1), At.AddDays(365), issuer, issuerDeviceId);
}

internal sealed record PkiAuthority(Pki Pki, AuthorityView View, DeviceKeys Admin, DeviceCertificate AdminCertificate)
{
    public PkiUser User(Role role = Role.Investigator)
    {
        var userId = Guid.CreateVersion7();
        var device = DeviceKeys.Generate(Guid.CreateVersion7());
        var certificate = Pki.Issue(device.Public, userId, View.AuthorityId, (DeviceRole)(int)role, Admin.Signing, Admin.DeviceId);
        var verified = CertificateChain.Verify([certificate, AdminCertificate, Pki.NetworkAdminCertificate], Pki.Anchors, Pki.At);
        return new PkiUser(new DirectoryUser(userId, View.AuthorityId, role, UserStatus.Active), device, verified);
    }
}

internal sealed record PkiUser(DirectoryUser User, DeviceKeys Device, VerifiedDevice Verified)
{
    public Guid Id => User.UserId;

    public Guid DeviceId => Device.DeviceId;
}

/// <summary>Given(events).When(command).Then(events or error): membership, epochs and message acceptance, no database.</summary>
public sealed class ChannelDeciderTests
{
    private static readonly DateTimeOffset At = Pki.At;
    private readonly Pki _pki = new();
    private readonly Guid _channel = Guid.CreateVersion7();
    private readonly PkiAuthority _police;
    private readonly PkiAuthority _agency;
    private readonly PkiUser _alice;
    private readonly PkiUser _bob;
    private readonly PkiUser _carol;

    public ChannelDeciderTests()
    {
        _police = _pki.Authority();
        _agency = _pki.Authority(AuthorityKind.AntiCorruptionAgency);
        _alice = _police.User();
        _bob = _police.User();
        _carol = _agency.User();
    }

    private static ChannelState Given(params object[] events) => events.Aggregate(ChannelState.Initial, ChannelDecider.Evolve);

    private EpochKeyDistribution Epoch(long epoch, PkiUser creator, params PkiUser[] recipients)
    {
        using var key = EpochKey.Generate(_channel, epoch);
        return EpochKeyDistribution.Create(key, recipients.Select(r => (r.DeviceId, r.Device.Public.BoxKey)), At, creator.Id, creator.Device);
    }

    private static EpochProposal Proposal(EpochKeyDistribution distribution, PkiUser creator, params PkiUser[] users) =>
        new("next_epoch", distribution, creator.Verified, users.ToDictionary(u => u.Id, u => (IReadOnlyList<Guid>)[u.DeviceId]));

    private CreateChannel Create(EpochKeyDistribution? distribution = null, PkiUser? by = null) =>
        new(_channel, (by ?? _alice).Id, (by ?? _alice).DeviceId, (by ?? _alice).User.Role, _police.View, [1, 2, 3], "H1",
            [_alice.User, _bob.User], Proposal(distribution ?? Epoch(1, by ?? _alice, _alice, _bob), by ?? _alice, _alice, _bob), At);

    private object[] Created()
    {
        var events = ChannelDecider.Decide(Create(), ChannelState.Initial);
        return [.. events];
    }

    [Fact]
    public void Create_ByInvestigator_RecordsTheAuthoritysInvestigatorsAndEpochOne()
    {
        var events = ChannelDecider.Decide(Create(), ChannelState.Initial);

        var created = Assert.IsType<ChannelCreated>(events[0]);
        Assert.Equal(new[] { _alice.Id, _bob.Id }.Order(), created.Members.Select(m => m.UserId).Order());
        Assert.Equal(1, Assert.IsType<EpochStarted>(events[1]).Distribution.Epoch);
    }

    [Fact]
    public void Create_SameRequestRetried_RecordsNothing()
    {
        var command = Create();
        var state = Given([.. ChannelDecider.Decide(command, ChannelState.Initial)]);

        Assert.Empty(ChannelDecider.Decide(command, state));
    }

    [Fact]
    public void Create_IdTaken_ThrowsAlreadyExists()
    {
        Assert.Throws<AlreadyExistsException>(() => ChannelDecider.Decide(Create(), Given(Created())));
    }

    [Fact]
    public void Create_EpochMissingAMemberDevice_ThrowsWrongStateNamingIt()
    {
        var error = Assert.Throws<WrongStateException>(() => ChannelDecider.Decide(Create(Epoch(1, _alice, _alice)), ChannelState.Initial));

        Assert.Contains("1 missing", error.Message);
        Assert.Contains(_bob.DeviceId.ToString(), error.Message);
    }

    [Fact]
    public void Create_ByPartnerTool_ThrowsPermissionDenied()
    {
        var tool = _police.User(Role.PartnerTool);

        Assert.Throws<PermissionDeniedException>(() => ChannelDecider.Decide(Create(Epoch(1, tool, _alice, _bob), tool), ChannelState.Initial));
    }

    [Fact]
    public void Create_EpochNotOne_ThrowsWrongStateStaleEpoch()
    {
        var error = Assert.Throws<WrongStateException>(() => ChannelDecider.Decide(Create(Epoch(2, _alice, _alice, _bob)), ChannelState.Initial));

        Assert.Contains("next epoch is 1", error.Message);
    }

    [Fact]
    public void Add_ActiveAuthority_AddsOnlyItsActiveInvestigatorsAndStartsEpochTwo()
    {
        var observer = _agency.User(Role.Observer);
        var tool = _agency.User(Role.PartnerTool);
        var command = new AddMembers(_channel, _alice.Id, _alice.DeviceId, [_agency.View],
            [new Candidate(_carol.User, _agency.View, false), new Candidate(observer.User, _agency.View, false), new Candidate(tool.User, _agency.View, false)],
            Proposal(Epoch(2, _alice, _alice, _bob, _carol), _alice, _alice, _bob, _carol, observer, tool), At);

        var events = ChannelDecider.Decide(command, Given(Created()));

        Assert.Equal([_carol.Id], Assert.IsType<MembersAdded>(events[0]).Members.Select(m => m.UserId));
        Assert.Equal(2, Assert.IsType<EpochStarted>(events[1]).Distribution.Epoch);
    }

    [Fact]
    public void Add_NamedObserver_ThrowsPermissionDenied()
    {
        var observer = _agency.User(Role.Observer);
        var command = new AddMembers(_channel, _alice.Id, _alice.DeviceId, [], [new Candidate(observer.User, _agency.View, true)],
            Proposal(Epoch(2, _alice, _alice, _bob, observer), _alice, _alice, _bob, observer), At);

        Assert.Throws<PermissionDeniedException>(() => ChannelDecider.Decide(command, Given(Created())));
    }

    [Fact]
    public void Add_ObserverOrganisation_ThrowsPermissionDenied()
    {
        var observers = _pki.Authority(AuthorityKind.ObserverOrganisation);
        var command = new AddMembers(_channel, _alice.Id, _alice.DeviceId, [observers.View], [],
            Proposal(Epoch(2, _alice, _alice, _bob), _alice, _alice, _bob), At);

        Assert.Throws<PermissionDeniedException>(() => ChannelDecider.Decide(command, Given(Created())));
    }

    [Fact]
    public void Add_SuspendedAuthority_ThrowsWrongState()
    {
        var suspended = _agency with { View = _agency.View with { Status = AuthorityStatus.Suspended } };
        var command = new AddMembers(_channel, _alice.Id, _alice.DeviceId, [suspended.View], [new Candidate(_carol.User, suspended.View, false)],
            Proposal(Epoch(2, _alice, _alice, _bob, _carol), _alice, _alice, _bob, _carol), At);

        Assert.Throws<WrongStateException>(() => ChannelDecider.Decide(command, Given(Created())));
    }

    [Fact]
    public void Add_ByNonMember_ThrowsPermissionDenied()
    {
        var command = new AddMembers(_channel, _carol.Id, _carol.DeviceId, [], [new Candidate(_carol.User, _agency.View, true)],
            Proposal(Epoch(2, _carol, _alice, _bob, _carol), _carol, _alice, _bob, _carol), At);

        Assert.Throws<PermissionDeniedException>(() => ChannelDecider.Decide(command, Given(Created())));
    }

    [Fact]
    public void Remove_Member_StartsAnEpochWithoutTheirDevices()
    {
        var command = new RemoveMembers(_channel, _alice.Id, _alice.DeviceId, [], [_bob.Id], Proposal(Epoch(2, _alice, _alice), _alice, _alice, _bob), At);

        var events = ChannelDecider.Decide(command, Given(Created()));

        Assert.Equal([_bob.Id], Assert.IsType<MembersRemoved>(events[0]).UserIds);
        Assert.Equal([_alice.DeviceId], Assert.IsType<EpochStarted>(events[1]).Distribution.Recipients.Select(r => r.DeviceId));
    }

    [Fact]
    public void Remove_EpochStillSealedToTheRemovedMember_ThrowsWrongState()
    {
        var command = new RemoveMembers(_channel, _alice.Id, _alice.DeviceId, [], [_bob.Id],
            Proposal(Epoch(2, _alice, _alice, _bob), _alice, _alice, _bob), At);

        var error = Assert.Throws<WrongStateException>(() => ChannelDecider.Decide(command, Given(Created())));

        Assert.Contains("1 not allowed", error.Message);
    }

    [Fact]
    public void Remove_Everyone_ThrowsWrongState()
    {
        var command = new RemoveMembers(_channel, _alice.Id, _alice.DeviceId, [_police.View.AuthorityId], [],
            Proposal(Epoch(2, _alice, _alice), _alice, _alice, _bob), At);

        Assert.Throws<WrongStateException>(() => ChannelDecider.Decide(command, Given(Created())));
    }

    [Fact]
    public void Rotate_SignedByAnotherMembersDevice_ThrowsPermissionDenied()
    {
        var command = new RotateEpoch(_channel, _alice.Id, _alice.DeviceId, Proposal(Epoch(2, _bob, _alice, _bob), _alice, _alice, _bob), At);

        Assert.Throws<PermissionDeniedException>(() => ChannelDecider.Decide(command, Given(Created())));
    }

    [Fact]
    public void Rotate_TamperedSignature_ThrowsValidationSignatureDoesNotVerify()
    {
        var distribution = Epoch(2, _alice, _alice, _bob);
        distribution.Signature[0] ^= 1;
        var command = new RotateEpoch(_channel, _alice.Id, _alice.DeviceId, Proposal(distribution, _alice, _alice, _bob), At);

        var error = Assert.Throws<ValidationException>(() => ChannelDecider.Decide(command, Given(Created())));

        Assert.Equal("next_epoch.signature", error.Violations[0].Field);
    }

    [Fact]
    public void Rotate_SkippingAnEpoch_ThrowsWrongStateStaleEpoch()
    {
        var command = new RotateEpoch(_channel, _alice.Id, _alice.DeviceId, Proposal(Epoch(3, _alice, _alice, _bob), _alice, _alice, _bob), At);

        Assert.Throws<WrongStateException>(() => ChannelDecider.Decide(command, Given(Created())));
    }

    private object[] WithCarol()
    {
        var add = ChannelDecider.Decide(new AddMembers(_channel, _alice.Id, _alice.DeviceId, [], [new Candidate(_carol.User, _agency.View, true)],
            Proposal(Epoch(2, _alice, _alice, _bob, _carol), _alice, _alice, _bob, _carol), At), Given(Created()));
        return [.. Created(), .. add];
    }

    private ShareHistory Share(EpochKeyDistribution distribution, PkiUser? by = null) =>
        new(_channel, (by ?? _alice).Id, (by ?? _alice).DeviceId, _carol.Id, [distribution], (by ?? _alice).Verified, [_carol.DeviceId], At);

    [Fact]
    public void ShareHistory_EarlierEpochsKeyResealedToTheNewcomer_IsRecorded()
    {
        using var key1 = EpochKey.Generate(_channel, 1);
        var created = ChannelDecider.Decide(Create(EpochKeyDistribution.Create(key1,
            [(_alice.DeviceId, _alice.Device.Public.BoxKey), (_bob.DeviceId, _bob.Device.Public.BoxKey)], At, _alice.Id, _alice.Device)), ChannelState.Initial);
        var added = ChannelDecider.Decide(new AddMembers(_channel, _alice.Id, _alice.DeviceId, [], [new Candidate(_carol.User, _agency.View, true)],
            Proposal(Epoch(2, _alice, _alice, _bob, _carol), _alice, _alice, _bob, _carol), At), Given([.. created]));
        var reshared = EpochKeyDistribution.Create(key1, [(_carol.DeviceId, _carol.Device.Public.BoxKey)], At, _alice.Id, _alice.Device);

        var events = ChannelDecider.Decide(Share(reshared), Given([.. created, .. added]));

        var shared = Assert.IsType<Server.Channels.HistoryShared>(Assert.Single(events));
        Assert.Equal((_carol.Id, 1L), (shared.ForUserId, Assert.Single(shared.Epochs).Epoch));
    }

    [Fact]
    public void ShareHistory_NewKeyInsteadOfTheEpochsKey_ThrowsValidationKeyCommitment()
    {
        var error = Assert.Throws<ValidationException>(() => ChannelDecider.Decide(Share(Epoch(1, _alice, _carol)), Given(WithCarol())));

        Assert.Equal("epochs[0].key_commitment", error.Violations[0].Field);
    }

    [Fact]
    public void ShareHistory_WithANonMember_ThrowsWrongState()
    {
        Assert.Throws<WrongStateException>(() => ChannelDecider.Decide(Share(Epoch(1, _alice, _carol)), Given(Created())));
    }

    private MessageEnvelope Message(PkiUser sender, long epoch = 1, Guid? id = null, string text = "hello", string handling = "H1", Guid replyTo = default,
        Guid forwardOf = default, IReadOnlyList<Guid>? documentIds = null)
    {
        using var key = EpochKey.Generate(_channel, epoch);
        var header = new MessageHeader(_channel, id ?? Guid.CreateVersion7(), sender.Id, sender.DeviceId, epoch, At, "text/plain", handling, "4x4:B2",
            documentIds ?? [], Spontaneous: replyTo == Guid.Empty, ReplyToMessageId: replyTo, ForwardOfMessageId: forwardOf);
        return MessageEnvelope.Seal(header, Encoding.UTF8.GetBytes(text), key, sender.Device);
    }

    private static SendMessage Send(MessageEnvelope envelope, PkiUser caller, MessageAccepted? parent = null) =>
        new(envelope, caller.Id, caller.DeviceId, caller.Verified, parent, At);

    [Fact]
    public void Send_CurrentMemberCurrentEpoch_AcceptsTheMessage()
    {
        var envelope = Message(_alice);

        var events = MessageDecider.Decide(Send(envelope, _alice), Given(Created()), MessageState.Initial);

        var accepted = Assert.IsType<MessageAccepted>(Assert.Single(events));
        Assert.Equal(envelope.Digest(), accepted.Digest);
    }

    [Fact]
    public void Send_SameEnvelopeAgain_RecordsNothing()
    {
        var envelope = Message(_alice);
        var stored = MessageDecider.Decide(Send(envelope, _alice), Given(Created()), MessageState.Initial).Aggregate(MessageState.Initial, MessageDecider.Evolve);

        Assert.Empty(MessageDecider.Decide(Send(envelope, _alice), Given(Created()), stored));
    }

    [Fact]
    public void Send_DifferentEnvelopeSameId_ThrowsAlreadyExists()
    {
        var id = Guid.CreateVersion7();
        var stored = MessageDecider.Decide(Send(Message(_alice, id: id), _alice), Given(Created()), MessageState.Initial)
            .Aggregate(MessageState.Initial, MessageDecider.Evolve);

        Assert.Throws<AlreadyExistsException>(() => MessageDecider.Decide(Send(Message(_alice, id: id, text: "other"), _alice), Given(Created()), stored));
    }

    [Fact]
    public void Send_NonMember_ThrowsPermissionDeniedNotAMember()
    {
        var error = Assert.Throws<PermissionDeniedException>(() => MessageDecider.Decide(Send(Message(_carol), _carol), Given(Created()), MessageState.Initial));

        Assert.Contains("not a member", error.Message);
    }

    [Fact]
    public void Send_RemovedMember_ThrowsPermissionDeniedNotAMember()
    {
        var removal = ChannelDecider.Decide(new RemoveMembers(_channel, _alice.Id, _alice.DeviceId, [], [_bob.Id],
            Proposal(Epoch(2, _alice, _alice), _alice, _alice, _bob), At), Given(Created()));

        Assert.Throws<PermissionDeniedException>(() =>
            MessageDecider.Decide(Send(Message(_bob, epoch: 2), _bob), Given([.. Created(), .. removal]), MessageState.Initial));
    }

    [Fact]
    public void Send_StaleEpoch_ThrowsStaleEpochNamingTheCurrentEpoch()
    {
        var rotation = ChannelDecider.Decide(new RotateEpoch(_channel, _alice.Id, _alice.DeviceId, Proposal(Epoch(2, _alice, _alice, _bob), _alice, _alice, _bob), At),
            Given(Created()));

        var error = Assert.Throws<StaleEpochException>(() =>
            MessageDecider.Decide(Send(Message(_bob, epoch: 1), _bob), Given([.. Created(), .. rotation]), MessageState.Initial));

        Assert.Contains("current is 2", error.Message);
    }

    [Fact]
    public void Send_TamperedCiphertext_ThrowsValidationSignatureDoesNotVerify()
    {
        var envelope = Message(_alice);
        envelope.Ciphertext[0] ^= 1;

        var error = Assert.Throws<ValidationException>(() => MessageDecider.Decide(Send(envelope, _alice), Given(Created()), MessageState.Initial));

        Assert.Equal("envelope.signature", error.Violations[0].Field);
    }

    [Fact]
    public void Send_HeaderNamesAnotherSender_ThrowsPermissionDenied()
    {
        Assert.Throws<PermissionDeniedException>(() => MessageDecider.Decide(Send(Message(_alice), _bob), Given(Created()), MessageState.Initial));
    }

    private MessageAccepted Accepted(MessageEnvelope envelope) =>
        (MessageAccepted)MessageDecider.Decide(Send(envelope, _alice), Given(Created()), MessageState.Initial)[0];

    [Theory]
    [InlineData("H2", "H2")]
    [InlineData("H2", "H3:only for case 17")]
    public void Send_ReplyKeepingOrTighteningItsParentsCode_IsAccepted(string parentCode, string replyCode)
    {
        var parent = Accepted(Message(_alice, handling: parentCode));

        var events = MessageDecider.Decide(Send(Message(_bob, handling: replyCode, replyTo: parent.MessageId), _bob, parent), Given(Created()), MessageState.Initial);

        Assert.Equal(parent.MessageId, Assert.IsType<MessageAccepted>(Assert.Single(events)).Envelope.ReplyToMessageId);
    }

    [Fact]
    public void Send_ReplyLooseningItsParentsCode_ThrowsValidation()
    {
        var parent = Accepted(Message(_alice, handling: "H2"));

        var error = Assert.Throws<ValidationException>(() =>
            MessageDecider.Decide(Send(Message(_bob, handling: "H1", replyTo: parent.MessageId), _bob, parent), Given(Created()), MessageState.Initial));

        Assert.Equal("envelope.header.handling_code", error.Violations[0].Field);
    }

    [Fact]
    public void Send_ReplyToAMessageNotInTheChannel_ThrowsNotFound()
    {
        Assert.Throws<NotFoundException>(() =>
            MessageDecider.Decide(Send(Message(_bob, replyTo: Guid.CreateVersion7()), _bob), Given(Created()), MessageState.Initial));
    }

    private AttachableDocument Document(PkiUser uploader, bool isSealed = true, Guid? channel = null) =>
        new(Guid.CreateVersion7(), channel ?? _channel, uploader.Id, isSealed, "document-x", 2);

    [Fact]
    public void Send_CarryingASealedDocumentTheSenderUploadedHere_AcceptsTheMessageWithItsId()
    {
        var document = Document(_alice);

        var events = MessageDecider.Decide(Send(Message(_alice, documentIds: [document.DocumentId]), _alice) with { Documents = [document] }, Given(Created()),
            MessageState.Initial);

        Assert.Equal([document.DocumentId], Assert.IsType<MessageAccepted>(Assert.Single(events)).Envelope.DocumentIds);
    }

    [Fact]
    public void Send_CarryingAnUnsealedDocument_ThrowsWrongState()
    {
        var document = Document(_alice, isSealed: false);

        var error = Assert.Throws<WrongStateException>(() => MessageDecider.Decide(
            Send(Message(_alice, documentIds: [document.DocumentId]), _alice) with { Documents = [document] }, Given(Created()), MessageState.Initial));

        Assert.Contains("not sealed", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Send_CarryingAnotherUsersOrAnUnknownDocument_ThrowsNotFound()
    {
        var bobs = Document(_bob);

        Assert.Throws<NotFoundException>(() => MessageDecider.Decide(
            Send(Message(_alice, documentIds: [bobs.DocumentId]), _alice) with { Documents = [bobs] }, Given(Created()), MessageState.Initial));
        Assert.Throws<NotFoundException>(() => MessageDecider.Decide(
            Send(Message(_alice, documentIds: [Guid.CreateVersion7()]), _alice), Given(Created()), MessageState.Initial));
    }

    [Fact]
    public void Send_CarryingADocumentOfAnotherChannel_ThrowsWrongState()
    {
        var elsewhere = Document(_alice, channel: Guid.CreateVersion7());

        var error = Assert.Throws<WrongStateException>(() => MessageDecider.Decide(
            Send(Message(_alice, documentIds: [elsewhere.DocumentId]), _alice) with { Documents = [elsewhere] }, Given(Created()), MessageState.Initial));

        Assert.Contains("another channel", error.Message, StringComparison.Ordinal);
    }

    private SubmitReceipt Receipt(PkiUser recipient, MessageEnvelope message, MessageAccepted? stored, ReceiptKind kind = ReceiptKind.Read) =>
        new(Crypto.Receipt.Create(kind, message, At, recipient.Id, recipient.Device), recipient.Id, recipient.DeviceId, recipient.Verified, stored,
            Given(Created()), At);

    [Fact]
    public void SubmitReceipt_MemberSignedForTheStoredMessage_IsRecordedOnce()
    {
        var message = Message(_alice);
        var submit = Receipt(_bob, message, Accepted(message));

        var events = ReceiptDecider.Decide(submit, ReceiptsState.Initial);
        var again = ReceiptDecider.Decide(submit, events.Aggregate(ReceiptsState.Initial, ReceiptDecider.Evolve));

        Assert.IsType<ReceiptSubmitted>(Assert.Single(events));
        Assert.Empty(again);
    }

    [Fact]
    public void SubmitReceipt_ForAnotherVersionOfTheMessage_ThrowsValidationDigest()
    {
        var message = Message(_alice);
        var other = Message(_alice, id: message.Header.MessageId, text: "other");

        var error = Assert.Throws<ValidationException>(() => ReceiptDecider.Decide(Receipt(_bob, other, Accepted(message)), ReceiptsState.Initial));

        Assert.Equal("receipt.message_digest", error.Violations[0].Field);
    }

    [Fact]
    public void SubmitReceipt_ByNonMember_ThrowsPermissionDenied()
    {
        var message = Message(_alice);

        Assert.Throws<PermissionDeniedException>(() => ReceiptDecider.Decide(Receipt(_carol, message, Accepted(message)), ReceiptsState.Initial));
    }

    [Fact]
    public void SubmitReceipt_TamperedSignature_ThrowsValidation()
    {
        var message = Message(_alice);
        var submit = Receipt(_bob, message, Accepted(message));
        submit.Receipt.Signature[0] ^= 1;

        var error = Assert.Throws<ValidationException>(() => ReceiptDecider.Decide(submit, ReceiptsState.Initial));

        Assert.Equal("receipt.signature", error.Violations[0].Field);
    }

    /// <summary>An accepted message of another channel whose only member is <paramref name="sender"/>.</summary>
    private (MessageAccepted Message, ChannelState Channel) Elsewhere(PkiUser sender, string handling, params PkiUser[] members)
    {
        var otherChannel = Guid.CreateVersion7();
        var channel = ChannelDecider.Evolve(ChannelState.Initial, new ChannelCreated(otherChannel, sender.Id, sender.DeviceId, [1], "H0",
            [.. members.Select(m => new MemberData(m.Id, m.User.AuthorityId))], At));
        using var key = EpochKey.Generate(otherChannel, 1);
        var envelope = MessageEnvelope.Seal(new MessageHeader(otherChannel, Guid.CreateVersion7(), sender.Id, sender.DeviceId, 1, At, "text/plain", handling, "", []),
            "original"u8, key, sender.Device);
        return (new MessageAccepted(otherChannel, envelope.Header.MessageId, EnvelopeData.From(envelope), envelope.Digest(), At), channel);
    }

    [Theory]
    [InlineData("H2", false, false)]
    [InlineData("H1", false, false)]
    [InlineData("H2", true, true)]
    [InlineData("H0", false, true)]
    public void Send_Forward_H1OrH2NeedsAGrant(string code, bool granted, bool accepted)
    {
        var original = Elsewhere(_carol, code, _carol, _alice);
        var send = Send(Message(_alice, handling: code, forwardOf: original.Message.MessageId), _alice) with { Original = original, ConsentGranted = granted };

        if (accepted)
        {
            Assert.Single(MessageDecider.Decide(send, Given(Created()), MessageState.Initial));
        }
        else
        {
            Assert.Contains("consent", Assert.Throws<WrongStateException>(() => MessageDecider.Decide(send, Given(Created()), MessageState.Initial)).Message);
        }
    }

    [Fact]
    public void Send_ForwardFromAChannelTheSenderIsNotIn_ThrowsPermissionDenied()
    {
        var original = Elsewhere(_carol, "H0", _carol);
        var send = Send(Message(_alice, handling: "H0", forwardOf: original.Message.MessageId), _alice) with { Original = original };

        Assert.Throws<PermissionDeniedException>(() => MessageDecider.Decide(send, Given(Created()), MessageState.Initial));
    }

    [Fact]
    public void Send_ForwardLooseningTheOriginalsCode_ThrowsValidation()
    {
        var original = Elsewhere(_carol, "H2", _carol, _alice);
        var send = Send(Message(_alice, handling: "H0", forwardOf: original.Message.MessageId), _alice) with { Original = original, ConsentGranted = true };

        Assert.Throws<ValidationException>(() => MessageDecider.Decide(send, Given(Created()), MessageState.Initial));
    }

    private RequestConsent ConsentRequest(string code, PkiUser by)
    {
        var original = Elsewhere(_carol, code, _carol, _alice);
        return new RequestConsent(Guid.CreateVersion7(), original.Message.MessageId, original.Message, original.Channel, Given(Created()), _agency.View.AuthorityId, by.Id, "joint case", At);
    }

    [Fact]
    public void RequestConsent_MemberOfBothChannelsForH2_IsRecordedThenGrantedOnceByTheOriginatingAuthority()
    {
        var request = ConsentRequest("H2", _alice);
        var requested = ConsentDecider.Decide(request, ConsentState.Initial);
        var state = requested.Aggregate(ConsentState.Initial, ConsentDecider.Evolve);
        var grant = new DecideConsent(request.ConsentId, true, _carol.Id, _agency.View.AuthorityId, Role.Investigator, "", At);

        var granted = ConsentDecider.Decide(grant, state);
        var afterGrant = granted.Aggregate(state, ConsentDecider.Evolve);

        Assert.IsType<ConsentRequested>(Assert.Single(requested));
        Assert.IsType<ConsentGranted>(Assert.Single(granted));
        Assert.Empty(ConsentDecider.Decide(grant, afterGrant));
        Assert.Throws<WrongStateException>(() => ConsentDecider.Decide(grant with { Grant = false, Reason = "no" }, afterGrant));
    }

    [Fact]
    public void GrantConsent_ByAnotherAuthority_ThrowsPermissionDenied()
    {
        var request = ConsentRequest("H2", _alice);
        var state = ConsentDecider.Decide(request, ConsentState.Initial).Aggregate(ConsentState.Initial, ConsentDecider.Evolve);

        Assert.Throws<PermissionDeniedException>(() =>
            ConsentDecider.Decide(new DecideConsent(request.ConsentId, true, _alice.Id, _police.View.AuthorityId, Role.Investigator, "", At), state));
    }

    [Fact]
    public void RequestConsent_ForH0Content_ThrowsWrongStateNoConsentNeeded()
    {
        Assert.Throws<WrongStateException>(() => ConsentDecider.Decide(ConsentRequest("H0", _alice), ConsentState.Initial));
    }

    [Fact]
    public void RequestConsent_NotAMemberOfTheMessagesChannel_ThrowsPermissionDenied()
    {
        Assert.Throws<PermissionDeniedException>(() => ConsentDecider.Decide(ConsentRequest("H2", _bob), ConsentState.Initial));
    }

    [Fact]
    public void Send_SenderChainDoesNotVerify_ThrowsPermissionDenied()
    {
        var send = Send(Message(_alice), _alice) with { Sender = null };

        Assert.Throws<PermissionDeniedException>(() => MessageDecider.Decide(send, Given(Created()), MessageState.Initial));
    }
}

/// <summary>Handling codes and grades: the signed policy fields of a header.</summary>
public sealed class HandlingPolicyTests
{
    [Theory]
    [InlineData("H0", 0)]
    [InlineData("H1", 1)]
    [InlineData("H2", 2)]
    [InlineData("H3:only for the named case", 3)]
    public void Level_ValidCode_IsItsRestriction(string code, int level)
    {
        Assert.Equal(level, HandlingPolicy.Level(code, out _));
    }

    [Theory]
    [InlineData("")]
    [InlineData("H4")]
    [InlineData("h1")]
    [InlineData("H3")]
    [InlineData("H3:   ")]
    public void Level_InvalidCode_IsNullWithAProblem(string code)
    {
        Assert.Null(HandlingPolicy.Level(code, out var problem));
        Assert.NotNull(problem);
    }

    [Theory]
    [InlineData("H1", "H1", true)]
    [InlineData("H1", "H2", true)]
    [InlineData("H2", "H1", false)]
    [InlineData("H3:a", "H2", false)]
    [InlineData("H3:a", "H3:b", false)]
    [InlineData("H3:a", "H3:a", true)]
    public void KeepsOrTightens_ReplyCode_OnlyKeepsOrTightens(string parent, string reply, bool allowed)
    {
        Assert.Equal(allowed, HandlingPolicy.KeepsOrTightens(parent, reply));
    }

    [Theory]
    [InlineData("", true)]
    [InlineData("4x4:A1", true)]
    [InlineData("4x4:X4", true)]
    [InlineData("4x4:D1", false)]
    [InlineData("4x4:A5", false)]
    [InlineData("3x5x2:1AP", true)]
    [InlineData("3x5x2:3EC", true)]
    [InlineData("3x5x2:4AP", false)]
    [InlineData("3x5x2:1FP", false)]
    [InlineData("3x5x2:1AX", false)]
    [InlineData("3x5x2:1A", false)]
    [InlineData("B2", false)]
    [InlineData("5x5:A1", false)]
    public void Check_Grade_AcceptsOnlyValidGradesOfKnownSchemes(string grade, bool valid)
    {
        Assert.Equal(valid, Grading.Check(grade) is null);
    }
}
