namespace GlobeSecure.Crypto.Tests;

public sealed class KeyTests
{
    [Fact]
    public void SigningKeyPair_SignThenVerify_Succeeds()
    {
        using var pair = SigningKeyPair.Generate();
        var signature = pair.Sign("hello"u8);

        Assert.Equal(Primitives.SignatureBytes, signature.Length);
        Assert.True(pair.PublicKey.Verify("hello"u8, signature));
        Assert.False(pair.PublicKey.Verify("hellO"u8, signature));
        Assert.False(pair.PublicKey.Verify("hello"u8, Bytes.FlipBit(signature, 63, 7)));
        Assert.False(pair.PublicKey.Verify("hello"u8, signature[..63]));
        Assert.False(pair.PublicKey.Verify("hello"u8, [.. signature, 0]));
        Assert.False(pair.PublicKey.Verify("hello"u8, []));
    }

    [Fact]
    public void SigningKeyPair_SignedByAnotherKey_DoesNotVerify()
    {
        using var mine = SigningKeyPair.Generate();
        using var other = SigningKeyPair.Generate();

        Assert.False(mine.PublicKey.Verify("m"u8, other.Sign("m"u8)));
    }

    [Fact]
    public void SigningKeyPair_FromSameSeed_GivesSameKeys()
    {
        var seed = Bytes.Random(32);
        using var a = SigningKeyPair.FromSeed(seed);
        using var b = SigningKeyPair.FromSeed(seed);
        Span<byte> exported = stackalloc byte[32];
        a.ExportSeed(exported);

        Assert.Equal(a.PublicKey, b.PublicKey);
        Assert.Equal(seed, exported.ToArray());
    }

    [Fact]
    public void BoxKeyPair_SharedSecret_IsSymmetric()
    {
        using var a = BoxKeyPair.Generate();
        using var b = BoxKeyPair.Generate();

        Assert.Equal(a.SharedSecret(b.PublicKey), b.SharedSecret(a.PublicKey));
    }

    [Fact]
    public void BoxKeyPair_SealedToItsKey_OpensOnlyThere()
    {
        using var a = BoxKeyPair.Generate();
        using var b = BoxKeyPair.Generate();
        var sealedBox = Primitives.Seal("secret"u8, a.PublicKey.Span);

        Assert.Equal("secret"u8.ToArray(), a.OpenSealed(sealedBox));
        Assert.Null(b.OpenSealed(sealedBox));
        Assert.Null(a.OpenSealed(Bytes.FlipBit(sealedBox, sealedBox.Length - 1)));
        Assert.Null(a.OpenSealed(sealedBox[..47]));
        Assert.Null(a.OpenSealed([]));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(31)]
    [InlineData(33)]
    [InlineData(64)]
    public void PublicKeys_WrongLength_ThrowMalformedInput(int length)
    {
        Assert.Throws<MalformedInputException>(() => new SigningPublicKey(new byte[length]));
        Assert.Throws<MalformedInputException>(() => new BoxPublicKey(new byte[length]));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(31)]
    [InlineData(33)]
    [InlineData(64)]
    public void PrivateKeys_WrongLength_ThrowMalformedInput(int length)
    {
        Assert.Throws<MalformedInputException>(() => SigningKeyPair.FromSeed(new byte[length]));
        Assert.Throws<MalformedInputException>(() => BoxKeyPair.FromPrivateKey(new byte[length]));
        Assert.Throws<MalformedInputException>(() => DeviceKeys.FromPrivateKeys(Guid.NewGuid(), new byte[length], new byte[32]));
        Assert.Throws<MalformedInputException>(() => DeviceKeys.FromPrivateKeys(Guid.NewGuid(), new byte[32], new byte[length]));
        Assert.Throws<MalformedInputException>(() => EpochKey.FromBytes(Guid.NewGuid(), 0, new byte[length]));
        Assert.Throws<MalformedInputException>(() => DocumentKey.FromBytes(new byte[length]));
    }

    [Fact]
    public void PublicKey_SameBytesDifferentKind_AreNotEqual()
    {
        var bytes = Bytes.Random(32);

        Assert.Equal(new SigningPublicKey(bytes), new SigningPublicKey(bytes));
        Assert.NotEqual<PublicKey>(new SigningPublicKey(bytes), new BoxPublicKey(bytes));
        Assert.NotEqual(new SigningPublicKey(bytes), new SigningPublicKey(Bytes.FlipBit(bytes, 0)));
    }

    [Fact]
    public void PublicKey_CopiesItsInput_SoLaterChangesDoNotAlterIt()
    {
        var bytes = Bytes.Random(32);
        var key = new SigningPublicKey(bytes);
        var copy = key.ToArray();

        bytes[0] ^= 1;
        copy[1] ^= 1;

        Assert.NotEqual(bytes, key.ToArray());
        Assert.Equal(Bytes.FlipBit(bytes, 0), key.ToArray());
    }

    [Fact]
    public void PublicDeviceKeys_Verify_AcceptsGeneratedKeys()
    {
        using var keys = DeviceKeys.Generate(Guid.NewGuid());

        keys.Public.Verify();
    }

    [Theory]
    [InlineData("device-id")]
    [InlineData("signing-key")]
    [InlineData("box-key")]
    [InlineData("signature")]
    [InlineData("signature-short")]
    public void PublicDeviceKeys_AnyFieldChanged_ThrowsSignatureInvalid(string field)
    {
        using var keys = DeviceKeys.Generate(Guid.NewGuid());
        using var other = DeviceKeys.Generate(Guid.NewGuid());
        var changed = field switch
        {
            "device-id" => keys.Public with { DeviceId = Guid.NewGuid() },
            "signing-key" => keys.Public with { SigningKey = other.Signing.PublicKey },
            "box-key" => keys.Public with { BoxKey = other.Box.PublicKey },
            "signature" => keys.Public with { BoxKeySignature = Bytes.FlipBit(keys.Public.BoxKeySignature, 10) },
            _ => keys.Public with { BoxKeySignature = keys.Public.BoxKeySignature[..63] },
        };

        var error = Assert.Throws<SignatureInvalidException>(changed.Verify);
        Assert.Equal("box-key", error.ObjectKind);
    }

    [Fact]
    public void ToString_OfSecretHolders_NeverShowsKeyBytes()
    {
        var seed = Bytes.Random(32);
        var boxPrivate = Bytes.Random(32);
        var epochBytes = Bytes.Random(32);
        var documentBytes = Bytes.Random(32);
        using var signing = SigningKeyPair.FromSeed(seed);
        using var box = BoxKeyPair.FromPrivateKey(boxPrivate);
        using var device = DeviceKeys.FromPrivateKeys(Guid.NewGuid(), seed, boxPrivate);
        using var epoch = EpochKey.FromBytes(Guid.NewGuid(), 3, epochBytes);
        using var document = DocumentKey.FromBytes(documentBytes);

        var texts = new[] { signing.ToString(), box.ToString(), device.ToString(), epoch.ToString(), document.ToString() };

        foreach (var secret in new[] { seed, boxPrivate, epochBytes, documentBytes })
        {
            foreach (var form in SecretForms(secret))
            {
                Assert.All(texts, text => Assert.DoesNotContain(form, text, StringComparison.OrdinalIgnoreCase));
            }
        }

        Assert.StartsWith("SigningKeyPair(", texts[0], StringComparison.Ordinal);
        Assert.StartsWith("DeviceKeys(", texts[2], StringComparison.Ordinal);
    }

    private static IEnumerable<string> SecretForms(byte[] secret)
    {
        yield return Convert.ToHexString(secret);
        yield return Convert.ToHexString(secret.AsSpan(0, 8));
        yield return Convert.ToHexString(secret.AsSpan(24, 8));
        yield return Convert.ToBase64String(secret);
        yield return Convert.ToBase64String(secret.AsSpan(0, 9));
        yield return Convert.ToBase64String(secret).TrimEnd('=').Replace('+', '-').Replace('/', '_');
    }

    [Fact]
    public void SigningKeyPair_AfterDispose_ThrowsObjectDisposed()
    {
        var pair = SigningKeyPair.Generate();
        pair.Dispose();

        Assert.Throws<ObjectDisposedException>(() => pair.Sign("m"u8));
        Assert.Throws<ObjectDisposedException>(() => pair.ExportSeed(new byte[32]));
    }

    [Fact]
    public void BoxKeyPair_AfterDispose_ThrowsObjectDisposed()
    {
        var pair = BoxKeyPair.Generate();
        var peer = BoxKeyPair.Generate().PublicKey;
        var sealedBox = Primitives.Seal("m"u8, pair.PublicKey.Span);
        pair.Dispose();

        Assert.Throws<ObjectDisposedException>(() => pair.OpenSealed(sealedBox));
        Assert.Throws<ObjectDisposedException>(() => pair.SharedSecret(peer));
        Assert.Throws<ObjectDisposedException>(() => pair.ExportPrivateKey(new byte[32]));
    }

    [Fact]
    public void DeviceKeys_AfterDispose_ThrowsObjectDisposed()
    {
        var keys = DeviceKeys.Generate(Guid.NewGuid());
        keys.Dispose();

        Assert.Throws<ObjectDisposedException>(() => keys.Sign("m"u8));
        Assert.Throws<ObjectDisposedException>(() => AuthChallenge.Sign(keys, new byte[32], "globe", TestPki.Now));
    }

    [Fact]
    public void EpochKey_AfterDispose_ThrowsObjectDisposed()
    {
        var key = EpochKey.Generate(Guid.NewGuid(), 0);
        key.Dispose();

        Assert.Throws<ObjectDisposedException>(() => key.Key.Length);
    }

    [Fact]
    public void DocumentKey_AfterDispose_ThrowsObjectDisposed()
    {
        var key = DocumentKey.Generate();
        key.Dispose();

        Assert.Throws<ObjectDisposedException>(() => key.ExportBytes());
        Assert.Throws<ObjectDisposedException>(() => key.Key.Length);
    }

    [Fact]
    public void DocumentKey_ExportBytes_RoundTripsThroughFromBytes()
    {
        using var key = DocumentKey.Generate();
        var bytes = key.ExportBytes();
        using var copy = DocumentKey.FromBytes(bytes);

        Assert.Equal(bytes, copy.ExportBytes());
        Assert.NotSame(bytes, key.ExportBytes());
    }
}
