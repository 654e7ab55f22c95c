package dev.zerodrop.core;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.attribute.UserPrincipal;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Files and folders that only ZeroDrop's own user may read or write: the data directory, the
 * embedded PostgreSQL's binaries and password, key files. On a file system without POSIX
 * permissions these are no-ops.
 */
public final class PrivateFiles {
    private static final Logger log = LoggerFactory.getLogger(PrivateFiles.class);
    private static final SecureRandom RANDOM = new SecureRandom();
    private static final Set<PosixFilePermission> OWNER_ONLY_DIR = PosixFilePermissions.fromString("rwx------");
    private static final Set<PosixFilePermission> OWNER_ONLY_FILE = PosixFilePermissions.fromString("rw-------");

    private PrivateFiles() {}

    /**
     * Makes {@code dir} (which must exist) readable, writable and searchable by its owner only, and
     * refuses a folder that another user owns: whoever owns it could swap what ZeroDrop runs or reads.
     */
    public static void restrict(Path dir) throws IOException {
        PosixFileAttributeView view = Files.getFileAttributeView(dir, PosixFileAttributeView.class);
        if (view == null) return;
        checkOwner(dir, view);
        if (!view.readAttributes().permissions().equals(OWNER_ONLY_DIR)) view.setPermissions(OWNER_ONLY_DIR);
    }

    /**
     * The secret kept in {@code file}: read when it exists (its mode is narrowed to {@code 0600} if
     * it was wider), else made of 32 random bytes (base64url) and written with mode {@code 0600} from
     * the start, so it is never readable by others, not even for a moment.
     */
    public static String secretFile(Path file) throws IOException {
        PosixFileAttributeView view = Files.getFileAttributeView(file.getParent(), PosixFileAttributeView.class);
        if (!Files.exists(file)) {
            byte[] raw = new byte[32];
            RANDOM.nextBytes(raw);
            String secret = Base64.getUrlEncoder().withoutPadding().encodeToString(raw);
            try {
                if (view != null) Files.createFile(file, PosixFilePermissions.asFileAttribute(OWNER_ONLY_FILE));
                else Files.createFile(file);
                Files.writeString(file, secret, StandardCharsets.US_ASCII);
                return secret;
            } catch (FileAlreadyExistsException raced) {
                // another process made it first: read theirs
            }
        }
        PosixFileAttributeView fileView = Files.getFileAttributeView(file, PosixFileAttributeView.class);
        if (fileView != null) {
            checkOwner(file, fileView);
            if (!fileView.readAttributes().permissions().equals(OWNER_ONLY_FILE)) {
                log.warn("{} could be read by other users; its mode is now 0600", file);
                fileView.setPermissions(OWNER_ONLY_FILE);
            }
        }
        String secret = Files.readString(file, StandardCharsets.US_ASCII).strip();
        if (secret.isEmpty()) throw new IOException(file + " is empty; remove it to have a new secret made");
        return secret;
    }

    /**
     * Writes {@code text} to {@code file}, replacing it, as a new file of mode {@code 0600} from the
     * start; a symbolic link in its place is refused, not followed.
     */
    public static void writeSecret(Path file, String text) throws IOException {
        PosixFileAttributeView view = Files.getFileAttributeView(file.getParent(), PosixFileAttributeView.class);
        Files.deleteIfExists(file);
        var options = new java.nio.file.OpenOption[] {java.nio.file.StandardOpenOption.CREATE_NEW, java.nio.file.StandardOpenOption.WRITE,
                java.nio.file.LinkOption.NOFOLLOW_LINKS};
        try (var channel = view != null
                ? Files.newByteChannel(file, Set.of(options), PosixFilePermissions.asFileAttribute(OWNER_ONLY_FILE))
                : Files.newByteChannel(file, Set.of(options))) {
            channel.write(java.nio.ByteBuffer.wrap(text.getBytes(StandardCharsets.UTF_8)));
        }
    }

    private static void checkOwner(Path path, PosixFileAttributeView view) throws IOException {
        UserPrincipal owner = view.getOwner();
        UserPrincipal me = path.getFileSystem().getUserPrincipalLookupService().lookupPrincipalByName(System.getProperty("user.name"));
        if (!owner.equals(me)) {
            throw new IOException(path + " belongs to " + owner.getName() + ", not to " + me.getName()
                    + " who runs ZeroDrop; give it to that user or choose another --data-dir");
        }
    }
}
