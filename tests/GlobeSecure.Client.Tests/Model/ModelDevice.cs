using GlobeSecure.Client.Tests.Story;
using GlobeSecure.Contracts.V1;

namespace GlobeSecure.Client.Tests.Model;

/// <summary>
/// The network under one device's client, with two faults the model test turns on: a send's answer
/// lost after the server gave it (so the message is stored but the caller sees Unavailable), and
/// the connection under a subscription broken (its next read fails, as a reset connection would).
/// </summary>
internal sealed class FaultyNetwork() : DelegatingHandler(new SocketsHttpHandler())
{
    private int _generation;
    private int _loseNextSendAnswer;

    public int Generation => Volatile.Read(ref _generation);

    /// <summary>Every subscription opened before this call fails on its next read.</summary>
    public void BreakSubscriptions() => Interlocked.Increment(ref _generation);

    public void LoseNextSendAnswer(bool lose) => Volatile.Write(ref _loseNextSendAnswer, lose ? 1 : 0);

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var path = request.RequestUri!.AbsolutePath;
        var generation = Generation;
        var response = await base.SendAsync(request, cancellationToken);
        if (path.EndsWith("/SendMessage", StringComparison.Ordinal) && Interlocked.Exchange(ref _loseNextSendAnswer, 0) == 1)
        {
            // The whole answer arrived (the server stored the message before answering), then it is lost.
            await response.Content.LoadIntoBufferAsync(cancellationToken);
            response.Dispose();
            throw new HttpRequestException("The model test lost the answer to this send.");
        }

        if (path.EndsWith("/Subscribe", StringComparison.Ordinal))
        {
            var content = new StreamContent(new BreakableStream(await response.Content.ReadAsStreamAsync(cancellationToken), this, generation));
            foreach (var header in response.Content.Headers)
            {
                content.Headers.TryAddWithoutValidation(header.Key, header.Value);
            }

            response.Content = content;
        }

        return response;
    }

    /// <summary>A response body that fails its reads once <see cref="BreakSubscriptions"/> was called after it was opened.</summary>
    private sealed class BreakableStream(Stream inner, FaultyNetwork network, int generation) : Stream
    {
        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }

        public override int Read(byte[] buffer, int offset, int count)
        {
            Check();
            return inner.Read(buffer, offset, count);
        }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            Check();
            return await inner.ReadAsync(buffer, cancellationToken);
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                inner.Dispose();
            }

            base.Dispose(disposing);
        }

        private void Check()
        {
            if (network.Generation != generation)
            {
                inner.Dispose();
                throw new IOException("The model test broke this subscription's connection.");
            }
        }
    }
}

/// <summary>
/// One of the six devices: its own client over a <see cref="FaultyNetwork"/>, and the application's
/// subscription, which it stops and starts again from the last position it saw (its cursor).
/// </summary>
internal sealed class ModelDevice(int index, Participant participant, GlobeClient client, FaultyNetwork network) : IAsyncDisposable
{
    // Only a hang guard: a subscription that does not reach a position the test just wrote fails the run.
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(60);

    private CancellationTokenSource? _stop;
    private IAsyncEnumerator<ChannelEvent>? _events;

    public int Index { get; } = index;

    public string Name => Cast.Devices[Index];

    public Participant Participant { get; } = participant;

    public GlobeClient Client { get; } = client;

    public FaultyNetwork Network { get; } = network;

    /// <summary>The position of the last event the subscription gave the application.</summary>
    public long Cursor { get; private set; }

    public bool Subscribed => _events is not null;

    /// <summary>Subscribes from the cursor; false when already subscribed.</summary>
    public bool Subscribe()
    {
        if (_events is not null)
        {
            return false;
        }

        _stop = new CancellationTokenSource();
        _events = Client.SubscribeAsync(Cursor, _stop.Token).GetAsyncEnumerator(_stop.Token);
        return true;
    }

    /// <summary>Breaks the connection under the subscription (it fails on its next read); false when not subscribed.</summary>
    public bool BreakConnection()
    {
        Network.BreakSubscriptions();
        return _events is not null;
    }

    public async Task UnsubscribeAsync()
    {
        if (_events is null)
        {
            return;
        }

        await _stop!.CancelAsync();
        try
        {
            await _events.DisposeAsync();
        }
        catch (OperationCanceledException)
        {
        }

        _stop.Dispose();
        (_events, _stop) = (null, null);
    }

    /// <summary>Reads the subscription until it has given the event at <paramref name="position"/> (or a later one), handing each event to <paramref name="seen"/>.</summary>
    public async Task ReadUntilAsync(long position, Action<ChannelEvent> seen)
    {
        var events = _events ?? throw new InvalidOperationException($"{Name} is not subscribed.");
        while (Cursor < position)
        {
            var next = events.MoveNextAsync().AsTask();
            bool moved;
            try
            {
                moved = await next.WaitAsync(Guard, TestContext.Current.CancellationToken);
            }
            catch (TimeoutException)
            {
                await _stop!.CancelAsync();
                await next.ContinueWith(_ => { }, TaskScheduler.Default);
                await UnsubscribeAsync();
                throw new TimeoutException($"{Name}'s subscription did not reach position {position} (cursor {Cursor}) within {Guard.TotalSeconds} s.");
            }

            if (!moved)
            {
                throw new InvalidOperationException($"{Name}'s subscription ended at cursor {Cursor}.");
            }

            Cursor = events.Current.Position;
            seen(events.Current);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await UnsubscribeAsync();
        Network.Dispose();
    }
}
