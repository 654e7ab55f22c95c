package dev.zerodrop.chaos;

import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

/**
 * A PostgreSQL server that the chaos harness owns, so that it can stop it abruptly
 * ({@code pg_ctl stop -m immediate}) and start it again on the same port and data, while the nodes
 * under test keep running against it.
 */
public final class ChaosPostgres implements AutoCloseable {
    private final Path dataDir;
    private final int port;
    private EmbeddedPostgres postgres;

    public ChaosPostgres(Path dataDir, int port) {
        this.dataDir = dataDir;
        this.port = port;
    }

    public ChaosPostgres start() throws IOException {
        Files.createDirectories(dataDir);
        // Its own binaries, beside its data: never the library's shared, world-writable temporary folder.
        Path bin = dataDir.resolveSibling(dataDir.getFileName() + "-bin");
        Files.createDirectories(bin);
        dev.zerodrop.core.PrivateFiles.restrict(bin.getParent());
        postgres = EmbeddedPostgres.builder().setDataDirectory(dataDir).setCleanDataDirectory(false).setPort(port)
                .setOverrideWorkingDirectory(bin.toFile())
                .setRegisterShutdownHook(false).setPGStartupWait(Duration.ofSeconds(120))
                .setServerConfig("fsync", "on").setServerConfig("synchronous_commit", "on").setServerConfig("full_page_writes", "on")
                .setServerConfig("max_connections", "300").setServerConfig("listen_addresses", "127.0.0.1").start();
        return this;
    }

    public String jdbcUrl() {
        return "jdbc:postgresql://127.0.0.1:" + port + "/postgres?user=postgres";
    }

    /**
     * Immediate shutdown, what {@code pg_ctl stop -m immediate} does: SIGQUIT to the postmaster, which
     * ends every backend at once without a checkpoint; the next start runs crash recovery. (pg_ctl
     * itself refuses to run as root, so the signal is sent directly.)
     */
    public void stopImmediately() throws IOException, InterruptedException {
        long pid = Long.parseLong(Files.readAllLines(dataDir.resolve("postmaster.pid")).getFirst().trim());
        ProcessHandle handle = ProcessHandle.of(pid).orElseThrow(() -> new IOException("PostgreSQL pid " + pid + " is not running"));
        new ProcessBuilder("kill", "-QUIT", Long.toString(pid)).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start().waitFor();
        try {
            handle.onExit().get(30, java.util.concurrent.TimeUnit.SECONDS);
        } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
            throw new IOException("PostgreSQL did not stop", e);
        }
        // Already stopped: closing only releases the library's lock on the data directory. Its
        // complaint that there was nothing left to stop is expected, so it is silenced meanwhile.
        var logger = (ch.qos.logback.classic.Logger) org.slf4j.LoggerFactory.getLogger(EmbeddedPostgres.class);
        var level = logger.getLevel();
        logger.setLevel(ch.qos.logback.classic.Level.OFF);
        try {
            postgres.close();
        } catch (IOException | RuntimeException ignored) {
            // expected: there is no server left to stop
        } finally {
            logger.setLevel(level);
        }
        postgres = null;
    }

    @Override
    public void close() throws IOException {
        if (postgres != null) postgres.close();
    }
}
