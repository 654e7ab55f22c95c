package dev.zerodrop.store;

import java.time.Duration;
import java.time.Instant;

/**
 * The queue's size and lag, for the metrics gauges. Every count reads one partial index and never
 * the whole delivery table, so its cost grows with the rows in that state, not with the history of
 * delivered and discarded rows: {@code delivery_due} (pending), {@code delivery_lease} (sending),
 * {@code delivery_held} and {@code delivery_dead}. The oldest due delivery is the first entry of
 * {@code delivery_due}.
 */
public final class QueueStore {
    /** Deliveries by state, and how long the oldest due delivery has waited past its due time. */
    public record Depths(long pending, long sending, long held, long dead, Duration oldestDueAge) {}

    static final String DEPTHS = """
            SELECT (SELECT count(*) FROM delivery WHERE state = 'pending') AS pending,
                   (SELECT count(*) FROM delivery WHERE state = 'sending' AND lease_expires_at IS NOT NULL) AS sending,
                   (SELECT count(*) FROM delivery WHERE state = 'held') AS held,
                   (SELECT count(*) FROM delivery WHERE state = 'dead') AS dead,
                   (SELECT min(next_attempt_at) FROM delivery WHERE state = 'pending' AND next_attempt_at <= ?) AS oldest_due""";

    private final Jdbc jdbc;

    public QueueStore(Jdbc jdbc) {
        this.jdbc = jdbc;
    }

    public Depths depths(Instant now) {
        return jdbc.queryOne(DEPTHS, rs -> {
            Instant oldest = Jdbc.instant(rs, "oldest_due");
            Duration age = oldest == null || oldest.isAfter(now) ? Duration.ZERO : Duration.between(oldest, now);
            return new Depths(rs.getLong("pending"), rs.getLong("sending"), rs.getLong("held"), rs.getLong("dead"), age);
        }, now).orElseThrow();
    }
}
