package dev.zerodrop.dispatch;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import dev.zerodrop.Server;
import dev.zerodrop.config.Knob;
import dev.zerodrop.store.DeliveryStore;
import dev.zerodrop.chaos.Receiver;
import dev.zerodrop.testing.TestDatabase;
import dev.zerodrop.testing.TestServer;
import java.time.Duration;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.StreamSupport;
import org.junit.jupiter.api.Test;

/**
 * The cure for the race in the retry logic: a worker whose lease expired while its request was in
 * flight (a GC pause, a stall) cannot record its late outcome. Exactly one outcome per attempt wins.
 */
class LeaseFencingTest {

    @Test
    void aStaleWorkersLateOutcomeIsSupersededAndChangesNothing() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        AtomicBoolean paused = new AtomicBoolean();
        CountDownLatch pausedNow = new CountDownLatch(1);
        AtomicInteger superseded = new AtomicInteger();
        AtomicInteger rescued = new AtomicInteger();
        // The first worker to finish its HTTP call stalls, as if in a long GC pause, until released.
        Dispatcher.SendHook stall = claimed -> {
            if (paused.compareAndSet(false, true)) {
                pausedNow.countDown();
                try {
                    release.await(60, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        };
        DispatchListener counting = new DispatchListener() {
            @Override
            public void completed(int committed, int stale) {
                superseded.addAndGet(stale);
            }

            @Override
            public void rescued(int count) {
                rescued.addAndGet(count);
            }
        };
        try (TestDatabase db = TestDatabase.create("fencing"); Receiver r = Receiver.alwaysOk()) {
            Map<Knob, String> knobs = TestServer.defaults(db.url());
            knobs.put(Knob.REQUEST_TIMEOUT, "500ms");
            knobs.put(Knob.LEASE, "1s");
            try (TestServer zd = TestServer.start(knobs, TestServer.quiet(new Server.Options(InstantSource.system(), counting, stall, System.out)))) {
                String app = zd.createApp("fencing");
                zd.createEndpoint(app, Map.of("url", r.url("/hook")));
                String msg = zd.post("/api/v1/app/" + app + "/msg", Map.of("eventType", "x", "payload", Map.of())).get("id").asText();

                assertThat(pausedNow.await(10, TimeUnit.SECONDS)).isTrue();
                // While the first worker stalls, its lease expires: the rescuer records a lost-lease attempt,
                // and a fresh claim (new fencing token) delivers the message again with the same webhook-id.
                await().atMost(Duration.ofSeconds(15)).until(() -> r.requests().size() == 2 && DeliveryTest.stateOf(zd, app, msg).equals("delivered"));
                assertThat(rescued.get()).isEqualTo(1);

                release.countDown(); // the stale worker wakes up and tries to record its outcome
                await().atMost(Duration.ofSeconds(10)).until(() -> superseded.get() == 1);

                JsonNode data = zd.get("/api/v1/app/" + app + "/attempt/msg/" + msg).get("data");
                List<JsonNode> rows = new ArrayList<>(StreamSupport.stream(data.spliterator(), false).toList());
                rows.sort(java.util.Comparator.comparingInt(x -> x.get("attemptNumber").asInt()));
                assertThat(rows).hasSize(2);
                assertThat(rows.get(0).get("attemptNumber").asInt()).isEqualTo(1);
                assertThat(rows.get(0).get("errorClass").asText()).isEqualTo("lost-lease");
                assertThat(rows.get(1).get("attemptNumber").asInt()).isEqualTo(2);
                assertThat(rows.get(1).get("status").asInt()).isZero();
                assertThat(DeliveryTest.stateOf(zd, app, msg)).isEqualTo("delivered");
                assertThat(r.requests()).extracting(x -> x.header("webhook-id")).containsOnly(msg);
            }
        }
    }

    @Test
    void aCompletionWithAnOldTokenIsRejectedByTheStore() throws Exception {
        try (TestDatabase db = TestDatabase.create("fence_store")) {
            try (TestServer zd = undispatched(db)) {
                String app = oneMessage(zd);
                DeliveryStore store = new DeliveryStore(zd.server().database().jdbc(), TestServer.endpointSecrets());
                var now = java.time.Instant.now();
                var first = store.claim(now, 10, Duration.ofMillis(1));
                assertThat(first).hasSize(1);
                // The lease lapses and a second worker claims the same delivery with a new token.
                store.rescue(now.plusSeconds(1), 10, x -> completion(x.id(), x.partAt(), x.leaseToken(), "pending", now,
                        false, attempt(x.id(), x.msgId(), x.endpointId(), x.appId(), 1, "lost-lease", now)));
                var second = store.claim(now.plusSeconds(2), 10, Duration.ofSeconds(30));
                assertThat(second).hasSize(1);
                assertThat(second.getFirst().leaseToken()).isGreaterThan(first.getFirst().leaseToken());

                var c1 = first.getFirst();
                var stale = completion(c1.id(), c1.partAt(), c1.leaseToken(), "delivered", null, false,
                        attempt(c1.id(), c1.msgId(), c1.endpointId(), c1.appId(), 2, null, now));
                assertThat(store.complete(List.of(stale), now)).containsExactly(stale);
                var c2 = second.getFirst();
                var current = completion(c2.id(), c2.partAt(), c2.leaseToken(), "delivered", null, false,
                        attempt(c2.id(), c2.msgId(), c2.endpointId(), c2.appId(), 2, null, now));
                assertThat(store.complete(List.of(current), now)).isEmpty();
                // A second write with the winning token is a no-op too: the delivery is no longer leased.
                assertThat(store.complete(List.of(current), now)).containsExactly(current);
                // A stale 410 must not disable the endpoint either.
                var stale410 = completion(c1.id(), c1.partAt(), c1.leaseToken(), "held", null, true,
                        attempt(c1.id(), c1.msgId(), c1.endpointId(), c1.appId(), 3, "http", now));
                assertThat(store.complete(List.of(stale410), now)).containsExactly(stale410);
                assertThat(zd.get("/api/v1/app/" + app + "/endpoint/" + c1.endpointId()).get("disabled").asBoolean()).isFalse();
            }
        }
    }

    /**
     * Found by the chaos harness: a completer stalled for seconds queues a stale outcome and the
     * current one of the same delivery (re-claimed after its lease was rescued) into one batch. Only
     * the current one may be recorded: winners are matched by delivery and token, not by delivery.
     */
    @Test
    void aStaleAndACurrentOutcomeOfOneDeliveryInOneBatchRecordOnlyTheCurrent() throws Exception {
        try (TestDatabase db = TestDatabase.create("fence_batch")) {
            try (TestServer zd = undispatched(db)) {
                String app = oneMessage(zd);
                DeliveryStore store = new DeliveryStore(zd.server().database().jdbc(), TestServer.endpointSecrets());
                var now = java.time.Instant.now();
                var first = store.claim(now, 10, Duration.ofMillis(1)).getFirst();
                store.rescue(now.plusSeconds(1), 10, x -> completion(x.id(), x.partAt(), x.leaseToken(), "pending", now, false,
                        attempt(x.id(), x.msgId(), x.endpointId(), x.appId(), 1, "lost-lease", now), true));
                var second = store.claim(now.plusSeconds(2), 10, Duration.ofSeconds(30)).getFirst();
                var stale = completion(first.id(), first.partAt(), first.leaseToken(), "delivered", null, false,
                        attempt(first.id(), first.msgId(), first.endpointId(), first.appId(), 1, null, now));
                var current = completion(second.id(), second.partAt(), second.leaseToken(), "delivered", null, false,
                        attempt(second.id(), second.msgId(), second.endpointId(), second.appId(), 2, null, now));
                assertThat(store.complete(List.of(stale, current), now)).containsExactly(stale);
                long rows = zd.server().database().jdbc().queryOne("SELECT count(*) FROM attempt WHERE delivery_id = ?",
                        rs -> rs.getLong(1), first.id()).orElseThrow();
                long successes = zd.server().database().jdbc().queryOne("SELECT count(*) FROM attempt WHERE delivery_id = ? AND status = 0",
                        rs -> rs.getLong(1), first.id()).orElseThrow();
                assertThat(rows).isEqualTo(2);      // the lost-lease attempt 1 and the current attempt 2
                assertThat(successes).isEqualTo(1); // not the stale attempt 1 as well
            }
        }
    }

    /** A node that accepts messages but does not dispatch them: the test plays the dispatcher. */
    static TestServer undispatched(TestDatabase db) throws Exception {
        Map<Knob, String> knobs = TestServer.defaults(db.url());
        knobs.put(Knob.DISPATCH, "false");
        return TestServer.start(knobs, TestServer.quiet(Server.Options.defaults()));
    }

    /** One message to one endpoint, leaving one pending delivery; returns the application id. */
    static String oneMessage(TestServer zd) {
        String app = zd.createApp("fence");
        zd.createEndpoint(app, Map.of("url", "http://127.0.0.1:9/never"));
        zd.post("/api/v1/app/" + app + "/msg", Map.of("eventType", "x", "payload", Map.of()));
        return app;
    }

    static DeliveryStore.Completion completion(long id, java.time.Instant partAt, long token, String state, java.time.Instant next,
                                               boolean disable, dev.zerodrop.store.Attempt attempt) {
        return completion(id, partAt, token, state, next, disable, attempt, false);
    }

    static DeliveryStore.Completion completion(long id, java.time.Instant partAt, long token, String state, java.time.Instant next,
                                               boolean disable, dev.zerodrop.store.Attempt attempt, boolean refund) {
        return new DeliveryStore.Completion(id, partAt, token, dev.zerodrop.core.DeliveryState.of(state), next, disable, attempt, refund, 0,
                null, null);
    }

    static dev.zerodrop.store.Attempt attempt(long id, String msg, String ep, String app, int no, String error, java.time.Instant at) {
        return new dev.zerodrop.store.Attempt(dev.zerodrop.core.Ids.attempt(at), id, msg, ep, app, no, dev.zerodrop.core.TriggerType.SCHEDULED,
                error == null ? dev.zerodrop.core.AttemptStatus.SUCCESS : dev.zerodrop.core.AttemptStatus.FAIL,
                error, error == null ? 200 : 0, "", 1, "http://127.0.0.1:9/never", at);
    }
}
