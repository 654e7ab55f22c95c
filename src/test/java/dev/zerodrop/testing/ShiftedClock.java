package dev.zerodrop.testing;

import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.concurrent.atomic.AtomicReference;

/** The system clock, moved ahead by hand: time still passes, so retries fall due, and a test can jump past a retention. */
public final class ShiftedClock implements InstantSource {
    private final AtomicReference<Duration> shift = new AtomicReference<>(Duration.ZERO);

    @Override
    public Instant instant() {
        return Instant.now().plus(shift.get());
    }

    /** Moves the clock {@code d} ahead and returns the new time. */
    public Instant advance(Duration d) {
        shift.updateAndGet(s -> s.plus(d));
        return instant();
    }
}
