package dev.zerodrop.dispatch;

/**
 * Observes the dispatcher. Every method defaults to a no-op, so an observer (metrics, tests) can
 * never break the hot path.
 */
public interface DispatchListener {
    DispatchListener NONE = new DispatchListener() {};

    /** A batch of deliveries was leased. */
    default void claimed(int count) {}

    /** Outcomes were committed; {@code superseded} of them had lost their lease and changed nothing. */
    default void completed(int committed, int superseded) {}

    /** Expired leases were returned to pending (or dead) with a {@code lost-lease} attempt. */
    default void rescued(int count) {}

    /** A background loop failed and will retry. */
    default void loopError(String loop, RuntimeException e) {}
}
