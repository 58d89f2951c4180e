using GlobeSecure.Contracts.V1;

namespace GlobeSecure.Server.Audit;

/// <summary>
/// What an export (<see cref="AuditQueries"/>) needs from the checkpoints: the server's checkpoint
/// keys for the header and the signed checkpoints of the exported range. Implemented by the
/// checkpoint component; <see cref="NoAuditCheckpoints"/> until it is registered.
/// </summary>
internal interface IAuditCheckpointSource
{
    /// <summary>The server's checkpoint keys, current and earlier (what DirectoryService.GetServerKeys serves).</summary>
    Task<IReadOnlyList<ServerKey>> KeysAsync(CancellationToken cancellationToken);

    /// <summary>The checkpoints at positions <paramref name="fromPosition"/> to <paramref name="toPosition"/> (both included), in ascending position.</summary>
    Task<IReadOnlyList<AuditCheckpoint>> CheckpointsAsync(long fromPosition, long toPosition, CancellationToken cancellationToken);

    /// <summary>The last checkpoint at a position before <paramref name="position"/> (e.g. a retention cut), or null.</summary>
    Task<AuditCheckpoint?> LastCheckpointBeforeAsync(long position, CancellationToken cancellationToken);
}

/// <summary>No keys and no checkpoints: the default until the checkpoint component registers its source.</summary>
internal sealed class NoAuditCheckpoints : IAuditCheckpointSource
{
    public Task<IReadOnlyList<ServerKey>> KeysAsync(CancellationToken cancellationToken) => Task.FromResult<IReadOnlyList<ServerKey>>([]);

    public Task<IReadOnlyList<AuditCheckpoint>> CheckpointsAsync(long fromPosition, long toPosition, CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<AuditCheckpoint>>([]);

    public Task<AuditCheckpoint?> LastCheckpointBeforeAsync(long position, CancellationToken cancellationToken) => Task.FromResult<AuditCheckpoint?>(null);
}
