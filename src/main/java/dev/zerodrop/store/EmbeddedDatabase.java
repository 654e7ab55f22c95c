package dev.zerodrop.store;

import static java.nio.charset.StandardCharsets.US_ASCII;
import static java.nio.file.StandardOpenOption.CREATE;
import static java.nio.file.StandardOpenOption.READ;
import static java.nio.file.StandardOpenOption.WRITE;

import dev.zerodrop.core.PrivateFiles;
import dev.zerodrop.core.PrivateFiles;
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
 * <p>Only ZeroDrop's user can reach it. The data directory is made {@code 0700}; PostgreSQL's
 * binaries are unpacked inside it ({@code <data-dir>/pg-bin}), never into the shared temporary
 * folder that the library uses by default (world-writable, and trusted by its marker file alone). It
 * listens on 127.0.0.1 only, with no Unix socket, and every connection needs the password in
 * {@code <data-dir>/pg-password} (generated once, mode {@code 0600}, checked with
 * {@code scram-sha-256}). A cluster made before that, with trust authentication, gets the password
 * and the rules at its next start.
 *
 * <p>One server at a time owns a data directory: it holds an OS lock on {@code <data-dir>/zerodrop.lock}
 * from before it touches PostgreSQL until after PostgreSQL has stopped. The OS drops the lock when
 * the process dies, even on kill -9, so a free lock with a PostgreSQL still running means that
 * PostgreSQL is an orphan.
 */
public final class EmbeddedDatabase implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(EmbeddedDatabase.class);
    static final String LOCK_FILE = "zerodrop.lock";
    static final String PASSWORD_FILE = "pg-password";
    static final String BINARIES_DIR = "pg-bin";
    static final String SUPERUSER = "postgres";
    /** Every connection, on loopback only, proves the password; nothing is trusted. */
    static final String HBA = """
            # Written by ZeroDrop at every start: loopback only, always with the password in ../pg-password.
            host all all 127.0.0.1/32 scram-sha-256
            host all all ::1/128 scram-sha-256
            """;
    /** Settings PostgreSQL reads from its own configuration (they need no quoting on a command line). */
    static final String CONF = """
            # Written by ZeroDrop at every start.
            unix_socket_directories = ''
            password_encryption = 'scram-sha-256'
            """;
    private static final String INCLUDE = "include_if_exists = 'zerodrop.conf'";

    private final EmbeddedPostgres postgres;
    private final DirectoryLock lock;
    private final String password;

    private EmbeddedDatabase(EmbeddedPostgres postgres, DirectoryLock lock, String password) {
        this.postgres = postgres;
        this.lock = lock;
        this.password = password;
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
            PrivateFiles.restrict(dir);
            Path pgDir = dir.resolve("pg");
            Files.createDirectories(pgDir);
            Path bin = dir.resolve(BINARIES_DIR);
            Files.createDirectories(bin);
            PrivateFiles.restrict(bin);
            Path passwordFile = dir.resolve(PASSWORD_FILE);
            String password = PrivateFiles.secretFile(passwordFile);
            stopOrphan(pgDir);
            boolean exists = Files.exists(pgDir.resolve("postgresql.conf"));
            if (exists && trusts(pgDir)) {
                log.warn("the embedded PostgreSQL in {} accepts connections without a password; setting its password", pgDir);
                setPassword(pgDir, bin, password);
            }
            EmbeddedPostgres pg = builder(pgDir, bin)
                    // A new cluster: the superuser's password from the file, checked with scram-sha-256.
                    .setLocaleConfig("auth", "scram-sha-256")
                    .setLocaleConfig("pwfile", passwordFile.toString())
                    .setConnectConfig("password", password)
                    .setDataDirectoryCustomizer(d -> secure(d.toPath()))
                    .start();
            PrivateFiles.restrict(bin); // the library opens its binaries folder to everyone; its parent stays closed
            return new EmbeddedDatabase(pg, lock, password);
        } catch (IOException | RuntimeException e) {
            lock.close();
            throw e;
        }
    }

    /** True when the cluster's pg_hba.conf trusts any connection (made before ZeroDrop set a password). */
    static boolean trusts(Path pgDir) throws IOException {
        Path hba = pgDir.resolve("pg_hba.conf");
        if (!Files.exists(hba)) return false;
        for (String line : Files.readAllLines(hba)) {
            String l = line.strip();
            if (!l.startsWith("#") && l.matches(".*\\btrust\\b.*")) return true;
        }
        return false;
    }

    /** Starts the cluster once as it is (trusting), sets the superuser's password, and stops it. */
    private static void setPassword(Path pgDir, Path bin, String password) throws IOException {
        try (EmbeddedPostgres pg = builder(pgDir, bin).start();
             var c = pg.getPostgresDatabase().getConnection(); var st = c.createStatement()) {
            st.execute("SET password_encryption = 'scram-sha-256'");
            // The password is base64url: nothing in it can end the literal.
            st.execute("ALTER ROLE " + SUPERUSER + " WITH PASSWORD '" + password + "'");
        } catch (java.sql.SQLException e) {
            throw new IOException("could not set the password of the embedded PostgreSQL: " + e.getMessage(), e);
        }
    }

    /** Writes the connection rules and ZeroDrop's settings into the cluster, before PostgreSQL starts. */
    static void secure(Path pgDir) {
        try {
            Files.writeString(pgDir.resolve("pg_hba.conf"), HBA);
            Files.writeString(pgDir.resolve("zerodrop.conf"), CONF);
            Path conf = pgDir.resolve("postgresql.conf");
            if (Files.readAllLines(conf).stream().noneMatch(l -> l.strip().equals(INCLUDE))) {
                Files.writeString(conf, "\n" + INCLUDE + "\n", java.nio.file.StandardOpenOption.APPEND);
            }
        } catch (IOException e) {
            throw new java.io.UncheckedIOException("could not write the embedded PostgreSQL's settings in " + pgDir, e);
        }
    }

    private static EmbeddedPostgres.Builder builder(Path pgDir, Path bin) {
        return EmbeddedPostgres.builder()
                .setOverrideWorkingDirectory(bin.toFile())
                .setDataDirectory(pgDir)
                .setCleanDataDirectory(false)
                .setRegisterShutdownHook(false) // ZeroDrop stops it last, after the dispatcher has recorded its outcomes
                .setPGStartupWait(Duration.ofSeconds(120)) // crash recovery of a large WAL can take a while
                .setServerConfig("fsync", "on")
                .setServerConfig("synchronous_commit", "on")
                .setServerConfig("full_page_writes", "on")
                .setServerConfig("max_connections", "200")
                .setServerConfig("listen_addresses", "127.0.0.1")
                .setServerConfig("shared_buffers", "128MB");
    }

    /** The JDBC URL, without the password (see {@link #password()}). */
    public String jdbcUrl() {
        return postgres.getJdbcUrl(SUPERUSER, "postgres");
    }

    public String user() {
        return SUPERUSER;
    }

    /** The password of the embedded PostgreSQL's superuser, from {@code <data-dir>/pg-password}. */
    public String password() {
        return password;
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
