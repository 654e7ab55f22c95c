package dev.zerodrop.dispatch;

import dev.zerodrop.core.DeliveryState;
import java.time.Instant;

/** What becomes of a delivery after an attempt, or after its lease was lost. */
public sealed interface Verdict {
    /** The receiver answered 2xx. */
    record Delivered() implements Verdict {}

    /** Try again at {@code at}. */
    record Retry(Instant at) implements Verdict {}

    /** The retry budget is used up: the dead-letter queue. {@code reason} is null unless it says more than that. */
    record Dead(String reason) implements Verdict {}

    /** 410 Gone: the endpoint is disabled and the delivery held until it is enabled again. */
    record Disable() implements Verdict {}

    /** The delivery cannot be attempted at all (its content was expunged). */
    record Discard(String reason) implements Verdict {}

    /** The delivery state this verdict writes. */
    default DeliveryState state() {
        return switch (this) {
            case Delivered d -> DeliveryState.DELIVERED;
            case Retry r -> DeliveryState.PENDING;
            case Dead d -> DeliveryState.DEAD;
            case Disable d -> DeliveryState.HELD;
            case Discard d -> DeliveryState.DISCARDED;
        };
    }
}
