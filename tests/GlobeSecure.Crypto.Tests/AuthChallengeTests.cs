namespace GlobeSecure.Crypto.Tests;

public sealed class AuthChallengeTests
{
    private readonly DeviceKeys _device = DeviceKeys.Generate(Guid.CreateVersion7());
    private readonly byte[] _challenge = AuthChallenge.NewChallenge();
    private const string Audience = "globe.example.net";

    [Fact]
    public void Verify_SignedChallenge_Succeeds()
    {
        var signature = AuthChallenge.Sign(_device, _challenge, Audience, TestPki.Now);

        AuthChallenge.Verify(_device.Signing.PublicKey, _challenge, _device.DeviceId, Audience, TestPki.Now, signature);
    }

    [Fact]
    public void NewChallenge_Twice_GivesDistinctChallengesOfTheRightLength()
    {
        Assert.Equal(AuthChallenge.ChallengeBytes, _challenge.Length);
        Assert.NotEqual(_challenge, AuthChallenge.NewChallenge());
    }

    [Theory]
    [InlineData("challenge")]
    [InlineData("device-id")]
    [InlineData("audience")]
    [InlineData("audience-empty")]
    [InlineData("issued-at")]
    [InlineData("signature")]
    [InlineData("signature-short")]
    [InlineData("key")]
    public void Verify_AnyInputChanged_ThrowsSignatureInvalid(string input)
    {
        var signature = AuthChallenge.Sign(_device, _challenge, Audience, TestPki.Now);
        var challenge = _challenge;
        var deviceId = _device.DeviceId;
        var audience = Audience;
        var issuedAt = TestPki.Now;
        var key = _device.Signing.PublicKey;
        switch (input)
        {
            case "challenge": challenge = Bytes.FlipBit(challenge, 31); break;
            case "device-id": deviceId = Guid.NewGuid(); break;
            case "audience": audience = "globe.example.org"; break;
            case "audience-empty": audience = ""; break;
            case "issued-at": issuedAt = issuedAt.AddMicroseconds(1); break;
            case "signature": signature = Bytes.FlipBit(signature, 0); break;
            case "signature-short": signature = signature[..63]; break;
            case "key": key = SigningKeyPair.Generate().PublicKey; break;
        }

        var error = Assert.Throws<SignatureInvalidException>(
            () => AuthChallenge.Verify(key, challenge, deviceId, audience, issuedAt, signature));
        Assert.Equal("auth-challenge", error.ObjectKind);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(16)]
    [InlineData(31)]
    [InlineData(33)]
    [InlineData(64)]
    public void SignOrVerify_ChallengeOfWrongLength_ThrowsMalformedInput(int length)
    {
        var signature = AuthChallenge.Sign(_device, _challenge, Audience, TestPki.Now);

        Assert.Throws<MalformedInputException>(() => AuthChallenge.Sign(_device, new byte[length], Audience, TestPki.Now));
        Assert.Throws<MalformedInputException>(
            () => AuthChallenge.Verify(_device.Signing.PublicKey, new byte[length], _device.DeviceId, Audience, TestPki.Now, signature));
    }
}
