package dev.zerodrop.slo;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;

class SloMathTest {
    static final double TARGET = 0.999;

    @Test
    void burnRateIsTheErrorRateOverTheAllowedRate() {
        assertThat(SloMath.burnRate(new SloMath.Window(1000, 1), TARGET)).isCloseTo(1.0, within(1e-9));
        assertThat(SloMath.burnRate(new SloMath.Window(1000, 0), TARGET)).isZero();
        assertThat(SloMath.burnRate(new SloMath.Window(10_000, 144), TARGET)).isCloseTo(14.4, within(1e-9));
        assertThat(SloMath.burnRate(new SloMath.Window(0, 0), TARGET)).isZero();
    }

    @Test
    void theBudgetIsWhatTheTargetAllowsMinusWhatWasSpent() {
        SloMath.Budget b = SloMath.budget(new SloMath.Window(100_000, 25), TARGET);
        assertThat(b.allowedBad()).isEqualTo(100);
        assertThat(b.remainingEvents()).isEqualTo(75);
        assertThat(b.remainingFraction()).isCloseTo(0.75, within(1e-9));
        assertThat(SloMath.budget(new SloMath.Window(100_000, 150), TARGET).remainingFraction()).isCloseTo(-0.5, within(1e-9));
        assertThat(SloMath.budget(new SloMath.Window(0, 0), TARGET).remainingFraction()).isEqualTo(1);
        assertThat(SloMath.value(new SloMath.Window(200, 1))).isCloseTo(0.995, within(1e-9));
    }

    static java.util.function.Function<Duration, SloMath.Window> windows(Map<Duration, SloMath.Window> m) {
        return d -> m.getOrDefault(d, new SloMath.Window(0, 0));
    }

    @Test
    void pagesOnlyWhenBothWindowsOfAPairBurn() {
        var fast = windows(Map.of(Duration.ofHours(1), new SloMath.Window(10_000, 200), Duration.ofMinutes(5), new SloMath.Window(1_000, 20),
                Duration.ofDays(3), new SloMath.Window(100_000, 200), Duration.ofHours(6), new SloMath.Window(20_000, 200),
                Duration.ofMinutes(30), new SloMath.Window(5_000, 20)));
        assertThat(SloMath.alert(fast, TARGET)).isEqualTo("page");
        // The burn stopped five minutes ago: the short window clears the fast page.
        var stopped = windows(Map.of(Duration.ofHours(1), new SloMath.Window(10_000, 200), Duration.ofMinutes(5), new SloMath.Window(1_000, 0),
                Duration.ofDays(3), new SloMath.Window(100_000, 200), Duration.ofHours(6), new SloMath.Window(20_000, 200),
                Duration.ofMinutes(30), new SloMath.Window(5_000, 0)));
        assertThat(SloMath.alert(stopped, TARGET)).isEqualTo("ticket");
        var slow = windows(Map.of(Duration.ofDays(3), new SloMath.Window(1_000_000, 1_500), Duration.ofHours(6), new SloMath.Window(80_000, 100),
                Duration.ofHours(1), new SloMath.Window(15_000, 15), Duration.ofMinutes(5), new SloMath.Window(1_000, 1)));
        assertThat(SloMath.alert(slow, TARGET)).isEqualTo("ticket");
        var healthy = windows(Map.of(Duration.ofDays(3), new SloMath.Window(1_000_000, 100), Duration.ofHours(6), new SloMath.Window(80_000, 5),
                Duration.ofHours(1), new SloMath.Window(15_000, 1), Duration.ofMinutes(5), new SloMath.Window(1_000, 0)));
        assertThat(SloMath.alert(healthy, TARGET)).isEqualTo("ok");
    }

    @Test
    void lowTrafficDoesNotPageOnOneFailureOutOfThree() {
        var three = windows(Map.of(Duration.ofHours(1), new SloMath.Window(3, 1), Duration.ofMinutes(5), new SloMath.Window(3, 1),
                Duration.ofHours(6), new SloMath.Window(3, 1), Duration.ofMinutes(30), new SloMath.Window(3, 1),
                Duration.ofDays(3), new SloMath.Window(3, 1)));
        assertThat(SloMath.alert(three, TARGET)).isEqualTo("insufficient_data");
    }
}
