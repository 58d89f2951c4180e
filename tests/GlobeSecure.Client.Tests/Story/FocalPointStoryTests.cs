using System.Runtime.CompilerServices;
using GlobeSecure.Contracts.V1;
using Grpc.Core;

namespace GlobeSecure.Client.Tests.Story;

/// <summary>The directory of competent authorities and focal points through <see cref="GlobeClient"/> against the real server and PostgreSQL.</summary>
public sealed class FocalPointStoryTests(StoryServerFixture server) : IClassFixture<StoryServerFixture>
{
    private static readonly ConditionalWeakTable<StoryServerFixture, Task<CaseCast>> Casts = new();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private Task<CaseCast> CastAsync() => Casts.GetValue(server, CaseCast.CreateAsync);

    [Fact]
    public async Task FindCentralAuthority_AddedBySecretariatWithoutId_InvestigatorFindsItAndBrazilsPublishedRequirements()
    {
        var c = await CastAsync();
        var entry = new ContactEntry
        {
            Kind = FocalPointKind.CentralAuthority,
            Country = "BR",
            Name = "Department of Asset Recovery and International Legal Cooperation",
            Organisation = "Ministry of Justice",
            Email = "mla@example.gov.br",
            Requirements = new PracticalRequirements { Languages = { "pt" }, ElectronicRequests = ElectronicRequests.Accepted },
        };

        var added = await c.SecondAdministrator.Client.AddContactAsync(entry, Ct);
        var retried = await c.SecondAdministrator.Client.AddContactAsync(added, Ct);
        var published = await c.BrazilAdmin.Client.SetAuthorityRequirementsAsync(c.Brazil,
            new PracticalRequirements { Languages = { "pt", "es" }, ElectronicRequests = ElectronicRequests.NotAccepted, Notes = "Originals by courier." }, Ct);
        var refused = await Assert.ThrowsAsync<GlobeClientException>(() => c.Otieno.Client.RemoveContactAsync(Guid.Parse(added.ContactId), Ct));
        var central = await c.Otieno.Client.ListFocalPointsAsync("BR", FocalPointKind.CentralAuthority, Ct);
        var brazil = Assert.Single(await c.Otieno.Client.ListFocalPointsAsync("BR", cancellationToken: Ct));

        Assert.Equal("", entry.ContactId);
        Assert.True(Guid.TryParse(added.ContactId, out _));
        Assert.Equal(added, retried);
        Assert.Equal(StatusCode.PermissionDenied, refused.Status);
        Assert.Equal(added, Assert.Single(Assert.Single(central).Contacts));
        Assert.Equal(published, Assert.Single(brazil.Authorities));
        Assert.Equal(["pt", "es"], brazil.Authorities[0].Requirements.Languages);
        Assert.Contains(added, brazil.Contacts);
    }
}
