package dev.zerodrop.audit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import dev.zerodrop.Server;
import dev.zerodrop.chaos.Receiver;
import dev.zerodrop.cli.CliRunner;
import dev.zerodrop.config.Knob;
import dev.zerodrop.core.Json;
import dev.zerodrop.testing.TestDatabase;
import dev.zerodrop.testing.TestServer;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The zero-drop audit: every accepted delivery is in exactly one state, and anything else raises an alert. */
class AuditTest {

    static long alerts(Receiver slack, String kind, String state) {
        return slack.requests().stream().map(r -> {
            try {
                return Json.MAPPER.readTree(r.body()).path("alert");
            } catch (java.io.IOException e) {
                throw new IllegalStateException(e);
            }
        }).filter(a -> a.path("kind").asText().equals(kind) && a.path("state").asText().equals(state)).count();
    }

    @Test
    void theCountsAddUpAndAVanishedDeliveryIsUnaccountedAndAlerted() throws Exception {
        try (TestDatabase db = TestDatabase.create("audit"); Receiver slack = Receiver.alwaysOk();
             Receiver target = new Receiver((req, n) -> req.bodyText().contains("\"bad\"") ? Receiver.status(500) : Receiver.ok())) {
            Map<Knob, String> k = TestServer.defaults(db.url());
            k.put(Knob.ALERT_WEBHOOK_URL, slack.url("/slack"));
            k.put(Knob.ALERT_INTERVAL, "200ms");
            try (TestServer zd = TestServer.start(k, TestServer.quiet(Server.Options.defaults()))) {
                String app = zd.createApp("audited");
                zd.createEndpoint(app, Map.of("url", target.url("/a")));
                zd.createEndpoint(app, Map.of("url", target.url("/b"), "filterTypes", List.of("ok")));
                for (int i = 0; i < 10; i++) zd.post("/api/v1/app/" + app + "/msg", Map.of("eventType", "ok", "payload", Map.of("kind", "fine")));
                for (int i = 0; i < 2; i++) zd.post("/api/v1/app/" + app + "/msg", Map.of("eventType", "bad", "payload", Map.of("kind", "bad")));
                // 10 x 2 endpoints + 2 x 1 endpoint = 22 deliveries: 20 delivered, 2 dead.
                // Scoped to the application: ZeroDrop's own alert notifications are deliveries too.
                String scoped = "/api/v1/audit?app_id=" + app;
                await().atMost(Duration.ofSeconds(20)).until(() -> zd.get(scoped).path("dead").asLong() == 2
                        && zd.get(scoped).path("delivered").asLong() == 20);
                JsonNode audit = zd.get(scoped);
                assertThat(audit.get("accepted").asLong()).isEqualTo(22);
                long sum = 0;
                for (String s : List.of("pending", "sending", "delivered", "dead", "discarded", "held")) sum += audit.get(s).asLong();
                assertThat(sum).isEqualTo(22);
                assertThat(audit.get("unaccounted").asLong()).isZero();
                assertThat(audit.get("applications").get(0).get("endpoints")).hasSize(2);

                // The CLI prints the same object.
                var run = CliRunner.run("audit", "--json", "--recount", "--app", app, "--url", zd.base(), "--token", TestServer.TOKEN);
                assertThat(run.exit()).as(run.err()).isZero();
                JsonNode cli = Json.MAPPER.readTree(run.out());
                for (String key : List.of("accepted", "pending", "sending", "delivered", "dead", "discarded", "held", "unaccounted")) {
                    assertThat(cli.has(key)).as(key).isTrue();
                }
                assertThat(cli.get("unaccounted").asLong()).isZero();
                assertThat(CliRunner.run("audit", "--app", app, "--url", zd.base(), "--token", TestServer.TOKEN).out()).startsWith("OK accepted=22 unaccounted=0");

                // Corrupt the database on purpose: a delivered delivery vanishes without a trace.
                db.exec("DELETE FROM attempt WHERE delivery_id = (SELECT min(id) FROM delivery WHERE state = 'delivered')");
                db.exec("DELETE FROM delivery WHERE id = (SELECT min(id) FROM delivery WHERE state = 'delivered')");
                assertThat(zd.call("POST", "/api/v1/audit/recount", Map.of()).json().get("unaccounted").asLong()).isEqualTo(1);
                assertThat(zd.get(scoped).get("unaccounted").asLong()).isEqualTo(1);
                assertThat(zd.get("/api/v1/audit").get("unaccounted").asLong()).isEqualTo(1);
                await().atMost(Duration.ofSeconds(10)).until(() -> alerts(slack, "audit.unaccounted", "firing") == 1);
                assertThat(CliRunner.run("audit", "--url", zd.base(), "--token", TestServer.TOKEN).out()).startsWith("ATTENTION");
            }
        }
    }

    @Test
    void aLeaseStuckPastItsGraceIsReportedAndAlerted() throws Exception {
        try (TestDatabase db = TestDatabase.create("audit_stuck"); Receiver slack = Receiver.alwaysOk()) {
            Map<Knob, String> k = TestServer.defaults(db.url());
            k.put(Knob.ALERT_WEBHOOK_URL, slack.url("/slack"));
            k.put(Knob.ALERT_INTERVAL, "200ms");
            k.put(Knob.DISPATCH, "false"); // no rescuer runs: a lost lease stays lost
            try (TestServer zd = TestServer.start(k, TestServer.quiet(Server.Options.defaults()))) {
                String app = zd.createApp("stuck");
                zd.createEndpoint(app, Map.of("url", "https://example.com/hook"));
                zd.post("/api/v1/app/" + app + "/msg", Map.of("eventType", "x", "payload", Map.of()));
                assertThat(zd.get("/api/v1/audit").get("stuckLeases").asLong()).isZero();
                // Not dispatched, so pending: its age shows per endpoint, per application and overall.
                db.exec("UPDATE delivery SET next_attempt_at = now() - interval '10 minutes'");
                JsonNode pending = zd.get("/api/v1/audit?app_id=" + app);
                assertThat(pending.get("oldestPendingAgeSeconds").asLong()).isBetween(590L, 700L);
                assertThat(pending.get("applications").get(0).get("oldestPendingAgeSeconds").asLong()).isBetween(590L, 700L);
                assertThat(pending.get("applications").get(0).get("endpoints").get(0).get("oldestPendingAgeSeconds").asLong()).isBetween(590L, 700L);
                db.exec("UPDATE delivery SET state = 'sending', lease_token = lease_token + 1, lease_expires_at = now() - interval '1 hour'");
                JsonNode audit = zd.get("/api/v1/audit");
                assertThat(audit.get("stuckLeases").asLong()).isEqualTo(1);
                assertThat(audit.get("applications").get(0).get("endpoints").get(0).get("stuckLeases").asLong()).isEqualTo(1);
                assertThat(audit.get("sending").asLong()).isEqualTo(1);
                assertThat(audit.get("unaccounted").asLong()).isZero();
                // No dispatcher runs here, so the alert is read from the history, not from a delivered notification.
                await().atMost(Duration.ofSeconds(10)).until(() -> zd.get("/api/v1/alerts?kind=audit.stuck_leases&state=firing").get("data").size() == 1);
            }
        }
    }
}
