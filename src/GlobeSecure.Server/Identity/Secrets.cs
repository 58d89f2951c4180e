using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;

namespace GlobeSecure.Server.Identity;

/// <summary>
/// One-time codes and session tokens: 32 random bytes as base64url text (256 bits of entropy),
/// returned once and stored only as BLAKE2b-256 hashes, so a copy of the database lets nobody
/// enrol, bootstrap or call as anyone.
/// </summary>
internal static class Secrets
{
    public const int MaxTextLength = 200;

    public static string NewSecret() => Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(32));

    /// <summary>BLAKE2b-256 of the secret's UTF-8 text (surrounding white space ignored: codes are pasted).</summary>
    public static byte[] Hash(string secret) => Sodium.GenericHash.Hash(Encoding.UTF8.GetBytes(secret.Trim()), (byte[]?)null, 32);

    public static bool SameHash(byte[]? a, byte[]? b) => a is not null && b is not null && CryptographicOperations.FixedTimeEquals(a, b);
}
