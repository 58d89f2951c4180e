using System.Globalization;
using GlobeSecure.Benchmarks.Echo;
using GlobeSecure.Testing;
using Google.Protobuf;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;

namespace GlobeSecure.Benchmarks;

/// <summary>
/// The real server in-process (the tests' <see cref="GlobeServerFixture"/>: Kestrel h2c on a free
/// loopback port, a fresh database on the benchmark's PostgreSQL) with the benchmark-only echo
/// and raw streaming services mapped next to the real ones.
/// </summary>
internal sealed class BenchServer : GlobeServerFixture
{
    /// <summary>
    /// High enough that no channel's epoch becomes due by message count during a run. The server
    /// only flags <c>rotation_required</c> (it never refuses a send for it), so this changes no
    /// send's work; it keeps the channels in the state a real client would leave them.
    /// </summary>
    public const int RotateAfterMessages = 1_000_000_000;

    private const string Unreachable = "1000000000";

    /// <summary>
    /// Starts the server with a database of its own on the benchmark's PostgreSQL; null, with the
    /// reason on standard error, when it cannot.
    /// </summary>
    public static async Task<BenchServer?> StartAsync(BenchSettings settings)
    {
        // The fixture creates (and drops) its own database on the server GLOBE_TEST_DB names.
        Environment.SetEnvironmentVariable("GLOBE_TEST_DB", settings.ConnectionString);
        var server = new BenchServer();
        try
        {
            await server.InitializeAsync();
            return server;
        }
        catch (Exception ex) when (ex is Npgsql.NpgsqlException or TimeoutException or System.Net.Sockets.SocketException)
        {
            await Console.Error.WriteLineAsync($"error: cannot start the server on the database of {BenchSettings.DatabaseVariable} ({settings.RedactedConnectionString}): {ex.Message}");
            return null;
        }
    }

    protected override void Configure(WebApplicationBuilder builder)
    {
        builder.Configuration["Globe:Channels:RotateAfterMessages"] = RotateAfterMessages.ToString(CultureInfo.InvariantCulture);
        // The load comes from one address and a few devices at thousands of calls a second: the
        // call-rate and stream limits (Globe:Limits, ADR 0014) are raised out of reach rather than
        // turned off, so every call still pays for the limiters, as in production.
        foreach (var limit in new[] { "PerDevice", "PerAddress" })
        {
            builder.Configuration[$"Globe:Limits:{limit}:Burst"] = Unreachable;
            builder.Configuration[$"Globe:Limits:{limit}:Refill"] = Unreachable;
        }

        builder.Configuration["Globe:Limits:MaxStreamsPerDevice"] = Unreachable;
    }

    protected override void Map(WebApplication app)
    {
        app.MapGrpcService<EchoServer>();
        app.MapGrpcService<RawStreamServer>();
    }
}

/// <summary>The unary baseline: returns its payload, with nothing else on the path but the server's own interceptors.</summary>
internal sealed class EchoServer : EchoService.EchoServiceBase
{
    public override Task<EchoMessage> Echo(EchoMessage request, ServerCallContext context) => Task.FromResult(new EchoMessage { Payload = request.Payload });
}

/// <summary>Shared payload bytes.</summary>
internal static class Payloads
{
    /// <summary>1 KiB of random bytes (the message plaintext and the echo payload).</summary>
    public static byte[] OneKiB { get; } = System.Security.Cryptography.RandomNumberGenerator.GetBytes(1024);

    public static ByteString OneKiBString { get; } = ByteString.CopyFrom(OneKiB);
}
