using GlobeSecure.Contracts.V1;
using GlobeSecure.Server.Infrastructure;

namespace GlobeSecure.Server.Channels;

/// <summary>A consent request as its stream tells it.</summary>
internal sealed record ConsentState(ConsentRequested? Request, ConsentStatus Status, Guid DecidedBy)
{
    public static ConsentState Initial { get; } = new(null, ConsentStatus.Unspecified, Guid.Empty);
}

/// <summary>
/// Asks consent to forward <see cref="Message"/> (null when it does not exist) from its channel
/// (<see cref="Origin"/>) to <see cref="Target"/>; <see cref="OriginatorAuthorityId"/> is the
/// original sender's authority, looked up in the directory.
/// </summary>
internal sealed record RequestConsent(Guid ConsentId, Guid MessageId, MessageAccepted? Message, ChannelState Origin, ChannelState Target, Guid OriginatorAuthorityId,
    Guid ByUserId, string Reason, DateTimeOffset At);

internal sealed record DecideConsent(Guid ConsentId, bool Grant, Guid ByUserId, Guid ByAuthorityId, Role ByRole, string Reason, DateTimeOffset At);

/// <summary>
/// Originator consent: forwarding H1 (judicial use) or H2 (onward dissemination) content needs
/// the originating authority's permission. A member of both channels requests; an investigator or
/// administrator of the originating authority grants or denies, once. Pure.
/// </summary>
internal static class ConsentDecider
{
    public static string StreamId(Guid consentId) => $"consent-{consentId}";

    /// <summary>Whether content under <paramref name="handlingCode"/> needs the originator's consent to be forwarded.</summary>
    public static bool NeedsConsent(string handlingCode) => handlingCode is "H1" or "H2";

    public static ConsentState Evolve(ConsentState state, object @event) => @event switch
    {
        ConsentRequested e => new ConsentState(e, ConsentStatus.Pending, Guid.Empty),
        ConsentGranted e => state with { Status = ConsentStatus.Granted, DecidedBy = e.ByUserId },
        ConsentDenied e => state with { Status = ConsentStatus.Denied, DecidedBy = e.ByUserId },
        _ => state,
    };

    public static IReadOnlyList<object> Decide(RequestConsent request, ConsentState state)
    {
        if (state.Request is { } existing)
        {
            return existing.MessageId == request.MessageId && existing.TargetChannelId == request.Target.ChannelId && existing.RequestedByUserId == request.ByUserId
                ? []
                : throw new AlreadyExistsException("consent request", request.ConsentId.ToString());
        }

        if (request.Message is null || !request.Origin.Exists)
        {
            throw new NotFoundException("message", request.MessageId.ToString());
        }

        if (!request.Origin.Members.ContainsKey(request.ByUserId))
        {
            throw new PermissionDeniedException("Permission denied: not a member of the message's channel.");
        }

        if (!request.Target.Exists)
        {
            throw new NotFoundException("channel", request.Target.ChannelId.ToString());
        }

        if (!request.Target.Members.ContainsKey(request.ByUserId))
        {
            throw new PermissionDeniedException("Permission denied: not a member of the target channel.");
        }

        if (request.Target.ChannelId == request.Origin.ChannelId)
        {
            throw new ValidationException("target_channel_id", "must be another channel than the message's");
        }

        if (!NeedsConsent(request.Message.Envelope.HandlingCode))
        {
            throw new WrongStateException(
                $"The message's handling code is {HandlingPolicy.Describe(request.Message.Envelope.HandlingCode)}: only H1 and H2 content needs the originator's consent to be forwarded.");
        }

        return [new ConsentRequested(request.ConsentId, request.Message.MessageId, request.Origin.ChannelId, request.Target.ChannelId,
            request.OriginatorAuthorityId, request.ByUserId, request.Reason, request.At)];
    }

    public static IReadOnlyList<object> Decide(DecideConsent decision, ConsentState state)
    {
        var request = state.Request ?? throw new NotFoundException("consent request", decision.ConsentId.ToString());
        if (decision.ByAuthorityId != request.OriginatorAuthorityId || decision.ByRole is not (Role.Investigator or Role.AuthorityAdministrator))
        {
            throw new PermissionDeniedException(
                "Permission denied: only investigators and administrators of the originating authority decide on consent to forward its messages.");
        }

        var wanted = decision.Grant ? ConsentStatus.Granted : ConsentStatus.Denied;
        if (state.Status == wanted && state.DecidedBy == decision.ByUserId)
        {
            return [];
        }

        if (state.Status != ConsentStatus.Pending)
        {
            throw new WrongStateException($"This consent request was already {(state.Status == ConsentStatus.Granted ? "granted" : "denied")}.");
        }

        return decision.Grant
            ? [new ConsentGranted(decision.ConsentId, request.OriginChannelId, decision.ByUserId, decision.Reason, decision.At)]
            : [new ConsentDenied(decision.ConsentId, request.OriginChannelId, decision.ByUserId, decision.Reason, decision.At)];
    }
}
