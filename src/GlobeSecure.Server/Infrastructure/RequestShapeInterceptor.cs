using Google.Protobuf;
using Google.Protobuf.Reflection;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Grpc.Core.Interceptors;

namespace GlobeSecure.Server.Infrastructure;

/// <summary>
/// Refuses, before any feature sees it, a request that parses but holds values no feature can
/// use and that would otherwise fail deep inside as a server fault: a timestamp or duration out of
/// protobuf's range (Timestamp.ToDateTimeOffset throws), and a NUL character in a string
/// (PostgreSQL stores no U+0000 in text or jsonb, so an audit entry naming it, or an event holding
/// it, could not be written), and a message that did not parse at all (see UndecodableRequests). Every message of a client stream is checked as it is read.
/// Runs after authentication, so an anonymous call to a protected rpc is still UNAUTHENTICATED.
/// </summary>
internal sealed class RequestShapeInterceptor : Interceptor
{
    public override Task<TResponse> UnaryServerHandler<TRequest, TResponse>(TRequest request, ServerCallContext context,
        UnaryServerMethod<TRequest, TResponse> continuation)
    {
        Check(request);
        return continuation(request, context);
    }

    public override Task<TResponse> ClientStreamingServerHandler<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream,
        ServerCallContext context, ClientStreamingServerMethod<TRequest, TResponse> continuation) =>
        continuation(new CheckedReader<TRequest>(requestStream), context);

    public override Task ServerStreamingServerHandler<TRequest, TResponse>(TRequest request, IServerStreamWriter<TResponse> responseStream,
        ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        Check(request);
        return continuation(request, responseStream, context);
    }

    public override Task DuplexStreamingServerHandler<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream,
        IServerStreamWriter<TResponse> responseStream, ServerCallContext context, DuplexStreamingServerMethod<TRequest, TResponse> continuation) =>
        continuation(new CheckedReader<TRequest>(requestStream), responseStream, context);

    private static void Check<T>(T request)
    {
        if (request is not null && UndecodableRequests.IsUndecodable(request))
        {
            throw new ValidationException("", "the request is not a well-formed message of the rpc's request type");
        }

        if (request is IMessage message)
        {
            var violations = new List<FieldViolation>();
            Walk(message, "", violations);
            if (violations.Count > 0)
            {
                throw new ValidationException(violations);
            }
        }
    }

    // Timestamp's range: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999999Z; Duration's: ±10,000 years.
    private const long MinTimestampSeconds = -62_135_596_800;
    private const long MaxTimestampSeconds = 253_402_300_799;
    private const long MaxDurationSeconds = 315_576_000_000;

    private static void Walk(IMessage message, string path, List<FieldViolation> violations)
    {
        switch (message)
        {
            case Timestamp t:
                if (t.Seconds is < MinTimestampSeconds or > MaxTimestampSeconds || t.Nanos is < 0 or > 999_999_999)
                {
                    violations.Add(new FieldViolation(path, "must be a valid timestamp (years 1 to 9999, nanos 0 to 999,999,999)"));
                }

                return;
            case Duration d:
                if (d.Seconds is < -MaxDurationSeconds or > MaxDurationSeconds || d.Nanos is < -999_999_999 or > 999_999_999
                    || (d.Seconds < 0 && d.Nanos > 0) || (d.Seconds > 0 && d.Nanos < 0))
                {
                    violations.Add(new FieldViolation(path, "must be a valid duration"));
                }

                return;
        }

        foreach (var field in message.Descriptor.Fields.InDeclarationOrder())
        {
            if (field.FieldType is not (FieldType.String or FieldType.Message))
            {
                continue;
            }

            var name = path.Length == 0 ? field.Name : $"{path}.{field.Name}";
            var value = field.Accessor.GetValue(message);
            if (field.IsMap)
            {
                foreach (System.Collections.DictionaryEntry entry in (System.Collections.IDictionary)value)
                {
                    Visit(field.MessageType.FindFieldByNumber(2), entry.Value, $"{name}[{entry.Key}]", violations);
                    Visit(field.MessageType.FindFieldByNumber(1), entry.Key, $"{name}.key", violations);
                }
            }
            else if (field.IsRepeated)
            {
                var index = 0;
                foreach (var item in (System.Collections.IEnumerable)value)
                {
                    Visit(field, item, $"{name}[{index++}]", violations);
                }
            }
            else
            {
                Visit(field, value, name, violations);
            }
        }
    }

    private static void Visit(FieldDescriptor field, object? value, string path, List<FieldViolation> violations)
    {
        switch (value)
        {
            case string text when text.Contains('\0', StringComparison.Ordinal):
                violations.Add(new FieldViolation(path, "must not contain NUL characters"));
                break;
            case IMessage message when field.FieldType == FieldType.Message:
                Walk(message, path, violations);
                break;
        }
    }

    /// <summary>A client stream whose every message is checked as the service reads it.</summary>
    private sealed class CheckedReader<T>(IAsyncStreamReader<T> inner) : IAsyncStreamReader<T>
    {
        public T Current => inner.Current;

        public async Task<bool> MoveNext(CancellationToken cancellationToken)
        {
            if (!await inner.MoveNext(cancellationToken))
            {
                return false;
            }

            Check(inner.Current);
            return true;
        }
    }
}
