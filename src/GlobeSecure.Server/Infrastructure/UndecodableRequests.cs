using System.Reflection;
using System.Runtime.CompilerServices;
using Google.Protobuf;
using Grpc.AspNetCore.Server.Model;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace GlobeSecure.Server.Infrastructure;

/// <summary>
/// A request body that is not a message of its rpc's type fails in grpc-dotnet's deserializer,
/// before any interceptor runs: the caller got UNKNOWN ("Exception was thrown by handler.") and no
/// audit entry was written. Every rpc's request marshaller is wrapped here instead: a body that does
/// not parse becomes an empty message marked undecodable, which <see cref="RequestShapeInterceptor"/>
/// refuses as INVALID_ARGUMENT inside the interceptors, so the refusal is mapped and audited like any other.
/// </summary>
internal static class UndecodableRequests
{
    private static readonly ConditionalWeakTable<object, object> Marked = [];

    public static bool IsUndecodable(object request) => Marked.TryGetValue(request, out _);

    /// <summary>Replaces grpc-dotnet's binder provider (the one that calls each generated BindService) with <see cref="Provider{TService}"/>.</summary>
    public static IServiceCollection AddUndecodableRequestRefusal(this IServiceCollection services)
    {
        services.RemoveAll(typeof(IServiceMethodProvider<>));
        services.TryAddEnumerable(ServiceDescriptor.Singleton(typeof(IServiceMethodProvider<>), typeof(Provider<>)));
        return services;
    }

    private static Method<TRequest, TResponse> Wrapped<TRequest, TResponse>(Method<TRequest, TResponse> method)
        where TRequest : class where TResponse : class
    {
        var parse = method.RequestMarshaller.ContextualDeserializer;
        var marshaller = Marshallers.Create(method.RequestMarshaller.ContextualSerializer, context =>
        {
            try
            {
                return parse(context);
            }
            catch (InvalidProtocolBufferException)
            {
                var empty = Activator.CreateInstance<TRequest>();
                Marked.Add(empty, empty);
                return empty;
            }
        });
        return new Method<TRequest, TResponse>(method.Type, method.ServiceName, method.Name, marshaller, method.ResponseMarshaller);
    }

    /// <summary>Binds a generated service as grpc-dotnet's own provider does (its BindService, its methods' attributes), with wrapped marshallers.</summary>
    internal sealed class Provider<TService> : IServiceMethodProvider<TService> where TService : class
    {
        public void OnServiceMethodDiscovery(ServiceMethodProviderContext<TService> context)
        {
            var bind = typeof(TService).GetCustomAttribute<BindServiceMethodAttribute>(inherit: true);
            var method = bind?.BindType.GetMethods(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static)
                .FirstOrDefault(m => m.Name == bind.BindMethodName && m.GetParameters() is [{ ParameterType: var binder }, _] && binder == typeof(ServiceBinderBase));
            method?.Invoke(null, [new Binder(context), null]);
        }

        private sealed class Binder(ServiceMethodProviderContext<TService> context) : ServiceBinderBase
        {
            public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, UnaryServerMethod<TRequest, TResponse>? handler) =>
                context.AddUnaryMethod(Wrapped(method), Metadata(method, out var handlerMethod),
                    Handler<UnaryServerMethod<TService, TRequest, TResponse>>(handlerMethod));

            public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method,
                ClientStreamingServerMethod<TRequest, TResponse>? handler) =>
                context.AddClientStreamingMethod(Wrapped(method), Metadata(method, out var handlerMethod),
                    Handler<ClientStreamingServerMethod<TService, TRequest, TResponse>>(handlerMethod));

            public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method,
                ServerStreamingServerMethod<TRequest, TResponse>? handler) =>
                context.AddServerStreamingMethod(Wrapped(method), Metadata(method, out var handlerMethod),
                    Handler<ServerStreamingServerMethod<TService, TRequest, TResponse>>(handlerMethod));

            public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method,
                DuplexStreamingServerMethod<TRequest, TResponse>? handler) =>
                context.AddDuplexStreamingMethod(Wrapped(method), Metadata(method, out var handlerMethod),
                    Handler<DuplexStreamingServerMethod<TService, TRequest, TResponse>>(handlerMethod));

            private static List<object> Metadata(IMethod method, out MethodInfo handlerMethod)
            {
                handlerMethod = typeof(TService).GetMethods(BindingFlags.Public | BindingFlags.Instance).Single(m => m.Name == method.Name
                    && m.GetParameters().Length == (method.Type == MethodType.ServerStreaming ? 3 : method.Type == MethodType.DuplexStreaming ? 3 : 2));
                return
                [
                    .. typeof(TService).GetCustomAttributes(inherit: true),
                    .. handlerMethod.GetCustomAttributes(inherit: true),
                    new HttpMethodMetadata(["POST"], acceptCorsPreflight: true),
                ];
            }

            private static TDelegate Handler<TDelegate>(MethodInfo handlerMethod) where TDelegate : Delegate =>
                (TDelegate)Delegate.CreateDelegate(typeof(TDelegate), handlerMethod);
        }
    }
}
