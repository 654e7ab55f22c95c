package dev.zerodrop.core;

import java.util.Locale;

/**
 * The states of a delivery (docs/state-machine.md). Every delivery is in exactly one of them; the
 * database stores {@link #label()}.
 */
public enum DeliveryState {
    /** Due at its next attempt time, waiting for a claim. */
    PENDING,
    /** Leased to one worker, which alone may record its outcome. */
    SENDING,
    /** A receiver answered 2xx. */
    DELIVERED,
    /** The retry budget ran out: the dead-letter queue. */
    DEAD,
    /** Removed on purpose, with a reason (an operator, retention, a deleted endpoint, expunged content). */
    DISCARDED,
    /** Its endpoint is disabled; it resumes when the endpoint is enabled. */
    HELD;

    private final String label = name().toLowerCase(Locale.ROOT);

    public String label() {
        return label;
    }

    /** The state stored as {@code label}. */
    public static DeliveryState of(String label) {
        return valueOf(label.toUpperCase(Locale.ROOT));
    }

    /** Delivered, dead and discarded deliveries change only by an operator's action. */
    public boolean finished() {
        return this == DELIVERED || this == DEAD || this == DISCARDED;
    }
}
