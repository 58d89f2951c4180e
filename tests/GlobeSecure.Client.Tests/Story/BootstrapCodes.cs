using GlobeSecure.Server;
using GlobeSecure.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace GlobeSecure.Client.Tests.Story;

/// <summary>
/// Gets a bootstrap code from the test server through the same service as the operator's
/// <c>bootstrap-code</c> command. That service is internal to the server, so it is reached by
/// name: a rename fails here loudly rather than silently.
/// </summary>
internal static class BootstrapCodes
{
    private const string ServiceType = "GlobeSecure.Server.Identity.BootstrapCodes";

    public static async Task<string> IssueAsync(GlobeServerFixture server, CancellationToken cancellationToken)
    {
        var type = typeof(GlobeServerHost).Assembly.GetType(ServiceType, throwOnError: false);
        if (type is null)
        {
            // Only before the Identity feature is merged: the story cannot start without a bootstrap.
            Assert.Skip("The server has no Identity feature (bootstrap codes) yet.");
        }

        var service = server.Services.GetRequiredService(type);
        var issue = type.GetMethod("IssueAsync", [typeof(CancellationToken)])
            ?? throw new InvalidOperationException($"{ServiceType}.IssueAsync(CancellationToken) is gone.");
        return await (Task<string>)issue.Invoke(service, [cancellationToken])!;
    }
}
