package dev.zerodrop.dispatch;

import dev.zerodrop.core.Ids;
import dev.zerodrop.delivery.SendResult;
import dev.zerodrop.delivery.Signer;
import dev.zerodrop.delivery.WebhookClient;
import dev.zerodrop.store.DeliveryStore;
import dev.zerodrop.store.DeliveryStore.AttemptRecord;
import dev.zerodrop.store.DeliveryStore.Claimed;
import dev.zerodrop.store.DeliveryStore.Completion;
import dev.zerodrop.store.StoreUnavailableException;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.random.RandomGenerator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.spi.LoggingEventBuilder;

/**
 * The heart of ZeroDrop. One claim loop leases due deliveries in batches; each leased delivery is
 * sent on its own virtual thread; one completer writes outcomes in batches, fenced by lease token;
 * a rescuer returns expired leases. No database transaction is open during an HTTP call.
 */
public final class Dispatcher implements AutoCloseable, dev.zerodrop.ingest.GroupCommit.Handoff {
    private static final Logger log = LoggerFactory.getLogger(Dispatcher.class);
    private static final int COMPLETION_BATCH = 500;

    /** Settings of the dispatcher. */
    public record Settings(Duration lease, Duration requestTimeout, int claimBatch, int maxInFlight, int endpointMaxInFlight,
                           Duration pollInterval, Duration shutdownGrace, boolean svixHeaders) {

        /**
         * How long after its claim a request may still start: waiting for the endpoint's rate limit
         * must leave the whole request timeout, and a margin, inside the lease.
         */
        Duration startWindow() {
            Duration slack = lease.minus(requestTimeout);
            Duration margin = slack.dividedBy(2).compareTo(Duration.ofSeconds(5)) < 0 ? slack.dividedBy(2) : Duration.ofSeconds(5);
            return slack.minus(margin);
        }
    }

    /** A test seam: runs after the HTTP call and before the outcome is queued (to force a stale worker). */
    public interface SendHook {
        SendHook NONE = c -> {};

        void afterSend(Claimed claimed);
    }

    private final DeliveryStore store;
    private final WebhookClient client;
    private final RetryPolicy policy;
    private final Settings settings;
    private final InstantSource clock;
    private final DispatchListener listener;
    private final SendHook hook;
    private final RandomGenerator random = RandomGenerator.getDefault();

    private final Semaphore inFlight;
    private final Map<String, Semaphore> endpointSlots = new ConcurrentHashMap<>();
    /** Endpoints whose deliveries were handed back for want of a slot: a freed slot wakes the claim loop. */
    private final Set<String> saturated = ConcurrentHashMap.newKeySet();
    private final Map<String, RateLimiter> limiters = new ConcurrentHashMap<>();
    private final Map<Long, Claimed> active = new ConcurrentHashMap<>();
    private final LinkedBlockingQueue<Outcome> completions = new LinkedBlockingQueue<>();
    private final ExecutorService senders = Executors.newVirtualThreadPerTaskExecutor();

    private final ReentrantLock lock = new ReentrantLock();
    private final Condition wakeup = lock.newCondition();
    private boolean woken;
    private final AtomicLong nextWakeMillis = new AtomicLong(Long.MAX_VALUE);

    private final AtomicBoolean running = new AtomicBoolean();
    private final AtomicBoolean claiming = new AtomicBoolean();
    private Thread claimThread;
    private Thread completerThread;
    private Thread rescuerThread;

    public Dispatcher(DeliveryStore store, WebhookClient client, RetryPolicy policy, Settings settings,
                      InstantSource clock, DispatchListener listener, SendHook hook) {
        this.store = store;
        this.client = client;
        this.policy = policy;
        this.settings = settings;
        this.clock = clock;
        this.listener = DispatchListener.all(listener); // an observer that throws must not fail a recorded batch
        this.hook = hook;
        this.inFlight = new Semaphore(settings.maxInFlight());
    }

    public void start() {
        if (!running.compareAndSet(false, true)) return;
        claiming.set(true);
        claimThread = Thread.ofPlatform().name("zd-claim").daemon().start(this::claimLoop);
        completerThread = Thread.ofPlatform().name("zd-complete").daemon().start(this::completeLoop);
        rescuerThread = Thread.ofPlatform().name("zd-rescue").daemon().start(this::rescueLoop);
    }

    /** Tells the claim loop that new work may be due now (called by ingest, resend, recover). */
    public void wake() {
        lock.lock();
        try {
            woken = true;
            wakeup.signal();
        } finally {
            lock.unlock();
        }
    }

    private void wakeAt(Instant at) {
        long millis = at.toEpochMilli();
        long before = nextWakeMillis.getAndAccumulate(millis, Math::min);
        // A sooner wake-up than the claim loop is waiting for: let it recompute its deadline.
        if (millis < before) wake();
    }

    // ---- claiming -------------------------------------------------------------------------------

    private void claimLoop() {
        Duration backoff = Duration.ofMillis(100);
        while (claiming.get()) {
            try {
                int free = inFlight.availablePermits();
                if (free == 0) {
                    await(settings.pollInterval());
                    continue;
                }
                int want = Math.min(settings.claimBatch(), free);
                Instant now = clock.instant();
                List<Claimed> claims = store.claim(now, want, settings.lease());
                backoff = Duration.ofMillis(100);
                if (!claims.isEmpty()) listener.claimed(claims.size());
                int sent = dispatch(claims, System.nanoTime());
                if (sent == 0 && !claims.isEmpty()) {
                    await(settings.pollInterval()); // nothing sendable: wait for a slot to free
                    continue;
                }
                if (claims.size() < want) await(settings.pollInterval());
            } catch (RuntimeException e) {
                listener.loopError("claim", e);
                log.warn("claim failed, retrying in {}ms: {}", backoff.toMillis(), e.getMessage());
                sleep(backoff);
                backoff = min(backoff.multipliedBy(2), Duration.ofSeconds(5));
            }
        }
    }

    /**
     * Starts sending leased deliveries. An endpoint at its in-flight cap (or a node at its own) gets
     * its deliveries back at once, in their place in the queue; they never wait here holding a slot
     * other deliveries could use. Returns how many were started.
     */
    private int dispatch(List<Claimed> claims, long claimedAt) {
        List<Claimed> overCap = new ArrayList<>();
        Set<String> full = new java.util.HashSet<>();
        int started = 0;
        for (Claimed c : claims) {
            Semaphore slot = slot(c.endpointId());
            if (!slot.tryAcquire()) {
                overCap.add(c);
                full.add(c.endpointId());
                continue;
            }
            if (!inFlight.tryAcquire()) {
                slot.release();
                overCap.add(c);
                continue;
            }
            active.put(c.id(), c);
            senders.execute(() -> send(c, slot, claimedAt));
            started++;
        }
        if (!overCap.isEmpty()) {
            store.release(overCap, null, clock.instant());
            saturated.addAll(full); // released first: a slot freed from now on wakes the claim loop to them
        }
        return started;
    }

    /**
     * Until when the deliveries of messages accepted now may be leased to this node at creation, or
     * null when this node is not taking work or has fewer than {@code messages} free in-flight slots
     * (they are then created pending, for any node's claim loop).
     */
    @Override
    public Instant leaseUntil(int messages) {
        if (!claiming.get() || inFlight.availablePermits() < messages) return null;
        return clock.instant().plus(settings.lease());
    }

    /**
     * Sends deliveries that ingest created leased to this node (after their commit), as if the claim
     * loop had claimed them at {@code leasedAtNanos}. If this node has stopped taking work, their
     * leases are released for any node to claim.
     */
    @Override
    public void adopt(List<Claimed> leased, long leasedAtNanos) {
        if (leased.isEmpty()) return;
        listener.handedOff(leased.size());
        if (!claiming.get()) {
            store.release(leased, null, clock.instant());
            return;
        }
        if (dispatch(leased, leasedAtNanos) < leased.size()) wake();
    }

    /** Waits until woken, until a known retry falls due, or for {@code max}. */
    private void await(Duration max) {
        lock.lock();
        try {
            long deadline = Math.min(System.currentTimeMillis() + max.toMillis(), nextWakeMillis.get());
            while (!woken && claiming.get()) {
                long wait = deadline - System.currentTimeMillis();
                if (wait <= 0) break;
                wakeup.await(wait, TimeUnit.MILLISECONDS);
            }
            woken = false;
            if (nextWakeMillis.get() <= System.currentTimeMillis()) nextWakeMillis.set(Long.MAX_VALUE);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            lock.unlock();
        }
    }

    // ---- sending --------------------------------------------------------------------------------

    private Semaphore slot(String endpointId) {
        return endpointSlots.computeIfAbsent(endpointId, k -> new Semaphore(settings.endpointMaxInFlight()));
    }

    private void send(Claimed c, Semaphore slot, long claimedAtNanos) {
        long startBy = claimedAtNanos + settings.startWindow().toNanos();
        boolean leaveLeased = false;
        try {
            if (c.throttleRate() != null && c.throttleRate() > 0) {
                long now = System.nanoTime();
                long waitNanos = limiters.computeIfAbsent(c.endpointId(), k -> new RateLimiter()).reserve(c.throttleRate(), now);
                if (now + waitNanos > startBy) {
                    defer(c, clock.instant().plusNanos(waitNanos));
                    return;
                }
                if (waitNanos > 0) Thread.sleep(Duration.ofNanos(waitNanos));
            }
            Instant started = clock.instant();
            SendResult result = client.post(c.endpointId(), c.url(), headers(c, started), c.payload());
            if (Thread.currentThread().isInterrupted()) {
                // Shutting down past the grace period: the request was aborted; close() releases the lease.
                leaveLeased = true;
                return;
            }
            hook.afterSend(c);
            active.remove(c.id());
            completions.add(new Outcome(completion(c, result, started), c.msgCreatedAt()));
        } catch (InterruptedException e) {
            leaveLeased = true;
            Thread.currentThread().interrupt();
        } catch (RuntimeException e) {
            // A bug, not a receiver failure: leave the lease to expire so the rescuer records it.
            ids(log.atError(), c.id(), c.msgId(), c.endpointId(), c.appId()).setCause(e).log("unexpected error sending delivery {}", c.id());
        } finally {
            slot.release();
            if (saturated.remove(c.endpointId())) wake(); // its held-back deliveries can go now
            if (!leaveLeased) active.remove(c.id());
            inFlight.release();
        }
    }

    private void defer(Claimed c, Instant dueAt) {
        try {
            store.release(List.of(c), dueAt, clock.instant());
            wakeAt(dueAt);
        } catch (RuntimeException e) {
            ids(log.atWarn(), c.id(), c.msgId(), c.endpointId(), c.appId())
                    .log("could not release delivery {}; its lease will expire: {}", c.id(), e.getMessage());
        }
    }

    Map<String, String> headers(Claimed c, Instant now) {
        Map<String, String> h = new LinkedHashMap<>(c.headers());
        long ts = now.getEpochSecond();
        String signature = Signer.header(c.signingSecrets(now), c.msgId(), ts, c.payload());
        h.put("webhook-id", c.msgId());
        h.put("webhook-timestamp", Long.toString(ts));
        h.put("webhook-signature", signature);
        if (settings.svixHeaders()) {
            h.put("svix-id", c.msgId());
            h.put("svix-timestamp", Long.toString(ts));
            h.put("svix-signature", signature);
        }
        return h;
    }

    Completion completion(Claimed c, SendResult result, Instant started) {
        int attemptNo = c.attempts() + 1;
        int inBudget = attemptNo - c.budgetBase();
        String state;
        Instant next = null;
        boolean disable = false;
        String errorClass = null;
        int status = 0;
        switch (result) {
            case SendResult.Delivered d -> state = "delivered";
            case SendResult.Failed f -> {
                status = 2;
                errorClass = f.errorClass().label();
                if (f.status() == 410) {
                    state = "held";
                    disable = true;
                } else {
                    switch (policy.afterFailure(inBudget, f.retryAfter(), random)) {
                        case RetryPolicy.Decision.Retry r -> {
                            state = "pending";
                            next = clock.instant().plus(r.delay());
                        }
                        case RetryPolicy.Decision.Dead dead -> state = "dead";
                    }
                }
            }
        }
        var attempt = new AttemptRecord(Ids.attempt(started), c.id(), c.msgId(), c.endpointId(), c.appId(), attemptNo,
                c.manual() ? 1 : 0, status, errorClass, result.status(), result.body(), result.durationMs(), c.url(), started);
        return new Completion(c.id(), c.leaseToken(), state, next, disable, attempt, false, sli(c, state, attemptNo, started));
    }

    /** The indicator events of this outcome (operators' resends and replays are not the platform's). */
    DeliveryStore.Sli sli(Claimed c, String state, int attemptNo, Instant started) {
        if (c.manual()) return null;
        long dispatchMs = -2;
        if (attemptNo == 1 && c.dueAt() != null) dispatchMs = Math.max(0, java.time.Duration.between(c.dueAt(), started).toMillis());
        boolean ended = state.equals("delivered") || state.equals("dead");
        long deliveredMs = state.equals("delivered") && c.msgCreatedAt() != null
                ? Math.max(0, java.time.Duration.between(c.msgCreatedAt(), clock.instant()).toMillis()) : -1;
        if (dispatchMs < -1 && !ended) return null;
        return new DeliveryStore.Sli(dispatchMs < -1 ? -1 : dispatchMs, ended, deliveredMs);
    }

    // ---- completing -----------------------------------------------------------------------------

    /** An outcome waiting for the completer, with when its message was accepted (for the listener). */
    private record Outcome(Completion completion, Instant msgCreatedAt) {}

    private void completeLoop() {
        List<Outcome> batch = new ArrayList<>(COMPLETION_BATCH);
        Duration backoff = Duration.ofMillis(100);
        while (running.get() || !completions.isEmpty() || !batch.isEmpty()) {
            try {
                if (batch.isEmpty()) {
                    Outcome first = completions.poll(200, TimeUnit.MILLISECONDS);
                    if (first == null) continue;
                    batch.add(first);
                    completions.drainTo(batch, COMPLETION_BATCH - 1);
                }
                record(batch);
                batch.clear();
                backoff = Duration.ofMillis(100);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            } catch (StoreUnavailableException e) {
                // Keep the batch: the outcomes are retried until the database takes them. If their
                // leases are rescued meanwhile, the fence turns them into superseded no-ops.
                listener.loopError("complete", e);
                log.warn("recording {} outcomes failed, retrying in {}ms: database unavailable", batch.size(), backoff.toMillis());
                sleep(backoff);
                backoff = min(backoff.multipliedBy(2), Duration.ofSeconds(5));
            } catch (RuntimeException e) {
                // Not an outage: one outcome may be unstorable. Record them one by one so that it
                // cannot hold the others back.
                listener.loopError("complete", e);
                log.error("recording a batch of {} outcomes failed ({}); recording them one by one", batch.size(), e.getMessage());
                for (Outcome x : batch) recordAlone(x);
                batch.clear();
            }
        }
    }

    private void record(List<Outcome> batch) {
        Instant now = clock.instant();
        Set<Completion> superseded = store.complete(batch.stream().map(Outcome::completion).toList(), now);
        listener.completed(batch.size() - superseded.size(), superseded.size());
        for (Outcome o : batch) {
            Completion x = o.completion();
            var a = x.attempt();
            if (superseded.contains(x)) {
                ids(log.atWarn(), x.deliveryId(), a.msgId(), a.endpointId(), a.appId())
                        .log("superseded outcome of delivery {} attempt {} ignored: its lease (token {}) was taken over",
                                x.deliveryId(), a.attemptNo(), x.leaseToken());
                continue;
            }
            String outcome = "pending".equals(x.newState()) ? "retry" : x.newState();
            listener.attempted(outcome, a.errorClass(), Duration.ofMillis(a.durationMs()), Duration.between(o.msgCreatedAt(), now));
            if (x.nextAttemptAt() != null) {
                wakeAt(x.nextAttemptAt());
            } else if (!"delivered".equals(outcome)) {
                ids(log.atInfo(), x.deliveryId(), a.msgId(), a.endpointId(), a.appId())
                        .log("delivery {} is {} after attempt {} ({} error, response status {})", x.deliveryId(), outcome, a.attemptNo(),
                                a.errorClass(), a.responseStatus());
            }
        }
    }

    /** Records one outcome; if even that fails, retries once without the receiver's response text. */
    private void recordAlone(Outcome o) {
        Completion x = o.completion();
        try {
            record(List.of(o));
        } catch (RuntimeException first) {
            var a = x.attempt();
            var bare = new AttemptRecord(a.id(), a.deliveryId(), a.msgId(), a.endpointId(), a.appId(), a.attemptNo(), a.triggerType(),
                    a.status(), a.errorClass(), a.responseStatus(), "(response not storable)", a.durationMs(), a.url(), a.createdAt());
            try {
                record(List.of(new Outcome(new Completion(x.deliveryId(), x.leaseToken(), x.newState(), x.nextAttemptAt(),
                        x.disableEndpoint(), bare, x.refundBudget()), o.msgCreatedAt())));
            } catch (RuntimeException second) {
                ids(log.atError(), x.deliveryId(), a.msgId(), a.endpointId(), a.appId())
                        .log("could not record the outcome of delivery {} ({}); its lease will expire and be rescued",
                                x.deliveryId(), second.getMessage());
            }
        }
    }

    /** Puts a delivery's ids on a log line as key-value pairs (JSON logs carry them as fields). */
    private static LoggingEventBuilder ids(LoggingEventBuilder b, long deliveryId, String msgId, String endpointId, String appId) {
        return b.addKeyValue("deliveryId", deliveryId).addKeyValue("msgId", msgId).addKeyValue("endpointId", endpointId)
                .addKeyValue("appId", appId);
    }

    // ---- rescuing -------------------------------------------------------------------------------

    private void rescueLoop() {
        long period = Math.max(100, Math.min(5_000, settings.lease().toMillis() / 4));
        while (running.get()) {
            sleep(Duration.ofMillis(period));
            try {
                int n;
                do {
                    List<Completion> lost = new ArrayList<>();
                    n = store.rescue(clock.instant(), 500, x -> {
                        Completion c = lostLease(x);
                        lost.add(c);
                        return c;
                    });
                    if (n > 0) {
                        listener.rescued(n);
                        log.warn("rescued {} deliveries whose lease expired", n);
                        for (Completion c : lost) {
                            var a = c.attempt();
                            ids(log.atInfo(), c.deliveryId(), a.msgId(), a.endpointId(), a.appId())
                                    .log("the lease of delivery {} (token {}) expired: recorded a lost-lease attempt, retrying",
                                            c.deliveryId(), c.leaseToken());
                        }
                        wake();
                    }
                } while (n == 500 && running.get());
            } catch (RuntimeException e) {
                listener.loopError("rescue", e);
                log.warn("lease rescue failed: {}", e.getMessage());
            }
        }
    }

    /** An expired lease becomes a {@code lost-lease} attempt; the delivery goes back to pending. */
    Completion lostLease(DeliveryStore.Expired x) {
        Instant now = clock.instant();
        int attemptNo = x.attempts() + 1;
        Instant next = now.plus(policy.afterLostLease(attemptNo - x.budgetBase(), random));
        var attempt = new AttemptRecord(Ids.attempt(now), x.id(), x.msgId(), x.endpointId(), x.appId(), attemptNo,
                x.manual() ? 1 : 0, 2, SendResult.ErrorClass.LOST_LEASE.label(), 0,
                "lease expired before an outcome was recorded", 0, x.url(), now);
        return new Completion(x.id(), x.leaseToken(), "pending", next, false, attempt, true);
    }

    // ---- lifecycle ------------------------------------------------------------------------------

    /**
     * Stops claiming, lets in-flight requests finish within the shutdown grace, records their
     * outcomes, and releases the leases of any still running so another node can take them at once.
     */
    @Override
    public void close() {
        if (!running.get()) return;
        claiming.set(false);
        wake();
        join(claimThread, Duration.ofSeconds(10));
        long deadline = System.nanoTime() + settings.shutdownGrace().toNanos();
        boolean drained = false;
        try {
            while (!(drained = inFlight.tryAcquire(settings.maxInFlight(), 50, TimeUnit.MILLISECONDS))) {
                if (System.nanoTime() > deadline) break;
            }
            if (!drained) {
                // Abort the requests still running, so that nothing is sent after its lease is released.
                senders.shutdownNow();
                senders.awaitTermination(5, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        List<Claimed> unfinished = new ArrayList<>(active.values());
        if (!unfinished.isEmpty()) {
            log.info("releasing {} in-flight deliveries at shutdown", unfinished.size());
            try {
                store.release(unfinished, clock.instant(), clock.instant());
            } catch (RuntimeException e) {
                log.warn("could not release in-flight leases; they will expire: {}", e.getMessage());
            }
        }
        running.set(false);
        join(completerThread, Duration.ofSeconds(10));
        try {
            store.flushSli(); // the indicator events of the last outcomes
        } catch (RuntimeException e) {
            log.warn("could not write the last SLO indicator events: {}", e.getMessage());
        }
        rescuerThread.interrupt();
        join(rescuerThread, Duration.ofSeconds(5));
        senders.shutdownNow();
    }

    /** Deliveries this node is sending right now. */
    public int inFlight() {
        return active.size();
    }

    private static void join(Thread t, Duration timeout) {
        if (t == null) return;
        try {
            t.join(timeout);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static void sleep(Duration d) {
        try {
            Thread.sleep(d);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static Duration min(Duration a, Duration b) {
        return a.compareTo(b) <= 0 ? a : b;
    }

    /** A reservation-style limiter: each call takes the next free slot at {@code rate} per second. */
    static final class RateLimiter {
        private long nextFreeNanos;

        synchronized long reserve(int ratePerSecond, long nowNanos) {
            long interval = 1_000_000_000L / ratePerSecond;
            long slot = Math.max(nextFreeNanos, nowNanos);
            nextFreeNanos = slot + interval;
            return slot - nowNanos;
        }
    }
}
