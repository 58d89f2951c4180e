using System.Reflection;
using Google.Protobuf.Reflection;
using Grpc.Core;

namespace GlobeSecure.Server.Tests;

/// <summary>What one generic call answered: its status, the status's detail text and the trailers (the google.rpc.Status).</summary>
public sealed record RpcOutcome(StatusCode Status, string Detail, Metadata Trailers);

/// <summary>
/// Every rpc of the contracts, from the generated descriptors, and one way of calling any of them
/// (all four call shapes) with raw request bodies: the audit coverage test sends empty messages
/// through it, the hostile-input test random and mutated ones.
/// </summary>
public static class ContractRpcs
{
    /// <summary>Every method of every service of the contracts, from the generated descriptors.</summary>
    public static IReadOnlyList<MethodDescriptor> Methods() =>
    [
        .. typeof(Contracts.V1.AuditService).Assembly.GetTypes()
            .Where(t => t.Namespace == typeof(Contracts.V1.AuditService).Namespace && t.Name.EndsWith("Reflection", StringComparison.Ordinal))
            .Select(t => (FileDescriptor)t.GetProperty("Descriptor", BindingFlags.Public | BindingFlags.Static)!.GetValue(null)!)
            .SelectMany(file => file.Services)
            .SelectMany(service => service.Methods),
    ];

    public static string FullName(MethodDescriptor method) => $"/{method.Service.FullName}/{method.Name}";

    private static readonly Marshaller<byte[]> Raw = Marshallers.Create(bytes => bytes, bytes => bytes);

    /// <summary>
    /// Calls <paramref name="descriptor"/> with the given request bodies as they are (no parsing on
    /// this side): a unary or server-streaming call sends the first, a client or duplex stream sends
    /// them all, then completes. Responses are read to the end and dropped.
    /// </summary>
    public static async Task<RpcOutcome> CallAsync(CallInvoker invoker, MethodDescriptor descriptor, IReadOnlyList<byte[]> requests, CallOptions options)
    {
        var method = new Method<byte[], byte[]>(
            (descriptor.IsClientStreaming, descriptor.IsServerStreaming) switch
            {
                (false, false) => MethodType.Unary,
                (true, false) => MethodType.ClientStreaming,
                (false, true) => MethodType.ServerStreaming,
                _ => MethodType.DuplexStreaming,
            },
            descriptor.Service.FullName, descriptor.Name, Raw, Raw);
        var first = requests.Count > 0 ? requests[0] : [];
        var ct = options.CancellationToken;
        try
        {
            switch (method.Type)
            {
                case MethodType.Unary:
                    await invoker.AsyncUnaryCall(method, null, options, first);
                    break;
                case MethodType.ClientStreaming:
                {
                    using var call = invoker.AsyncClientStreamingCall(method, null, options);
                    await WriteAllAsync(call.RequestStream, requests);
                    await call.ResponseAsync;
                    break;
                }

                case MethodType.ServerStreaming:
                {
                    using var call = invoker.AsyncServerStreamingCall(method, null, options, first);
                    while (await call.ResponseStream.MoveNext(ct))
                    {
                    }

                    break;
                }

                default:
                {
                    using var call = invoker.AsyncDuplexStreamingCall(method, null, options);
                    await WriteAllAsync(call.RequestStream, requests);
                    while (await call.ResponseStream.MoveNext(ct))
                    {
                    }

                    break;
                }
            }
        }
        catch (RpcException e)
        {
            return new RpcOutcome(e.StatusCode, e.Status.Detail, e.Trailers);
        }

        return new RpcOutcome(StatusCode.OK, "", []);
    }

    private static async Task WriteAllAsync(IClientStreamWriter<byte[]> stream, IReadOnlyList<byte[]> requests)
    {
        try
        {
            foreach (var request in requests)
            {
                await stream.WriteAsync(request);
            }

            await stream.CompleteAsync();
        }
        catch (RpcException)
        {
            // The server ended the call early (it refused the stream): its status is the response's.
        }
        catch (InvalidOperationException)
        {
            // Writing after the call finished: the same.
        }
        catch (HttpRequestException)
        {
            // The server closed the HTTP/2 stream while a write was in flight (it refused the call
            // early): a race the write can lose; the call's status is still the response's.
        }
    }
}
