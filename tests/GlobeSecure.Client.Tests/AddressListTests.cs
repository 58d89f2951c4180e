using GlobeSecure.Contracts.V1;
using Google.Protobuf.Reflection;

namespace GlobeSecure.Client.Tests;

/// <summary>The address list and the retry-safe rpcs, checked without a server (the fault tests use them against real ones).</summary>
public sealed class AddressListTests
{
    private static readonly ServiceDescriptor[] Services =
    [
        NetworkService.Descriptor, AuthService.Descriptor, DirectoryService.Descriptor, DeviceService.Descriptor, MembershipService.Descriptor,
        ChannelService.Descriptor, DocumentService.Descriptor, TemplateService.Descriptor, RequestService.Descriptor,
        FocalPointService.Descriptor, AuditService.Descriptor,
    ];

    [Fact]
    public void RetrySafeMethods_EveryName_IsAUnaryRpcOfTheContract()
    {
        foreach (var (service, methods) in GlobeClient.RetrySafeMethods)
        {
            var descriptor = Assert.Single(Services, s => s.FullName == service);
            foreach (var name in methods)
            {
                var method = descriptor.FindMethodByName(name);
                Assert.True(method is not null, $"{service}/{name} is not an rpc");
                Assert.False(method.IsClientStreaming || method.IsServerStreaming, $"{service}/{name} streams: it resumes by itself, never by a repeat");
            }
        }
    }

    [Fact]
    public void RetrySafeMethods_WritesWithoutAnId_AreNotRepeated()
    {
        var safe = GlobeClient.RetrySafeMethods.SelectMany(s => s.Value.Select(m => $"{s.Key}/{m}")).ToHashSet();

        Assert.DoesNotContain("globesecure.v1.AuthService/CompleteAuthentication", safe);
        Assert.DoesNotContain("globesecure.v1.ChannelService/AddMembers", safe);
        Assert.DoesNotContain("globesecure.v1.ChannelService/RotateEpoch", safe);
        Assert.DoesNotContain("globesecure.v1.MembershipService/Apply", safe);
        Assert.DoesNotContain("globesecure.v1.DeviceService/InviteUser", safe);
        Assert.DoesNotContain("globesecure.v1.RequestService/SendRequest", safe);
        Assert.Contains("globesecure.v1.ChannelService/SendMessage", safe);
    }

    [Theory]
    [InlineData("http://127.0.0.1:5080", "https://127.0.0.1:5081")]
    [InlineData("https://a.example:443", "http://b.example:80")]
    [InlineData("http://127.0.0.1:5080", "ftp://127.0.0.1:21")]
    public void Client_AddressesOfMixedSchemes_IsRefused(string first, string other)
    {
        var error = Assert.Throws<ArgumentException>(() => new GlobeClient(new GlobeClientOptions { Address = new Uri(first), OtherAddresses = [new Uri(other)] }));

        Assert.Contains(new Uri(other).ToString(), error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Client_SeveralAddresses_AreAllItsAddressesInOrder()
    {
        await using var client = new GlobeClient(new GlobeClientOptions
        {
            Address = new Uri("http://127.0.0.1:5080"),
            OtherAddresses = [new Uri("http://127.0.0.1:5081"), new Uri("http://127.0.0.1:5082")],
        });

        Assert.Equal(["http://127.0.0.1:5080/", "http://127.0.0.1:5081/", "http://127.0.0.1:5082/"], client.Addresses.Select(a => a.ToString()));
    }

    [Fact]
    public void Client_SeveralAddressesWithAHandlerTheBalancerCannotUse_IsRefused()
    {
        using var handler = new HttpClientHandler();

        Assert.Throws<ArgumentException>(() => new GlobeClient(new GlobeClientOptions
        {
            Address = new Uri("http://127.0.0.1:5080"),
            OtherAddresses = [new Uri("http://127.0.0.1:5081")],
            HttpHandler = handler,
        }));
    }
}
