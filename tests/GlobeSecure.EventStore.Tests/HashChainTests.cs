namespace GlobeSecure.EventStore.Tests;

/// <summary>Known-answer tests: the vectors are in docs/event-store.md and were computed independently (Python hashlib.blake2b).</summary>
public sealed class HashChainTests
{
    private static readonly Guid EventId = Guid.Parse("01936f3e-7a2b-7c4d-8e5f-0123456789ab");
    private static readonly DateTimeOffset RecordedAt = new(2026, 11, 24, 9, 0, 0, TimeSpan.Zero);

    [Fact]
    public void EventLink_KnownEvent_MatchesTheDocumentedVector()
    {
        var link = HashChain.EventLink(HashChain.Genesis.Span, 1, EventId, "case-1", 1, "test.case-opened.v1", """{"caseId":"case-1"}""", null, RecordedAt);

        Assert.Equal(EventVector, Convert.ToHexStringLower(link));
    }

    [Fact]
    public void AuditLink_KnownEntry_MatchesTheDocumentedVector()
    {
        var entry = new AuditEntry(EventId, RecordedAt, "membership.approve-authority", AuditOutcome.Denied, Target: "authority-1", Reason: "ERROR_REASON_PERMISSION_DENIED", Peer: "ipv4:127.0.0.1:5000");

        var link = HashChain.AuditLink(HashChain.Genesis.Span, 1, entry);

        Assert.Equal(AuditVector, Convert.ToHexStringLower(link));
    }

    [Fact]
    public void EventLink_AnyFieldChanged_ChangesTheLink()
    {
        var baseline = HashChain.EventLink(HashChain.Genesis.Span, 1, EventId, "case-1", 1, "t", "{}", null, RecordedAt);
        var variants = new[]
        {
            HashChain.EventLink(HashChain.Genesis.Span, 2, EventId, "case-1", 1, "t", "{}", null, RecordedAt),
            HashChain.EventLink(HashChain.Genesis.Span, 1, Guid.CreateVersion7(), "case-1", 1, "t", "{}", null, RecordedAt),
            HashChain.EventLink(HashChain.Genesis.Span, 1, EventId, "case-2", 1, "t", "{}", null, RecordedAt),
            HashChain.EventLink(HashChain.Genesis.Span, 1, EventId, "case-1", 2, "t", "{}", null, RecordedAt),
            HashChain.EventLink(HashChain.Genesis.Span, 1, EventId, "case-1", 1, "u", "{}", null, RecordedAt),
            HashChain.EventLink(HashChain.Genesis.Span, 1, EventId, "case-1", 1, "t", "{ }", null, RecordedAt),
            HashChain.EventLink(HashChain.Genesis.Span, 1, EventId, "case-1", 1, "t", "{}", "{}", RecordedAt),
            HashChain.EventLink(HashChain.Genesis.Span, 1, EventId, "case-1", 1, "t", "{}", null, RecordedAt.AddTicks(10)),
            HashChain.EventLink(new byte[32] { 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 }, 1, EventId, "case-1", 1, "t", "{}", null, RecordedAt),
            // Moving bytes between adjacent fields must not collide (length prefixes).
            HashChain.EventLink(HashChain.Genesis.Span, 1, EventId, "case-1t", 1, "", "{}", null, RecordedAt),
        };

        Assert.All(variants, v => Assert.NotEqual(baseline, v));
    }

    private const string EventVector = "09af3852c9551d85d03fad67b740e751aa810ed2f67fca3b95eea553c7b83da2";
    private const string AuditVector = "893b9244fa025e410aa909cd4379c9a4a112775bc9a87e43b5a5084e565e1868";
}
