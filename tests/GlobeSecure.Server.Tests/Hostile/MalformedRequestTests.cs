using System.Diagnostics;
using CsCheck;
using GlobeSecure.EventStore;
using GlobeSecure.Server.Audit;
using GlobeSecure.Server.Tests.Audit;
using GlobeSecure.Server.Tests.Identity;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Grpc.Core;
using Grpc.Health.V1;
using Microsoft.Extensions.DependencyInjection;

namespace GlobeSecure.Server.Tests.Hostile;

/// <summary>
/// Issue 9, "Hostile input": random and mutated protobuf messages to every rpc of a running
/// server, anonymously and as each role, answer only documented refusals (never a server fault),
/// store nothing when refused, leak no exception text, and leave the server healthy.
/// GLOBE_FUZZ_CASES (default 20 per rpc) and GLOBE_FUZZ_SEED (default fixed) run more or other cases.
/// </summary>
public sealed class MalformedRequestTests(AuditCoverageFixture server) : IClassFixture<AuditCoverageFixture>, IDisposable
{
    private static readonly StatusCode[] Documented =
    [
        StatusCode.OK, StatusCode.InvalidArgument, StatusCode.NotFound, StatusCode.PermissionDenied, StatusCode.Unauthenticated,
        StatusCode.FailedPrecondition, StatusCode.AlreadyExists, StatusCode.ResourceExhausted, StatusCode.OutOfRange,
    ];

    /// <summary>Words that only an exception's text or a stack trace would put in a status detail.</summary>
    private static readonly string[] Leaks = ["Exception", "   at ", "Npgsql", "System.", "GlobeSecure.Server", "stack"];

    private readonly NetworkDriver _driver = new(server);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static int Cases => int.TryParse(Environment.GetEnvironmentVariable("GLOBE_FUZZ_CASES"), out var n) && n > 0 ? n : 20;

    private static ulong Seed => ulong.TryParse(Environment.GetEnvironmentVariable("GLOBE_FUZZ_SEED"), out var seed) ? seed : 20_261_124UL;

    private enum Shape
    {
        RandomBytes,
        RandomFields,
        Mutated,
    }

    private sealed record Case(string Rpc, string Caller, Shape Shape, IReadOnlyList<byte[]> Bodies, RpcOutcome Outcome, IReadOnlyList<string> Appended);

    /// <summary>
    /// The one kind of event a refusal stores by design: a failed authentication, counted towards
    /// the failure lockout of the caller's address (AuthService.CompleteAuthentication).
    /// </summary>
    private static readonly Dictionary<string, string[]> StoredByRefusal = new()
    {
        ["/globesecure.v1.AuthService/CompleteAuthentication"] = ["identity.authentication-failed"],
    };

    [Fact]
    public async Task EveryRpc_RandomAndMutatedMessages_OnlyDocumentedRefusalsNothingStoredServerHealthy()
    {
        var world = await server.WorldAsync(_driver);
        (string Name, Member? Member)[] callers =
        [
            ("anonymous", null), ("investigator", world.Alice), ("authority administrator", world.CommissionAdmin),
            ("network administrator", world.Network.Administrator), ("auditor", await server.AuditorAsync(_driver)),
        ];
        var store = server.Services.GetRequiredService<PostgresEventStore>();
        var invoker = _driver.Channel.CreateCallInvoker();
        var cases = new List<Case>();
        var clock = Stopwatch.StartNew();

        foreach (var method in ContractRpcs.Methods())
        {
            var name = ContractRpcs.FullName(method);
            var entry = AuditCatalog.Rpcs.Single(e => e.Action == name);
            var planned = Enumerable.Range(0, Cases).Select(i => Plan(method, i, callers[i % callers.Length], world)).ToList();
            if (method.IsServerStreaming)
            {
                // Streams out are reads, which never store: side by side (an accepted subscription streams until its deadline),
                // the head checked around them all.
                Assert.Equal(AuditCategories.Read, entry.Categories & (AuditCategories.Read | AuditCategories.Create | AuditCategories.Change | AuditCategories.Delete));
                var headers = await Task.WhenAll(planned.Select(p => HeadersAsync(method, p.Caller)));
                var head = await store.HeadPositionAsync(Ct);
                var outcomes = await Task.WhenAll(planned.Select(async (p, i) => (p, await CallAsync(invoker, method, headers[i], p.Bodies))));
                var appended = await AppendedSinceAsync(store, head);
                cases.AddRange(outcomes.Select(o => new Case(name, o.p.CallerName, o.p.Shape, o.p.Bodies, o.Item2, appended)));
            }
            else
            {
                foreach (var p in planned)
                {
                    // (Signing in for SignOut's own session appends events: before the head is read.)
                    var headers = await HeadersAsync(method, p.Caller);
                    var head = await store.HeadPositionAsync(Ct);
                    var outcome = await CallAsync(invoker, method, headers, p.Bodies);
                    cases.Add(new Case(name, p.CallerName, p.Shape, p.Bodies, outcome, await AppendedSinceAsync(store, head)));
                }
            }
        }

        var problems = new List<string>();
        foreach (var c in cases)
        {
            var streamStillOpen = c.Outcome.Status is StatusCode.DeadlineExceeded or StatusCode.Cancelled
                && Method(c.Rpc).IsServerStreaming;
            if (!Documented.Contains(c.Outcome.Status) && !streamStillOpen)
            {
                problems.Add($"{Describe(c)}: answered {c.Outcome.Status}");
            }

            var unexpected = c.Appended.Except(StoredByRefusal.GetValueOrDefault(c.Rpc, [])).ToList();
            if (unexpected.Count > 0 && c.Outcome.Status != StatusCode.OK)
            {
                problems.Add($"{Describe(c)}: answered {c.Outcome.Status} but appended {string.Join(", ", unexpected)}");
            }

            // Random input may be read (a list, a profile), never written: an rpc that creates, changes or deletes must refuse it
            // (unless its request has no field to be random: SignOut).
            var categories = AuditCatalog.Rpcs.Single(e => e.Action == c.Rpc).Categories;
            if (c.Outcome.Status == StatusCode.OK && (categories & (AuditCategories.Create | AuditCategories.Change | AuditCategories.Delete)) != 0
                && Method(c.Rpc).InputType.Fields.InDeclarationOrder().Count > 0)
            {
                problems.Add($"{Describe(c)}: a write accepted a random message");
            }

            if (Leaks.FirstOrDefault(word => c.Outcome.Detail.Contains(word, StringComparison.OrdinalIgnoreCase)) is { } leak)
            {
                problems.Add($"{Describe(c)}: the detail '{c.Outcome.Detail}' contains '{leak}'");
            }
        }

        var accepted = cases.Where(c => c.Outcome.Status == StatusCode.OK).Select(c => $"{c.Rpc} ({c.Caller}, {c.Shape})").Distinct().ToList();
        TestContext.Current.TestOutputHelper?.WriteLine(
            $"{cases.Count} calls to {cases.Select(c => c.Rpc).Distinct().Count()} rpcs in {clock.Elapsed.TotalSeconds:F1} s (seed {Seed}, {Cases} per rpc); "
            + $"statuses: {string.Join(", ", cases.GroupBy(c => c.Outcome.Status).Select(g => $"{g.Key} {g.Count()}"))}; accepted: {string.Join("; ", accepted)}");
        foreach (var problem in problems)
        {
            TestContext.Current.TestOutputHelper?.WriteLine(problem);
        }

        Assert.True(problems.Count == 0, $"{problems.Count} problem(s) in {cases.Count} calls (seed {Seed}):\n" + string.Join("\n", problems.Take(60)));

        // Still healthy: the health check serves and an ordinary call works.
        var health = await new Health.HealthClient(_driver.Channel).CheckAsync(new HealthCheckRequest(), cancellationToken: Ct);
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, health.Status);
        Assert.NotEmpty(await _driver.AuthenticateAsync(world.Bob.Device));
    }

    private static MethodDescriptor Method(string rpc) => ContractRpcs.Methods().Single(m => ContractRpcs.FullName(m) == rpc);

    private static async Task<IReadOnlyList<string>> AppendedSinceAsync(PostgresEventStore store, long head) =>
        [.. (await store.ReadAllAsync(head, 100, Ct)).Select(e => e.Type).Distinct()];

    /// <summary>
    /// The faults the fuzzing found, each as its minimal input: before the fixes they answered
    /// UNKNOWN (an undecodable body, failing in the deserializer before any interceptor, unaudited)
    /// or INTERNAL (a timestamp out of range; a NUL that PostgreSQL cannot store). Now each is a
    /// validation refusal naming its field, audited, with no exception text.
    /// </summary>
    [Theory]
    [InlineData("/globesecure.v1.NetworkService/GetNetwork", false, "FF", "")]
    [InlineData("/globesecure.v1.DocumentService/UploadChunks", true, "081E642104", "")]
    [InlineData("/globesecure.v1.RequestService/GetStatistics", true, "0A0A08FFFFFFFFFFFFFFFF7F", "from")]
    [InlineData("/globesecure.v1.RequestService/GetStatistics", true, "0A0610FFFFFFFF07", "from")]
    [InlineData("/globesecure.v1.ChannelService/AddMembers", false, "0A0100", "channel_id")]
    [InlineData("/globesecure.v1.ChannelService/AddMembers", true, "0A0100120100", "channel_id,authority_ids[0]")]
    public async Task FoundFault_MinimalInput_RefusedAsInvalidArgumentNamingTheFieldAndAudited(string rpc, bool asInvestigator, string hex, string fields)
    {
        var world = await server.WorldAsync(_driver);
        var trace = ActivityTraceId.CreateRandom();
        var headers = AuditCoverageTests.Traced(trace);
        if (asInvestigator)
        {
            headers.Add("authorization", $"Bearer {world.Alice.Token}");
        }

        var error = await Assert.ThrowsAsync<RpcException>(() => CallOnceAsync(Method(rpc), headers, Convert.FromHexString(hex)));

        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.DoesNotContain(Leaks, word => error.Status.Detail.Contains(word, StringComparison.OrdinalIgnoreCase));
        var status = error.GetRpcStatus();
        Assert.NotNull(status);
        var violations = status.Details.Single(d => d.Is(Google.Rpc.BadRequest.Descriptor)).Unpack<Google.Rpc.BadRequest>().FieldViolations;
        Assert.Equal(fields, string.Join(",", violations.Select(v => v.Field)));
        var entry = Assert.Single((await server.AuditByTraceAsync())[trace.ToHexString()]).Entry;
        Assert.Equal((rpc, AuditOutcome.Failed, nameof(StatusCode.InvalidArgument)), (entry.Action, entry.Outcome, entry.Reason));
    }

    /// <summary>One raw call that throws its status, as a client library would.</summary>
    private async Task CallOnceAsync(MethodDescriptor method, Metadata headers, byte[] body)
    {
        var outcome = await ContractRpcs.CallAsync(_driver.Channel.CreateCallInvoker(), method, [body], new CallOptions(headers, DateTime.UtcNow.AddSeconds(20), Ct));
        if (outcome.Status != StatusCode.OK)
        {
            throw new RpcException(new Status(outcome.Status, outcome.Detail), outcome.Trailers);
        }
    }

    private sealed record Planned(string CallerName, Member? Caller, Shape Shape, IReadOnlyList<byte[]> Bodies);

    /// <summary>Case <paramref name="index"/> of a method: its own PCG stream from the seed, the rpc and the index, so any case replays alone.</summary>
    private Planned Plan(MethodDescriptor method, int index, (string Name, Member? Member) caller, Channels.ChannelWorld world)
    {
        var pcg = new PCG(Fnv(ContractRpcs.FullName(method)), Seed * 1_000_003UL + (ulong)index);
        var me = caller.Member;
        string[] ids = me is null
            ? [world.Bob.UserId.ToString(), world.Bob.Device.DeviceId.ToString(), world.PoliceAdmin.AuthorityId.ToString()]
            : [me.UserId.ToString(), me.Device.DeviceId.ToString(), me.AuthorityId.ToString(), world.Bob.UserId.ToString(),
                world.Bob.Device.DeviceId.ToString(), world.PoliceAdmin.AuthorityId.ToString(), world.Network.SecretariatId.ToString()];
        var gen = new ProtoGen(pcg, ids);
        var shape = (Shape)(index % 3);
        var count = method.IsClientStreaming ? 1 + index % 3 : 1;
        var bodies = Enumerable.Range(0, count).Select(_ => shape switch
        {
            Shape.RandomBytes => gen.RandomBytes(),
            Shape.RandomFields => gen.Message(method.InputType).ToByteArray(),
            _ => gen.Mutated(method.InputType),
        }).ToList();
        return new Planned(caller.Name, me, shape, bodies);
    }

    private async Task<Metadata> HeadersAsync(MethodDescriptor method, Member? caller)
    {
        var headers = new Metadata();
        if (caller is not null)
        {
            // SignOut ends the session it is called with: it gets a session of its own.
            var token = method.Name == "SignOut" ? await _driver.AuthenticateAsync(caller.Device) : caller.Token;
            headers.Add("authorization", $"Bearer {token}");
        }

        return headers;
    }

    private static async Task<RpcOutcome> CallAsync(CallInvoker invoker, MethodDescriptor method, Metadata headers, IReadOnlyList<byte[]> bodies)
    {
        var deadline = DateTime.UtcNow.AddSeconds(method.IsServerStreaming ? 1 : 20);
        return await ContractRpcs.CallAsync(invoker, method, bodies, new CallOptions(headers, deadline, Ct));
    }

    private static string Describe(Case c)
    {
        var body = c.Bodies.Count == 0 ? [] : c.Bodies[0];
        return $"{c.Rpc} ({c.Caller}, {c.Shape}, {body.Length} bytes: {Convert.ToHexString(body.AsSpan(0, Math.Min(body.Length, 96)))}"
            + $"{(body.Length > 96 ? "…" : "")})";
    }

    private static uint Fnv(string text)
    {
        var hash = 2_166_136_261u;
        foreach (var ch in text)
        {
            hash = unchecked((hash ^ ch) * 16_777_619u);
        }

        return hash;
    }

    public void Dispose() => _driver.Dispose();
}
