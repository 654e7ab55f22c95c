package dev.zerodrop.store;

import static java.nio.charset.StandardCharsets.US_ASCII;
import static java.nio.file.StandardOpenOption.CREATE;
import static java.nio.file.StandardOpenOption.READ;
import static java.nio.file.StandardOpenOption.WRITE;

import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The embedded PostgreSQL that ZeroDrop runs when no external database is configured. Its data lives
 * in {@code <data-dir>/pg} and survives restarts. It runs with {@code fsync=on} and
 * {@code synchronous_commit=on}: the library's defaults turn both off, and an acknowledgement from a
 * database that does not flush is not an acknowledgement.
 *
 * <p>One server at a time owns a data directory: it holds an OS lock on {@code <data-dir>/zerodrop.lock}
 * from before it touches PostgreSQL until after PostgreSQL has stopped. The OS drops the lock when
 * the process dies, even on kill -9, so a free lock with a PostgreSQL still running means that
 * PostgreSQL is an orphan.
 */
public final class EmbeddedDatabase implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(EmbeddedDatabase.class);
    static final String LOCK_FILE = "zerodrop.lock";

    private final EmbeddedPostgres postgres;
    private final DirectoryLock lock;

    private EmbeddedDatabase(EmbeddedPostgres postgres, DirectoryLock lock) {
        this.postgres = postgres;
        this.lock = lock;
    }

    /**
     * Locks the data directory, stops an orphaned PostgreSQL left in it, and starts PostgreSQL.
     *
     * @throws InUseException when another ZeroDrop server holds the data directory; nothing was touched
     */
    public static EmbeddedDatabase start(Path dataDir) throws IOException {
        Path dir = dataDir.toAbsolutePath().normalize();
        Files.createDirectories(dir);
        DirectoryLock lock = DirectoryLock.acquire(dir);
        try {
            log.info("starting the embedded PostgreSQL in {}", dir);
            Path pgDir = dir.resolve("pg");
            Files.createDirectories(pgDir);
            stopOrphan(pgDir);
            return new EmbeddedDatabase(startPostgres(pgDir), lock);
        } catch (IOException | RuntimeException e) {
            lock.close();
            throw e;
        }
    }

    private static EmbeddedPostgres startPostgres(Path pgDir) throws IOException {
        return EmbeddedPostgres.builder()
                .setDataDirectory(pgDir)
                .setCleanDataDirectory(false)
                .setRegisterShutdownHook(false) // ZeroDrop stops it last, after the dispatcher has recorded its outcomes
                .setPGStartupWait(Duration.ofSeconds(120)) // crash recovery of a large WAL can take a while
                .setServerConfig("fsync", "on")
                .setServerConfig("synchronous_commit", "on")
                .setServerConfig("full_page_writes", "on")
                .setServerConfig("max_connections", "200")
                .setServerConfig("listen_addresses", "127.0.0.1")
                .setServerConfig("shared_buffers", "128MB")
                .start();
    }

    public String jdbcUrl() {
        return postgres.getJdbcUrl("postgres", "postgres");
    }

    /**
     * After a hard kill of the JVM, the PostgreSQL it started keeps running with the data directory
     * locked. Stop it (fast shutdown, so it checkpoints) before starting a fresh one. Only called with
     * the {@link DirectoryLock} held: a live postmaster here then has no live ZeroDrop. A stale
     * {@code postmaster.pid} whose process is gone is left to PostgreSQL, which handles it.
     */
    static void stopOrphan(Path pgDir) throws IOException {
        Path pidFile = pgDir.resolve("postmaster.pid");
        if (!Files.exists(pidFile)) return;
        List<String> lines = Files.readAllLines(pidFile);
        if (lines.isEmpty()) return;
        long pid;
        try {
            pid = Long.parseLong(lines.getFirst().trim());
        } catch (NumberFormatException e) {
            return;
        }
        Optional<ProcessHandle> handle = ProcessHandle.of(pid);
        if (handle.isEmpty() || !handle.get().isAlive()) return;
        String command = handle.get().info().command().orElse("");
        if (!command.isEmpty() && !command.endsWith("postgres")) {
            // The pid was reused by another program: the lock file is stale.
            log.warn("postmaster.pid names pid {} which is not PostgreSQL ({}); removing the stale lock file", pid, command);
            Files.deleteIfExists(pidFile);
            return;
        }
        log.warn("Found the embedded PostgreSQL of a previous run still running (pid {}); stopping it", pid);
        signal(pid, "INT"); // fast shutdown: disconnect clients, checkpoint, exit
        if (!waitForExit(handle.get(), Duration.ofSeconds(60))) {
            log.warn("PostgreSQL pid {} did not stop in 60s; sending SIGQUIT (immediate shutdown)", pid);
            signal(pid, "QUIT");
            if (!waitForExit(handle.get(), Duration.ofSeconds(30))) {
                throw new IOException("could not stop the orphaned PostgreSQL, pid " + pid);
            }
        }
    }

    private static void signal(long pid, String signal) throws IOException {
        try {
            new ProcessBuilder("kill", "-" + signal, Long.toString(pid)).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start().waitFor();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while signalling PostgreSQL", e);
        }
    }

    private static boolean waitForExit(ProcessHandle handle, Duration timeout) {
        try {
            handle.onExit().get(timeout.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS);
            return true;
        } catch (java.util.concurrent.TimeoutException e) {
            return false;
        } catch (java.util.concurrent.ExecutionException e) {
            return !handle.isAlive();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return !handle.isAlive();
        }
    }

    @Override
    public void close() throws IOException {
        try {
            postgres.close();
        } finally {
            lock.close();
        }
    }

    /** Another ZeroDrop server holds the data directory. */
    public static final class InUseException extends IOException {
        InUseException(Path dir, OptionalLong pid) {
            super("the data directory " + dir + " is in use by another ZeroDrop server"
                    + (pid.isPresent() ? " (pid " + pid.getAsLong() + ")" : "") + "; stop it first or choose another --data-dir");
        }
    }

    /** The exclusive OS lock on {@code <data-dir>/zerodrop.lock}, which holds the owner's pid. */
    private static final class DirectoryLock implements AutoCloseable {
        /**
         * Directories locked by this JVM. A second channel on a locked file must never be opened here:
         * closing it would drop the JVM's (per-process) POSIX lock on the file.
         */
        private static final Set<Path> HELD = ConcurrentHashMap.newKeySet();

        private final Path key;
        private final FileChannel channel;

        private DirectoryLock(Path key, FileChannel channel) {
            this.key = key;
            this.channel = channel;
        }

        static DirectoryLock acquire(Path dir) throws IOException {
            Path key = dir.toRealPath();
            long self = ProcessHandle.current().pid();
            if (!HELD.add(key)) throw new InUseException(dir, OptionalLong.of(self));
            FileChannel channel = null;
            try {
                // Not truncated on open: while another server holds the lock, the file keeps its pid.
                channel = FileChannel.open(key.resolve(LOCK_FILE), CREATE, READ, WRITE);
                FileLock lock = channel.tryLock();
                if (lock == null) throw new InUseException(dir, readPid(channel));
                channel.truncate(0);
                channel.write(ByteBuffer.wrap((self + "\n").getBytes(US_ASCII)), 0);
                channel.force(false);
                return new DirectoryLock(key, channel);
            } catch (IOException | RuntimeException e) {
                if (channel != null) {
                    try {
                        channel.close();
                    } catch (IOException suppressed) {
                        e.addSuppressed(suppressed);
                    }
                }
                HELD.remove(key);
                throw e;
            }
        }

        /** The owner's pid; empty while it has not written it yet, or where the OS refuses to read a locked file. */
        private static OptionalLong readPid(FileChannel channel) {
            try {
                ByteBuffer buf = ByteBuffer.allocate(32);
                channel.read(buf, 0);
                return OptionalLong.of(Long.parseLong(new String(buf.array(), 0, buf.position(), US_ASCII).trim()));
            } catch (IOException | NumberFormatException e) {
                return OptionalLong.empty();
            }
        }

        @Override
        public void close() throws IOException {
            try {
                channel.close(); // releases the lock
            } finally {
                HELD.remove(key);
            }
        }
    }
}
