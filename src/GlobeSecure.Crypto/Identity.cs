using System.Globalization;
using System.Text;

namespace GlobeSecure.Crypto;

/// <summary>
/// Challenge–response authentication: the device signs <c>globe/v1/auth-challenge</c> then the
/// server's 32-byte challenge, device id, audience (the server's network name) and issued-at.
/// </summary>
public static class AuthChallenge
{
    /// <summary>Context string of authentication responses.</summary>
    public const string Context = "globe/v1/auth-challenge";

    /// <summary>Length of a challenge.</summary>
    public const int ChallengeBytes = 32;

    /// <summary>A fresh random challenge.</summary>
    public static byte[] NewChallenge() => Primitives.Random(ChallengeBytes);

    /// <summary>The bytes the device signs.</summary>
    public static byte[] SigningInput(ReadOnlySpan<byte> challenge, Guid deviceId, string audience, DateTimeOffset issuedAt)
    {
        if (challenge.Length != ChallengeBytes)
        {
            throw new MalformedInputException($"A challenge is {ChallengeBytes} bytes, not {challenge.Length}.");
        }

        return new CanonicalWriter(Context).Bytes(challenge).Guid(deviceId).Text(audience).Time(issuedAt).ToArray();
    }

    /// <summary>The device's response to a challenge.</summary>
    public static byte[] Sign(DeviceKeys device, ReadOnlySpan<byte> challenge, string audience, DateTimeOffset issuedAt) =>
        device.Sign(SigningInput(challenge, device.DeviceId, audience, issuedAt));

    /// <summary>Checks a response; throws <see cref="SignatureInvalidException"/> when it fails.</summary>
    public static void Verify(SigningPublicKey deviceKey, ReadOnlySpan<byte> challenge, Guid deviceId, string audience,
        DateTimeOffset issuedAt, ReadOnlySpan<byte> signature)
    {
        ArgumentNullException.ThrowIfNull(deviceKey);
        if (!deviceKey.Verify(SigningInput(challenge, deviceId, audience, issuedAt), signature))
        {
            throw new SignatureInvalidException("auth-challenge");
        }
    }
}

/// <summary>
/// A safety number: 60 digits in twelve groups of five that two people compare (read aloud or
/// side by side) to know they hold each other's real device keys. Each device contributes 30
/// digits from its own fingerprint; the two halves are ordered, so both sides compute the same.
/// </summary>
public static class SafetyNumber
{
    /// <summary>Context string of a device's fingerprint.</summary>
    public const string Context = "globe/v1/safety-number";

    /// <summary>Hash iterations: each raises the cost of searching for a key with matching digits.</summary>
    public const int Iterations = 5200;

    /// <summary>The safety number of two devices, the same whichever side computes it.</summary>
    public static string Compute(PublicDeviceKeys a, PublicDeviceKeys b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        var first = DeviceDigits(a);
        var second = DeviceDigits(b);
        var (low, high) = string.CompareOrdinal(first, second) <= 0 ? (first, second) : (second, first);
        var digits = low + high;
        var text = new StringBuilder(72);
        for (var i = 0; i < digits.Length; i += 5)
        {
            if (i > 0)
            {
                text.Append(' ');
            }

            text.Append(digits, i, 5);
        }

        return text.ToString();
    }

    /// <summary>
    /// 30 digits for one device: h₀ = BLAKE2b-512(canonical(context, device id, signing key, box
    /// key)); hᵢ₊₁ = BLAKE2b-512(hᵢ ‖ signing key) for <see cref="Iterations"/> rounds; then six
    /// 5-byte big-endian groups of the result, each modulo 100000, as five digits.
    /// </summary>
    internal static string DeviceDigits(PublicDeviceKeys device)
    {
        var hash = Primitives.Hash(
            new CanonicalWriter(Context).Guid(device.DeviceId).Bytes(device.SigningKey.Span).Bytes(device.BoxKey.Span).WrittenSpan, 64);
        var input = new byte[64 + Primitives.PublicKeyBytes];
        device.SigningKey.Span.CopyTo(input.AsSpan(64));
        for (var i = 0; i < Iterations; i++)
        {
            hash.CopyTo(input, 0);
            hash = Primitives.Hash(input, 64);
        }

        var digits = new StringBuilder(30);
        for (var group = 0; group < 6; group++)
        {
            ulong value = 0;
            for (var j = 0; j < 5; j++)
            {
                value = (value << 8) | hash[(group * 5) + j];
            }

            digits.Append((value % 100000).ToString("D5", CultureInfo.InvariantCulture));
        }

        return digits.ToString();
    }
}
