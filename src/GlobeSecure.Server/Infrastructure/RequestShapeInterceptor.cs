using Google.Protobuf;
using Google.Protobuf.Reflection;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Grpc.Core.Interceptors;

namespace GlobeSecure.Server.Infrastructure;

/// <summary>
/// Refuses, before any feature sees it, a request that parses but holds values no feature can
/// use and that would otherwise fail deep inside as a server fault: a timestamp or duration out of
/// protobuf's range (Timestamp.ToDateTimeOffset throws), a NUL character in a string
/// (PostgreSQL stores no U+0000 in text or jsonb, so an audit entry naming it, or an event holding
/// it, could not be written), a message that did not parse at all (see UndecodableRequests), and
/// a string, bytes or repeated field over the limit its proto declares (<see cref="FieldLimits"/>,
/// protos/globesecure/v1/limits.proto). Every bad field is listed by its path. Every message of a
/// client stream is checked as it is read. INVALID_ARGUMENT, or RESOURCE_EXHAUSTED when every
/// bad field is only over its declared limit (a limit, like the maximum message size; the same
/// BadRequest names each field and its limit).
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
            List<FieldViolation> violations = [];
            Walk(message, "", violations);
            if (violations.Count > 0)
            {
                // Only sizes and counts over the declared limits: RESOURCE_EXHAUSTED (a limit, like
                // the maximum message size); anything malformed among them: INVALID_ARGUMENT.
                throw new ValidationException(violations, overDeclaredLimits: violations.All(v => v.OverDeclaredLimit));
            }
        }
    }

    // Timestamp's range: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999999Z; Duration's: ±10,000 years.
    private const long MinTimestampSeconds = -62_135_596_800;
    private const long MaxTimestampSeconds = 253_402_300_799;
    private const long MaxDurationSeconds = 315_576_000_000;

    /// <summary>A request with more bad fields than this gets only the first ones listed (the status must fit in a trailer).</summary>
    internal const int MaxViolations = 100;

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

        foreach (var plan in FieldLimits.PlanOf(message.Descriptor))
        {
            if (violations.Count >= MaxViolations)
            {
                return;
            }

            var name = path.Length == 0 ? plan.Name : $"{path}.{plan.Name}";
            var value = plan.Field.Accessor.GetValue(message);
            if (plan.Field.IsMap)
            {
                var entries = (System.Collections.IDictionary)value;
                if (entries.Count > plan.MaxCount)
                {
                    violations.Add(new FieldViolation(name, $"at most {plan.MaxCount} entries (got {entries.Count})", OverDeclaredLimit: true));
                    continue;
                }

                foreach (System.Collections.DictionaryEntry entry in entries)
                {
                    Visit(plan.MapValue!, entry.Value, $"{name}[{entry.Key}]", violations);
                    Visit(plan.MapKey!, entry.Key, $"{name}.key", violations);
                }
            }
            else if (plan.Field.IsRepeated)
            {
                var items = (System.Collections.IList)value;
                if (items.Count > plan.MaxCount)
                {
                    violations.Add(new FieldViolation(name, $"at most {plan.MaxCount} entries (got {items.Count})", OverDeclaredLimit: true));
                    continue;
                }

                if (!plan.ItemsChecked)
                {
                    continue;
                }

                for (var index = 0; index < items.Count && violations.Count < MaxViolations; index++)
                {
                    Visit(plan, items[index], $"{name}[{index}]", violations);
                }
            }
            else
            {
                Visit(plan, value, name, violations);
            }
        }
    }

    private static void Visit(FieldLimits.Plan plan, object? value, string path, List<FieldViolation> violations)
    {
        switch (value)
        {
            case string text when text.Length > plan.MaxLength:
                violations.Add(new FieldViolation(path, $"at most {plan.MaxLength} characters (got {text.Length})", OverDeclaredLimit: true));
                break;
            case string text when text.Contains('\0', StringComparison.Ordinal):
                violations.Add(new FieldViolation(path, "must not contain NUL characters"));
                break;
            case ByteString bytes when bytes.Length > plan.MaxBytes:
                violations.Add(new FieldViolation(path, $"at most {plan.MaxBytes} bytes (got {bytes.Length})", OverDeclaredLimit: true));
                break;
            case IMessage message when plan.Field.FieldType == FieldType.Message:
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
