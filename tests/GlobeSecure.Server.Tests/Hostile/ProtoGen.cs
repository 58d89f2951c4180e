using System.Collections;
using CsCheck;
using Google.Protobuf;
using Google.Protobuf.Reflection;

namespace GlobeSecure.Server.Tests.Hostile;

/// <summary>
/// Hostile request bodies for any message type, drawn from CsCheck generators with one PCG so a
/// seed replays a case exactly: (a) random bytes, (b) well-formed messages of the type with random
/// field values filled in by reflection over the descriptor, (c) such a message mutated on the
/// wire (bit flips, truncation, duplicated fields, invalid UTF-8 in a string, a length past the end).
/// </summary>
internal sealed class ProtoGen(PCG pcg, IReadOnlyList<string> ids)
{
    private static readonly Gen<byte[]> RawBytes = Gen.Byte.Array[0, 300];
    private static readonly Gen<char[]> AnyChars = Gen.Char.Array[1, 40];
    private static readonly Gen<char[]> AsciiChars = Gen.Char['a', 'z'].Array[1, 40];
    private static readonly Gen<long> AnyLong = Gen.OneOf(Gen.Const(0L), Gen.Const(-1L), Gen.Const(long.MinValue), Gen.Const(long.MaxValue), Gen.Long);
    private static readonly Gen<int> AnyInt = Gen.OneOf(Gen.Const(0), Gen.Const(-1), Gen.Const(int.MinValue), Gen.Const(int.MaxValue), Gen.Int);
    private static readonly Gen<double> AnyDouble = Gen.OneOf(Gen.Const(double.NaN), Gen.Const(double.PositiveInfinity), Gen.Const(-1.0), Gen.Double);

    private T Draw<T>(Gen<T> gen) => gen.Generate(pcg, null!, out _);

    private int Between(int min, int max) => Draw(Gen.Int[min, max]);

    public byte[] RandomBytes() => Draw(RawBytes);

    /// <summary>A message of <paramref name="type"/> with random values in a random subset of its fields.</summary>
    public IMessage Message(MessageDescriptor type, int depth = 0)
    {
        var message = type.Parser.ParseFrom(ByteString.Empty);
        foreach (var field in type.Fields.InDeclarationOrder())
        {
            if (Between(0, 9) < 3)
            {
                continue;
            }

            if (field.IsMap)
            {
                var map = (IDictionary)field.Accessor.GetValue(message);
                var (key, value) = (field.MessageType.FindFieldByNumber(1), field.MessageType.FindFieldByNumber(2));
                for (var i = Between(0, 2); i > 0; i--)
                {
                    map[Value(key, depth)!] = Value(value, depth);
                }
            }
            else if (field.IsRepeated)
            {
                var list = (IList)field.Accessor.GetValue(message);
                for (var i = Between(0, 9) == 0 ? Between(20, 200) : Between(0, 3); i > 0; i--)
                {
                    if (Value(field, depth) is { } value)
                    {
                        list.Add(value);
                    }
                }
            }
            else if (Value(field, depth) is { } value)
            {
                field.Accessor.SetValue(message, value);
            }
        }

        return message;
    }

    private object? Value(FieldDescriptor field, int depth) => field.FieldType switch
    {
        FieldType.Double => Draw(AnyDouble),
        FieldType.Float => (float)Draw(AnyDouble),
        FieldType.Int64 or FieldType.SInt64 or FieldType.SFixed64 => Draw(AnyLong),
        FieldType.UInt64 or FieldType.Fixed64 => unchecked((ulong)Draw(AnyLong)),
        FieldType.Int32 or FieldType.SInt32 or FieldType.SFixed32 => Draw(AnyInt),
        FieldType.UInt32 or FieldType.Fixed32 => unchecked((uint)Draw(AnyInt)),
        FieldType.Bool => Draw(Gen.Bool),
        FieldType.String => String(),
        FieldType.Bytes => ByteString.CopyFrom(Between(0, 4) switch
        {
            0 => [],
            1 => Draw(Gen.Byte.Array[32]),
            2 => Draw(Gen.Byte.Array[64]),
            3 => Draw(Gen.Byte.Array[100_000]),
            _ => RandomBytes(),
        }),
        FieldType.Enum => Enum.ToObject(field.EnumType.ClrType, Between(0, 3) == 0 ? Draw(AnyInt) : Between(0, field.EnumType.Values.Count + 1)),
        FieldType.Message => depth >= 3 ? null : Message(field.MessageType, depth + 1),
        _ => null,
    };

    private string String() => Between(0, 7) switch
    {
        0 => "",
        1 or 2 => ids[Between(0, ids.Count - 1)],
        3 => new Guid(Draw(Gen.Byte.Array[16])).ToString(),
        4 => new string(Draw(AsciiChars)),
        5 => new string(Draw(AnyChars)),
        6 => new string('x', Between(10_000, 200_000)),
        _ => " \t\n\0",
    };

    /// <summary>A well-formed message's bytes, changed on the wire by one to three mutations.</summary>
    public byte[] Mutated(MessageDescriptor type)
    {
        var bytes = Message(type).ToByteArray().ToList();
        for (var n = Between(1, 3); n > 0; n--)
        {
            switch (Between(0, 5))
            {
                case 0 when bytes.Count > 0:
                    var at = Between(0, bytes.Count - 1);
                    bytes[at] ^= (byte)(1 << Between(0, 7));
                    break;
                case 1 when bytes.Count > 0:
                    bytes = bytes.Take(Between(0, bytes.Count - 1)).ToList();
                    break;
                case 2:
                    // Duplicated fields: a prefix of the message again (protobuf merges repeated occurrences).
                    bytes.AddRange(bytes.Take(Between(0, bytes.Count)).ToList());
                    break;
                case 3 when type.Fields.InDeclarationOrder().FirstOrDefault(f => f.FieldType == FieldType.String) is { } text:
                    // Invalid UTF-8 (a lone continuation byte after a lead byte) in a string field.
                    bytes.AddRange(Tag(text.FieldNumber, 2));
                    bytes.AddRange([2, 0xC3, 0x28]);
                    break;
                case 4:
                    // A length-delimited field whose length runs far past the end.
                    bytes.AddRange(Tag(type.Fields.InDeclarationOrder().FirstOrDefault()?.FieldNumber ?? 1, 2));
                    bytes.AddRange([0xFF, 0xFF, 0xFF, 0xFF, 0x07]);
                    break;
                default:
                    // An unknown field with the largest number there is.
                    bytes.AddRange(Tag(536_870_911, 0));
                    bytes.Add(1);
                    break;
            }
        }

        return [.. bytes];
    }

    private static byte[] Tag(int number, int wireType)
    {
        var output = new MemoryStream();
        using (var stream = new CodedOutputStream(output, leaveOpen: true))
        {
            stream.WriteTag(number, (WireFormat.WireType)wireType);
        }

        return output.ToArray();
    }
}
