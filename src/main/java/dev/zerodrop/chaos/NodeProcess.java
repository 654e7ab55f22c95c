package dev.zerodrop.chaos;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A ZeroDrop node in a child JVM, so that it can be killed with {@code kill -9}, frozen with
 * {@code SIGSTOP} and stopped with {@code SIGTERM} for real.
 */
public final class NodeProcess {
    private final String name;
    private final int port;
    private final Map<String, String> flags;
    private final Path logDir;
    private Process process;
    private int starts;

    public NodeProcess(String name, int port, Map<String, String> flags, Path logDir) {
        this.name = name;
        this.port = port;
        this.flags = Map.copyOf(flags);
        this.logDir = logDir;
    }

    public String url() {
        return "http://127.0.0.1:" + port;
    }

    public String name() {
        return name;
    }

    public long pid() {
        return process.pid();
    }

    public boolean alive() {
        return process != null && process.isAlive();
    }

    /** Starts the node and waits until it answers health checks. */
    public NodeProcess start(Duration timeout) throws IOException {
        String java = ProcessHandle.current().info().command().orElse("java");
        List<String> cmd = new ArrayList<>(List.of(java, "-Xmx256m"));
        // Extra JVM options for the nodes (a profiler, say): -Dzerodrop.node.jvmArgs="-XX:... -XX:..."
        String extra = System.getProperty("zerodrop.node.jvmArgs", "").strip();
        if (!extra.isEmpty()) cmd.addAll(List.of(extra.split("\\s+")));
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"),
                "dev.zerodrop.cli.Main", "serve", "--port", Integer.toString(port), "--host", "127.0.0.1"));
        flags.forEach((k, v) -> {
            cmd.add("--" + k);
            cmd.add(v);
        });
        Files.createDirectories(logDir);
        Path log = logDir.resolve(name + "-" + (++starts) + ".log");
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
        // As ./zerodrop does: glibc's per-thread malloc arenas would otherwise add about 100 MiB of RSS.
        pb.environment().putIfAbsent("MALLOC_ARENA_MAX", "2");
        process = pb.start();
        waitHealthy(timeout);
        return this;
    }

    public void waitHealthy(Duration timeout) throws IOException {
        HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(1)).build();
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) throw new IOException(name + " exited with " + process.exitValue() + " while starting");
            try {
                var r = http.send(HttpRequest.newBuilder(URI.create(url() + "/api/v1/health")).timeout(Duration.ofSeconds(2)).build(),
                        HttpResponse.BodyHandlers.discarding());
                if (r.statusCode() == 204) return;
            } catch (IOException e) {
                // not up yet
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted", e);
            }
            pause(Duration.ofMillis(100));
        }
        throw new IOException(name + " did not become healthy within " + timeout);
    }

    /** {@code kill -9}: the JVM dies at once; an embedded PostgreSQL it started is orphaned. */
    public void kill9() throws InterruptedException {
        process.destroyForcibly();
        process.waitFor();
    }

    /** {@code SIGTERM}: a graceful stop. Returns how long the process took to exit, or null if it did not. */
    public Duration term(Duration timeout) throws InterruptedException {
        long start = System.nanoTime();
        process.destroy();
        if (!process.waitFor(timeout.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS)) return null;
        return Duration.ofNanos(System.nanoTime() - start);
    }

    public int exitCode() {
        return process.exitValue();
    }

    public void freeze() throws IOException, InterruptedException {
        signal("STOP");
    }

    public void thaw() throws IOException, InterruptedException {
        signal("CONT");
    }

    private void signal(String sig) throws IOException, InterruptedException {
        new ProcessBuilder("kill", "-" + sig, Long.toString(process.pid())).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start().waitFor();
    }

    /** Counts the lines of this node's logs (all its runs) that contain {@code text}. */
    public long countInLogs(String text) throws IOException {
        long n = 0;
        for (int i = 1; i <= starts; i++) {
            Path log = logDir.resolve(name + "-" + i + ".log");
            if (Files.exists(log)) {
                try (var lines = Files.lines(log)) {
                    n += lines.filter(l -> l.contains(text)).count();
                }
            }
        }
        return n;
    }

    public static void pause(Duration d) {
        try {
            Thread.sleep(d);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
