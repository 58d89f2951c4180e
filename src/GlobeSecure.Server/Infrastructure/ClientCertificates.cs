using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Server.Kestrel.Https;

namespace GlobeSecure.Server.Infrastructure;

/// <summary>
/// Optional mutual TLS (ADR 0015): Kestrel asks for a client certificate and accepts only one
/// that chains to the configured certificate authority — never to the host's trust store. It
/// is a transport gate in front of the device-signature authentication, not a replacement: a
/// partner tool with an accepted certificate still authenticates as a device for every call.
/// </summary>
internal static class ClientCertificates
{
    public const string Off = "off";
    public const string Allow = "allow";
    public const string Require = "require";

    private static readonly Oid ClientAuthentication = new("1.3.6.1.5.5.7.3.2");

    /// <summary>The configured mode in lower case ("off" when unset).</summary>
    public static string Mode(GlobeOptions.TlsOptions tls) =>
        string.IsNullOrWhiteSpace(tls.ClientCertificates) ? Off : tls.ClientCertificates.Trim().ToLowerInvariant();

    /// <summary>Adds what is wrong with the mutual TLS settings, each saying what to fix.</summary>
    public static void Validate(GlobeOptions.TlsOptions tls, bool https, List<string> failures)
    {
        var mode = Mode(tls);
        var file = tls.ClientCertificateAuthorityFile;
        if (mode is not (Off or Allow or Require))
        {
            failures.Add($"Globe:Tls:ClientCertificates must be off, allow or require, not '{tls.ClientCertificates}'.");
            return;
        }

        if (mode == Off)
        {
            if (!string.IsNullOrWhiteSpace(file))
            {
                failures.Add("Globe:Tls:ClientCertificateAuthorityFile is set but Globe:Tls:ClientCertificates is off: set it to allow or require for mutual TLS, or remove the file setting.");
            }

            return;
        }

        if (!https)
        {
            failures.Add($"Globe:Tls:ClientCertificates is {mode}, which needs an https Globe:Listen: client certificates are part of the TLS handshake, and plain HTTP/2 (loopback) takes none.");
        }

        if (string.IsNullOrWhiteSpace(file))
        {
            failures.Add($"Globe:Tls:ClientCertificates is {mode}, so Globe:Tls:ClientCertificateAuthorityFile must name the certificate (PEM or DER) of the CA that issues partner tools' client certificates.");
        }
        else if (!File.Exists(file))
        {
            failures.Add($"Globe:Tls:ClientCertificateAuthorityFile '{file}' does not exist.");
        }
        else
        {
            try
            {
                using var authorities = new DisposableCollection(LoadAuthorities(file));
                if (authorities.Certificates.Count == 0)
                {
                    failures.Add($"Globe:Tls:ClientCertificateAuthorityFile '{file}' holds no certificate: give the CA certificate in PEM or DER.");
                }
                else if (authorities.Certificates.FirstOrDefault(c => !IsAuthority(c)) is { } notCa)
                {
                    failures.Add($"Globe:Tls:ClientCertificateAuthorityFile '{file}' holds '{notCa.Subject}', which is not a CA certificate (basic constraints CA:TRUE): give the issuing CA's certificate, not a client's.");
                }
            }
            catch (CryptographicException e)
            {
                failures.Add($"Globe:Tls:ClientCertificateAuthorityFile '{file}' is not a readable certificate (PEM or DER): {e.Message}");
            }
        }
    }

    /// <summary>Sets Kestrel's https options for the configured mode (nothing when off).</summary>
    public static void Configure(HttpsConnectionAdapterOptions https, GlobeOptions.TlsOptions tls, ILogger logger)
    {
        var mode = Mode(tls);
        if (mode == Off)
        {
            return;
        }

        // Loaded once at start-up and kept for the process's life, like the server certificate.
        var authorities = LoadAuthorities(tls.ClientCertificateAuthorityFile!);
        https.ClientCertificateMode = mode == Require ? ClientCertificateMode.RequireCertificate : ClientCertificateMode.AllowCertificate;
        https.ClientCertificateValidation = (certificate, presented, _) => IsIssuedByAuthority(certificate, presented, authorities, logger);
    }

    /// <summary>True when the certificate chains to one of the authorities (and only them) and may authenticate a TLS client.</summary>
    internal static bool IsIssuedByAuthority(X509Certificate2 certificate, X509Chain? presented, X509Certificate2Collection authorities, ILogger logger)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(authorities);
        // Revocation of partner certificates is by replacing the CA or the certificate (ADR 0015);
        // no CRL or OCSP endpoint is fetched during a handshake.
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.ApplicationPolicy.Add(ClientAuthentication);
        if (presented is not null)
        {
            // Intermediates the client sent; they are only path material, never trusted themselves.
            foreach (var element in presented.ChainElements.Skip(1))
            {
                chain.ChainPolicy.ExtraStore.Add(element.Certificate);
            }
        }

        if (chain.Build(certificate))
        {
            return true;
        }

        var reasons = string.Join(", ", chain.ChainStatus.Select(s => s.Status.ToString()).Distinct());
        Log.ClientCertificateRefused(logger, certificate.Thumbprint, reasons);
        return false;
    }

    internal static X509Certificate2Collection LoadAuthorities(string file)
    {
        var authorities = new X509Certificate2Collection();
        var bytes = File.ReadAllBytes(file);
        if (bytes.AsSpan().IndexOf("-----BEGIN"u8) >= 0)
        {
            authorities.ImportFromPemFile(file);
        }
        else
        {
            authorities.Add(X509CertificateLoader.LoadCertificate(bytes));
        }

        return authorities;
    }

    private static bool IsAuthority(X509Certificate2 certificate) =>
        certificate.Extensions.OfType<X509BasicConstraintsExtension>().Any(b => b.CertificateAuthority);

    private sealed class DisposableCollection(X509Certificate2Collection certificates) : IDisposable
    {
        public X509Certificate2Collection Certificates { get; } = certificates;

        public void Dispose()
        {
            foreach (var certificate in Certificates)
            {
                certificate.Dispose();
            }
        }
    }
}
