using GlobeSecure.Contracts.V1;
using GlobeSecure.Server.Infrastructure;
using Google.Protobuf.Reflection;
using FieldType = Google.Protobuf.Reflection.FieldType;

namespace GlobeSecure.Server.Tests.Limits;

/// <summary>
/// The limits declared in the protos (limits.proto) cover what they are meant to: every field a
/// request can carry that could be large — bytes, repeated and map fields, and ids — states its
/// own limit; other strings may take the default. No server, no database.
/// </summary>
public sealed class DeclaredLimitTests
{
    /// <summary>Every field reachable from an rpc's request message, with its path from that message type.</summary>
    private static IEnumerable<(string Path, FieldDescriptor Field)> RequestFields()
    {
        var seen = new HashSet<string>();
        var queue = new Queue<MessageDescriptor>(ContractRpcs.Methods().Select(m => m.InputType));
        while (queue.Count > 0)
        {
            var message = queue.Dequeue();
            if (!seen.Add(message.FullName) || message.File.Package.StartsWith("google.", StringComparison.Ordinal))
            {
                continue;
            }

            foreach (var field in message.Fields.InDeclarationOrder())
            {
                yield return ($"{message.FullName}.{field.Name}", field);
                if (field.FieldType == FieldType.Message && !field.IsMap)
                {
                    queue.Enqueue(field.MessageType);
                }
            }
        }
    }

    private static bool IsId(FieldDescriptor field) => field.FieldType == FieldType.String && (field.Name.EndsWith("_id", StringComparison.Ordinal)
        || field.Name.EndsWith("_ids", StringComparison.Ordinal));

    [Fact]
    public void RequestFields_BytesRepeatedMapsAndIds_EachDeclareTheirLimit()
    {
        var undeclared = RequestFields().Where(f =>
                (f.Field.FieldType == FieldType.Bytes && FieldLimits.Declared(f.Field, LimitsExtensions.MaxBytes) is null)
                || ((f.Field.IsRepeated || f.Field.IsMap) && FieldLimits.Declared(f.Field, LimitsExtensions.MaxCount) is null)
                || (IsId(f.Field) && FieldLimits.Declared(f.Field, LimitsExtensions.MaxLength) is null))
            .Select(f => f.Path).ToList();

        Assert.True(undeclared.Count == 0, $"These request fields need a declared limit in their proto:\n{string.Join("\n", undeclared)}");
    }

    [Fact]
    public void RequestFields_EveryStringBytesAndRepeatedField_HasAPositiveEffectiveLimit()
    {
        foreach (var (path, field) in RequestFields())
        {
            if (field.FieldType == FieldType.String)
            {
                Assert.True(FieldLimits.MaxLength(field) > 0, path);
            }

            if (field.FieldType == FieldType.Bytes)
            {
                Assert.True(FieldLimits.MaxBytes(field) > 0, path);
            }

            if (field.IsRepeated)
            {
                Assert.True(FieldLimits.MaxCount(field) > 0, path);
            }
        }
    }

    [Fact]
    public void DeclaredLimits_OfFieldsTheFeaturesAlsoCheck_AgreeWithTheFeatures()
    {
        Assert.Equal(Crypto.DocumentCipher.MaxChunkSize + 16, FieldLimits.MaxBytes(UploadChunkRequest.Descriptor.FindFieldByName("data")));
        Assert.Equal(global::GlobeSecure.Server.Channels.ChannelWire.MaxDocuments, FieldLimits.MaxCount(MessageHeader.Descriptor.FindFieldByName("document_ids")));
        Assert.Equal(global::GlobeSecure.Server.Channels.ChannelWire.MaxRecipients, FieldLimits.MaxCount(EpochKeyDistribution.Descriptor.FindFieldByName("recipients")));
        Assert.Equal(global::GlobeSecure.Server.Channels.ChannelWire.MaxAuthorities, FieldLimits.MaxCount(AddMembersRequest.Descriptor.FindFieldByName("authority_ids")));
        Assert.Equal(global::GlobeSecure.Server.Channels.ChannelWire.MaxUsers, FieldLimits.MaxCount(RemoveMembersRequest.Descriptor.FindFieldByName("user_ids")));
        Assert.Equal(global::GlobeSecure.Server.Channels.ChannelWire.MaxInfoBytes, FieldLimits.MaxBytes(CreateChannelRequest.Descriptor.FindFieldByName("encrypted_info")));
        Assert.Equal(global::GlobeSecure.Server.Channels.ChannelWire.MaxPlaintextBytes + 16, FieldLimits.MaxBytes(MessageEnvelope.Descriptor.FindFieldByName("ciphertext")));
        Assert.Equal(global::GlobeSecure.Server.Templates.TemplateWire.MaxFields, FieldLimits.MaxCount(Section.Descriptor.FindFieldByName("fields")));
        Assert.Equal(global::GlobeSecure.Server.Templates.TemplateWire.MaxSections, FieldLimits.MaxCount(Template.Descriptor.FindFieldByName("sections")));
    }
}
