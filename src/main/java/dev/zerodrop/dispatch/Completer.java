package dev.zerodrop.dispatch;

import dev.zerodrop.core.DeliveryState;
import dev.zerodrop.core.Ids;
import dev.zerodrop.store.DeliveryStore;
import dev.zerodrop.store.Attempt;
import dev.zerodrop.store.DeliveryStore.Claimed;
import dev.zerodrop.store.DeliveryStore.Completion;
import dev.zerodrop.store.StoreUnavailableException;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writes outcomes in batches, fenced by lease token: one transaction per batch, whatever its size.
 * An outage keeps the batch and retries it; an outcome that cannot be stored is retried alone, then
 * without the receiver's response, then as an {@code internal} attempt, so that it is never left to
 * the lease rescuer unless the database refuses even that.
 */
final class Completer {
    private static final Logger log = LoggerFactory.getLogger(Completer.class);
    static final int BATCH = 500;

    /** An outcome waiting to be written, with the delivery it belongs to. */
    private record Outcome(Claimed claimed, Completion completion) {}

    private final DeliveryStore store;
    private final Outcomes outcomes;
    private final InstantSource clock;
    private final DispatchListener listener;
    private final Waiter claims;
    private final Waiter pauses;
    private final LinkedBlockingQueue<Outcome> queue = new LinkedBlockingQueue<>();

    Completer(DeliveryStore store, Outcomes outcomes, InstantSource clock, Ticker ticker, DispatchListener listener, Waiter claims) {
        this.store = store;
        this.outcomes = outcomes;
        this.clock = clock;
        this.listener = listener;
        this.claims = claims;
        this.pauses = new Waiter(ticker);
    }

    void submit(Claimed c, Completion x) {
        queue.add(new Outcome(c, x));
    }

    /** Runs until {@code running} is false and every queued outcome is written. */
    void run(BooleanSupplier running) {
        List<Outcome> batch = new ArrayList<>(BATCH);
        Duration backoff = Duration.ofMillis(100);
        while (running.getAsBoolean() || !queue.isEmpty() || !batch.isEmpty()) {
            try {
                if (batch.isEmpty()) {
                    Outcome first = queue.poll(200, TimeUnit.MILLISECONDS);
                    if (first == null) continue;
                    batch.add(first);
                    queue.drainTo(batch, BATCH - 1);
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
                pauses.await(backoff);
                backoff = Dispatcher.min(backoff.multipliedBy(2), Duration.ofSeconds(5));
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
        List<Completion> completions = batch.stream().map(Outcome::completion).toList();
        Set<Completion> superseded = store.complete(completions, now);
        listener.completed(batch.size() - superseded.size(), superseded.size());
        for (Outcome o : batch) {
            Completion x = o.completion();
            Claimed c = o.claimed();
            if (superseded.contains(x)) {
                Dispatcher.ids(log.atWarn(), x.deliveryId(), c.msgId(), c.endpointId(), c.appId())
                        .log("superseded outcome of delivery {} attempt {} ignored: its lease (token {}) was taken over",
                                x.deliveryId(), c.attempts() + 1, x.leaseToken());
                continue;
            }
            Attempt a = x.attempt();
            if (a != null) {
                Duration sinceAccepted = c.msgCreatedAt() == null ? Duration.ZERO : Duration.between(c.msgCreatedAt(), now);
                listener.attempted(x.newState(), a.errorClass(), Duration.ofMillis(a.durationMs()), sinceAccepted);
            }
            if (x.nextAttemptAt() != null) {
                claims.wakeAfter(Duration.between(now, x.nextAttemptAt()));
            } else if (x.newState() != DeliveryState.DELIVERED) {
                Dispatcher.ids(log.atInfo(), x.deliveryId(), c.msgId(), c.endpointId(), c.appId())
                        .log("delivery {} is {} after attempt {} ({}, response status {})", x.deliveryId(), x.newState().label(),
                                a == null ? c.attempts() : a.attemptNo(),
                                a == null ? x.reason() : a.errorClass() + " error", a == null ? 0 : a.responseStatus());
            }
        }
    }

    /** Records one outcome alone; if that fails, without the receiver's response; then as an internal attempt. */
    private void recordAlone(Outcome o) {
        Completion x = o.completion();
        try {
            record(List.of(o));
            return;
        } catch (RuntimeException first) {
            if (x.attempt() != null) {
                Attempt a = x.attempt();
                var bare = new Attempt(a.id(), a.deliveryId(), a.msgId(), a.endpointId(), a.appId(), a.attemptNo(), a.trigger(),
                        a.status(), a.errorClass(), a.responseStatus(), "(response not storable)", a.durationMs(), a.url(), a.createdAt());
                try {
                    record(List.of(new Outcome(o.claimed(), new Completion(x.deliveryId(), x.partAt(), x.leaseToken(), x.newState(),
                            x.nextAttemptAt(), x.disableEndpoint(), bare, x.refundBudget(), x.lostLeases(), x.reason(), x.sli()))));
                    return;
                } catch (RuntimeException second) {
                    // fall through to the internal attempt
                }
            }
            Claimed c = o.claimed();
            Instant now = clock.instant();
            String incident = Ids.incident(now);
            Dispatcher.ids(log.atError(), x.deliveryId(), c.msgId(), c.endpointId(), c.appId()).setCause(first)
                    .log("could not record the outcome of delivery {} (incident {}); recording an attempt with error class internal",
                            x.deliveryId(), incident);
            listener.internalError("record");
            try {
                Instant started = x.attempt() == null ? now : x.attempt().createdAt();
                record(List.of(new Outcome(c, outcomes.internal(c, started, now,
                        "internal error while recording the outcome (incident " + incident + "); the server log has the details"))));
            } catch (RuntimeException third) {
                Dispatcher.ids(log.atError(), x.deliveryId(), c.msgId(), c.endpointId(), c.appId())
                        .log("could not record incident {} of delivery {} ({}); its lease will expire and be rescued", incident,
                                x.deliveryId(), third.getMessage());
            }
        }
    }
}
