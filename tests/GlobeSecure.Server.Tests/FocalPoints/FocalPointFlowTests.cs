using GlobeSecure.Contracts.V1;
using GlobeSecure.EventStore;
using GlobeSecure.Server.FocalPoints;
using GlobeSecure.Server.Tests.Channels;
using GlobeSecure.Server.Tests.Identity;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;

namespace GlobeSecure.Server.Tests.FocalPoints;

/// <summary>The directory of competent authorities and focal points through a real gRPC channel to a real server on real PostgreSQL.</summary>
public sealed class FocalPointFlowTests(ChannelFixture server) : IClassFixture<ChannelFixture>, IDisposable
{
    private const string Service = "/globesecure.v1.FocalPointService/";
    private readonly NetworkDriver _driver = new(server);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private Contracts.V1.FocalPointService.FocalPointServiceClient Client => new(_driver.Channel);

    private PostgresEventStore Store => server.Services.GetRequiredService<PostgresEventStore>();

    public void Dispose() => _driver.Dispose();

    /// <summary>A Kenyan central authority for MLA under a fresh id.</summary>
    internal static ContactEntry CentralAuthority(Guid? authorityId = null, string country = "KE") => new()
    {
        ContactId = Guid.CreateVersion7().ToString(),
        Kind = FocalPointKind.CentralAuthority,
        Country = country,
        Name = "International Cooperation Unit",
        Organisation = "Office of the Attorney General",
        AuthorityId = authorityId?.ToString() ?? "",
        Email = "mla@example.org",
        Phone = "+254 20 000 0000",
        Requirements = new PracticalRequirements { Languages = { "en", "sw" }, ElectronicRequests = ElectronicRequests.Accepted, Notes = "Originals follow by courier." },
    };

    private async Task<IReadOnlyList<StoredAuditEntry>> AuditAsync() => await Store.ReadAuditAsync(0, 100_000, Ct);

    private static List<string> Violations(RpcException error) =>
        [.. error.GetRpcStatus()!.GetDetail<Google.Rpc.BadRequest>().FieldViolations.Select(f => f.Field)];

    [Fact]
    public async Task AddContact_ByNetworkAdministrator_InvestigatorFindsItByCountryAndKindWithTheMemberAuthoritiesAndItIsAudited()
    {
        var w = await server.WorldAsync(_driver);
        var central = CentralAuthority(w.CommissionAdmin.AuthorityId);
        var recovery = CentralAuthority();
        recovery.Kind = FocalPointKind.AssetRecovery;
        recovery.Name = "Asset Recovery Agency";
        var admin = w.Network.Administrator.Headers;

        var added = await Client.AddContactAsync(new AddContactRequest { Contact = central }, admin, cancellationToken: Ct);
        await Client.AddContactAsync(new AddContactRequest { Contact = recovery }, admin, cancellationToken: Ct);
        var kenya = Assert.Single((await Client.ListFocalPointsAsync(new ListFocalPointsRequest { Country = "KE" }, w.Alice.Headers, cancellationToken: Ct)).Countries);
        var centralOnly = await Client.ListFocalPointsAsync(new ListFocalPointsRequest { Country = "KE", Kind = FocalPointKind.CentralAuthority }, w.Carol.Headers,
            cancellationToken: Ct);
        var everywhere = await Client.ListFocalPointsAsync(new ListFocalPointsRequest(), w.Carol.Headers, cancellationToken: Ct);

        Assert.Equal(w.Network.Administrator.UserId.ToString(), added.UpdatedBy);
        Assert.NotNull(added.UpdatedAt);
        Assert.Equal(["en", "sw"], added.Requirements.Languages);
        Assert.Equal("KE", kenya.Country);
        var commission = Assert.Single(kenya.Authorities);
        Assert.Equal((w.CommissionAdmin.AuthorityId.ToString(), "Anti-Corruption Commission", "focal@example.org"),
            (commission.AuthorityId, commission.Name, commission.FocalPoint.Email));
        Assert.Contains(added, kenya.Contacts);
        Assert.Contains(kenya.Contacts, c => c.ContactId == recovery.ContactId && c.Kind == FocalPointKind.AssetRecovery);
        var onlyKenya = Assert.Single(centralOnly.Countries);
        Assert.Empty(onlyKenya.Authorities);
        Assert.All(onlyKenya.Contacts, c => Assert.Equal(FocalPointKind.CentralAuthority, c.Kind));
        Assert.Contains(onlyKenya.Contacts, c => c.ContactId == central.ContactId);
        Assert.Equal(["KE", "UG"], everywhere.Countries.Select(c => c.Country));
        Assert.Equal(w.PoliceAdmin.AuthorityId.ToString(), Assert.Single(everywhere.Countries[1].Authorities).AuthorityId);
        var audit = await AuditAsync();
        Assert.Contains(audit, e => e.Entry.Action == Service + "AddContact" && e.Entry.Outcome == AuditOutcome.Allowed && e.Entry.Target == central.ContactId);
        Assert.Contains(audit, e => e.Entry.Action == Service + "ListFocalPoints" && e.Entry.Outcome == AuditOutcome.Allowed && e.Entry.Target == "KE"
            && e.Entry.ActorUserId == w.Alice.UserId);
    }

    [Fact]
    public async Task AddContact_SameEntryTwice_ReturnsItOnceStoredOtherContentIsAlreadyExists()
    {
        var w = await server.WorldAsync(_driver);
        var entry = CentralAuthority();
        var admin = w.Network.Administrator.Headers;

        var first = await Client.AddContactAsync(new AddContactRequest { Contact = entry }, admin, cancellationToken: Ct);
        var again = await Client.AddContactAsync(new AddContactRequest { Contact = entry }, w.SecondAdmin.Headers, cancellationToken: Ct);
        var changed = entry.Clone();
        changed.Name = "Another unit";
        var conflict = await Assert.ThrowsAsync<RpcException>(() =>
            Client.AddContactAsync(new AddContactRequest { Contact = changed }, admin, cancellationToken: Ct).ResponseAsync);

        Assert.Equal(first, again);
        Assert.Equal(StatusCode.AlreadyExists, conflict.StatusCode);
        Assert.Equal(1, await Store.StreamVersionAsync(ContactDecider.StreamId(Guid.Parse(entry.ContactId)), Ct));
    }

    [Fact]
    public async Task UpdateThenRemove_ByNetworkAdministrator_DirectoryShowsTheChangeThenNoLongerTheEntry()
    {
        var w = await server.WorldAsync(_driver);
        var entry = CentralAuthority();
        var admin = w.Network.Administrator.Headers;
        await Client.AddContactAsync(new AddContactRequest { Contact = entry }, admin, cancellationToken: Ct);
        var changed = entry.Clone();
        changed.Requirements.Languages.Add("fr");
        changed.Requirements.ElectronicRequests = ElectronicRequests.NotAccepted;
        changed.Phone = "";

        var updated = await Client.UpdateContactAsync(new UpdateContactRequest { Contact = changed }, w.SecondAdmin.Headers, cancellationToken: Ct);
        var read = await Client.GetContactAsync(new GetContactRequest { ContactId = entry.ContactId }, w.Carol.Headers, cancellationToken: Ct);
        await Client.RemoveContactAsync(new RemoveContactRequest { ContactId = entry.ContactId }, admin, cancellationToken: Ct);
        await Client.RemoveContactAsync(new RemoveContactRequest { ContactId = entry.ContactId }, admin, cancellationToken: Ct);
        var gone = await Assert.ThrowsAsync<RpcException>(() =>
            Client.GetContactAsync(new GetContactRequest { ContactId = entry.ContactId }, w.Carol.Headers, cancellationToken: Ct).ResponseAsync);
        var listed = await Client.ListFocalPointsAsync(new ListFocalPointsRequest { Country = "KE" }, w.Alice.Headers, cancellationToken: Ct);
        var updateRemoved = await Assert.ThrowsAsync<RpcException>(() =>
            Client.UpdateContactAsync(new UpdateContactRequest { Contact = entry }, admin, cancellationToken: Ct).ResponseAsync);
        var reuse = await Assert.ThrowsAsync<RpcException>(() =>
            Client.AddContactAsync(new AddContactRequest { Contact = entry }, admin, cancellationToken: Ct).ResponseAsync);

        Assert.Equal(["en", "sw", "fr"], updated.Requirements.Languages);
        Assert.Equal(ElectronicRequests.NotAccepted, updated.Requirements.ElectronicRequests);
        Assert.Equal("", updated.Phone);
        Assert.Equal(w.SecondAdmin.UserId.ToString(), updated.UpdatedBy);
        Assert.Equal(updated, read);
        Assert.Equal(StatusCode.NotFound, gone.StatusCode);
        Assert.DoesNotContain(listed.Countries.SelectMany(c => c.Contacts), c => c.ContactId == entry.ContactId);
        Assert.Equal(StatusCode.NotFound, updateRemoved.StatusCode);
        Assert.Equal(StatusCode.AlreadyExists, reuse.StatusCode);
        Assert.Equal(3, await Store.StreamVersionAsync(ContactDecider.StreamId(Guid.Parse(entry.ContactId)), Ct));
    }

    [Fact]
    public async Task AddContact_ByInvestigatorOrAuthorityAdministrator_IsPermissionDeniedAuditedAndStoresNothing()
    {
        var w = await server.WorldAsync(_driver);
        var entry = CentralAuthority();

        var investigator = await Assert.ThrowsAsync<RpcException>(() =>
            Client.AddContactAsync(new AddContactRequest { Contact = entry }, w.Alice.Headers, cancellationToken: Ct).ResponseAsync);
        var authorityAdmin = await Assert.ThrowsAsync<RpcException>(() =>
            Client.AddContactAsync(new AddContactRequest { Contact = entry }, w.CommissionAdmin.Headers, cancellationToken: Ct).ResponseAsync);
        var remove = await Assert.ThrowsAsync<RpcException>(() =>
            Client.RemoveContactAsync(new RemoveContactRequest { ContactId = entry.ContactId }, w.Alice.Headers, cancellationToken: Ct).ResponseAsync);

        Assert.Equal(StatusCode.PermissionDenied, investigator.StatusCode);
        Assert.Equal(StatusCode.PermissionDenied, authorityAdmin.StatusCode);
        Assert.Equal(StatusCode.PermissionDenied, remove.StatusCode);
        var audit = await AuditAsync();
        Assert.Contains(audit, e => e.Entry.Action == Service + "AddContact" && e.Entry.Outcome == AuditOutcome.Denied && e.Entry.Target == entry.ContactId
            && e.Entry.ActorUserId == w.Alice.UserId);
        Assert.Equal(0, await Store.StreamVersionAsync(ContactDecider.StreamId(Guid.Parse(entry.ContactId)), Ct));
    }

    [Fact]
    public async Task AddContact_InvalidEntry_ReturnsEveryFieldViolationAndStoresNothing()
    {
        var w = await server.WorldAsync(_driver);
        var entry = CentralAuthority();
        entry.Kind = FocalPointKind.Unspecified;
        entry.Country = "Kenya";
        entry.Name = " ";
        entry.Email = "not an address";
        entry.Phone = new string('1', 51);
        entry.AuthorityId = "not-a-uuid";
        entry.Requirements.Languages.Add("english");
        entry.Requirements.Languages.Add("en");
        entry.Requirements.ElectronicRequests = (ElectronicRequests)7;
        entry.Requirements.Notes = new string('x', 2001);

        var error = await Assert.ThrowsAsync<RpcException>(() =>
            Client.AddContactAsync(new AddContactRequest { Contact = entry }, w.Network.Administrator.Headers, cancellationToken: Ct).ResponseAsync);

        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.Equal(
            ["contact.kind", "contact.country", "contact.name", "contact.authority_id", "contact.email", "contact.phone", "contact.requirements.languages[2]",
                "contact.requirements.languages[3]", "contact.requirements.electronic_requests", "contact.requirements.notes"],
            Violations(error));
        Assert.Equal(0, await Store.StreamVersionAsync(ContactDecider.StreamId(Guid.Parse(entry.ContactId)), Ct));
    }

    [Fact]
    public async Task AddContact_LinkedAuthorityOfAnotherCountry_IsInvalidOnAuthorityIdAndStoresNothing()
    {
        var w = await server.WorldAsync(_driver);
        var entry = CentralAuthority(w.PoliceAdmin.AuthorityId, country: "KE");
        var unknown = CentralAuthority(Guid.CreateVersion7());

        var error = await Assert.ThrowsAsync<RpcException>(() =>
            Client.AddContactAsync(new AddContactRequest { Contact = entry }, w.Network.Administrator.Headers, cancellationToken: Ct).ResponseAsync);
        var missing = await Assert.ThrowsAsync<RpcException>(() =>
            Client.AddContactAsync(new AddContactRequest { Contact = unknown }, w.Network.Administrator.Headers, cancellationToken: Ct).ResponseAsync);

        Assert.Equal(["contact.authority_id"], Violations(error));
        Assert.Contains("UG", error.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(["contact.authority_id"], Violations(missing));
        Assert.Equal(0, await Store.StreamVersionAsync(ContactDecider.StreamId(Guid.Parse(entry.ContactId)), Ct));
    }

    [Fact]
    public async Task SetAuthorityRequirements_ByOwnAdministrator_IsShownWithTheAuthorityInTheDirectory()
    {
        var w = await server.WorldAsync(_driver);
        var requirements = new PracticalRequirements { Languages = { "en", "fr" }, ElectronicRequests = ElectronicRequests.Accepted, Notes = "Sign every page." };

        var entry = await Client.SetAuthorityRequirementsAsync(new SetAuthorityRequirementsRequest
        {
            AuthorityId = w.PoliceAdmin.AuthorityId.ToString(),
            Requirements = requirements,
        }, w.PoliceAdmin.Headers, cancellationToken: Ct);
        var uganda = Assert.Single((await Client.ListFocalPointsAsync(new ListFocalPointsRequest { Country = "UG" }, w.Alice.Headers, cancellationToken: Ct)).Countries);

        Assert.Equal(requirements, entry.Requirements);
        Assert.Equal(w.PoliceAdmin.UserId.ToString(), entry.RequirementsUpdatedBy);
        Assert.Equal(entry, Assert.Single(uganda.Authorities));
        Assert.Contains(await AuditAsync(), e => e.Entry.Action == Service + "SetAuthorityRequirements" && e.Entry.Outcome == AuditOutcome.Allowed
            && e.Entry.Target == w.PoliceAdmin.AuthorityId.ToString());
    }

    [Fact]
    public async Task SetAuthorityRequirements_ForAnotherAuthority_AuthorityAdministratorIsDeniedNetworkAdministratorMay()
    {
        var w = await server.WorldAsync(_driver);
        var request = new SetAuthorityRequirementsRequest
        {
            AuthorityId = w.CommissionAdmin.AuthorityId.ToString(),
            Requirements = new PracticalRequirements { Languages = { "sw" }, Notes = $"Set by the secretariat {Guid.CreateVersion7()}" },
        };
        var stream = RequirementsDecider.StreamId(w.CommissionAdmin.AuthorityId);
        var before = await Store.StreamVersionAsync(stream, Ct);

        var other = await Assert.ThrowsAsync<RpcException>(() => Client.SetAuthorityRequirementsAsync(request, w.PoliceAdmin.Headers, cancellationToken: Ct).ResponseAsync);
        var investigator = await Assert.ThrowsAsync<RpcException>(() => Client.SetAuthorityRequirementsAsync(request, w.Alice.Headers, cancellationToken: Ct).ResponseAsync);
        var afterDenials = await Store.StreamVersionAsync(stream, Ct);
        var bySecretariat = await Client.SetAuthorityRequirementsAsync(request, w.Network.Administrator.Headers, cancellationToken: Ct);

        Assert.Equal(StatusCode.PermissionDenied, other.StatusCode);
        Assert.Contains("its own authority", other.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(StatusCode.PermissionDenied, investigator.StatusCode);
        Assert.Equal(before, afterDenials);
        Assert.Contains(await AuditAsync(), e => e.Entry.Action == Service + "SetAuthorityRequirements" && e.Entry.Outcome == AuditOutcome.Denied
            && e.Entry.ActorUserId == w.PoliceAdmin.UserId && e.Entry.Target == w.CommissionAdmin.AuthorityId.ToString());
        Assert.Equal(request.Requirements, bySecretariat.Requirements);
        Assert.Equal(before + 1, await Store.StreamVersionAsync(stream, Ct));
    }

    [Fact]
    public async Task SetAuthorityRequirements_ForTheSecretariatOrUnknownAuthority_IsRefused()
    {
        var w = await server.WorldAsync(_driver);
        var admin = w.Network.Administrator.Headers;

        var secretariat = await Assert.ThrowsAsync<RpcException>(() => Client.SetAuthorityRequirementsAsync(new SetAuthorityRequirementsRequest
        {
            AuthorityId = w.Network.SecretariatId.ToString(),
        }, admin, cancellationToken: Ct).ResponseAsync);
        var unknown = await Assert.ThrowsAsync<RpcException>(() => Client.SetAuthorityRequirementsAsync(new SetAuthorityRequirementsRequest
        {
            AuthorityId = Guid.CreateVersion7().ToString(),
        }, admin, cancellationToken: Ct).ResponseAsync);
        var invalid = await Assert.ThrowsAsync<RpcException>(() => Client.SetAuthorityRequirementsAsync(new SetAuthorityRequirementsRequest
        {
            AuthorityId = "",
            Requirements = new PracticalRequirements { Languages = { "EN" } },
        }, admin, cancellationToken: Ct).ResponseAsync);

        Assert.Equal(StatusCode.FailedPrecondition, secretariat.StatusCode);
        Assert.Equal(StatusCode.NotFound, unknown.StatusCode);
        Assert.Equal(["authority_id", "requirements.languages[0]"], Violations(invalid));
        Assert.Equal(0, await Store.StreamVersionAsync(RequirementsDecider.StreamId(w.Network.SecretariatId), Ct));
    }

    [Fact]
    public async Task ListFocalPoints_InvalidFilters_AreInvalidArgumentAndAnonymousIsUnauthenticated()
    {
        var w = await server.WorldAsync(_driver);

        var invalid = await Assert.ThrowsAsync<RpcException>(() => Client.ListFocalPointsAsync(new ListFocalPointsRequest
        {
            Country = "ke",
            Kind = (FocalPointKind)42,
        }, w.Alice.Headers, cancellationToken: Ct).ResponseAsync);
        var anonymous = await Assert.ThrowsAsync<RpcException>(() => Client.ListFocalPointsAsync(new ListFocalPointsRequest(), cancellationToken: Ct).ResponseAsync);

        Assert.Equal(["country", "kind"], Violations(invalid));
        Assert.Equal(StatusCode.Unauthenticated, anonymous.StatusCode);
        Assert.Contains(await AuditAsync(), e => e.Entry.Action == Service + "ListFocalPoints" && e.Entry.Outcome == AuditOutcome.Denied);
    }
}
