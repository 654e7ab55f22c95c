package dev.zerodrop.dispatch;

import dev.zerodrop.core.DeliveryState;
import java.time.Duration;
import java.util.List;

/**
 * Observes the dispatcher. Every method defaults to a no-op, so an observer (metrics, tests) can
 * never break the hot path.
 */
public interface DispatchListener {
    DispatchListener NONE = new DispatchListener() {};

    /** A batch of deliveries was leased. */
    default void claimed(int count) {}

    /** Deliveries created leased to this node at ingest were handed to it, to be sent without a claim. */
    default void handedOff(int count) {}

    /** Outcomes were committed; {@code superseded} of them had lost their lease and changed nothing. */
    default void completed(int committed, int superseded) {}

    /** Expired leases were rescued, each with a {@code lost-lease} attempt (also reported by {@link #attempted}). */
    default void rescued(int count) {}

    /** A background loop failed and will retry. */
    default void loopError(String loop, RuntimeException e) {}

    /**
     * One attempt was recorded (it won its fence; superseded outcomes are only counted by
     * {@link #completed}). {@code state} is the delivery's new state (pending: it will be retried);
     * {@code errorClass} is an {@code ErrorClass} label, or null when delivered; {@code duration} is
     * the HTTP request's (zero for a lost lease); {@code sinceAccepted} runs from the message's
     * creation to the record (zero when unknown).
     */
    default void attempted(DeliveryState state, String errorClass, Duration duration, Duration sinceAccepted) {}

    /**
     * An unexpected error of ZeroDrop's own while sending ({@code send}) or recording ({@code record})
     * a delivery; it was logged once and recorded as an attempt with error class {@code internal}.
     */
    default void internalError(String stage) {}

    /**
     * Forwards every call to each of {@code listeners} in turn. A listener that throws is skipped for
     * that call, so an observer can never break the dispatcher or starve the ones after it.
     */
    static DispatchListener all(DispatchListener... listeners) {
        List<DispatchListener> ls = List.of(listeners);
        return new DispatchListener() {
            private void each(java.util.function.Consumer<DispatchListener> call) {
                for (DispatchListener l : ls) {
                    try {
                        call.accept(l);
                    } catch (RuntimeException ignored) {
                        // an observer's failure is its own
                    }
                }
            }

            @Override
            public void claimed(int count) {
                each(l -> l.claimed(count));
            }

            @Override
            public void handedOff(int count) {
                each(l -> l.handedOff(count));
            }

            @Override
            public void completed(int committed, int superseded) {
                each(l -> l.completed(committed, superseded));
            }

            @Override
            public void rescued(int count) {
                each(l -> l.rescued(count));
            }

            @Override
            public void loopError(String loop, RuntimeException e) {
                each(l -> l.loopError(loop, e));
            }

            @Override
            public void attempted(DeliveryState state, String errorClass, Duration duration, Duration sinceAccepted) {
                each(l -> l.attempted(state, errorClass, duration, sinceAccepted));
            }

            @Override
            public void internalError(String stage) {
                each(l -> l.internalError(stage));
            }
        };
    }
}
