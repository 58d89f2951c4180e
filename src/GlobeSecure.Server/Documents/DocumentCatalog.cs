using GlobeSecure.Contracts.V1;
using GlobeSecure.EventStore;
using GlobeSecure.Server.Infrastructure;

namespace GlobeSecure.Server.Documents;

/// <summary>
/// What SendMessage checks about the documents a header names, read from their streams with
/// their versions, so the message's append can be conditioned on them (a document expired or
/// deleted meanwhile fails it, and it is decided again).
/// </summary>
internal sealed class DocumentCatalog(PostgresEventStore store) : IDocumentCatalog
{
    public async Task<IReadOnlyList<AttachableDocument>> FindAsync(IReadOnlyList<Guid> documentIds, CancellationToken cancellationToken)
    {
        var found = new List<AttachableDocument>(documentIds.Count);
        foreach (var documentId in documentIds.Distinct())
        {
            var streamId = DocumentDecider.StreamId(documentId);
            var (state, version) = await store.AggregateStreamAsync(streamId, DocumentState.Initial, DocumentDecider.Evolve, cancellationToken);
            if (state.Started is { } started)
            {
                found.Add(new AttachableDocument(documentId, started.ChannelId, started.UploaderUserId, state.Status == DocumentStatus.Sealed, streamId, version));
            }
        }

        return found;
    }
}
