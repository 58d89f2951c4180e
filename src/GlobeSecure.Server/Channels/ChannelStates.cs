using System.Collections.Concurrent;
using GlobeSecure.EventStore;

namespace GlobeSecure.Server.Channels;

/// <summary>
/// The channel aggregates a server process has loaded, kept so that a load reads only the events
/// appended since (usually none) instead of the channel's whole history, and a send reads nothing
/// (<see cref="KnownAsync"/>: its append is conditioned on the channel's version, so stale
/// knowledge fails it and it is decided again on a fresh load). The states are immutable, so one
/// may be shared between concurrent calls.
/// </summary>
internal sealed class ChannelStates(PostgresEventStore store)
{
    private readonly ConcurrentDictionary<Guid, Aggregate<ChannelState>> _known = new();

    /// <summary>
    /// The channel as this process last knew it, without a read (loaded the first time). Only
    /// for a decision whose append is conditioned on the channel's version (it may be stale).
    /// </summary>
    public async Task<Aggregate<ChannelState>> KnownAsync(Guid channelId, CancellationToken cancellationToken) =>
        _known.TryGetValue(channelId, out var cached) ? cached : await LoadAsync(channelId, cancellationToken);

    /// <summary>The channel as stored now: the cached state plus the events appended since.</summary>
    public async Task<Aggregate<ChannelState>> LoadAsync(Guid channelId, CancellationToken cancellationToken)
    {
        var known = _known.TryGetValue(channelId, out var cached) ? cached : new Aggregate<ChannelState>(ChannelState.Initial, 0);
        var newer = await store.ReadStreamAsync(ChannelDecider.StreamId(channelId), known.Version + 1, cancellationToken);
        if (newer.Count == 0)
        {
            return known;
        }

        var state = known.State;
        foreach (var e in newer)
        {
            state = ChannelDecider.Evolve(state, e.Data);
        }

        var loaded = new Aggregate<ChannelState>(state, newer[^1].Version);
        // Concurrent loads may finish out of order: keep the newest.
        return _known.AddOrUpdate(channelId, loaded, (_, current) => current.Version >= loaded.Version ? current : loaded);
    }
}
