using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Options;

namespace GlobeSecure.Server.Tests.Audit;

public sealed class AuditStartupTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static WebApplication Server(params (string Key, string Value)[] settings) => GlobeServerHost.Build(["--environment", "Testing"], builder =>
    {
        builder.Configuration["Globe:Listen"] = "http://127.0.0.1:0";
        builder.Configuration["ConnectionStrings:Globe"] = "Host=127.0.0.1;Port=1;Database=nowhere;Username=postgres;Timeout=3";
        builder.Configuration["Logging:LogLevel:Default"] = "None";
        foreach (var (key, value) in settings)
        {
            builder.Configuration[key] = value;
        }
    });

    [Fact]
    public async Task Start_RetentionUnder365DaysWithoutTheTestOverride_FailsNamingTheSetting()
    {
        await using var app = Server(("Globe:Audit:Retention", "30.00:00:00"));

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => app.StartAsync(Ct));

        Assert.Contains("Retention at least 365", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_KeyFileNotASeed_FailsNamingTheFileWithoutItsContent()
    {
        var file = Path.Combine(Directory.CreateTempSubdirectory("globe-key-").FullName, "bad.key");
        await File.WriteAllTextAsync(file, "not-a-seed-but-secret-looking-text", Ct);
        try
        {
            await using var app = Server(("Globe:Audit:CheckpointKeyFile", file));

            var error = await Assert.ThrowsAnyAsync<Exception>(() => app.StartAsync(Ct));

            Assert.Contains(file, error.Message, StringComparison.Ordinal);
            Assert.DoesNotContain("secret-looking", error.ToString(), StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(file)!, recursive: true);
        }
    }
}
