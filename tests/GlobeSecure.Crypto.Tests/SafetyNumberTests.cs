using System.Text.RegularExpressions;

namespace GlobeSecure.Crypto.Tests;

public sealed class SafetyNumberTests
{
    private readonly DeviceKeys _alice = DeviceKeys.Generate(Guid.CreateVersion7());
    private readonly DeviceKeys _bob = DeviceKeys.Generate(Guid.CreateVersion7());

    [Fact]
    public void Compute_FromBothSides_GivesTheSameNumber()
    {
        Assert.Equal(SafetyNumber.Compute(_alice.Public, _bob.Public), SafetyNumber.Compute(_bob.Public, _alice.Public));
    }

    [Fact]
    public void Compute_Always_Is60DigitsInTwelveGroupsOfFive()
    {
        var number = SafetyNumber.Compute(_alice.Public, _bob.Public);

        Assert.Matches(new Regex("^[0-9]{5}( [0-9]{5}){11}$"), number);
        Assert.Equal(60, number.Count(char.IsAsciiDigit));
    }

    [Fact]
    public void Compute_Twice_IsDeterministic()
    {
        Assert.Equal(SafetyNumber.Compute(_alice.Public, _bob.Public), SafetyNumber.Compute(_alice.Public, _bob.Public));
    }

    [Fact]
    public void Compute_DifferentDevices_GiveDifferentNumbers()
    {
        using var carol = DeviceKeys.Generate(Guid.CreateVersion7());

        var aliceBob = SafetyNumber.Compute(_alice.Public, _bob.Public);

        Assert.NotEqual(aliceBob, SafetyNumber.Compute(_alice.Public, carol.Public));
        Assert.NotEqual(aliceBob, SafetyNumber.Compute(carol.Public, _bob.Public));
    }

    [Theory]
    [InlineData("device-id")]
    [InlineData("signing-key")]
    [InlineData("box-key")]
    public void Compute_AnyPublishedKeyFieldChanged_ChangesTheNumber(string field)
    {
        using var mallory = DeviceKeys.Generate(Guid.CreateVersion7());
        var changed = field switch
        {
            "device-id" => _bob.Public with { DeviceId = Guid.NewGuid() },
            "signing-key" => _bob.Public with { SigningKey = mallory.Signing.PublicKey },
            _ => _bob.Public with { BoxKey = mallory.Box.PublicKey },
        };

        Assert.NotEqual(SafetyNumber.Compute(_alice.Public, _bob.Public), SafetyNumber.Compute(_alice.Public, changed));
    }

    [Fact]
    public void Compute_ContainsEachDevicesDigits()
    {
        var number = SafetyNumber.Compute(_alice.Public, _bob.Public).Replace(" ", "", StringComparison.Ordinal);
        var a = SafetyNumber.DeviceDigits(_alice.Public);
        var b = SafetyNumber.DeviceDigits(_bob.Public);

        Assert.Equal(30, a.Length);
        Assert.Equal(string.CompareOrdinal(a, b) <= 0 ? a + b : b + a, number);
    }
}
