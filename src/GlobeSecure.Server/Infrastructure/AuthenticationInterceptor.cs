using Grpc.Core;
using Grpc.Core.Interceptors;

namespace GlobeSecure.Server.Infrastructure;

/// <summary>
/// Resolves the <c>authorization: Bearer &lt;token&gt;</c> header of every call to a
/// <see cref="Caller"/> before the service runs. No header: an anonymous call (each rpc decides
/// whether it allows that, through <see cref="Access"/>). A header whose token is unknown,
/// expired, or whose device, user or authority is no longer allowed: UNAUTHENTICATED at once,
/// and audited — revocation and suspension take effect on the very next call.
/// Registered after the error-mapping interceptor, so its errors are mapped like any other.
/// </summary>
internal sealed class AuthenticationInterceptor(ICallerResolver resolver, Access access) : Interceptor
{
    public override async Task<TResponse> UnaryServerHandler<TRequest, TResponse>(TRequest request, ServerCallContext context,
        UnaryServerMethod<TRequest, TResponse> continuation)
    {
        await AuthenticateAsync(context);
        return await continuation(request, context);
    }

    public override async Task<TResponse> ClientStreamingServerHandler<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream,
        ServerCallContext context, ClientStreamingServerMethod<TRequest, TResponse> continuation)
    {
        await AuthenticateAsync(context);
        return await continuation(requestStream, context);
    }

    public override async Task ServerStreamingServerHandler<TRequest, TResponse>(TRequest request, IServerStreamWriter<TResponse> responseStream,
        ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        await AuthenticateAsync(context);
        await continuation(request, responseStream, context);
    }

    public override async Task DuplexStreamingServerHandler<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream,
        IServerStreamWriter<TResponse> responseStream, ServerCallContext context, DuplexStreamingServerMethod<TRequest, TResponse> continuation)
    {
        await AuthenticateAsync(context);
        await continuation(requestStream, responseStream, context);
    }

    private async Task AuthenticateAsync(ServerCallContext context)
    {
        var header = context.RequestHeaders.GetValue("authorization");
        if (header is null)
        {
            return;
        }

        const string scheme = "Bearer ";
        var token = header.StartsWith(scheme, StringComparison.OrdinalIgnoreCase) ? header[scheme.Length..].Trim() : "";
        Caller? caller;
        try
        {
            caller = token.Length is > 0 and <= 200 ? await resolver.ResolveAsync(token, context.CancellationToken) : null;
        }
        catch (PermissionDeniedException refused)
        {
            await access.RecordDeniedAsync(context, null, refused.Message);
            throw;
        }

        if (caller is null)
        {
            await access.DenyUnauthenticatedAsync(context, "invalid or expired session");
            throw new UnauthenticatedException(
                "The session token is invalid, expired or revoked (or the device, user or authority may no longer call): authenticate again.");
        }

        Access.SetCaller(context, caller);
    }
}
