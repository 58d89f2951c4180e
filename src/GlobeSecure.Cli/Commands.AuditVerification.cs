using System.CommandLine;

namespace GlobeSecure.Cli;

/// <summary>Verification, checkpoints and keys of the audit trail (filled in with the checkpoint component).</summary>
internal sealed partial class Commands
{
    private static void AddAuditVerification(Command audit) => _ = audit;
}
