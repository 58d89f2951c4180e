using System.Collections.Concurrent;
using LimitsExtensions = GlobeSecure.Contracts.V1.LimitsExtensions;
using Google.Protobuf.Reflection;

namespace GlobeSecure.Server.Infrastructure;

/// <summary>
/// The size and count limits of request fields, as the protos declare them
/// (<c>protos/globesecure/v1/limits.proto</c>: <c>max_length</c>, <c>max_bytes</c>,
/// <c>max_count</c>), with a default for a field that declares none. Read once per message
/// type: <see cref="RequestShapeInterceptor"/> walks every request with the cached plan.
/// </summary>
internal static class FieldLimits
{
    /// <summary>Characters of a string field that declares no <c>max_length</c>.</summary>
    public const int DefaultMaxLength = 4096;

    /// <summary>Bytes of a bytes field that declares no <c>max_bytes</c>.</summary>
    public const int DefaultMaxBytes = 4096;

    /// <summary>Entries of a repeated or map field that declares no <c>max_count</c>.</summary>
    public const int DefaultMaxCount = 1000;

    private static readonly ConcurrentDictionary<MessageDescriptor, Plan[]> Plans = new();

    /// <summary>What to check of one field: the fields worth walking (strings, bytes, messages, repeated and map fields) with their limits.</summary>
    internal sealed record Plan(FieldDescriptor Field, string Name, int MaxLength, int MaxBytes, int MaxCount, FieldLimits.Plan? MapKey,
        FieldLimits.Plan? MapValue)
    {
        /// <summary>Whether a repeated field's entries need a look each (strings, bytes, messages; not numbers or enums).</summary>
        public bool ItemsChecked => Field.FieldType is FieldType.String or FieldType.Bytes or FieldType.Message;
    }

    /// <summary>The checks of a message type, in declaration order; computed once per type.</summary>
    public static Plan[] PlanOf(MessageDescriptor descriptor) => Plans.GetOrAdd(descriptor, static d =>
        [.. d.Fields.InDeclarationOrder().Where(Walked).Select(Of)]);

    private static bool Walked(FieldDescriptor field) =>
        field.IsRepeated || field.FieldType is FieldType.String or FieldType.Bytes or FieldType.Message;

    private static Plan Of(FieldDescriptor field) => new(field, field.Name, MaxLength(field), MaxBytes(field), MaxCount(field),
        field.IsMap ? Of(field.MessageType.FindFieldByNumber(1)) : null,
        field.IsMap ? Of(field.MessageType.FindFieldByNumber(2)) : null);

    /// <summary>The declared <c>max_length</c>, else the default.</summary>
    public static int MaxLength(FieldDescriptor field) => Declared(field, LimitsExtensions.MaxLength) ?? DefaultMaxLength;

    /// <summary>The declared <c>max_bytes</c>, else the default.</summary>
    public static int MaxBytes(FieldDescriptor field) => Declared(field, LimitsExtensions.MaxBytes) ?? DefaultMaxBytes;

    /// <summary>The declared <c>max_count</c>, else the default.</summary>
    public static int MaxCount(FieldDescriptor field) => Declared(field, LimitsExtensions.MaxCount) ?? DefaultMaxCount;

    /// <summary>The limit the proto declares on the field, if it declares one.</summary>
    public static int? Declared(FieldDescriptor field, Google.Protobuf.Extension<Google.Protobuf.Reflection.FieldOptions, int> limit) =>
        field.GetOptions() is { } options && options.HasExtension(limit) ? options.GetExtension(limit) : null;
}
