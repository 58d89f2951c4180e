using System.Collections.Concurrent;
using System.Security.Cryptography;
using GlobeSecure.Contracts.V1;

namespace GlobeSecure.Client.Tests.Faults;

/// <summary>
/// Server processes killed for real (SIGKILL: no shutdown, connections reset, nothing flushed)
/// while clients upload, subscribe and send, through <see cref="GlobeClient"/> as it is: the
/// client library resumes, retries and fails over by itself; the tests only kill and restart.
/// Afterwards nothing acknowledged is missing or stored twice, and both hash chains verify.
/// </summary>
public sealed class ServerKillTests(ServerProcessFixture fixture) : IClassFixture<ServerProcessFixture>
{
    private const string ChunksOfChannel =
        "select count(*) from globe.document_chunks c join globe.documents d using (document_id) where d.channel_id = $1";

    private const string DocumentsOfChannel = "select count(*) from globe.documents where channel_id = $1";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public Task UploadDocument_ServerKilledMidUpload_ResumesAfterRestartIntoOneIdenticalDocument() => fixture.WithServerLogsAsync(async () =>
    {
        await fixture.RunningAsync();
        var c = fixture.Cast;
        var server = fixture.Server;
        var otieno = fixture.ClientFor(c.Otieno, [server.Address]);
        var wanjiru = fixture.ClientFor(c.Wanjiru, [server.Address]);
        var channelId = Guid.Parse((await otieno.CreateChannelAsync("Seized ledgers", cancellationToken: Ct)).ChannelId);
        // 160 chunks: the server stores them in batches of 64 (ChunkWriter), so when the client
        // reaches chunk 96 the first batch is stored and the second is not yet.
        var content = RandomNumberGenerator.GetBytes(160 * GlobeClient.DocumentChunkSize);
        var killed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        long heldAtKill = -1;
        var input = new PausingStream(content, 96L * GlobeClient.DocumentChunkSize, async () =>
        {
            while ((heldAtKill = await fixture.CountAsync(ChunksOfChannel, channelId)) < 64)
            {
                await Task.Delay(20, Ct); // Waiting for the first batch's commit, a condition.
            }

            server.Kill();
            killed.SetResult();
        });
        var progress = new LastProgress();
        var runs = server.Runs;

        var upload = otieno.UploadDocumentAsync(channelId, input, "ledger.bin", progress: progress, cancellationToken: Ct);
        await killed.Task.WaitAsync(Ct);
        var heldWhileDown = await fixture.CountAsync(ChunksOfChannel, channelId);
        await server.RestartAsync(Ct);
        var attachment = await upload;
        var sent = await otieno.SendTextAsync(channelId, "The ledger, as seized.", new SendOptions(Attachments: [attachment]), Ct);
        var opened = await wanjiru.OpenAsync(await wanjiru.GetMessageAsync(channelId, Guid.Parse(sent.Envelope.Header.MessageId), Ct), Ct);
        var target = Path.Combine(Path.GetTempPath(), $"globe-faults-{Guid.NewGuid():N}.bin");
        try
        {
            var downloaded = await wanjiru.DownloadDocumentAsync(Assert.Single(opened.Attachments), target, cancellationToken: Ct);
            var documents = await wanjiru.ListDocumentsAsync(channelId, Ct);
            var (events, audit) = await fixture.VerifyChainsAsync();

            Assert.Equal(runs + 1, server.Runs);
            Assert.Equal(64, heldAtKill);
            Assert.Equal(64, heldWhileDown);
            Assert.True(progress.Last?.Resumes >= 1, "the upload never resumed");
            Assert.Equal(SHA256.HashData(content), SHA256.HashData(await File.ReadAllBytesAsync(target, Ct)));
            Assert.Equal(content.LongLength, downloaded.Length);
            Assert.Equal(attachment.DocumentId.ToString(), Assert.Single(documents).DocumentId);
            Assert.Equal(1, await fixture.CountAsync(DocumentsOfChannel, channelId));
            Assert.Equal(160, await fixture.CountAsync(ChunksOfChannel, channelId));
            Assert.True(events.IsValid, events.Problem);
            Assert.True(audit.IsValid, audit.Problem);
        }
        finally
        {
            File.Delete(target);
        }
    });

    [Fact]
    public Task Subscribe_ServerKilledMidStreamWithAnAnswerLost_ResumesWithEveryAcknowledgedMessageOnceInOrder() => fixture.WithServerLogsAsync(async () =>
    {
        await fixture.RunningAsync();
        var c = fixture.Cast;
        var server = fixture.Server;
        var loss = new AcknowledgementLoss(server);
        var otieno = fixture.ClientFor(c.Otieno, [server.Address], loss);
        var wanjiru = fixture.ClientFor(c.Wanjiru, [server.Address]);
        var channelId = Guid.Parse((await otieno.CreateChannelAsync("Transfers to Banco X", cancellationToken: Ct)).ChannelId);
        await using var watch = new ChannelWatch(wanjiru, channelId);
        var acknowledged = new List<Guid>();

        for (var i = 0; i < 5; i++)
        {
            acknowledged.Add(await SendAsync(otieno, channelId, $"Transfer {i}"));
        }

        var beforeKill = await watch.ReadThroughAsync(acknowledged[^1]);
        // The sixth message is stored, then the server dies before its answer reaches the client:
        // the client's retry sends the same envelope again once the server is back.
        loss.LoseNextSendAcknowledgement();
        var lostId = Guid.CreateVersion7();
        var retried = otieno.SendTextAsync(channelId, "Transfer 5", new SendOptions(MessageId: lostId), Ct);
        await loss.Killed.Task.WaitAsync(Ct);
        var storedWhileDown = await fixture.CountAsync("select count(*) from globe.events where stream_id = 'channel-message-' || $1::text", lostId);
        await server.RestartAsync(Ct);
        var stored = await retried;
        acknowledged.Add(Guid.Parse(stored.Envelope.Header.MessageId));
        for (var i = 6; i < 9; i++)
        {
            acknowledged.Add(await SendAsync(otieno, channelId, $"Transfer {i}"));
        }

        var afterKill = await watch.ReadThroughAsync(acknowledged[^1]);
        var history = await wanjiru.HistoryAsync(channelId, afterPosition: 1, pageSize: 500, cancellationToken: Ct);
        var (events, audit) = await fixture.VerifyChainsAsync();

        Assert.Equal(1, storedWhileDown);
        Assert.True(loss.AttemptsSinceArmed >= 2, $"the lost send was not retried ({loss.AttemptsSinceArmed} attempt)");
        Assert.Equal(lostId, acknowledged[5]);
        Assert.Equal(acknowledged, [.. beforeKill, .. afterKill]);
        Assert.Equal(acknowledged, history.Select(m => Guid.Parse(m.Envelope.Header.MessageId)));
        Assert.Equal(1, await fixture.CountAsync("select count(*) from globe.events where stream_id = 'channel-message-' || $1::text", lostId));
        Assert.True(events.IsValid, events.Problem);
        Assert.True(audit.IsValid, audit.Problem);
    });

    [Fact]
    public Task Run_OneOfTwoReplicasKilled_ClientsContinueOnTheOtherAndNothingIsLost() => fixture.WithServerLogsAsync(async () =>
    {
        await fixture.RunningAsync(replicaToo: true);
        var c = fixture.Cast;
        var first = fixture.Server;
        var second = fixture.Replica;
        Uri[] both = [first.Address, second.Address];
        var otieno = fixture.ClientFor(c.Otieno, both);
        var wanjiru = fixture.ClientFor(c.Wanjiru, both);
        var watcher = fixture.ClientFor(c.Wanjiru, both);
        var channelId = Guid.Parse((await otieno.CreateChannelAsync("Replicated case", cancellationToken: Ct)).ChannelId);
        await using var watch = new ChannelWatch(watcher, channelId);
        await Task.WhenAll(otieno.AuthenticateAsync(Ct), wanjiru.AuthenticateAsync(Ct));
        var acknowledged = new ConcurrentQueue<Guid>();
        var killAfter = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var killed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var content = RandomNumberGenerator.GetBytes((24 * GlobeClient.DocumentChunkSize) + 1234);

        var sentAfterKill = 0;

        // Otieno pauses after five messages until the replica is dead, so the kill falls inside
        // his run; Wanjiru never pauses, so calls of hers are on the wire when it dies.
        async Task SenderAsync(GlobeClient client, string who, bool pause)
        {
            for (var i = 0; i < 20; i++)
            {
                acknowledged.Enqueue(await SendAsync(client, channelId, $"{who} {i}"));
                if (pause && i == 4)
                {
                    killAfter.TrySetResult();
                    await killed.Task.WaitAsync(Ct);
                }
                else if (pause && i > 4)
                {
                    sentAfterKill++;
                }
            }
        }

        async Task<DocumentAttachment> UploaderAsync()
        {
            // The upload holds at chunk 8 until the replica is dead, so it spans the kill.
            var input = new PausingStream(content, 8L * GlobeClient.DocumentChunkSize, () => killed.Task.WaitAsync(Ct));
            var attachment = await wanjiru.UploadDocumentAsync(channelId, input, "statement.bin", cancellationToken: Ct);
            acknowledged.Enqueue(Guid.Parse((await wanjiru.SendTextAsync(channelId, "The statement.", new SendOptions(Attachments: [attachment]), Ct))
                .Envelope.Header.MessageId));
            return attachment;
        }

        var run = Task.WhenAll(SenderAsync(otieno, "Otieno", pause: true), SenderAsync(wanjiru, "Wanjiru", pause: false));
        var uploading = UploaderAsync();
        await killAfter.Task.WaitAsync(Ct);
        second.Kill();
        killed.SetResult();
        await run;
        var attachment = await uploading;
        var last = await SendAsync(otieno, channelId, "End of run.");
        acknowledged.Enqueue(last);
        var delivered = await watch.ReadThroughAsync(last);
        var history = await otieno.HistoryAsync(channelId, afterPosition: 1, pageSize: 500, cancellationToken: Ct);
        var target = Path.Combine(Path.GetTempPath(), $"globe-faults-{Guid.NewGuid():N}.bin");
        try
        {
            await otieno.DownloadDocumentAsync(attachment, target, cancellationToken: Ct);
            var (events, audit) = await fixture.VerifyChainsAsync();

            Assert.False(second.IsRunning);
            Assert.Equal(15, sentAfterKill);
            Assert.Equal(42, acknowledged.Count);
            Assert.Equal(acknowledged.Order(), delivered.Order());
            Assert.Equal(delivered.Count, delivered.Distinct().Count());
            Assert.Equal(delivered, history.Select(m => Guid.Parse(m.Envelope.Header.MessageId)));
            Assert.Equal(SHA256.HashData(content), SHA256.HashData(await File.ReadAllBytesAsync(target, Ct)));
            Assert.Equal(1, await fixture.CountAsync(DocumentsOfChannel, channelId));
            Assert.True(events.IsValid, events.Problem);
            Assert.True(audit.IsValid, audit.Problem);
        }
        finally
        {
            File.Delete(target);
        }
    });

    private static async Task<Guid> SendAsync(GlobeClient client, Guid channelId, string text) =>
        Guid.Parse((await client.SendTextAsync(channelId, text, cancellationToken: Ct)).Envelope.Header.MessageId);

    /// <summary>The last progress report, told inline (Progress&lt;T&gt; would post it later).</summary>
    private sealed class LastProgress : IProgress<TransferProgress>
    {
        public TransferProgress? Last { get; private set; }

        public void Report(TransferProgress value) => Last = value;
    }
}
