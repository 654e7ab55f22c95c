package dev.zerodrop.dispatch;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import dev.zerodrop.Server;
import dev.zerodrop.chaos.Receiver;
import dev.zerodrop.config.Knob;
import dev.zerodrop.core.Ids;
import dev.zerodrop.store.DeliveryStore;
import dev.zerodrop.store.MessageStore;
import dev.zerodrop.testing.TestDatabase;
import dev.zerodrop.testing.TestServer;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.DriverManager;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * Direct dispatch: the deliveries of an accepted message are leased to the accepting node in the
 * commit that stores the message, and sent without a claim. The lease is as durable as the message.
 */
class DirectDispatchTest {

    @Test
    void aNewMessageIsSentWithoutAClaim() throws Exception {
        AtomicInteger handedOff = new AtomicInteger();
        AtomicInteger claimed = new AtomicInteger();
        DispatchListener counting = new DispatchListener() {
            @Override
            public void claimed(int count) {
                claimed.addAndGet(count);
            }

            @Override
            public void handedOff(int count) {
                handedOff.addAndGet(count);
            }
        };
        try (TestDatabase db = TestDatabase.create("direct"); Receiver r = Receiver.alwaysOk()) {
            Map<Knob, String> knobs = TestServer.defaults(db.url());
            knobs.put(Knob.POLL_INTERVAL, "1h"); // the claim loop only runs when woken
            Server.Options options = TestServer.quiet(new Server.Options(InstantSource.system(), counting, Dispatcher.SendHook.NONE, System.out));
            try (TestServer zd = TestServer.start(knobs, options)) {
                String app = zd.createApp("direct");
                zd.createEndpoint(app, Map.of("url", r.url("/hook")));
                String msg = zd.post("/api/v1/app/" + app + "/msg", Map.of("eventType", "x", "payload", Map.of("n", 1))).get("id").asText();

                await().atMost(Duration.ofSeconds(10)).until(() -> zd.deliveryState(app, msg).equals("delivered"));
                assertThat(r.requests()).hasSize(1);
                assertThat(handedOff.get()).isEqualTo(1);
                assertThat(claimed.get()).isZero();
                try (Connection c = DriverManager.getConnection(db.url())) {
                    var rs = c.createStatement().executeQuery("SELECT lease_token, attempts FROM delivery WHERE msg_id = '" + msg + "'");
                    assertThat(rs.next()).isTrue();
                    assertThat(rs.getLong(1)).isEqualTo(1);
                    assertThat(rs.getInt(2)).isEqualTo(1);
                }
            }
        }
    }

    @Test
    void onlyDeliveriesDueNowToEnabledUnthrottledEndpointsAreLeasedAtIngest() throws Exception {
        try (TestDatabase db = TestDatabase.create("direct_states")) {
            Map<Knob, String> knobs = TestServer.defaults(db.url());
            knobs.put(Knob.DISPATCH, "false");
            try (TestServer zd = TestServer.start(knobs)) {
                String app = zd.createApp("states");
                String plain = zd.createEndpoint(app, Map.of("url", "http://127.0.0.1:9/plain")).id();
                String throttled = zd.createEndpoint(app, Map.of("url", "http://127.0.0.1:9/throttled", "rateLimit", 5)).id();
                String disabled = zd.createEndpoint(app, Map.of("url", "http://127.0.0.1:9/disabled", "disabled", true)).id();
                Instant now = Instant.now();
                Instant until = now.plusSeconds(30);
                byte[] payload = "{\"n\":1}".getBytes(StandardCharsets.UTF_8);
                var due = new MessageStore.NewMessage(Ids.message(now), app, "x", null, null, payload, now, null);
                var later = new MessageStore.NewMessage(Ids.message(now), app, "x", null, null, payload, now, now.plusSeconds(600));
                MessageStore messages = new MessageStore(zd.server().database().jdbc(), TestServer.endpointSecrets());
                MessageStore.Batch b = messages.createAll(List.of(new MessageStore.Submission(due, null),
                        new MessageStore.Submission(later, null)), until);

                assertThat(b.created()).containsExactly(new MessageStore.Created.Stored(3, 1), new MessageStore.Created.Stored(3, 0));
                assertThat(b.leased()).hasSize(1);
                DeliveryStore.Claimed leased = b.leased().getFirst();
                assertThat(leased.msgId()).isEqualTo(due.id());
                assertThat(leased.endpointId()).isEqualTo(plain);
                assertThat(leased.leaseToken()).isEqualTo(1);
                assertThat(leased.payload()).isEqualTo(payload);
                assertThat(leased.url()).isEqualTo("http://127.0.0.1:9/plain");
                assertThat(leased.secret()).startsWith("whsec_");

                Map<String, String> states = states(db, due.id());
                assertThat(states).containsExactlyInAnyOrderEntriesOf(Map.of(plain, "sending", throttled, "pending", disabled, "held"));
                assertThat(states(db, later.id())).containsExactlyInAnyOrderEntriesOf(Map.of(plain, "pending", throttled, "pending", disabled, "held"));
                try (Connection c = DriverManager.getConnection(db.url())) {
                    var rs = c.createStatement().executeQuery("SELECT lease_expires_at FROM delivery WHERE msg_id = '" + due.id()
                            + "' AND endpoint_id = '" + plain + "'");
                    assertThat(rs.next()).isTrue();
                    Instant stored = rs.getObject(1, java.time.OffsetDateTime.class).toInstant();
                    assertThat(Duration.between(until, stored).abs()).isLessThan(Duration.ofMillis(1)); // microsecond rounding
                }

                // Without a lease (the dispatcher has no room, or direct dispatch is off) everything waits for a claim.
                var none = new MessageStore.NewMessage(Ids.message(now), app, "x", null, null, payload, now, null);
                MessageStore.Batch unleased = messages.createAll(List.of(new MessageStore.Submission(none, null)), null);
                assertThat(unleased.leased()).isEmpty();
                assertThat(states(db, none.id())).containsExactlyInAnyOrderEntriesOf(Map.of(plain, "pending", throttled, "pending", disabled, "held"));
            }
        }
    }

    @Test
    void aDeliveryLeasedAtIngestByANodeThatDiedIsRescuedAndDelivered() throws Exception {
        try (TestDatabase db = TestDatabase.create("direct_crash"); Receiver r = Receiver.alwaysOk()) {
            Map<Knob, String> knobs = TestServer.defaults(db.url());
            knobs.put(Knob.REQUEST_TIMEOUT, "500ms");
            knobs.put(Knob.LEASE, "1s");
            try (TestServer zd = TestServer.start(knobs)) {
                String app = zd.createApp("crash");
                zd.createEndpoint(app, Map.of("url", r.url("/hook")));
                // Another node stored the message with its delivery leased to itself, then died before sending it.
                Instant now = Instant.now();
                var m = new MessageStore.NewMessage(Ids.message(now), app, "x", null, null, "{\"n\":2}".getBytes(StandardCharsets.UTF_8), now, null);
                MessageStore.Batch b = new MessageStore(zd.server().database().jdbc(), TestServer.endpointSecrets())
                        .createAll(List.of(new MessageStore.Submission(m, null)), now.plusSeconds(1));
                assertThat(b.leased()).hasSize(1);

                await().atMost(Duration.ofSeconds(15)).until(() -> zd.deliveryState(app, m.id()).equals("delivered"));
                assertThat(r.requests()).hasSize(1);
                assertThat(r.requests().getFirst().header("webhook-id")).isEqualTo(m.id());
                JsonNode attempts = zd.get("/api/v1/app/" + app + "/attempt/msg/" + m.id()).get("data");
                List<String> outcomes = new java.util.ArrayList<>();
                attempts.forEach(a -> outcomes.add(a.get("attemptNumber").asInt() + ":" + a.get("status").asInt()));
                outcomes.sort(null);
                assertThat(outcomes).containsExactly("1:2", "2:0"); // the lost lease, then the delivery
            }
        }
    }

    private static Map<String, String> states(TestDatabase db, String msgId) throws Exception {
        Map<String, String> out = new HashMap<>();
        try (Connection c = DriverManager.getConnection(db.url())) {
            var rs = c.createStatement().executeQuery("SELECT endpoint_id, state FROM delivery WHERE msg_id = '" + msgId + "'");
            while (rs.next()) out.put(rs.getString(1), rs.getString(2));
        }
        return out;
    }
}
