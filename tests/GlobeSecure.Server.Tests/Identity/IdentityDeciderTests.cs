using GlobeSecure.Contracts.V1;
using GlobeSecure.Crypto;
using GlobeSecure.Server.Identity;
using GlobeSecure.Server.Infrastructure;

namespace GlobeSecure.Server.Tests.Identity;

/// <summary>Given(events).When(command).Then(events or error) for the network bootstrap: no database.</summary>
public sealed class NetworkDeciderTests
{
    private static readonly DateTimeOffset At = new(2026, 11, 24, 12, 0, 0, TimeSpan.Zero);
    private static readonly byte[] Code = Secrets.Hash("code");
    private static readonly byte[] Root = new byte[32];

    private static IReadOnlyList<object> When(NetworkCommand command, params object[] given) =>
        NetworkDecider.Decide(command, given.Aggregate(NetworkState.Initial, NetworkDecider.Evolve));

    private static BootstrapCodeIssued Issued(byte[] hash) => new(NetworkDecider.StreamId, hash, At.AddHours(24), At);

    private static BootstrapNetwork Bootstrap(byte[] hash, DateTimeOffset at) => new(hash, "GlobE", Root, Guid.Empty, Guid.Empty, at);

    [Fact]
    public void Bootstrap_CurrentCodeBeforeExpiry_BootstrapsTheNetwork()
    {
        var events = When(Bootstrap(Secrets.Hash("code"), At.AddHours(1)), Issued(Code));

        Assert.IsType<NetworkBootstrapped>(Assert.Single(events));
    }

    [Fact]
    public void Bootstrap_NoCodeIssued_IsUnauthenticated() =>
        Assert.Throws<UnauthenticatedException>(() => When(Bootstrap(Code, At)));

    [Fact]
    public void Bootstrap_ExpiredCode_IsUnauthenticated() =>
        Assert.Throws<UnauthenticatedException>(() => When(Bootstrap(Code, At.AddHours(24)), Issued(Code)));

    [Fact]
    public void Bootstrap_SupersededCode_IsUnauthenticated() =>
        Assert.Throws<UnauthenticatedException>(() => When(Bootstrap(Code, At), Issued(Code), Issued(Secrets.Hash("newer"))));

    [Fact]
    public void Bootstrap_UsedCode_IsUnauthenticated()
    {
        var bootstrapped = When(Bootstrap(Code, At), Issued(Code)).Single();

        Assert.Throws<UnauthenticatedException>(() => When(Bootstrap(Code, At), Issued(Code), bootstrapped));
    }

    [Fact]
    public void Bootstrap_AlreadyBootstrappedOtherCode_IsWrongState()
    {
        var bootstrapped = When(Bootstrap(Code, At), Issued(Code)).Single();

        Assert.Throws<WrongStateException>(() => When(Bootstrap(Secrets.Hash("other"), At), Issued(Code), bootstrapped));
    }

    [Fact]
    public void IssueCode_AfterBootstrap_IsWrongState()
    {
        var bootstrapped = When(Bootstrap(Code, At), Issued(Code)).Single();

        Assert.Throws<WrongStateException>(() => When(new IssueBootstrapCode(Code, At.AddHours(24), At), Issued(Code), bootstrapped));
    }
}

/// <summary>Given/When/Then for users, enrolment codes and devices: no database.</summary>
public sealed class UserDeciderTests
{
    private static readonly DateTimeOffset At = new(2026, 11, 24, 12, 0, 0, TimeSpan.Zero);
    private static readonly Guid UserId = Guid.CreateVersion7();
    private static readonly Guid AuthorityId = Guid.CreateVersion7();
    private static readonly Guid AdminId = Guid.CreateVersion7();
    private static readonly byte[] Code = Secrets.Hash("enrolment-code");

    private static readonly DeviceKeys Device = DeviceKeys.Generate(Guid.CreateVersion7());
    private static readonly DeviceKeysData Keys = new(Device.DeviceId, Device.Public.SigningKey.ToArray(), Device.Public.BoxKey.ToArray(), Device.Public.BoxKeySignature);

    private static UserState Given(params object[] events) => events.Aggregate(UserState.Initial, UserDecider.Evolve);

    private static IReadOnlyList<object> When(UserCommand command, params object[] given) => UserDecider.Decide(command, Given(given));

    private static UserInvited Invited => new(UserId, AuthorityId, "Investigator", Role.Investigator, AdminId, At);

    private static EnrolmentCodeIssued CodeIssued(byte[] hash, DateTimeOffset? expires = null) => new(UserId, hash, expires ?? At.AddHours(72), At);

    private static DeviceEnrolled Enrolled => new(UserId, Device.DeviceId, AuthorityId, Role.Investigator, Keys, "laptop", Code, At);

    private static CertificateData Certificate(Role role = Role.Investigator, byte[]? signingKey = null) => new(Guid.CreateVersion7(), Device.DeviceId, UserId,
        AuthorityId, role, signingKey ?? Keys.SigningKey, Keys.BoxKey, At, At.AddDays(365), Guid.CreateVersion7(), new byte[32], new byte[64]);

    private static RevocationData RevocationOf(CertificateData certificate) =>
        new(Guid.CreateVersion7(), certificate.CertificateId, certificate.DeviceId, At, "lost", Guid.CreateVersion7(), new byte[32], new byte[64]);

    [Fact]
    public void Invite_NewUser_InvitesAndIssuesACode()
    {
        var events = When(new InviteUser(UserId, AuthorityId, "Investigator", Role.Investigator, AdminId, Code, At.AddHours(72), At));

        Assert.Equal(Invited, events[0]);
        Assert.Equal(At.AddHours(72), Assert.IsType<EnrolmentCodeIssued>(events[1]).ExpiresAt);
        Assert.Equal(UserStatus.Invited, Given([.. events]).Status);
    }

    [Fact]
    public void Invite_ExistingUserWithAnotherRole_IsAlreadyExists() =>
        Assert.Throws<AlreadyExistsException>(() => When(new InviteUser(UserId, AuthorityId, "Again", Role.Auditor, AdminId, Code, At, At), Invited));

    [Fact]
    public void Invite_ActiveUserAgain_IssuesACodeForAnotherDevice()
    {
        var newer = Secrets.Hash("second-device");

        var events = When(new InviteUser(UserId, AuthorityId, "Investigator", Role.Investigator, AdminId, newer, At.AddHours(72), At),
            Invited, CodeIssued(Code), Enrolled);

        Assert.Same(newer, Assert.IsType<EnrolmentCodeIssued>(Assert.Single(events)).CodeHash);
        var second = Keys with { DeviceId = Guid.CreateVersion7() };
        Assert.IsType<DeviceEnrolled>(Assert.Single(When(new EnrolDevice(UserId, newer, second, "phone", At), Invited, CodeIssued(Code), Enrolled, events[0])));
    }

    [Fact]
    public void Invite_RevokedUserAgain_IsAlreadyExists() =>
        Assert.Throws<AlreadyExistsException>(() => When(new InviteUser(UserId, AuthorityId, "Again", Role.Investigator, AdminId, Code, At, At),
            Invited, new UserRevoked(UserId, AdminId, "left", At)));

    [Fact]
    public void Enrol_ValidCode_DeviceIsPendingAndUserActive()
    {
        var events = When(new EnrolDevice(UserId, Code, Keys, "laptop", At.AddHours(1)), Invited, CodeIssued(Code));

        var state = Given([Invited, CodeIssued(Code), .. events]);
        Assert.Equal(DeviceStatus.Pending, state.Devices[Device.DeviceId].Status);
        Assert.Equal(UserStatus.Active, state.Status);
        Assert.True(state.CodeUsed);
    }

    [Fact]
    public void Enrol_CodeUsedAlready_IsUnauthenticated() =>
        Assert.Throws<UnauthenticatedException>(() =>
            When(new EnrolDevice(UserId, Code, Keys with { DeviceId = Guid.CreateVersion7() }, "", At), Invited, CodeIssued(Code), Enrolled));

    [Fact]
    public void Enrol_CodeExpired_IsUnauthenticated() =>
        Assert.Throws<UnauthenticatedException>(() => When(new EnrolDevice(UserId, Code, Keys, "", At.AddHours(72)), Invited, CodeIssued(Code)));

    [Fact]
    public void Enrol_CodeSupersededByANewOne_IsUnauthenticated() =>
        Assert.Throws<UnauthenticatedException>(() =>
            When(new EnrolDevice(UserId, Code, Keys, "", At), Invited, CodeIssued(Code), CodeIssued(Secrets.Hash("newer"))));

    [Fact]
    public void Enrol_RevokedUser_IsUnauthenticated() =>
        Assert.Throws<UnauthenticatedException>(() =>
            When(new EnrolDevice(UserId, Code, Keys, "", At), Invited, CodeIssued(Code), new UserRevoked(UserId, AdminId, "left", At)));

    [Fact]
    public void IssueAdministratorCode_InvitedAdministrator_SupersedesTheCode()
    {
        var invitedAdmin = Invited with { Role = Role.AuthorityAdministrator, InvitedBy = null };
        var newer = Secrets.Hash("newer");

        var events = When(new IssueAdministratorCode(UserId, AuthorityId, "Admin", newer, At.AddHours(72), At), invitedAdmin, CodeIssued(Code));

        Assert.Same(newer, Assert.IsType<EnrolmentCodeIssued>(Assert.Single(events)).CodeHash);
    }

    [Fact]
    public void Certify_PendingDeviceMatchingCertificate_CertifiesIt()
    {
        var certificate = Certificate();

        var events = When(new CertifyDevice(UserId, Device.DeviceId, certificate, AdminId, At), Invited, CodeIssued(Code), Enrolled);

        Assert.Equal(new DeviceCertified(UserId, Device.DeviceId, certificate, AdminId, At), Assert.Single(events));
    }

    [Fact]
    public void Certify_CertificateForAnotherKey_IsInvalidArgument()
    {
        var error = Assert.Throws<ValidationException>(() =>
            When(new CertifyDevice(UserId, Device.DeviceId, Certificate(signingKey: new byte[32]), AdminId, At), Invited, CodeIssued(Code), Enrolled));

        Assert.Contains(error.Violations, v => v.Field == "certificate.signing_key");
    }

    [Fact]
    public void Certify_CertificateWithAnotherRole_IsInvalidArgument()
    {
        var error = Assert.Throws<ValidationException>(() =>
            When(new CertifyDevice(UserId, Device.DeviceId, Certificate(Role.AuthorityAdministrator), AdminId, At), Invited, CodeIssued(Code), Enrolled));

        Assert.Contains(error.Violations, v => v.Field == "certificate.role");
    }

    [Fact]
    public void Certify_AlreadyCertified_IsWrongState()
    {
        var certified = new DeviceCertified(UserId, Device.DeviceId, Certificate(), AdminId, At);

        Assert.Throws<WrongStateException>(() => When(new CertifyDevice(UserId, Device.DeviceId, Certificate(), AdminId, At), Invited, CodeIssued(Code), Enrolled, certified));
    }

    [Fact]
    public void Certify_UnknownDevice_IsNotFound() =>
        Assert.Throws<NotFoundException>(() => When(new CertifyDevice(UserId, Guid.CreateVersion7(), Certificate(), AdminId, At), Invited, CodeIssued(Code)));

    [Fact]
    public void Revoke_CertifiedDevice_IsRevoked()
    {
        var certificate = Certificate();
        var revocation = RevocationOf(certificate);

        var events = When(new RevokeDevice(UserId, Device.DeviceId, revocation, AdminId, At), Invited, CodeIssued(Code), Enrolled,
            new DeviceCertified(UserId, Device.DeviceId, certificate, AdminId, At));

        Assert.Equal(new DeviceRevoked(UserId, Device.DeviceId, revocation, AdminId, At), Assert.Single(events));
    }

    [Fact]
    public void Revoke_RevocationOfAnotherCertificate_IsInvalidArgument()
    {
        var certificate = Certificate();

        Assert.Throws<ValidationException>(() => When(new RevokeDevice(UserId, Device.DeviceId, RevocationOf(Certificate()), AdminId, At),
            Invited, CodeIssued(Code), Enrolled, new DeviceCertified(UserId, Device.DeviceId, certificate, AdminId, At)));
    }

    [Fact]
    public void Revoke_AlreadyRevoked_IsWrongState()
    {
        var certificate = Certificate();
        var revocation = RevocationOf(certificate);

        Assert.Throws<WrongStateException>(() => When(new RevokeDevice(UserId, Device.DeviceId, revocation, AdminId, At), Invited, CodeIssued(Code), Enrolled,
            new DeviceCertified(UserId, Device.DeviceId, certificate, AdminId, At), new DeviceRevoked(UserId, Device.DeviceId, revocation, AdminId, At)));
    }

    [Fact]
    public void RevokeUser_WithEveryRevocation_RevokesDevicesThenTheUser()
    {
        var certificate = Certificate();
        var revocation = RevocationOf(certificate);

        var events = When(new RevokeUser(UserId, "left", [revocation], AdminId, At), Invited, CodeIssued(Code), Enrolled,
            new DeviceCertified(UserId, Device.DeviceId, certificate, AdminId, At));

        Assert.Equal([new DeviceRevoked(UserId, Device.DeviceId, revocation, AdminId, At), new UserRevoked(UserId, AdminId, "left", At)], events);
    }

    [Fact]
    public void RevokeUser_MissingARevocation_IsInvalidArgument()
    {
        var error = Assert.Throws<ValidationException>(() => When(new RevokeUser(UserId, "left", [], AdminId, At), Invited, CodeIssued(Code), Enrolled,
            new DeviceCertified(UserId, Device.DeviceId, Certificate(), AdminId, At)));

        Assert.Equal("revocations", Assert.Single(error.Violations).Field);
    }

    [Fact]
    public void RevokeUser_PendingDevice_IsRevokedWithoutASignature()
    {
        var events = When(new RevokeUser(UserId, "left", [], AdminId, At), Invited, CodeIssued(Code), Enrolled);

        Assert.Equal([new DeviceRevoked(UserId, Device.DeviceId, null, AdminId, At), new UserRevoked(UserId, AdminId, "left", At)], events);
    }

    [Fact]
    public void InvitationRules_ObserverOrganisation_AllowsOnlyObserversAndAdministrators() =>
        Assert.Equal([Role.AuthorityAdministrator, Role.Observer], InvitationRules.RolesIn(AuthorityKind.ObserverOrganisation));

    [Fact]
    public void InvitationRules_MemberAuthority_NeverObserversOrNetworkAdministrators()
    {
        var roles = InvitationRules.RolesIn(AuthorityKind.Police);

        Assert.DoesNotContain(Role.Observer, roles);
        Assert.DoesNotContain(Role.NetworkAdministrator, roles);
    }
}

/// <summary>Given/When/Then for challenges, sessions and the failure limit: no database.</summary>
public sealed class AuthDeciderTests
{
    private static readonly DateTimeOffset At = new(2026, 11, 24, 12, 0, 0, TimeSpan.Zero);
    private static readonly DeviceKeys Device = DeviceKeys.Generate(Guid.CreateVersion7());
    private static readonly Guid ChallengeId = Guid.CreateVersion7();
    private static readonly byte[] Nonce = AuthChallenge.NewChallenge();
    private static readonly Guid UserId = Guid.CreateVersion7();

    private static ChallengeIssued Issued => new(ChallengeId, Device.DeviceId, Nonce, "GlobE", At, At.AddMinutes(2));

    private static DeviceStanding Standing => new(Device.DeviceId, UserId, Device.Public.SigningKey.ToArray(), true, true, true);

    private static byte[] Signature => AuthChallenge.Sign(Device, Nonce, "GlobE", At);

    private static IReadOnlyList<object> When(AuthCommand command, params object[] given) =>
        AuthDecider.Decide(command, given.Aggregate(AuthState.Initial, AuthDecider.Evolve));

    private static AnswerChallenge Answer(DeviceStanding? standing = null, byte[]? signature = null, DateTimeOffset? at = null) =>
        new(ChallengeId, Device.DeviceId, signature ?? Signature, standing ?? Standing, new byte[32], At.AddMinutes(15), at ?? At.AddSeconds(5));

    private static string Refusal(AnswerChallenge answer, params object[] given) =>
        Assert.Throws<AuthenticationRefusedException>(() => When(answer, given)).Message;

    [Fact]
    public void Answer_ValidSignatureByCertifiedDevice_StartsASession()
    {
        var started = Assert.IsType<SessionStarted>(Assert.Single(When(Answer(), Issued)));

        Assert.Equal(UserId, started.UserId);
        Assert.Equal(At.AddMinutes(15), started.ExpiresAt);
    }

    [Fact]
    public void Answer_ChallengeUsedAlready_IsRefused()
    {
        var started = When(Answer(), Issued).Single();

        Assert.Equal("challenge already used", Refusal(Answer(), Issued, started));
    }

    [Fact]
    public void Answer_AfterTwoMinutes_IsRefused() => Assert.Equal("challenge expired", Refusal(Answer(at: At.AddMinutes(2)), Issued));

    [Fact]
    public void Answer_UnknownChallenge_IsRefused() => Assert.Equal("unknown challenge", Refusal(Answer()));

    [Fact]
    public void Answer_BadSignature_IsRefused()
    {
        using var other = DeviceKeys.Generate(Device.DeviceId);

        Assert.Equal("bad signature", Refusal(Answer(signature: AuthChallenge.Sign(other, Nonce, "GlobE", At)), Issued));
    }

    [Fact]
    public void Answer_RevokedDevice_IsRefused() =>
        Assert.Equal("device unknown, not certified or revoked", Refusal(Answer(Standing with { DeviceCertified = false }), Issued));

    [Fact]
    public void Answer_SuspendedAuthority_IsRefused() =>
        Assert.Equal("user or authority not active", Refusal(Answer(Standing with { AuthorityActive = false }), Issued));

    [Fact]
    public void EndSession_Twice_SecondChangesNothing()
    {
        var started = When(Answer(), Issued).Single();
        var ended = When(new EndSession(ChallengeId, At), Issued, started).Single();

        Assert.Empty(When(new EndSession(ChallengeId, At), Issued, started, ended));
    }

    [Fact]
    public void FailureLimit_FourRecentFailures_Allows() =>
        FailureLimit.Check(Failures(4, "10.0.0.1"), Device.DeviceId, "10.0.0.1", 5, TimeSpan.FromMinutes(5), At);

    [Fact]
    public void FailureLimit_FiveRecentFailuresOfTheDeviceFromAnotherAddress_Allows() =>
        FailureLimit.Check(Failures(5, "10.0.0.9"), Device.DeviceId, "10.0.0.1", 5, TimeSpan.FromMinutes(5), At);

    [Fact]
    public void FailureLimit_FiveRecentFailuresOfTheDeviceFromThisAddress_IsLimitExceeded() =>
        Assert.Throws<LimitExceededException>(() => FailureLimit.Check(Failures(5, "10.0.0.1"), Device.DeviceId, "10.0.0.1", 5, TimeSpan.FromMinutes(5), At));

    [Fact]
    public void FailureLimit_FiveRecentFailuresFromTheAddress_IsLimitExceeded() =>
        Assert.Throws<LimitExceededException>(() =>
            FailureLimit.Check([.. Failures(5, "10.0.0.1").Select(f => f with { DeviceId = Guid.CreateVersion7() })], Device.DeviceId, "10.0.0.1", 5,
                TimeSpan.FromMinutes(5), At));

    [Fact]
    public void FailureLimit_FailuresOlderThanTheWindow_Allows() =>
        FailureLimit.Check(Failures(5, "10.0.0.1", At.AddMinutes(-5)), Device.DeviceId, "10.0.0.1", 5, TimeSpan.FromMinutes(5), At);

    private static IReadOnlyList<AuthenticationFailed> Failures(int count, string peer, DateTimeOffset? at = null) =>
        [.. Enumerable.Range(0, count).Select(_ => new AuthenticationFailed(Device.DeviceId, peer, "bad signature", at ?? At.AddMinutes(-1)))];
}

/// <summary>The rule every call's session is held to: revocation and suspension end sessions at once. No database.</summary>
public sealed class SessionRuleTests
{
    private static readonly DateTimeOffset At = new(2026, 11, 24, 12, 0, 0, TimeSpan.Zero);

    private static SessionRow Session => new(Guid.CreateVersion7(), Guid.CreateVersion7(), At.AddMinutes(15), DeviceStatus.Certified, Guid.CreateVersion7(),
        UserStatus.Active, Role.Investigator, "Investigator", Guid.CreateVersion7());

    [Fact]
    public void Session_CertifiedDeviceActiveUser_Admitted() => Assert.True(SessionResolver.Admits(Session, At));

    [Fact]
    public void Session_DeviceRevoked_EndsAtOnce() =>
        Assert.False(SessionResolver.Admits(Session with { DeviceStatus = DeviceStatus.Revoked }, At));

    [Fact]
    public void Session_UserRevoked_EndsAtOnce() =>
        Assert.False(SessionResolver.Admits(Session with { UserStatus = UserStatus.Revoked }, At));

    [Fact]
    public void Session_Ended_IsNotAdmitted() => Assert.False(SessionResolver.Admits(Session with { Ended = true }, At));

    [Fact]
    public void Session_After15Minutes_Ends() => Assert.False(SessionResolver.Admits(Session, At.AddMinutes(15)));
}
