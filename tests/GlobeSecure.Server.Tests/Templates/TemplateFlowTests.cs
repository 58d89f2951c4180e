using GlobeSecure.Contracts.V1;
using GlobeSecure.EventStore;
using GlobeSecure.Server.Templates;
using GlobeSecure.Server.Tests.Channels;
using GlobeSecure.Server.Tests.Identity;
using Google.Protobuf;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;

namespace GlobeSecure.Server.Tests.Templates;

/// <summary>Request templates through a real gRPC channel to a real server on real PostgreSQL.</summary>
public sealed class TemplateFlowTests(ChannelFixture server) : IClassFixture<ChannelFixture>, IDisposable
{
    private const string Publish = "/globesecure.v1.TemplateService/PublishTemplate";
    private readonly NetworkDriver _driver = new(server);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private Contracts.V1.TemplateService.TemplateServiceClient Client => new(_driver.Channel);

    public void Dispose() => _driver.Dispose();

    /// <summary>A small valid template under a fresh id.</summary>
    internal static Template Sample(string? id = null, long version = 1, string name = "Asset tracing request") => new()
    {
        TemplateId = id ?? $"t-{Guid.CreateVersion7():N}"[..20],
        Version = version,
        Name = name,
        Sections =
        {
            new Section
            {
                SectionId = "subjects", Title = "Subjects",
                Fields =
                {
                    new Field { FieldId = "persons", Label = "Persons", Type = FieldType.Person, List = true, Required = true },
                    new Field { FieldId = "reference", Label = "Reference", Type = FieldType.Text, Pattern = "^[A-Z]{2}-[0-9]+$", MaxLength = 20 },
                    new Field { FieldId = "urgency", Label = "Urgency", Type = FieldType.Enum, Options = { "normal", "urgent" } },
                },
            },
        },
    };

    private async Task<IReadOnlyList<StoredAuditEntry>> AuditAsync() =>
        await server.Services.GetRequiredService<PostgresEventStore>().ReadAuditAsync(0, 100_000, Ct);

    [Fact]
    public async Task Publish_ByNetworkAdministrator_IsListedAndReadByInvestigatorsAndAudited()
    {
        var w = await server.WorldAsync(_driver);
        var template = Sample();

        var published = await Client.PublishTemplateAsync(new PublishTemplateRequest { Template = template }, w.Network.Administrator.Headers, cancellationToken: Ct);
        var read = await Client.GetTemplateAsync(new GetTemplateRequest { TemplateId = template.TemplateId }, w.Alice.Headers, cancellationToken: Ct);
        var listed = await Client.ListTemplatesAsync(new ListTemplatesRequest(), w.Alice.Headers, cancellationToken: Ct);

        Assert.Equal(w.Network.Administrator.UserId.ToString(), published.PublishedBy);
        Assert.NotNull(published.PublishedAt);
        Assert.Equal(published, read);
        Assert.Contains(published, listed.Templates);
        var audit = await AuditAsync();
        Assert.Contains(audit, e => e.Entry.Action == Publish && e.Entry.Outcome == AuditOutcome.Allowed && e.Entry.Target == $"{template.TemplateId}/v1");
        Assert.Contains(audit, e => e.Entry.Action == "/globesecure.v1.TemplateService/GetTemplate" && e.Entry.Outcome == AuditOutcome.Allowed
            && e.Entry.Target == $"{template.TemplateId}/v1");
        Assert.Contains(audit, e => e.Entry.Action == "/globesecure.v1.TemplateService/ListTemplates" && e.Entry.Outcome == AuditOutcome.Allowed);
    }

    [Fact]
    public async Task Publish_ByInvestigator_IsPermissionDeniedAuditedAndStoresNothing()
    {
        var w = await server.WorldAsync(_driver);
        var template = Sample();

        var error = await Assert.ThrowsAsync<RpcException>(() =>
            Client.PublishTemplateAsync(new PublishTemplateRequest { Template = template }, w.Alice.Headers, cancellationToken: Ct).ResponseAsync);

        Assert.Equal(StatusCode.PermissionDenied, error.StatusCode);
        Assert.Contains(await AuditAsync(), e => e.Entry.Action == Publish && e.Entry.Outcome == AuditOutcome.Denied && e.Entry.Target == $"{template.TemplateId}/v1");
        Assert.Equal(0, await server.Services.GetRequiredService<PostgresEventStore>().StreamVersionAsync(TemplateDecider.StreamId(template.TemplateId), Ct));
    }

    [Fact]
    public async Task Publish_PublishedVersionAgain_SameContentReturnsItOtherContentIsRefused()
    {
        var w = await server.WorldAsync(_driver);
        var template = Sample();
        var admin = w.Network.Administrator.Headers;
        var first = await Client.PublishTemplateAsync(new PublishTemplateRequest { Template = template }, admin, cancellationToken: Ct);

        var again = await Client.PublishTemplateAsync(new PublishTemplateRequest { Template = template }, admin, cancellationToken: Ct);
        var changed = template.Clone();
        changed.Name = "Changed";
        var conflict = await Assert.ThrowsAsync<RpcException>(() =>
            Client.PublishTemplateAsync(new PublishTemplateRequest { Template = changed }, admin, cancellationToken: Ct).ResponseAsync);
        changed.Version = 3;
        var gap = await Assert.ThrowsAsync<RpcException>(() =>
            Client.PublishTemplateAsync(new PublishTemplateRequest { Template = changed }, admin, cancellationToken: Ct).ResponseAsync);
        changed.Version = 2;
        var second = await Client.PublishTemplateAsync(new PublishTemplateRequest { Template = changed }, admin, cancellationToken: Ct);
        var v1 = await Client.GetTemplateAsync(new GetTemplateRequest { TemplateId = template.TemplateId, Version = 1 }, w.Alice.Headers, cancellationToken: Ct);
        var latest = await Client.GetTemplateAsync(new GetTemplateRequest { TemplateId = template.TemplateId }, w.Alice.Headers, cancellationToken: Ct);
        var all = await Client.ListTemplatesAsync(new ListTemplatesRequest { AllVersions = true }, w.Alice.Headers, cancellationToken: Ct);

        Assert.Equal(first, again);
        Assert.Equal(StatusCode.AlreadyExists, conflict.StatusCode);
        Assert.Equal(StatusCode.FailedPrecondition, gap.StatusCode);
        Assert.Equal(first, v1);
        Assert.Equal(second, latest);
        Assert.Equal([1L, 2L], all.Templates.Where(t => t.TemplateId == template.TemplateId).Select(t => t.Version));
    }

    [Fact]
    public async Task Publish_InvalidTemplate_ReturnsEveryFieldViolationAndStoresNothing()
    {
        var w = await server.WorldAsync(_driver);
        var template = Sample();
        template.Sections[0].Fields[1].Pattern = "([unclosed";
        template.Sections[0].Fields[2].Options.Clear();
        template.Sections[0].Fields[0].FieldId = "reference";
        template.Sections[0].Fields[1].Type = FieldType.Unspecified;
        template.Name = "";

        var error = await Assert.ThrowsAsync<RpcException>(() =>
            Client.PublishTemplateAsync(new PublishTemplateRequest { Template = template }, w.Network.Administrator.Headers, cancellationToken: Ct).ResponseAsync);

        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        var fields = Violations(error);
        Assert.Contains("template.name", fields);
        Assert.Contains("template.sections[0].fields[1].field_id", fields);
        Assert.Contains("template.sections[0].fields[1].type", fields);
        Assert.Contains("template.sections[0].fields[2].options", fields);
        Assert.Equal(0, await server.Services.GetRequiredService<PostgresEventStore>().StreamVersionAsync(TemplateDecider.StreamId(template.TemplateId), Ct));
    }

    [Fact]
    public async Task Publish_PatternThatDoesNotCompile_NamesItsPath()
    {
        var w = await server.WorldAsync(_driver);
        var template = Sample();
        template.Sections[0].Fields[1].Pattern = "([unclosed";

        var error = await Assert.ThrowsAsync<RpcException>(() =>
            Client.PublishTemplateAsync(new PublishTemplateRequest { Template = template }, w.Network.Administrator.Headers, cancellationToken: Ct).ResponseAsync);

        Assert.Equal(["template.sections[0].fields[1].pattern"], Violations(error));
    }

    [Fact]
    public async Task Get_SeededRequestForInformation_IsVersionOneBySystemWithEveryRequiredPart()
    {
        var w = await server.WorldAsync(_driver);

        var rfi = await Client.GetTemplateAsync(new GetTemplateRequest { TemplateId = "request-for-information" }, w.Alice.Headers, cancellationToken: Ct);

        Assert.Equal(1, rfi.Version);
        Assert.Equal("", rfi.PublishedBy);
        var fields = rfi.Sections.SelectMany(s => s.Fields).ToDictionary(f => f.FieldId);
        foreach (var id in new[] { "requesting_authority", "requested_authority", "case_reference", "summary_of_facts", "offences", "persons", "legal_entities",
                     "bank_accounts", "information_sought", "urgency", "urgency_reason", "intended_use", "legal_basis", "confidentiality_conditions",
                     "contact_name", "reply_language" })
        {
            Assert.True(fields.ContainsKey(id), id);
        }

        Assert.True(fields["offences"].List);
        Assert.Equal(9, fields["offences"].Options.Count);
        Assert.Equal(["normal", "urgent", "emergency"], fields["urgency"].Options);
        Assert.Equal(["intelligence_only", "may_become_evidence"], fields["intended_use"].Options);
        Assert.Equal((FieldType.Person, true), (fields["persons"].Type, fields["persons"].List));
        Assert.Equal(FieldType.BankAccount, fields["bank_accounts"].Type);
    }

    [Fact]
    public async Task Get_UnknownTemplate_IsNotFound()
    {
        var w = await server.WorldAsync(_driver);

        var error = await Assert.ThrowsAsync<RpcException>(() =>
            Client.GetTemplateAsync(new GetTemplateRequest { TemplateId = "no-such-template" }, w.Alice.Headers, cancellationToken: Ct).ResponseAsync);

        Assert.Equal(StatusCode.NotFound, error.StatusCode);
    }

    [Fact]
    public async Task Seed_SecondServerStartsOnTheSameDatabase_PublishesNothingMore()
    {
        var store = server.Services.GetRequiredService<PostgresEventStore>();
        var streamId = TemplateDecider.StreamId("request-for-information");

        await using (var second = await server.StartReplicaAsync(Ct))
        {
            await second.StopAsync(Ct);
        }

        Assert.Equal(1, await store.StreamVersionAsync(streamId, Ct));
    }

    [Theory]
    [InlineData("ListTemplates")]
    [InlineData("GetTemplate")]
    [InlineData("PublishTemplate")]
    public async Task Call_Anonymous_IsUnauthenticatedAndAuditedAsDenied(string rpc)
    {
        var call = rpc switch
        {
            "ListTemplates" => Client.ListTemplatesAsync(new ListTemplatesRequest(), cancellationToken: Ct).ResponseAsync,
            "GetTemplate" => Client.GetTemplateAsync(new GetTemplateRequest { TemplateId = "request-for-information" }, cancellationToken: Ct).ResponseAsync,
            _ => (Task)Client.PublishTemplateAsync(new PublishTemplateRequest { Template = Sample() }, cancellationToken: Ct).ResponseAsync,
        };

        var error = await Assert.ThrowsAsync<RpcException>(() => call);

        Assert.Equal(StatusCode.Unauthenticated, error.StatusCode);
        Assert.Contains(await AuditAsync(), e => e.Entry.Action == $"/globesecure.v1.TemplateService/{rpc}" && e.Entry.Outcome == AuditOutcome.Denied);
    }

    private static List<string> Violations(RpcException error) =>
        [.. error.GetRpcStatus()!.GetDetail<Google.Rpc.BadRequest>().FieldViolations.Select(f => f.Field)];
}
