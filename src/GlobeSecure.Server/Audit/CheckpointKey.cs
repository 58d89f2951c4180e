using System.Security.Cryptography;
using System.Text;
using GlobeSecure.Crypto;
using Microsoft.Extensions.Options;

namespace GlobeSecure.Server.Audit;

/// <summary>
/// The server's Ed25519 checkpoint key, read from <see cref="AuditOptions.CheckpointKeyFile"/> at
/// start-up, or created there (mode 0600) when the file is missing. Only its fingerprint is logged.
/// </summary>
internal sealed partial class CheckpointKey : IDisposable
{
    /// <summary>What the key signs, as GetServerKeys names it.</summary>
    public const string Purpose = "audit-checkpoint";

    private readonly SigningKeyPair _key;

    public CheckpointKey(IOptions<AuditOptions> options, IHostEnvironment environment, ILogger<CheckpointKey> logger)
    {
        var path = options.Value.KeyFilePath(environment);
        var created = false;
        var seed = new byte[32];
        try
        {
            if (!File.Exists(path))
            {
                created = TryCreate(path, seed);
            }

            if (!created)
            {
                Read(path, seed);
            }

            _key = SigningKeyPair.FromSeed(seed);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(seed);
        }

        LogKey(logger, created ? "created" : "loaded", _key.PublicKey.Fingerprint, path);
    }

    public SigningPublicKey PublicKey => _key.PublicKey;

    public string KeyId => _key.PublicKey.Fingerprint;

    public byte[] Sign(Guid networkId, long position, ReadOnlySpan<byte> hash, DateTimeOffset signedAt) =>
        CheckpointSignature.Sign(_key, networkId, position, hash, signedAt);

    public void Dispose() => _key.Dispose();

    // CreateNew: of two processes starting at once on one machine, one writes and the other reads.
    private static bool TryCreate(string path, byte[] seed)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        RandomNumberGenerator.Fill(seed);
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        try
        {
            using var file = new FileStream(path, options);
            var text = Encoding.ASCII.GetBytes(Convert.ToHexStringLower(seed) + "\n");
            file.Write(text);
            CryptographicOperations.ZeroMemory(text);
            file.Flush(flushToDisk: true);
            return true;
        }
        catch (IOException) when (File.Exists(path))
        {
            return false;
        }
    }

    private static void Read(string path, byte[] seed)
    {
        var text = File.ReadAllText(path).Trim();
        byte[] bytes;
        try
        {
            bytes = Convert.FromHexString(text);
        }
        catch (FormatException)
        {
            bytes = [];
        }

        if (bytes.Length != 32)
        {
            throw new InvalidOperationException($"The audit checkpoint key file '{path}' must hold a 32-byte Ed25519 seed as 64 hex digits.");
        }

        bytes.CopyTo(seed, 0);
        CryptographicOperations.ZeroMemory(bytes);
    }

    [LoggerMessage(EventId = 8000, Level = LogLevel.Information, Message = "Audit checkpoint key {How}: key id {KeyId} (file {Path})")]
    private static partial void LogKey(ILogger logger, string how, string keyId, string path);
}
