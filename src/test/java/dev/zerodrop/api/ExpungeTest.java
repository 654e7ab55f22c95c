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
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Expunged content is never sent again: its waiting deliveries are discarded with the expunge, resend
 * refuses it, and recover and replays skip it and count it.
 */
class ExpungeTest {
    static TestDatabase db;
    static TestServer zd;

    @BeforeAll
    static void start() throws Exception {
        db = TestDatabase.create("expunge");
        zd = TestServer.start(TestServer.defaults(db.url()), TestServer.quiet(Server.Options.defaults()));
    }

    @AfterAll
    static void stop() {
        if (zd != null) zd.close();
        if (db != null) db.close();
    }

    static String send(String app, Map<String, Object> extra) {
        Map<String, Object> body = new java.util.HashMap<>(Map.of("eventType", "secret.thing", "payload", Map.of("card", "4111 1111")));
        body.putAll(extra);
        return zd.post("/api/v1/app/" + app + "/msg", body).get("id").asText();
    }

    static JsonNode destination(String app, String msg) {
        return zd.get("/api/v1/app/" + app + "/msg/" + msg + "/endpoint").get("data").get(0);
    }

    static JsonNode dlqEntry(String app, String msg, String state) {
        for (JsonNode e : zd.get("/api/v1/dlq?state=" + state + "&app_id=" + app + "&limit=250").get("data")) {
            if (e.get("msgId").asText().equals(msg)) return e;
        }
        return null;
    }

    @Test
    void expungingDiscardsWaitingDeliveriesAndNothingIsSentAfterwards() throws Exception {
        try (Receiver r = Receiver.alwaysOk()) {
            String app = zd.createApp("expunge-waiting");
            var held = zd.createEndpoint(app, Map.of("url", r.url("/held"), "disabled", true));
            String heldMsg = send(app, Map.of());
            String keptMsg = send(app, Map.of());
            // A pending delivery: its first attempt is scheduled an hour from now.
            var pendingEp = zd.createEndpoint(app, Map.of("url", r.url("/pending"), "filterTypes", List.of("later.thing")));
            String laterMsg = send(app, Map.of("eventType", "later.thing", "deliverAt", Instant.now().plus(Duration.ofHours(1)).toString()));
            assertThat(zd.get("/api/v1/app/" + app + "/msg/" + laterMsg + "/endpoint").get("data")).extracting(d -> d.get("state").asText())
                    .containsExactlyInAnyOrder("pending", "held");
            assertThat(zd.deliveryState(app, heldMsg)).isEqualTo("held");

            assertThat(zd.call("DELETE", "/api/v1/app/" + app + "/msg/" + heldMsg + "/content", null).status()).isEqualTo(204);
            assertThat(zd.call("DELETE", "/api/v1/app/" + app + "/msg/" + laterMsg + "/content", null).status()).isEqualTo(204);
            assertThat(destination(app, heldMsg).get("state").asText()).isEqualTo("discarded");
            JsonNode discarded = dlqEntry(app, heldMsg, "discarded");
            assertThat(discarded).isNotNull();
            assertThat(discarded.get("reason").asText()).isEqualTo("content expunged");
            for (JsonNode d : zd.get("/api/v1/app/" + app + "/msg/" + laterMsg + "/endpoint").get("data")) {
                assertThat(d.get("state").asText()).as("delivery of %s", laterMsg).isEqualTo("discarded");
            }
            assertThat(zd.get("/api/v1/app/" + app + "/msg/" + heldMsg).get("payload").toString()).isEqualTo("{}");

            // Resend refuses it, naming why.
            TestServer.Response resend = zd.call("POST", "/api/v1/app/" + app + "/msg/" + heldMsg + "/endpoint/" + pendingEp.id() + "/resend", null);
            ApiTest.assertClientError(resend, 409, "expunged");
            assertThat(resend.json().get("code").asText()).isEqualTo("content_expunged");

            // The endpoint comes back: the kept message goes out, the expunged one never does, not even as {}.
            zd.call("PATCH", "/api/v1/app/" + app + "/endpoint/" + held.id(), Map.of("disabled", false));
            await().atMost(Duration.ofSeconds(10)).until(() -> zd.deliveryState(app, keptMsg).equals("delivered"));
            JsonNode replay = zd.post("/api/v1/app/" + app + "/endpoint/" + held.id() + "/replay-missing", Map.of("since", "2000-01-01T00:00:00Z"));
            assertThat(finished(zd, replay).get("data").get("messagesSent").asLong()).isZero();
            assertThat(r.requests()).extracting(x -> x.header("webhook-id")).containsExactly(keptMsg);
            ReplayTest.auditBalances(zd, app);
        }
    }

    @Test
    void recoverAndReplaysSkipExpungedMessagesAndCountThem() throws Exception {
        try (Receiver r = new Receiver((req, previous) -> Receiver.status(500))) {
            String app = zd.createApp("expunge-recover");
            var ep = zd.createEndpoint(app, Map.of("url", r.url("/r")));
            List<String> msgs = new ArrayList<>();
            for (int i = 0; i < 3; i++) msgs.add(send(app, Map.of()));
            await().atMost(Duration.ofSeconds(20)).until(() -> msgs.stream().allMatch(m -> zd.deliveryState(app, m).equals("dead")));
            zd.call("DELETE", "/api/v1/app/" + app + "/msg/" + msgs.getFirst() + "/content", null);
            // A dead delivery is finished: the expunge leaves it dead, and nothing replays it.
            assertThat(zd.deliveryState(app, msgs.getFirst())).isEqualTo("dead");
            String deliveryId = dlqEntry(app, msgs.getFirst(), "dead").get("id").asText();
            assertThat(zd.post("/api/v1/dlq/" + deliveryId + "/replay", null).get("replayed").asLong()).isZero();
            r.script((req, previous) -> Receiver.ok());
            int before = r.requests().size();

            JsonNode t = finished(zd, task(zd, "/api/v1/app/" + app + "/endpoint/" + ep.id() + "/recover", Map.of("since", "2000-01-01T00:00:00Z")));
            assertThat(t.get("task").asText()).isEqualTo("endpoint.recover");
            assertThat(t.get("data").get("messagesSent").asLong()).isEqualTo(2);
            assertThat(t.get("data").get("skippedExpunged").asLong()).isEqualTo(1);
            await().atMost(Duration.ofSeconds(10)).until(() -> zd.deliveryState(app, msgs.get(1)).equals("delivered")
                    && zd.deliveryState(app, msgs.get(2)).equals("delivered"));
            assertThat(zd.deliveryState(app, msgs.getFirst())).isEqualTo("dead");

            JsonNode bulk = finished(zd, task(zd, "/api/v1/app/" + app + "/endpoint/" + ep.id() + "/bulk-replay",
                    Map.of("since", "2000-01-01T00:00:00Z")));
            assertThat(bulk.get("data").get("messagesSent").asLong()).isEqualTo(2);
            assertThat(bulk.get("data").get("skippedExpunged").asLong()).isEqualTo(1);
            await().atMost(Duration.ofSeconds(10)).until(() -> r.requests().size() == before + 4);
            assertThat(r.requests().subList(before, before + 4)).noneMatch(x -> x.header("webhook-id").equals(msgs.getFirst()));
            ReplayTest.auditBalances(zd, app);
        }
    }

    @Test
    void bulkExpungeAnswersPerIdAndExpungeAllContentsIsATask() throws Exception {
        String app = zd.createApp("expunge-bulk");
        zd.createEndpoint(app, Map.of("url", "http://127.0.0.1:9/never", "disabled", true));
        String a = send(app, Map.of());
        String b = send(app, Map.of("eventId", "evt-b"));
        String c = send(app, Map.of());
        TestServer.Response r = zd.call("POST", "/api/v1/app/" + app + "/msg/bulk-expunge", Map.of("ids", List.of(a, "evt-b", "msg_nope")));
        assertThat(r.status()).as(r.text()).isEqualTo(200);
        assertThat(r.json().get("results").get(a).asText()).isEqualTo("expunged");
        assertThat(r.json().get("results").get("evt-b").asText()).isEqualTo("expunged");
        assertThat(r.json().get("results").get("msg_nope").asText()).isEqualTo("not-found");
        assertThat(zd.deliveryState(app, b)).isEqualTo("discarded");
        assertThat(zd.deliveryState(app, c)).isEqualTo("held");
        ApiTest.assertClientError(zd.call("POST", "/api/v1/app/" + app + "/msg/bulk-expunge", Map.of()), 422, "ids");
        ApiTest.assertClientError(zd.call("POST", "/api/v1/app/" + app + "/msg/bulk-expunge", Map.of("ids", List.of())), 422, "ids");

        JsonNode t = finished(zd, task(zd, "/api/v1/app/" + app + "/msg/expunge-all-contents", null));
        assertThat(t.get("task").asText()).isEqualTo("application.purge_content");
        assertThat(t.get("data").get("messagesPurged").asLong()).isEqualTo(1); // a and b were expunged already
        assertThat(t.get("data").get("deliveriesDiscarded").asLong()).isEqualTo(1);
        for (String m : List.of(a, b, c)) {
            assertThat(zd.get("/api/v1/app/" + app + "/msg/" + m).get("payload").toString()).isEqualTo("{}");
            assertThat(zd.deliveryState(app, m)).isEqualTo("discarded");
        }
        ReplayTest.auditBalances(zd, app);
    }

    @Test
    void theStoredResponseOfAnIdempotentRequestLosesThePayloadWithTheContent() {
        String app = zd.createApp("expunge-idempotent");
        Map<String, Object> body = Map.of("eventType", "card.charged", "payload", Map.of("pan", "4242424242424242"));
        Map<String, String> key = Map.of("Idempotency-Key", "charge-1");
        TestServer.Response first = zd.call("POST", "/api/v1/app/" + app + "/msg", body, key);
        assertThat(first.status()).isEqualTo(202);
        assertThat(first.text()).contains("4242424242424242");
        String msg = first.json().get("id").asText();
        assertThat(zd.call("DELETE", "/api/v1/app/" + app + "/msg/" + msg + "/content", null).status()).isEqualTo(204);

        TestServer.Response repeat = zd.call("POST", "/api/v1/app/" + app + "/msg", body, key);
        assertThat(repeat.status()).isEqualTo(202);
        assertThat(repeat.json().get("id").asText()).isEqualTo(msg); // still the same message, not a new one
        assertThat(repeat.json().get("payload").toString()).isEqualTo("{}");
        assertThat(repeat.text()).doesNotContain("4242424242424242");
    }
}
