using System.Buffers.Binary;
using System.Text;

namespace GlobeSecure.Crypto;

/// <summary>
/// A channel's title and description, encrypted under one of its epoch keys so that the server
/// never learns case names (docs/protocol.md §7.1). Plaintext = canonical bytes
/// <c>globe/v1/channel-info</c> ‖ title ‖ description; sealed = 24-byte nonce ‖
/// XChaCha20-Poly1305(epoch key, nonce, plaintext, AAD = canonical <c>globe/v1/channel-info</c> ‖
/// channel id ‖ epoch).
/// </summary>
public sealed record ChannelInfo(string Title, string Description)
{
    /// <summary>Context string of channel info (plaintext and associated data).</summary>
    public const string Context = "globe/v1/channel-info";

    /// <summary>The most characters a title may have.</summary>
    public const int MaxTitleLength = 200;

    /// <summary>The largest sealed info the server stores (nonce and tag included).</summary>
    public const int MaxSealedBytes = 4096;

    /// <summary>Encrypts the info under <paramref name="key"/> with a fresh random nonce.</summary>
    /// <exception cref="ArgumentException">An empty or too long title, or info too large to store.</exception>
    public byte[] Seal(EpochKey key) => Seal(key, Primitives.Random(Primitives.NonceBytes));

    internal byte[] Seal(EpochKey key, byte[] nonce)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (string.IsNullOrWhiteSpace(Title) || Title.Length > MaxTitleLength)
        {
            throw new ArgumentException($"A channel title is 1 to {MaxTitleLength} characters (got {Title?.Length ?? 0}).", nameof(Title));
        }

        var plaintext = new CanonicalWriter(Context).Text(Title).Text(Description).ToArray();
        var sealedLength = Primitives.NonceBytes + plaintext.Length + Primitives.TagBytes;
        if (sealedLength > MaxSealedBytes)
        {
            throw new ArgumentException(
                $"The title and description take {sealedLength} bytes encrypted; at most {MaxSealedBytes} are stored: shorten the description.",
                nameof(Description));
        }

        var output = new byte[sealedLength];
        nonce.CopyTo(output, 0);
        Primitives.Encrypt(output.AsSpan(Primitives.NonceBytes), plaintext, AssociatedData(key), nonce, key.Key);
        return output;
    }

    /// <summary>Decrypts sealed info with the key of the epoch it was sealed under.</summary>
    /// <exception cref="DecryptionFailedException">Wrong key or channel, or altered bytes (kind <c>channel info</c>).</exception>
    /// <exception cref="MalformedInputException">The decrypted bytes are not channel info.</exception>
    public static ChannelInfo Open(ReadOnlySpan<byte> sealedInfo, EpochKey key)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (sealedInfo.Length < Primitives.NonceBytes + Primitives.TagBytes)
        {
            throw new DecryptionFailedException("channel info");
        }

        var nonce = sealedInfo[..Primitives.NonceBytes];
        var ciphertext = sealedInfo[Primitives.NonceBytes..];
        var plaintext = new byte[ciphertext.Length - Primitives.TagBytes];
        if (!Primitives.TryDecrypt(plaintext, ciphertext, AssociatedData(key), nonce, key.Key, out _))
        {
            throw new DecryptionFailedException("channel info");
        }

        var fields = ReadFields(plaintext);
        if (fields.Count != 3 || fields[0] != Context)
        {
            throw new MalformedInputException("The decrypted channel info is not context, title and description.");
        }

        return new ChannelInfo(fields[1], fields[2]);
    }

    private static byte[] AssociatedData(EpochKey key) => new CanonicalWriter(Context).Guid(key.ChannelId).Int64(key.Epoch).ToArray();

    private static List<string> ReadFields(ReadOnlySpan<byte> bytes)
    {
        var fields = new List<string>();
        var utf8 = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);
        while (bytes.Length > 0)
        {
            if (bytes.Length < 4 || BinaryPrimitives.ReadUInt32BigEndian(bytes) is var length && length > bytes.Length - 4)
            {
                throw new MalformedInputException("The decrypted channel info has a truncated field.");
            }

            try
            {
                fields.Add(utf8.GetString(bytes.Slice(4, (int)length)));
            }
            catch (DecoderFallbackException)
            {
                throw new MalformedInputException("The decrypted channel info is not UTF-8 text.");
            }

            bytes = bytes[(4 + (int)length)..];
        }

        return fields;
    }
}
