package dev.zerodrop.slo;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import dev.zerodrop.Server;
import dev.zerodrop.chaos.Receiver;
import dev.zerodrop.cli.CliRunner;
import dev.zerodrop.config.Knob;
import dev.zerodrop.core.Json;
import dev.zerodrop.dispatch.DispatchListener;
import dev.zerodrop.dispatch.Dispatcher;
import dev.zerodrop.testing.MutableClock;
import dev.zerodrop.testing.TestDatabase;
import dev.zerodrop.testing.TestServer;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.stream.StreamSupport;
import org.junit.jupiter.api.Test;

/** SLOs end to end: a burst of failures burns the budget, pages, and clears when the burn stops. */
class SloTest {

    static JsonNode evaluation(TestServer zd, String app, String indicator) {
        JsonNode data = zd.get("/api/v1/slo?app_id=" + app).get("data");
        return StreamSupport.stream(data.spliterator(), false)
                .filter(e -> e.get("objective").get("indicator").asText().equals(indicator)).findFirst().orElseThrow();
    }

    @Test
    void aBurstOfFailuresPagesAndTheAlertClearsWhenTheBurnStops() throws Exception {
        MutableClock clock = new MutableClock(Instant.parse("2030-06-01T12:00:00Z"));
        try (TestDatabase db = TestDatabase.create("slo"); Receiver slack = Receiver.alwaysOk();
             Receiver target = new Receiver((req, n) -> req.bodyText().contains("\"bad\"") ? Receiver.status(500) : Receiver.ok())) {
            Map<Knob, String> k = TestServer.defaults(db.url());
            k.put(Knob.RETRY_SCHEDULE, "100ms"); // two attempts, then dead
            k.put(Knob.ALERT_WEBHOOK_URL, slack.url("/slack"));
            k.put(Knob.ALERT_INTERVAL, "1h");     // evaluated by hand, at the test's clock
            Server.Options o = TestServer.quiet(new Server.Options(clock, DispatchListener.NONE, Dispatcher.SendHook.NONE, System.out));
            try (TestServer zd = TestServer.start(k, o)) {
                String app = zd.createApp("payments");
                zd.createEndpoint(app, Map.of("url", target.url("/hook")));
                for (int i = 0; i < 20; i++) zd.post("/api/v1/app/" + app + "/msg", Map.of("eventType", "x", "payload", Map.of("kind", "good")));
                for (int i = 0; i < 10; i++) zd.post("/api/v1/app/" + app + "/msg", Map.of("eventType", "x", "payload", Map.of("kind", "bad")));
                await().atMost(Duration.ofSeconds(15)).until(() -> target.requests().size() == 30);
                clock.advance(Duration.ofSeconds(1)); // the retries fall due, fail again, and go dead
                await().atMost(Duration.ofSeconds(15)).until(() -> zd.get("/api/v1/audit?app_id=" + app).get("dead").asLong() == 10);

                // Indicator events are written every 2 s, apart from the outcomes.
                await().atMost(Duration.ofSeconds(10)).ignoreExceptions().until(() -> evaluation(zd, app, "delivery_success").get("events").asLong() == 30);
                JsonNode success = evaluation(zd, app, "delivery_success");
                assertThat(success.get("events").asLong()).isEqualTo(30);
                assertThat(success.get("badEvents").asLong()).isEqualTo(10);
                assertThat(success.get("value").asDouble()).isBetween(0.66, 0.67);
                assertThat(success.get("burnRates").get("1h").asDouble()).isGreaterThan(14.4); // 33% errors against a 0.5% allowance
                assertThat(success.get("errorBudget").get("remainingFraction").asDouble()).isNegative();
                assertThat(success.get("alert").asText()).isEqualTo("page");
                JsonNode dispatch = evaluation(zd, app, "dispatch_latency");
                assertThat(dispatch.get("events").asLong()).isEqualTo(30);
                assertThat(dispatch.get("badEvents").asLong()).isZero(); // every first attempt started at once
                assertThat(dispatch.get("alert").asText()).isEqualTo("ok");

                zd.server().alerts().runOnce(clock.instant());
                assertThat(zd.get("/api/v1/alerts?kind=slo.burn&state=firing").get("data")).hasSize(1);
                await().atMost(Duration.ofSeconds(10)).until(() -> slack.requests().stream()
                        .anyMatch(r -> r.bodyText().contains("slo.burn") && r.bodyText().contains("\"firing\"")));

                var cli = CliRunner.run("slo", "--json", "--app", app, "--url", zd.base(), "--token", TestServer.TOKEN);
                assertThat(cli.exit()).as(cli.err()).isZero();
                assertThat(Json.MAPPER.readTree(cli.out()).get("data")).hasSize(2);

                // Seven hours later no window short enough to page or ticket holds a failure: the alert clears.
                clock.advance(Duration.ofHours(7));
                assertThat(evaluation(zd, app, "delivery_success").get("alert").asText()).isEqualTo("ok");
                zd.server().alerts().runOnce(clock.instant());
                assertThat(zd.get("/api/v1/alerts?kind=slo.burn&state=firing").get("data")).isEmpty();
                assertThat(zd.get("/api/v1/alerts?kind=slo.burn&state=resolved").get("data")).hasSize(1);
            }
        }
    }

    @Test
    void objectivesAreManagedThroughTheApiWithClearErrors() throws Exception {
        try (TestDatabase db = TestDatabase.create("slo_api")) {
            Map<Knob, String> k = TestServer.defaults(db.url());
            k.put(Knob.DISPATCH, "false");
            try (TestServer zd = TestServer.start(k, TestServer.quiet(Server.Options.defaults()))) {
                String app = zd.createApp("shop");
                await().atMost(Duration.ofSeconds(10)).until(() -> zd.get("/api/v1/slo/objectives").get("data").size() == 2); // the defaults
                var bad = zd.call("POST", "/api/v1/slo/objectives", Map.of("appId", app, "indicator", "delivery_success", "target", 1.5, "latencySeconds", 7));
                assertThat(bad.status()).isEqualTo(422);
                assertThat(bad.text()).contains("target").contains("latencySeconds");
                assertThat(zd.call("POST", "/api/v1/slo/objectives", Map.of("appId", app, "indicator", "uptime", "target", 0.9)).status()).isEqualTo(422);
                var created = zd.call("POST", "/api/v1/slo/objectives", Map.of("appId", app, "indicator", "delivery_success", "target", 0.999, "latencySeconds", 60));
                assertThat(created.status()).isEqualTo(201);
                assertThat(zd.call("POST", "/api/v1/slo/objectives", Map.of("appId", app, "indicator", "delivery_success", "target", 0.99)).status()).isEqualTo(409);
                String id = created.json().get("id").asText();
                assertThat(zd.call("PATCH", "/api/v1/slo/objectives/" + id, Map.of("target", 0.995)).json().get("target").asDouble()).isEqualTo(0.995);
                String defaultId = zd.get("/api/v1/slo/objectives").get("data").get(0).get("id").asText();
                assertThat(zd.call("DELETE", "/api/v1/slo/objectives/" + defaultId, null).status()).isEqualTo(409);
                assertThat(zd.call("DELETE", "/api/v1/slo/objectives/" + id, null).status()).isEqualTo(204);
            }
        }
    }
}
