package dev.zerodrop.dispatch;

import static org.awaitility.Awaitility.await;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

/** The one place the dispatcher's loops wait: each way out of a wait, on the real monotonic clock. */
class WaiterTest {

    private static Thread waitInBackground(Waiter w, Duration max, AtomicBoolean done) {
        return Thread.ofVirtual().start(() -> {
            w.await(max);
            done.set(true);
        });
    }

    @Test
    void aWakeEndsAWaitAtOnceAndAWakeWhileBusyIsKept() {
        Waiter w = new Waiter(Ticker.SYSTEM);
        AtomicBoolean done = new AtomicBoolean();
        waitInBackground(w, Duration.ofHours(1), done);
        w.wake();
        await().atMost(Duration.ofSeconds(5)).untilTrue(done);

        w.wake(); // nobody waits: the next wait returns at once
        done.set(false);
        waitInBackground(w, Duration.ofHours(1), done);
        await().atMost(Duration.ofSeconds(5)).untilTrue(done);
    }

    @Test
    void anEarlierWakeUpCutsALongWaitShortAndALaterOneDoesNot() {
        Waiter w = new Waiter(Ticker.SYSTEM);
        AtomicBoolean done = new AtomicBoolean();
        waitInBackground(w, Duration.ofHours(1), done);
        w.wakeAfter(Duration.ofHours(2));
        w.wakeAfter(Duration.ofMillis(50));
        await().atMost(Duration.ofSeconds(5)).untilTrue(done);
    }

    @Test
    void closeEndsEveryWaitForGood() {
        Waiter w = new Waiter(Ticker.SYSTEM);
        AtomicBoolean done = new AtomicBoolean();
        waitInBackground(w, Duration.ofHours(1), done);
        w.close();
        await().atMost(Duration.ofSeconds(5)).untilTrue(done);
        done.set(false);
        waitInBackground(w, Duration.ofHours(1), done);
        await().atMost(Duration.ofSeconds(5)).untilTrue(done);
    }

    @Test
    void aTickerThatStandsStillNeverLetsAWaitEndByTime() {
        // Waits are measured on the ticker, not the wall clock: with a frozen ticker only a wake ends one.
        Waiter w = new Waiter(() -> 42L);
        AtomicBoolean done = new AtomicBoolean();
        waitInBackground(w, Duration.ofMillis(1), done);
        await().during(Duration.ofMillis(300)).atMost(Duration.ofSeconds(2)).untilFalse(done);
        w.wake();
        await().atMost(Duration.ofSeconds(5)).untilTrue(done);
    }
}
