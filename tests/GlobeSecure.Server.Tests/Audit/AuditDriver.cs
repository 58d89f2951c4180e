using System.Text;
using System.Text.Json;
using GlobeSecure.Contracts.V1;
using GlobeSecure.Server.Tests.Channels;
using GlobeSecure.Server.Tests.Identity;
using GlobeSecure.Server.Tests.Requests;
using Grpc.Core;

namespace GlobeSecure.Server.Tests.Audit;

/// <summary>
/// The request world (commission: Alice, Bob; police: Carol; financial intelligence unit: Dave)
/// plus three auditors: one of the network secretariat, one of the commission, one of the police.
/// </summary>
public class AuditFixture : RequestFixture
{
    private AuditWorld? _world;

    public async Task<AuditWorld> AuditWorldAsync(NetworkDriver driver)
    {
        if (_world is null)
        {
            var (world, dave) = await RequestWorldAsync(driver);
            var network = await driver.EnrolAndCertifyAsync(await driver.InviteAsync(world.Network.Administrator, Role.Auditor, "Network Auditor"),
                world.Network.Administrator, Role.Auditor);
            var commission = await driver.EnrolAndCertifyAsync(await driver.InviteAsync(world.CommissionAdmin, Role.Auditor, "Commission Auditor"),
                world.CommissionAdmin, Role.Auditor);
            var police = await driver.EnrolAndCertifyAsync(await driver.InviteAsync(world.PoliceAdmin, Role.Auditor, "Police Auditor"),
                world.PoliceAdmin, Role.Auditor);
            _world = new AuditWorld(world, dave, network, commission, police);
        }

        return _world;
    }
}

public sealed record AuditWorld(ChannelWorld World, Member Dave, Member NetworkAuditor, Member CommissionAuditor, Member PoliceAuditor);

/// <summary>One line of an export, parsed.</summary>
public sealed record ExportLine(string Type, JsonElement Json)
{
    public string Text(string name) => Json.TryGetProperty(name, out var value) ? value.GetString()! : "";

    public long Number(string name) => Json.GetProperty(name).GetInt64();
}

/// <summary>An export as received: its chunks, and its lines parsed.</summary>
public sealed record ReceivedExport(IReadOnlyList<int> ChunkSizes, string Text, IReadOnlyList<ExportLine> Lines)
{
    public ExportLine Header => Lines[0];

    public IReadOnlyList<ExportLine> Entries => [.. Lines.Where(l => l.Type == "entry")];

    public ExportLine End => Lines[^1];
}

/// <summary>What an auditor's client does, as intent methods over the real gRPC channel.</summary>
public sealed class AuditDriver(NetworkDriver network)
{
    public AuditService.AuditServiceClient Audit { get; } = new(network.Channel);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async Task<QueryAuditResponse> QueryAsync(Member auditor, AuditFilter? filter = null, int limit = 0) =>
        await Audit.QueryAuditAsync(new QueryAuditRequest { Filter = filter, Limit = limit }, auditor.Headers, cancellationToken: Ct);

    /// <summary>Every page of the filter, following next_after_position until it is 0.</summary>
    public async Task<(IReadOnlyList<AuditRecord> Entries, int Pages)> QueryAllAsync(Member auditor, AuditFilter? filter = null, int limit = 1000)
    {
        var entries = new List<AuditRecord>();
        var page = (filter ?? new AuditFilter()).Clone();
        var pages = 0;
        while (true)
        {
            var response = await QueryAsync(auditor, page, limit);
            pages++;
            entries.AddRange(response.Entries);
            if (response.NextAfterPosition == 0)
            {
                return (entries, pages);
            }

            page.AfterPosition = response.NextAfterPosition;
        }
    }

    /// <summary>Receives an export whole, as a file writer would, then parses each line.</summary>
    public async Task<ReceivedExport> ExportAsync(Member auditor, AuditFilter? filter = null)
    {
        using var call = Audit.ExportAudit(new ExportAuditRequest { Filter = filter }, auditor.Headers, cancellationToken: Ct);
        var sizes = new List<int>();
        using var bytes = new MemoryStream();
        await foreach (var chunk in call.ResponseStream.ReadAllAsync(Ct))
        {
            sizes.Add(chunk.Data.Length);
            chunk.Data.WriteTo(bytes);
        }

        var text = Encoding.UTF8.GetString(bytes.ToArray());
        var lines = text.Split('\n');
        Assert.Equal("", lines[^1]);
        return new ReceivedExport(sizes, text,
            [.. lines[..^1].Select(line => JsonDocument.Parse(line).RootElement).Select(json => new ExportLine(json.GetProperty("type").GetString()!, json))]);
    }
}
