package dev.zerodrop.dispatch;

import dev.zerodrop.core.DeliveryState;
import dev.zerodrop.store.DeliveryStore;
import dev.zerodrop.store.DeliveryStore.Completion;
import java.time.Duration;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Returns expired leases: each becomes a {@code lost-lease} attempt, and the delivery is retried or,
 * after too many lost leases in a row, dead (see {@link Outcomes#afterLostLease}).
 */
final class Rescuer {
    private static final Logger log = LoggerFactory.getLogger(Rescuer.class);
    private static final int BATCH = 500;

    private final DeliveryStore store;
    private final Outcomes outcomes;
    private final InstantSource clock;
    private final DispatchListener listener;
    private final Waiter claims;
    private final Waiter pauses;
    private final Duration period;

    Rescuer(DeliveryStore store, Outcomes outcomes, InstantSource clock, DispatchListener listener, Waiter claims, Waiter pauses,
            Duration lease) {
        this.store = store;
        this.outcomes = outcomes;
        this.clock = clock;
        this.listener = listener;
        this.claims = claims;
        this.pauses = pauses;
        this.period = Duration.ofMillis(Math.max(100, Math.min(5_000, lease.toMillis() / 4)));
    }

    void run(BooleanSupplier running) {
        while (running.getAsBoolean()) {
            pauses.await(period);
            if (!running.getAsBoolean()) return;
            try {
                int n;
                do {
                    n = rescueOnce();
                } while (n == BATCH && running.getAsBoolean());
            } catch (RuntimeException e) {
                listener.loopError("rescue", e);
                log.warn("lease rescue failed: {}", e.getMessage());
            }
        }
    }

    /** Rescues up to one batch of expired leases; returns how many. */
    int rescueOnce() {
        List<Completion> lost = new ArrayList<>();
        int n = store.rescue(clock.instant(), BATCH, x -> {
            Completion c = outcomes.lostLease(x, clock.instant());
            lost.add(c);
            return c;
        });
        if (n == 0) return 0;
        listener.rescued(n);
        log.warn("rescued {} deliveries whose lease expired", n);
        for (Completion c : lost) {
            var a = c.attempt();
            listener.attempted(c.newState(), a.errorClass(), Duration.ZERO, Duration.ZERO);
            var line = Dispatcher.ids(log.atInfo(), c.deliveryId(), a.msgId(), a.endpointId(), a.appId());
            if (c.newState() == DeliveryState.DEAD) {
                Dispatcher.ids(log.atWarn(), c.deliveryId(), a.msgId(), a.endpointId(), a.appId())
                        .log("the lease of delivery {} (token {}) expired {} times in a row: it is dead (reason lost-lease)",
                                c.deliveryId(), c.leaseToken(), c.lostLeases());
            } else if (c.refundBudget()) {
                line.log("the lease of delivery {} (token {}) expired: recorded a lost-lease attempt, retrying", c.deliveryId(),
                        c.leaseToken());
            } else {
                line.log("the lease of delivery {} (token {}) expired {} times in a row: retrying, counted against its budget",
                        c.deliveryId(), c.leaseToken(), c.lostLeases());
            }
        }
        claims.wake();
        return n;
    }
}
