using Grpc.Core;
using Grpc.Core.Interceptors;
using Npgsql;

namespace GlobeSecure.Server.Infrastructure;

/// <summary>Turns every failure of every call (all four call shapes) into its documented status.</summary>
internal sealed class ErrorMappingInterceptor(ILogger<ErrorMappingInterceptor> logger, IHostEnvironment environment, TimeProvider clock,
    Audit.AuditTrail audit, NpgsqlDataSource dataSource) : Interceptor
{
    private const string EnteredKey = "globe.intercepted";

    /// <summary>Whether the call reached the interceptors (see <see cref="RefusedBeforeInterceptors"/>).</summary>
    public static bool Entered(ServerCallContext call) => call.UserState.ContainsKey(EnteredKey);

    private static void Enter(ServerCallContext call) => call.UserState[EnteredKey] = true;

    public override async Task<TResponse> UnaryServerHandler<TRequest, TResponse>(TRequest request, ServerCallContext context,
        UnaryServerMethod<TRequest, TResponse> continuation)
    {
        Enter(context);
        try
        {
            return await continuation(request, context);
        }
        catch (Exception ex)
        {
            throw await MapAsync(ex, context);
        }
    }

    public override async Task<TResponse> ClientStreamingServerHandler<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream,
        ServerCallContext context, ClientStreamingServerMethod<TRequest, TResponse> continuation)
    {
        Enter(context);
        try
        {
            return await continuation(requestStream, context);
        }
        catch (Exception ex)
        {
            throw await MapAsync(ex, context);
        }
    }

    public override async Task ServerStreamingServerHandler<TRequest, TResponse>(TRequest request, IServerStreamWriter<TResponse> responseStream,
        ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        Enter(context);
        try
        {
            await continuation(request, responseStream, context);
        }
        catch (Exception ex)
        {
            throw await MapAsync(ex, context);
        }
    }

    public override async Task DuplexStreamingServerHandler<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream,
        IServerStreamWriter<TResponse> responseStream, ServerCallContext context, DuplexStreamingServerMethod<TRequest, TResponse> continuation)
    {
        Enter(context);
        try
        {
            await continuation(requestStream, responseStream, context);
        }
        catch (Exception ex)
        {
            throw await MapAsync(ex, context);
        }
    }

    private async Task<RpcException> MapAsync(Exception exception, ServerCallContext context)
    {
        var mapped = ErrorMapping.ToRpcException(exception, ErrorMapping.ContextOf(context, environment.IsDevelopment(), clock));
        if (ErrorMapping.IsDatabaseUnavailable(exception))
        {
            // After a database restart every idle pooled connection is dead: drop them, so that the
            // next call (the client's retry) connects afresh instead of failing on the next dead one.
            dataSource.Clear();
        }

        if (!Access.IsAudited(context))
        {
            // When the database is down this audit fails too (logged as 2002): the call still fails,
            // UNAVAILABLE, and nothing it did was stored — an allowed write's audit entry is in its
            // own append and an allowed read records its entry before answering, so no call can
            // succeed unaudited.
            // Every call leaves an audit entry, allowed or not: a failure nobody audited yet
            // (validation, wrong state, not found, a fault, or a refusal thrown by a decider) is recorded here,
            // without the message (it may quote input), only the status. Never masks the caller's error.
            try
            {
                await Access.RecordUnauditedErrorAsync(audit, context, mapped.StatusCode);
            }
            catch (Exception auditFailure) when (auditFailure is not OperationCanceledException)
            {
                Log.AuditFailed(logger, context.Method, auditFailure);
            }
        }

        if (ErrorMapping.IsServerFault(mapped))
        {
            Log.CallFailed(logger, context.Method, mapped.StatusCode, exception);
        }
        else
        {
            Log.CallRefused(logger, context.Method, mapped.StatusCode);
        }

        return mapped;
    }
}
