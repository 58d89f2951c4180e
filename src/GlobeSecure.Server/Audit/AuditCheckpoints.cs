using GlobeSecure.Contracts.V1;
using GlobeSecure.Crypto;
using GlobeSecure.EventStore;
using GlobeSecure.Server.Identity;
using GlobeSecure.Server.Infrastructure;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Microsoft.Extensions.Options;

namespace GlobeSecure.Server.Audit;

/// <summary>
/// Signed checkpoints of the chain head, retention and verification (docs/audit.md "Checkpoints",
/// "Verification", "Retention"). Checkpoints are signed with the server's <see cref="CheckpointKey"/>
/// over the network id (the secretariat's authority id), so nothing is signed before the network
/// is bootstrapped. Any process may run the passes: a position is checkpointed once, and purges
/// take turns.
/// </summary>
internal sealed partial class AuditCheckpoints(
    PostgresEventStore store,
    CheckpointKey key,
    IDeviceDirectory directory,
    Access access,
    TimeProvider clock,
    IOptions<AuditOptions> options,
    ILogger<AuditCheckpoints> logger) : IServerKeys, IAuditCheckpointSource
{
    private const int DefaultPage = 100;
    private const int MaxPage = 1000;

    /// <summary>The audited action of a retention purge.</summary>
    public const string RetentionAction = "globesecure.audit/retention-purge";

    private int _keyRecorded;

    /// <summary>Auditors (network and authority alike: checkpoints carry no content); an audited read.</summary>
    public async Task<ListCheckpointsResponse> ListAsync(Caller caller, ListCheckpointsRequest request, ServerCallContext context)
    {
        var v = new Violations();
        if (request.AfterPosition < 0)
        {
            v.Add("after_position", "must be 0 or more");
        }

        if (request.Limit is < 0 or > MaxPage)
        {
            v.Add("limit", $"must be 1 to {MaxPage} (0 for the default of {DefaultPage})");
        }

        v.ThrowIfAny();
        var checkpoints = await store.ReadCheckpointsAsync(request.AfterPosition, request.Limit == 0 ? DefaultPage : request.Limit, context.CancellationToken);
        await access.RecordReadAsync(context);
        var response = new ListCheckpointsResponse();
        response.Checkpoints.AddRange(checkpoints.Select(ToProto));
        return response;
    }

    /// <summary>Network auditors only (an authority auditor is refused, audited): the whole stored chain and every checkpoint.</summary>
    public async Task<VerifyAuditResponse> VerifyAsync(Caller caller, VerifyAuditRequest request, ServerCallContext context)
    {
        var network = await directory.NetworkAuthorityIdAsync(context.CancellationToken);
        if (network is null || caller.AuthorityId != network)
        {
            await access.DenyAsync(context, caller, null, "only an auditor of the network secretariat may verify the whole audit chain");
        }

        var keys = await KnownKeysAsync(context.CancellationToken);
        var result = await store.VerifyAuditAsync(c => CheckSignature(keys, network!.Value, c), context.CancellationToken);
        await access.RecordReadAsync(context);
        return new VerifyAuditResponse
        {
            Valid = result.IsValid,
            Entries = result.Checked,
            Checkpoints = result.Checkpoints,
            FirstBadPosition = result.FirstBadPosition ?? 0,
            Problem = result.Problem ?? "",
        };
    }

    /// <summary>The current key and every earlier one (<see cref="IServerKeys"/>).</summary>
    public async Task<IReadOnlyList<ServerKey>> ListKeysAsync(CancellationToken cancellationToken)
    {
        await RecordKeyAsync(cancellationToken);
        return [.. (await store.ReadServerKeysAsync(cancellationToken)).Select(k => new ServerKey
        {
            KeyId = k.KeyId,
            PublicKey = ByteString.CopyFrom(k.PublicKey.Span),
            Purpose = k.Purpose,
            FirstUsedAt = Timestamp.FromDateTimeOffset(k.FirstUsedAt),
            Current = k.KeyId == key.KeyId,
        })];
    }

    /// <summary>
    /// Signs the head if it moved since the last checkpoint (and the network exists); returns the
    /// position signed, or 0. Several processes may race: the position is stored once.
    /// </summary>
    public async Task<long> SignHeadAsync(CancellationToken cancellationToken)
    {
        if (await directory.NetworkAuthorityIdAsync(cancellationToken) is not { } network)
        {
            return 0;
        }

        var (position, hash) = await store.ReadAuditHeadAsync(cancellationToken);
        var last = await store.ReadLastCheckpointAsync(cancellationToken: cancellationToken);
        if (position == 0 || last?.Position >= position)
        {
            return 0;
        }

        await RecordKeyAsync(cancellationToken);
        var now = CanonicalWriter.TruncateToMicroseconds(clock.GetUtcNow());
        var checkpoint = new StoredCheckpoint(position, hash, now, key.KeyId, key.Sign(network, position, hash.Span, now), RetentionCut: false);
        if (!await store.RecordCheckpointAsync(checkpoint, cancellationToken))
        {
            return 0;
        }

        LogCheckpoint(logger, position, key.KeyId);
        return position;
    }

    /// <summary>
    /// Purges the entries older than <see cref="AuditOptions.Retention"/> after a signed
    /// retention-cut checkpoint at the last one (in one transaction; docs/audit.md "Retention"),
    /// then audits the purge. Returns the entries purged.
    /// </summary>
    public async Task<long> PurgeExpiredAsync(CancellationToken cancellationToken)
    {
        if (await directory.NetworkAuthorityIdAsync(cancellationToken) is not { } network)
        {
            return 0;
        }

        var now = clock.GetUtcNow();
        var through = await store.LastAuditPositionBeforeAsync(now - options.Value.Retention, cancellationToken);
        var cut = await store.ReadLastCheckpointAsync(retentionCutOnly: true, cancellationToken);
        if (through == 0 || cut?.Position >= through)
        {
            return 0;
        }

        await RecordKeyAsync(cancellationToken);
        var signedAt = CanonicalWriter.TruncateToMicroseconds(now);
        var purged = await store.PurgeAuditThroughAsync(through,
            c => c with { SignedAt = signedAt, KeyId = key.KeyId, Signature = key.Sign(network, c.Position, c.Hash.Span, signedAt) },
            cancellationToken);
        if (purged > 0)
        {
            var position = (await store.ReadLastCheckpointAsync(retentionCutOnly: true, cancellationToken))!.Position;
            await store.RecordAuditAsync(new AuditEntry(Guid.CreateVersion7(), clock.GetUtcNow(), RetentionAction, AuditOutcome.Allowed,
                Target: position.ToString(System.Globalization.CultureInfo.InvariantCulture)), cancellationToken);
            LogPurge(logger, purged, position);
        }

        return purged;
    }

    /// <summary>The keys a checkpoint may be signed with: every recorded one and the current one.</summary>
    private async Task<IReadOnlyDictionary<string, SigningPublicKey>> KnownKeysAsync(CancellationToken cancellationToken)
    {
        await RecordKeyAsync(cancellationToken);
        return (await store.ReadServerKeysAsync(cancellationToken)).ToDictionary(k => k.KeyId, k => new SigningPublicKey(k.PublicKey.Span));
    }

    private static string? CheckSignature(IReadOnlyDictionary<string, SigningPublicKey> keys, Guid network, StoredCheckpoint c)
    {
        if (!keys.TryGetValue(c.KeyId, out var publicKey))
        {
            return $"it is signed by key {c.KeyId}, which is not a server key";
        }

        return CheckpointSignature.Verify(publicKey, network, c.Position, c.Hash.Span, c.SignedAt, c.KeyId, c.Signature.Span)
            ? null
            : $"its signature does not verify under server key {c.KeyId}";
    }

    private async Task RecordKeyAsync(CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _keyRecorded) == 1)
        {
            return;
        }

        await store.RecordServerKeyAsync(new StoredServerKey(key.KeyId, key.PublicKey.ToArray(), CheckpointKey.Purpose, clock.GetUtcNow()), cancellationToken);
        Volatile.Write(ref _keyRecorded, 1);
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<ServerKey>> KeysAsync(CancellationToken cancellationToken) => ListKeysAsync(cancellationToken);

    /// <inheritdoc />
    public async Task<IReadOnlyList<Contracts.V1.AuditCheckpoint>> CheckpointsAsync(long fromPosition, long toPosition, CancellationToken cancellationToken)
    {
        var found = new List<Contracts.V1.AuditCheckpoint>();
        var after = Math.Max(fromPosition - 1, 0);
        for (IReadOnlyList<StoredCheckpoint> page; (page = await store.ReadCheckpointsAsync(after, MaxPage, cancellationToken)).Count > 0; after = page[^1].Position)
        {
            found.AddRange(page.TakeWhile(c => c.Position <= toPosition).Select(ToProto));
            if (page[^1].Position >= toPosition)
            {
                break;
            }
        }

        return found;
    }

    /// <inheritdoc />
    public async Task<Contracts.V1.AuditCheckpoint?> LastCheckpointBeforeAsync(long position, CancellationToken cancellationToken) =>
        await store.ReadLastCheckpointBeforeAsync(position, cancellationToken) is { } c ? ToProto(c) : null;

    internal static Contracts.V1.AuditCheckpoint ToProto(StoredCheckpoint c) => new()
    {
        Position = c.Position,
        Hash = ByteString.CopyFrom(c.Hash.Span),
        SignedAt = Timestamp.FromDateTimeOffset(c.SignedAt),
        KeyId = c.KeyId,
        Signature = ByteString.CopyFrom(c.Signature.Span),
        RetentionCut = c.RetentionCut,
    };

    [LoggerMessage(EventId = 8001, Level = LogLevel.Debug, Message = "Audit checkpoint signed at position {Position} with key {KeyId}")]
    private static partial void LogCheckpoint(ILogger logger, long position, string keyId);

    [LoggerMessage(EventId = 8002, Level = LogLevel.Information, Message = "Audit retention: {Purged} entries purged through position {Position} (retention cut signed)")]
    private static partial void LogPurge(ILogger logger, long purged, long position);
}

/// <summary>
/// The background passes of the audit trail: the checkpoint pass every
/// <see cref="AuditOptions.CheckpointInterval"/> and the retention pass every
/// <see cref="AuditOptions.RetentionInterval"/>, through <see cref="PeriodicPass"/>.
/// </summary>
internal sealed partial class AuditPasses(AuditCheckpoints checkpoints, TimeProvider clock, IOptions<AuditOptions> options,
    ILogger<AuditPasses> logger) : BackgroundService
{
    protected override Task ExecuteAsync(CancellationToken stoppingToken) => Task.WhenAll(
        PeriodicPass.RunAsync(() => options.Value.CheckpointInterval, clock, checkpoints.SignHeadAsync, e => LogPassFailed(logger, "checkpoint", e), stoppingToken),
        PeriodicPass.RunAsync(() => options.Value.RetentionInterval, clock, checkpoints.PurgeExpiredAsync, e => LogPassFailed(logger, "retention", e), stoppingToken));

    [LoggerMessage(EventId = 8003, Level = LogLevel.Warning, Message = "Audit {Pass} pass failed; the next pass tries again")]
    private static partial void LogPassFailed(ILogger logger, string pass, Exception exception);
}
