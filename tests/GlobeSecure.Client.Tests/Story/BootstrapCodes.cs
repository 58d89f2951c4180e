using GlobeSecure.Testing;

namespace GlobeSecure.Client.Tests.Story;

/// <summary>Gets a bootstrap code from the test server through the same service as the operator's <c>bootstrap-code</c> command.</summary>
internal static class BootstrapCodes
{
    public static Task<string> IssueAsync(GlobeServerFixture server, CancellationToken cancellationToken) =>
        server.IssueBootstrapCodeAsync(cancellationToken);
}
