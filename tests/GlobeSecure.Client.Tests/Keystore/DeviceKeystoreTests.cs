using GlobeSecure.Client.Keystore;
using GlobeSecure.Crypto;
using static GlobeSecure.Client.Tests.Keystore.KeystoreAssert;

namespace GlobeSecure.Client.Tests.Keystore;

public sealed class DeviceKeystoreTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task CreateThenOpen_RightPassphrase_ReturnsTheSameKeys()
    {
        using var dir = new TempDirectory();
        using var known = new KnownKeys();
        var path = dir.File("device.key");

        var written = await DeviceKeystore.CreateAsync(path, known.Keys, Pass("correct horse battery staple"), Fast, Ct);
        using var opened = await DeviceKeystore.OpenAsync(path, Pass("correct horse battery staple"), Ct);

        SameKeys(known.Keys, opened);
        Assert.Equal(KeystorePurpose.Device, written.Purpose);
        Assert.Equal(1, written.FormatVersion);
        Assert.Equal(known.Keys.DeviceId, written.DeviceId);
    }

    [Fact]
    public async Task ReadThenUnlock_SpanPassphrase_ReturnsTheSameKeysAndClearFields()
    {
        using var dir = new TempDirectory();
        using var known = new KnownKeys();
        var path = dir.File("device.key");
        var userId = Guid.CreateVersion7();
        var authorityId = Guid.CreateVersion7();
        var options = new KeystoreOptions
        {
            KdfParameters = Argon2idParameters.InsecureForTests, UserId = userId, AuthorityId = authorityId, Label = "work laptop — Zürich",
        };
        await DeviceKeystore.CreateAsync(path, known.Keys, Pass("pass"), options, Ct);

        var keystore = await DeviceKeystore.ReadAsync(path, Ct);
        Span<char> passphrase = ['p', 'a', 's', 's'];
        using var opened = keystore.Unlock(passphrase);

        SameKeys(known.Keys, opened);
        Assert.Equal(userId, keystore.UserId);
        Assert.Equal(authorityId, keystore.AuthorityId);
        Assert.Equal("work laptop — Zürich", keystore.Label);
        Assert.Equal(known.Keys.Public.SigningKey, keystore.PublicKeys.SigningKey);
        Assert.Equal(Path.GetFileName(path), Path.GetFileName(keystore.Path));
    }

    [Fact]
    public async Task Open_WrongPassphrase_ThrowsWrongPassphraseWithFixedMessage()
    {
        using var dir = new TempDirectory();
        using var known = new KnownKeys();
        var path = dir.File("device.key");
        await DeviceKeystore.CreateAsync(path, known.Keys, Pass("right"), Fast, Ct);

        var error = await Assert.ThrowsAsync<WrongPassphraseException>(() => DeviceKeystore.OpenAsync(path, Pass("wrong"), Ct));

        Assert.Equal("The passphrase is wrong, or the key file was altered.", error.Message);
    }

    [Fact]
    public async Task Open_PassphraseDiffersOnlyInCaseOrNormalisation_ThrowsWrongPassphrase()
    {
        using var dir = new TempDirectory();
        using var known = new KnownKeys();
        var path = dir.File("device.key");
        await DeviceKeystore.CreateAsync(path, known.Keys, Pass("Caf\u00e9"), Fast, Ct);

        // The passphrase is its exact UTF-8: no case folding and no Unicode normalisation.
        await Assert.ThrowsAsync<WrongPassphraseException>(() => DeviceKeystore.OpenAsync(path, Pass("caf\u00e9"), Ct));
        await Assert.ThrowsAsync<WrongPassphraseException>(() => DeviceKeystore.OpenAsync(path, Pass("Cafe\u0301"), Ct));
        using var opened = await DeviceKeystore.OpenAsync(path, Pass("Caf\u00e9"), Ct);
        SameKeys(known.Keys, opened);
    }

    [Fact]
    public async Task Create_EmptyPassphrase_ThrowsArgumentExceptionAndWritesNothing()
    {
        using var dir = new TempDirectory();
        using var known = new KnownKeys();

        var error = await Assert.ThrowsAsync<ArgumentException>(
            () => DeviceKeystore.CreateAsync(dir.File("device.key"), known.Keys, ReadOnlyMemory<char>.Empty, Fast, Ct));

        Assert.Equal("passphrase", error.ParamName);
        Assert.Empty(dir.Entries());
    }

    [Fact]
    public async Task Open_EmptyPassphrase_ThrowsArgumentException()
    {
        using var dir = new TempDirectory();
        using var known = new KnownKeys();
        var path = dir.File("device.key");
        await DeviceKeystore.CreateAsync(path, known.Keys, Pass("pass"), Fast, Ct);

        await Assert.ThrowsAsync<ArgumentException>(() => DeviceKeystore.OpenAsync(path, Pass(""), Ct));
    }

    [Fact]
    public async Task Create_PassphraseWithUnpairedSurrogate_ThrowsArgumentExceptionNotQuotingIt()
    {
        using var dir = new TempDirectory();
        using var known = new KnownKeys();

        var error = await Assert.ThrowsAsync<ArgumentException>(
            () => DeviceKeystore.CreateAsync(dir.File("device.key"), known.Keys, Pass("secret\ud800tail"), Fast, Ct));

        Assert.DoesNotContain("secret", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("D800", error.Message, StringComparison.OrdinalIgnoreCase);
        Assert.Null(error.InnerException);
        Assert.Empty(dir.Entries());
    }

    [Fact]
    public async Task Open_MissingFile_ThrowsKeystoreNotFound()
    {
        using var dir = new TempDirectory();
        var path = dir.File("absent.key");

        var error = await Assert.ThrowsAsync<KeystoreNotFoundException>(() => DeviceKeystore.OpenAsync(path, Pass("pass"), Ct));

        Assert.Equal(path, error.Path);
        Assert.Contains(path, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Open_MissingDirectory_ThrowsKeystoreNotFound()
    {
        using var dir = new TempDirectory();

        await Assert.ThrowsAsync<KeystoreNotFoundException>(
            () => DeviceKeystore.OpenAsync(Path.Combine(dir.Path, "nowhere", "device.key"), Pass("pass"), Ct));
    }

    [Fact]
    public async Task Create_OnUnix_FileIsOwnerReadWriteOnly()
    {
        if (OperatingSystem.IsWindows())
        {
            Assert.Skip("Unix permissions only.");
            return;
        }

        using var dir = new TempDirectory();
        using var known = new KnownKeys();
        var path = dir.File("device.key");

        await DeviceKeystore.CreateAsync(path, known.Keys, Pass("pass"), Fast, Ct);

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
    }

    [Fact]
    public async Task ChangePassphrase_OverWorldReadableFile_LeavesItOwnerOnly()
    {
        if (OperatingSystem.IsWindows())
        {
            Assert.Skip("Unix permissions only.");
            return;
        }

        using var dir = new TempDirectory();
        using var known = new KnownKeys();
        var path = dir.File("device.key");
        await DeviceKeystore.CreateAsync(path, known.Keys, Pass("old"), Fast, Ct);
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);

        await DeviceKeystore.ChangePassphraseAsync(path, Pass("old"), Pass("new"), Fast, Ct);

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
    }

    [Fact]
    public async Task Create_Succeeds_LeavesOnlyTheKeyFile()
    {
        using var dir = new TempDirectory();
        using var known = new KnownKeys();

        await DeviceKeystore.CreateAsync(dir.File("device.key"), known.Keys, Pass("pass"), Fast, Ct);
        await DeviceKeystore.ChangePassphraseAsync(dir.File("device.key"), Pass("pass"), Pass("other"), Fast, Ct);

        Assert.Equal(["device.key"], dir.Entries());
    }

    [Fact]
    public async Task Create_DirectoryMissing_ThrowsDirectoryNotFoundNamingItAndWritesNothing()
    {
        using var dir = new TempDirectory();
        using var known = new KnownKeys();
        var missing = Path.Combine(dir.Path, "missing");

        var error = await Assert.ThrowsAsync<DirectoryNotFoundException>(
            () => DeviceKeystore.CreateAsync(Path.Combine(missing, "device.key"), known.Keys, Pass("pass"), Fast, Ct));

        Assert.Contains(missing, error.Message, StringComparison.Ordinal);
        Assert.Empty(dir.Entries());
    }

    [Fact]
    public async Task Create_RenameFails_RemovesTheTemporaryFile()
    {
        using var dir = new TempDirectory();
        using var known = new KnownKeys();
        // A directory stands where the file should go: the temporary file is written, the rename fails.
        var target = dir.File("device.key");
        Directory.CreateDirectory(target);

        await Assert.ThrowsAsync<IOException>(() => DeviceKeystore.CreateAsync(target, known.Keys, Pass("pass"), Fast, Ct));

        Assert.Equal(["device.key"], dir.Entries());
        Assert.Empty(Directory.GetFileSystemEntries(target));
    }

    [Fact]
    public async Task WriteAtomic_CancelledAfterTemporaryFileCreated_RemovesIt()
    {
        using var dir = new TempDirectory();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(
            () => KeyFileIo.WriteAtomicAsync(dir.File("device.key"), [1, 2, 3], overwrite: false, new CancellationToken(canceled: true)));

        Assert.Empty(dir.Entries());
    }

    [Fact]
    public async Task Create_Cancelled_ThrowsAndWritesNothing()
    {
        using var dir = new TempDirectory();
        using var known = new KnownKeys();

        await Assert.ThrowsAsync<OperationCanceledException>(
            () => DeviceKeystore.CreateAsync(dir.File("device.key"), known.Keys, Pass("pass"), Fast, new CancellationToken(canceled: true)));

        Assert.Empty(dir.Entries());
    }

    [Fact]
    public async Task Create_FileExists_ThrowsAlreadyExistsAndLeavesItUntouched()
    {
        using var dir = new TempDirectory();
        using var first = new KnownKeys();
        using var second = new KnownKeys();
        var path = dir.File("device.key");
        await DeviceKeystore.CreateAsync(path, first.Keys, Pass("first"), Fast, Ct);
        var before = await File.ReadAllBytesAsync(path, Ct);

        var error = await Assert.ThrowsAsync<KeystoreAlreadyExistsException>(
            () => DeviceKeystore.CreateAsync(path, second.Keys, Pass("second"), Fast, Ct));

        Assert.Equal(Path.GetFullPath(path), error.Path);
        Assert.Equal(before, await File.ReadAllBytesAsync(path, Ct));
        Assert.Equal(["device.key"], dir.Entries());
    }

    [Fact]
    public async Task Create_FileExistsAndOverwriteAsked_ReplacesIt()
    {
        using var dir = new TempDirectory();
        using var first = new KnownKeys();
        using var second = new KnownKeys();
        var path = dir.File("device.key");
        await DeviceKeystore.CreateAsync(path, first.Keys, Pass("first"), Fast, Ct);

        await Assert.ThrowsAsync<KeystoreAlreadyExistsException>(() => DeviceKeystore.CreateAsync(path, second.Keys, Pass("second"), Fast, Ct));
        await DeviceKeystore.CreateAsync(path, second.Keys, Pass("second"),
            new KeystoreOptions { KdfParameters = Argon2idParameters.InsecureForTests, OverwriteExisting = true }, Ct);

        using var opened = await DeviceKeystore.OpenAsync(path, Pass("second"), Ct);
        SameKeys(second.Keys, opened);
        await Assert.ThrowsAsync<WrongPassphraseException>(() => DeviceKeystore.OpenAsync(path, Pass("first"), Ct));
    }

    [Fact]
    public async Task ChangePassphrase_RightOldPassphrase_NewOpensOldFailsFreshSaltAndNonceSameKeys()
    {
        using var dir = new TempDirectory();
        using var known = new KnownKeys();
        var path = dir.File("device.key");
        var options = new KeystoreOptions { KdfParameters = Argon2idParameters.InsecureForTests, UserId = Guid.CreateVersion7(), Label = "phone" };
        await DeviceKeystore.CreateAsync(path, known.Keys, Pass("old passphrase"), options, Ct);
        var before = ReadJson(path);

        var changed = await DeviceKeystore.ChangePassphraseAsync(path, Pass("old passphrase"), Pass("new passphrase"), Fast, Ct);

        var after = ReadJson(path);
        Assert.NotEqual(GetString(before, "kdf.salt"), GetString(after, "kdf.salt"));
        Assert.NotEqual(GetString(before, "cipher.nonce"), GetString(after, "cipher.nonce"));
        Assert.NotEqual(GetString(before, "cipher.ciphertext"), GetString(after, "cipher.ciphertext"));
        Assert.Equal(options.UserId, changed.UserId);
        Assert.Equal("phone", changed.Label);
        await Assert.ThrowsAsync<WrongPassphraseException>(() => DeviceKeystore.OpenAsync(path, Pass("old passphrase"), Ct));
        using var opened = await DeviceKeystore.OpenAsync(path, Pass("new passphrase"), Ct);
        SameKeys(known.Keys, opened);
    }

    [Fact]
    public async Task ChangePassphrase_WrongOldPassphrase_ThrowsWrongPassphraseAndLeavesFileUntouched()
    {
        using var dir = new TempDirectory();
        using var known = new KnownKeys();
        var path = dir.File("device.key");
        await DeviceKeystore.CreateAsync(path, known.Keys, Pass("old"), Fast, Ct);
        var before = await File.ReadAllBytesAsync(path, Ct);

        await Assert.ThrowsAsync<WrongPassphraseException>(() => DeviceKeystore.ChangePassphraseAsync(path, Pass("guess"), Pass("new"), Fast, Ct));

        Assert.Equal(before, await File.ReadAllBytesAsync(path, Ct));
        Assert.Equal(["device.key"], dir.Entries());
    }

    [Fact]
    public async Task ChangePassphrase_CustomParameters_StoresThem()
    {
        using var dir = new TempDirectory();
        using var known = new KnownKeys();
        var path = dir.File("device.key");
        await DeviceKeystore.CreateAsync(path, known.Keys, Pass("old"), Fast, Ct);
        var raised = new Argon2idParameters(4, 32 * 1024);

        await DeviceKeystore.ChangePassphraseAsync(path, Pass("old"), Pass("new"), new KeystoreOptions { KdfParameters = raised }, Ct);

        Assert.Equal(raised, (await DeviceKeystore.ReadAsync(path, Ct)).KdfParameters);
        using var opened = await DeviceKeystore.OpenAsync(path, Pass("new"), Ct);
        SameKeys(known.Keys, opened);
    }

    [Fact]
    public void Stronger_MixedParameters_TakesTheMaximumOfEachField()
    {
        var stored = new Argon2idParameters(8, 64 * 1024 * 1024);

        var result = DeviceKeystore.Stronger(stored, Argon2idParameters.Default);

        Assert.Equal(new Argon2idParameters(8, Argon2idParameters.Default.MemLimitBytes), result);
        Assert.Equal(Argon2idParameters.Default, DeviceKeystore.Stronger(Argon2idParameters.InsecureForTests, Argon2idParameters.Default));
    }

    [Fact]
    public async Task Create_CustomKdfParameters_StoresAndUsesThem()
    {
        using var dir = new TempDirectory();
        using var known = new KnownKeys();
        var path = dir.File("device.key");
        var custom = new Argon2idParameters(5, 24 * 1024);

        var written = await DeviceKeystore.CreateAsync(path, known.Keys, Pass("pass"), new KeystoreOptions { KdfParameters = custom }, Ct);

        var json = ReadJson(path);
        Assert.Equal(5, json["kdf"]!["opsLimit"]!.GetValue<long>());
        Assert.Equal(24 * 1024, json["kdf"]!["memLimitBytes"]!.GetValue<int>());
        Assert.Equal("argon2id13", json["kdf"]!["algorithm"]!.GetValue<string>());
        Assert.Equal(custom, written.KdfParameters);
        Assert.Equal(custom, (await DeviceKeystore.ReadAsync(path, Ct)).KdfParameters);
        // The stored parameters are the ones the key was derived with: the same passphrase under other costs does not open it.
        var key = PassphraseKdf.DeriveKey("pass"u8, Convert.FromBase64String(GetString(json, "kdf.salt")), custom);
        var keystore = await DeviceKeystore.ReadAsync(path, Ct);
        Assert.NotNull(SecretBox.TryDecrypt(keystore.Contents.Ciphertext, keystore.Contents.AssociatedData(), keystore.Contents.Nonce, key));
        var other = PassphraseKdf.DeriveKey("pass"u8, Convert.FromBase64String(GetString(json, "kdf.salt")), Argon2idParameters.InsecureForTests);
        Assert.Null(SecretBox.TryDecrypt(keystore.Contents.Ciphertext, keystore.Contents.AssociatedData(), keystore.Contents.Nonce, other));
    }

    [Fact]
    public async Task Create_KdfParametersOutOfRange_ThrowsArgumentExceptionAndWritesNothing()
    {
        using var dir = new TempDirectory();
        using var known = new KnownKeys();

        await Assert.ThrowsAsync<ArgumentException>(() => DeviceKeystore.CreateAsync(dir.File("device.key"), known.Keys, Pass("pass"),
            new KeystoreOptions { KdfParameters = new Argon2idParameters(2, 8 * 1024) }, Ct));

        Assert.Empty(dir.Entries());
    }

    [Fact]
    public async Task Create_LabelTooLong_ThrowsArgumentException()
    {
        using var dir = new TempDirectory();
        using var known = new KnownKeys();

        await Assert.ThrowsAsync<ArgumentException>(() => DeviceKeystore.CreateAsync(dir.File("device.key"), known.Keys, Pass("pass"),
            new KeystoreOptions { KdfParameters = Argon2idParameters.InsecureForTests, Label = new string('x', DeviceKeystore.MaxLabelLength + 1) }, Ct));
    }

    [Fact]
    public async Task BackupExportThenImport_RightPassphrases_RestoresTheSameKeys()
    {
        using var dir = new TempDirectory();
        using var known = new KnownKeys();
        var options = new KeystoreOptions { KdfParameters = Argon2idParameters.InsecureForTests, AuthorityId = Guid.CreateVersion7() };
        await DeviceKeystore.CreateAsync(dir.File("device.key"), known.Keys, Pass("device pass"), options, Ct);

        var backup = await DeviceKeystore.ExportBackupAsync(dir.File("device.key"), Pass("device pass"), dir.File("backup.key"),
            Pass("backup pass"), Fast, Ct);
        var restored = await DeviceKeystore.ImportBackupAsync(dir.File("backup.key"), Pass("backup pass"), dir.File("restored.key"),
            Pass("restored pass"), Fast, Ct);

        Assert.Equal(KeystorePurpose.Backup, backup.Purpose);
        Assert.Equal("backup", ReadJson(dir.File("backup.key"))["purpose"]!.GetValue<string>());
        Assert.Equal(KeystorePurpose.Device, restored.Purpose);
        Assert.Equal(options.AuthorityId, restored.AuthorityId);
        using var opened = await DeviceKeystore.OpenAsync(dir.File("restored.key"), Pass("restored pass"), Ct);
        SameKeys(known.Keys, opened);
        await Assert.ThrowsAsync<WrongPassphraseException>(() => DeviceKeystore.OpenAsync(dir.File("restored.key"), Pass("backup pass"), Ct));
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(dir.File("backup.key")));
        }
    }

    [Fact]
    public async Task ExportBackup_WrongDevicePassphrase_ThrowsWrongPassphraseAndWritesNoBackup()
    {
        using var dir = new TempDirectory();
        using var known = new KnownKeys();
        await DeviceKeystore.CreateAsync(dir.File("device.key"), known.Keys, Pass("device pass"), Fast, Ct);

        await Assert.ThrowsAsync<WrongPassphraseException>(() => DeviceKeystore.ExportBackupAsync(dir.File("device.key"), Pass("wrong"),
            dir.File("backup.key"), Pass("backup pass"), Fast, Ct));

        Assert.Equal(["device.key"], dir.Entries());
    }

    [Fact]
    public async Task ImportBackup_WrongBackupPassphrase_ThrowsWrongPassphraseAndWritesNothing()
    {
        using var dir = new TempDirectory();
        using var known = new KnownKeys();
        await DeviceKeystore.CreateAsync(dir.File("device.key"), known.Keys, Pass("device pass"), Fast, Ct);
        await DeviceKeystore.ExportBackupAsync(dir.File("device.key"), Pass("device pass"), dir.File("backup.key"), Pass("backup pass"), Fast, Ct);

        await Assert.ThrowsAsync<WrongPassphraseException>(() => DeviceKeystore.ImportBackupAsync(dir.File("backup.key"), Pass("device pass"),
            dir.File("restored.key"), Pass("new"), Fast, Ct));

        Assert.Equal(["backup.key", "device.key"], dir.Entries());
    }

    [Fact]
    public async Task ImportBackup_DeviceFileGivenAsBackup_ThrowsKeystoreFormat()
    {
        using var dir = new TempDirectory();
        using var known = new KnownKeys();
        await DeviceKeystore.CreateAsync(dir.File("device.key"), known.Keys, Pass("pass"), Fast, Ct);

        await Assert.ThrowsAsync<KeystoreFormatException>(() => DeviceKeystore.ImportBackupAsync(dir.File("device.key"), Pass("pass"),
            dir.File("restored.key"), Pass("new"), Fast, Ct));

        Assert.Equal(["device.key"], dir.Entries());
    }

    [Fact]
    public async Task Open_BackupGivenAsDeviceFile_ThrowsKeystoreFormat()
    {
        using var dir = new TempDirectory();
        using var known = new KnownKeys();
        await DeviceKeystore.CreateAsync(dir.File("device.key"), known.Keys, Pass("pass"), Fast, Ct);
        await DeviceKeystore.ExportBackupAsync(dir.File("device.key"), Pass("pass"), dir.File("backup.key"), Pass("backup"), Fast, Ct);

        await Assert.ThrowsAsync<KeystoreFormatException>(() => DeviceKeystore.OpenAsync(dir.File("backup.key"), Pass("backup"), Ct));
        await Assert.ThrowsAsync<KeystoreFormatException>(
            () => DeviceKeystore.ChangePassphraseAsync(dir.File("backup.key"), Pass("backup"), Pass("x"), Fast, Ct));
        await Assert.ThrowsAsync<KeystoreFormatException>(() => DeviceKeystore.ExportBackupAsync(dir.File("backup.key"), Pass("backup"),
            dir.File("backup2.key"), Pass("backup2"), Fast, Ct));
    }

    [Fact]
    public async Task ExportBackup_OntoTheDeviceFileItself_ThrowsArgumentExceptionAndKeepsIt()
    {
        using var dir = new TempDirectory();
        using var known = new KnownKeys();
        await DeviceKeystore.CreateAsync(dir.File("device.key"), known.Keys, Pass("pass"), Fast, Ct);

        await Assert.ThrowsAsync<ArgumentException>(() => DeviceKeystore.ExportBackupAsync(dir.File("device.key"), Pass("pass"),
            dir.File("device.key"), Pass("backup"), new KeystoreOptions { KdfParameters = Argon2idParameters.InsecureForTests, OverwriteExisting = true }, Ct));

        using var opened = await DeviceKeystore.OpenAsync(dir.File("device.key"), Pass("pass"), Ct);
        SameKeys(known.Keys, opened);
    }

    [Fact]
    public async Task ExportBackup_BackupExists_ThrowsAlreadyExists()
    {
        using var dir = new TempDirectory();
        using var known = new KnownKeys();
        await DeviceKeystore.CreateAsync(dir.File("device.key"), known.Keys, Pass("pass"), Fast, Ct);
        await File.WriteAllTextAsync(dir.File("backup.key"), "something precious", Ct);

        await Assert.ThrowsAsync<KeystoreAlreadyExistsException>(() => DeviceKeystore.ExportBackupAsync(dir.File("device.key"), Pass("pass"),
            dir.File("backup.key"), Pass("backup"), Fast, Ct));

        Assert.Equal("something precious", await File.ReadAllTextAsync(dir.File("backup.key"), Ct));
    }

    [Fact]
    public async Task WrittenFiles_NeverContainThePrivateKeysInHexOrBase64()
    {
        using var dir = new TempDirectory();
        using var known = new KnownKeys();
        var options = new KeystoreOptions { KdfParameters = Argon2idParameters.InsecureForTests, Label = "laptop" };
        await DeviceKeystore.CreateAsync(dir.File("device.key"), known.Keys, Pass("pass"), options, Ct);
        await DeviceKeystore.ExportBackupAsync(dir.File("device.key"), Pass("pass"), dir.File("backup.key"), Pass("backup"), Fast, Ct);
        await DeviceKeystore.ChangePassphraseAsync(dir.File("device.key"), Pass("pass"), Pass("new"), Fast, Ct);

        foreach (var file in new[] { dir.File("device.key"), dir.File("backup.key") })
        {
            var text = await File.ReadAllTextAsync(file, Ct);
            foreach (var secret in known.SecretEncodings())
            {
                Assert.DoesNotContain(secret, text, StringComparison.OrdinalIgnoreCase);
            }

            Assert.DoesNotContain("pass", text, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task ToString_OfKeystore_NamesTheDeviceAndNoSecret()
    {
        using var dir = new TempDirectory();
        using var known = new KnownKeys();
        var written = await DeviceKeystore.CreateAsync(dir.File("device.key"), known.Keys, Pass("hunter2-passphrase"), Fast, Ct);
        var read = await DeviceKeystore.ReadAsync(dir.File("device.key"), Ct);

        foreach (var text in new[] { written.ToString(), read.ToString() })
        {
            Assert.Contains(known.Keys.DeviceId.ToString(), text, StringComparison.Ordinal);
            Assert.Contains(known.Keys.Public.SigningKey.Fingerprint, text, StringComparison.Ordinal);
            Assert.DoesNotContain("hunter2", text, StringComparison.Ordinal);
            Assert.DoesNotContain(GetString(ReadJson(dir.File("device.key")), "cipher.ciphertext")[..16], text, StringComparison.Ordinal);
            foreach (var secret in known.SecretEncodings())
            {
                Assert.DoesNotContain(secret, text, StringComparison.OrdinalIgnoreCase);
            }
        }
    }

    [Fact]
    public async Task CreateThenOpen_DefaultParameters_Works()
    {
        // The one test that pays the real cost (about half a second per derivation): the default is accepted end to end.
        using var dir = new TempDirectory();
        using var known = new KnownKeys();
        var path = dir.File("device.key");

        var written = await DeviceKeystore.CreateAsync(path, known.Keys, Pass("pass"), cancellationToken: Ct);
        using var opened = await DeviceKeystore.OpenAsync(path, Pass("pass"), Ct);

        Assert.Equal(Argon2idParameters.Default, written.KdfParameters);
        Assert.Equal(Argon2idParameters.Default, (await DeviceKeystore.ReadAsync(path, Ct)).KdfParameters);
        SameKeys(known.Keys, opened);
    }
}
