package dev.zerodrop.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import dev.zerodrop.Server;
import dev.zerodrop.chaos.Receiver;
import dev.zerodrop.config.Knob;
import dev.zerodrop.testing.TestDatabase;
import dev.zerodrop.testing.TestServer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.StreamSupport;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Replay-missing and bulk-replay: background tasks that send an endpoint's messages again, end to end. */
class ReplayTest {
    static TestDatabase db;
    static TestServer zd;

    @BeforeAll
    static void start() throws Exception {
        db = TestDatabase.create("replay");
        Map<Knob, String> knobs = TestServer.defaults(db.url());
        knobs.put(Knob.REPLAY_RATE, "1000"); // replays fall due 1 ms apart per endpoint
        zd = TestServer.start(knobs, TestServer.quiet(Server.Options.defaults()));
    }

    @AfterAll
    static void stop() {
        if (zd != null) zd.close();
        if (db != null) db.close();
    }

    /** Waits for a task to end and returns it; fails if it failed. */
    static JsonNode finished(TestServer zd, JsonNode started) {
        assertThat(started.get("status").asText()).isIn("running", "finished");
        String id = started.get("id").asText();
        assertThat(id).startsWith("qtask_");
        await().atMost(Duration.ofSeconds(20)).until(() -> !zd.get("/api/v1/background-task/" + id).get("status").asText().equals("running"));
        JsonNode t = zd.get("/api/v1/background-task/" + id);
        assertThat(t.get("status").asText()).as("task %s", t).isEqualTo("finished");
        return t;
    }

    static JsonNode task(TestServer zd, String path, Object body) {
        TestServer.Response r = zd.call("POST", path, body);
        assertThat(r.status()).as(r.text()).isEqualTo(202);
        return r.json();
    }

    static String send(TestServer zd, String app, String type, List<String> channels) {
        Map<String, Object> body = new java.util.HashMap<>(Map.of("eventType", type, "payload", Map.of("type", type)));
        if (channels != null) body.put("channels", channels);
        return zd.post("/api/v1/app/" + app + "/msg", body).get("id").asText();
    }

    static Set<String> ids(Receiver r) {
        Set<String> out = new HashSet<>();
        r.requests().forEach(x -> out.add(x.header("webhook-id")));
        return out;
    }

    static long deliveriesTo(String app, String endpoint) {
        JsonNode page = zd.get("/api/v1/app/" + app + "/endpoint/" + endpoint + "/msg?limit=250");
        return page.get("data").size();
    }

    static void auditBalances(TestServer zd, String app) {
        JsonNode audit = zd.get("/api/v1/audit?app_id=" + app);
        long sum = 0;
        for (String s : List.of("pending", "sending", "delivered", "dead", "discarded", "held")) sum += audit.get(s).asLong();
        assertThat(sum).as("audit %s", audit).isEqualTo(audit.get("accepted").asLong());
        assertThat(audit.get("unaccounted").asLong()).isZero();
    }

    @Test
    void replayMissingSendsWhatALaterEndpointShouldHaveHadOnceHonouringItsFiltersAndChannels() throws Exception {
        try (Receiver typed = Receiver.alwaysOk(); Receiver eu = Receiver.alwaysOk(); Receiver off = Receiver.alwaysOk()) {
            String app = zd.createApp("missing");
            String a1 = send(zd, app, "a", null);
            String a2 = send(zd, app, "a", List.of("eu"));
            String b1 = send(zd, app, "b", List.of("eu"));
            send(zd, app, "b", null);
            String a3 = send(zd, app, "a", List.of("us"));
            // Endpoints made after the messages: they have no deliveries of them.
            var typedEp = zd.createEndpoint(app, Map.of("url", typed.url("/typed"), "filterTypes", List.of("a")));
            var euEp = zd.createEndpoint(app, Map.of("url", eu.url("/eu"), "channels", List.of("eu")));
            var offEp = zd.createEndpoint(app, Map.of("url", off.url("/off"), "disabled", true));
            String path = "/api/v1/app/" + app + "/endpoint/";

            JsonNode t = finished(zd, task(zd, path + typedEp.id() + "/replay-missing", Map.of("since", "2000-01-01T00:00:00Z")));
            assertThat(t.get("task").asText()).isEqualTo("endpoint.replay");
            assertThat(t.get("data").get("messagesSent").asLong()).isEqualTo(3);
            await().atMost(Duration.ofSeconds(10)).until(() -> ids(typed).size() == 3);
            assertThat(ids(typed)).containsExactlyInAnyOrder(a1, a2, a3);

            JsonNode e = finished(zd, task(zd, path + euEp.id() + "/replay-missing", Map.of("since", "2000-01-01T00:00:00Z")));
            assertThat(e.get("data").get("messagesSent").asLong()).isEqualTo(2);
            await().atMost(Duration.ofSeconds(10)).until(() -> ids(eu).size() == 2);
            assertThat(ids(eu)).containsExactlyInAnyOrder(a2, b1);

            // A disabled endpoint's missing deliveries are held, not sent.
            JsonNode o = finished(zd, task(zd, path + offEp.id() + "/replay-missing", Map.of("since", "2000-01-01T00:00:00Z")));
            assertThat(o.get("data").get("messagesSent").asLong()).isZero();
            assertThat(o.get("data").get("messagesHeld").asLong()).isEqualTo(5);
            assertThat(deliveriesTo(app, offEp.id())).isEqualTo(5);
            assertThat(off.requests()).isEmpty();

            // Twice: nothing new, no duplicate deliveries.
            JsonNode again = finished(zd, task(zd, path + typedEp.id() + "/replay-missing", Map.of("since", "2000-01-01T00:00:00Z")));
            assertThat(again.get("data").get("messagesSent").asLong()).isZero();
            assertThat(deliveriesTo(app, typedEp.id())).isEqualTo(3);
            await().atMost(Duration.ofSeconds(10)).until(() -> zd.get("/api/v1/app/" + app + "/attempt/endpoint/" + typedEp.id()).get("data").size() == 3);
            assertThat(typed.requests()).hasSize(3);
            // Replayed deliveries are manual attempts.
            JsonNode attempts = zd.get("/api/v1/app/" + app + "/attempt/endpoint/" + typedEp.id()).get("data");
            assertThat(StreamSupport.stream(attempts.spliterator(), false).allMatch(x -> x.get("triggerType").asInt() == 1)).isTrue();

            // A window before every message replays nothing; the window is the message's creation time.
            var late = zd.createEndpoint(app, Map.of("url", typed.url("/late")));
            JsonNode none = finished(zd, task(zd, path + late.id() + "/replay-missing",
                    Map.of("since", "2000-01-01T00:00:00Z", "until", "2001-01-01T00:00:00Z")));
            assertThat(none.get("data").get("messagesSent").asLong()).isZero();
            assertThat(deliveriesTo(app, late.id())).isZero();
            auditBalances(zd, app);
        }
    }

    @Test
    void replayMissingWalksPastOneBatch() throws Exception {
        try (Receiver r = Receiver.alwaysOk()) {
            String app = zd.createApp("many");
            int n = 1_001; // one more than a batch
            for (int i = 0; i < n; i++) send(zd, app, "x", null);
            var ep = zd.createEndpoint(app, Map.of("url", r.url("/many")));
            JsonNode t = finished(zd, task(zd, "/api/v1/app/" + app + "/endpoint/" + ep.id() + "/replay-missing",
                    Map.of("since", "2000-01-01T00:00:00Z")));
            assertThat(t.get("data").get("messagesSent").asLong()).isEqualTo(n);
            await().atMost(Duration.ofSeconds(60)).until(() -> ids(r).size() == n);
            auditBalances(zd, app);
        }
    }

    /** Prints how fast the batches go on a larger application; the messages are written by SQL. */
    @Test
    void replayMissingAndExpungeAllOnTwentyThousandMessages() {
        String app = zd.createApp("large");
        int n = 20_000;
        db.exec("""
                INSERT INTO message (id, app_id, event_type, payload, created_at, part_at)
                SELECT 'msg_' || lpad(i::text, 27, '0'), '%s', 'x', '{"i": 1}'::bytea, now(), now() FROM generate_series(1, %d) i"""
                .formatted(app, n));
        // Never delivered: the endpoint is disabled, so each replayed delivery is held.
        var ep = zd.createEndpoint(app, Map.of("url", "http://127.0.0.1:9/large", "disabled", true));
        long t0 = System.nanoTime();
        JsonNode t = finished(zd, task(zd, "/api/v1/app/" + app + "/endpoint/" + ep.id() + "/replay-missing",
                Map.of("since", "2000-01-01T00:00:00Z")));
        long replayMs = (System.nanoTime() - t0) / 1_000_000;
        assertThat(t.get("data").get("messagesHeld").asLong()).isEqualTo(n);
        long t1 = System.nanoTime();
        JsonNode p = finished(zd, task(zd, "/api/v1/app/" + app + "/msg/expunge-all-contents", null));
        long purgeMs = (System.nanoTime() - t1) / 1_000_000;
        assertThat(p.get("data").get("messagesPurged").asLong()).isEqualTo(n);
        assertThat(p.get("data").get("deliveriesDiscarded").asLong()).isEqualTo(n);
        System.out.printf("replay-missing: %d deliveries in %d ms (%.0f/s); expunge-all-contents: %d messages in %d ms (%.0f/s)%n",
                n, replayMs, n * 1000.0 / Math.max(1, replayMs), n, purgeMs, n * 1000.0 / Math.max(1, purgeMs));
        auditBalances(zd, app);
    }

    @Test
    void bulkReplaySendsTheMatchingDeliveriesAgainWithAFreshBudget() throws Exception {
        try (Receiver r = new Receiver((req, previous) -> Receiver.status(500))) {
            String app = zd.createApp("bulk");
            var ep = zd.createEndpoint(app, Map.of("url", r.url("/bulk")));
            List<String> failed = new ArrayList<>();
            for (int i = 0; i < 3; i++) failed.add(send(zd, app, i == 0 ? "x" : "y", null));
            await().atMost(Duration.ofSeconds(20)).until(() -> failed.stream().allMatch(m -> zd.deliveryState(app, m).equals("dead")));
            r.script((req, previous) -> Receiver.ok());
            String good = send(zd, app, "y", null);
            await().atMost(Duration.ofSeconds(10)).until(() -> zd.deliveryState(app, good).equals("delivered"));
            String path = "/api/v1/app/" + app + "/endpoint/" + ep.id() + "/bulk-replay";

            // status 2: the failed ones, of event type y only.
            JsonNode t = finished(zd, task(zd, path, Map.of("since", "2000-01-01T00:00:00Z", "status", 2, "eventTypes", List.of("y"))));
            assertThat(t.get("task").asText()).isEqualTo("endpoint.bulk-replay");
            assertThat(t.get("data").get("messagesSent").asLong()).isEqualTo(2);
            await().atMost(Duration.ofSeconds(10)).until(() -> zd.deliveryState(app, failed.get(1)).equals("delivered")
                    && zd.deliveryState(app, failed.get(2)).equals("delivered"));
            assertThat(zd.deliveryState(app, failed.get(0))).isEqualTo("dead");

            // Without a status: every finished delivery, delivered ones included. No new delivery rows.
            int before = r.requests().size();
            JsonNode all = finished(zd, task(zd, path, Map.of("since", "2000-01-01T00:00:00Z")));
            assertThat(all.get("data").get("messagesSent").asLong()).isEqualTo(4);
            await().atMost(Duration.ofSeconds(10)).until(() -> r.requests().size() == before + 4);
            await().atMost(Duration.ofSeconds(10)).until(() -> failed.stream().allMatch(m -> zd.deliveryState(app, m).equals("delivered")));
            assertThat(deliveriesTo(app, ep.id())).isEqualTo(4);
            assertThat(ids(r)).containsAll(failed).contains(good);

            // The status code class of the last attempt: 5xx matches nothing now, 2xx everything.
            JsonNode none = finished(zd, task(zd, path, Map.of("since", "2000-01-01T00:00:00Z", "statusCodeClass", 500)));
            assertThat(none.get("data").get("messagesSent").asLong()).isZero();
            auditBalances(zd, app);
        }
    }

    @Test
    void badReplayRequestsAre422sNamingTheField() {
        String app = zd.createApp("bad-replay");
        var ep = zd.createEndpoint(app, Map.of("url", "http://127.0.0.1:9/x"));
        String path = "/api/v1/app/" + app + "/endpoint/" + ep.id();
        ApiTest.assertClientError(zd.call("POST", path + "/replay-missing", Map.of()), 422, "since");
        ApiTest.assertClientError(zd.call("POST", path + "/replay-missing", Map.of("since", "yesterday")), 422, "since");
        ApiTest.assertClientError(zd.call("POST", path + "/replay-missing",
                Map.of("since", "2020-01-02T00:00:00Z", "until", "2020-01-01T00:00:00Z")), 422, "until");
        ApiTest.assertClientError(zd.call("POST", path + "/bulk-replay", Map.of("since", "2020-01-01T00:00:00Z", "status", 7)), 422, "status");
        ApiTest.assertClientError(zd.call("POST", path + "/bulk-replay", Map.of("since", "2020-01-01T00:00:00Z", "status", 3)), 422, "status");
        ApiTest.assertClientError(zd.call("POST", path + "/bulk-replay", Map.of("since", "2020-01-01T00:00:00Z", "tag", "t")), 422, "tag");
        ApiTest.assertClientError(zd.call("POST", path + "/bulk-replay", Map.of("since", "2020-01-01T00:00:00Z", "statusCodeClass", 250)),
                422, "statusCodeClass");
        ApiTest.assertClientError(zd.call("POST", path + "/recover", Map.of("until", "2020-01-01T00:00:00Z")), 422, "since");
        ApiTest.assertClientError(zd.call("POST", "/api/v1/app/" + app + "/endpoint/ep_nope/replay-missing",
                Map.of("since", "2020-01-01T00:00:00Z")), 404, "endpoint");
    }
}
