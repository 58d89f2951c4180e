using System.Globalization;
using System.Text.RegularExpressions;
using GlobeSecure.Contracts.V1;
using GlobeSecure.Crypto;
using GlobeSecure.EventStore;
using GlobeSecure.Server.Tests.Channels;
using GlobeSecure.Server.Tests.Documents;
using GlobeSecure.Server.Tests.Identity;
using Google.Protobuf.WellKnownTypes;
using Google.Rpc;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;

namespace GlobeSecure.Server.Tests.Audit;

/// <summary>
/// QueryAudit and ExportAudit through a real gRPC channel on real PostgreSQL: who may read the
/// trail, what each auditor sees, filters, pages, and the JSON Lines export.
/// </summary>
public sealed partial class AuditQueryTests(AuditFixture server) : IClassFixture<AuditFixture>, IDisposable
{
    private const string GetChannel = "/globesecure.v1.ChannelService/GetChannel";
    private const string QueryAudit = "/globesecure.v1.AuditService/QueryAudit";
    private const string ExportAudit = "/globesecure.v1.AuditService/ExportAudit";

    private readonly NetworkDriver _driver = new(server);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private AuditDriver Auditors => new(_driver);

    private PostgresEventStore Store => server.Services.GetRequiredService<PostgresEventStore>();

    public void Dispose() => _driver.Dispose();

    [Fact]
    public async Task QueryAudit_DeniedDownload_FoundWithActorUserAndDevice()
    {
        var a = await server.AuditWorldAsync(_driver);
        var w = a.World;
        var channels = new ChannelDriver(_driver, w.Network);
        var documents = new DocumentDriver(_driver);
        var channel = Guid.Parse((await channels.CreateAsync(w.Alice, w.Alice, w.Bob)).ChannelId);
        var document = await EncryptedDocument.CreateAsync(1000);
        await documents.PutAsync(w.Alice, channel, document);

        var refused = await DocumentDriver.StatusOfAsync(async () =>
        {
            using var call = documents.Documents.DownloadDocument(new DownloadDocumentRequest { DocumentId = document.DocumentId.ToString() }, w.Carol.Headers,
                cancellationToken: Ct);
            await call.ResponseStream.MoveNext(Ct);
        });

        Assert.Equal(StatusCode.PermissionDenied, refused);
        var filter = new AuditFilter { Target = document.DocumentId.ToString(), Outcome = AuditOutcomeFilter.Denied };
        var found = Assert.Single((await Auditors.QueryAsync(a.NetworkAuditor, filter)).Entries);
        Assert.Equal("/globesecure.v1.DocumentService/DownloadDocument", found.Action);
        Assert.Equal("denied", found.Outcome);
        Assert.Equal(w.Carol.UserId.ToString(), found.ActorUserId);
        Assert.Equal(w.Carol.Device.DeviceId.ToString(), found.ActorDeviceId);
        Assert.Equal(w.Carol.AuthorityId.ToString(), found.ActorAuthorityId);
        Assert.NotEmpty(found.Reason);
        AssertLinkRecomputes(found);
        // The document's authority sees the attempt on its document; the actor's authority sees its investigator's attempt.
        Assert.Equal(found.Position, Assert.Single((await Auditors.QueryAsync(a.CommissionAuditor, filter)).Entries).Position);
        Assert.Equal(found.Position, Assert.Single((await Auditors.QueryAsync(a.PoliceAuditor, filter)).Entries).Position);
    }

    [Fact]
    public async Task QueryAudit_AuthorityAuditor_ItsOwnEntriesAndThoseAimedAtItsRequestsAndChannelsOnly()
    {
        var a = await server.AuditWorldAsync(_driver);
        var w = a.World;
        var channels = new ChannelDriver(_driver, w.Network);
        var requests = new RequestService.RequestServiceClient(_driver.Channel);
        var thread = await channels.CreateAsync(w.Alice, w.Alice, w.Bob);
        thread = await channels.AddAuthorityAsync(w.Alice, thread, w.Carol.AuthorityId, w.Alice, w.Bob, w.Carol);
        var request = await requests.CreateRequestAsync(new CreateRequestRequest
        {
            RequestId = Guid.CreateVersion7().ToString(), RequestedAuthorityId = w.Carol.AuthorityId.ToString(), TemplateId = "request-for-information",
            TemplateVersion = 1, Urgency = Urgency.Normal, ChannelId = thread.ChannelId,
        }, w.Alice.Headers, cancellationToken: Ct);
        await requests.SendRequestAsync(new SendRequestRequest { RequestId = request.RequestId }, w.Alice.Headers, cancellationToken: Ct);
        await requests.AcknowledgeAsync(new RequestActionRequest { RequestId = request.RequestId }, w.Carol.Headers, cancellationToken: Ct);
        var policeOnly = await channels.CreateAsync(w.Carol, w.Carol);
        var commissionOnly = await channels.CreateAsync(w.Alice, w.Alice, w.Bob);
        Assert.Equal(StatusCode.PermissionDenied, await ProbeAsync(a.Dave, thread.ChannelId));
        Assert.Equal(StatusCode.PermissionDenied, await ProbeAsync(a.Dave, policeOnly.ChannelId));

        var commission = (await Auditors.QueryAllAsync(a.CommissionAuditor)).Entries;
        var police = (await Auditors.QueryAllAsync(a.PoliceAuditor)).Entries;
        var everything = (await Auditors.QueryAllAsync(a.NetworkAuditor)).Entries;

        var acknowledged = Assert.Single(everything, e => e.Action.EndsWith("/Acknowledge", StringComparison.Ordinal) && e.Target == request.RequestId);
        var probeOfThread = Assert.Single(everything, e => e.ActorUserId == a.Dave.UserId.ToString() && e.Target == thread.ChannelId);
        var probeOfPolice = Assert.Single(everything, e => e.ActorUserId == a.Dave.UserId.ToString() && e.Target == policeOnly.ChannelId);
        var policeChannel = Assert.Single(everything, e => e.Action.EndsWith("/CreateChannel", StringComparison.Ordinal) && e.Target == policeOnly.ChannelId);
        var commissionChannel = Assert.Single(everything,
            e => e.Action.EndsWith("/CreateChannel", StringComparison.Ordinal) && e.Target == commissionOnly.ChannelId);
        var daveSignedIn = everything.Where(e => e.Target == a.Dave.Device.DeviceId.ToString()).ToList();
        Assert.NotEmpty(daveSignedIn);

        // The commission's auditor: the police acting on the commission's request, a stranger probing its channel — not the police's own business.
        Assert.Contains(commission, e => e.Position == acknowledged.Position);
        Assert.Contains(commission, e => e.Position == probeOfThread.Position);
        Assert.Contains(commission, e => e.Position == commissionChannel.Position);
        Assert.DoesNotContain(commission, e => e.Position == probeOfPolice.Position || e.Position == policeChannel.Position);
        Assert.DoesNotContain(commission, e => e.Target == policeOnly.ChannelId || daveSignedIn.Any(d => d.Position == e.Position));
        // The police's auditor: its own, and the probe of a channel it is a member of — not the commission's own channel.
        Assert.Contains(police, e => e.Position == acknowledged.Position);
        Assert.Contains(police, e => e.Position == probeOfThread.Position);
        Assert.Contains(police, e => e.Position == probeOfPolice.Position);
        Assert.Contains(police, e => e.Position == policeChannel.Position);
        Assert.DoesNotContain(police, e => e.Target == commissionOnly.ChannelId);
        // The network's auditor sees more than either.
        Assert.True(everything.Count > commission.Count && everything.Count > police.Count);
        Assert.Subset(everything.Select(e => e.Position).ToHashSet(), commission.Select(e => e.Position).ToHashSet());
    }

    [Fact]
    public async Task QueryAudit_InvestigatorOrAuthorityAdministrator_PermissionDeniedAndTheRefusalIsInTheTrail()
    {
        var a = await server.AuditWorldAsync(_driver);
        var w = a.World;

        var investigator = await Assert.ThrowsAsync<RpcException>(() => Auditors.QueryAsync(w.Alice));
        var administrator = await Assert.ThrowsAsync<RpcException>(() => Auditors.QueryAsync(w.CommissionAdmin));
        var export = await Assert.ThrowsAsync<RpcException>(() => Auditors.ExportAsync(w.Carol));

        Assert.Equal(StatusCode.PermissionDenied, investigator.StatusCode);
        Assert.Equal(StatusCode.PermissionDenied, administrator.StatusCode);
        Assert.Equal(StatusCode.PermissionDenied, export.StatusCode);
        var denied = new AuditFilter { Action = "/globesecure.v1.AuditService/", Outcome = AuditOutcomeFilter.Denied };
        var refusals = (await Auditors.QueryAllAsync(a.NetworkAuditor, denied)).Entries;
        Assert.Contains(refusals, e => e.Action == QueryAudit && e.ActorUserId == w.Alice.UserId.ToString() && e.ActorDeviceId == w.Alice.Device.DeviceId.ToString());
        Assert.Contains(refusals, e => e.Action == QueryAudit && e.ActorUserId == w.CommissionAdmin.UserId.ToString());
        Assert.Contains(refusals, e => e.Action == ExportAudit && e.ActorUserId == w.Carol.UserId.ToString());
        // The commission's auditor sees its own people's refusals, not the police's.
        var commission = (await Auditors.QueryAllAsync(a.CommissionAuditor, denied)).Entries;
        Assert.Contains(commission, e => e.ActorUserId == w.Alice.UserId.ToString());
        Assert.DoesNotContain(commission, e => e.ActorUserId == w.Carol.UserId.ToString());
        // Reading the trail is itself in the trail.
        var reads = (await Auditors.QueryAllAsync(a.NetworkAuditor, new AuditFilter { Action = QueryAudit, ActorUserId = a.CommissionAuditor.UserId.ToString() }))
            .Entries;
        Assert.Contains(reads, e => e.Outcome == "allowed" && e.ActorDeviceId == a.CommissionAuditor.Device.DeviceId.ToString());
    }

    [Fact]
    public async Task QueryAudit_FiltersAndPages_TheTrailsEntriesWithoutDuplicatesOrGaps()
    {
        var a = await server.AuditWorldAsync(_driver);
        var w = a.World;
        var channels = new ChannelDriver(_driver, w.Network);
        var channel = (await channels.CreateAsync(w.Alice, w.Alice, w.Bob)).ChannelId;
        for (var i = 0; i < 6; i++)
        {
            await channels.Channels.GetChannelAsync(new GetChannelRequest { ChannelId = channel }, w.Alice.Headers, cancellationToken: Ct);
        }

        for (var i = 0; i < 2; i++)
        {
            await channels.Channels.GetChannelAsync(new GetChannelRequest { ChannelId = channel }, w.Bob.Headers, cancellationToken: Ct);
        }

        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(StatusCode.PermissionDenied, await ProbeAsync(a.Dave, channel));
        }

        var truth = (await Store.ReadAuditAsync(0, 1_000_000, Ct)).Where(e => e.Entry.Target == channel).ToList();
        Assert.Equal(12, truth.Count);
        var auditor = a.NetworkAuditor;
        async Task<List<long>> Positions(AuditFilter filter, int limit = 1000) => [.. (await Auditors.QueryAllAsync(auditor, filter, limit)).Entries.Select(e => e.Position)];
        List<long> Expected(Func<AuditEntry, bool> where) => [.. truth.Where(e => where(e.Entry)).Select(e => e.Position)];

        var (paged, pages) = await Auditors.QueryAllAsync(auditor, new AuditFilter { Target = channel }, limit: 5);
        Assert.Equal(truth.Select(e => e.Position), paged.Select(e => e.Position));
        Assert.Equal(3, pages);
        var (byTwo, _) = await Auditors.QueryAllAsync(auditor, new AuditFilter { Target = channel }, limit: 2);
        Assert.Equal(truth.Select(e => e.Position), byTwo.Select(e => e.Position));
        Assert.All(byTwo, AssertLinkRecomputes);
        var last = await Auditors.QueryAsync(auditor, new AuditFilter { Target = channel, AfterPosition = truth[^3].Position }, 2);
        Assert.Equal(0, last.NextAfterPosition);

        Assert.Equal(Expected(e => e.Outcome == AuditOutcome.Denied), await Positions(new AuditFilter { Target = channel, Outcome = AuditOutcomeFilter.Denied }));
        Assert.Equal(3, Expected(e => e.Outcome == AuditOutcome.Denied).Count);
        Assert.Equal(Expected(e => e.ActorUserId == w.Alice.UserId), await Positions(new AuditFilter { Target = channel, ActorUserId = w.Alice.UserId.ToString() }));
        Assert.Equal(Expected(e => e.ActorDeviceId == w.Bob.Device.DeviceId),
            await Positions(new AuditFilter { Target = channel, ActorDeviceId = w.Bob.Device.DeviceId.ToString() }));
        Assert.Equal(Expected(e => e.Action == GetChannel), await Positions(new AuditFilter { Target = channel, Action = GetChannel }));
        Assert.Equal(11, Expected(e => e.Action == GetChannel).Count);
        Assert.Equal(Expected(_ => true), await Positions(new AuditFilter { Target = channel, Action = "/globesecure.v1.ChannelService/" }));
        Assert.Empty(await Positions(new AuditFilter { Target = channel, Action = "/globesecure.v1.DocumentService/" }));
        Assert.Empty(await Positions(new AuditFilter { Target = channel, Action = "/globesecure.v1.ChannelService/GetChan" }));
        // An authority: its actors' entries, or entries aimed at what is its own.
        Assert.Equal(Expected(e => e.ActorUserId == a.Dave.UserId), await Positions(new AuditFilter { Target = channel, AuthorityId = a.Dave.AuthorityId.ToString() }));
        Assert.Equal(Expected(_ => true), await Positions(new AuditFilter { Target = channel, AuthorityId = w.Alice.AuthorityId.ToString() }));
        Assert.Equal(truth.Skip(5).Select(e => e.Position), await Positions(new AuditFilter { Target = channel, AfterPosition = truth[4].Position }));
        var from = truth[2].Entry.OccurredAt;
        var to = truth[7].Entry.OccurredAt;
        Assert.Equal(Expected(e => e.OccurredAt >= from && e.OccurredAt < to),
            await Positions(new AuditFilter { Target = channel, From = Timestamp.FromDateTimeOffset(from), To = Timestamp.FromDateTimeOffset(to) }));
        // An authority auditor's filter narrows within its scope: the police see none of this commission channel.
        Assert.Empty((await Auditors.QueryAllAsync(a.PoliceAuditor, new AuditFilter { Target = channel })).Entries);
    }

    [Fact]
    public async Task QueryAudit_InvalidFilterOrLimit_InvalidArgumentNamingEachFieldAndOnlyTheFailureRecorded()
    {
        var a = await server.AuditWorldAsync(_driver);
        var before = await Store.AuditHeadPositionAsync(Ct);

        var error = await Assert.ThrowsAsync<RpcException>(() => Auditors.QueryAsync(a.NetworkAuditor, new AuditFilter
        {
            ActorUserId = "someone",
            ActorDeviceId = "12",
            AuthorityId = Guid.Empty.ToString(),
            Outcome = (AuditOutcomeFilter)9,
            From = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow),
            To = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow.AddHours(-1)),
            AfterPosition = -1,
            Action = new string('a', 300),
        }, limit: 1001));
        var export = await Assert.ThrowsAsync<RpcException>(() => Auditors.ExportAsync(a.NetworkAuditor, new AuditFilter { ActorUserId = "someone" }));

        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.Equal(["filter.actor_user_id", "filter.actor_device_id", "filter.authority_id", "filter.action", "filter.outcome", "filter.to",
            "filter.after_position", "limit"], Fields(error));
        Assert.Equal(StatusCode.InvalidArgument, export.StatusCode);
        Assert.Equal(["filter.actor_user_id"], Fields(export));
        var after = (await Store.ReadAuditAsync(before, 1000, Ct)).Select(e => e.Entry).ToList();
        Assert.Equal([(QueryAudit, AuditOutcome.Failed), (ExportAudit, AuditOutcome.Failed)], after.Select(e => (e.Action, e.Outcome)));
        Assert.All(after, e => Assert.Equal(a.NetworkAuditor.UserId, e.ActorUserId));
    }

    [Fact]
    public async Task ExportAudit_Everything_LinesParseCountsMatchAndTheChainRecomputesAcrossIt()
    {
        var a = await server.AuditWorldAsync(_driver);
        var w = a.World;
        var channels = new ChannelDriver(_driver, w.Network);
        var channel = (await channels.CreateAsync(w.Alice, w.Alice, w.Bob)).ChannelId;
        for (var i = 0; i < 150; i++)
        {
            await channels.Channels.GetChannelAsync(new GetChannelRequest { ChannelId = channel }, w.Alice.Headers, cancellationToken: Ct);
        }

        var export = await Auditors.ExportAsync(a.NetworkAuditor);

        var header = export.Header;
        Assert.Equal("header", header.Type);
        Assert.Equal("globe-audit-export/1", header.Text("format"));
        Assert.Equal(w.Network.SecretariatId.ToString(), header.Text("networkId"));
        Assert.True(header.Json.GetProperty("contiguous").GetBoolean());
        Assert.Equal(System.Text.Json.JsonValueKind.Object, header.Json.GetProperty("filter").ValueKind);
        Assert.Equal(System.Text.Json.JsonValueKind.Array, header.Json.GetProperty("keys").ValueKind);
        Assert.Matches(SixDigitTime(), header.Text("exportedAt"));
        var entries = export.Entries;
        Assert.Equal("end", export.End.Type);
        Assert.Equal(entries.Count, export.End.Number("entries"));
        Assert.Equal(export.Lines.Count(l => l.Type == "checkpoint"), export.End.Number("checkpoints"));
        Assert.Equal(entries.Count + 2 + export.End.Number("checkpoints"), export.Lines.Count);
        Assert.Equal(Enumerable.Range(1, entries.Count).Select(i => (long)i), entries.Select(e => e.Number("position")));
        Assert.Equal(new string('0', 64), entries[0].Text("previousHash"));
        for (var i = 0; i < entries.Count; i++)
        {
            Assert.Matches(LowerHex(), entries[i].Text("hash"));
            Assert.Matches(SixDigitTime(), entries[i].Text("occurredAt"));
            Assert.Equal(entries[i].Text("hash"), Recompute(entries[i]));
            if (i > 0)
            {
                Assert.Equal(entries[i - 1].Text("hash"), entries[i].Text("previousHash"));
            }
        }

        // Exactly what is stored, up to the export's own entry, recorded before the first byte left.
        var stored = await Store.ReadAuditAsync(0, entries.Count + 1, Ct);
        Assert.Equal(stored.Take(entries.Count).Select(e => Convert.ToHexStringLower(e.Hash.Span)), entries.Select(e => e.Text("hash")));
        Assert.Equal((ExportAudit, "allowed", a.NetworkAuditor.UserId.ToString()), (entries[^1].Text("action"), entries[^1].Text("outcome"), entries[^1].Text("actorUserId")));
        // Chunks of about 64 KiB: every chunk but the last holds at least that, none much more.
        Assert.True(export.ChunkSizes.Count > 1);
        Assert.All(export.ChunkSizes.SkipLast(1), size => Assert.InRange(size, 64 * 1024, 64 * 1024 + 2048));
    }

    [Fact]
    public async Task ExportAudit_FilteredOrAuthorityAuditor_NotContiguousOnlyItsScopeEachLinkRecomputes()
    {
        var a = await server.AuditWorldAsync(_driver);
        var w = a.World;
        var channels = new ChannelDriver(_driver, w.Network);
        var channel = (await channels.CreateAsync(w.Alice, w.Alice, w.Bob)).ChannelId;
        await channels.Channels.GetChannelAsync(new GetChannelRequest { ChannelId = channel }, w.Bob.Headers, cancellationToken: Ct);
        Assert.Equal(StatusCode.PermissionDenied, await ProbeAsync(w.Carol, channel));
        var filter = new AuditFilter { Target = channel };

        var commission = await Auditors.ExportAsync(a.CommissionAuditor, filter);
        var police = await Auditors.ExportAsync(a.PoliceAuditor, filter);
        var queried = (await Auditors.QueryAllAsync(a.CommissionAuditor, filter)).Entries;

        Assert.False(commission.Header.Json.GetProperty("contiguous").GetBoolean());
        Assert.Equal(channel, commission.Header.Json.GetProperty("filter").GetProperty("target").GetString());
        Assert.Equal(queried.Select(e => e.Position), commission.Entries.Select(e => e.Number("position")));
        Assert.Equal(3, commission.Entries.Count);
        Assert.All(commission.Entries, e => Assert.Equal(e.Text("hash"), Recompute(e)));
        Assert.Equal(3, commission.End.Number("entries"));
        // The police see only their investigator's refused attempt on the commission's channel.
        var refused = Assert.Single(police.Entries);
        Assert.Equal((w.Carol.UserId.ToString(), "denied"), (refused.Text("actorUserId"), refused.Text("outcome")));
        // A time range alone keeps the export contiguous exactly when its entries are a gap-free run from an anchored start.
        var since = (await Store.ReadAuditAsync(0, 1_000_000, Ct))[^5].Entry.OccurredAt;
        var recent = await Auditors.ExportAsync(a.NetworkAuditor, new AuditFilter { From = Timestamp.FromDateTimeOffset(since) });
        var positions = recent.Entries.Select(e => e.Number("position")).ToList();
        Assert.True(positions.Count >= 5);
        Assert.Equal(positions[^1] - positions[0] + 1 == positions.Count && recent.Lines.Any(l => l.Type == "checkpoint" && l.Number("position") == positions[0] - 1),
            recent.Header.Json.GetProperty("contiguous").GetBoolean());
        var whole = await Auditors.ExportAsync(a.NetworkAuditor, new AuditFilter { From = Timestamp.FromDateTimeOffset(DateTimeOffset.UnixEpoch) });
        Assert.True(whole.Header.Json.GetProperty("contiguous").GetBoolean());
        Assert.Equal(1, whole.Entries[0].Number("position"));
        // Starting mid-chain, the chain recomputes across the export only from a signed checkpoint right before it.
        var tail = await Auditors.ExportAsync(a.NetworkAuditor, new AuditFilter { AfterPosition = 5 });
        Assert.Equal(6, tail.Entries[0].Number("position"));
        Assert.Equal(Convert.ToHexStringLower((await Store.ReadAuditAsync(4, 1, Ct))[0].Hash.Span), tail.Entries[0].Text("previousHash"));
        Assert.Equal(tail.Lines.Any(l => l.Type == "checkpoint" && l.Number("position") == 5), tail.Header.Json.GetProperty("contiguous").GetBoolean());
    }

    private Task<StatusCode> ProbeAsync(Member stranger, string channelId) =>
        DocumentDriver.StatusOfAsync(() => new ChannelService.ChannelServiceClient(_driver.Channel)
            .GetChannelAsync(new GetChannelRequest { ChannelId = channelId }, stranger.Headers, cancellationToken: Ct).ResponseAsync);

    private static List<string> Fields(RpcException error) => [.. error.GetRpcStatus()!.GetDetail<BadRequest>().FieldViolations.Select(v => v.Field)];

    private static void AssertLinkRecomputes(AuditRecord e) =>
        Assert.Equal(e.Hash.ToByteArray(), ChainLinks.AuditLink(e.PreviousHash.Span, e.Position, Guid.Parse(e.EntryId), e.OccurredAt.ToDateTimeOffset(), e.Action,
            e.Outcome, Id(e.ActorUserId), Id(e.ActorDeviceId), Id(e.ActorAuthorityId), e.Target, e.Reason, e.Peer, e.TraceId));

    /// <summary>The link of an export line, recomputed from its fields and its previous hash only.</summary>
    private static string Recompute(ExportLine e) =>
        Convert.ToHexStringLower(ChainLinks.AuditLink(Convert.FromHexString(e.Text("previousHash")), e.Number("position"), Guid.Parse(e.Text("entryId")),
            DateTimeOffset.Parse(e.Text("occurredAt"), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal), e.Text("action"), e.Text("outcome"),
            Id(e.Text("actorUserId")), Id(e.Text("actorDeviceId")), Id(e.Text("actorAuthorityId")), e.Text("target"), e.Text("reason"), e.Text("peer"),
            e.Text("traceId")));

    private static Guid? Id(string value) => value.Length == 0 ? null : Guid.Parse(value);

    [GeneratedRegex(@"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")]
    private static partial Regex SixDigitTime();

    [GeneratedRegex("^[0-9a-f]{64}$")]
    private static partial Regex LowerHex();
}
