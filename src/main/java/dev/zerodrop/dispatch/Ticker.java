package dev.zerodrop.dispatch;

/**
 * A monotonic time source for waits and deadlines, in nanoseconds. Wall time (attempt timestamps,
 * due times) comes from an {@code InstantSource}; waits never do, so a clock step cannot stretch
 * or cut them.
 */
@FunctionalInterface
public interface Ticker {
    Ticker SYSTEM = System::nanoTime;

    long nanos();
}
