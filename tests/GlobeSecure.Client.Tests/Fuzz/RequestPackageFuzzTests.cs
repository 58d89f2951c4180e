using System.Runtime.CompilerServices;
using GlobeSecure.Client.Tests.Story;
using GlobeSecure.Crypto;
using GlobeSecure.Fuzzing;

namespace GlobeSecure.Client.Tests.Fuzz;

/// <summary>
/// The request export package (a zip from another authority, verified offline) under random and
/// mutated input (ADR 0016): <see cref="RequestPackage.Verify(string, IEnumerable{SigningPublicKey})"/>
/// answers a failed verification, never an exception. The seed is a real package from a story
/// run, committed with the public root key it verifies under.
/// </summary>
public sealed class RequestPackageFuzzTests : IDisposable
{
    private readonly string _work = Directory.CreateTempSubdirectory("globe-fuzz-package-").FullName;

    [Fact]
    public void RequestPackage_RandomAndMutated_OnlyAFailedVerificationNeverExceptions()
    {
        var root = new SigningPublicKey(Convert.FromHexString(File.ReadAllText(
            Path.Combine(AppContext.BaseDirectory, "Fuzz", "corpus", "request-package", "root-key.hex")).Trim()));
        var path = Path.Combine(_work, "package.zip");
        FuzzHarness.Run("request-package", FuzzHarness.Corpus("request-package"), input =>
        {
            File.WriteAllBytes(path, input);
            var result = RequestPackage.Verify(path, [root]);
            if (!result.IsValid)
            {
                throw new FuzzRejectedException(result.Problem ?? "invalid");
            }
        }, [typeof(FuzzRejectedException)], defaultCases: 200, maxRandomLength: 1024);
    }

    public void Dispose() => Directory.Delete(_work, recursive: true);
}

/// <summary>Writes the request-package seed from a real server run (explicit: run by hand, as the other corpus writers).</summary>
public sealed class RequestPackageCorpusWriter(StoryServerFixture server) : IClassFixture<StoryServerFixture>
{
    [Fact(Explicit = true)]
    public async Task WriteCorpus()
    {
        var ct = TestContext.Current.CancellationToken;
        var c = await CaseCast.CreateAsync(server);
        var draft = await File.ReadAllTextAsync(Path.Combine(AppContext.BaseDirectory, "Templates", "request-for-information.draft.json"), ct);
        var submitted = await c.Otieno.Client.SubmitRequestAsync(new RequestSubmission("request-for-information", 0, c.Brazil, draft, GlobeSecure.Contracts.V1.Urgency.Urgent), ct);
        var requestId = Guid.Parse(submitted.Request.RequestId);
        var form = await c.Ana.Client.GetMessageAsync(submitted.ChannelId, requestId, ct);
        await c.Ana.Client.SubmitReceiptAsync(form, MessageReceiptKind.Delivered, ct);
        await c.Ana.Client.AcknowledgeRequestAsync(requestId, ct);
        await c.Ana.Client.SendTextAsync(submitted.ChannelId, "No records found.", new SendOptions(ReplyTo: requestId), ct);
        await c.Ana.Client.AnswerRequestAsync(requestId, ct);
        var zip = Path.Combine(Path.GetTempPath(), $"globe-fuzz-{Guid.NewGuid():N}.zip");
        try
        {
            await c.Otieno.Client.ExportRequestAsync(requestId, zip, ct);
            Assert.True(RequestPackage.Verify(zip, [c.Network.RootKey.PublicKey]).IsValid);
            var directory = Corpus();
            Directory.CreateDirectory(directory);
            File.Copy(zip, Path.Combine(directory, "answered.bin"), overwrite: true);
            await File.WriteAllTextAsync(Path.Combine(directory, "root-key.hex"), Convert.ToHexStringLower(c.Network.RootKey.PublicKey.Span) + "\n", ct);
        }
        finally
        {
            File.Delete(zip);
        }
    }

    private static string Corpus([CallerFilePath] string source = "") => Path.Combine(Path.GetDirectoryName(source)!, "corpus", "request-package");
}
