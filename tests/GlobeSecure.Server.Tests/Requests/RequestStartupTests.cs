using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Options;

namespace GlobeSecure.Server.Tests.Requests;

public sealed class RequestStartupTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Start_AcknowledgeLongerThanAnswer_FailsNamingTheSetting()
    {
        await using var app = GlobeServerHost.Build(["--environment", "Testing"], builder =>
        {
            builder.Configuration["Globe:Listen"] = "http://127.0.0.1:0";
            builder.Configuration["ConnectionStrings:Globe"] = "Host=127.0.0.1;Port=1;Database=nowhere;Username=postgres;Timeout=3";
            builder.Configuration["Logging:LogLevel:Default"] = "None";
            builder.Configuration["Globe:Requests:Deadlines:Urgent:Acknowledge"] = "5.00:00:00";
        });

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => app.StartAsync(Ct));

        Assert.Contains("Globe:Requests:Deadlines:Urgent:Acknowledge must not be longer than Globe:Requests:Deadlines:Urgent:Answer", error.Message,
            StringComparison.Ordinal);
    }
}
