using GlobeSecure.Contracts.V1;
using GlobeSecure.Crypto;
using Grpc.Core;
using Grpc.Core.Interceptors;

namespace GlobeSecure.Client;

/// <summary>
/// Holds the device's session token: authenticates by challenge–response when there is none,
/// renews it shortly before it expires, and again (once) when the server answers UNAUTHENTICATED
/// to a token it had accepted (sessions end at once on revocation or suspension; the renewal then
/// fails too, with the server's answer).
/// </summary>
internal sealed class SessionKeeper(AuthService.AuthServiceClient anonymousAuth, DeviceKeys? device, string? expectedAudience,
    TimeSpan renewBeforeExpiry, TimeProvider clock) : IDisposable
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private string? _token;
    private DateTimeOffset _renewAt;

    public DateTimeOffset? ExpiresAt { get; private set; }

    /// <summary>A token to send; a new one when <paramref name="rejected"/> is the current one.</summary>
    public async Task<string> TokenAsync(string? rejected, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            if (_token is not null && _token != rejected && clock.GetUtcNow() < _renewAt)
            {
                return _token;
            }

            _token = null;
            await AuthenticateAsync(cancellationToken);
            return _token!;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Forgets the token (after sign-out).</summary>
    public void Forget()
    {
        _token = null;
        ExpiresAt = null;
    }

    private async Task AuthenticateAsync(CancellationToken cancellationToken)
    {
        if (device is null)
        {
            throw new GlobeClientException(StatusCode.Unauthenticated, null,
                "This client has no device keys: enrol a device (or open its profile) before calling services that need a session.");
        }

        var challenge = await anonymousAuth.BeginAuthenticationAsync(
            new BeginAuthenticationRequest { DeviceId = device.DeviceId.ToString() }, cancellationToken: cancellationToken);
        if (expectedAudience is not null && !string.Equals(challenge.Audience, expectedAudience, StringComparison.Ordinal))
        {
            throw new GlobeTrustException(
                $"The server asked to sign in to network '{challenge.Audience}', but this profile belongs to '{expectedAudience}': refused.");
        }

        if (challenge.IssuedAt is null || challenge.Challenge_.Length != AuthChallenge.ChallengeBytes)
        {
            throw new GlobeTrustException("The server's authentication challenge is malformed: refused.");
        }

        var signature = AuthChallenge.Sign(device, challenge.Challenge_.Span, challenge.Audience, challenge.IssuedAt.ToDateTimeOffset());
        var session = await anonymousAuth.CompleteAuthenticationAsync(new CompleteAuthenticationRequest
        {
            ChallengeId = challenge.ChallengeId,
            DeviceId = device.DeviceId.ToString(),
            Signature = Google.Protobuf.ByteString.CopyFrom(signature),
        }, cancellationToken: cancellationToken);

        var now = clock.GetUtcNow();
        var expiresAt = session.ExpiresAt?.ToDateTimeOffset() ?? now.AddMinutes(15);
        var lifetime = expiresAt - now;
        var margin = lifetime / 2 < renewBeforeExpiry ? lifetime / 2 : renewBeforeExpiry;
        _token = session.Token;
        ExpiresAt = expiresAt;
        _renewAt = expiresAt - margin;
    }

    public void Dispose() => _gate.Dispose();
}

/// <summary>
/// Adds <c>authorization: Bearer &lt;token&gt;</c> to every unary call and, when the server answers
/// UNAUTHENTICATED, authenticates again and retries the call once. The server refuses an invalid
/// token before the rpc runs, so the retry never repeats a write.
/// </summary>
internal sealed class BearerTokenInterceptor(SessionKeeper session) : Interceptor
{
    public override AsyncUnaryCall<TResponse> AsyncUnaryCall<TRequest, TResponse>(TRequest request,
        ClientInterceptorContext<TRequest, TResponse> context, AsyncUnaryCallContinuation<TRequest, TResponse> continuation)
    {
        var holder = new CallHolder<TResponse>();
        var response = SendAsync(request, context, continuation, holder);
        return new AsyncUnaryCall<TResponse>(
            response,
            HeadersAsync(response, holder),
            () => holder.Call?.GetStatus() ?? Status.DefaultSuccess,
            () => holder.Call?.GetTrailers() ?? [],
            () => holder.Call?.Dispose());
    }

    private async Task<TResponse> SendAsync<TRequest, TResponse>(TRequest request, ClientInterceptorContext<TRequest, TResponse> context,
        AsyncUnaryCallContinuation<TRequest, TResponse> continuation, CallHolder<TResponse> holder)
        where TRequest : class
        where TResponse : class
    {
        var cancellationToken = context.Options.CancellationToken;
        var token = await session.TokenAsync(null, cancellationToken);
        try
        {
            holder.Call = continuation(request, WithToken(context, token));
            return await holder.Call.ResponseAsync;
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.Unauthenticated)
        {
            holder.Call?.Dispose();
            token = await session.TokenAsync(token, cancellationToken);
            holder.Call = continuation(request, WithToken(context, token));
            return await holder.Call.ResponseAsync;
        }
    }

    private static async Task<Metadata> HeadersAsync<TResponse>(Task<TResponse> response, CallHolder<TResponse> holder)
    {
        try
        {
            await response;
        }
        catch (RpcException)
        {
            // The headers of the failed call are still there.
        }

        return holder.Call is null ? [] : await holder.Call.ResponseHeadersAsync;
    }

    private static ClientInterceptorContext<TRequest, TResponse> WithToken<TRequest, TResponse>(
        ClientInterceptorContext<TRequest, TResponse> context, string token)
        where TRequest : class
        where TResponse : class
    {
        var headers = new Metadata();
        foreach (var entry in context.Options.Headers ?? [])
        {
            if (!string.Equals(entry.Key, "authorization", StringComparison.OrdinalIgnoreCase))
            {
                headers.Add(entry);
            }
        }

        headers.Add("authorization", "Bearer " + token);
        return new ClientInterceptorContext<TRequest, TResponse>(context.Method, context.Host, context.Options.WithHeaders(headers));
    }

    private sealed class CallHolder<TResponse>
    {
        public AsyncUnaryCall<TResponse>? Call { get; set; }
    }
}
