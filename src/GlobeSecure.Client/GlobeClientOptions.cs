using GlobeSecure.Crypto;

namespace GlobeSecure.Client;

/// <summary>A directory-log head a client has verified: it accepts later only a log that extends it.</summary>
/// <param name="Position">The last verified position (0: nothing verified yet).</param>
/// <param name="Link">That entry's hash-chain link, 32 bytes (empty at position 0).</param>
public sealed record DirectoryHead(long Position, byte[] Link)
{
    /// <summary>Nothing verified yet.</summary>
    public static DirectoryHead None { get; } = new(0, []);

    /// <summary>The link in lower-case hex (profiles store it so).</summary>
    public string LinkHex => Convert.ToHexStringLower(Link);
}

/// <summary>How a <see cref="GlobeClient"/> connects, who it is, and what it trusts.</summary>
public sealed class GlobeClientOptions
{
    /// <summary>The server, e.g. <c>http://127.0.0.1:5080</c> (HTTP/2 without TLS) or an https address.</summary>
    public required Uri Address { get; init; }

    /// <summary>
    /// This device's keys, for calls that need a session; null for an anonymous client (apply,
    /// enrol, bootstrap, network information). Not disposed by the client.
    /// </summary>
    public DeviceKeys? Device { get; init; }

    /// <summary>
    /// The network root keys this client pins. Certificate chains and the directory log are
    /// verified against them; lookups are refused while none is pinned.
    /// </summary>
    public IReadOnlyList<SigningPublicKey> PinnedRootKeys { get; init; } = [];

    /// <summary>The network name the client expects as the audience of authentication challenges; null accepts the server's.</summary>
    public string? NetworkName { get; init; }

    /// <summary>The directory head verified before (from the profile): a log that does not extend it is refused.</summary>
    public DirectoryHead DirectoryHead { get; init; } = DirectoryHead.None;

    /// <summary>Renew the session this long before it expires (at most half its lifetime). Default one minute.</summary>
    public TimeSpan RenewBeforeExpiry { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>The clock (tests); default the system clock.</summary>
    public TimeProvider Clock { get; init; } = TimeProvider.System;

    /// <summary>
    /// How many times a document upload or download resumes after a broken connection (each time
    /// from the first chunk the server lacks, or the next chunk to receive) before it gives up.
    /// Default 8.
    /// </summary>
    public int TransferRetries { get; init; } = 8;

    /// <summary>The first pause before resuming a transfer; it doubles (with jitter) up to 30 s. Default 500 ms.</summary>
    public TimeSpan TransferRetryDelay { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>
    /// Further replicas of the same server (one database behind them all), with the same scheme as
    /// <see cref="Address"/>. Calls are then spread round-robin over every address that answers; a
    /// replica that goes away is skipped until it is back, and calls safe to repeat are retried on
    /// another (see <see cref="CallRetries"/>). Empty by default: one server.
    /// </summary>
    public IReadOnlyList<Uri> OtherAddresses { get; init; } = [];

    /// <summary>
    /// How many times a call that is safe to repeat — a read, or a write the server recognises by a
    /// client-chosen id (a message, a channel, a document's begin and seal, a receipt, a consent
    /// request, an information request) — is sent again when it broke rather than being answered
    /// (UNAVAILABLE, or the connection dropped before the answer), with growing, randomised pauses
    /// from CallRetryDelay up to 5 s. Default 6 (about 16 s of trying); 0 turns this off. Other writes are never repeated: their
    /// failure reaches the caller, who cannot know whether the server acted.
    /// </summary>
    public int CallRetries { get; init; } = 6;

    /// <summary>The first pause before repeating such a call; it doubles (with jitter) up to 30 s. Default 250 ms.</summary>
    public TimeSpan CallRetryDelay { get; init; } = TimeSpan.FromMilliseconds(250);

    /// <summary>Told of every call or transfer about to be tried again (for logs and metrics); runs on the calling path, keep it short.</summary>
    public Action<CallRetry>? OnRetry { get; init; }

    /// <summary>A handler for the HTTP/2 connection (tests, proxies); null for the default.</summary>
    public HttpMessageHandler? HttpHandler { get; init; }

    /// <summary>
    /// A certificate authority (PEM or DER file) that a https server's certificate must chain to
    /// instead of the system's trusted roots — a private CA, or the development CA ops/run.sh
    /// creates. The host name is still checked. Ignored when <see cref="HttpHandler"/> is set.
    /// </summary>
    public string? TrustedCertificateAuthorityFile { get; init; }

    /// <summary>
    /// A TLS client certificate (with its private key) for a server that asks for mutual TLS —
    /// one issued by the CA the server's operator configured for partner tools. It opens the
    /// connection only: calls still authenticate as <see cref="Device"/>. Not disposed by the
    /// client. Ignored when <see cref="HttpHandler"/> is set; takes precedence over
    /// <see cref="ClientCertificateFile"/>.
    /// </summary>
    public System.Security.Cryptography.X509Certificates.X509Certificate2? ClientCertificate { get; init; }

    /// <summary>A PKCS#12 (.pfx) file holding the TLS client certificate and its key (see <see cref="ClientCertificate"/>).</summary>
    public string? ClientCertificateFile { get; init; }

    /// <summary>The password of <see cref="ClientCertificateFile"/> (null or empty for none). A secret: never logged.</summary>
    public string? ClientCertificatePassword { get; init; }
}
