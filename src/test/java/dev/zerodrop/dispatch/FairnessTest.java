package dev.zerodrop.dispatch;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.zerodrop.Server;
import dev.zerodrop.chaos.Receiver;
import dev.zerodrop.config.Knob;
import dev.zerodrop.testing.TestDatabase;
import dev.zerodrop.testing.TestServer;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** A backlog on one endpoint must not starve the others. */
class FairnessTest {

    @Test
    void freshMessagesToOtherEndpointsAreDeliveredWhileABacklogDrains() throws Exception {
        try (TestDatabase db = TestDatabase.create("fairness");
             Receiver slow = new Receiver((req, n) -> new Receiver.Behaviour.Slow(Duration.ofMillis(200), Receiver.ok()), false);
             Receiver fast = Receiver.alwaysOk()) {
            Map<Knob, String> knobs = TestServer.defaults(db.url());
            knobs.put(Knob.ENDPOINT_MAX_IN_FLIGHT, "4");
            knobs.put(Knob.MAX_IN_FLIGHT, "64");
            knobs.put(Knob.CLAIM_BATCH, "50");
            knobs.put(Knob.DISPATCH, "false");
            String backlogApp;
            String backlogEp;
            String freshApp;
            try (TestServer setup = TestServer.start(knobs, TestServer.quiet(Server.Options.defaults()))) {
                backlogApp = setup.createApp("backlog");
                backlogEp = setup.createEndpoint(backlogApp, Map.of("url", slow.url("/slow"))).id();
                freshApp = setup.createApp("fresh");
                setup.createEndpoint(freshApp, Map.of("url", fast.url("/fast")));
            }
            // 5,000 deliveries to the slow endpoint, due an hour ago: at 4 in flight and 200 ms each it
            // needs over four minutes, far longer than this test runs.
            db.exec("INSERT INTO message (id, app_id, event_type, payload, created_at, part_at) SELECT 'msg_b' || g, '" + backlogApp
                    + "', 'old', '\\x7b7d', now(), timestamptz '2020-01-01 00:00:00+00' FROM generate_series(1, 5000) g");
            db.exec("INSERT INTO delivery (msg_id, endpoint_id, app_id, state, next_attempt_at, created_at, updated_at, part_at) SELECT 'msg_b' || g, '"
                    + backlogEp + "', '" + backlogApp + "', 'pending', now() - interval '1 hour', now(), now(), timestamptz '2020-01-01 00:00:00+00' FROM generate_series(1, 5000) g");
            knobs.put(Knob.DISPATCH, "true");
            try (TestServer zd = TestServer.start(knobs, TestServer.quiet(Server.Options.defaults()))) {
                await().atMost(Duration.ofSeconds(10)).until(() -> slow.requestCount() >= 8);
                long start = System.nanoTime();
                for (int i = 0; i < 20; i++) zd.post("/api/v1/app/" + freshApp + "/msg", Map.of("eventType", "new", "payload", Map.of("i", i)));
                await().atMost(Duration.ofSeconds(10)).until(() -> fast.requests().size() == 20);
                double seconds = (System.nanoTime() - start) / 1e9;
                System.out.printf("[figures] fairness: 20 fresh messages delivered in %.2fs while the backlog endpoint had %d of 5000 done%n",
                        seconds, slow.requestCount());
                assertThat(slow.requestCount()).isLessThan(1000); // the backlog was still there
            }
        }
    }
}
