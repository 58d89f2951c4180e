using System.Collections.Immutable;
using GlobeSecure.Contracts.V1;
using GlobeSecure.Crypto;
using EpochKeyDistribution = GlobeSecure.Crypto.EpochKeyDistribution;
using GlobeSecure.Server.Infrastructure;

namespace GlobeSecure.Server.Channels;

/// <summary>A channel as its stream tells it: members (user → authority) and the current epoch.</summary>
internal sealed record ChannelState(
    Guid ChannelId,
    bool Exists,
    Guid CreatedByUserId,
    byte[] EncryptedInfo,
    string DefaultHandlingCode,
    ImmutableSortedDictionary<Guid, Guid> Members,
    DistributionData? CurrentEpoch,
    ImmutableDictionary<long, byte[]> Commitments)
{
    public static ChannelState Initial { get; } =
        new(Guid.Empty, false, Guid.Empty, [], "", ImmutableSortedDictionary<Guid, Guid>.Empty, null, ImmutableDictionary<long, byte[]>.Empty);

    public long Epoch => CurrentEpoch?.Epoch ?? 0;
}

/// <summary>
/// A proposed next epoch as the edge prepared it: the client's distribution, the calling
/// device's verified certificate (null when its chain does not verify) and the certified,
/// unrevoked devices of every user who is or becomes a member (looked up in the directory).
/// </summary>
internal sealed record EpochProposal(string Field, EpochKeyDistribution Distribution, VerifiedDevice? Creator,
    IReadOnlyDictionary<Guid, IReadOnlyList<Guid>> DevicesOfUsers, byte[]? EncryptedInfo = null);

/// <summary>A user the caller asked to add, with their authority; <see cref="Named"/> when named rather than added with their whole authority.</summary>
internal sealed record Candidate(DirectoryUser User, AuthorityView Authority, bool Named);

internal abstract record ChannelCommand(Guid ChannelId, Guid ByUserId, Guid ByDeviceId, EpochProposal Epoch, DateTimeOffset At);

/// <summary><see cref="FirstMembers"/>: the caller's authority's users (the decider keeps its active investigators).</summary>
internal sealed record CreateChannel(Guid ChannelId, Guid ByUserId, Guid ByDeviceId, Role ByRole, AuthorityView ByAuthority, byte[] EncryptedInfo,
    string DefaultHandlingCode, IReadOnlyList<DirectoryUser> FirstMembers, EpochProposal Epoch, DateTimeOffset At)
    : ChannelCommand(ChannelId, ByUserId, ByDeviceId, Epoch, At);

/// <summary><see cref="Authorities"/>: the authorities asked for whole; <see cref="Candidates"/>: their users and the named users.</summary>
internal sealed record AddMembers(Guid ChannelId, Guid ByUserId, Guid ByDeviceId, IReadOnlyList<AuthorityView> Authorities,
    IReadOnlyList<Candidate> Candidates, EpochProposal Epoch, DateTimeOffset At)
    : ChannelCommand(ChannelId, ByUserId, ByDeviceId, Epoch, At);

internal sealed record RemoveMembers(Guid ChannelId, Guid ByUserId, Guid ByDeviceId, IReadOnlyList<Guid> AuthorityIds, IReadOnlyList<Guid> UserIds,
    EpochProposal Epoch, DateTimeOffset At)
    : ChannelCommand(ChannelId, ByUserId, ByDeviceId, Epoch, At);

/// <summary>
/// <paramref name="ByUserId"/> re-shares earlier epochs with <paramref name="ForUserId"/>, whose certified devices are
/// <paramref name="ForUserDevices"/>; <paramref name="Creator"/> is the calling device's verified chain.
/// </summary>
internal sealed record ShareHistory(Guid ChannelId, Guid ByUserId, Guid ByDeviceId, Guid ForUserId, IReadOnlyList<EpochKeyDistribution> Epochs,
    VerifiedDevice? Creator, IReadOnlyList<Guid> ForUserDevices, DateTimeOffset At);

internal sealed record RotateEpoch(Guid ChannelId, Guid ByUserId, Guid ByDeviceId, EpochProposal Epoch, DateTimeOffset At)
    : ChannelCommand(ChannelId, ByUserId, ByDeviceId, Epoch, At);

/// <summary>
/// The rules of channel membership and epochs. Members are users; adding an authority adds its
/// active investigators of that moment. Only active authorities that investigate (never observer
/// organisations or the secretariat) take part; named users must be investigators or partner
/// tools. Every membership change starts the next epoch, and every epoch must be sealed to
/// exactly the certified devices of the members after the change and signed by the calling
/// member's device. Pure: the directory lookups and the time come in with the command.
/// </summary>
internal static class ChannelDecider
{
    public static string StreamId(Guid channelId) => $"channel-{channelId}";

    public static ChannelState Evolve(ChannelState state, object @event) => @event switch
    {
        ChannelCreated e => new ChannelState(e.ChannelId, true, e.CreatedByUserId, e.EncryptedInfo, e.DefaultHandlingCode,
            e.Members.ToImmutableSortedDictionary(m => m.UserId, m => m.AuthorityId), null, ImmutableDictionary<long, byte[]>.Empty),
        MembersAdded e => state with { Members = state.Members.SetItems(e.Members.Select(m => KeyValuePair.Create(m.UserId, m.AuthorityId))) },
        MembersRemoved e => state with { Members = state.Members.RemoveRange(e.UserIds) },
        EpochStarted e => state with
        {
            CurrentEpoch = e.Distribution,
            Commitments = state.Commitments.SetItem(e.Distribution.Epoch, e.Distribution.KeyCommitment),
        },
        _ => state,
    };

    public static IReadOnlyList<object> Decide(ChannelCommand command, ChannelState state)
    {
        // A retry of a change the caller's device made and that was stored (same signed distribution) changes nothing.
        if (state.CurrentEpoch is { } current && command.Epoch.Distribution.Epoch == current.Epoch && current.CreatorDeviceId == command.ByDeviceId
            && command.Epoch.Distribution.Signature.AsSpan().SequenceEqual(current.Signature))
        {
            return [];
        }

        return command switch
        {
            CreateChannel create => Create(create, state),
            _ when !state.Exists => throw new NotFoundException("channel", command.ChannelId.ToString()),
            _ when !state.Members.ContainsKey(command.ByUserId) => throw new PermissionDeniedException("Permission denied: you are not a member of this channel."),
            AddMembers add => Add(add, state),
            RemoveMembers remove => Remove(remove, state),
            RotateEpoch rotate => [Started(rotate, state, state.Members.Keys)],
            _ => throw new InvalidOperationException($"Unhandled command {command.GetType().Name}."),
        };
    }

    /// <summary>
    /// Re-sharing history: both users are current members; every distribution carries the key of
    /// an existing epoch (its signed commitment equals the epoch's), is created and signed by the
    /// calling device and sealed to exactly the member's certified devices.
    /// </summary>
    public static IReadOnlyList<object> Decide(ShareHistory share, ChannelState state)
    {
        if (!state.Exists)
        {
            throw new NotFoundException("channel", share.ChannelId.ToString());
        }

        if (!state.Members.ContainsKey(share.ByUserId))
        {
            throw new PermissionDeniedException("Permission denied: you are not a member of this channel.");
        }

        if (!state.Members.ContainsKey(share.ForUserId))
        {
            throw new WrongStateException($"User {share.ForUserId} is not a member of this channel: add them first.");
        }

        if (share.Creator is null)
        {
            throw new PermissionDeniedException("Permission denied: your device's certificate chain does not verify.");
        }

        var expected = share.ForUserDevices.ToHashSet();
        var shared = new List<DistributionData>();
        for (var i = 0; i < share.Epochs.Count; i++)
        {
            shared.Add(CheckShare(share, state, $"epochs[{i}]", share.Epochs[i], expected, shared));
        }

        return [new HistoryShared(share.ChannelId, share.ForUserId, shared, share.ByUserId, share.At)];
    }

    private static DistributionData CheckShare(ShareHistory share, ChannelState state, string field, EpochKeyDistribution d, HashSet<Guid> expected,
        List<DistributionData> shared)
    {
        if (d.ChannelId != share.ChannelId)
        {
            throw new ValidationException($"{field}.channel_id", "must be the channel's id");
        }

        if (!state.Commitments.TryGetValue(d.Epoch, out var commitment))
        {
            throw new ValidationException($"{field}.epoch", $"epoch {d.Epoch} does not exist (current is {state.Epoch})");
        }

        if (shared.Exists(s => s.Epoch == d.Epoch))
        {
            throw new ValidationException($"{field}.epoch", $"epoch {d.Epoch} is listed twice");
        }

        if (!commitment.AsSpan().SequenceEqual(d.KeyCommitment))
        {
            throw new ValidationException($"{field}.key_commitment", $"is not the commitment of epoch {d.Epoch}: re-share that epoch's key, not a new one");
        }

        if (d.CreatorUserId != share.ByUserId || d.CreatorDeviceId != share.ByDeviceId)
        {
            throw new PermissionDeniedException("Permission denied: a re-shared epoch key must be signed by the calling device.");
        }

        try
        {
            d.Verify(share.Creator!);
        }
        catch (SignatureInvalidException)
        {
            throw new ValidationException($"{field}.signature", "signature does not verify");
        }
        catch (GlobeCryptoException e)
        {
            throw new ValidationException($"{field}.recipients", e.Message);
        }

        if (!expected.SetEquals(d.Recipients.Select(r => r.RecipientDeviceId)))
        {
            throw new WrongStateException($"Epoch {d.Epoch} must be re-sealed to exactly the certified devices of user {share.ForUserId}.");
        }

        return DistributionData.From(d);
    }

    private static IReadOnlyList<object> Create(CreateChannel create, ChannelState state)
    {
        if (state.Exists)
        {
            throw new AlreadyExistsException("channel", create.ChannelId.ToString());
        }

        if (create.ByRole != Role.Investigator)
        {
            throw new PermissionDeniedException("Permission denied: only investigators create case channels.");
        }

        CheckAuthority(create.ByAuthority);
        var members = create.FirstMembers
            .Where(u => u.AuthorityId == create.ByAuthority.AuthorityId && u.Role == Role.Investigator && u.Status == UserStatus.Active)
            .Select(u => new MemberData(u.UserId, u.AuthorityId))
            .OrderBy(m => m.UserId)
            .ToList();
        if (!members.Any(m => m.UserId == create.ByUserId))
        {
            throw new WrongStateException("You must be an active investigator of your authority to create a channel.");
        }

        var created = new ChannelCreated(create.ChannelId, create.ByUserId, create.ByDeviceId, create.EncryptedInfo, create.DefaultHandlingCode, members,
            create.At);
        return [created, Started(create, Evolve(state, created), members.Select(m => m.UserId))];
    }

    private static IReadOnlyList<object> Add(AddMembers add, ChannelState state)
    {
        foreach (var authority in add.Authorities)
        {
            CheckAuthority(authority);
        }

        var added = new List<MemberData>();
        foreach (var candidate in add.Candidates)
        {
            if (candidate.Named)
            {
                if (candidate.User.Role is not (Role.Investigator or Role.PartnerTool))
                {
                    throw new PermissionDeniedException(
                        $"Permission denied: user {candidate.User.UserId} is a {candidate.User.Role}; only investigators and named partner tools join channels.");
                }

                if (candidate.User.Status != UserStatus.Active)
                {
                    throw new WrongStateException($"User {candidate.User.UserId} is not active.");
                }

                CheckAuthority(candidate.Authority);
            }
            else if (candidate.User.Role != Role.Investigator || candidate.User.Status != UserStatus.Active)
            {
                continue;
            }

            if (!state.Members.ContainsKey(candidate.User.UserId) && added.TrueForAll(m => m.UserId != candidate.User.UserId))
            {
                added.Add(new MemberData(candidate.User.UserId, candidate.User.AuthorityId));
            }
        }

        if (added.Count == 0)
        {
            throw new WrongStateException("Nobody to add: they are members already, or the authorities have no active investigators.");
        }

        added.Sort((a, b) => a.UserId.CompareTo(b.UserId));
        var membersAdded = new MembersAdded(add.ChannelId, added, add.ByUserId, add.At);
        return [membersAdded, Started(add, state, Evolve(state, membersAdded).Members.Keys)];
    }

    private static IReadOnlyList<object> Remove(RemoveMembers remove, ChannelState state)
    {
        foreach (var userId in remove.UserIds.Where(u => !state.Members.ContainsKey(u)))
        {
            throw new WrongStateException($"User {userId} is not a member of this channel.");
        }

        foreach (var authorityId in remove.AuthorityIds.Where(a => !state.Members.ContainsValue(a)))
        {
            throw new WrongStateException($"Authority {authorityId} has no members in this channel.");
        }

        var removed = state.Members.Where(m => remove.UserIds.Contains(m.Key) || remove.AuthorityIds.Contains(m.Value)).Select(m => m.Key).ToList();
        if (removed.Count == 0)
        {
            throw new ValidationException("user_ids", "name at least one member or authority to remove");
        }

        if (removed.Count == state.Members.Count)
        {
            throw new WrongStateException("A channel keeps at least one member: this would remove everyone.");
        }

        var membersRemoved = new MembersRemoved(remove.ChannelId, removed, remove.ByUserId, remove.At);
        return [membersRemoved, Started(remove, state, Evolve(state, membersRemoved).Members.Keys)];
    }

    private static void CheckAuthority(AuthorityView authority)
    {
        if (authority.Kind is AuthorityKind.ObserverOrganisation or AuthorityKind.NetworkSecretariat)
        {
            throw new PermissionDeniedException(
                $"Permission denied: authority {authority.AuthorityId} is {(authority.Kind == AuthorityKind.ObserverOrganisation ? "an observer organisation" : "the network secretariat")}; only member authorities take part in case channels.");
        }

        if (authority.Status != AuthorityStatus.Active)
        {
            throw new WrongStateException($"Authority {authority.AuthorityId} is not active.");
        }
    }

    /// <summary>Checks the proposed epoch against the state before the change and the members after it.</summary>
    private static EpochStarted Started(ChannelCommand command, ChannelState before, IEnumerable<Guid> membersAfter)
    {
        var proposal = command.Epoch;
        var distribution = proposal.Distribution;
        if (distribution.ChannelId != command.ChannelId)
        {
            throw new ValidationException($"{proposal.Field}.channel_id", "must be the channel's id");
        }

        if (distribution.Epoch != before.Epoch + 1)
        {
            throw new WrongStateException($"Stale epoch: the next epoch is {before.Epoch + 1}, not {distribution.Epoch}; reload the channel and prepare it again.");
        }

        if (distribution.CreatorUserId != command.ByUserId || distribution.CreatorDeviceId != command.ByDeviceId)
        {
            throw new PermissionDeniedException("Permission denied: an epoch key must be created and signed by the calling device.");
        }

        if (proposal.Creator is null)
        {
            throw new PermissionDeniedException("Permission denied: your device's certificate chain does not verify.");
        }

        try
        {
            distribution.Verify(proposal.Creator);
        }
        catch (SignatureInvalidException)
        {
            throw new ValidationException($"{proposal.Field}.signature", "signature does not verify");
        }
        catch (GlobeCryptoException e)
        {
            throw new ValidationException($"{proposal.Field}.recipients", e.Message);
        }

        var expected = new HashSet<Guid>();
        foreach (var userId in membersAfter)
        {
            if (!proposal.DevicesOfUsers.TryGetValue(userId, out var devices))
            {
                throw new WrongStateException("The channel's members changed while the request was prepared; reload the channel and try again.");
            }

            expected.UnionWith(devices);
        }

        var actual = distribution.Recipients.Select(r => r.RecipientDeviceId).ToHashSet();
        var missing = expected.Except(actual).ToList();
        var extra = actual.Except(expected).ToList();
        if (missing.Count > 0 || extra.Count > 0)
        {
            throw new WrongStateException(
                "The epoch key must be sealed to exactly the certified devices of the members after the change: " +
                $"{missing.Count} missing ({string.Join(", ", missing)}), {extra.Count} not allowed ({string.Join(", ", extra)}).");
        }

        return new EpochStarted(command.ChannelId, DistributionData.From(distribution), command.ByUserId, command.At,
            command is CreateChannel ? null : proposal.EncryptedInfo);
    }
}
