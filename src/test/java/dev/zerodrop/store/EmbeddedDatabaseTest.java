package dev.zerodrop.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.zerodrop.Server;
import dev.zerodrop.config.Knob;
import dev.zerodrop.chaos.Receiver;
import dev.zerodrop.testing.TestServer;
import java.io.File;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.ResultSet;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The embedded PostgreSQL: durable settings, data that survives restarts, recovery after kill -9, and
 * one server per data directory.
 */
class EmbeddedDatabaseTest {
    @TempDir
    Path dir;

    static Map<Knob, String> embedded(Path dataDir) {
        Map<Knob, String> knobs = TestServer.defaults(null);
        knobs.put(Knob.DATA_DIR, dataDir.toString());
        return knobs;
    }

    @Test
    void runsWithFsyncAndSynchronousCommitOn() throws Exception {
        try (TestServer zd = TestServer.start(embedded(dir.resolve("data")), TestServer.quiet(Server.Options.defaults()))) {
            try (var c = zd.server().database().jdbc().dataSource().getConnection(); var s = c.createStatement()) {
                for (String setting : List.of("fsync", "synchronous_commit", "full_page_writes")) {
                    try (ResultSet rs = s.executeQuery("SHOW " + setting)) {
                        rs.next();
                        assertThat(rs.getString(1)).as(setting).isEqualTo("on");
                    }
                }
            }
            assertThat(zd.call("GET", "/api/v1/health", null).status()).isEqualTo(204);
        }
    }

    @Test
    void pendingDeliveriesAreDeliveredAfterARestart() throws Exception {
        Path data = dir.resolve("data");
        Map<Knob, String> noDispatch = embedded(data);
        noDispatch.put(Knob.DISPATCH, "false");
        String app;
        List<String> msgs = new ArrayList<>();
        try (Receiver r = Receiver.alwaysOk()) {
            try (TestServer zd = TestServer.start(noDispatch, TestServer.quiet(Server.Options.defaults()))) {
                app = zd.createApp("restart");
                zd.createEndpoint(app, Map.of("url", r.url("/hook")));
                for (int i = 0; i < 30; i++) {
                    msgs.add(zd.post("/api/v1/app/" + app + "/msg", Map.of("eventType", "x", "payload", Map.of("i", i))).get("id").asText());
                }
            }
            assertThat(r.requests()).isEmpty();
            try (TestServer zd = TestServer.start(embedded(data), TestServer.quiet(Server.Options.defaults()))) {
                await().atMost(Duration.ofSeconds(30)).until(() -> r.requests().size() >= 30);
                assertThat(r.requests()).extracting(x -> x.header("webhook-id")).containsExactlyInAnyOrderElementsOf(msgs);
                assertThat(zd.get("/api/v1/app/" + app).get("name").asText()).isEqualTo("restart");
            }
        }
    }

    /**
     * kill -9 of the JVM leaves its PostgreSQL running as an orphan; kill -9 of both leaves a stale
     * lock file. Either way the next start recovers, and every acknowledged message is delivered.
     */
    @Test
    void recoversAfterKillNineWhetherOrNotTheOrphanedPostgresIsStillRunning() throws Exception {
        Path data = dir.resolve("data");
        // The child node acknowledges messages but does not dispatch: they are pending when it dies.
        try (Receiver r = Receiver.alwaysOk()) {
            // Round 1: only the JVM dies; its PostgreSQL keeps running.
            Process node = startChild(data);
            String app = waitHealthyAndCreate(node, r, "orphan");
            List<String> acked = sendMessages(app, 20);
            node.destroyForcibly().waitFor();
            long orphan = postmasterPid(data).orElseThrow();
            assertThat(ProcessHandle.of(orphan).map(ProcessHandle::isAlive)).contains(true);

            assertThat(r.requests()).isEmpty();
            try (TestServer zd = TestServer.start(port(embedded(data)), TestServer.quiet(Server.Options.defaults()))) {
                await().atMost(Duration.ofSeconds(30)).until(() -> delivered(r).containsAll(acked));
                assertThat(ProcessHandle.of(orphan).map(ProcessHandle::isAlive).orElse(false)).isFalse();
            }

            // Round 2: the JVM and its PostgreSQL both die hard.
            node = startChild(data);
            waitHealthy();
            List<String> acked2 = sendMessages(app, 20);
            node.destroyForcibly().waitFor();
            long pg = postmasterPid(data).orElseThrow();
            ProcessHandle.of(pg).ifPresent(ProcessHandle::destroyForcibly);
            await().atMost(Duration.ofSeconds(10)).until(() -> ProcessHandle.of(pg).map(h -> !h.isAlive()).orElse(true));
            try (TestServer zd = TestServer.start(port(embedded(data)), TestServer.quiet(Server.Options.defaults()))) {
                await().atMost(Duration.ofSeconds(60)).until(() -> delivered(r).containsAll(acked2));
            }
        }
    }

    /**
     * A second {@code serve} on a data directory in use stops at once, before touching PostgreSQL,
     * with a one-line error and exit code 3; the first server keeps its PostgreSQL and keeps working.
     */
    @Test
    void aSecondServerOnADataDirectoryInUseStopsAtOnceAndLeavesTheFirstRunning() throws Exception {
        Path data = dir.resolve("data");
        try (Receiver r = Receiver.alwaysOk()) {
            Process first = startChild(data);
            String app;
            List<String> acked;
            try {
                app = waitHealthyAndCreate(first, r, "first");
                long pg = postmasterPid(data).orElseThrow();

                Path err = dir.resolve("second.err");
                long started = System.nanoTime();
                Process second = new ProcessBuilder(serveCommand(data, freePort())).redirectError(err.toFile())
                        .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
                assertThat(second.waitFor(60, TimeUnit.SECONDS)).as("the second server exits").isTrue();
                System.out.printf("second serve on a data directory in use exited %d after %d ms (JVM start included)%n",
                        second.exitValue(), TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started));
                assertThat(second.exitValue()).isEqualTo(3);
                assertThat(Files.readAllLines(err)).containsExactly("zerodrop: the data directory " + data
                        + " is in use by another ZeroDrop server (pid " + first.pid() + "); stop it first or choose another --data-dir");

                assertThatThrownBy(() -> TestServer.start(embedded(data), TestServer.quiet(Server.Options.defaults())))
                        .isInstanceOf(EmbeddedDatabase.InUseException.class).hasMessageContaining("(pid " + first.pid() + ")");

                assertThat(postmasterPid(data)).contains(pg);
                assertThat(ProcessHandle.of(pg).map(ProcessHandle::isAlive)).contains(true);
                assertThat(health()).isEqualTo(204);
                acked = sendMessages(app, 1);
            } finally {
                first.destroy(); // SIGTERM: a graceful stop, which releases the data directory
                assertThat(first.waitFor(90, TimeUnit.SECONDS)).as("the first server stops").isTrue();
            }
            // The child does not dispatch: the message it accepted goes out from the next server on the directory.
            try (TestServer zd = TestServer.start(embedded(data), TestServer.quiet(Server.Options.defaults()))) {
                await().atMost(Duration.ofSeconds(30)).until(() -> delivered(r).containsAll(acked));
            }
        }
    }

    /** Within one JVM too, and the directory is free again once the first server has stopped. */
    @Test
    void aSecondServerInTheSameJvmIsRefusedUntilTheFirstHasStopped() throws Exception {
        Path data = dir.resolve("data");
        try (TestServer zd = TestServer.start(embedded(data), TestServer.quiet(Server.Options.defaults()))) {
            assertThatThrownBy(() -> TestServer.start(embedded(data.resolve("..").resolve("data")), TestServer.quiet(Server.Options.defaults())))
                    .isInstanceOf(EmbeddedDatabase.InUseException.class)
                    .hasMessage("the data directory " + data + " is in use by another ZeroDrop server (pid "
                            + ProcessHandle.current().pid() + "); stop it first or choose another --data-dir");
            assertThat(zd.call("GET", "/api/v1/health", null).status()).isEqualTo(204);
            zd.createApp("still-here");
        }
        try (TestServer zd = TestServer.start(embedded(data), TestServer.quiet(Server.Options.defaults()))) {
            assertThat(zd.get("/api/v1/app").get("data").get(0).get("name").asText()).isEqualTo("still-here");
        }
    }

    private int childPort;

    private Map<Knob, String> port(Map<Knob, String> knobs) {
        knobs.put(Knob.PORT, Integer.toString(childPort));
        return knobs;
    }

    private Process startChild(Path data) throws Exception {
        if (childPort == 0) childPort = freePort();
        File log = dir.resolve("child-" + System.nanoTime() + ".log").toFile();
        return new ProcessBuilder(serveCommand(data, childPort)).redirectErrorStream(true).redirectOutput(log).start();
    }

    private static int freePort() throws IOException {
        try (var s = new java.net.ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    /** A child node on the test nodes' key ring: the in-process servers that follow open what it sealed. */
    private static List<String> serveCommand(Path data, int port) {
        String java = ProcessHandle.current().info().command().orElse("java");
        return List.of(java, "-cp", System.getProperty("java.class.path"), "dev.zerodrop.cli.Main", "serve",
                "--port", Integer.toString(port), "--host", "127.0.0.1", "--data-dir", data.toString(),
                "--admin-token", TestServer.TOKEN, "--secret-key", TestServer.SECRET_KEY, "--allow-private-cidrs", "127.0.0.0/8",
                "--dispatch", "false");
    }

    private final HttpClient http = HttpClient.newHttpClient();

    private void waitHealthy() {
        await().atMost(Duration.ofSeconds(60)).ignoreExceptions().until(() -> health() == 204);
    }

    private int health() throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + childPort + "/api/v1/health")).build(),
                HttpResponse.BodyHandlers.discarding()).statusCode();
    }

    private String waitHealthyAndCreate(Process node, Receiver r, String name) throws Exception {
        waitHealthy();
        String app = json("POST", "/api/v1/app", "{\"name\":\"" + name + "\"}").get("id").asText();
        json("POST", "/api/v1/app/" + app + "/endpoint", "{\"url\":\"" + r.url("/hook") + "\"}");
        return app;
    }

    private List<String> sendMessages(String app, int n) throws Exception {
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            ids.add(json("POST", "/api/v1/app/" + app + "/msg", "{\"eventType\":\"x\",\"payload\":{\"i\":" + i + "}}").get("id").asText());
        }
        return ids;
    }

    private com.fasterxml.jackson.databind.JsonNode json(String method, String path, String body) throws Exception {
        var res = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + childPort + path))
                .header("Authorization", "Bearer " + TestServer.TOKEN).header("Content-Type", "application/json")
                .method(method, HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(res.statusCode()).as(res.body()).isLessThan(300);
        return dev.zerodrop.core.Json.MAPPER.readTree(res.body());
    }

    private static List<String> delivered(Receiver r) {
        List<String> ids = new ArrayList<>();
        for (Receiver.Request x : r.requests()) ids.add(x.header("webhook-id"));
        return ids;
    }

    private static Optional<Long> postmasterPid(Path data) throws Exception {
        Path pid = data.resolve("pg").resolve("postmaster.pid");
        if (!Files.exists(pid)) return Optional.empty();
        return Optional.of(Long.parseLong(Files.readAllLines(pid).getFirst().trim()));
    }
}
