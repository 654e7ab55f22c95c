package dev.zerodrop.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import dev.zerodrop.Server;
import dev.zerodrop.chaos.Receiver;
import dev.zerodrop.config.Knob;
import dev.zerodrop.dispatch.DispatchListener;
import dev.zerodrop.dispatch.Dispatcher;
import dev.zerodrop.testing.ShiftedClock;
import dev.zerodrop.testing.TestDatabase;
import dev.zerodrop.testing.TestServer;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * History retention: expired time partitions are dropped whole; what is not finished (pending,
 * held, dead deliveries and their messages) is kept; the audit's arithmetic holds through it.
 */
class RetentionTest {

    static long count(TestDatabase db, String sql) throws Exception {
        try (var c = java.sql.DriverManager.getConnection(db.url()); var s = c.createStatement(); var rs = s.executeQuery(sql)) {
            rs.next();
            return rs.getLong(1);
        }
    }

    @Test
    void expiredPartitionsGoWholeWhileUnfinishedDeliveriesAndTheAuditStay() throws Exception {
        // Wall time starts now, so the dispatcher's waits are real; the test moves it past the retention.
        ShiftedClock clock = new ShiftedClock();
        try (TestDatabase db = TestDatabase.create("retention"); Receiver ok = Receiver.alwaysOk();
             Receiver failing = new Receiver((r, n) -> Receiver.status(500))) {
            Map<Knob, String> knobs = TestServer.defaults(db.url());
            knobs.put(Knob.HISTORY_RETENTION, "10m");
            knobs.put(Knob.DLQ_RETENTION, "10m");
            knobs.put(Knob.RETRY_SCHEDULE, "50ms");
            try (TestServer zd = TestServer.start(knobs, TestServer.quiet(new Server.Options(clock, DispatchListener.NONE,
                    Dispatcher.SendHook.NONE, System.out)))) {
                String app = zd.createApp("history");
                String okEp = zd.createEndpoint(app, Map.of("url", ok.url("/ok"), "filterTypes", List.of("fine"))).id();
                zd.createEndpoint(app, Map.of("url", failing.url("/fail"), "filterTypes", List.of("doomed")));
                zd.createEndpoint(app, Map.of("url", ok.url("/off"), "filterTypes", List.of("parked"), "disabled", true));
                String delivered = send(zd, app, "fine");
                String dead = send(zd, app, "doomed");
                String held = send(zd, app, "parked");
                String later = zd.post("/api/v1/app/" + app + "/msg", Map.of("eventType", "fine", "payload", Map.of("k", "later"),
                        "deliverAt", clock.instant().plus(Duration.ofHours(2)).toString())).get("id").asText();
                await().atMost(Duration.ofSeconds(20)).until(() -> zd.deliveryState(app, delivered).equals("delivered")
                        && zd.deliveryState(app, dead).equals("dead"));
                assertThat(zd.deliveryState(app, held)).isEqualTo("held");
                assertThat(zd.deliveryState(app, later)).isEqualTo("pending");

                // The dead-letter retention (hourly) must have had its first run before the clock jumps,
                // or it would rightly discard the dead delivery, twenty minutes old by then.
                await().atMost(Duration.ofSeconds(20)).until(() -> count(db,
                        "SELECT count(*) FROM job_run WHERE job = 'dead-letter retention' AND finished_at IS NOT NULL") > 0);
                // Twenty minutes on: the partitions of all four messages have expired.
                PartitionStore partitions = new PartitionStore(zd.server().database().jdbc());
                Instant now = clock.advance(Duration.ofMinutes(20));
                Duration interval = PartitionStore.interval(Duration.ofMinutes(10));
                partitions.ensure(now, interval, Duration.ofMinutes(10));
                // The node's own job may expire them first (it runs on the same clock); either way, after this call:
                partitions.expire(now, Duration.ofMinutes(10));
                String cutoff = now.minus(Duration.ofMinutes(10)).toString();
                assertThat(count(db, "SELECT count(*) FROM partition_range WHERE to_at <= '" + cutoff + "'")).isZero();
                assertThat(count(db, "SELECT count(*) FROM partition_range WHERE parent = 'message'")).isPositive();
                // Dropped, not deleted: the tables themselves are gone, and no partition ever deleted a row.
                assertThat(count(db, "SELECT count(*) FROM pg_class WHERE relname = 'delivery_p_first'")).isZero();
                assertThat(count(db, "SELECT count(*) FROM pg_stat_user_tables WHERE (relname LIKE 'delivery_p%' OR relname LIKE 'message_p%'"
                        + " OR relname LIKE 'attempt_p%') AND n_tup_del > 0")).isZero();

                // The finished history is gone; everything unfinished stays, listable, with its deliveries.
                assertThat(zd.call("GET", "/api/v1/app/" + app + "/msg/" + delivered, null).status()).isEqualTo(404);
                assertThat(zd.get("/api/v1/app/" + app + "/attempt/endpoint/" + okEp).get("data")).isEmpty();
                assertThat(zd.deliveryState(app, dead)).isEqualTo("dead");
                assertThat(zd.deliveryState(app, held)).isEqualTo("held");
                assertThat(zd.deliveryState(app, later)).isEqualTo("pending");
                assertThat(zd.get("/api/v1/app/" + app + "/msg/" + held).get("payload").toString()).contains("parked");
                assertThat(zd.get("/api/v1/dlq?app_id=" + app).get("data")).hasSize(1);

                // accepted = every state + retired, by the counters and by a recount of the rows.
                zd.post("/api/v1/audit/recount", Map.of());
                JsonNode audit = zd.get("/api/v1/audit?app_id=" + app);
                assertThat(audit.get("accepted").asLong()).isEqualTo(4);
                assertThat(audit.get("retired").asLong()).isEqualTo(1);
                assertThat(audit.get("dead").asLong() + audit.get("held").asLong() + audit.get("pending").asLong()).isEqualTo(3);
                assertThat(audit.get("unaccounted").asLong()).isZero();

                // The kept messages still go out when they can: enabling the endpoint delivers the held one.
                String offEp = zd.get("/api/v1/app/" + app + "/endpoint").get("data").get(2).get("id").asText();
                zd.call("PATCH", "/api/v1/app/" + app + "/endpoint/" + offEp, Map.of("disabled", false));
                await().atMost(Duration.ofSeconds(20)).until(() -> zd.deliveryState(app, held).equals("delivered"));
                assertThat(ok.requests()).anyMatch(r -> r.path().equals("/off") && r.header("webhook-id").equals(held));
                // And new messages land in the partitions made ahead.
                String fresh = send(zd, app, "fine");
                await().atMost(Duration.ofSeconds(20)).until(() -> zd.deliveryState(app, fresh).equals("delivered"));
            }
        }
    }

    @Test
    void aPayloadPastItsRetentionIsGoneTheMessageStaysAndNothingIsSentWithoutIt() throws Exception {
        ShiftedClock clock = new ShiftedClock();
        try (TestDatabase db = TestDatabase.create("payload_retention"); Receiver ok = Receiver.alwaysOk()) {
            Map<Knob, String> knobs = TestServer.defaults(db.url());
            knobs.put(Knob.PAYLOAD_RETENTION, "2h"); // the default; the history stays 90 days
            try (TestServer zd = TestServer.start(knobs, TestServer.quiet(new Server.Options(clock, DispatchListener.NONE,
                    Dispatcher.SendHook.NONE, System.out)))) {
                String app = zd.createApp("payloads");
                String ep = zd.createEndpoint(app, Map.of("url", ok.url("/later"), "disabled", true)).id();
                Map<String, String> key = Map.of("Idempotency-Key", "pay-1");
                String short1 = zd.call("POST", "/api/v1/app/" + app + "/msg", Map.of("eventType", "x", "payload", Map.of("pan", "4111"),
                        "payloadRetentionHours", 1), key).json().get("id").asText();
                String byDefault = send(zd, app, "default");
                String longer = zd.post("/api/v1/app/" + app + "/msg", Map.of("eventType", "x", "payload", Map.of("k", "kept"),
                        "payloadRetentionPeriod", 30)).get("id").asText();
                ContentStore contents = new ContentStore(zd.server().database().jdbc());
                assertThat(contents.expirePayloads(clock.instant(), 1000)).isZero();

                Instant later = clock.advance(Duration.ofMinutes(90));
                assertThat(contents.expirePayloads(later, 1000)).isEqualTo(1); // one hour passed, not two
                assertThat(zd.get("/api/v1/app/" + app + "/msg/" + short1).get("payload").toString()).isEqualTo("{}");
                assertThat(zd.deliveryState(app, short1)).isEqualTo("discarded");
                assertThat(count(db, "SELECT count(*) FROM delivery WHERE reason = 'content expired'")).isEqualTo(1);
                // The stored answer to the idempotent request loses the payload too.
                var repeat = zd.call("POST", "/api/v1/app/" + app + "/msg", Map.of("eventType", "x", "payload", Map.of("pan", "4111"),
                        "payloadRetentionHours", 1), key);
                assertThat(repeat.json().get("id").asText()).isEqualTo(short1);
                assertThat(repeat.text()).doesNotContain("4111");

                clock.advance(Duration.ofMinutes(60));
                assertThat(contents.expirePayloads(clock.instant(), 1000)).isEqualTo(1); // the server default: two hours
                assertThat(zd.get("/api/v1/app/" + app + "/msg/" + byDefault).get("payload").toString()).isEqualTo("{}");
                assertThat(zd.get("/api/v1/app/" + app + "/msg/" + longer).get("payload").toString()).contains("kept");

                // Enabling the endpoint sends only what still has its content.
                zd.call("PATCH", "/api/v1/app/" + app + "/endpoint/" + ep, Map.of("disabled", false));
                await().atMost(Duration.ofSeconds(20)).until(() -> zd.deliveryState(app, longer).equals("delivered"));
                assertThat(ok.requests()).extracting(r -> r.header("webhook-id")).containsExactly(longer);
                assertThat(zd.call("POST", "/api/v1/app/" + app + "/msg/" + short1 + "/endpoint/" + ep + "/resend", null).status())
                        .isEqualTo(409);
                zd.post("/api/v1/audit/recount", Map.of());
                assertThat(zd.get("/api/v1/audit?app_id=" + app).get("unaccounted").asLong()).isZero();
            }
        }
    }

    private static String send(TestServer zd, String app, String type) {
        return zd.post("/api/v1/app/" + app + "/msg", Map.of("eventType", type, "payload", Map.of("k", type))).get("id").asText();
    }
}
