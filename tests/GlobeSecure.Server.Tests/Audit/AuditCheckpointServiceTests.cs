using GlobeSecure.Contracts.V1;
using GlobeSecure.Crypto;
using GlobeSecure.EventStore;
using GlobeSecure.Server.Audit;
using GlobeSecure.Server.Tests.Identity;
using GlobeSecure.Testing;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace GlobeSecure.Server.Tests.Audit;

/// <summary>A network with a network auditor and an authority auditor, and the checkpoint passes run on demand.</summary>
internal sealed class AuditNetwork : IDisposable
{
    private AuditNetwork(GlobeServerFixture server, NetworkDriver driver, BootstrappedNetwork network, Member networkAuditor, Member authorityAuditor)
    {
        Server = server;
        Driver = driver;
        Network = network;
        NetworkAuditor = networkAuditor;
        AuthorityAuditor = authorityAuditor;
        Audit = new Contracts.V1.AuditService.AuditServiceClient(driver.Channel);
    }

    public GlobeServerFixture Server { get; }

    public NetworkDriver Driver { get; }

    public BootstrappedNetwork Network { get; }

    public Member NetworkAuditor { get; }

    public Member AuthorityAuditor { get; }

    public Contracts.V1.AuditService.AuditServiceClient Audit { get; }

    public PostgresEventStore Store => Server.Services.GetRequiredService<PostgresEventStore>();

    public AuditCheckpoints Checkpoints => Server.Services.GetRequiredService<AuditCheckpoints>();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>Bootstraps a network, admits an authority, and enrols an auditor in each.</summary>
    public static async Task<AuditNetwork> CreateAsync(GlobeServerFixture server)
    {
        var driver = new NetworkDriver(server);
        var network = await driver.BootstrapAsync();
        var second = await driver.AddNetworkAdministratorAsync(network);
        var authorityAdmin = await driver.AdmitAuthorityAsync(network.Administrator, second);
        var networkAuditor = await driver.EnrolAndCertifyAsync(await driver.InviteAsync(network.Administrator, Role.Auditor, "Network Auditor"),
            network.Administrator, Role.Auditor);
        var authorityAuditor = await driver.EnrolAndCertifyAsync(await driver.InviteAsync(authorityAdmin, Role.Auditor, "Authority Auditor"),
            authorityAdmin, Role.Auditor);
        return new AuditNetwork(server, driver, network, networkAuditor, authorityAuditor);
    }

    /// <summary>A fresh session for a member (after the clock moved past the old one).</summary>
    public async Task ReauthenticateAsync(Member member) => member.Token = await Driver.AuthenticateAsync(member.Device);

    public async Task<VerifyAuditResponse> VerifyAsync(Member? auditor = null) =>
        await Audit.VerifyAuditAsync(new VerifyAuditRequest(), (auditor ?? NetworkAuditor).Headers, cancellationToken: Ct);

    public async Task<IReadOnlyList<Contracts.V1.AuditCheckpoint>> ListAsync(Member? auditor = null, long after = 0, int limit = 0) =>
        (await Audit.ListCheckpointsAsync(new ListCheckpointsRequest { AfterPosition = after, Limit = limit }, (auditor ?? NetworkAuditor).Headers,
            cancellationToken: Ct)).Checkpoints;

    /// <summary>Plays an operator with database rights going around the append-only guard.</summary>
    public Task TamperAsync(string table, string sql) => Server.Database.ExecuteScalarAsync($"""
        alter table globe.{table} disable trigger {table}_append_only;
        {sql};
        alter table globe.{table} enable trigger {table}_append_only;
        """);

    /// <summary>
    /// The stored chain as an export file's lines (docs/audit.md "Export format"), written by the
    /// client library's <see cref="AuditExportWriter"/> from the store's reads: every entry
    /// (or those <paramref name="keep"/> keeps, then not contiguous), every checkpoint, the server keys.
    /// </summary>
    public async Task<List<string>> ExportAsync(Func<StoredAuditEntry, bool>? keep = null)
    {
        var keys = (await Driver.Directory.GetServerKeysAsync(new GetServerKeysRequest(), NetworkAuditor.Headers, cancellationToken: Ct)).Keys;
        var checkpoints = await Store.ReadCheckpointsAsync(0, 100_000, Ct);
        var cut = checkpoints.LastOrDefault(c => c.RetentionCut);
        using var buffer = new MemoryStream();
        using (var writer = new AuditExportWriter(buffer))
        {
            writer.WriteHeader(new AuditExportHeader(DateTimeOffset.UtcNow, Network.SecretariatId, keep is null, keep is null ? null : """{"action":"x"}""",
                [.. keys.Select(k => new AuditExportKey(k.KeyId, k.PublicKey.ToByteArray()))]));
            var previous = cut?.Hash ?? HashChain.Genesis;
            var first = cut?.Position ?? 0;
            for (IReadOnlyList<StoredAuditEntry> page; (page = await Store.ReadAuditAsync(first, 1000, Ct)).Count > 0; first = page[^1].Position)
            {
                foreach (var stored in page)
                {
                    var e = stored.Entry;
                    if (keep?.Invoke(stored) ?? true)
                    {
                        writer.WriteEntry(new AuditExportEntry(stored.Position, e.EntryId, e.OccurredAt, e.Action, e.Outcome.ToWire(), e.ActorUserId,
                            e.ActorDeviceId, e.ActorAuthorityId, e.Target, e.Reason, e.Peer, e.TraceId, previous.ToArray(), stored.Hash.ToArray()));
                    }

                    previous = stored.Hash;
                }
            }

            foreach (var c in checkpoints.Where(c => c.Position >= (cut?.Position ?? 0)))
            {
                writer.WriteCheckpoint(new AuditExportCheckpoint(c.Position, c.Hash.ToArray(), c.SignedAt, c.KeyId, c.Signature.ToArray(), c.RetentionCut));
            }

            writer.WriteEnd();
        }

        return [.. System.Text.Encoding.UTF8.GetString(buffer.ToArray()).Split('\n', StringSplitOptions.RemoveEmptyEntries)];
    }

    public void Dispose() => Driver.Dispose();
}

/// <summary>One network for the tests of a class (they only add entries and checkpoints).</summary>
public sealed class AuditServerFixture : IdentityServerFixture
{
    private AuditNetwork? _network;

    internal async Task<AuditNetwork> NetworkAsync() => _network ??= await AuditNetwork.CreateAsync(this);

    public override async ValueTask DisposeAsync()
    {
        _network?.Dispose();
        await base.DisposeAsync();
    }
}

public sealed class AuditCheckpointServiceTests(AuditServerFixture server) : IClassFixture<AuditServerFixture>, IAsyncLifetime
{
    private AuditNetwork _n = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync() => _n = await server.NetworkAsync();

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    [Fact]
    public async Task SignHead_HeadMovedOrNot_SignsOncePerPositionUnderTheCurrentKey()
    {
        var first = await _n.Checkpoints.SignHeadAsync(Ct);
        var again = await _n.Checkpoints.SignHeadAsync(Ct);

        Assert.True(first > 0);
        Assert.Equal(0, again);
        var head = await _n.Store.ReadAuditHeadAsync(Ct);
        Assert.Equal(head.Position, first);
        var keys = (await _n.Driver.Directory.GetServerKeysAsync(new GetServerKeysRequest(), _n.NetworkAuditor.Headers, cancellationToken: Ct)).Keys;
        var current = Assert.Single(keys, k => k.Current);
        Assert.Equal("audit-checkpoint", current.Purpose);
        Assert.Equal(new SigningPublicKey(current.PublicKey.Span).Fingerprint, current.KeyId);
        var checkpoint = Assert.Single(await _n.ListAsync(after: first - 1, limit: 1));
        Assert.Equal(current.KeyId, checkpoint.KeyId);
        Assert.Equal(head.Hash.ToArray(), checkpoint.Hash.ToByteArray());
        Assert.True(CheckpointSignature.Verify(new SigningPublicKey(current.PublicKey.Span), _n.Network.SecretariatId, checkpoint.Position,
            checkpoint.Hash.Span, checkpoint.SignedAt.ToDateTimeOffset(), checkpoint.KeyId, checkpoint.Signature.Span));
    }

    [Fact]
    public async Task ListCheckpoints_Pages_AscendingAndSeenByAuthorityAuditorsToo()
    {
        await _n.Checkpoints.SignHeadAsync(Ct);
        await _n.VerifyAsync();
        await _n.Checkpoints.SignHeadAsync(Ct);

        var all = await _n.ListAsync(limit: 1000);
        var page = await _n.ListAsync(_n.AuthorityAuditor, after: all[0].Position, limit: 1);

        Assert.True(all.Count >= 2);
        Assert.Equal(all.Select(c => c.Position).Order(), all.Select(c => c.Position));
        Assert.Equal(all[1].Position, Assert.Single(page).Position);
        var bad = await Assert.ThrowsAsync<RpcException>(() => _n.ListAsync(limit: 1001));
        Assert.Equal(StatusCode.InvalidArgument, bad.StatusCode);
        var read = (await _n.Store.ReadAuditAsync(0, 100_000, Ct)).Last(e => e.Entry.Action.EndsWith("/ListCheckpoints", StringComparison.Ordinal)
            && e.Entry.Outcome == AuditOutcome.Allowed);
        Assert.Equal(_n.AuthorityAuditor.UserId, read.Entry.ActorUserId);
    }

    [Fact]
    public async Task VerifyAudit_AuthorityAuditor_PermissionDeniedAndAudited()
    {
        var refused = await Assert.ThrowsAsync<RpcException>(() => _n.VerifyAsync(_n.AuthorityAuditor));

        Assert.Equal(StatusCode.PermissionDenied, refused.StatusCode);
        var entry = (await _n.Store.ReadAuditAsync(0, 100_000, Ct)).Last(e => e.Entry.Action.EndsWith("/VerifyAudit", StringComparison.Ordinal));
        Assert.Equal(AuditOutcome.Denied, entry.Entry.Outcome);
        Assert.Equal(_n.AuthorityAuditor.UserId, entry.Entry.ActorUserId);
        var investigatorDenied = await Assert.ThrowsAsync<RpcException>(() => _n.VerifyAsync(_n.Network.Administrator));
        Assert.Equal(StatusCode.PermissionDenied, investigatorDenied.StatusCode);
    }

    [Fact]
    public async Task VerifyAudit_UntouchedChainWithCheckpoints_ValidWithCounts()
    {
        await _n.Checkpoints.SignHeadAsync(Ct);
        await _n.VerifyAsync();
        await _n.Checkpoints.SignHeadAsync(Ct);

        var result = await _n.VerifyAsync();

        Assert.True(result.Valid, result.Problem);
        Assert.True(result.Entries > 10);
        Assert.True(result.Checkpoints >= 2);
        Assert.Equal(0, result.FirstBadPosition);
    }
}

/// <summary>Tampering tests: each on its own server, so the others' chains stay intact.</summary>
public sealed class AuditTamperTests : IAsyncLifetime
{
    private readonly IdentityServerFixture _server = new();
    private AuditNetwork _n = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        await _server.InitializeAsync();
        _n = await AuditNetwork.CreateAsync(_server);
    }

    public async ValueTask DisposeAsync()
    {
        _n.Dispose();
        await _server.DisposeAsync();
    }

    [Fact]
    public async Task VerifyAudit_EntryChangedWithPlainSql_NamesThatPosition()
    {
        await _n.Checkpoints.SignHeadAsync(Ct);
        await _n.TamperAsync("audit", "update globe.audit set action = 'forged' where position = 5");

        var result = await _n.VerifyAsync();

        Assert.False(result.Valid);
        Assert.Equal(5, result.FirstBadPosition);
        Assert.Contains("hash does not match", result.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public async Task VerifyAudit_CheckpointSignatureChangedWithPlainSql_NamesItsPosition()
    {
        var position = await _n.Checkpoints.SignHeadAsync(Ct);
        await _n.TamperAsync("audit_checkpoints", $"update globe.audit_checkpoints set signature = decode(repeat('00', 64), 'hex') where position = {position}");

        var result = await _n.VerifyAsync();

        Assert.False(result.Valid);
        Assert.Equal(position, result.FirstBadPosition);
        Assert.Contains("signature", result.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public async Task GetServerKeys_ReplicaWithANewKeyFile_ListsBothAndCheckpointsOfEitherVerify()
    {
        var first = await _n.Checkpoints.SignHeadAsync(Ct);
        var rotated = Path.Combine(Path.GetDirectoryName(_server.CheckpointKeyFile)!, "rotated.key");
        var replica = await _server.StartReplicaAsync(Ct, b => b.Configuration["Globe:Audit:CheckpointKeyFile"] = rotated);
        try
        {
            await _n.VerifyAsync();
            var both = await Task.WhenAll(_n.Checkpoints.SignHeadAsync(Ct), replica.Services.GetRequiredService<AuditCheckpoints>().SignHeadAsync(Ct));
            using var channel = GlobeServerFixture.ChannelTo(replica);
            var keys = (await new DirectoryService.DirectoryServiceClient(channel).GetServerKeysAsync(new GetServerKeysRequest(),
                _n.NetworkAuditor.Headers, cancellationToken: Ct)).Keys;

            Assert.Equal(2, keys.Count);
            Assert.Equal(replica.Services.GetRequiredService<CheckpointKey>().KeyId, Assert.Single(keys, k => k.Current).KeyId);
            Assert.NotEqual(_server.Services.GetRequiredService<CheckpointKey>().KeyId, replica.Services.GetRequiredService<CheckpointKey>().KeyId);
            Assert.Single(both, p => p > first);
            var result = await _n.VerifyAsync();
            Assert.True(result.Valid, result.Problem);
            Assert.Equal(2, result.Checkpoints);
        }
        finally
        {
            await replica.StopAsync(Ct);
            await replica.DisposeAsync();
        }
    }

    [Fact]
    public void KeyFile_CreatedByTheServer_IsOwnerOnly()
    {
        Assert.True(File.Exists(_server.CheckpointKeyFile));
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(_server.CheckpointKeyFile));
        }
    }
}

/// <summary>A server whose audit retention is five minutes (the test override), on a clock the test moves.</summary>
public sealed class ShortRetentionFixture : IdentityServerFixture
{
    protected override void Configure(WebApplicationBuilder builder)
    {
        base.Configure(builder);
        builder.Configuration["Globe:Audit:Retention"] = "00:05:00";
        builder.Configuration["Globe:Audit:AllowShortRetention"] = "true";
    }
}

public sealed class AuditRetentionTests(ShortRetentionFixture server) : IClassFixture<ShortRetentionFixture>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task PurgeExpired_EntriesOlderThanRetention_CutSignedAndTheRestVerifiesFromIt()
    {
        using var n = await AuditNetwork.CreateAsync(server);
        await n.Checkpoints.SignHeadAsync(Ct);
        var before = await n.Store.ReadAuditHeadAsync(Ct);
        server.Clock.Advance(TimeSpan.FromMinutes(10));
        await n.ReauthenticateAsync(n.NetworkAuditor);

        var purged = await n.Checkpoints.PurgeExpiredAsync(Ct);

        // The head before the clock moved has a plain checkpoint already, so the cut is just before it.
        Assert.Equal(before.Position - 1, purged);
        var cut = Assert.Single(await n.ListAsync(limit: 1000), c => c.RetentionCut);
        Assert.Equal(before.Position - 1, cut.Position);
        Assert.Equal(before.Position, (await n.Store.ReadAuditAsync(0, 1, Ct))[0].Position);
        Assert.Contains(await n.Store.ReadAuditAsync(0, 1000, Ct), e => e.Entry.Action == AuditCheckpoints.RetentionAction);
        var result = await n.VerifyAsync();
        Assert.True(result.Valid, result.Problem);
        Assert.Equal(0, await n.Checkpoints.PurgeExpiredAsync(Ct));
        var export = await n.ExportAsync();
        var offline = Client.AuditExportVerifier.Verify(new MemoryStream(System.Text.Encoding.UTF8.GetBytes(string.Join('\n', export) + "\n")));
        Assert.True(offline.IsValid, offline.Problem);
        Assert.Contains("\"retentionCut\":true", export.Single(l => l.Contains("\"checkpoint\"", StringComparison.Ordinal) && l.Contains(
            $"\"position\":{before.Position - 1},", StringComparison.Ordinal)), StringComparison.Ordinal);
        // The server's own export after the cut: its first entry's previous link is the cut's signed hash.
        using var served = new MemoryStream();
        using (var call = n.Audit.ExportAudit(new ExportAuditRequest(), n.NetworkAuditor.Headers, cancellationToken: Ct))
        {
            while (await call.ResponseStream.MoveNext(Ct))
            {
                call.ResponseStream.Current.Data.WriteTo(served);
            }
        }

        served.Position = 0;
        var servedCheck = Client.AuditExportVerifier.Verify(served);
        Assert.True(servedCheck.IsValid, $"{servedCheck.Problem} at position {servedCheck.FirstBadPosition}, line {servedCheck.Line}");
        Assert.True(servedCheck.Contiguous);

        await n.TamperAsync("audit", $"update globe.audit set peer = 'ipv4:10.0.0.1:1' where position = {before.Position + 2}");
        var tampered = await n.VerifyAsync();
        Assert.False(tampered.Valid);
        Assert.Equal(before.Position + 2, tampered.FirstBadPosition);
    }
}
