package dev.zerodrop.alert;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import dev.zerodrop.Server;
import dev.zerodrop.chaos.Receiver;
import dev.zerodrop.config.Knob;
import dev.zerodrop.core.Json;
import dev.zerodrop.testing.MutableClock;
import dev.zerodrop.testing.NodeVerifier;
import dev.zerodrop.testing.TestDatabase;
import dev.zerodrop.testing.TestServer;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Alerts to a Slack-style sink, operational webhooks, endpoint auto-disable: end to end. */
class AlertTest {
    static final String OPS_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    static Map<Knob, String> knobs(TestDatabase db, Receiver slack, Receiver ops) {
        Map<Knob, String> k = TestServer.defaults(db.url());
        k.put(Knob.ALERT_WEBHOOK_URL, slack.url("/slack"));
        k.put(Knob.OPERATIONAL_WEBHOOK_URL, ops.url("/ops"));
        k.put(Knob.OPERATIONAL_WEBHOOK_SECRET, OPS_SECRET);
        k.put(Knob.ALERT_INTERVAL, "200ms");
        return k;
    }

    static List<JsonNode> bodies(Receiver r) {
        return r.requests().stream().map(x -> {
            try {
                return Json.MAPPER.readTree(x.body());
            } catch (java.io.IOException e) {
                throw new IllegalStateException(e);
            }
        }).toList();
    }

    static long count(Receiver r, String field, String value) {
        return bodies(r).stream().filter(b -> value.equals(b.path(field).asText()) || value.equals(b.path("alert").path(field).asText())).count();
    }

    @Test
    void aDeliveryGoingDeadRaisesExactlyOneAlertAndOperationalWebhooksThatVerify() throws Exception {
        try (TestDatabase db = TestDatabase.create("alerts_dead"); Receiver slack = Receiver.alwaysOk(); Receiver ops = Receiver.alwaysOk();
             Receiver target = new Receiver((req, n) -> Receiver.status(500));
             TestServer zd = TestServer.start(knobs(db, slack, ops), TestServer.quiet(Server.Options.defaults()))) {
            String app = zd.createApp("payments");
            assertThat(zd.call("PUT", "/api/v1/app/" + app + "/money", Map.of("amountPointer", "/amount", "currencyPointer", "/currency",
                    "minorUnitScale", 2)).status()).isLessThan(300);
            var ep = zd.createEndpoint(app, Map.of("url", target.url("/hook")));
            List<String> msgs = new java.util.ArrayList<>();
            for (int i = 0; i < 3; i++) {
                msgs.add(zd.post("/api/v1/app/" + app + "/msg", Map.of("eventType", "payment.failed",
                        "payload", Map.of("i", i, "amount", 273817 + i, "currency", "USD"))).get("id").asText());
            }
            await().atMost(Duration.ofSeconds(20)).until(() -> msgs.stream().allMatch(m -> zd.deliveryState(app, m).equals("dead")));
            await().atMost(Duration.ofSeconds(10)).until(() -> count(slack, "kind", "delivery.dead") >= 1);
            // Several evaluations later, still exactly one alert for the episode.
            await().during(Duration.ofSeconds(1)).atMost(Duration.ofSeconds(5)).until(() -> count(slack, "kind", "delivery.dead") == 1);
            JsonNode fired = bodies(slack).stream().filter(b -> b.path("alert").path("kind").asText().equals("delivery.dead")).findFirst().orElseThrow();
            assertThat(fired.get("text").asText()).contains("dead-letter queue");
            // The money at risk: 2,738.17 + 2,738.18 + 2,738.19 dollars, if all three were dead at the first evaluation.
            assertThat(fired.get("text").asText()).containsPattern("worth \\$[0-9,]+\\.[0-9]{2}");
            assertThat(fired.get("alert").get("state").asText()).isEqualTo("firing");

            // Operational webhooks: one message.attempt.exhausted per dead delivery, signed with the configured secret.
            await().atMost(Duration.ofSeconds(10)).until(() -> count(ops, "type", "message.attempt.exhausted") == 3);
            var exhausted = bodies(ops).stream().filter(b -> b.path("type").asText().equals("message.attempt.exhausted")).toList();
            assertThat(exhausted).extracting(b -> b.get("data").get("msgId").asText()).containsExactlyInAnyOrderElementsOf(msgs);
            assertThat(exhausted.getFirst().get("data").get("lastAttempt").get("responseStatusCode").asInt()).isEqualTo(500);
            // Schedule 100ms,200ms,300ms: the 4th attempt fails too, which is the default "failing" threshold.
            await().atMost(Duration.ofSeconds(10)).until(() -> count(ops, "type", "message.attempt.failing") == 3);
            assertThat(NodeVerifier.verify(OPS_SECRET, ops.requests())).isNotEmpty().allMatch("ok"::equals);

            // Recovery: the endpoint heals, the dead deliveries are resent, the alert resolves once.
            target.script((req, n) -> Receiver.ok());
            for (String m : msgs) zd.call("POST", "/api/v1/app/" + app + "/msg/" + m + "/endpoint/" + ep.id() + "/resend", null);
            await().atMost(Duration.ofSeconds(10)).until(() -> bodies(slack).stream()
                    .anyMatch(b -> b.path("alert").path("kind").asText().equals("delivery.dead") && b.path("alert").path("state").asText().equals("resolved")));
            JsonNode history = zd.get("/api/v1/alerts?kind=delivery.dead");
            assertThat(history.get("data")).hasSize(1);
            assertThat(history.get("data").get(0).get("state").asText()).isEqualTo("resolved");
        }
    }

    @Test
    void goneOrFailingPastThePeriodDisablesHoldsAndResumes() throws Exception {
        try (TestDatabase db = TestDatabase.create("alerts_disable"); Receiver slack = Receiver.alwaysOk(); Receiver ops = Receiver.alwaysOk();
             Receiver gone = new Receiver((req, n) -> Receiver.status(410));
             Receiver down = new Receiver((req, n) -> Receiver.status(503))) {
            Map<Knob, String> k = knobs(db, slack, ops);
            k.put(Knob.AUTO_DISABLE_AFTER, "1s");
            k.put(Knob.RETRY_SCHEDULE, "200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms");
            try (TestServer zd = TestServer.start(k, TestServer.quiet(Server.Options.defaults()))) {
                String app = zd.createApp("health");
                var goneEp = zd.createEndpoint(app, Map.of("url", gone.url("/gone"), "filterTypes", List.of("a")));
                var downEp = zd.createEndpoint(app, Map.of("url", down.url("/down"), "filterTypes", List.of("b")));
                String a = zd.post("/api/v1/app/" + app + "/msg", Map.of("eventType", "a", "payload", Map.of())).get("id").asText();
                String b = zd.post("/api/v1/app/" + app + "/msg", Map.of("eventType", "b", "payload", Map.of())).get("id").asText();

                await().atMost(Duration.ofSeconds(10)).until(() -> zd.deliveryState(app, a).equals("held"));
                await().atMost(Duration.ofSeconds(15)).until(() -> zd.deliveryState(app, b).equals("held"));
                for (String ep : List.of(goneEp.id(), downEp.id())) {
                    assertThat(zd.get("/api/v1/app/" + app + "/endpoint/" + ep).get("disabled").asBoolean()).isTrue();
                }
                await().atMost(Duration.ofSeconds(10)).until(() -> count(ops, "type", "endpoint.disabled") == 2);
                var disabled = bodies(ops).stream().filter(x -> x.path("type").asText().equals("endpoint.disabled")).toList();
                assertThat(disabled).extracting(x -> x.get("data").get("endpointId").asText()).containsExactlyInAnyOrder(goneEp.id(), downEp.id());
                await().atMost(Duration.ofSeconds(10)).until(() -> count(slack, "kind", "endpoint.disabled") == 2);

                gone.script((req, n) -> Receiver.ok());
                down.script((req, n) -> Receiver.ok());
                for (String ep : List.of(goneEp.id(), downEp.id())) zd.call("PATCH", "/api/v1/app/" + app + "/endpoint/" + ep, Map.of("disabled", false));
                await().atMost(Duration.ofSeconds(10)).until(() -> zd.deliveryState(app, a).equals("delivered")
                        && zd.deliveryState(app, b).equals("delivered"));
                await().atMost(Duration.ofSeconds(10)).until(() -> count(ops, "type", "endpoint.enabled") == 2);
                await().atMost(Duration.ofSeconds(10)).until(() -> bodies(slack).stream().filter(x -> x.path("alert").path("kind").asText()
                        .equals("endpoint.disabled") && x.path("alert").path("state").asText().equals("resolved")).count() == 2);
                assertThat(NodeVerifier.verify(OPS_SECRET, ops.requests())).allMatch("ok"::equals);
            }
        }
    }

    @Test
    void theFailureRateRuleFiresAndClearsDrivenByTheClock() throws Exception {
        Instant t0 = Instant.parse("2030-01-01T00:00:00Z");
        MutableClock clock = new MutableClock(t0);
        try (TestDatabase db = TestDatabase.create("alerts_rate"); Receiver slack = Receiver.alwaysOk(); Receiver ops = Receiver.alwaysOk();
             Receiver target = new Receiver((req, n) -> Receiver.status(500))) {
            Map<Knob, String> k = knobs(db, slack, ops);
            k.put(Knob.ALERT_INTERVAL, "1h"); // evaluated by hand below
            Server.Options o = TestServer.quiet(new Server.Options(clock, dev.zerodrop.dispatch.DispatchListener.NONE,
                    dev.zerodrop.dispatch.Dispatcher.SendHook.NONE, System.out));
            try (TestServer zd = TestServer.start(k, o)) {
                String app = zd.createApp("rates");
                zd.createEndpoint(app, Map.of("url", target.url("/hook")));
                for (int i = 0; i < 12; i++) zd.post("/api/v1/app/" + app + "/msg", Map.of("eventType", "x", "payload", Map.of("i", i)));
                // The clock stands still, so each message gets its first attempt and no retry falls due.
                await().atMost(Duration.ofSeconds(10)).until(() -> zd.get("/api/v1/app/" + app + "/attempt/endpoint/"
                        + zd.get("/api/v1/app/" + app + "/endpoint").get("data").get(0).get("id").asText() + "?limit=50").get("data").size() == 12);

                assertThat(zd.server().alerts().runOnce(clock.advance(Duration.ofSeconds(1)))).isTrue();
                JsonNode firing = zd.get("/api/v1/alerts?kind=endpoint.failure_rate&state=firing").get("data");
                assertThat(firing).hasSize(1);
                assertThat(firing.get(0).get("title").asText()).contains("100%").contains("12 attempts");

                // Ten minutes later the 5-minute window holds no failures: the alert clears.
                zd.server().alerts().runOnce(clock.advance(Duration.ofMinutes(10)));
                assertThat(zd.get("/api/v1/alerts?kind=endpoint.failure_rate&state=firing").get("data")).isEmpty();
                assertThat(zd.get("/api/v1/alerts?kind=endpoint.failure_rate&state=resolved").get("data")).hasSize(1);
                await().atMost(Duration.ofSeconds(10)).until(() -> bodies(slack).stream().filter(x -> x.path("alert").path("kind").asText()
                        .equals("endpoint.failure_rate")).map(x -> x.path("alert").path("state").asText()).toList().equals(List.of("firing", "resolved")));
            }
        }
    }
}
