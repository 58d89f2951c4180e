using System.Text.Json.Serialization;
using GlobeSecure.Crypto;

namespace GlobeSecure.Client.Profiles;

/// <summary>
/// What a device remembers about its network, stored as <c>profiles/&lt;name&gt;/profile.json</c>
/// under the globe home (<see cref="ProfileStore"/>): the server, who the device is, the pinned
/// network root key, and the last directory head it verified. Nothing secret: the private keys are
/// in <c>device.key</c> (and <c>root.key</c>) next to it, passphrase-encrypted.
/// </summary>
public sealed record GlobeProfile
{
    /// <summary>The profile's format version.</summary>
    public int Version { get; init; } = 1;

    /// <summary>The server address, e.g. http://127.0.0.1:5080.</summary>
    public required string Server { get; init; }

    /// <summary>The network's name (the audience of authentication challenges).</summary>
    public string? NetworkName { get; init; }

    /// <summary>The network secretariat's authority id.</summary>
    public Guid? NetworkAuthorityId { get; init; }

    /// <summary>This device.</summary>
    public Guid? DeviceId { get; init; }

    /// <summary>This device's user.</summary>
    public Guid? UserId { get; init; }

    /// <summary>This device's authority.</summary>
    public Guid? AuthorityId { get; init; }

    /// <summary>This device's role as certified (wire name, e.g. <c>investigator</c>).</summary>
    public string? Role { get; init; }

    /// <summary>The pinned network root public key, lower-case hex (32 bytes).</summary>
    public string? RootKey { get; init; }

    /// <summary>Its fingerprint (docs/protocol.md §1), to compare out of band.</summary>
    public string? RootFingerprint { get; init; }

    /// <summary>The last directory-log position this device verified.</summary>
    public long DirectoryHeadPosition { get; init; }

    /// <summary>That entry's link, lower-case hex; empty at position 0.</summary>
    public string DirectoryHeadLink { get; init; } = "";

    /// <summary>The pinned root key, or null when none is pinned.</summary>
    /// <exception cref="GlobeProfileException">The stored key is not 32 bytes of hex, or does not match its fingerprint.</exception>
    [JsonIgnore]
    public SigningPublicKey? PinnedRootKey
    {
        get
        {
            if (string.IsNullOrEmpty(RootKey))
            {
                return null;
            }

            SigningPublicKey key;
            try
            {
                key = new SigningPublicKey(Convert.FromHexString(RootKey));
            }
            catch (Exception e) when (e is FormatException or MalformedInputException)
            {
                throw new GlobeProfileException("The profile's pinned root key is not a 32-byte hex key.", e);
            }

            if (RootFingerprint is not null && !string.Equals(RootFingerprint, key.Fingerprint, StringComparison.OrdinalIgnoreCase))
            {
                throw new GlobeProfileException("The profile's pinned root key does not match its recorded fingerprint: the profile was altered.");
            }

            return key;
        }
    }

    /// <summary>The remembered directory head.</summary>
    /// <exception cref="GlobeProfileException">The stored head is malformed.</exception>
    [JsonIgnore]
    public DirectoryHead DirectoryHead
    {
        get
        {
            if (DirectoryHeadPosition == 0)
            {
                return DirectoryHead.None;
            }

            try
            {
                var link = Convert.FromHexString(DirectoryHeadLink);
                return DirectoryHeadPosition > 0 && link.Length == 32
                    ? new DirectoryHead(DirectoryHeadPosition, link)
                    : throw new GlobeProfileException("The profile's directory head is malformed.");
            }
            catch (FormatException e)
            {
                throw new GlobeProfileException("The profile's directory head link is not hex.", e);
            }
        }
    }

    /// <summary>
    /// The position of the last channel event an unfiltered <c>globe watch</c> went past: the next
    /// one resumes after it (0: from the beginning).
    /// </summary>
    public long WatchPosition { get; init; }

    /// <summary>This profile pinning <paramref name="rootKey"/>.</summary>
    public GlobeProfile WithRoot(SigningPublicKey rootKey)
    {
        ArgumentNullException.ThrowIfNull(rootKey);
        return this with { RootKey = Convert.ToHexStringLower(rootKey.Span), RootFingerprint = rootKey.Fingerprint };
    }

    /// <summary>This profile remembering <paramref name="head"/>.</summary>
    public GlobeProfile WithHead(DirectoryHead head)
    {
        ArgumentNullException.ThrowIfNull(head);
        return this with { DirectoryHeadPosition = head.Position, DirectoryHeadLink = head.LinkHex };
    }
}

/// <summary>A profile is missing, malformed or inconsistent. The message says which and what to do.</summary>
public sealed class GlobeProfileException : Exception
{
    /// <summary>Creates the error.</summary>
    public GlobeProfileException(string message, Exception? innerException = null) : base(message, innerException)
    {
    }
}
