using GlobeSecure.Server.Infrastructure;

namespace GlobeSecure.Server.Membership;

internal sealed record GroupState(Guid GroupId, string Name, IReadOnlyList<Guid> Members)
{
    public static GroupState Initial { get; } = new(Guid.Empty, "", []);

    public bool Exists => GroupId != Guid.Empty;
}

internal abstract record GroupCommand(Guid GroupId, DateTimeOffset At);

internal sealed record CreateGroup(Guid GroupId, string Name, IReadOnlyList<Guid> AuthorityIds, Guid AdministratorUserId, DateTimeOffset At)
    : GroupCommand(GroupId, At);

internal sealed record AddToGroup(Guid GroupId, Guid AuthorityId, DateTimeOffset At) : GroupCommand(GroupId, At);

internal sealed record RemoveFromGroup(Guid GroupId, Guid AuthorityId, DateTimeOffset At) : GroupCommand(GroupId, At);

/// <summary>Regional groups: named sets of member authorities. Adding a member twice or removing a non-member changes nothing.</summary>
internal static class GroupDecider
{
    public static GroupState Evolve(GroupState state, object @event) => @event switch
    {
        GroupCreated e => new GroupState(e.GroupId, e.Name, []),
        AuthorityAddedToGroup e => state with { Members = [.. state.Members, e.AuthorityId] },
        AuthorityRemovedFromGroup e => state with { Members = [.. state.Members.Where(m => m != e.AuthorityId)] },
        _ => state,
    };

    public static IReadOnlyList<object> Decide(GroupCommand command, GroupState state) => (command, state) switch
    {
        (CreateGroup create, { Exists: false }) =>
        [
            new GroupCreated(create.GroupId, create.Name, create.AdministratorUserId, create.At),
            .. create.AuthorityIds.Distinct().Select(a => new AuthorityAddedToGroup(create.GroupId, a, create.At)),
        ],
        (CreateGroup create, _) when create.Name == state.Name => [],
        (CreateGroup create, _) => throw new AlreadyExistsException("regional group", create.GroupId.ToString()),
        (_, { Exists: false }) => throw new NotFoundException("regional group", command.GroupId.ToString()),
        (AddToGroup add, _) when state.Members.Contains(add.AuthorityId) => [],
        (AddToGroup add, _) => [new AuthorityAddedToGroup(add.GroupId, add.AuthorityId, add.At)],
        (RemoveFromGroup remove, _) when !state.Members.Contains(remove.AuthorityId) => [],
        (RemoveFromGroup remove, _) => [new AuthorityRemovedFromGroup(remove.GroupId, remove.AuthorityId, remove.At)],
        _ => throw new InvalidOperationException($"Unhandled command {command.GetType().Name}."),
    };
}
