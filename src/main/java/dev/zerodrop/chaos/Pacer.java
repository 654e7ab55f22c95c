package dev.zerodrop.chaos;

import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;

/** Runs a tick at a steady rate, on the calling thread, while {@code running} holds (open-loop load). */
public final class Pacer {
    private Pacer() {}

    public static void run(int perSecond, BooleanSupplier running, Runnable tick) {
        long interval = 1_000_000_000L / perSecond;
        long next = System.nanoTime();
        while (running.getAsBoolean()) {
            long now = System.nanoTime();
            if (now < next) {
                LockSupport.parkNanos(next - now);
                continue;
            }
            next += interval;
            tick.run();
        }
    }
}
