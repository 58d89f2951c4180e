using System.Security.Cryptography;

namespace GlobeSecure.Crypto;

/// <summary>What a directory-log entry publishes.</summary>
public enum DirectoryEntryKind
{
    /// <summary>A network root public key (the first entry).</summary>
    RootKey = 1,

    /// <summary>A device certificate.</summary>
    Certificate = 2,

    /// <summary>A certificate revocation.</summary>
    Revocation = 3,
}

/// <summary>One entry of the directory log as a verifier sees it.</summary>
/// <param name="Position">1, 2, 3… without gaps.</param>
/// <param name="Kind">What it publishes.</param>
/// <param name="Content">The published object's canonical bytes (a certificate's or revocation's signing input), or the root key's 32 bytes.</param>
/// <param name="Signature">The object's signature; empty for a root key.</param>
/// <param name="Link">The entry's hash-chain link as the server states it.</param>
public sealed record DirectoryEntry(long Position, DirectoryEntryKind Kind, byte[] Content, byte[] Signature, byte[] Link)
{
    /// <summary>An entry for a certificate.</summary>
    public static DirectoryEntry For(long position, DeviceCertificate certificate, byte[] link) =>
        new(position, DirectoryEntryKind.Certificate, certificate.SigningInput(), certificate.Signature, link);

    /// <summary>An entry for a revocation.</summary>
    public static DirectoryEntry For(long position, Revocation revocation, byte[] link) =>
        new(position, DirectoryEntryKind.Revocation, revocation.SigningInput(), revocation.Signature, link);

    /// <summary>An entry for a root key.</summary>
    public static DirectoryEntry ForRootKey(long position, SigningPublicKey rootKey, byte[] link) =>
        new(position, DirectoryEntryKind.RootKey, rootKey.ToArray(), [], link);
}

/// <summary>
/// The directory log's hash chain (key transparency): link = BLAKE2b-256(previous link ‖
/// canonical(<c>globe/v1/directory-entry</c>, position, kind, content, signature)), the first
/// previous link being 32 zero bytes. Kind is the text <c>root-key</c>, <c>certificate</c> or
/// <c>revocation</c>. The server computes links as it appends; a client remembers the last head
/// it verified and accepts only a log that extends it.
/// </summary>
public static class DirectoryLog
{
    /// <summary>Context string of directory entries.</summary>
    public const string Context = "globe/v1/directory-entry";

    /// <summary>The previous link of the first entry.</summary>
    public static ReadOnlyMemory<byte> Genesis { get; } = new byte[Primitives.HashBytes];

    /// <summary>Computes an entry's link from the previous one.</summary>
    public static byte[] Link(ReadOnlySpan<byte> previous, long position, DirectoryEntryKind kind, ReadOnlySpan<byte> content,
        ReadOnlySpan<byte> signature)
    {
        if (previous.Length != Primitives.HashBytes)
        {
            throw new MalformedInputException($"A directory link is {Primitives.HashBytes} bytes, not {previous.Length}.");
        }

        var canonical = new CanonicalWriter(Context, content.Length + signature.Length + 96)
            .Int64(position)
            .Text(kind switch
            {
                DirectoryEntryKind.RootKey => "root-key",
                DirectoryEntryKind.Certificate => "certificate",
                DirectoryEntryKind.Revocation => "revocation",
                _ => throw new MalformedInputException($"Unknown directory entry kind {(int)kind}."),
            })
            .Bytes(content)
            .Bytes(signature);
        using var hash = new IncrementalHash();
        hash.Append(previous);
        hash.Append(canonical.WrittenSpan);
        return hash.Finish();
    }
}

/// <summary>The log does not extend the head this client verified before, or a link does not recompute.</summary>
public sealed class DirectoryLogForkedException(string message) : GlobeCryptoException(message);

/// <summary>
/// A client's view of the directory log: the last verified head. <see cref="Extend"/> accepts a
/// batch only when it continues from that head without gaps and every link recomputes.
/// </summary>
public sealed class DirectoryLogVerifier
{
    /// <summary>Starts from the beginning, or from a head remembered earlier.</summary>
    public DirectoryLogVerifier(long headPosition = 0, byte[]? headLink = null)
    {
        if (headPosition < 0 || (headPosition == 0) != (headLink is null))
        {
            throw new ArgumentException("A head is position 0 with no link, or a positive position with its link.");
        }

        HeadPosition = headPosition;
        HeadLink = headLink ?? DirectoryLog.Genesis.ToArray();
    }

    /// <summary>The last verified position (0 before any).</summary>
    public long HeadPosition { get; private set; }

    /// <summary>The last verified link (32 zero bytes before any).</summary>
    public byte[] HeadLink { get; private set; }

    /// <summary>
    /// Verifies entries that follow the head, in order; on success the head moves to the last one.
    /// On failure nothing changes and <see cref="DirectoryLogForkedException"/> names the position.
    /// </summary>
    public void Extend(IReadOnlyList<DirectoryEntry> entries)
    {
        ArgumentNullException.ThrowIfNull(entries);
        var position = HeadPosition;
        var link = HeadLink;
        foreach (var entry in entries)
        {
            if (entry.Position != position + 1)
            {
                throw new DirectoryLogForkedException(
                    $"The directory log jumps from position {position} to {entry.Position}: entries are missing or repeated.");
            }

            var expected = DirectoryLog.Link(link, entry.Position, entry.Kind, entry.Content, entry.Signature);
            if (!CryptographicOperations.FixedTimeEquals(expected, entry.Link))
            {
                throw new DirectoryLogForkedException(
                    $"Directory log entry {entry.Position} does not extend the verified log: its link does not recompute (rewritten history).");
            }

            position = entry.Position;
            link = expected;
        }

        HeadPosition = position;
        HeadLink = link;
    }

    /// <summary>Checks that the server's stated head is the one verified (after reading to the end).</summary>
    public void CheckHead(long position, ReadOnlySpan<byte> link)
    {
        if (position != HeadPosition || !CryptographicOperations.FixedTimeEquals(link, HeadLink))
        {
            throw new DirectoryLogForkedException(
                $"The server states head {position}, but the verified log ends at {HeadPosition} with another link.");
        }
    }
}
