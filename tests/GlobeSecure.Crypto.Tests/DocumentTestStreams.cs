namespace GlobeSecure.Crypto.Tests;

/// <summary>
/// A read-only stream over bytes that returns at most a random number of bytes per read (and
/// sometimes completes asynchronously), as network streams do: the cipher must never assume
/// that a read fills its buffer.
/// </summary>
internal sealed class ShortReadStream(byte[] data, int maxRead, int seed) : Stream
{
    private readonly Random _random = new(seed);
    private int _position;

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        var n = Math.Min(Math.Min(buffer.Length, data.Length - _position), 1 + _random.Next(Math.Max(1, maxRead)));
        data.AsSpan(_position, n).CopyTo(buffer);
        _position += n;
        return n;
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (_random.Next(8) == 0)
        {
            await Task.Yield();
        }

        return Read(buffer.Span);
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}

/// <summary>Encrypts and decrypts byte arrays through the stream API.</summary>
internal static class Documents
{
    public static async Task<(byte[] Ciphertext, DocumentEncryptionResult Result)> EncryptAsync(byte[] plaintext, DocumentKey key,
        Guid documentId, int chunkSize, byte[]? noncePrefix = null, int maxRead = int.MaxValue, int seed = 0)
    {
        var output = new MemoryStream();
        var input = new ShortReadStream(plaintext, maxRead, seed);
        var result = noncePrefix is null
            ? await DocumentCipher.EncryptAsync(input, output, key, documentId, chunkSize, TestContext.Current.CancellationToken)
            : await DocumentCipher.EncryptAsync(input, output, key, documentId, chunkSize, noncePrefix, TestContext.Current.CancellationToken);
        return (output.ToArray(), result);
    }

    public static async Task<(byte[] Plaintext, DocumentDecryptionResult Result)> DecryptAsync(byte[] ciphertext, DocumentKey key,
        Guid? expectedDocumentId = null, byte[]? expectedHash = null, int maxRead = int.MaxValue, int seed = 0)
    {
        var output = new MemoryStream();
        var result = await DocumentCipher.DecryptAsync(new ShortReadStream(ciphertext, maxRead, seed), output, key, expectedDocumentId,
            expectedHash, TestContext.Current.CancellationToken);
        return (output.ToArray(), result);
    }

    public static byte[] RandomContent(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }
}
