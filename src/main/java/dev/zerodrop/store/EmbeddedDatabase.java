package dev.zerodrop.store;

import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The embedded PostgreSQL that ZeroDrop runs when no external database is configured. Its data lives
 * in {@code <data-dir>/pg} and survives restarts. It runs with {@code fsync=on} and
 * {@code synchronous_commit=on}: the library's defaults turn both off, and an acknowledgement from a
 * database that does not flush is not an acknowledgement.
 */
public final class EmbeddedDatabase implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(EmbeddedDatabase.class);

    private final EmbeddedPostgres postgres;

    private EmbeddedDatabase(EmbeddedPostgres postgres) {
        this.postgres = postgres;
    }

    public static EmbeddedDatabase start(Path dataDir) throws IOException {
        Path pgDir = dataDir.toAbsolutePath().resolve("pg");
        Files.createDirectories(pgDir);
        stopOrphan(pgDir);
        EmbeddedPostgres pg = EmbeddedPostgres.builder()
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
        return new EmbeddedDatabase(pg);
    }

    public String jdbcUrl() {
        return postgres.getJdbcUrl("postgres", "postgres");
    }

    /**
     * After a hard kill of the JVM, the PostgreSQL it started keeps running with the data directory
     * locked. Stop it (fast shutdown, so it checkpoints) before starting a fresh one. A stale
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
        postgres.close();
    }
}
