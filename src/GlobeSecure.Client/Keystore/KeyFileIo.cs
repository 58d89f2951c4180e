namespace GlobeSecure.Client.Keystore;

/// <summary>Reading and writing key files: bounded reads, and atomic, owner-only writes.</summary>
internal static class KeyFileIo
{
    /// <summary>A key file is well under 2 KiB; anything this large is not one, and is not read into memory.</summary>
    public const int MaxFileBytes = 64 * 1024;

    public static async Task<byte[]> ReadAsync(string path, CancellationToken cancellationToken)
    {
        try
        {
            await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1, useAsync: true);
            if (stream.Length > MaxFileBytes)
            {
                throw new KeystoreFormatException($"The file '{path}' is larger than {MaxFileBytes} bytes: it is not a key file.");
            }

            var bytes = new byte[stream.Length];
            await stream.ReadExactlyAsync(bytes, cancellationToken);
            return bytes;
        }
        catch (FileNotFoundException e)
        {
            throw new KeystoreNotFoundException(path, e);
        }
        catch (DirectoryNotFoundException e)
        {
            throw new KeystoreNotFoundException(path, e);
        }
        catch (EndOfStreamException e)
        {
            throw new KeystoreFormatException($"The file '{path}' shrank while it was read.", e);
        }
    }

    /// <summary>
    /// Writes <paramref name="contents"/> to a new owner-only (0600) temporary file in the target's
    /// directory, flushes it to disk, then renames it over the target: a crash leaves either the
    /// old file or the new one, never half of one. The temporary file is deleted on any failure.
    /// </summary>
    public static async Task WriteAtomicAsync(string path, byte[] contents, bool overwrite, CancellationToken cancellationToken)
    {
        var (fullPath, directory) = CheckTarget(path, overwrite);
        var temporary = Path.Combine(directory, $".{Path.GetFileName(fullPath)}.{Guid.NewGuid():N}.tmp");
        var options = new FileStreamOptions
        {
            Mode = FileMode.CreateNew,
            Access = FileAccess.Write,
            Share = FileShare.None,
        };
        if (!OperatingSystem.IsWindows())
        {
            // Created with the final mode, so there is no moment at which others may read it.
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        try
        {
            await using (var stream = new FileStream(temporary, options))
            {
                await stream.WriteAsync(contents, cancellationToken);
                stream.Flush(flushToDisk: true);
            }

            try
            {
                File.Move(temporary, fullPath, overwrite);
            }
            catch (IOException) when (!overwrite && File.Exists(fullPath))
            {
                // Another writer created the file between the check above and the rename.
                throw new KeystoreAlreadyExistsException(fullPath);
            }
        }
        catch
        {
            TryDelete(temporary);
            throw;
        }
    }

    /// <summary>Throws when a write to <paramref name="path"/> is bound to fail; returns its full path and directory.</summary>
    public static (string FullPath, string Directory) CheckTarget(string path, bool overwrite)
    {
        var fullPath = Path.GetFullPath(path);
        var directory = Path.GetDirectoryName(fullPath)
            ?? throw new ArgumentException($"'{path}' names a root directory, not a file.", nameof(path));
        if (!Directory.Exists(directory))
        {
            throw new DirectoryNotFoundException($"Cannot write the key file '{fullPath}': the directory '{directory}' does not exist.");
        }

        if (!overwrite && File.Exists(fullPath))
        {
            throw new KeystoreAlreadyExistsException(fullPath);
        }

        return (fullPath, directory);
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
            // Best effort: the original error is the one worth reporting.
        }
        catch (UnauthorizedAccessException)
        {
            // Same.
        }
    }
}
