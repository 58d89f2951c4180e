using System.Text.Json;

namespace GlobeSecure.Cli.Tests;

/// <summary>
/// `globe directory` as the directory of competent authorities and focal points, against the real
/// server: the secretariat keeps the contact entries, each authority publishes its requirements,
/// and an investigator finds where to send what.
/// </summary>
public sealed class DirectoryCliTests(CliNetworkFixture server) : IClassFixture<CliNetworkFixture>, IDisposable
{
    private const string Investigator = "kenya-investigator";
    private const string Administrator = "amina";
    private readonly CliRunner _cli = new();

    public void Dispose() => _cli.Dispose();

    private CliNetworkDriver Network => new(server, _cli);

    [Fact]
    public async Task Directory_KenyanInvestigatorLooksForBrazilsCentralAuthority_FindsItWithTheRequirementsOfBothAndTheVerifiedDevices()
    {
        var network = await Network.SetUpAsync();
        var added = await Network.RunJsonAsync(Administrator, "directory", "contact", "add", "--country", "BR", "--kind", "central-authority",
            "--name", "Department of Asset Recovery and International Legal Cooperation", "--organisation", "Ministry of Justice",
            "--email", "mla@example.gov.br", "--languages", "pt,EN", "--electronic", "yes", "--notes", "Requests in Portuguese or with a translation.");
        await Network.RunJsonAsync("brazil-admin", "directory", "requirements", "--languages", "pt,es", "--electronic", "no", "--notes", "Send the signed original by courier.");

        var central = await Network.RunJsonAsync(Investigator, "directory", "--country", "BR", "--kind", "central-authority");
        var table = await _cli.With("COLUMNS", "250").RunAsync("--profile", Investigator, "directory", "--country", "br");

        var brazil = Assert.Single(central.GetProperty("countries").EnumerateArray());
        Assert.Equal("BR", brazil.GetProperty("country").GetString());
        Assert.Empty(brazil.GetProperty("authorities").EnumerateArray());
        var contact = Assert.Single(brazil.GetProperty("contacts").EnumerateArray(), c => c.GetProperty("contactId").GetString() == added.GetProperty("contactId").GetString());
        Assert.Equal("central-authority", contact.GetProperty("kind").GetString());
        Assert.Equal("mla@example.gov.br", contact.GetProperty("email").GetString());
        Assert.Equal(["pt", "en"], contact.GetProperty("requirements").GetProperty("languages").EnumerateArray().Select(l => l.GetString()));
        Assert.Equal("yes", contact.GetProperty("requirements").GetProperty("electronicRequests").GetString());
        var devices = Assert.Single(central.GetProperty("authorities").EnumerateArray());
        Assert.Equal(network.Brazil, devices.GetProperty("authorityId").GetString());
        Assert.NotEmpty(devices.GetProperty("devices").EnumerateArray());
        Assert.True(table.ExitCode == 0, table.Error);
        Assert.Contains("Directory log verified", table.Output, StringComparison.Ordinal);
        Assert.Contains("Ministry of Justice", table.Output, StringComparison.Ordinal);
        Assert.Contains("member: police", table.Output, StringComparison.Ordinal);
        Assert.Contains("pt, es", table.Output, StringComparison.Ordinal);
        Assert.Contains("Send the signed original by courier.", table.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("Ethics and Anti-Corruption Commission", table.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ContactUpdateThenRemove_ByNetworkAdministrator_ChangesOnlyTheGivenFieldsThenTheEntryIsGone()
    {
        await Network.SetUpAsync();
        var added = await Network.RunJsonAsync(Administrator, "directory", "contact", "add", "--country", "KE", "--kind", "asset-recovery",
            "--name", "Asset Recovery Agency", "--phone", "+254 20 000 0000", "--languages", "en,sw");
        var id = added.GetProperty("contactId").GetString()!;

        var updated = await Network.RunJsonAsync("lukas", "directory", "contact", "update", id, "--electronic", "no", "--phone", "");
        var removed = await _cli.RunAsync("--profile", Administrator, "directory", "contact", "remove", id);
        var listed = await Network.RunJsonAsync(Investigator, "directory", "--country", "KE");

        Assert.Equal("Asset Recovery Agency", updated.GetProperty("name").GetString());
        Assert.Equal(["en", "sw"], updated.GetProperty("requirements").GetProperty("languages").EnumerateArray().Select(l => l.GetString()));
        Assert.Equal("no", updated.GetProperty("requirements").GetProperty("electronicRequests").GetString());
        Assert.Equal("", updated.GetProperty("phone").GetString());
        Assert.True(removed.ExitCode == 0, removed.Error);
        Assert.Contains($"Contact entry {id} removed.", removed.Output, StringComparison.Ordinal);
        Assert.DoesNotContain(listed.GetProperty("countries").EnumerateArray().SelectMany(c => c.GetProperty("contacts").EnumerateArray()),
            c => c.GetProperty("contactId").GetString() == id);
    }

    [Fact]
    public async Task ContactAddAndForeignRequirements_ByInvestigatorAndOtherAuthorityAdministrator_AreRefusedWithExitOne()
    {
        var network = await Network.SetUpAsync();

        var contact = await _cli.RunAsync("--profile", Investigator, "directory", "contact", "add", "--country", "KE", "--kind", "other", "--name", "Mine");
        var foreign = await _cli.RunAsync("--profile", "kenya-admin", "directory", "requirements", "--authority", network.Brazil, "--languages", "en");
        var invalid = await _cli.RunAsync("--profile", Administrator, "directory", "contact", "add", "--country", "XX", "--kind", "other", "--name", "Bad",
            "--languages", "english");

        Assert.Equal(1, contact.ExitCode);
        Assert.StartsWith("error: permission denied", contact.ErrorLine, StringComparison.Ordinal);
        Assert.Equal(1, foreign.ExitCode);
        Assert.Contains("its own authority", foreign.ErrorLine, StringComparison.Ordinal);
        Assert.Equal(1, invalid.ExitCode);
        Assert.Contains("contact.country", invalid.ErrorLine, StringComparison.Ordinal);
        Assert.Contains("contact.requirements.languages[0]", invalid.ErrorLine, StringComparison.Ordinal);
    }
}
