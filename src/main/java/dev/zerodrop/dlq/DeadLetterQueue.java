package dev.zerodrop.dlq;

import dev.zerodrop.store.DlqStore;
import java.time.Duration;
import java.time.Instant;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The dead-letter queue's policies over {@link DlqStore}: replays are spread at the replay rate per
 * endpoint, and the retention job discards what has been parked longer than the retention.
 */
public final class DeadLetterQueue {
    private static final Logger log = LoggerFactory.getLogger(DeadLetterQueue.class);
    /** Deliveries the retention job discards per transaction. */
    static final int RETENTION_BATCH = 5_000;

    private final DlqStore store;
    private final int replayRate;
    private final Duration retention;
    private final Runnable wake;

    /**
     * @param replayRate replayed deliveries that fall due per second per endpoint
     * @param retention how long after its message was created a dead delivery stays in the queue
     * @param wake tells the local dispatcher that work is due
     */
    public DeadLetterQueue(DlqStore store, int replayRate, Duration retention, Runnable wake) {
        this.store = store;
        this.replayRate = replayRate;
        this.retention = retention;
        this.wake = wake;
    }

    public DlqStore store() {
        return store;
    }

    public int replayRate() {
        return replayRate;
    }

    public Duration retention() {
        return retention;
    }

    /** Replays the selected dead deliveries (see {@link DlqStore#replay}) and wakes the dispatcher. */
    public DlqStore.Changed replay(DlqStore.Selection s, String actor, Instant now) {
        DlqStore.Changed c = store.replay(s, actor, replayRate, now);
        if (c.count() > c.held()) wake.run();
        if (c.count() > 0) log.info("{} replayed {} dead deliveries ({} held: endpoint disabled)", actor, c.count(), c.held());
        return c;
    }

    public DlqStore.Changed discard(DlqStore.Selection s, String actor, String reason, Instant now) {
        DlqStore.Changed c = store.discard(s, actor, reason, now);
        if (c.count() > 0) log.info("{} discarded {} dead deliveries: {}", actor, c.count(), reason);
        return c;
    }

    /**
     * The retention job: discards, with reason 'retention', every dead delivery whose message was
     * created more than the retention before {@code now}. Nothing is deleted. Returns how many.
     */
    public int applyRetention(Instant now) {
        Instant cutoff = now.minus(retention);
        int total = 0;
        int n;
        do {
            n = store.expire(cutoff, now, RETENTION_BATCH);
            total += n;
        } while (n == RETENTION_BATCH);
        if (total > 0) log.info("retention discarded {} dead deliveries of messages created before {}", total, cutoff);
        return total;
    }
}
