package dev.zerodrop.dispatch;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.zerodrop.Server;
import dev.zerodrop.chaos.Receiver;
import dev.zerodrop.testing.TestDatabase;
import dev.zerodrop.testing.TestServer;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;

/** Two nodes on one database: SKIP LOCKED claims and fencing keep every attempt single. */
class TwoDispatchersTest {

    @Test
    void twoNodesDeliverEachMessageOncePerAttemptWithNothingLostOrDoubleRecorded() throws Exception {
        // Every fifth message fails once, so retries are claimed by whichever node is free.
        try (TestDatabase db = TestDatabase.create("two_nodes");
             Receiver r = new Receiver((req, previous) -> req.bodyText().contains("\"flaky\":true") && previous == 0
                     ? Receiver.status(500) : Receiver.ok());
             TestServer one = TestServer.start(TestServer.defaults(db.url()), TestServer.quiet(Server.Options.defaults()));
             TestServer two = TestServer.start(TestServer.defaults(db.url()), TestServer.quiet(Server.Options.defaults()))) {
            String app = one.createApp("shared");
            one.createEndpoint(app, Map.of("url", r.url("/hook")));
            int n = 300;
            try (ExecutorService producers = Executors.newFixedThreadPool(8)) {
                List<Future<?>> sent = new java.util.ArrayList<>();
                for (int i = 0; i < n; i++) {
                    TestServer node = i % 2 == 0 ? one : two;
                    int k = i;
                    sent.add(producers.submit(() -> node.post("/api/v1/app/" + app + "/msg",
                            Map.of("eventType", "x", "payload", Map.of("ref", k, "flaky", k % 5 == 0)))));
                }
                for (Future<?> f : sent) f.get();
            }
            await().atMost(Duration.ofSeconds(60)).until(() -> count(db, "SELECT count(*) FROM delivery WHERE state = 'delivered'") == n);

            Map<String, Integer> perId = new HashMap<>();
            for (Receiver.Request req : r.requests()) perId.merge(req.header("webhook-id"), 1, Integer::sum);
            assertThat(perId).hasSize(n);
            long flaky = n / 5;
            // Flaky messages were received twice (the 500, then the success); all others exactly once.
            assertThat(perId.values().stream().filter(v -> v == 2).count()).isEqualTo(flaky);
            assertThat(perId.values()).allMatch(v -> v <= 2);
            assertThat(count(db, "SELECT count(*) FROM attempt")).isEqualTo(n + flaky);
            assertThat(count(db, "SELECT count(*) FROM (SELECT delivery_id, attempt_no FROM attempt GROUP BY 1, 2 HAVING count(*) > 1) d")).isZero();
            assertThat(count(db, "SELECT count(*) FROM (SELECT delivery_id FROM attempt WHERE status = 0 GROUP BY 1 HAVING count(*) > 1) d")).isZero();
            assertThat(count(db, "SELECT count(*) FROM delivery WHERE state <> 'delivered'")).isZero();
        }
    }

    static long count(TestDatabase db, String sql) throws Exception {
        try (var c = DriverManager.getConnection(db.url()); var s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            rs.next();
            return rs.getLong(1);
        }
    }
}
