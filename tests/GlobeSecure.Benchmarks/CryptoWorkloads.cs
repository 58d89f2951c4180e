using System.Buffers.Binary;
using System.Diagnostics;
using GlobeSecure.Crypto;

namespace GlobeSecure.Benchmarks;

/// <summary>One timed pass over the whole document, and the managed bytes allocated meanwhile (all threads).</summary>
internal sealed record DocumentRun(TimeSpan Elapsed, long AllocatedBytes);

/// <summary>
/// The document workloads over one preallocated random plaintext: DocumentCipher encryption and
/// decryption through streams, and the raw baselines over the same bytes in the same 64 KiB
/// pieces (XChaCha20-Poly1305 both ways, BLAKE2b-256). Nothing is allocated per pass except what
/// DocumentCipher itself allocates, which is what the allocation figure shows.
/// </summary>
internal sealed class DocumentWorkloads
{
    public const int ChunkSize = DocumentCipher.DefaultChunkSize;

    private readonly byte[] _plaintext;
    private readonly MemoryStream _ciphertext;
    private readonly byte[] _rawCiphertext;
    private readonly byte[] _rawOutput = new byte[ChunkSize + Primitives.TagBytes];
    private readonly byte[] _rawKey = Primitives.Random(Primitives.SymmetricKeyBytes);
    private readonly byte[] _rawNonce = Primitives.Random(Primitives.NonceBytes);
    private readonly byte[] _expectedHash;
    private DocumentKey? _key;
    private Guid _documentId;

    public DocumentWorkloads(int mebibytes)
    {
        Bytes = (long)mebibytes * 1024 * 1024;
        _plaintext = new byte[Bytes];
        Primitives.Random(_plaintext);
        _expectedHash = Primitives.Hash(_plaintext);

        // Preallocated (and touched once by the first pass), so no pass grows a stream.
        _ciphertext = new MemoryStream(checked((int)DocumentCipher.CiphertextLength(Bytes, ChunkSize)));
        _rawCiphertext = new byte[Chunks * (ChunkSize + Primitives.TagBytes)];
        for (var i = 0; i < Chunks; i++)
        {
            SetNonce(i);
            Primitives.Encrypt(_rawCiphertext.AsSpan(i * (ChunkSize + Primitives.TagBytes)), Piece(i), default, _rawNonce, _rawKey);
        }
    }

    public long Bytes { get; }

    /// <summary>The benchmark's own buffers (plaintext, document ciphertext, raw ciphertext), for the memory report.</summary>
    public long BufferBytes => _plaintext.Length + _ciphertext.Capacity + _rawCiphertext.Length;

    private int Chunks => checked((int)((Bytes + ChunkSize - 1) / ChunkSize));

    /// <summary>DocumentCipher.EncryptAsync from a MemoryStream over the plaintext into the preallocated ciphertext stream, with a fresh key.</summary>
    public async Task<DocumentRun> DocumentEncryptAsync()
    {
        _key?.Dispose();
        _key = DocumentKey.Generate();
        _documentId = Guid.CreateVersion7();
        using var source = new MemoryStream(_plaintext, writable: false);
        _ciphertext.SetLength(0);
        var before = GC.GetTotalAllocatedBytes(precise: true);
        var clock = Stopwatch.StartNew();
        var result = await DocumentCipher.EncryptAsync(source, _ciphertext, _key, _documentId);
        clock.Stop();
        var allocated = GC.GetTotalAllocatedBytes(precise: true) - before;
        if (result.PlaintextLength != Bytes || !result.PlaintextHash.AsSpan().SequenceEqual(_expectedHash))
        {
            throw new InvalidOperationException("DocumentCipher.EncryptAsync returned a wrong length or plaintext hash.");
        }

        return new DocumentRun(clock.Elapsed, allocated);
    }

    /// <summary>DocumentCipher.DecryptAsync of the last encryption into Stream.Null, checking the id and the expected plaintext hash.</summary>
    public async Task<DocumentRun> DocumentDecryptAsync()
    {
        var key = _key ?? throw new InvalidOperationException("Encrypt before decrypting.");
        using var source = new MemoryStream(_ciphertext.GetBuffer(), 0, checked((int)_ciphertext.Length), writable: false);
        var before = GC.GetTotalAllocatedBytes(precise: true);
        var clock = Stopwatch.StartNew();
        var result = await DocumentCipher.DecryptAsync(source, Stream.Null, key, _documentId, _expectedHash);
        clock.Stop();
        var allocated = GC.GetTotalAllocatedBytes(precise: true) - before;
        if (result.PlaintextLength != Bytes)
        {
            throw new InvalidOperationException("DocumentCipher.DecryptAsync returned a wrong length.");
        }

        return new DocumentRun(clock.Elapsed, allocated);
    }

    /// <summary>Raw XChaCha20-Poly1305 encryption of each 64 KiB piece into one reused output buffer: the cheapest it can be.</summary>
    public TimeSpan RawEncrypt()
    {
        var clock = Stopwatch.StartNew();
        for (var i = 0; i < Chunks; i++)
        {
            SetNonce(i);
            Primitives.Encrypt(_rawOutput, Piece(i), default, _rawNonce, _rawKey);
        }

        return clock.Elapsed;
    }

    /// <summary>Raw XChaCha20-Poly1305 decryption (tag checked) of each piece into one reused output buffer.</summary>
    public TimeSpan RawDecrypt()
    {
        var clock = Stopwatch.StartNew();
        for (var i = 0; i < Chunks; i++)
        {
            SetNonce(i);
            var length = Piece(i).Length + Primitives.TagBytes;
            if (!Primitives.TryDecrypt(_rawOutput, _rawCiphertext.AsSpan(i * (ChunkSize + Primitives.TagBytes), length), default,
                    _rawNonce, _rawKey, out _))
            {
                throw new InvalidOperationException($"Raw XChaCha20-Poly1305 decryption of piece {i} failed.");
            }
        }

        return clock.Elapsed;
    }

    /// <summary>Raw BLAKE2b-256 of the plaintext, appended in the same 64 KiB pieces.</summary>
    public TimeSpan RawHash()
    {
        var clock = Stopwatch.StartNew();
        using var hash = new IncrementalHash();
        for (var i = 0; i < Chunks; i++)
        {
            hash.Append(Piece(i));
        }

        var digest = hash.Finish();
        var elapsed = clock.Elapsed;
        if (!digest.AsSpan().SequenceEqual(_expectedHash))
        {
            throw new InvalidOperationException("Incremental BLAKE2b-256 disagrees with the one-shot hash.");
        }

        return elapsed;
    }

    private ReadOnlySpan<byte> Piece(int i)
    {
        var start = (long)i * ChunkSize;
        return _plaintext.AsSpan((int)start, (int)Math.Min(ChunkSize, Bytes - start));
    }

    private void SetNonce(long index) => BinaryPrimitives.WriteInt64BigEndian(_rawNonce.AsSpan(Primitives.NonceBytes - 8), index);
}

/// <summary>
/// Message envelopes of a 1 KiB message sent by an investigator whose chain (root → network
/// administrator → authority administrator → investigator) verified, and the raw primitives
/// they are made of, each on preallocated buffers.
/// </summary>
internal sealed class EnvelopeWorkloads : IDisposable
{
    public const int MessageBytes = 1024;

    private readonly SigningKeyPair _root = SigningKeyPair.Generate();
    private readonly DeviceKeys _networkAdmin = DeviceKeys.Generate(Guid.CreateVersion7());
    private readonly DeviceKeys _authorityAdmin = DeviceKeys.Generate(Guid.CreateVersion7());
    private readonly DeviceKeys _investigator = DeviceKeys.Generate(Guid.CreateVersion7());
    private readonly EpochKey _epochKey;
    private readonly MessageHeader _header;
    private readonly VerifiedDevice _sender;
    private readonly MessageEnvelope _sealed;
    private readonly byte[] _message = Primitives.Random(MessageBytes);

    // Raw baselines' inputs and outputs.
    private readonly byte[] _signingInput;
    private readonly byte[] _publicKey = new byte[RawSodium.Ed25519PublicKeyBytes];
    private readonly byte[] _secretKey = new byte[RawSodium.Ed25519SecretKeyBytes];
    private readonly byte[] _signature = new byte[RawSodium.Ed25519SignatureBytes];
    private readonly byte[] _aeadKey = Primitives.Random(Primitives.SymmetricKeyBytes);
    private readonly byte[] _aeadNonce = Primitives.Random(Primitives.NonceBytes);
    private readonly byte[] _aeadCiphertext = new byte[MessageBytes + Primitives.TagBytes];
    private readonly byte[] _aeadOutput = new byte[MessageBytes + Primitives.TagBytes];

    public EnvelopeWorkloads()
    {
        var now = DateTimeOffset.UtcNow;
        var (from, to) = (now.AddDays(-1), now.AddDays(365));
        var authority = Guid.CreateVersion7();
        var investigatorUser = Guid.CreateVersion7();
        var networkCert = DeviceCertificate.Issue(Guid.CreateVersion7(), _networkAdmin.Public, Guid.CreateVersion7(), Guid.CreateVersion7(),
            DeviceRole.NetworkAdministrator, from, to, _root, issuerDeviceId: null);
        var authorityCert = DeviceCertificate.Issue(Guid.CreateVersion7(), _authorityAdmin.Public, Guid.CreateVersion7(), authority,
            DeviceRole.AuthorityAdministrator, from, to, _networkAdmin.Signing, _networkAdmin.DeviceId);
        var investigatorCert = DeviceCertificate.Issue(Guid.CreateVersion7(), _investigator.Public, investigatorUser, authority,
            DeviceRole.Investigator, from, to, _authorityAdmin.Signing, _authorityAdmin.DeviceId);
        _sender = CertificateChain.Verify([investigatorCert, authorityCert, networkCert], new TrustAnchors([_root.PublicKey]), now);

        var channel = Guid.CreateVersion7();
        _epochKey = EpochKey.Generate(channel, 1);
        _header = new MessageHeader(channel, Guid.CreateVersion7(), investigatorUser, _investigator.DeviceId, 1, now, "text/plain",
            "H2", "B2", []);
        _sealed = MessageEnvelope.Seal(_header, _message, _epochKey, _investigator);
        if (!_sealed.Open(_sender, _epochKey).AsSpan().SequenceEqual(_message))
        {
            throw new InvalidOperationException("An envelope did not open to its plaintext.");
        }

        // The raw signature covers as many bytes as an envelope's signing input.
        _signingInput = Primitives.Random(_sealed.SigningInput().Length);
        RawSodium.Ed25519KeyPair(_publicKey, _secretKey, Primitives.Random(32));
        RawSodium.Ed25519Sign(_signature, _signingInput, _secretKey);
        Primitives.Encrypt(_aeadCiphertext, _message, default, _aeadNonce, _aeadKey);
        if (!RawSodium.Ed25519Verify(_signature, _signingInput, _publicKey))
        {
            throw new InvalidOperationException("A raw Ed25519 signature did not verify.");
        }
    }

    /// <summary>Bytes an envelope signs (context, canonical header, BLAKE2b-256 of nonce ‖ ciphertext).</summary>
    public int SigningInputBytes => _signingInput.Length;

    /// <summary>Bytes of the header's canonical form (the AEAD's associated data).</summary>
    public int HeaderBytes => _header.CanonicalBytes().Length;

    public void Seal() => MessageEnvelope.Seal(_header, _message, _epochKey, _investigator);

    public void Open() => _sealed.Open(_sender, _epochKey);

    public void RawSign() => RawSodium.Ed25519Sign(_signature, _signingInput, _secretKey);

    public void RawVerify()
    {
        if (!RawSodium.Ed25519Verify(_signature, _signingInput, _publicKey))
        {
            throw new InvalidOperationException("A raw Ed25519 signature did not verify.");
        }
    }

    public void RawEncrypt() => Primitives.Encrypt(_aeadOutput, _message, default, _aeadNonce, _aeadKey);

    public void RawDecrypt()
    {
        if (!Primitives.TryDecrypt(_aeadOutput, _aeadCiphertext, default, _aeadNonce, _aeadKey, out _))
        {
            throw new InvalidOperationException("Raw XChaCha20-Poly1305 decryption failed.");
        }
    }

    public void Dispose()
    {
        _root.Dispose();
        _networkAdmin.Dispose();
        _authorityAdmin.Dispose();
        _investigator.Dispose();
        _epochKey.Dispose();
    }

    /// <summary>Operations per second of <paramref name="operation"/>: run for the warm-up, then counted for the window.</summary>
    public static double Rate(Action operation, TimeSpan warmup, TimeSpan window)
    {
        // The clock is read every few operations, so that reading it costs nothing next to a
        // one-microsecond AEAD call.
        const int Batch = 8;
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < warmup)
        {
            for (var i = 0; i < Batch; i++)
            {
                operation();
            }
        }

        long count = 0;
        var start = clock.Elapsed;
        TimeSpan elapsed;
        do
        {
            for (var i = 0; i < Batch; i++)
            {
                operation();
            }

            count += Batch;
            elapsed = clock.Elapsed - start;
        }
        while (elapsed < window);

        return count / elapsed.TotalSeconds;
    }
}
