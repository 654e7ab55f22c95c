package dev.zerodrop.api;

import static dev.zerodrop.api.ReplayTest.finished;
import static dev.zerodrop.api.ReplayTest.task;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import dev.zerodrop.Server;
import dev.zerodrop.chaos.Receiver;
import dev.zerodrop.testing.TestDatabase;
import dev.zerodrop.testing.TestServer;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** /api/v1/background-task: tasks as they run, list and filter; tasks abandoned by a dead node are taken over or failed. */
class BackgroundTaskTest {
    static TestDatabase db;
    static TestServer zd;

    @BeforeAll
    static void start() throws Exception {
        db = TestDatabase.create("tasks");
        zd = TestServer.start(TestServer.defaults(db.url()), TestServer.quiet(Server.Options.defaults()));
    }

    @AfterAll
    static void stop() {
        if (zd != null) zd.close();
        if (db != null) db.close();
    }

    /** An endpoint of a new application with {@code n} dead deliveries. */
    static String[] deadEndpoint(Receiver r, String name, int n) {
        String app = zd.createApp(name);
        var ep = zd.createEndpoint(app, Map.of("url", r.url("/" + name)));
        List<String> msgs = new java.util.ArrayList<>();
        for (int i = 0; i < n; i++) msgs.add(zd.post("/api/v1/app/" + app + "/msg", Map.of("eventType", "x", "payload", Map.of("i", i))).get("id").asText());
        await().atMost(Duration.ofSeconds(20)).until(() -> msgs.stream().allMatch(m -> zd.deliveryState(app, m).equals("dead")));
        return new String[] {app, ep.id(), msgs.getFirst()};
    }

    @Test
    void recoverIsARealTaskThatCanBeReadAndListed() throws Exception {
        try (Receiver r = new Receiver((req, previous) -> Receiver.status(500))) {
            String[] dead = deadEndpoint(r, "tasks-recover", 2);
            r.script((req, previous) -> Receiver.ok());
            JsonNode started = task(zd, "/api/v1/app/" + dead[0] + "/endpoint/" + dead[1] + "/recover", Map.of("since", "2000-01-01T00:00:00Z"));
            assertThat(started.get("task").asText()).isEqualTo("endpoint.recover");
            assertThat(started.get("updatedAt").asText()).isNotEmpty();
            JsonNode t = finished(zd, started);
            assertThat(t.get("data").get("messagesSent").asLong()).isEqualTo(2);
            await().atMost(Duration.ofSeconds(10)).until(() -> zd.deliveryState(dead[0], dead[2]).equals("delivered"));

            // Listing: newest first by default, filtered by status and type, paged.
            for (int i = 0; i < 2; i++) {
                finished(zd, task(zd, "/api/v1/app/" + dead[0] + "/endpoint/" + dead[1] + "/replay-missing", Map.of("since", "2000-01-01T00:00:00Z")));
            }
            JsonNode recovers = zd.get("/api/v1/background-task?task=endpoint.recover&status=finished");
            assertThat(recovers.get("data")).extracting(x -> x.get("id").asText()).contains(t.get("id").asText());
            assertThat(recovers.get("data")).allMatch(x -> x.get("task").asText().equals("endpoint.recover"));
            assertThat(zd.get("/api/v1/background-task?status=failed&task=endpoint.replay").get("data")).isEmpty();
            Set<String> seen = new HashSet<>();
            String iterator = null;
            for (int pages = 0; pages < 10; pages++) {
                JsonNode page = zd.get("/api/v1/background-task?limit=1" + (iterator == null ? "" : "&iterator=" + iterator));
                page.get("data").forEach(x -> seen.add(x.get("id").asText()));
                if (page.get("done").asBoolean()) break;
                iterator = page.get("iterator").asText();
            }
            assertThat(seen).hasSizeGreaterThanOrEqualTo(3);

            ApiTest.assertClientError(zd.call("GET", "/api/v1/background-task/qtask_nope", null), 404, "qtask_nope");
            ApiTest.assertClientError(zd.call("GET", "/api/v1/background-task?status=done", null), 422, "status");
            ApiTest.assertClientError(zd.call("GET", "/api/v1/background-task?task=endpoint.nope", null), 422, "task");
        }
    }

    @Test
    void aTaskLeftRunningByADeadNodeIsTakenOverAndFinishes() throws Exception {
        try (Receiver r = new Receiver((req, previous) -> Receiver.status(500))) {
            String[] dead = deadEndpoint(r, "tasks-orphan", 3);
            r.script((req, previous) -> Receiver.ok());
            // What a node that died mid-task leaves behind: a running task whose lease has expired.
            db.exec("""
                    INSERT INTO background_task (id, task, status, app_id, endpoint_id, actor, params, data, position, owner,
                                                 lease_token, lease_expires_at, created_at, updated_at)
                    VALUES ('qtask_orphan', 'endpoint.recover', 'running', '%s', '%s', 'test',
                            '{"since": "2000-01-01T00:00:00Z", "startedAt": "%s"}',
                            '{"messagesSent": 0, "messagesHeld": 0, "skippedExpunged": 0, "scanned": 0}', '', 'node-dead',
                            3, now() - interval '1 minute', now() - interval '2 minutes', now() - interval '2 minutes')"""
                    .formatted(dead[0], dead[1], java.time.Instant.now()));
            await().atMost(Duration.ofSeconds(20)).until(() -> zd.get("/api/v1/background-task/qtask_orphan").get("status").asText().equals("finished"));
            assertThat(zd.get("/api/v1/background-task/qtask_orphan").get("data").get("messagesSent").asLong()).isEqualTo(3);
            await().atMost(Duration.ofSeconds(10)).until(() -> zd.deliveryState(dead[0], dead[2]).equals("delivered"));
        }
    }

    @Test
    void aTaskAbandonedTooOftenFailsWithAReason() {
        String app = zd.createApp("tasks-abandoned");
        db.exec("""
                INSERT INTO background_task (id, task, status, app_id, actor, params, data, position, owner, lease_token, lease_expires_at,
                                             takeovers, created_at, updated_at)
                VALUES ('qtask_cursed', 'application.purge_content', 'running', '%s', 'test', '{}', '{"messagesPurged": 0}', '',
                        'node-dead', 6, now() - interval '1 minute', 5, now(), now())""".formatted(app));
        await().atMost(Duration.ofSeconds(20)).until(() -> zd.get("/api/v1/background-task/qtask_cursed").get("status").asText().equals("failed"));
        JsonNode t = zd.get("/api/v1/background-task/qtask_cursed");
        assertThat(t.get("data").get("error").asText()).contains("abandoned");
        assertThat(t.get("data").get("messagesPurged").asLong()).isZero();
    }
}
