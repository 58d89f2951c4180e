namespace GlobeSecure.Crypto.Tests;

public sealed class DirectoryLogTests
{
    private static List<DirectoryEntry> Log(int count)
    {
        using var root = SigningKeyPair.FromSeed(new byte[32]);
        var entries = new List<DirectoryEntry>();
        var link = DirectoryLog.Genesis.ToArray();
        for (var position = 1; position <= count; position++)
        {
            var content = new byte[] { (byte)position, 1, 2, 3 };
            var signature = root.Sign(content);
            link = DirectoryLog.Link(link, position, DirectoryEntryKind.Certificate, content, signature);
            entries.Add(new DirectoryEntry(position, DirectoryEntryKind.Certificate, content, signature, link));
        }

        return entries;
    }

    [Fact]
    public void Extend_InOrderFromGenesis_MovesTheHead()
    {
        var log = Log(5);
        var verifier = new DirectoryLogVerifier();

        verifier.Extend(log[..2]);
        verifier.Extend(log[2..]);

        Assert.Equal(5, verifier.HeadPosition);
        Assert.Equal(log[^1].Link, verifier.HeadLink);
        verifier.CheckHead(5, log[^1].Link);
    }

    [Fact]
    public void Extend_RewrittenEntry_ThrowsForkedAndKeepsTheHead()
    {
        var log = Log(4);
        var verifier = new DirectoryLogVerifier();
        verifier.Extend(log[..2]);
        var forged = log[2] with { Content = [9, 9, 9] };

        Assert.Throws<DirectoryLogForkedException>(() => verifier.Extend([forged, log[3]]));
        Assert.Equal(2, verifier.HeadPosition);
    }

    [Fact]
    public void Extend_GapOrRepeat_ThrowsForked()
    {
        var log = Log(4);
        var verifier = new DirectoryLogVerifier(2, log[1].Link);

        Assert.Throws<DirectoryLogForkedException>(() => verifier.Extend([log[3]]));
        Assert.Throws<DirectoryLogForkedException>(() => verifier.Extend([log[1]]));
        verifier.Extend([log[2], log[3]]);
        Assert.Equal(4, verifier.HeadPosition);
    }

    [Fact]
    public void Extend_ConsistentRewriteOfHistory_IsRefusedByAClientThatSawTheOldHead()
    {
        var original = Log(3);
        var verifier = new DirectoryLogVerifier();
        verifier.Extend(original);

        // A server rewrites entry 2 and recomputes every later link, then appends entry 4: the
        // new log is self-consistent, but it does not extend the head this client remembers.
        var rewritten = new List<DirectoryEntry>();
        var link = DirectoryLog.Genesis.ToArray();
        foreach (var entry in Log(4))
        {
            var content = entry.Position == 2 ? new byte[] { 42 } : entry.Content;
            link = DirectoryLog.Link(link, entry.Position, entry.Kind, content, entry.Signature);
            rewritten.Add(entry with { Content = content, Link = link });
        }

        new DirectoryLogVerifier().Extend(rewritten);
        Assert.Throws<DirectoryLogForkedException>(() => verifier.Extend([rewritten[3]]));
        Assert.Throws<DirectoryLogForkedException>(() => verifier.CheckHead(3, rewritten[2].Link));
        Assert.Equal(3, verifier.HeadPosition);
    }
}
