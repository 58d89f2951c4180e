namespace GlobeSecure.Client.Tests.Story;

/// <summary>
/// The case story's people, once per fixture (applications are rate-limited per address; tests
/// use fresh channels): Kenya's Otieno and Wanjiru investigate, Brazil's Ana joins their channels.
/// </summary>
internal sealed record CaseCast(TestNetwork Network, Participant SecondAdministrator, Guid Kenya, Guid Brazil, Participant KenyaAdmin,
    Participant BrazilAdmin, Participant Otieno, Participant Wanjiru, Participant Ana)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public static async Task<CaseCast> CreateAsync(StoryServerFixture server) => await CreateAsync(await server.NetworkAsync());

    public static async Task<CaseCast> CreateAsync(TestNetwork network)
    {
        var lukas = await network.AddNetworkAdministratorAsync();
        var suffix = Guid.NewGuid().ToString("N")[..6];
        var (kenyaId, kenyaCode) = await network.ApproveAuthorityAsync(lukas, $"EACC {suffix}", "KE");
        var (brazilId, brazilCode) = await network.ApproveAuthorityAsync(lukas, $"Polícia Federal {suffix}", "BR");
        var kenyaAdmin = await network.AuthorityAdministratorAsync(kenyaId, kenyaCode);
        var brazilAdmin = await network.AuthorityAdministratorAsync(brazilId, brazilCode);
        return new CaseCast(network, lukas, kenyaId, brazilId, kenyaAdmin, brazilAdmin,
            await network.UserAsync(kenyaAdmin, "Otieno Mwangi"), await network.UserAsync(kenyaAdmin, "Wanjiru Kamau"),
            await network.UserAsync(brazilAdmin, "Ana Ribeiro"));
    }

    /// <summary>Otieno's channel with Brazil added: Otieno, Wanjiru and Ana are members, epoch 2.</summary>
    public async Task<Guid> SharedChannelAsync(string title)
    {
        var channelId = Guid.Parse((await Otieno.Client.CreateChannelAsync(title, cancellationToken: Ct)).ChannelId);
        await Otieno.Client.AddMembersAsync(channelId, authorityIds: [Brazil], cancellationToken: Ct);
        return channelId;
    }
}
