using System.Security.Cryptography;
using System.Text;

namespace GlobeSecure.Client.Keystore;

/// <summary>
/// A passphrase as UTF-8 in a pinned buffer that Dispose clears. Pinned so that the garbage
/// collector never leaves a moved copy behind; converted strictly so that two different
/// passphrases (one with an unpaired surrogate) cannot both become the same replacement bytes.
/// </summary>
internal sealed class PassphraseBuffer : IDisposable
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private readonly byte[] _utf8;

    private PassphraseBuffer(byte[] utf8) => _utf8 = utf8;

    public ReadOnlySpan<byte> Span => _utf8;

    public static PassphraseBuffer From(ReadOnlySpan<char> passphrase, string parameterName)
    {
        if (passphrase.IsEmpty)
        {
            throw new ArgumentException("The passphrase is empty.", parameterName);
        }

        int count;
        try
        {
            count = StrictUtf8.GetByteCount(passphrase);
        }
        catch (EncoderFallbackException)
        {
            // The fallback's message quotes the offending character and its index: never pass it on.
            throw new ArgumentException("The passphrase is not valid text: it contains an unpaired surrogate.", parameterName);
        }

        var utf8 = GC.AllocateArray<byte>(count, pinned: true);
        StrictUtf8.GetBytes(passphrase, utf8);
        return new PassphraseBuffer(utf8);
    }

    public void Dispose() => CryptographicOperations.ZeroMemory(_utf8);
}
