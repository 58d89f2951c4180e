using GlobeSecure.Contracts.V1;
using GlobeSecure.Server.Documents;
using GlobeSecure.Server.Infrastructure;

namespace GlobeSecure.Server.Tests.Documents;

/// <summary>Given(events).When(command).Then(events or error) for the document lifecycle: no database.</summary>
public sealed class DocumentDeciderTests
{
    private static readonly DateTimeOffset At = new(2026, 11, 24, 12, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan Expiry = TimeSpan.FromHours(24);
    private const int ChunkSize = 64 * 1024;
    private readonly Guid _document = Guid.CreateVersion7();
    private readonly Guid _channel = Guid.CreateVersion7();
    private readonly Guid _alice = Guid.CreateVersion7();
    private readonly Guid _aliceDevice = Guid.CreateVersion7();
    private readonly Guid _authority = Guid.CreateVersion7();
    private readonly byte[] _header = [.. Enumerable.Range(0, 45).Select(i => (byte)i)];
    private readonly byte[] _hash = [.. Enumerable.Range(0, 32).Select(i => (byte)(i * 7))];

    private static DocumentState Given(params object[] events) => events.Aggregate(DocumentState.Initial, DocumentDecider.Evolve);

    private static ChunkLayout Layout(long plaintext) => ChunkLayout.Of(Crypto.DocumentCipher.CiphertextLength(plaintext, ChunkSize), ChunkSize)!.Value;

    private StartUpload Start(long plaintext = 3 * ChunkSize, long max = long.MaxValue, long quota = long.MaxValue, long used = 0) =>
        new(_document, _channel, _header, Layout(plaintext), _alice, _aliceDevice, _authority, max, quota, used, At + Expiry, At);

    private UploadStarted Started(long plaintext = 3 * ChunkSize) => (UploadStarted)DocumentDecider.Decide(Start(plaintext), DocumentState.Initial)[0];

    private SealUpload Seal(long held = 3, byte[]? server = null, byte[]? client = null, DateTimeOffset? at = null) =>
        new(_document, _alice, _aliceDevice, client ?? _hash, held, held == 3 ? server ?? _hash : null, at ?? At.AddMinutes(5));

    private DocumentSealed Sealed() => new(_document, _channel, _hash, _alice, _aliceDevice, At.AddMinutes(5));

    [Theory]
    [InlineData(0, 1, 16)]
    [InlineData(1, 1, 17)]
    [InlineData(ChunkSize, 1, ChunkSize + 16)]
    [InlineData(ChunkSize + 1, 2, 17)]
    [InlineData(3 * ChunkSize, 3, ChunkSize + 16)]
    public void ChunkLayout_CipherLengthOfAPlaintext_GivesItsChunkCountAndLastChunk(long plaintext, long chunks, int last)
    {
        var layout = Layout(plaintext);

        Assert.Equal(chunks, layout.ChunkCount);
        Assert.Equal(last, layout.LastChunkBytes);
        Assert.Equal(layout.CiphertextLength, layout.BytesHeld(chunks));
    }

    [Theory]
    [InlineData(45 + 15)]
    [InlineData(45 + ChunkSize + 16 + 15)]
    [InlineData(0)]
    public void ChunkLayout_LengthNoPlaintextHas_IsNull(long ciphertextLength) => Assert.Null(ChunkLayout.Of(ciphertextLength, ChunkSize));

    [Fact]
    public void Start_WithinLimits_RecordsUploadStartedWithTheLayoutAndExpiry()
    {
        var started = Assert.IsType<UploadStarted>(Assert.Single(DocumentDecider.Decide(Start(), DocumentState.Initial)));

        Assert.Equal((3L, At + Expiry, _authority), (started.ChunkCount, started.ExpiresAt, started.UploaderAuthorityId));
    }

    [Fact]
    public void Start_SameRequestRetried_RecordsNothing() => Assert.Empty(DocumentDecider.Decide(Start(), Given(Started())));

    [Fact]
    public void Start_OtherLengthUnderTheSameId_AlreadyExists() =>
        Assert.Throws<AlreadyExistsException>(() => DocumentDecider.Decide(Start(plaintext: 10), Given(Started())));

    [Fact]
    public void Start_LargerThanTheMaximum_LimitExceededNamingIt()
    {
        var start = Start(max: 1000);

        var refused = Assert.Throws<LimitExceededException>(() => DocumentDecider.Decide(start, DocumentState.Initial));

        Assert.Contains("maximum document size is 1000 bytes", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Start_BeyondWhatTheQuotaLeaves_LimitExceededNamingTheQuota()
    {
        var refused = Assert.Throws<LimitExceededException>(() => DocumentDecider.Decide(Start(quota: 300_000, used: 200_000), DocumentState.Initial));

        Assert.Contains("quota is 300000 bytes", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Seal_CompleteWithTheServersHash_RecordsDocumentSealed()
    {
        var events = DocumentDecider.Decide(Seal(), Given(Started()));

        Assert.Equal(_hash, Assert.IsType<DocumentSealed>(Assert.Single(events)).CiphertextHash);
        Assert.Equal(DocumentStatus.Sealed, Given(Started(), events[0]).Status);
    }

    [Fact]
    public void Seal_HashDiffersFromTheServers_WrongStateAndNothingSealed()
    {
        var other = (byte[])_hash.Clone();
        other[0] ^= 1;

        Assert.Throws<WrongStateException>(() => DocumentDecider.Decide(Seal(server: other), Given(Started())));
    }

    [Fact]
    public void Seal_ChunksMissing_WrongStateNamingThem()
    {
        var refused = Assert.Throws<WrongStateException>(() => DocumentDecider.Decide(Seal(held: 2), Given(Started())));

        Assert.Contains("chunks_held is 2 of chunk_count 3", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Seal_ByAnotherDevice_PermissionDenied() =>
        Assert.Throws<PermissionDeniedException>(() => DocumentDecider.Decide(Seal() with { DeviceId = Guid.CreateVersion7() }, Given(Started())));

    [Fact]
    public void Seal_AfterTheExpiry_WrongState() =>
        Assert.Throws<WrongStateException>(() => DocumentDecider.Decide(Seal(at: At + Expiry), Given(Started())));

    [Fact]
    public void Seal_AlreadySealedWithTheSameHash_RecordsNothing() => Assert.Empty(DocumentDecider.Decide(Seal(), Given(Started(), Sealed())));

    [Fact]
    public void Seal_UnknownDocument_NotFound() => Assert.Throws<NotFoundException>(() => DocumentDecider.Decide(Seal(), DocumentState.Initial));

    [Fact]
    public void Expire_UploadingPastItsExpiry_RecordsUploadExpiredReleasingItsLength()
    {
        var expired = Assert.IsType<UploadExpired>(Assert.Single(DocumentDecider.Decide(new ExpireUpload(_document, At + Expiry), Given(Started()))));

        Assert.Equal(Started().CiphertextLength, expired.CiphertextLength);
    }

    [Fact]
    public void Expire_BeforeItsExpiryOrOnceSealed_RecordsNothing()
    {
        Assert.Empty(DocumentDecider.Decide(new ExpireUpload(_document, At + Expiry - TimeSpan.FromSeconds(1)), Given(Started())));
        Assert.Empty(DocumentDecider.Decide(new ExpireUpload(_document, At + (2 * Expiry)), Given(Started(), Sealed())));
    }

    [Fact]
    public void Delete_SealedPastRetention_RecordsDocumentDeleted() =>
        Assert.IsType<DocumentDeleted>(Assert.Single(DocumentDecider.Decide(new DeleteForRetention(_document, 30, At.AddDays(31)), Given(Started(), Sealed()))));

    [Fact]
    public void Delete_RetentionZeroOrNotYetDue_RecordsNothing()
    {
        Assert.Empty(DocumentDecider.Decide(new DeleteForRetention(_document, 0, At.AddDays(3650)), Given(Started(), Sealed())));
        Assert.Empty(DocumentDecider.Decide(new DeleteForRetention(_document, 30, At.AddDays(29)), Given(Started(), Sealed())));
    }
}
