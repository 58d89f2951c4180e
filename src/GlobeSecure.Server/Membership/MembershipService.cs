using System.Threading.RateLimiting;
using GlobeSecure.Contracts.V1;
using GlobeSecure.EventStore;
using GlobeSecure.Server.Infrastructure;
using Grpc.Core;
using Npgsql;

namespace GlobeSecure.Server.Membership;

/// <summary>
/// Authorities and regional groups. Thin: who may call → validate → decide → append → map back.
/// Who may call is on each method.
/// </summary>
internal sealed class MembershipService(
    PostgresEventStore store,
    Access access,
    TimeProvider clock,
    MembershipReadModel read,
    IEnrolmentCodes codes,
    ApplicationRateLimiter limiter) : Contracts.V1.MembershipService.MembershipServiceBase
{
    private const int DefaultPageSize = 100;

    private static readonly string[] PublicStatuses = ["active", "suspended"];
    private static readonly string[] AllStatuses = ["pending", "active", "rejected", "suspended", "withdrawn"];

    /// <summary>Anyone, no account; rate-limited per address.</summary>
    public override async Task<ApplyResponse> Apply(ApplyRequest request, ServerCallContext context)
    {
        if (!limiter.TryAcquire(context.Peer))
        {
            await access.RecordDeniedAsync(context, request.AuthorityId, "application rate limit");
            throw new LimitExceededException(
                $"Too many applications from this address: at most {ApplicationRateLimiter.PermitsPerHour} per hour. Try again later.");
        }

        var application = MembershipValidation.Application(request, clock.GetUtcNow());
        await DecideAuthorityAsync(new ApplyForMembership(application), context);
        return new ApplyResponse { Authority = await GetOrThrowAsync(application.AuthorityId, context) };
    }

    /// <summary>Network administrators. The second approval (by another administrator) activates the authority and issues its first administrator's code.</summary>
    public override async Task<ApproveResponse> Approve(ApproveRequest request, ServerCallContext context)
    {
        var caller = await access.RequireRoleAsync(context, request.AuthorityId, Role.NetworkAdministrator);
        var id = ParseId(request.AuthorityId, "authority_id");
        var (state, _) = await DecideAuthorityAsync(new ApproveAuthority(id, caller.UserId, clock.GetUtcNow()), context);
        var response = new ApproveResponse();
        if (state.Status == AuthorityStatus.Active)
        {
            var authority = await GetOrThrowAsync(id, context);
            response.AdministratorCode = await codes.IssueAdministratorCodeAsync(context, id, Guid.CreateVersion7(),
                authority.FocalPoint.Name, context.CancellationToken);
        }

        response.Authority = await GetOrThrowAsync(id, context);
        return response;
    }

    /// <summary>Network administrators.</summary>
    public override async Task<Authority> Reject(RejectRequest request, ServerCallContext context)
    {
        var caller = await access.RequireRoleAsync(context, request.AuthorityId, Role.NetworkAdministrator);
        var (id, reason) = IdAndReason(request.AuthorityId, request.Reason);
        await DecideAuthorityAsync(new RejectAuthority(id, caller.UserId, reason, clock.GetUtcNow()), context);
        return await GetOrThrowAsync(id, context);
    }

    /// <summary>Network administrators. Sessions of the authority's users end at once (the session check reads the status).</summary>
    public override async Task<Authority> Suspend(SuspendRequest request, ServerCallContext context)
    {
        var caller = await access.RequireRoleAsync(context, request.AuthorityId, Role.NetworkAdministrator);
        var (id, reason) = IdAndReason(request.AuthorityId, request.Reason);
        await DecideAuthorityAsync(new SuspendAuthority(id, caller.UserId, reason, clock.GetUtcNow()), context);
        return await GetOrThrowAsync(id, context);
    }

    /// <summary>Network administrators.</summary>
    public override async Task<Authority> Reinstate(ReinstateRequest request, ServerCallContext context)
    {
        var caller = await access.RequireRoleAsync(context, request.AuthorityId, Role.NetworkAdministrator);
        var id = ParseId(request.AuthorityId, "authority_id");
        await DecideAuthorityAsync(new ReinstateAuthority(id, caller.UserId, clock.GetUtcNow()), context);
        return await GetOrThrowAsync(id, context);
    }

    /// <summary>Network administrators. Final.</summary>
    public override async Task<Authority> Withdraw(WithdrawRequest request, ServerCallContext context)
    {
        var caller = await access.RequireRoleAsync(context, request.AuthorityId, Role.NetworkAdministrator);
        var (id, reason) = IdAndReason(request.AuthorityId, request.Reason);
        await DecideAuthorityAsync(new WithdrawAuthority(id, caller.UserId, reason, clock.GetUtcNow()), context);
        return await GetOrThrowAsync(id, context);
    }

    /// <summary>Network administrators: a new first-administrator code for an active authority.</summary>
    public override async Task<EnrolmentCode> IssueAdministratorCode(IssueAdministratorCodeRequest request, ServerCallContext context)
    {
        await access.RequireRoleAsync(context, request.AuthorityId, Role.NetworkAdministrator);
        var v = new List<FieldViolation>();
        var authorityId = MembershipValidation.Id(v, "authority_id", request.AuthorityId);
        var userId = MembershipValidation.Id(v, "user_id", request.UserId);
        var name = MembershipValidation.Text(v, "display_name", request.DisplayName, 200);
        MembershipValidation.ThrowIfAny(v);
        var authority = await read.GetAsync(authorityId, context.CancellationToken)
            ?? throw new NotFoundException("authority", request.AuthorityId);
        if (authority.Status != AuthorityStatus.Active)
        {
            throw new WrongStateException($"Enrolment codes are issued only for an active authority; this one is {AuthorityDecider.Describe(authority.Status)}.");
        }

        return await codes.IssueAdministratorCodeAsync(context, authorityId, userId, name, context.CancellationToken);
    }

    /// <summary>Any authenticated user. Network administrators see every status; others see active and suspended authorities.</summary>
    public override async Task<ListAuthoritiesResponse> ListAuthorities(ListAuthoritiesRequest request, ServerCallContext context)
    {
        var caller = await access.RequireAuthenticatedAsync(context);
        var v = new List<FieldViolation>();
        if (request.Country.Length > 0 && !MembershipValidation.IsCountry(request.Country))
        {
            v.Add(new FieldViolation("country", "must be an ISO 3166-1 alpha-2 code in upper case, e.g. KE"));
        }

        Guid? groupId = request.GroupId.Length > 0 ? MembershipValidation.Id(v, "group_id", request.GroupId) : null;
        var page = request.Page ?? new PageRequest();
        if (page.PageSize is < 0 or > 1000)
        {
            v.Add(new FieldViolation("page.page_size", "must be 1 to 1000 (0 for the default of 100)"));
        }

        Guid? after = page.PageToken.Length > 0 ? MembershipValidation.Id(v, "page.page_token", page.PageToken) : null;
        MembershipValidation.ThrowIfAny(v);
        var visible = caller.Role == Role.NetworkAdministrator ? AllStatuses : PublicStatuses;
        var statuses = request.Status == AuthorityStatus.Unspecified
            ? visible
            : visible.Where(s => s == MembershipReadModel.StatusToWire(request.Status)).ToArray();
        var size = page.PageSize == 0 ? DefaultPageSize : page.PageSize;
        var rows = await read.ListAsync(request.Country.Length > 0 ? request.Country : null, request.Kind, groupId, statuses, after, size + 1,
            context.CancellationToken);
        var response = new ListAuthoritiesResponse { Page = new PageResponse() };
        response.Authorities.AddRange(rows.Take(size));
        if (rows.Count > size)
        {
            response.Page.NextPageToken = rows[size - 1].AuthorityId;
        }

        await access.RecordReadAsync(context);
        return response;
    }

    /// <summary>Any authenticated user (pending, rejected and withdrawn authorities only for network administrators).</summary>
    public override async Task<Authority> GetAuthority(GetAuthorityRequest request, ServerCallContext context)
    {
        var caller = await access.RequireAuthenticatedAsync(context, request.AuthorityId);
        var id = ParseId(request.AuthorityId, "authority_id");
        var authority = await read.GetAsync(id, context.CancellationToken);
        if (authority is null || (caller.Role != Role.NetworkAdministrator && !PublicStatuses.Contains(MembershipReadModel.StatusToWire(authority.Status))))
        {
            throw new NotFoundException("authority", request.AuthorityId);
        }

        await access.RecordReadAsync(context, request.AuthorityId);
        return authority;
    }

    /// <summary>Network administrators.</summary>
    public override async Task<RegionalGroup> CreateGroup(CreateGroupRequest request, ServerCallContext context)
    {
        var caller = await access.RequireRoleAsync(context, request.GroupId, Role.NetworkAdministrator);
        var v = new List<FieldViolation>();
        var groupId = MembershipValidation.Id(v, "group_id", request.GroupId);
        var name = MembershipValidation.Text(v, "name", request.Name, 200);
        var members = request.AuthorityIds.Select((a, i) => MembershipValidation.Id(v, $"authority_ids[{i}]", a)).ToList();
        MembershipValidation.ThrowIfAny(v);
        foreach (var member in members)
        {
            await RequireMemberAuthorityAsync(member, context);
        }

        if (await read.GroupNameTakenAsync(name, groupId, context.CancellationToken))
        {
            throw new AlreadyExistsException("regional group named", name);
        }

        try
        {
            await DecideGroupAsync(new CreateGroup(groupId, name, members, caller.UserId, clock.GetUtcNow()), context);
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UniqueViolation)
        {
            throw new AlreadyExistsException("regional group named", name);
        }

        return await GroupOrThrowAsync(groupId, context);
    }

    /// <summary>Network administrators.</summary>
    public override async Task<RegionalGroup> AddToGroup(GroupMembershipRequest request, ServerCallContext context)
    {
        await access.RequireRoleAsync(context, request.GroupId, Role.NetworkAdministrator);
        var (groupId, authorityId) = GroupAndAuthority(request);
        await RequireMemberAuthorityAsync(authorityId, context);
        await DecideGroupAsync(new AddToGroup(groupId, authorityId, clock.GetUtcNow()), context);
        return await GroupOrThrowAsync(groupId, context);
    }

    /// <summary>Network administrators.</summary>
    public override async Task<RegionalGroup> RemoveFromGroup(GroupMembershipRequest request, ServerCallContext context)
    {
        await access.RequireRoleAsync(context, request.GroupId, Role.NetworkAdministrator);
        var (groupId, authorityId) = GroupAndAuthority(request);
        await DecideGroupAsync(new RemoveFromGroup(groupId, authorityId, clock.GetUtcNow()), context);
        return await GroupOrThrowAsync(groupId, context);
    }

    /// <summary>Any authenticated user.</summary>
    public override async Task<ListGroupsResponse> ListGroups(ListGroupsRequest request, ServerCallContext context)
    {
        await access.RequireAuthenticatedAsync(context);
        var response = new ListGroupsResponse();
        response.Groups.AddRange(await read.GroupsAsync(null, context.CancellationToken));
        await access.RecordReadAsync(context);
        return response;
    }

    internal static string AuthorityStream(Guid id) => $"authority-{id}";

    private static string GroupStream(Guid id) => $"regional-group-{id}";

    private Task<(AuthorityState State, AppendResult Append)> DecideAuthorityAsync(AuthorityCommand command, ServerCallContext context) =>
        store.DecideAsync(AuthorityStream(command.AuthorityId), AuthorityState.Initial, AuthorityDecider.Evolve,
            state => AuthorityDecider.Decide(command, state), access.Allowed(context, command.AuthorityId.ToString()),
            cancellationToken: context.CancellationToken);

    private Task<(GroupState State, AppendResult Append)> DecideGroupAsync(GroupCommand command, ServerCallContext context) =>
        store.DecideAsync(GroupStream(command.GroupId), GroupState.Initial, GroupDecider.Evolve,
            state => GroupDecider.Decide(command, state), access.Allowed(context, command.GroupId.ToString()),
            cancellationToken: context.CancellationToken);

    private async Task<Authority> GetOrThrowAsync(Guid id, ServerCallContext context) =>
        await read.GetAsync(id, context.CancellationToken) ?? throw new NotFoundException("authority", id.ToString());

    private async Task<RegionalGroup> GroupOrThrowAsync(Guid id, ServerCallContext context) =>
        (await read.GroupsAsync(id, context.CancellationToken)).FirstOrDefault() ?? throw new NotFoundException("regional group", id.ToString());

    private async Task RequireMemberAuthorityAsync(Guid authorityId, ServerCallContext context)
    {
        var authority = await read.GetAsync(authorityId, context.CancellationToken)
            ?? throw new NotFoundException("authority", authorityId.ToString());
        if (authority.Status is not (AuthorityStatus.Active or AuthorityStatus.Suspended) || authority.Kind == AuthorityKind.NetworkSecretariat)
        {
            throw new WrongStateException($"Only member authorities can be in a regional group; {authorityId} is {AuthorityDecider.Describe(authority.Status)}.");
        }
    }

    private static Guid ParseId(string value, string field)
    {
        var v = new List<FieldViolation>();
        var id = MembershipValidation.Id(v, field, value);
        MembershipValidation.ThrowIfAny(v);
        return id;
    }

    private static (Guid Id, string Reason) IdAndReason(string authorityId, string reason)
    {
        var v = new List<FieldViolation>();
        var id = MembershipValidation.Id(v, "authority_id", authorityId);
        var text = MembershipValidation.Text(v, "reason", reason, 500);
        MembershipValidation.ThrowIfAny(v);
        return (id, text);
    }

    private static (Guid GroupId, Guid AuthorityId) GroupAndAuthority(GroupMembershipRequest request)
    {
        var v = new List<FieldViolation>();
        var groupId = MembershipValidation.Id(v, "group_id", request.GroupId);
        var authorityId = MembershipValidation.Id(v, "authority_id", request.AuthorityId);
        MembershipValidation.ThrowIfAny(v);
        return (groupId, authorityId);
    }
}

/// <summary>
/// Applications per peer address: <see cref="PermitsPerHour"/> an hour. Per server process (two
/// replicas allow twice as many); enough to stop a script flooding the review queue.
/// </summary>
internal sealed class ApplicationRateLimiter : IDisposable
{
    public const int PermitsPerHour = 10;

    private readonly PartitionedRateLimiter<string> _limiter = PartitionedRateLimiter.Create<string, string>(peer =>
        RateLimitPartition.GetFixedWindowLimiter(peer, _ => new FixedWindowRateLimiterOptions
        {
            PermitLimit = PermitsPerHour,
            Window = TimeSpan.FromHours(1),
            QueueLimit = 0,
        }));

    public bool TryAcquire(string peer) => _limiter.AttemptAcquire(CallLimits.AddressOf(peer)).IsAcquired;

    public void Dispose() => _limiter.Dispose();
}

/// <summary>The <see cref="IAuthorities"/> other features use.</summary>
internal sealed class MembershipAuthorities(PostgresEventStore store, Access access, MembershipReadModel read, TimeProvider clock) : IAuthorities
{
    public Task<AuthorityView?> FindAsync(Guid authorityId, CancellationToken cancellationToken) => read.FindAsync(authorityId, cancellationToken);

    public Task<IReadOnlyList<MemberAuthorityView>> ListMembersAsync(string? country, CancellationToken cancellationToken) =>
        read.MembersAsync(country, cancellationToken);

    public Task<IReadOnlyDictionary<Guid, AuthorityView>> FindManyAsync(IReadOnlyCollection<Guid> authorityIds, CancellationToken cancellationToken) =>
        read.FindManyAsync(authorityIds, cancellationToken);

    public Task RegisterSecretariatAsync(ServerCallContext call, Guid authorityId, string name, CancellationToken cancellationToken) =>
        store.DecideAsync(MembershipService.AuthorityStream(authorityId), AuthorityState.Initial, AuthorityDecider.Evolve,
            state => AuthorityDecider.Decide(new RegisterSecretariat(authorityId, name, clock.GetUtcNow()), state),
            access.Allowed(call, authorityId.ToString()), cancellationToken: cancellationToken);
}
