using System.Net;
using Microsoft.Extensions.Options;

namespace GlobeSecure.Server.Infrastructure;

/// <summary>The server's settings: section "Globe", plus the connection string.</summary>
internal sealed record GlobeOptions
{
    public const string Section = "Globe";

    /// <summary>Npgsql connection string: <c>ConnectionStrings:Globe</c>, or the GLOBE_DB environment variable.</summary>
    public string? ConnectionString { get; set; }

    /// <summary>
    /// Where to listen: <c>http://127.0.0.1:5080</c> (plain HTTP/2, loopback only) or
    /// <c>https://0.0.0.0:5443</c> with <see cref="Tls"/>. Port 0 picks a free port.
    /// </summary>
    public string Listen { get; set; } = "http://127.0.0.1:5080";

    /// <summary>The PostgreSQL schema of the event store.</summary>
    public string Schema { get; set; } = "globe";

    public TlsOptions Tls { get; set; } = new();

    public LimitOptions Limits { get; set; } = new();

    internal sealed class TlsOptions
    {
        /// <summary>A PKCS#12 (.pfx) file holding the certificate and its key.</summary>
        public string? CertificatePath { get; set; }

        /// <summary>The file's password (a secret: never logged).</summary>
        public string? CertificatePassword { get; set; }

        /// <summary>
        /// Mutual TLS (ADR 0015): <c>off</c> (default), <c>allow</c> (a client may present a
        /// certificate, and one not issued by <see cref="ClientCertificateAuthorityFile"/> is
        /// refused) or <c>require</c> (every TLS connection must present such a certificate).
        /// </summary>
        public string ClientCertificates { get; set; } = "off";

        /// <summary>The CA certificate(s) (PEM or DER) client certificates must chain to; the host's trust store is not used.</summary>
        public string? ClientCertificateAuthorityFile { get; set; }
    }

    internal sealed class LimitOptions
    {
        /// <summary>Largest gRPC message the server accepts, in bytes (default 4 MiB).</summary>
        public int MaxReceiveMessageBytes { get; set; } = 4 * 1024 * 1024;

        /// <summary>Largest gRPC message the server sends, in bytes (default 4 MiB).</summary>
        public int MaxSendMessageBytes { get; set; } = 4 * 1024 * 1024;

        /// <summary>Most connections the server opens to PostgreSQL (default 50).</summary>
        public int MaxDatabaseConnections { get; set; } = 50;
    }

    internal Uri ListenUri => new(Listen, UriKind.Absolute);

    internal static IPAddress ListenAddress(Uri uri) =>
        uri.Host is "localhost" ? IPAddress.Loopback : IPAddress.Parse(uri.Host.Trim('[', ']'));
}

/// <summary>Checks the settings at start-up and says exactly what to fix.</summary>
internal sealed class GlobeOptionsValidator : IValidateOptions<GlobeOptions>
{
    public ValidateOptionsResult Validate(string? name, GlobeOptions options)
    {
        var failures = new List<string>();
        if (string.IsNullOrWhiteSpace(options.ConnectionString))
        {
            failures.Add("No database is configured: set ConnectionStrings:Globe (environment ConnectionStrings__Globe) or GLOBE_DB to an Npgsql connection string, or start the server with ops/run.sh, which runs an embedded PostgreSQL.");
        }
        else
        {
            try
            {
                _ = new Npgsql.NpgsqlConnectionStringBuilder(options.ConnectionString);
            }
            catch (ArgumentException ex)
            {
                failures.Add($"The database connection string is not valid: {ex.Message}");
            }
        }

        if (!Uri.TryCreate(options.Listen, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https") || uri.AbsolutePath != "/"
            || !(uri.Host == "localhost" || IPAddress.TryParse(uri.Host.Trim('[', ']'), out _)))
        {
            failures.Add($"Globe:Listen '{options.Listen}' must be a URL such as http://127.0.0.1:5080 or https://0.0.0.0:5443 (an IP address or localhost, a port, no path).");
        }
        else if (uri.Scheme == "http" && !GlobeOptions.ListenAddress(uri).Equals(IPAddress.Loopback) && !GlobeOptions.ListenAddress(uri).Equals(IPAddress.IPv6Loopback))
        {
            failures.Add($"Globe:Listen '{options.Listen}' serves plain HTTP/2 beyond loopback; use https with Globe:Tls:CertificatePath, or listen on 127.0.0.1.");
        }
        else if (uri.Scheme == "https" && string.IsNullOrWhiteSpace(options.Tls.CertificatePath))
        {
            failures.Add("Globe:Listen uses https, so Globe:Tls:CertificatePath must name a PKCS#12 (.pfx) certificate file.");
        }
        else if (uri.Scheme == "https" && !File.Exists(options.Tls.CertificatePath))
        {
            failures.Add($"Globe:Tls:CertificatePath '{options.Tls.CertificatePath}' does not exist.");
        }

        ClientCertificates.Validate(options.Tls, uri?.Scheme == "https", failures);

        if (!GlobeSecure.EventStore.EventStoreOptions.IsValidSchemaName(options.Schema))
        {
            failures.Add($"Globe:Schema '{options.Schema}' must be a lower-case identifier (letters, digits, underscore).");
        }

        if (options.Limits.MaxReceiveMessageBytes is < 1024 or > 64 * 1024 * 1024)
        {
            failures.Add($"Globe:Limits:MaxReceiveMessageBytes must be 1024 to 67108864, not {options.Limits.MaxReceiveMessageBytes}.");
        }

        if (options.Limits.MaxSendMessageBytes is < 1024 or > 64 * 1024 * 1024)
        {
            failures.Add($"Globe:Limits:MaxSendMessageBytes must be 1024 to 67108864, not {options.Limits.MaxSendMessageBytes}.");
        }

        if (options.Limits.MaxDatabaseConnections is < 2 or > 1000)
        {
            failures.Add($"Globe:Limits:MaxDatabaseConnections must be 2 to 1000, not {options.Limits.MaxDatabaseConnections}.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
