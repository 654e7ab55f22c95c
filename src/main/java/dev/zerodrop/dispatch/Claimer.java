package dev.zerodrop.dispatch;

import dev.zerodrop.store.DeliveryStore;
import dev.zerodrop.store.DeliveryStore.Claimed;
import java.time.Duration;
import java.time.InstantSource;
import java.util.List;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Leases due deliveries in batches (one SKIP LOCKED statement each) and hands them to the
 * {@link Sender}. It waits on the dispatcher's {@link Waiter}: ingest, resend, recover, a freed
 * endpoint slot, a rescue and a known retry time all wake it; polling is the fallback for work from
 * other nodes.
 */
final class Claimer {
    private static final Logger log = LoggerFactory.getLogger(Claimer.class);

    private final DeliveryStore store;
    private final Sender sender;
    private final Dispatcher.Settings settings;
    private final InstantSource clock;
    private final Ticker ticker;
    private final DispatchListener listener;
    private final Waiter waiter;

    Claimer(DeliveryStore store, Sender sender, Dispatcher.Settings settings, InstantSource clock, Ticker ticker,
            DispatchListener listener, Waiter waiter) {
        this.store = store;
        this.sender = sender;
        this.settings = settings;
        this.clock = clock;
        this.ticker = ticker;
        this.listener = listener;
        this.waiter = waiter;
    }

    void run(BooleanSupplier claiming) {
        Duration backoff = Duration.ofMillis(100);
        while (claiming.getAsBoolean()) {
            try {
                int free = sender.free();
                if (free == 0) {
                    waiter.await(settings.pollInterval());
                    continue;
                }
                int want = Math.min(settings.claimBatch(), free);
                List<Claimed> claims = store.claim(clock.instant(), want, settings.lease());
                backoff = Duration.ofMillis(100);
                if (!claims.isEmpty()) listener.claimed(claims.size());
                int sent = sender.dispatch(claims, ticker.nanos());
                if (sent == 0 && !claims.isEmpty()) {
                    waiter.await(settings.pollInterval()); // nothing sendable: wait for a slot to free
                    continue;
                }
                if (claims.size() < want) waiter.await(settings.pollInterval());
            } catch (RuntimeException e) {
                listener.loopError("claim", e);
                log.warn("claim failed, retrying in {}ms: {}", backoff.toMillis(), e.getMessage());
                waiter.await(backoff);
                backoff = Dispatcher.min(backoff.multipliedBy(2), Duration.ofSeconds(5));
            }
        }
    }
}
