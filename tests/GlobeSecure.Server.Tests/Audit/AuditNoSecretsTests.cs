using System.Security.Cryptography;
using System.Text;
using GlobeSecure.Client;
using GlobeSecure.Contracts.V1;
using GlobeSecure.Crypto;
using GlobeSecure.EventStore;
using GlobeSecure.Server.Tests.Channels;
using GlobeSecure.Server.Tests.Documents;
using GlobeSecure.Server.Tests.Identity;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;

namespace GlobeSecure.Server.Tests.Audit;

/// <summary>
/// Issue 8, "Coverage": entries hold no content, keys, tokens or codes. A whole flow on its own
/// database, then every field of every stored entry is scanned for every secret the flow used.
/// </summary>
public sealed class AuditNoSecretsTests(IdentityServerFixture server) : IClassFixture<IdentityServerFixture>, IDisposable
{
    private readonly NetworkDriver _driver = new(server);
    private readonly List<(string What, string Value)> _secrets = [];

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private void Secret(string what, string value) => _secrets.Add((what, value));

    private void Secret(string what, byte[] value)
    {
        Secret(what + " (hex)", Convert.ToHexStringLower(value));
        Secret(what + " (HEX)", Convert.ToHexString(value));
        Secret(what + " (base64)", Convert.ToBase64String(value));
    }

    private void Secret(Member member) => Secret($"session token of {member.Role}", member.Token);

    [Fact]
    public async Task Flow_BootstrapEnrolAuthenticateMessageDocument_LeavesNoSecretInTheTrail()
    {
        // Bootstrap with a root key whose seed the test knows (the root key holder's secret).
        var code = await _driver.IssueBootstrapCodeAsync();
        Secret("bootstrap code", code);
        var seed = RandomNumberGenerator.GetBytes(32);
        Secret("root key seed", seed);
        var rootKey = SigningKeyPair.FromSeed(seed);
        Secret("root public key", rootKey.PublicKey.ToArray());
        var device = DeviceKeys.Generate(Guid.CreateVersion7());
        var request = _driver.BootstrapRequest(code, rootKey, device, Guid.CreateVersion7(), Guid.CreateVersion7());
        await _driver.Network.BootstrapAsync(request, cancellationToken: Ct);
        var administrator = new Member(Guid.Parse(request.AdministratorUserId), Guid.Parse(request.NetworkAuthorityId), Role.NetworkAdministrator, device,
            Client.Wire.FromProto(request.Certificate), await _driver.AuthenticateAsync(device));
        Secret(administrator);
        var network = new BootstrappedNetwork("GlobE Network", rootKey, administrator.AuthorityId, administrator);

        // A second administrator and a member authority, with every code they were given.
        var secondCode = await _driver.InviteAsync(administrator, Role.NetworkAdministrator, "Second Administrator");
        Secret("enrolment code", secondCode.Code);
        var second = await _driver.EnrolAndCertifyAsync(secondCode, administrator, Role.NetworkAdministrator, rootKey);
        Secret(second);
        var authorityId = Guid.CreateVersion7();
        await _driver.Membership.ApplyAsync(new ApplyRequest
        {
            AuthorityId = authorityId.ToString(),
            Name = "Anti-Corruption Commission",
            Country = "KE",
            Kind = AuthorityKind.AntiCorruptionAgency,
            LegalBasis = "Specialised body under UNCAC art. 36.",
            FocalPoint = new FocalPoint { Name = "Focal Point", Email = "focal@example.org" },
        }, cancellationToken: Ct);
        await _driver.Membership.ApproveAsync(new ApproveRequest { AuthorityId = authorityId.ToString() }, administrator.Headers, cancellationToken: Ct);
        var approved = await _driver.Membership.ApproveAsync(new ApproveRequest { AuthorityId = authorityId.ToString() }, second.Headers, cancellationToken: Ct);
        Secret("authority administrator code", approved.AdministratorCode.Code);
        var authorityAdmin = await _driver.EnrolAndCertifyAsync(approved.AdministratorCode, administrator, Role.AuthorityAdministrator);
        Secret(authorityAdmin);
        var members = new List<Member>();
        foreach (var name in new[] { "Alice", "Bob" })
        {
            var invitation = await _driver.InviteAsync(authorityAdmin, Role.Investigator, name);
            Secret("enrolment code", invitation.Code);
            var member = await _driver.EnrolAndCertifyAsync(invitation, authorityAdmin, Role.Investigator);
            Secret(member);
            Secret("device signing public key", member.Device.Public.SigningKey.ToArray());
            Secret("device box public key", member.Device.Public.BoxKey.ToArray());
            members.Add(member);
        }

        var (alice, bob) = (members[0], members[1]);
        // A refused token is not recorded either.
        var forgedToken = "forged-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(24));
        Secret("refused token", forgedToken);
        await Assert.ThrowsAsync<RpcException>(() => _driver.Auth.WhoAmIAsync(new WhoAmIRequest(),
            new Metadata { { "authorization", $"Bearer {forgedToken}" } }, cancellationToken: Ct).ResponseAsync);

        // A channel, a document and a message carrying its key.
        var channels = new ChannelDriver(_driver, network);
        var channel = await channels.CreateAsync(alice, alice, bob);
        var channelId = Guid.Parse(channel.ChannelId);
        using (var epochKey = await channels.OpenEpochKeyAsync(alice, channelId, channel.CurrentEpoch))
        {
            Secret("epoch key", epochKey.ExportBytes());
        }

        var document = await EncryptedDocument.CreateAsync(4096);
        Secret("document plaintext", document.Plaintext);
        Secret("document key", document.Key);
        await new DocumentDriver(_driver).PutAsync(alice, channelId, document);
        var text = "Payment of 2.4M routed through account LT-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));
        Secret("message text", text);
        Secret("message text", Encoding.UTF8.GetBytes(text));
        var message = await channels.SendTextAsync(alice, channelId, text, [document.DocumentId]);
        Assert.Equal(text, await channels.ReadAsync(bob, message));

        var entries = await server.Services.GetRequiredService<PostgresEventStore>().ReadAuditAsync(0, 100_000, Ct);

        Assert.Contains(entries, e => e.Entry.Action == "/globesecure.v1.ChannelService/SendMessage" && e.Entry.Outcome == AuditOutcome.Allowed);
        Assert.Contains(entries, e => e.Entry.Action == "/globesecure.v1.DocumentService/SealDocument" && e.Entry.Outcome == AuditOutcome.Allowed);
        Assert.Contains(entries, e => e.Entry.Action == "/globesecure.v1.AuthService/WhoAmI" && e.Entry.Outcome == AuditOutcome.Denied);
        Assert.Empty(entries.Select(e => e.Entry.Action).Where(a => !Server.Audit.AuditCatalog.All.Any(c => c.Action == a)).Distinct());
        var leaks = (
            from e in entries
            from field in Fields(e.Entry)
            from secret in _secrets
            where field.Value is not null && Leaks(field.Value, secret.Value)
            select $"position {e.Position} {field.Name}: {secret.What}").ToList();
        Assert.True(leaks.Count == 0, "secrets in the audit trail:\n" + string.Join("\n", leaks));
    }

    /// <summary>The whole secret, or any 12-character piece of it (a truncated or partial copy).</summary>
    private static bool Leaks(string field, string secret)
    {
        const int piece = 12;
        if (field.Contains(secret, StringComparison.Ordinal))
        {
            return true;
        }

        for (var i = 0; i + piece <= secret.Length; i++)
        {
            if (field.Contains(secret.AsSpan(i, piece), StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }

    private static IEnumerable<(string Name, string? Value)> Fields(AuditEntry entry) =>
    [
        (nameof(entry.Action), entry.Action), (nameof(entry.Target), entry.Target), (nameof(entry.Reason), entry.Reason),
        (nameof(entry.Peer), entry.Peer), (nameof(entry.TraceId), entry.TraceId),
    ];

    public void Dispose() => _driver.Dispose();
}
