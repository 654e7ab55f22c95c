package dev.zerodrop.dispatch;

import java.time.Duration;
import java.util.List;
import java.util.random.RandomGenerator;

/**
 * When to try again: a pure function of the attempt number and the receiver's Retry-After.
 *
 * <p>The first attempt is immediate. After the n-th failed attempt (counted from the start of the
 * current budget), the next one waits {@code schedule[n-1]} with +/-20% jitter. A Retry-After longer
 * than that is honored up to {@code retryAfterMax}; a shorter one never hastens the schedule. After
 * the last entry of the schedule the delivery is dead.
 */
public record RetryPolicy(List<Duration> schedule, Duration retryAfterMax) {
    public static final double JITTER = 0.2;

    public sealed interface Decision {
        record Retry(Duration delay) implements Decision {}

        record Dead() implements Decision {}
    }

    public RetryPolicy {
        schedule = List.copyOf(schedule);
    }

    /** Total attempts one budget allows: the immediate one plus one per schedule entry. */
    public int maxAttempts() {
        return schedule.size() + 1;
    }

    /**
     * The delay after an attempt whose outcome was lost with its lease (a crash, a stall). It never
     * leads to dead: a lost lease says nothing about the receiver, so it does not use up the budget.
     */
    public Duration afterLostLease(int attemptInBudget, RandomGenerator random) {
        int n = Math.max(1, Math.min(attemptInBudget, schedule.size()));
        return ((Decision.Retry) afterFailure(n, null, random)).delay();
    }

    /**
     * @param failedAttempt the number of the attempt that just failed, 1-based within the budget
     * @param retryAfter the receiver's Retry-After, or null
     * @param random the source of jitter
     */
    public Decision afterFailure(int failedAttempt, Duration retryAfter, RandomGenerator random) {
        if (failedAttempt < 1) failedAttempt = 1;
        if (failedAttempt > schedule.size()) return new Decision.Dead();
        long base = schedule.get(failedAttempt - 1).toMillis();
        double factor = 1 - JITTER + 2 * JITTER * random.nextDouble();
        long delay = Math.round(base * factor);
        if (retryAfter != null) {
            long asked = Math.min(retryAfter.toMillis(), retryAfterMax.toMillis());
            delay = Math.max(delay, asked);
        }
        return new Decision.Retry(Duration.ofMillis(delay));
    }
}
