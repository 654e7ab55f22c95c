package dev.zerodrop.dispatch;

import dev.zerodrop.core.Ids;
import dev.zerodrop.delivery.SendResult;
import dev.zerodrop.delivery.Signer;
import dev.zerodrop.delivery.WebhookClient;
import dev.zerodrop.store.DeliveryStore;
import dev.zerodrop.store.DeliveryStore.Claimed;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Sends leased deliveries, each on its own virtual thread, within the node's and each endpoint's
 * in-flight caps and the endpoint's rate limit, and hands every outcome to the {@link Completer}.
 * Whatever a send ends in becomes an outcome: the receiver's answer, a refusal to send expunged
 * content, or an {@code internal} attempt for an unexpected error. Only a crash is left to the
 * lease rescuer.
 */
final class Sender {
    private static final Logger log = LoggerFactory.getLogger(Sender.class);

    private final DeliveryStore store;
    private final WebhookClient client;
    private final Outcomes outcomes;
    private final Completer completer;
    private final Dispatcher.Settings settings;
    private final InstantSource clock;
    private final Ticker ticker;
    private final DispatchListener listener;
    private final Dispatcher.SendHook hook;
    private final Waiter claims;

    private final Semaphore inFlight;
    private final Map<String, Semaphore> endpointSlots = new ConcurrentHashMap<>();
    /** Endpoints whose deliveries were handed back for want of a slot: a freed slot wakes the claim loop. */
    private final Set<String> saturated = ConcurrentHashMap.newKeySet();
    private final Map<String, RateLimiter> limiters = new ConcurrentHashMap<>();
    private final Map<Long, Claimed> active = new ConcurrentHashMap<>();
    private final ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor();

    Sender(DeliveryStore store, WebhookClient client, Outcomes outcomes, Completer completer, Dispatcher.Settings settings,
           InstantSource clock, Ticker ticker, DispatchListener listener, Dispatcher.SendHook hook, Waiter claims) {
        this.store = store;
        this.client = client;
        this.outcomes = outcomes;
        this.completer = completer;
        this.settings = settings;
        this.clock = clock;
        this.ticker = ticker;
        this.listener = listener;
        this.hook = hook;
        this.claims = claims;
        this.inFlight = new Semaphore(settings.maxInFlight());
    }

    /** Free in-flight slots of this node. */
    int free() {
        return inFlight.availablePermits();
    }

    /** Deliveries this node is sending right now. */
    int sending() {
        return active.size();
    }

    /**
     * Starts sending leased deliveries. An endpoint at its in-flight cap (or a node at its own) gets
     * its deliveries back at once, in their place in the queue; they never wait here holding a slot
     * other deliveries could use. Returns how many were started.
     */
    int dispatch(List<Claimed> leased, long leasedAtNanos) {
        List<Claimed> overCap = new ArrayList<>();
        Set<String> full = new HashSet<>();
        int started = 0;
        for (Claimed c : leased) {
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
            threads.execute(() -> send(c, slot, leasedAtNanos));
            started++;
        }
        if (!overCap.isEmpty()) {
            store.release(overCap, null, clock.instant());
            saturated.addAll(full); // released first: a slot freed from now on wakes the claim loop to them
        }
        return started;
    }

    private Semaphore slot(String endpointId) {
        return endpointSlots.computeIfAbsent(endpointId, k -> new Semaphore(settings.endpointMaxInFlight()));
    }

    private void send(Claimed c, Semaphore slot, long leasedAtNanos) {
        long startBy = leasedAtNanos + settings.startWindow().toNanos();
        boolean leaveLeased = false;
        Instant started = null;
        try {
            if (c.payload() == null) {
                active.remove(c.id());
                completer.submit(c, outcomes.refused(c, clock.instant()));
                return;
            }
            if (c.sealProblem() != null) {
                unopenable(c);
                return;
            }
            if (c.throttleRate() != null && c.throttleRate() > 0) {
                long now = ticker.nanos();
                long waitNanos = limiters.computeIfAbsent(c.endpointId(), k -> new RateLimiter()).reserve(c.throttleRate(), now);
                if (now + waitNanos - startBy > 0) {
                    defer(c, clock.instant().plusNanos(waitNanos));
                    return;
                }
                if (waitNanos > 0) Thread.sleep(Duration.ofNanos(waitNanos));
            }
            started = clock.instant();
            SendResult result = client.post(c.endpointId(), c.url(), headers(c, started), c.payload());
            if (Thread.currentThread().isInterrupted()) {
                // Shutting down past the grace period: the request was aborted; close() releases the lease.
                leaveLeased = true;
                return;
            }
            hook.afterSend(c);
            active.remove(c.id());
            completer.submit(c, outcomes.completion(c, result, started, clock.instant()));
        } catch (InterruptedException e) {
            leaveLeased = true;
            Thread.currentThread().interrupt();
        } catch (VirtualMachineError e) {
            throw e; // out of memory or stack: recording would fail too; the lease rescuer takes over
        } catch (RuntimeException | Error e) {
            internal(c, started, e);
        } finally {
            slot.release();
            if (saturated.remove(c.endpointId())) claims.wake(); // its held-back deliveries can go now
            if (!leaveLeased) active.remove(c.id());
            inFlight.release();
        }
    }

    /** An unexpected error while sending: logged once, counted, and recorded as an {@code internal} attempt. */
    private void internal(Claimed c, Instant started, Throwable e) {
        String incident = Ids.incident(clock.instant());
        Dispatcher.ids(log.atError(), c.id(), c.msgId(), c.endpointId(), c.appId()).setCause(e)
                .log("unexpected error sending delivery {} (incident {}); recorded as an attempt with error class internal",
                        c.id(), incident);
        listener.internalError("send");
        record(c, started, incident, "internal error while sending (incident " + incident + "); the server log has the details");
    }

    /**
     * The endpoint's secrets are sealed with a key this node does not have: nothing is sent unsigned.
     * An {@code internal} attempt, like any other error of ZeroDrop's own; one line in the log, no trace.
     */
    private void unopenable(Claimed c) {
        String incident = Ids.incident(clock.instant());
        Dispatcher.ids(log.atError(), c.id(), c.msgId(), c.endpointId(), c.appId())
                .log("delivery {} not sent (incident {}): {}; recorded as an attempt with error class internal", c.id(), incident,
                        c.sealProblem());
        listener.internalError("secret");
        record(c, null, incident, "not sent: the endpoint's secrets do not open on this node (incident " + incident
                + "); the server log has the details");
    }

    private void record(Claimed c, Instant started, String incident, String text) {
        try {
            active.remove(c.id());
            Instant now = clock.instant();
            completer.submit(c, outcomes.internal(c, started == null ? now : started, now, text));
        } catch (RuntimeException again) {
            log.error("could not record incident {} of delivery {}; its lease will expire and be rescued: {}", incident, c.id(),
                    again.getMessage());
        }
    }

    private void defer(Claimed c, Instant dueAt) {
        try {
            store.release(List.of(c), dueAt, clock.instant());
            claims.wakeAfter(Duration.between(clock.instant(), dueAt));
        } catch (RuntimeException e) {
            Dispatcher.ids(log.atWarn(), c.id(), c.msgId(), c.endpointId(), c.appId())
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

    /** Waits up to {@code grace} for every request in flight to finish; true when they all did. */
    boolean drain(Duration grace) throws InterruptedException {
        long deadline = ticker.nanos() + grace.toNanos();
        while (!inFlight.tryAcquire(settings.maxInFlight(), 50, TimeUnit.MILLISECONDS)) {
            if (ticker.nanos() - deadline > 0) return false;
        }
        inFlight.release(settings.maxInFlight());
        return true;
    }

    /** Aborts the requests still running, so that nothing is sent after its lease is released. */
    void abort() throws InterruptedException {
        threads.shutdownNow();
        threads.awaitTermination(5, TimeUnit.SECONDS);
    }

    /** The deliveries still leased to this node and not finished (after {@link #abort()}). */
    List<Claimed> unfinished() {
        return new ArrayList<>(active.values());
    }

    void close() {
        threads.shutdownNow();
    }

    /** A reservation-style limiter: each call takes the next free slot at {@code rate} per second. */
    static final class RateLimiter {
        private long nextFree;
        private boolean used;

        synchronized long reserve(int ratePerSecond, long nowNanos) {
            long interval = 1_000_000_000L / ratePerSecond;
            long slot = !used || nowNanos - nextFree > 0 ? nowNanos : nextFree;
            used = true;
            nextFree = slot + interval;
            return slot - nowNanos;
        }
    }
}
