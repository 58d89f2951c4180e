using GlobeSecure.Contracts.V1;
using GlobeSecure.Server.Infrastructure;
using Google.Protobuf;
using Grpc.Core;
using Timestamp = Google.Protobuf.WellKnownTypes.Timestamp;

namespace GlobeSecure.Server.Identity;

/// <summary>The key directory: certified devices with their chains, and the directory log. Any authenticated caller.</summary>
internal sealed class DirectoryService(Access access, IdentityReadModel read, IServerKeys serverKeys) : Contracts.V1.DirectoryService.DirectoryServiceBase
{
    private const int DefaultLogEntries = 500;

    /// <summary>Any authenticated caller: the audit checkpoint keys, current and earlier (docs/audit.md "Checkpoints").</summary>
    public override async Task<GetServerKeysResponse> GetServerKeys(GetServerKeysRequest request, ServerCallContext context)
    {
        await access.RequireAuthenticatedAsync(context);
        var response = new GetServerKeysResponse();
        response.Keys.AddRange(await serverKeys.ListKeysAsync(context.CancellationToken));
        await access.RecordReadAsync(context);
        return response;
    }

    /// <summary>Any authenticated caller: the certified, unrevoked devices of a user or an authority, each with its chain up to the root-issued certificate.</summary>
    public override async Task<FindDevicesResponse> FindDevices(FindDevicesRequest request, ServerCallContext context)
    {
        await access.RequireAuthenticatedAsync(context, request.UserId.Length > 0 ? request.UserId : request.AuthorityId);
        var v = new Violations();
        Guid? userId = request.UserId.Length > 0 ? v.Id("user_id", request.UserId) : null;
        Guid? authorityId = request.AuthorityId.Length > 0 ? v.Id("authority_id", request.AuthorityId) : null;
        if ((userId is null) == (authorityId is null))
        {
            v.Add("user_id", "give exactly one of user_id and authority_id");
        }

        v.ThrowIfAny();
        var response = new FindDevicesResponse();
        foreach (var device in await read.DevicesAsync(authorityId, userId, pendingOnly: false, certifiedOnly: true, context.CancellationToken))
        {
            // A device whose issuer has since been revoked no longer has a valid chain: not served.
            if (await read.ChainAsync(device.DeviceId, context.CancellationToken) is { } chain)
            {
                var message = new CertificateChain();
                message.Certificates.AddRange(chain.Select(IdentityWire.ToProto));
                response.Devices.Add(message);
            }
        }

        await access.RecordReadAsync(context, request.UserId.Length > 0 ? request.UserId : request.AuthorityId);
        return response;
    }

    /// <summary>Any authenticated caller: entries after a position, in order, with the current head.</summary>
    public override async Task<ReadLogResponse> ReadLog(ReadLogRequest request, ServerCallContext context)
    {
        await access.RequireAuthenticatedAsync(context);
        var v = new Violations();
        if (request.AfterPosition < 0)
        {
            v.Add("after_position", "must be 0 or more");
        }

        if (request.MaxEntries is < 0 or > 1000)
        {
            v.Add("max_entries", "must be 1 to 1000 (0 for the default of 500)");
        }

        v.ThrowIfAny();
        var (headPosition, headLink) = await read.LogHeadAsync(context.CancellationToken);
        var rows = await read.LogAsync(request.AfterPosition, request.MaxEntries == 0 ? DefaultLogEntries : request.MaxEntries, context.CancellationToken);
        var response = new ReadLogResponse { HeadPosition = headPosition, HeadLink = ByteString.CopyFrom(headLink) };
        foreach (var row in rows)
        {
            var entry = new DirectoryEntry
            {
                Position = row.Position,
                Link = ByteString.CopyFrom(row.Link),
                RecordedAt = Timestamp.FromDateTimeOffset(row.RecordedAt),
            };
            if (row.RootKey is not null)
            {
                entry.RootKey = ByteString.CopyFrom(row.RootKey);
            }
            else if (row.Certificate is not null)
            {
                entry.Certificate = IdentityWire.ToProto(row.Certificate);
            }
            else if (row.Revocation is not null)
            {
                entry.Revocation = IdentityWire.ToProto(row.Revocation);
            }

            response.Entries.Add(entry);
        }

        await access.RecordReadAsync(context);
        return response;
    }
}
