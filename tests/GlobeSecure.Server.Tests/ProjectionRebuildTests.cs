using GlobeSecure.Contracts.V1;
using GlobeSecure.EventStore;
using GlobeSecure.Server.Infrastructure;
using GlobeSecure.Server.Tests.Channels;
using GlobeSecure.Server.Tests.Documents;
using GlobeSecure.Server.Tests.FocalPoints;
using GlobeSecure.Server.Tests.Identity;
using GlobeSecure.Server.Tests.Requests;
using GlobeSecure.Server.Tests.Templates;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace GlobeSecure.Server.Tests;

/// <summary>
/// The server's <c>rebuild-projections</c> command, run as Program.cs runs it, against the
/// database of a live server: the read models it replays from the event log are the live ones,
/// row for row, and the server goes on answering (and writing) afterwards.
/// </summary>
public sealed class ProjectionRebuildTests(RequestFixture server) : IClassFixture<RequestFixture>, IDisposable
{
    /// <summary>The store's own tables: never emptied, never rebuilt.</summary>
    private static readonly string[] CoreTables = ["schema_version", "heads", "streams", "events", "audit", "audit_checkpoints", "server_keys"];

    private readonly NetworkDriver _driver = new(server);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private PostgresEventStore Store => server.Services.GetRequiredService<PostgresEventStore>();

    private NpgsqlDataSource Database => server.Services.GetRequiredService<NpgsqlDataSource>();

    public void Dispose() => _driver.Dispose();

    private async Task<(int ExitCode, string Output, string Error)> RebuildAsync(TimeSpan? lockTimeout = null)
    {
        await using var app = GlobeServerHost.Build(["--environment", "Testing"], builder =>
        {
            builder.Configuration["ConnectionStrings:Globe"] = server.Database.ConnectionString;
            builder.Configuration["Logging:LogLevel:Default"] = "Warning";
        });
        using var output = new StringWriter();
        using var error = new StringWriter();
        var exitCode = await ProjectionRebuildCommand.RunAsync(app, output, error, lockTimeout);
        return (exitCode, output.ToString(), error.ToString());
    }

    /// <summary>Every table of the schema but the store's own, each as its rows' text, sorted.</summary>
    private async Task<SortedDictionary<string, List<string>>> SnapshotAsync()
    {
        var schema = Store.Schema;
        var tables = new List<string>();
        await using (var list = Database.CreateCommand("select table_name from information_schema.tables where table_schema = $1 and table_type = 'BASE TABLE'"))
        {
            list.Parameters.Add(new NpgsqlParameter { Value = schema });
            await using var reader = await list.ExecuteReaderAsync(Ct);
            while (await reader.ReadAsync(Ct))
            {
                tables.Add(reader.GetString(0));
            }
        }

        var snapshot = new SortedDictionary<string, List<string>>(StringComparer.Ordinal);
        foreach (var table in tables.Except(CoreTables))
        {
            var rows = new List<string>();
            await using var select = Database.CreateCommand($"select t::text from {schema}.{table} t order by 1");
            await using var reader = await select.ExecuteReaderAsync(Ct);
            while (await reader.ReadAsync(Ct))
            {
                rows.Add(reader.GetString(0));
            }

            snapshot[table] = rows;
        }

        return snapshot;
    }

    private static void AssertSame(SortedDictionary<string, List<string>> expected, SortedDictionary<string, List<string>> actual)
    {
        Assert.Equal(expected.Keys, actual.Keys);
        foreach (var (table, rows) in expected)
        {
            Assert.True(rows.SequenceEqual(actual[table]),
                $"table {table}: {rows.Count} live rows, {actual[table].Count} rebuilt; first difference: " +
                $"{rows.Except(actual[table]).FirstOrDefault() ?? "(none)"} / {actual[table].Except(rows).FirstOrDefault() ?? "(none)"}");
        }
    }

    private async Task TamperAsync(string sql)
    {
        await using var command = Database.CreateCommand(sql.Replace("{schema}", Store.Schema, StringComparison.Ordinal));
        await command.ExecuteNonQueryAsync(Ct);
    }

    /// <summary>
    /// Every feature's read model gets rows: a network with three authorities, users and devices
    /// (one revoked, a suspended authority whose sessions end), a channel with messages, a member
    /// added and one removed and its epochs rotated, a document uploaded and attached, a template,
    /// a focal-point contact, and a request from draft to closed.
    /// </summary>
    private async Task<(ChannelWorld W, Member Dave, Guid ChannelId, EncryptedDocument Document, string RequestId)> StoryAsync()
    {
        var (w, dave) = await server.RequestWorldAsync(_driver);
        var channels = new ChannelDriver(_driver, w.Network);
        var documents = new DocumentDriver(_driver);
        var requests = new RequestService.RequestServiceClient(_driver.Channel);

        var thread = await channels.CreateAsync(w.Alice, w.Alice, w.Bob);
        var channelId = Guid.Parse(thread.ChannelId);
        thread = await channels.AddAuthorityAsync(w.Alice, thread, w.Carol.AuthorityId, w.Alice, w.Bob, w.Carol);
        for (var i = 0; i < ChannelFixture.RotateAfterMessages + 1; i++)
        {
            await channels.SendTextAsync(i % 2 == 0 ? w.Alice : w.Carol, channelId, $"message {i}");
        }

        var document = await EncryptedDocument.CreateAsync(40_000);
        await documents.PutAsync(w.Alice, channelId, document);
        await channels.SendTextAsync(w.Alice, channelId, "Bank statements attached", [document.DocumentId]);
        await channels.RemoveUserAsync(w.Alice, thread, w.Bob, w.Alice, w.Carol);

        await new TemplateService.TemplateServiceClient(_driver.Channel).PublishTemplateAsync(
            new PublishTemplateRequest { Template = TemplateFlowTests.Sample() }, w.Network.Administrator.Headers, cancellationToken: Ct);
        await new FocalPointService.FocalPointServiceClient(_driver.Channel).AddContactAsync(
            new AddContactRequest { Contact = FocalPointFlowTests.CentralAuthority(w.CommissionAdmin.AuthorityId) }, w.Network.Administrator.Headers,
            cancellationToken: Ct);

        var requestId = Guid.CreateVersion7().ToString();
        var act = new RequestActionRequest { RequestId = requestId };
        await requests.CreateRequestAsync(new CreateRequestRequest
        {
            RequestId = requestId, RequestedAuthorityId = w.Carol.AuthorityId.ToString(), TemplateId = "request-for-information", TemplateVersion = 1,
            Urgency = Urgency.Normal, ChannelId = thread.ChannelId,
        }, w.Alice.Headers, cancellationToken: Ct);
        await requests.SendRequestAsync(new SendRequestRequest { RequestId = requestId }, w.Alice.Headers, cancellationToken: Ct);
        await requests.AcknowledgeAsync(act, w.Carol.Headers, cancellationToken: Ct);
        await requests.StartWorkAsync(act, w.Carol.Headers, cancellationToken: Ct);
        await requests.AnswerAsync(act, w.Carol.Headers, cancellationToken: Ct);
        await requests.CloseAsync(act, w.Alice.Headers, cancellationToken: Ct);

        var erin = await ChannelFixture.InvestigatorAsync(_driver, w.CommissionAdmin, "Erin");
        await _driver.RevokeDeviceAsync(w.CommissionAdmin, erin.Certificate, "device lost");
        await _driver.Membership.SuspendAsync(new SuspendRequest { AuthorityId = dave.AuthorityId.ToString(), Reason = "under review" },
            w.Network.Administrator.Headers, cancellationToken: Ct);
        return (w, dave, channelId, document, requestId);
    }

    [Fact]
    public async Task RebuildProjections_AfterAStoryWithDamagedReadModels_ReproducesEveryLiveRowAndTheServerGoesOn()
    {
        var (w, dave, channelId, document, requestId) = await StoryAsync();
        var live = await SnapshotAsync();
        // The story reaches every read model but the few it has no reason to touch.
        Assert.All(live.Where(t => t.Key is not ("identity_auth_failures" or "regional_groups" or "regional_group_members" or "channel_receipts"
            or "channel_consents" or "channel_epoch_shares" or "authority_requirements")), t => Assert.NotEmpty(t.Value));

        // Damage the read models (never the events): the rebuild must put it all back from the log.
        await TamperAsync("""
            delete from {schema}.channel_messages where position = (select max(position) from {schema}.channel_messages);
            update {schema}.identity_sessions set ended_at = null;
            delete from {schema}.directory_log where position > 2;
            update {schema}.requests set stage = 0;
            update {schema}.document_usage set bytes = 0;
            delete from {schema}.template_versions;
            """);
        Assert.NotEqual(live["channel_messages"], (await SnapshotAsync())["channel_messages"]);

        var (exitCode, output, error) = await RebuildAsync();

        Assert.True(exitCode == 0, error);
        AssertSame(live, await SnapshotAsync());
        var reported = output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split('\t')).ToDictionary(p => p[0], p => long.Parse(p[1], System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(live.Keys.Except(["document_chunks"]), reported.Keys.Order(StringComparer.Ordinal));
        Assert.All(reported, r => Assert.Equal(live[r.Key].Count, r.Value));
        Assert.Contains("kept (not derived from events): document_chunks", error);
        var head = await Store.HeadPositionAsync(Ct);
        Assert.Contains(await Store.ReadAuditAsync(0, 100_000, Ct), e => e.Entry.Action == ProjectionRebuildCommand.Action
            && e.Entry.Outcome == AuditOutcome.Allowed && e.Entry.Target == head.ToString(System.Globalization.CultureInfo.InvariantCulture) && e.Entry.ActorUserId is null);

        // The server reads the rebuilt models and writes on, while a second rebuild runs.
        var channels = new ChannelDriver(_driver, w.Network);
        var sending = Task.WhenAll(Enumerable.Range(0, 3).Select(i => channels.SendTextAsync(w.Carol, channelId, $"during the rebuild {i}")));
        var again = await RebuildAsync();
        var sent = await sending;
        Assert.True(again.ExitCode == 0, again.Error);
        var history = await channels.HistoryAsync(w.Alice, channelId);
        Assert.Equal(history.Select(m => m.Envelope.Header.MessageId).Distinct().Count(), history.Count);
        Assert.All(sent, s => Assert.Single(history, m => m.Envelope.Header.MessageId == s.Envelope.Header.MessageId));
        Assert.Equal("during the rebuild 2", await channels.ReadAsync(w.Alice, history.Single(m => m.Envelope.Header.MessageId == sent[2].Envelope.Header.MessageId)));
        Assert.Equal(document.Ciphertext.Length, (await new DocumentDriver(_driver).GetAsync(w.Alice, document.DocumentId)).BytesHeld);
        Assert.Equal(RequestStatus.Closed, (await new RequestService.RequestServiceClient(_driver.Channel).GetRequestAsync(
            new GetRequestRequest { RequestId = requestId }, w.Carol.Headers, cancellationToken: Ct)).Status);
        var refused = await Assert.ThrowsAsync<RpcException>(() => _driver.Auth.WhoAmIAsync(new WhoAmIRequest(), dave.Headers, cancellationToken: Ct).ResponseAsync);
        Assert.Contains(refused.StatusCode, new[] { StatusCode.PermissionDenied, StatusCode.Unauthenticated });

        var afterWrites = await SnapshotAsync();
        Assert.True((await RebuildAsync()).ExitCode == 0);
        AssertSame(afterWrites, await SnapshotAsync());
    }

    [Fact]
    public async Task RebuildProjections_WriterLockHeld_RefusesAfterTheTimeoutAndChangesNothing()
    {
        await server.RequestWorldAsync(_driver);
        var before = await SnapshotAsync();
        await using var connection = await Database.OpenConnectionAsync(Ct);
        await using var transaction = await connection.BeginTransactionAsync(Ct);
        await using (var hold = new NpgsqlCommand($"select 1 from {Store.Schema}.heads where id = 1 for update", connection, transaction))
        {
            await hold.ExecuteNonQueryAsync(Ct);
        }

        var (exitCode, output, error) = await RebuildAsync(TimeSpan.FromMilliseconds(300));
        await transaction.RollbackAsync(Ct);

        Assert.Equal(1, exitCode);
        Assert.Empty(output);
        Assert.Contains("writer lock", error);
        AssertSame(before, await SnapshotAsync());
    }
}
