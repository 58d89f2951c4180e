using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using GlobeSecure.Client.Tests.Story;
using GlobeSecure.Contracts.V1;
using GlobeSecure.Crypto;
using GlobeSecure.EventStore;
using GlobeSecure.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;

namespace GlobeSecure.Client.Tests.Operations;

/// <summary>
/// The backup and restore drill (docs/backup.md): a working network's database is backed up with
/// ops/backup.sh while its server runs, restored with ops/restore.sh into a new PostgreSQL cluster,
/// and a second server started on the restore with the restored checkpoint key. Both hash chains
/// verify there (the audit chain with its signed checkpoints), their heads are the original's,
/// and the members' clients read everything back: the decrypted messages, the document
/// byte-identical, the request and its form.
/// </summary>
public sealed class BackupRestoreTests(StoryServerFixture server) : IClassFixture<StoryServerFixture>, IDisposable
{
    private const string Rfi = "request-for-information";

    private readonly DirectoryInfo _work = WorkDirectory();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose() => _work.Delete(recursive: true);

    [Fact]
    public async Task Restore_BackupOfAWorkingNetworkIntoANewCluster_ChainsVerifyHeadsMatchAndClientsReadEverything()
    {
        await SkipWithoutPostgresToolsAsync();
        var c = await CaseCast.CreateAsync(server);
        var channelId = await c.SharedChannelAsync("Case 2026-900: before the backup");
        await c.Otieno.Client.SendTextAsync(channelId, "The ledger shows three transfers.", cancellationToken: Ct);
        await c.Ana.Client.SendTextAsync(channelId, "The receiving account is at Banco X.", cancellationToken: Ct);
        var original = Path.Combine(_work.FullName, "ledger.pdf");
        await File.WriteAllBytesAsync(original, RandomBytes(3 * 65_536 + 17), Ct);
        var attachment = await c.Otieno.Client.UploadDocumentAsync(channelId, original, cancellationToken: Ct);
        var withDocument = await c.Otieno.Client.SendTextAsync(channelId, "The ledger, as seized.", new SendOptions(Attachments: [attachment]), Ct);
        var draft = await File.ReadAllTextAsync(Path.Combine(AppContext.BaseDirectory, "Templates", "request-for-information.draft.json"), Ct);
        var submitted = await c.Otieno.Client.SubmitRequestAsync(new RequestSubmission(Rfi, 0, c.Brazil, draft, Urgency.Urgent), Ct);
        var requestId = Guid.Parse(submitted.Request.RequestId);
        await c.Ana.Client.AcknowledgeRequestAsync(requestId, Ct);
        var serverKey = Assert.Single(await c.Otieno.Client.GetServerKeysAsync(Ct), k => k.Current);
        var anaHead = c.Ana.Client.DirectoryHead;
        Assert.True(await server.SignAuditHeadAsync(Ct) > 0);
        var before = await HeadsAsync(server.Services.GetRequiredService<PostgresEventStore>());

        var backedUp = await RunOpsAsync("backup.sh", "--db", server.Database.ConnectionString, "--out", Path.Combine(_work.FullName, "backups", "globe.dump"),
            "--key-file", server.CheckpointKeyFile);
        var port = FreePort();
        var target = Path.Combine(_work.FullName, "restore");
        var restored = await RunOpsAsync("restore.sh", Path.Combine(_work.FullName, "backups", "globe.dump"), "--target", target, "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        try
        {
            var app = await server.StartReplicaAsync(Ct, b =>
            {
                b.Configuration["ConnectionStrings:Globe"] = $"Host=127.0.0.1;Port={port};Username=postgres;Database=globe";
                b.Configuration["Globe:Audit:CheckpointKeyFile"] = Path.Combine(target, "audit-checkpoint.key");
            });
            try
            {
                var store = app.Services.GetRequiredService<PostgresEventStore>();
                var heads = await HeadsAsync(store);
                var events = await store.VerifyEventsAsync(Ct);
                var signingKey = new SigningPublicKey(serverKey.PublicKey.Span);
                var audit = await store.VerifyAuditAsync(cp => CheckpointSignature.Verify(signingKey, c.Network.Secretariat, cp.Position, cp.Hash.Span,
                    cp.SignedAt, cp.KeyId, cp.Signature.Span) ? null : "its signature does not verify under the original server's key", Ct);

                await using var ana = ClientOn(app, c, c.Ana, anaHead);
                var history = await ana.HistoryAsync(channelId, cancellationToken: Ct);
                var opened = new List<OpenedMessage>();
                foreach (var message in history)
                {
                    opened.Add(await ana.OpenAsync(message, Ct));
                }

                var received = opened.Single(m => m.MessageId == Guid.Parse(withDocument.Envelope.Header.MessageId)).Attachments.Single();
                var downloaded = Path.Combine(_work.FullName, "ledger-restored.pdf");
                await ana.DownloadDocumentAsync(received, downloaded, cancellationToken: Ct);
                var request = await ana.GetRequestAsync(requestId, Ct);
                var form = await ana.ReadRequestFormAsync(request, Ct);
                await using var otieno = ClientOn(app, c, c.Otieno, DirectoryHead.None);
                var keysThere = await otieno.GetServerKeysAsync(Ct);
                var afterReads = await store.VerifyAuditAsync(Ct);

                Assert.Contains("database:", backedUp, StringComparison.Ordinal);
                Assert.Contains("checkpoint key:", backedUp, StringComparison.Ordinal);
                Assert.Contains($"Port={port}", restored, StringComparison.Ordinal);
                Assert.Equal(before, heads);
                Assert.True(events.IsValid, events.Problem);
                Assert.Equal(before.EventPosition, events.Checked);
                Assert.True(audit.IsValid, audit.Problem);
                Assert.Equal(before.AuditPosition, audit.Checked);
                Assert.True(audit.Checkpoints >= 1);
                Assert.Equal(
                    ["The ledger, as seized.", "The receiving account is at Banco X.", "The ledger shows three transfers."],
                    opened.Select(m => m.Text));
                Assert.Equal(await File.ReadAllBytesAsync(original, Ct), await File.ReadAllBytesAsync(downloaded, Ct));
                Assert.Equal((RequestStatus.Acknowledged, c.Kenya.ToString(), c.Brazil.ToString()),
                    (request.Status, request.RequestingAuthorityId, request.RequestedAuthorityId));
                Assert.Equal(draft, form.Json);
                Assert.Equal(serverKey.KeyId, Assert.Single(keysThere, k => k.Current).KeyId);
                Assert.True(afterReads.IsValid, afterReads.Problem);
                Assert.True(afterReads.Checked > before.AuditPosition); // the restored server's reads extend the restored chain
            }
            finally
            {
                await app.StopAsync(CancellationToken.None);
                await app.DisposeAsync();
            }
        }
        finally
        {
            await StopClusterAsync(Path.Combine(target, "pg"));
        }
    }

    private sealed record Heads(long EventPosition, string EventHash, long AuditPosition, string AuditHash);

    private static async Task<Heads> HeadsAsync(PostgresEventStore store)
    {
        var eventPosition = await store.HeadPositionAsync(Ct);
        var last = Assert.Single(await store.ReadAllAsync(eventPosition - 1, 1, Ct));
        var (auditPosition, auditHash) = await store.ReadAuditHeadAsync(Ct);
        return new Heads(eventPosition, Convert.ToHexStringLower(last.Hash.Span), auditPosition, Convert.ToHexStringLower(auditHash.Span));
    }

    /// <summary>A participant's client on another server: the same device keys, pinned root and (optionally) last verified directory head.</summary>
    private static GlobeClient ClientOn(WebApplication app, CaseCast c, Participant participant, DirectoryHead head) => new(new GlobeClientOptions
    {
        Address = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First()),
        Device = participant.Keys,
        PinnedRootKeys = [c.Network.RootKey.PublicKey],
        NetworkName = c.Network.Created.Network.Name,
        DirectoryHead = head,
    });

    /// <summary>A temporary directory the postgres user can traverse (ops/restore.sh runs the new cluster as postgres under root).</summary>
    private static DirectoryInfo WorkDirectory()
    {
        var directory = Directory.CreateTempSubdirectory("globe-backup-");
        if (!OperatingSystem.IsWindows())
        {
            directory.UnixFileMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;
        }

        return directory;
    }

    private static byte[] RandomBytes(int size)
    {
        var bytes = new byte[size];
        new Random(900).NextBytes(bytes);
        return bytes;
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>pg_dump and pg_restore come from the machine's PostgreSQL (ops/test.sh installs it); without it there is nothing to drill.</summary>
    private static async Task SkipWithoutPostgresToolsAsync()
    {
        var (code, _) = await RunAsync("bash", "-c", ". ops/lib/postgres.sh && globe_pg_bindir");
        Assert.SkipWhen(code != 0, "No local PostgreSQL binaries (pg_dump, pg_restore, initdb) for the backup drill.");
    }

    private static async Task StopClusterAsync(string data)
    {
        if (File.Exists(Path.Combine(data, "postmaster.pid")))
        {
            await RunAsync("bash", "-c", """. ops/lib/postgres.sh && globe_as_pg "$(globe_pg_bindir)/pg_ctl" -D "$1" -m fast -w stop""", "_", data);
        }
    }

    private static async Task<string> RunOpsAsync(string script, params string[] args)
    {
        var (code, output) = await RunAsync("bash", [Path.Combine("ops", script), .. args]);
        Assert.True(code == 0, $"ops/{script} exited with {code}: {output}");
        return output;
    }

    private static async Task<(int Code, string Output)> RunAsync(string file, params string[] args)
    {
        var start = new ProcessStartInfo(file)
        {
            WorkingDirectory = RepositoryRoot(),
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {file}.");
        var stdout = process.StandardOutput.ReadToEndAsync(Ct);
        var stderr = process.StandardError.ReadToEndAsync(Ct);
        await process.WaitForExitAsync(Ct);
        return (process.ExitCode, await stdout + await stderr);
    }

    private static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "GlobeSecure.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException($"No GlobeSecure.sln above {AppContext.BaseDirectory}.");
    }
}
