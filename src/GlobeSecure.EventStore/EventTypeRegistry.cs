using System.Collections.Concurrent;
using System.Text.Json;

namespace GlobeSecure.EventStore;

/// <summary>
/// Maps event record types to stable aliases (the stored type names) and back. Aliases, not CLR
/// names, are stored so that a type can be renamed or moved without rewriting history; an old
/// alias can be kept pointing at a new type (<see cref="AddAlias{T}"/>).
/// </summary>
public sealed class EventTypeRegistry
{
    private readonly ConcurrentDictionary<Type, string> _aliasByType = new();
    private readonly ConcurrentDictionary<string, Type> _typeByAlias = new(StringComparer.Ordinal);

    /// <summary>Serializer options used for event data: camelCase, no indentation.</summary>
    public static JsonSerializerOptions JsonOptions { get; } = new(JsonSerializerDefaults.Web);

    /// <summary>Registers <typeparamref name="T"/> under <paramref name="alias"/> (e.g. "membership.authority-applied.v1").</summary>
    public EventTypeRegistry Register<T>(string alias)
    {
        AddAlias<T>(alias);
        if (!_aliasByType.TryAdd(typeof(T), alias) && _aliasByType[typeof(T)] != alias)
        {
            throw new InvalidOperationException($"Event type {typeof(T).FullName} is already registered as '{_aliasByType[typeof(T)]}'.");
        }

        return this;
    }

    /// <summary>Reads events stored under an older <paramref name="alias"/> as <typeparamref name="T"/>.</summary>
    public EventTypeRegistry AddAlias<T>(string alias)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(alias);
        if (!_typeByAlias.TryAdd(alias, typeof(T)) && _typeByAlias[alias] != typeof(T))
        {
            throw new InvalidOperationException($"Event alias '{alias}' is already registered for {_typeByAlias[alias].FullName}.");
        }

        return this;
    }

    /// <summary>The alias of a registered type.</summary>
    public string AliasOf(Type type) =>
        _aliasByType.TryGetValue(type, out var alias) ? alias : throw new UnknownEventTypeException(type);

    internal string Serialize(object data) => JsonSerializer.Serialize(data, data.GetType(), JsonOptions);

    internal object Deserialize(string alias, string json) =>
        _typeByAlias.TryGetValue(alias, out var type)
            ? JsonSerializer.Deserialize(json, type, JsonOptions) ?? throw new InvalidDataException($"Event of type '{alias}' has null data.")
            : JsonDocument.Parse(json).RootElement.Clone();
}
