package dev.zerodrop.api;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.LongSupplier;

/**
 * A token bucket per API token: {@code perSecond} requests a second, in bursts of up to one
 * second's worth. Keyed on the authenticated token's id, so every copy of a key shares one bucket
 * on this node (each node counts on its own).
 */
final class KeyRateLimiter {
    /** Past this many buckets, the full ones (tokens idle for a second or more) are dropped. */
    static final int MAX_BUCKETS = 100_000;

    private final double perSecond;
    private final LongSupplier nanos;
    private final Map<String, Bucket> buckets = new ConcurrentHashMap<>();

    private static final class Bucket {
        double tokens;
        long at;

        Bucket(double tokens, long at) {
            this.tokens = tokens;
            this.at = at;
        }
    }

    /** @param nanos a monotonic clock (System::nanoTime) */
    KeyRateLimiter(int perSecond, LongSupplier nanos) {
        this.perSecond = perSecond;
        this.nanos = nanos;
    }

    /** Takes one request from {@code key}'s bucket; returns 0 when allowed, else the whole seconds to wait before retrying (at least 1). */
    long acquire(String key) {
        long now = nanos.getAsLong();
        if (buckets.size() > MAX_BUCKETS) buckets.values().removeIf(b -> refill(b, now) >= perSecond);
        Bucket b = buckets.computeIfAbsent(key, k -> new Bucket(perSecond, now));
        synchronized (b) {
            double tokens = refill(b, now);
            b.at = now;
            if (tokens >= 1) {
                b.tokens = tokens - 1;
                return 0;
            }
            b.tokens = tokens;
            return Math.max(1, (long) Math.ceil((1 - tokens) / perSecond));
        }
    }

    private double refill(Bucket b, long now) {
        synchronized (b) {
            return Math.min(perSecond, b.tokens + (now - b.at) / 1e9 * perSecond);
        }
    }
}
