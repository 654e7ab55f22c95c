package dev.zerodrop.delivery;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.zerodrop.chaos.Receiver;
import dev.zerodrop.config.Cidr;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;

/**
 * Two endpoints on one host and port: one hangs, one answers at once. Each endpoint key has its own
 * connection pool, so the hanging one fills only its own.
 */
class EndpointIsolationTest {
    static final int POOL = 16;
    static final int HEALTHY = 400;

    @Test
    void aHangingEndpointDoesNotStallItsNeighbourOnTheSameHostAndPort() throws Exception {
        // Closed in reverse: the client first, which ends the outstanding requests, then the threads.
        try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor();
             Receiver r = new Receiver((req, n) -> req.path().equals("/hang") ? new Receiver.Behaviour.Hang() : Receiver.ok());
             WebhookClient c = new WebhookClient(new AddressGuard(List.of(Cidr.parse("127.0.0.0/8"))), Duration.ofSeconds(2),
                     Duration.ofSeconds(60), 1024, POOL)) {
            healthy(c, r, pool); // warm-up: connections and JIT
            List<Long> alone = healthy(c, r, pool);

            List<Future<SendResult>> hanging = new ArrayList<>();
            for (int i = 0; i < POOL; i++) hanging.add(pool.submit(() -> c.post("hanging", r.url("/hang"), Map.of(), "{}".getBytes())));
            await().atMost(Duration.ofSeconds(20)).until(() -> r.requests().stream().filter(q -> q.path().equals("/hang")).count() == POOL);
            // One more for the hanging endpoint: its pool is full, so it must wait, even for a path that answers.
            Future<SendResult> queued = pool.submit(() -> c.post("hanging", r.url("/ok"), Map.of(), "{}".getBytes()));

            List<Long> beside = healthy(c, r, pool);

            assertThat(hanging).as("every hanging request is still unanswered").noneMatch(Future::isDone);
            assertThat(queued.isDone()).as("the hanging endpoint's own queue is stuck behind its pool").isFalse();
            System.out.printf("healthy endpoint, %d requests, 16 at a time: alone p50 %.2f ms p99 %.2f ms; "
                            + "beside a hanging neighbour (%d requests outstanding on the same host:port) p50 %.2f ms p99 %.2f ms%n",
                    HEALTHY, pct(alone, 50), pct(alone, 99), POOL, pct(beside, 50), pct(beside, 99));
        }
    }

    /** Sends {@link #HEALTHY} requests for the healthy endpoint, 16 at a time; all must be delivered. */
    private static List<Long> healthy(WebhookClient c, Receiver r, ExecutorService pool) throws Exception {
        List<Long> nanos = Collections.synchronizedList(new ArrayList<>());
        List<Future<?>> workers = new ArrayList<>();
        for (int w = 0; w < 16; w++) {
            workers.add(pool.submit(() -> {
                for (int i = 0; i < HEALTHY / 16; i++) {
                    long t = System.nanoTime();
                    SendResult result = c.post("healthy", r.url("/ok"), Map.of(), "{}".getBytes());
                    nanos.add(System.nanoTime() - t);
                    assertThat(result).isInstanceOf(SendResult.Delivered.class);
                }
                return null;
            }));
        }
        for (Future<?> f : workers) f.get();
        assertThat(nanos).hasSize(HEALTHY);
        return nanos;
    }

    private static double pct(List<Long> nanos, int p) {
        List<Long> sorted = new ArrayList<>(nanos);
        Collections.sort(sorted);
        return sorted.get(Math.min(sorted.size() - 1, (int) Math.ceil(p / 100.0 * sorted.size()) - 1)) / 1e6;
    }
}
