using GlobeSecure.Contracts.V1;

namespace GlobeSecure.Server.Audit;

/// <summary>
/// What an export (<see cref="AuditQueries"/>) needs from the checkpoints: the server's checkpoint
/// keys for the header and the signed checkpoints of the exported range. Implemented by the
/// checkpoint component, <see cref="AuditCheckpoints"/>.
/// </summary>
internal interface IAuditCheckpointSource
{
    /// <summary>The server's checkpoint keys, current and earlier (what DirectoryService.GetServerKeys serves).</summary>
    Task<IReadOnlyList<ServerKey>> KeysAsync(CancellationToken cancellationToken);

    /// <summary>The checkpoints at positions <paramref name="fromPosition"/> to <paramref name="toPosition"/> (both included), in ascending position.</summary>
    Task<IReadOnlyList<AuditCheckpoint>> CheckpointsAsync(long fromPosition, long toPosition, CancellationToken cancellationToken);

    /// <summary>Signs the current head unless it is signed already (so an export ends with a checkpoint); the position signed, or 0.</summary>
    Task<long> SignHeadAsync(CancellationToken cancellationToken);

    /// <summary>The last checkpoint at a position before <paramref name="position"/> (e.g. a retention cut), or null.</summary>
    Task<AuditCheckpoint?> LastCheckpointBeforeAsync(long position, CancellationToken cancellationToken);
}
