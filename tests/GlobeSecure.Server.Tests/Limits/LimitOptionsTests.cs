using GlobeSecure.Server.Infrastructure;

namespace GlobeSecure.Server.Tests.Limits;

/// <summary>The limit settings are checked at start-up, each problem named. No server.</summary>
public sealed class LimitOptionsTests
{
    [Fact]
    public void CallLimits_Defaults_AreValid() => Assert.Empty(new CallLimitOptions().Problems());

    [Fact]
    public void CallLimits_NegativeBurstRefillAboveBurstAndNegativeStreams_EachNamed()
    {
        var options = new CallLimitOptions
        {
            PerDevice = new() { Burst = -1 },
            PerAddress = new() { Burst = 10, Refill = 11 },
            MaxStreamsPerDevice = -1,
        };

        var problems = options.Problems().ToList();

        Assert.Equal(3, problems.Count);
        Assert.Contains(problems, p => p.StartsWith("Globe:Limits:PerDevice", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("Globe:Limits:PerAddress", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("Globe:Limits:MaxStreamsPerDevice", StringComparison.Ordinal));
    }

    [Fact]
    public void CallLimits_BurstZero_TurnsTheLimitOffAndIsValid() =>
        Assert.Empty(new CallLimitOptions { PerDevice = new() { Burst = 0 }, PerAddress = new() { Burst = 0 }, MaxStreamsPerDevice = 0 }.Problems());

    [Fact]
    public void TrustedProxies_AddressesAndNetworks_AreParsed()
    {
        var networks = new TrustedProxyOptions { TrustedProxies = "10.0.0.5, 10.1.0.0/16,::1" }.Networks(out var bad);

        Assert.Null(bad);
        Assert.Equal(["10.0.0.5/32", "10.1.0.0/16", "::1/128"], networks!.Select(n => n.ToString()));
    }

    [Fact]
    public void TrustedProxies_AHostName_IsRefusedNamingIt() =>
        Assert.Contains("'proxy.example.org'", Assert.Single(new TrustedProxyOptions { TrustedProxies = "10.0.0.5, proxy.example.org" }.Problems()),
            StringComparison.Ordinal);

    [Fact]
    public void TrustedProxies_Unset_TrustsNoOne() => Assert.Empty(new TrustedProxyOptions().Networks(out _)!);
}
