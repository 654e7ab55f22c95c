package dev.zerodrop.dispatch;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import dev.zerodrop.Server;
import dev.zerodrop.config.Knob;
import dev.zerodrop.delivery.Signer;
import dev.zerodrop.chaos.Receiver;
import dev.zerodrop.testing.TestDatabase;
import dev.zerodrop.testing.TestServer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.StreamSupport;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** End to end on the machine's PostgreSQL, with real receivers on 127.0.0.1. */
class DeliveryTest {
    static TestDatabase db;
    static TestServer zd;

    @BeforeAll
    static void start() throws Exception {
        db = TestDatabase.create("delivery");
        Map<Knob, String> knobs = TestServer.defaults(db.url());
        knobs.put(Knob.REQUEST_TIMEOUT, "1s");
        knobs.put(Knob.LEASE, "4s");
        zd = TestServer.start(knobs, TestServer.quiet(Server.Options.defaults()));
    }

    @AfterAll
    static void stop() {
        if (zd != null) zd.close();
        if (db != null) db.close();
    }

    @Test
    void hundredsOfMessagesReachTwoEndpointsSignedAndOnce() throws Exception {
        try (Receiver a = Receiver.alwaysOk(); Receiver b = Receiver.alwaysOk()) {
            String app = zd.createApp("happy");
            var ea = zd.createEndpoint(app, Map.of("url", a.url("/a"), "headers", Map.of("X-Tenant", "acme")));
            var eb = zd.createEndpoint(app, Map.of("url", b.url("/b")));
            int n = 400;
            Map<String, Long> ackedAt = new ConcurrentHashMap<>();
            long start = System.nanoTime();
            try (ExecutorService producers = Executors.newFixedThreadPool(8)) {
                List<Future<?>> sent = new ArrayList<>();
                for (int i = 0; i < n; i++) {
                    int k = i;
                    sent.add(producers.submit(() -> {
                        JsonNode m = zd.post("/api/v1/app/" + app + "/msg", Map.of("eventType", "invoice.paid",
                                "payload", Map.of("ref", k, "amount", 100 + k)));
                        ackedAt.put(m.get("id").asText(), System.nanoTime());
                    }));
                }
                for (Future<?> f : sent) f.get();
            }
            long acked = System.nanoTime();
            await().atMost(Duration.ofSeconds(60)).until(() -> ids(a).size() == n && ids(b).size() == n);
            long done = Math.max(last(a), last(b));

            for (var pair : List.of(Map.entry(a, ea.secret()), Map.entry(b, eb.secret()))) {
                for (Receiver.Request r : pair.getKey().requests()) {
                    assertThat(Signer.verify(pair.getValue(), r.header("webhook-id"), r.header("webhook-timestamp"),
                            r.header("webhook-signature"), r.body(), System.currentTimeMillis() / 1000, 300))
                            .as("signature of %s", r.header("webhook-id")).isTrue();
                    assertThat(r.header("content-type")).startsWith("application/json");
                }
                assertThat(pair.getKey().requests()).hasSize(n); // exactly once each: no failures, no duplicates
            }
            assertThat(ids(a)).isEqualTo(ackedAt.keySet());
            assertThat(a.requests()).allMatch(x -> "acme".equals(x.header("x-tenant")));
            assertThat(b.requests()).allMatch(x -> x.header("x-tenant") == null);

            List<Long> latencies = new ArrayList<>();
            for (Receiver.Request r : a.requests()) latencies.add((r.receivedAtNanos() - ackedAt.get(r.header("webhook-id"))) / 1_000);
            latencies.sort(null);
            double seconds = (done - start) / 1e9;
            System.out.printf("[figures] happy path: %d messages x 2 endpoints; ingest %.0f msg/s; delivered %.0f deliveries/s end to end;"
                            + " accept->delivered p50 %.1f ms, p99 %.1f ms, max %.1f ms%n",
                    n, n / ((acked - start) / 1e9), 2 * n / seconds, latencies.get(latencies.size() / 2) / 1000.0,
                    latencies.get((int) (latencies.size() * 0.99)) / 1000.0, latencies.getLast() / 1000.0);

            String someMsg = ackedAt.keySet().iterator().next();
            JsonNode attempts = zd.get("/api/v1/app/" + app + "/attempt/msg/" + someMsg);
            assertThat(attempts.get("data")).hasSize(2);
            for (JsonNode at : attempts.get("data")) {
                assertThat(at.get("status").asInt()).isZero();
                assertThat(at.get("responseStatusCode").asInt()).isEqualTo(200);
                assertThat(at.get("attemptNumber").asInt()).isEqualTo(1);
            }
        }
    }

    @Test
    void failuresHangsResetsAndDropsAreRetriedUntilDeliveredAndEveryAttemptIsLogged() throws Exception {
        // The payload's "mode" says how the receiver misbehaves on the first attempts.
        try (Receiver r = new Receiver((req, previous) -> {
            String body = req.bodyText();
            if (body.contains("\"fail\"") && previous < 2) return Receiver.status(500);
            if (body.contains("\"hang\"") && previous < 1) return new Receiver.Behaviour.Hang();
            if (body.contains("\"reset\"") && previous < 1) return new Receiver.Behaviour.Reset();
            if (body.contains("\"drop\"") && previous < 1) return new Receiver.Behaviour.Drop();
            if (body.contains("\"nul\"") && previous < 1) return new Receiver.Behaviour.Respond(500, "oops\u0000", Map.of());
            if (body.contains("\"redirect\"") && previous < 1) {
                return new Receiver.Behaviour.Respond(302, "", Map.of("Location", "http://127.0.0.1:1/elsewhere"));
            }
            return Receiver.ok();
        })) {
            String app = zd.createApp("flaky");
            zd.createEndpoint(app, Map.of("url", r.url("/hook")));
            Map<String, String> msgByMode = new java.util.LinkedHashMap<>();
            for (String mode : List.of("fail", "hang", "reset", "drop", "redirect", "nul", "fine")) {
                JsonNode m = zd.post("/api/v1/app/" + app + "/msg", Map.of("eventType", "x", "payload", Map.of("mode", mode)));
                msgByMode.put(mode, m.get("id").asText());
            }
            await().atMost(Duration.ofSeconds(30)).until(() -> msgByMode.values().stream()
                    .allMatch(id -> stateOf(app, id).equals("delivered")));

            Map<String, List<String>> expectedClasses = Map.of(
                    "fail", List.of("http", "http", "success"),
                    "hang", List.of("timeout", "success"),
                    "reset", List.of("reset", "success"),
                    "drop", List.of("reset", "success"),
                    "redirect", List.of("http", "success"),
                    "nul", List.of("http", "success"),
                    "fine", List.of("success"));
            for (var e : msgByMode.entrySet()) {
                JsonNode data = zd.get("/api/v1/app/" + app + "/attempt/msg/" + e.getValue() + "?order=ascending").get("data");
                List<JsonNode> rows = new ArrayList<>(StreamSupport.stream(data.spliterator(), false).toList());
                rows.sort(java.util.Comparator.comparingInt(x -> x.get("attemptNumber").asInt()));
                List<String> classes = rows.stream().map(x -> x.get("errorClass").isNull() ? "success" : x.get("errorClass").asText()).toList();
                assertThat(classes).as("attempt log of %s", e.getKey()).isEqualTo(expectedClasses.get(e.getKey()));
                assertThat(rows.stream().map(x -> x.get("attemptNumber").asInt()).toList())
                        .isEqualTo(java.util.stream.IntStream.rangeClosed(1, rows.size()).boxed().toList());
            }
            // The redirect was recorded, not followed.
            JsonNode redirect = zd.get("/api/v1/app/" + app + "/attempt/msg/" + msgByMode.get("redirect")).get("data");
            assertThat(StreamSupport.stream(redirect.spliterator(), false).anyMatch(x -> x.get("responseStatusCode").asInt() == 302)).isTrue();
        }
    }

    @Test
    void exhaustedDeliveriesGoDeadAfterTheWholeSchedule() throws Exception {
        try (Receiver r = new Receiver((req, previous) -> Receiver.status(503))) {
            String app = zd.createApp("doomed");
            zd.createEndpoint(app, Map.of("url", r.url("/hook")));
            String msg = zd.post("/api/v1/app/" + app + "/msg", Map.of("eventType", "x", "payload", Map.of())).get("id").asText();
            await().atMost(Duration.ofSeconds(20)).until(() -> stateOf(app, msg).equals("dead"));
            // Schedule 100ms,200ms,300ms: one immediate attempt plus three retries.
            assertThat(zd.get("/api/v1/app/" + app + "/attempt/msg/" + msg).get("data")).hasSize(4);
            assertThat(r.requests()).hasSize(4);
        }
    }

    @Test
    void goneDisablesTheEndpointHoldsItsDeliveriesAndEnablingResumesThem() throws Exception {
        try (Receiver r = new Receiver((req, previous) -> Receiver.status(410))) {
            String app = zd.createApp("gone");
            var ep = zd.createEndpoint(app, Map.of("url", r.url("/hook")));
            String first = zd.post("/api/v1/app/" + app + "/msg", Map.of("eventType", "x", "payload", Map.of("n", 1))).get("id").asText();
            await().atMost(Duration.ofSeconds(10)).until(() -> stateOf(app, first).equals("held"));
            assertThat(zd.get("/api/v1/app/" + app + "/endpoint/" + ep.id()).get("disabled").asBoolean()).isTrue();
            String second = zd.post("/api/v1/app/" + app + "/msg", Map.of("eventType", "x", "payload", Map.of("n", 2))).get("id").asText();
            assertThat(stateOf(app, second)).isEqualTo("held");
            assertThat(r.requests()).hasSize(1);

            r.script((req, previous) -> Receiver.ok());
            assertThat(zd.call("PATCH", "/api/v1/app/" + app + "/endpoint/" + ep.id(), Map.of("disabled", false)).status()).isEqualTo(200);
            await().atMost(Duration.ofSeconds(10)).until(() -> stateOf(app, first).equals("delivered") && stateOf(app, second).equals("delivered"));
        }
    }

    @Test
    void fanOutHonorsEventTypeFiltersAndChannels() throws Exception {
        try (Receiver all = Receiver.alwaysOk(); Receiver paid = Receiver.alwaysOk(); Receiver eu = Receiver.alwaysOk()) {
            String app = zd.createApp("filters");
            zd.createEndpoint(app, Map.of("url", all.url("/all")));
            zd.createEndpoint(app, Map.of("url", paid.url("/paid"), "filterTypes", List.of("invoice.paid")));
            zd.createEndpoint(app, Map.of("url", eu.url("/eu"), "channels", List.of("eu")));
            zd.post("/api/v1/app/" + app + "/msg", Map.of("eventType", "invoice.paid", "payload", Map.of("n", 1)));
            zd.post("/api/v1/app/" + app + "/msg", Map.of("eventType", "invoice.created", "payload", Map.of("n", 2), "channels", List.of("eu")));
            zd.post("/api/v1/app/" + app + "/msg", Map.of("eventType", "invoice.paid", "payload", Map.of("n", 3), "channels", List.of("us", "eu")));
            await().atMost(Duration.ofSeconds(10)).until(() -> all.requests().size() == 3 && paid.requests().size() == 2 && eu.requests().size() == 2);
            assertThat(paid.requests()).allMatch(x -> !x.bodyText().contains("\"n\":2"));
            assertThat(eu.requests()).noneMatch(x -> x.bodyText().contains("\"n\":1"));
        }
    }

    @Test
    void resendAndRecoverRedeliverWithTheSameWebhookId() throws Exception {
        try (Receiver r = new Receiver((req, previous) -> Receiver.status(500))) {
            String app = zd.createApp("recover");
            var ep = zd.createEndpoint(app, Map.of("url", r.url("/hook")));
            String msg = zd.post("/api/v1/app/" + app + "/msg", Map.of("eventType", "x", "payload", Map.of())).get("id").asText();
            await().atMost(Duration.ofSeconds(20)).until(() -> stateOf(app, msg).equals("dead"));
            r.script((req, previous) -> Receiver.ok());
            var rec = zd.call("POST", "/api/v1/app/" + app + "/endpoint/" + ep.id() + "/recover", Map.of("since", "2000-01-01T00:00:00Z"));
            assertThat(rec.status()).isEqualTo(202);
            assertThat(rec.json().get("task").asText()).isEqualTo("endpoint.recover");
            await().atMost(Duration.ofSeconds(10)).until(() -> stateOf(app, msg).equals("delivered"));
            int before = r.requests().size();
            assertThat(zd.call("POST", "/api/v1/app/" + app + "/msg/" + msg + "/endpoint/" + ep.id() + "/resend", null).status()).isEqualTo(202);
            await().atMost(Duration.ofSeconds(10)).until(() -> r.requests().size() == before + 1);
            Set<String> ids = new HashSet<>();
            r.requests().forEach(x -> ids.add(x.header("webhook-id")));
            assertThat(ids).containsExactly(msg);
            JsonNode attempts = zd.get("/api/v1/app/" + app + "/attempt/msg/" + msg).get("data");
            assertThat(StreamSupport.stream(attempts.spliterator(), false).filter(x -> x.get("triggerType").asInt() == 1).count()).isEqualTo(2);
        }
    }

    @Test
    void recoverToADisabledEndpointHoldsInsteadOfSending() throws Exception {
        try (Receiver r = new Receiver((req, previous) -> Receiver.status(500))) {
            String app = zd.createApp("recover-disabled");
            var ep = zd.createEndpoint(app, Map.of("url", r.url("/hook")));
            String msg = zd.post("/api/v1/app/" + app + "/msg", Map.of("eventType", "x", "payload", Map.of())).get("id").asText();
            await().atMost(Duration.ofSeconds(20)).until(() -> stateOf(app, msg).equals("dead"));
            int before = r.requests().size();
            zd.call("PATCH", "/api/v1/app/" + app + "/endpoint/" + ep.id(), Map.of("disabled", true));
            zd.call("POST", "/api/v1/app/" + app + "/endpoint/" + ep.id() + "/recover", Map.of("since", "2000-01-01T00:00:00Z"));
            await().atMost(Duration.ofSeconds(10)).until(() -> stateOf(app, msg).equals("held")); // recover is a background task
            assertThat(zd.call("POST", "/api/v1/app/" + app + "/msg/" + msg + "/endpoint/" + ep.id() + "/resend", null).status()).isEqualTo(409);
            r.script((req, previous) -> Receiver.ok());
            zd.call("PATCH", "/api/v1/app/" + app + "/endpoint/" + ep.id(), Map.of("disabled", false));
            await().atMost(Duration.ofSeconds(10)).until(() -> stateOf(app, msg).equals("delivered"));
            assertThat(r.requests()).hasSize(before + 1);
        }
    }

    static String stateOf(String app, String msg) {
        return stateOf(zd, app, msg);
    }

    static String stateOf(TestServer zd, String app, String msg) {
        return zd.deliveryState(app, msg);
    }

    static Set<String> ids(Receiver r) {
        Set<String> ids = new HashSet<>();
        for (Receiver.Request x : r.requests()) ids.add(x.header("webhook-id"));
        return ids;
    }

    static long last(Receiver r) {
        return r.requests().stream().mapToLong(Receiver.Request::receivedAtNanos).max().orElse(0);
    }
}
