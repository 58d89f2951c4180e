using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;

namespace GlobeSecure.Testing;

/// <summary>
/// A TCP proxy in the test process that plays a bad network for what netem would do if this kernel
/// had it (ADR 0019): every byte from the client reaches the server <see cref="UpstreamDelay"/>
/// later (order and throughput kept: a queue, not a pause per read), and the test resets every
/// open connection (TCP RST, as a middlebox or a dying link does) at a point it chooses — now
/// (<see cref="ResetAll"/>) or once a number of bytes has passed in one direction
/// (<see cref="ResetAfter"/>). TLS passes through untouched: the proxy sees only ciphertext.
/// </summary>
public sealed class FaultProxy : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly IPEndPoint _target;
    private readonly CancellationTokenSource _stopping = new();
    private readonly ConcurrentDictionary<int, Link> _links = new();
    private readonly Task _accepting;
    private int _nextId;
    private long _resetAfterUp = long.MaxValue;
    private long _resetAfterDown = long.MaxValue;
    private int _resets;

    /// <summary>Listens on <paramref name="listen"/> (port 0: a free one) and forwards to <paramref name="target"/>.</summary>
    public FaultProxy(IPEndPoint listen, IPEndPoint target, TimeSpan upstreamDelay)
    {
        _target = target;
        UpstreamDelay = upstreamDelay;
        _listener = new TcpListener(listen);
        _listener.Start();
        _accepting = AcceptAsync();
    }

    /// <summary>Where clients connect.</summary>
    public IPEndPoint Endpoint => (IPEndPoint)_listener.LocalEndpoint;

    /// <summary>The delay added to every byte from client to server.</summary>
    public TimeSpan UpstreamDelay { get; }

    /// <summary>Connections reset so far (each counted once).</summary>
    public int Resets => Volatile.Read(ref _resets);

    /// <summary>Connections accepted so far.</summary>
    public int Connections => Volatile.Read(ref _nextId);

    /// <summary>Resets every open connection now.</summary>
    public void ResetAll()
    {
        foreach (var link in _links.Values)
        {
            Reset(link);
        }
    }

    /// <summary>Once <paramref name="upstreamBytes"/> more bytes went to the server, or <paramref name="downstreamBytes"/> more came back, resets every open connection (once).</summary>
    public void ResetAfter(long upstreamBytes = long.MaxValue, long downstreamBytes = long.MaxValue)
    {
        Interlocked.Exchange(ref _resetAfterUp, upstreamBytes);
        Interlocked.Exchange(ref _resetAfterDown, downstreamBytes);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        _listener.Stop();
        foreach (var link in _links.Values)
        {
            Reset(link);
        }

        try
        {
            await _accepting;
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }

        _stopping.Dispose();
    }

    private async Task AcceptAsync()
    {
        while (!_stopping.IsCancellationRequested)
        {
            var client = await _listener.AcceptSocketAsync(_stopping.Token);
            var id = Interlocked.Increment(ref _nextId);
            var server = new Socket(_target.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await server.ConnectAsync(_target, _stopping.Token);
            }
            catch (SocketException)
            {
                client.Dispose();
                server.Dispose();
                continue;
            }

            client.NoDelay = true;
            var link = new Link(id, client, server);
            _links[id] = link;
            _ = Task.WhenAll(
                    PumpAsync(link, client, server, UpstreamDelay, upstream: true),
                    PumpAsync(link, server, client, TimeSpan.Zero, upstream: false))
                .ContinueWith(_ => Close(link), TaskScheduler.Default);
        }
    }

    /// <summary>Copies one direction; with a delay, what is read is written when it is due, in order, while reading goes on.</summary>
    private async Task PumpAsync(Link link, Socket from, Socket to, TimeSpan delay, bool upstream)
    {
        var queue = Channel.CreateUnbounded<(long Due, byte[] Data)>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        var writer = WriteAsync(to, queue.Reader);
        try
        {
            var buffer = new byte[16 * 1024];
            while (true)
            {
                var read = await from.ReceiveAsync(buffer, SocketFlags.None, _stopping.Token);
                if (read == 0)
                {
                    break;
                }

                queue.Writer.TryWrite((Environment.TickCount64 + (long)delay.TotalMilliseconds, buffer[..read]));
                if (Interlocked.Add(ref upstream ? ref _resetAfterUp : ref _resetAfterDown, -read) <= 0)
                {
                    ResetAfter();
                    ResetAll();
                }
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or OperationCanceledException)
        {
            Reset(link);
        }
        finally
        {
            queue.Writer.TryComplete();
        }

        await writer;
        if (!link.IsReset)
        {
            try
            {
                to.Shutdown(SocketShutdown.Send);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
            }
        }
    }

    private async Task WriteAsync(Socket to, ChannelReader<(long Due, byte[] Data)> queue)
    {
        try
        {
            await foreach (var (due, data) in queue.ReadAllAsync(_stopping.Token))
            {
                var wait = due - Environment.TickCount64;
                if (wait > 0)
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(wait), _stopping.Token); // the injected latency
                }

                await to.SendAsync(data, SocketFlags.None, _stopping.Token);
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or OperationCanceledException)
        {
        }
    }

    private void Reset(Link link)
    {
        if (link.MarkReset())
        {
            Interlocked.Increment(ref _resets);
            foreach (var socket in new[] { link.Client, link.Server })
            {
                try
                {
                    socket.LingerState = new LingerOption(true, 0); // close sends RST, not FIN
                }
                catch (Exception e) when (e is SocketException or ObjectDisposedException)
                {
                }

                socket.Dispose();
            }
        }
    }

    private void Close(Link link)
    {
        _links.TryRemove(link.Id, out _);
        link.Client.Dispose();
        link.Server.Dispose();
    }

    private sealed class Link(int id, Socket client, Socket server)
    {
        private int _reset;

        public int Id { get; } = id;

        public Socket Client { get; } = client;

        public Socket Server { get; } = server;

        public bool IsReset => Volatile.Read(ref _reset) != 0;

        public bool MarkReset() => Interlocked.Exchange(ref _reset, 1) == 0;
    }
}
