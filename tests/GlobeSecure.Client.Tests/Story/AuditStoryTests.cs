using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text.Json;
using GlobeSecure.Contracts.V1;
using GlobeSecure.Crypto;
using Grpc.Core;

namespace GlobeSecure.Client.Tests.Story;

/// <summary>
/// Auditors through the client library against the real server and PostgreSQL: Kenya works a
/// case with Brazil; the network's auditor pages through the trail and exports it to a file whose
/// every link recomputes; Kenya's auditor sees Kenya's part; an investigator is refused.
/// </summary>
public sealed class AuditStoryTests(StoryServerFixture server) : IClassFixture<StoryServerFixture>, IDisposable
{
    private static readonly ConditionalWeakTable<StoryServerFixture, Task<(CaseCast Cast, Participant Network, Participant Kenya)>> Casts = new();

    private readonly string _work = Directory.CreateTempSubdirectory("globe-audit-").FullName;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private Task<(CaseCast Cast, Participant Network, Participant Kenya)> CastAsync() => Casts.GetValue(server, async s =>
    {
        var cast = await CaseCast.CreateAsync(s);
        var network = cast.Network;
        var code = await network.FirstAdministrator.Client.InviteUserAsync(network.Secretariat, "Network Auditor", Role.Auditor, cancellationToken: Ct);
        var networkAuditor = await network.EnrolAsync(code);
        await network.FirstAdministrator.Client.CertifyDeviceAsync(networkAuditor.DeviceId, new DeviceScope(AuthorityId: network.Secretariat),
            cancellationToken: Ct);
        return (cast, networkAuditor, await network.UserAsync(cast.KenyaAdmin, "Kenya Auditor", Role.Auditor));
    });

    public void Dispose() => Directory.Delete(_work, recursive: true);

    [Fact]
    public async Task ExportAudit_NetworkAuditorToAFile_EveryLinkRecomputesAndMatchesThePages()
    {
        var (c, auditor, _) = await CastAsync();
        await c.SharedChannelAsync("Audited case");
        var file = Path.Combine(_work, "trail.jsonl");

        var paged = new List<AuditRecord>();
        await foreach (var record in auditor.Client.QueryAuditAsync(limit: 50, cancellationToken: Ct))
        {
            paged.Add(record);
        }

        var summary = await auditor.Client.ExportAuditAsync(null, file, Ct);

        var lines = (await File.ReadAllLinesAsync(file, Ct)).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        var entries = lines.Where(l => l.GetProperty("type").GetString() == "entry").ToList();
        Assert.Equal("header", lines[0].GetProperty("type").GetString());
        Assert.Equal(c.Network.Secretariat.ToString(), lines[0].GetProperty("networkId").GetString());
        Assert.Equal("end", lines[^1].GetProperty("type").GetString());
        Assert.Equal(entries.Count, summary.Entries);
        Assert.Equal(new FileInfo(file).Length, summary.Bytes);
        Assert.True(paged.Count > 50);
        Assert.Equal(paged.Select(p => p.Position), paged.Select(p => p.Position).Distinct().Order());
        Assert.Equal(paged.Select(p => Convert.ToHexStringLower(p.Hash.Span)), entries.Take(paged.Count).Select(e => e.GetProperty("hash").GetString()));
        var previous = new string('0', 64);
        foreach (var e in entries)
        {
            Assert.Equal(previous, e.GetProperty("previousHash").GetString());
            previous = Convert.ToHexStringLower(ChainLinks.AuditLink(Convert.FromHexString(previous), e.GetProperty("position").GetInt64(),
                Guid.Parse(Text(e, "entryId")), DateTimeOffset.Parse(Text(e, "occurredAt"), CultureInfo.InvariantCulture), Text(e, "action"), Text(e, "outcome"),
                Id(e, "actorUserId"), Id(e, "actorDeviceId"), Id(e, "actorAuthorityId"), Text(e, "target"), Text(e, "reason"), Text(e, "peer"),
                Text(e, "traceId")));
            Assert.Equal(previous, e.GetProperty("hash").GetString());
        }
    }

    [Fact]
    public async Task QueryAudit_AuthorityAuditor_ItsAuthoritysEntriesOnly()
    {
        var (c, network, kenya) = await CastAsync();
        var channel = await c.SharedChannelAsync("Kenya and Brazil");

        var seen = new List<AuditRecord>();
        await foreach (var record in kenya.Client.QueryAuditAsync(new AuditFilter { Target = channel.ToString() }, cancellationToken: Ct))
        {
            seen.Add(record);
        }

        var all = new List<AuditRecord>();
        await foreach (var record in kenya.Client.QueryAuditAsync(cancellationToken: Ct))
        {
            all.Add(record);
        }

        var everything = new List<AuditRecord>();
        await foreach (var record in network.Client.QueryAuditAsync(limit: 1000, cancellationToken: Ct))
        {
            everything.Add(record);
        }

        Assert.Contains(seen, r => r.Action.EndsWith("/CreateChannel", StringComparison.Ordinal) && r.ActorUserId == c.Otieno.UserId.ToString());
        Assert.Contains(everything, r => r.Target == c.BrazilAdmin.DeviceId.ToString());
        Assert.Contains(everything, r => r.ActorAuthorityId == c.Brazil.ToString() && r.Target == c.Ana.UserId.ToString());
        Assert.DoesNotContain(all, r => r.Target == c.BrazilAdmin.DeviceId.ToString());
        Assert.DoesNotContain(all, r => r.ActorAuthorityId == c.Brazil.ToString() && r.Target == c.Ana.UserId.ToString());
    }

    [Fact]
    public async Task ExportAudit_Investigator_PermissionDeniedAndNothingLeftAtThePath()
    {
        var (c, _, _) = await CastAsync();
        var file = Path.Combine(_work, "refused.jsonl");

        var error = await Assert.ThrowsAsync<GlobeClientException>(() => c.Otieno.Client.ExportAuditAsync(null, file, Ct));

        Assert.Equal(StatusCode.PermissionDenied, error.Status);
        Assert.False(File.Exists(file));
        Assert.Empty(Directory.EnumerateFileSystemEntries(_work));
    }

    private static string Text(JsonElement e, string name) => e.TryGetProperty(name, out var value) ? value.GetString()! : "";

    private static Guid? Id(JsonElement e, string name) => e.TryGetProperty(name, out var value) ? Guid.Parse(value.GetString()!) : null;
}
