namespace GlobeSecure.Crypto.Tests;

public sealed class ReceiptTests
{
    private readonly TestPki _pki = new();
    private readonly Guid _authority = Guid.CreateVersion7();
    private readonly TestDevice _sender;
    private readonly TestDevice _recipient;
    private readonly EpochKey _key = EpochKey.Generate(Guid.CreateVersion7(), 0);

    public ReceiptTests()
    {
        _sender = _pki.Investigator(_authority);
        _recipient = _pki.Investigator(_authority);
    }

    private MessageEnvelope Message() => MessageEnvelope.Seal(
        new MessageHeader(_key.ChannelId, Guid.CreateVersion7(), _sender.UserId, _sender.DeviceId, 0, TestPki.Now, "text/plain", "H1", "A1", []),
        "hello"u8, _key, _sender.Keys);

    private Receipt Receipt(MessageEnvelope message, ReceiptKind kind = ReceiptKind.Read) =>
        Crypto.Receipt.Create(kind, message, TestPki.Now.AddTicks(5), _recipient.UserId, _recipient.Keys);

    [Theory]
    [InlineData(ReceiptKind.Delivered)]
    [InlineData(ReceiptKind.Read)]
    public void Verify_CreatedReceipt_Succeeds(ReceiptKind kind)
    {
        var message = Message();
        var receipt = Receipt(message, kind);

        receipt.Verify(_pki.Verify(_recipient), message);
        receipt.Verify(_pki.Verify(_recipient));
        Assert.Equal(message.Digest(), receipt.MessageDigest);
        Assert.Equal(message.Header.MessageId, receipt.MessageId);
        Assert.Equal(TestPki.Now, receipt.At);
    }

    [Theory]
    [InlineData("kind")]
    [InlineData("channel-id")]
    [InlineData("message-id")]
    [InlineData("message-digest")]
    [InlineData("message-digest-truncated")]
    [InlineData("at")]
    [InlineData("signature")]
    [InlineData("signature-truncated")]
    public void Verify_SignedFieldChanged_ThrowsSignatureInvalid(string field)
    {
        var r = Receipt(Message());
        var changed = field switch
        {
            "kind" => r with { Kind = ReceiptKind.Delivered },
            "channel-id" => r with { ChannelId = Guid.NewGuid() },
            "message-id" => r with { MessageId = Guid.NewGuid() },
            "message-digest" => r with { MessageDigest = Bytes.FlipBit(r.MessageDigest, 31) },
            "message-digest-truncated" => r with { MessageDigest = r.MessageDigest[..31] },
            "at" => r with { At = r.At.AddMicroseconds(-1) },
            "signature" => r with { Signature = Bytes.FlipBit(r.Signature, 1) },
            _ => r with { Signature = r.Signature[..32] },
        };

        var error = Assert.Throws<SignatureInvalidException>(() => changed.Verify(_pki.Verify(_recipient)));
        Assert.Equal("receipt", error.ObjectKind);
    }

    [Fact]
    public void Verify_UndefinedKind_ThrowsMalformedInput()
    {
        var r = Receipt(Message()) with { Kind = (ReceiptKind)9 };

        Assert.Throws<MalformedInputException>(() => r.Verify(_pki.Verify(_recipient)));
    }

    [Theory]
    [InlineData("recipient-user-id")]
    [InlineData("recipient-device-id")]
    public void Verify_RecipientFieldChanged_ThrowsSenderMismatch(string field)
    {
        var r = Receipt(Message());
        var changed = field == "recipient-user-id" ? r with { RecipientUserId = Guid.NewGuid() } : r with { RecipientDeviceId = Guid.NewGuid() };

        Assert.Throws<SenderMismatchException>(() => changed.Verify(_pki.Verify(_recipient)));
    }

    [Fact]
    public void Verify_SignedByAnotherDeviceClaimingTheRecipient_ThrowsSignatureInvalid()
    {
        var r = Receipt(Message());
        var forged = r with { Signature = _sender.Keys.Sign(r.SigningInput()) };

        Assert.Throws<SignatureInvalidException>(() => forged.Verify(_pki.Verify(_recipient)));
    }

    [Fact]
    public void Verify_CertificateOfAnotherDevice_ThrowsSenderMismatch()
    {
        Assert.Throws<SenderMismatchException>(() => Receipt(Message()).Verify(_pki.Verify(_sender)));
    }

    [Fact]
    public void Verify_AgainstAnotherMessage_ThrowsReceiptMismatch()
    {
        var receipt = Receipt(Message());

        Assert.Throws<ReceiptMismatchException>(() => receipt.Verify(_pki.Verify(_recipient), Message()));
    }

    [Fact]
    public void Verify_AgainstAlteredCopyOfTheMessage_ThrowsReceiptMismatch()
    {
        var message = Message();
        var receipt = Receipt(message);
        var altered = message with { Ciphertext = Bytes.FlipBit(message.Ciphertext, 0) };
        var otherChannel = message with { Header = message.Header with { ChannelId = Guid.NewGuid() } };

        Assert.Throws<ReceiptMismatchException>(() => receipt.Verify(_pki.Verify(_recipient), altered));
        Assert.Throws<ReceiptMismatchException>(() => receipt.Verify(_pki.Verify(_recipient), otherChannel));
    }
}
