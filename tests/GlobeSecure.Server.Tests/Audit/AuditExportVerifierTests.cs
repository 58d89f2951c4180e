using System.Text;
using GlobeSecure.Client;
using GlobeSecure.Crypto;

namespace GlobeSecure.Server.Tests.Audit;

/// <summary>
/// The offline verifier over exports of the real stored chain (written with the client library's
/// writer from the store's reads), and what each kind of change to the file does.
/// </summary>
public sealed class AuditExportVerifierTests(AuditServerFixture server) : IClassFixture<AuditServerFixture>, IAsyncLifetime
{
    private AuditNetwork _n = null!;
    private List<string> _lines = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        _n = await server.NetworkAsync();
        if (await _n.Checkpoints.SignHeadAsync(Ct) == 0 || (await _n.ListAsync(limit: 1000)).Count < 2)
        {
            await _n.VerifyAsync();
            await _n.Checkpoints.SignHeadAsync(Ct);
        }

        _lines = await _n.ExportAsync();
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    private static AuditExportVerification Verify(IEnumerable<string> lines, IEnumerable<SigningPublicKey>? trusted = null) =>
        AuditExportVerifier.Verify(new MemoryStream(Encoding.UTF8.GetBytes(string.Concat(lines.Select(l => l + "\n")))), trusted);

    private int EntryLine(int nth) => _lines.FindIndex(l => l.StartsWith("{\"type\":\"entry\"", StringComparison.Ordinal)) + nth;

    private static long PositionOf(string line) => long.Parse(line.Split("\"position\":")[1].Split(',')[0], System.Globalization.CultureInfo.InvariantCulture);

    private int CheckpointLine() => _lines.FindIndex(l => l.StartsWith("{\"type\":\"checkpoint\"", StringComparison.Ordinal));

    private SigningKeyPair ServerKey() => SigningKeyPair.FromSeed(Convert.FromHexString(File.ReadAllText(server.CheckpointKeyFile).Trim()));

    [Fact]
    public void Verify_ExportOfTheStoredChain_IsValidWithPinnedKeyToo()
    {
        using var key = ServerKey();

        var result = Verify(_lines);
        var pinned = Verify(_lines, [key.PublicKey]);

        Assert.True(result.IsValid, result.Problem);
        Assert.True(result.Contiguous);
        Assert.Equal(_lines.Count(l => l.Contains("\"type\":\"entry\"", StringComparison.Ordinal)), result.Entries);
        Assert.True(result.Checkpoints >= 1);
        Assert.True(pinned.IsValid, pinned.Problem);
    }

    [Fact]
    public void Verify_AnotherPinnedKey_FailsAtTheFirstCheckpoint()
    {
        using var stranger = SigningKeyPair.Generate();

        var result = Verify(_lines, [stranger.PublicKey]);

        Assert.False(result.IsValid);
        Assert.Equal(PositionOf(_lines[CheckpointLine()]), result.FirstBadPosition);
        Assert.Contains("not a trusted key", result.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Verify_AnyByteOfAnEntryLineChanged_FailsAtThatLine()
    {
        var index = EntryLine(4);
        var line = _lines[index];
        var position = PositionOf(line);
        for (var i = 0; i < line.Length; i++)
        {
            var changed = line[..i] + (line[i] == 'a' ? 'b' : 'a') + line[(i + 1)..];
            var result = Verify(_lines.Select((l, j) => j == index ? changed : l));

            Assert.False(result.IsValid, $"byte {i} changed to '{changed[i]}' verified");
            Assert.Equal(index + 1, result.Line);
            Assert.True(result.FirstBadPosition is null || result.FirstBadPosition == position, $"byte {i}: {result.Problem} at {result.FirstBadPosition}");
        }
    }

    [Fact]
    public void Verify_EntryLineDeleted_NamesTheMissingPosition()
    {
        var index = EntryLine(3);

        var result = Verify(_lines.Where((_, j) => j != index));

        Assert.False(result.IsValid);
        Assert.Equal(PositionOf(_lines[index]), result.FirstBadPosition);
        Assert.Contains("missing", result.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Verify_TwoEntriesReordered_NamesTheFirst()
    {
        var index = EntryLine(6);
        var swapped = _lines.ToList();
        (swapped[index], swapped[index + 1]) = (swapped[index + 1], swapped[index]);

        var result = Verify(swapped);

        Assert.False(result.IsValid);
        Assert.Equal(PositionOf(_lines[index]), result.FirstBadPosition);
    }

    [Fact]
    public void Verify_CheckpointSignatureChanged_NamesItsPosition()
    {
        var index = CheckpointLine();
        var line = _lines[index];
        var signature = line.Split("\"signature\":\"")[1][..128];
        var forged = line.Replace(signature, (signature[0] == '0' ? "1" : "0") + signature[1..], StringComparison.Ordinal);

        var result = Verify(_lines.Select((l, j) => j == index ? forged : l));

        Assert.False(result.IsValid);
        Assert.Equal(PositionOf(line), result.FirstBadPosition);
        Assert.Contains("signature does not verify", result.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Verify_CheckpointSignedOverAnotherHash_NamesItsPosition()
    {
        // The server's own key signing a hash that is not the link: only the entries can tell.
        using var key = ServerKey();
        var index = CheckpointLine();
        var line = _lines[index];
        var position = PositionOf(line);
        var signedAt = DateTimeOffset.Parse(line.Split("\"signedAt\":\"")[1].Split('"')[0], System.Globalization.CultureInfo.InvariantCulture);
        var other = Blake2b256.Hash("not the link"u8);
        var signature = CheckpointSignature.Sign(key, _n.Network.SecretariatId, position, other, signedAt);
        var forged = $"{{\"type\":\"checkpoint\",\"position\":{position},\"hash\":\"{Convert.ToHexStringLower(other)}\",\"signedAt\":\"{AuditExportWriter.Time(signedAt)}\"," +
            $"\"keyId\":\"{key.PublicKey.Fingerprint}\",\"signature\":\"{Convert.ToHexStringLower(signature)}\",\"retentionCut\":false}}";

        var result = Verify(_lines.Select((l, j) => j == index ? forged : l));

        Assert.False(result.IsValid);
        Assert.Equal(position, result.FirstBadPosition);
        Assert.Contains("another hash", result.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Verify_EndLineMissing_FailsAsTruncated()
    {
        var result = Verify(_lines.Take(_lines.Count - 1));

        Assert.False(result.IsValid);
        Assert.Equal(_lines.Count, result.Line);
        Assert.Contains("truncated", result.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Verify_CheckpointLineDeleted_FailsOnTheEndCounts()
    {
        var result = Verify(_lines.Where((_, j) => j != CheckpointLine()));

        Assert.False(result.IsValid);
        Assert.Equal(_lines.Count - 1, result.Line);
        Assert.Contains("end line counts", result.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Verify_FirstEntryLineDeletedAndCountFixed_FailsAsUnanchored()
    {
        var first = EntryLine(0);
        var lines = _lines.Where((_, j) => j != first).ToList();
        var entries = lines.Count(l => l.StartsWith("{\"type\":\"entry\"", StringComparison.Ordinal));
        var checkpoints = lines.Count(l => l.StartsWith("{\"type\":\"checkpoint\"", StringComparison.Ordinal));
        lines[^1] = $"{{\"type\":\"end\",\"entries\":{entries},\"checkpoints\":{checkpoints}}}";

        var result = Verify(lines);

        Assert.False(result.IsValid);
        Assert.Equal(2, result.FirstBadPosition);
    }

    [Fact]
    public async Task Verify_FilteredExport_ChecksEachEntryOnItsOwn()
    {
        var filtered = await _n.ExportAsync(e => e.Position % 3 == 0);

        var result = Verify(filtered);

        Assert.True(result.IsValid, result.Problem);
        Assert.False(result.Contiguous);
        var index = filtered.FindIndex(l => l.StartsWith("{\"type\":\"entry\"", StringComparison.Ordinal)) + 1;
        var tampered = filtered.Select((l, j) => j == index ? l.Replace("\"outcome\":\"allowed\"", "\"outcome\":\"denied\"", StringComparison.Ordinal)
            .Replace("\"outcome\":\"failed\"", "\"outcome\":\"allowed\"", StringComparison.Ordinal) : l);
        var broken = Verify(tampered);
        Assert.False(broken.IsValid);
        Assert.Equal(PositionOf(filtered[index]), broken.FirstBadPosition);
    }

    [Fact]
    public async Task Verify_TheServersExportAuditStream_IsValidUnderThePinnedKey()
    {
        // The server's own export (ExportAudit, written by its AuditExportStream) read by the offline verifier.
        using var key = ServerKey();
        await _n.Checkpoints.SignHeadAsync(Ct);
        using var file = new MemoryStream();
        using (var call = _n.Audit.ExportAudit(new Contracts.V1.ExportAuditRequest(), _n.NetworkAuditor.Headers, cancellationToken: Ct))
        {
            while (await call.ResponseStream.MoveNext(Ct))
            {
                call.ResponseStream.Current.Data.WriteTo(file);
            }
        }

        file.Position = 0;
        var result = AuditExportVerifier.Verify(file, [key.PublicKey]);

        Assert.True(result.IsValid, $"{result.Problem} at position {result.FirstBadPosition}, line {result.Line}");
        Assert.True(result.Contiguous);
        Assert.True(result.Checkpoints >= 1);
        file.Position = 0;
        var lines = Encoding.UTF8.GetString(file.ToArray()).TrimEnd('\n').Split('\n');
        var broken = Verify(lines.Select((l, j) => j == 3 ? l.Replace("\"action\":\"", "\"action\":\"x", StringComparison.Ordinal) : l));
        Assert.False(broken.IsValid);
        Assert.Equal(4, broken.Line);
    }

    [Fact]
    public void Verify_NotAnExportOrEmpty_FailsAtLineOne()
    {
        Assert.Equal(1, Verify([]).Line);
        Assert.Equal(1, Verify(["{\"type\":\"entry\"}"]).Line);
        Assert.Equal(1, Verify(["not json"]).Line);
    }
}
