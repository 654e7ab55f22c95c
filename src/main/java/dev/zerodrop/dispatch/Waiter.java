package dev.zerodrop.dispatch;

import java.time.Duration;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Where a dispatcher loop waits: until it is woken, until the earliest wake-up asked for falls due,
 * or for at most a given time. Measured on a {@link Ticker}. A wake that arrives while the loop is
 * busy is kept, so the next wait returns at once; {@link #close()} ends every wait for good.
 */
final class Waiter {
    private final Ticker ticker;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition signal = lock.newCondition();
    private boolean woken;
    private boolean closed;
    private long earliest = Long.MAX_VALUE; // ticker nanos of the soonest wake-up asked for

    Waiter(Ticker ticker) {
        this.ticker = ticker;
    }

    void wake() {
        lock.lock();
        try {
            woken = true;
            signal.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /** Asks to be woken after {@code delay}; a wake-up sooner than the current wait's end cuts it short. */
    void wakeAfter(Duration delay) {
        long at = ticker.nanos() + Math.max(0, delay.toNanos());
        lock.lock();
        try {
            if (earliest == Long.MAX_VALUE || at - earliest < 0) {
                earliest = at;
                signal.signalAll();
            }
        } finally {
            lock.unlock();
        }
    }

    /**
     * Waits until woken, until the earliest wake-up asked for, or for {@code max}. Only the earliest
     * wake-up is remembered: a later one asked for meanwhile is served by the next poll.
     */
    void await(Duration max) {
        lock.lock();
        try {
            long deadline = ticker.nanos() + max.toNanos();
            while (!woken && !closed) {
                long end = earliest != Long.MAX_VALUE && earliest - deadline < 0 ? earliest : deadline;
                long wait = end - ticker.nanos();
                if (wait <= 0) break;
                signal.awaitNanos(wait);
            }
            woken = false;
            if (earliest != Long.MAX_VALUE && earliest - ticker.nanos() <= 0) earliest = Long.MAX_VALUE;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            lock.unlock();
        }
    }

    /** Ends every wait, now and later. */
    void close() {
        lock.lock();
        try {
            closed = true;
            signal.signalAll();
        } finally {
            lock.unlock();
        }
    }
}
