package dev.zerodrop.dispatch;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import dev.zerodrop.Server;
import dev.zerodrop.chaos.Receiver;
import dev.zerodrop.config.Knob;
import dev.zerodrop.testing.TestDatabase;
import dev.zerodrop.testing.TestServer;
import java.time.Duration;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.stream.StreamSupport;
import org.junit.jupiter.api.Test;

/**
 * Every send ends in a recorded attempt, and no delivery loops forever: an unexpected error is an
 * {@code internal} attempt that uses up the budget, a delivery whose sending never records an outcome
 * ends dead after a few lost leases in a row, and expunged content is never sent.
 */
class NothingEndlessTest {

    @Test
    void anUnexpectedErrorIsAnInternalAttemptThatUsesUpTheBudget() throws Exception {
        Dispatcher.SendHook broken = c -> {
            throw new IllegalStateException("a bug after the request");
        };
        try (TestDatabase db = TestDatabase.create("internal"); Receiver r = Receiver.alwaysOk();
             TestServer zd = TestServer.start(TestServer.defaults(db.url()),
                     TestServer.quiet(new Server.Options(InstantSource.system(), DispatchListener.NONE, broken, System.out)))) {
            String app = zd.createApp("internal");
            String ep = zd.createEndpoint(app, Map.of("url", r.url("/hook"))).id();
            String msg = zd.post("/api/v1/app/" + app + "/msg", Map.of("eventType", "x", "payload", Map.of())).get("id").asText();

            // Schedule 100ms,200ms,300ms: a budget of four attempts, each of them internal, then dead.
            await().atMost(Duration.ofSeconds(20)).until(() -> zd.deliveryState(app, msg).equals("dead"));
            List<JsonNode> attempts = attempts(zd, app, msg);
            assertThat(attempts).hasSize(4);
            for (JsonNode a : attempts) {
                assertThat(a.get("errorClass").asText()).isEqualTo("internal");
                assertThat(a.get("status").asInt()).isEqualTo(2);
                assertThat(a.get("response").asText()).startsWith("internal error while sending (incident inc_")
                        .doesNotContain("IllegalStateException").doesNotContain("a bug after the request").doesNotContain("at dev.");
            }
            assertThat(r.requests()).hasSize(4);
            assertThat(zd.server().metrics().scrape()).contains("zerodrop_internal_errors_total{stage=\"send\"} 4.0")
                    .contains("zerodrop_attempts_total{error_class=\"internal\",outcome=\"dead\"} 1.0");
            assertThat(TwoDispatchersTest.count(db, "SELECT count(*) FROM delivery WHERE state = 'sending'")).isZero();
            assertThat(TwoDispatchersTest.count(db, "SELECT count(*) FROM attempt WHERE error_class = 'lost-lease'")).isZero();
            assertThat(zd.get("/api/v1/dlq?app_id=" + app).get("data")).hasSize(1);
            assertThat(ep).isNotBlank();
        }
    }

    @Test
    void aDeliveryWhoseSendingNeverEndsIsDeadAfterLostLeasesInARow() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        // Every send hangs after its request, past its lease, as if the node froze each time.
        Dispatcher.SendHook hang = c -> {
            try {
                release.await(60, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        };
        try (TestDatabase db = TestDatabase.create("lost_loop"); Receiver r = Receiver.alwaysOk()) {
            Map<Knob, String> knobs = TestServer.defaults(db.url());
            knobs.put(Knob.REQUEST_TIMEOUT, "200ms");
            knobs.put(Knob.LEASE, "400ms");
            knobs.put(Knob.RETRY_SCHEDULE, "50ms,50ms");
            try (TestServer zd = TestServer.start(knobs, TestServer.quiet(new Server.Options(InstantSource.system(), DispatchListener.NONE,
                    hang, System.out)))) {
                String app = zd.createApp("lost");
                String ep = zd.createEndpoint(app, Map.of("url", r.url("/hook"))).id();
                String msg = zd.post("/api/v1/app/" + app + "/msg", Map.of("eventType", "x", "payload", Map.of())).get("id").asText();

                // Three free lost leases, then a budget of three: six lost-lease attempts and dead.
                await().atMost(Duration.ofSeconds(30)).until(() -> zd.deliveryState(app, msg).equals("dead"));
                List<JsonNode> attempts = attempts(zd, app, msg);
                assertThat(attempts).hasSize(6).allSatisfy(a -> assertThat(a.get("errorClass").asText()).isEqualTo("lost-lease"));
                assertThat(TwoDispatchersTest.count(db, "SELECT count(*) FROM delivery WHERE state = 'dead' AND reason = 'lost-lease'"))
                        .isEqualTo(1);

                JsonNode audit = zd.get("/api/v1/audit");
                assertThat(audit.get("repeatedLostLeases").asLong()).isEqualTo(1);
                assertThat(audit.get("unaccounted").asLong()).isZero();
                assertThat(zd.server().alerts().runOnce(java.time.Instant.now())).isTrue();
                JsonNode firing = zd.get("/api/v1/alerts?kind=audit.lost_leases&state=firing").get("data");
                assertThat(firing).hasSize(1);
                assertThat(firing.get(0).get("subject").asText()).isEqualTo(ep);

                release.countDown(); // the frozen sends wake: every late outcome is superseded
                await().atMost(Duration.ofSeconds(10)).until(() -> zd.server().metrics().scrape()
                        .contains("zerodrop_superseded_outcomes_total 6.0"));
                assertThat(zd.deliveryState(app, msg)).isEqualTo("dead");
            } finally {
                release.countDown();
            }
        }
    }

    @Test
    void expungedContentIsNeverSent() throws Exception {
        try (TestDatabase db = TestDatabase.create("expunged"); Receiver r = Receiver.alwaysOk()) {
            String app;
            String msg;
            try (TestServer api = LeaseFencingTest.undispatched(db)) {
                app = api.createApp("expunged");
                api.createEndpoint(app, Map.of("url", r.url("/hook")));
                msg = api.post("/api/v1/app/" + app + "/msg", Map.of("eventType", "x", "payload", Map.of("card", "4242"))).get("id").asText();
            }
            // The content goes while the delivery waits in the queue (or after its lease was lost).
            db.exec("UPDATE message SET payload = NULL WHERE id = '" + msg + "'");
            try (TestServer zd = TestServer.start(TestServer.defaults(db.url()), TestServer.quiet(Server.Options.defaults()))) {
                await().atMost(Duration.ofSeconds(10)).until(() -> zd.deliveryState(app, msg).equals("discarded"));
                assertThat(r.requests()).isEmpty();
                List<JsonNode> attempts = attempts(zd, app, msg);
                assertThat(attempts).hasSize(1);
                assertThat(attempts.getFirst().get("errorClass").asText()).isEqualTo("refused");
                assertThat(attempts.getFirst().get("responseStatusCode").asInt()).isZero();
                assertThat(TwoDispatchersTest.count(db, "SELECT count(*) FROM delivery WHERE reason = 'content expunged or expired'"))
                        .isEqualTo(1);
                zd.post("/api/v1/audit/recount", Map.of());
                JsonNode audit = zd.get("/api/v1/audit");
                assertThat(audit.get("discarded").asLong()).isEqualTo(1);
                assertThat(audit.get("unaccounted").asLong()).isZero();
            }
        }
    }

    static List<JsonNode> attempts(TestServer zd, String app, String msg) {
        JsonNode data = zd.get("/api/v1/app/" + app + "/attempt/msg/" + msg).get("data");
        List<JsonNode> rows = new ArrayList<>(StreamSupport.stream(data.spliterator(), false).toList());
        rows.sort(java.util.Comparator.comparingInt(x -> x.get("attemptNumber").asInt()));
        return rows;
    }
}
