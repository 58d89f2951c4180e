using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace GlobeSecure.Testing;

/// <summary>
/// A network namespace of the test's own, joined to this one by a veth pair on a /30 of
/// 198.18.0.0/15 (the range set aside for network tests, RFC 2544): the host side holds
/// <see cref="HostAddress"/>, the namespace <see cref="InsideAddress"/>. Sockets made by
/// <see cref="ConnectAsync"/> live inside the namespace, so their packets cross the veth and meet
/// the faults set there (<see cref="DropRandomly"/>: nftables, since this kernel has no netem).
/// Needs root (CAP_NET_ADMIN) and the <c>ip</c> and <c>nft</c> tools; removed on dispose, veth
/// included. ADR 0019.
/// </summary>
public sealed class NetworkNamespace : IDisposable
{
    private const int CloneNewNet = 0x40000000;

    private NetworkNamespace(string name, string hostLink, IPAddress hostAddress, IPAddress insideAddress)
    {
        Name = name;
        HostLink = hostLink;
        HostAddress = hostAddress;
        InsideAddress = insideAddress;
    }

    /// <summary>The namespace's name (<c>ip netns</c>).</summary>
    public string Name { get; }

    /// <summary>The veth end in this (the host's) namespace.</summary>
    public string HostLink { get; }

    /// <summary>The host side's address: servers listen here to be reached from inside.</summary>
    public IPAddress HostAddress { get; }

    /// <summary>The namespace side's address.</summary>
    public IPAddress InsideAddress { get; }

    /// <summary>
    /// Creates the namespace and its veth pair; throws <see cref="NetworkNamespaceUnavailableException"/>
    /// saying why when this machine does not allow it (not root, no <c>ip</c>, no namespaces).
    /// </summary>
    public static NetworkNamespace Create()
    {
        if (!OperatingSystem.IsLinux())
        {
            throw new NetworkNamespaceUnavailableException("network namespaces need Linux");
        }

        if (Environment.UserName != "root")
        {
            throw new NetworkNamespaceUnavailableException($"creating a network namespace needs root (CAP_NET_ADMIN); running as {Environment.UserName}");
        }

        var id = Guid.NewGuid().ToString("N")[..8];
        var (hostAddress, insideAddress) = FreeSubnet();
        var created = new NetworkNamespace($"globe-{id}", $"gh{id}", hostAddress, insideAddress);
        try
        {
            Run("ip", "netns", "add", created.Name);
        }
        catch (InvalidOperationException e)
        {
            throw new NetworkNamespaceUnavailableException($"'ip netns add' failed: {e.Message}");
        }

        try
        {
            var inside = $"gn{id}";
            Run("ip", "link", "add", created.HostLink, "type", "veth", "peer", "name", inside);
            Run("ip", "link", "set", inside, "netns", created.Name);
            Run("ip", "addr", "add", $"{hostAddress}/30", "dev", created.HostLink);
            Run("ip", "link", "set", created.HostLink, "up");
            Run("ip", "-n", created.Name, "addr", "add", $"{insideAddress}/30", "dev", inside);
            Run("ip", "-n", created.Name, "link", "set", inside, "up");
            Run("ip", "-n", created.Name, "link", "set", "lo", "up");
            return created;
        }
        catch
        {
            created.Dispose();
            throw;
        }
    }

    /// <summary>Drops <paramref name="percent"/>% of the packets entering and leaving the namespace, at random (nftables <c>numgen random</c>); fails without nft.</summary>
    public void DropRandomly(int percent)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(percent);
        var p = percent.ToString(CultureInfo.InvariantCulture);
        try
        {
            Run("ip", "netns", "exec", Name, "nft", "add", "table", "inet", "globe_faults");
            foreach (var (chain, hook) in new[] { ("outgoing", "output"), ("incoming", "input") })
            {
                Run("ip", "netns", "exec", Name, "nft", "add", "chain", "inet", "globe_faults", chain,
                    $"{{ type filter hook {hook} priority 0 ; policy accept ; }}");
                Run("ip", "netns", "exec", Name, "nft", "add", "rule", "inet", "globe_faults", chain, "numgen", "random", "mod", "100", "<", p, "counter", "drop");
            }
        }
        catch (InvalidOperationException e)
        {
            // Not a reason to skip: where namespaces work, nftables can be installed (ops/test.sh does).
            throw new InvalidOperationException($"nftables could not set packet loss in the namespace (install nftables): {e.Message}", e);
        }
    }

    /// <summary>Packets dropped so far by <see cref="DropRandomly"/> (its rules' counters), both directions.</summary>
    public long DroppedPackets()
    {
        var listing = Output("ip", "netns", "exec", Name, "nft", "list", "table", "inet", "globe_faults");
        return System.Text.RegularExpressions.Regex.Matches(listing, @"counter packets (\d+)")
            .Sum(m => long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture));
    }

    /// <summary>A TCP connection to <paramref name="endpoint"/> from inside the namespace.</summary>
    public async Task<Socket> ConnectAsync(EndPoint endpoint, CancellationToken cancellationToken)
    {
        var socket = CreateSocketInside(endpoint.AddressFamily);
        try
        {
            socket.NoDelay = true;
            await socket.ConnectAsync(endpoint, cancellationToken);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>
    /// A socket belongs to the namespace of the thread that made it: a thread of its own enters the
    /// namespace (setns), makes the socket, and goes back; connecting later happens inside.
    /// </summary>
    private Socket CreateSocketInside(AddressFamily family)
    {
        Socket? socket = null;
        Exception? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                using var home = File.OpenHandle("/proc/thread-self/ns/net");
                using var target = File.OpenHandle($"/var/run/netns/{Name}");
                Enter(target);
                try
                {
                    socket = new Socket(family, SocketType.Stream, ProtocolType.Tcp);
                }
                finally
                {
                    Enter(home);
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or SocketException or InvalidOperationException)
            {
                failure = e;
            }
        });
        thread.Start();
        thread.Join();
        return socket ?? throw new InvalidOperationException($"Could not make a socket in network namespace {Name}.", failure);
    }

    private static void Enter(Microsoft.Win32.SafeHandles.SafeFileHandle handle)
    {
        if (Native.SetNamespace((int)handle.DangerousGetHandle(), CloneNewNet) != 0)
        {
            throw new InvalidOperationException($"setns failed (errno {Marshal.GetLastPInvokeError()}).");
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        // Deleting the namespace destroys its veth end, and with it the host's end.
        Run("ip", ["netns", "delete", Name], throwOnFailure: false);
        Run("ip", ["link", "delete", HostLink], throwOnFailure: false);
    }

    /// <summary>A /30 of 198.18.0.0/16 that no interface of this machine uses.</summary>
    private static (IPAddress Host, IPAddress Inside) FreeSubnet()
    {
        var used = System.Net.NetworkInformation.NetworkInterface.GetAllNetworkInterfaces()
            .SelectMany(i => i.GetIPProperties().UnicastAddresses)
            .Select(a => a.Address.GetAddressBytes())
            .Where(b => b.Length == 4 && b[0] == 198 && b[1] == 18)
            .Select(b => (b[2], b[3] & ~3))
            .ToHashSet();
        while (true)
        {
            var third = (byte)Random.Shared.Next(256);
            var fourth = Random.Shared.Next(64) * 4;
            if (!used.Contains((third, fourth)))
            {
                return (new IPAddress([198, 18, third, (byte)(fourth + 1)]), new IPAddress([198, 18, third, (byte)(fourth + 2)]));
            }
        }
    }

    private static void Run(string file, params string[] args) => Run(file, args, throwOnFailure: true);

    private static string Output(string file, params string[] args) => Run(file, args, throwOnFailure: true);

    private static string Run(string file, string[] args, bool throwOnFailure)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        try
        {
            using var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {file}.");
            var stderr = process.StandardError.ReadToEndAsync();
            var stdout = process.StandardOutput.ReadToEnd();
            process.WaitForExit();
            if (process.ExitCode != 0 && throwOnFailure)
            {
                throw new InvalidOperationException($"{file} {string.Join(' ', args)} exited with {process.ExitCode}: {stderr.Result.Trim()}");
            }

            return stdout;
        }
        catch (System.ComponentModel.Win32Exception e) when (throwOnFailure)
        {
            throw new InvalidOperationException($"{file} is not installed ({e.Message}).", e);
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return "";
        }
    }

    private static class Native
    {
        [DllImport("libc", EntryPoint = "setns", SetLastError = true)]
        [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
        public static extern int SetNamespace(int fd, int nstype);
    }
}

/// <summary>This machine cannot give the test a network namespace; the message says why (the test is skipped with it).</summary>
public sealed class NetworkNamespaceUnavailableException(string message) : Exception(message);
