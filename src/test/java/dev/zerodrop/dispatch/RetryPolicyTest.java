package dev.zerodrop.dispatch;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.List;
import java.util.random.RandomGenerator;
import org.junit.jupiter.api.Test;

class RetryPolicyTest {
    private final RetryPolicy policy = new RetryPolicy(List.of(Duration.ofSeconds(5), Duration.ofMinutes(5), Duration.ofMinutes(30)),
            Duration.ofHours(1));

    /** A random source that always returns the same value, to pin the jitter. */
    static RandomGenerator fixed(double value) {
        return new RandomGenerator() {
            @Override
            public long nextLong() {
                return 0;
            }

            @Override
            public double nextDouble() {
                return value;
            }
        };
    }

    @Test
    void followsTheScheduleThenGoesDead() {
        assertThat(policy.maxAttempts()).isEqualTo(4);
        assertThat(policy.afterFailure(1, null, fixed(0.5))).isEqualTo(new RetryPolicy.Decision.Retry(Duration.ofSeconds(5)));
        assertThat(policy.afterFailure(2, null, fixed(0.5))).isEqualTo(new RetryPolicy.Decision.Retry(Duration.ofMinutes(5)));
        assertThat(policy.afterFailure(3, null, fixed(0.5))).isEqualTo(new RetryPolicy.Decision.Retry(Duration.ofMinutes(30)));
        assertThat(policy.afterFailure(4, null, fixed(0.5))).isInstanceOf(RetryPolicy.Decision.Dead.class);
    }

    @Test
    void jitterStaysWithinTwentyPercent() {
        assertThat(policy.afterFailure(1, null, fixed(0.0))).isEqualTo(new RetryPolicy.Decision.Retry(Duration.ofSeconds(4)));
        assertThat(policy.afterFailure(1, null, fixed(0.999999))).isEqualTo(new RetryPolicy.Decision.Retry(Duration.ofMillis(6000)));
        RandomGenerator real = RandomGenerator.getDefault();
        for (int i = 0; i < 1000; i++) {
            Duration d = ((RetryPolicy.Decision.Retry) policy.afterFailure(2, null, real)).delay();
            assertThat(d).isBetween(Duration.ofSeconds(240), Duration.ofSeconds(360));
        }
    }

    @Test
    void retryAfterIsHonoredWithinBoundsAndNeverHastens() {
        assertThat(policy.afterFailure(1, Duration.ofSeconds(120), fixed(0.5))).isEqualTo(new RetryPolicy.Decision.Retry(Duration.ofSeconds(120)));
        assertThat(policy.afterFailure(1, Duration.ofDays(3), fixed(0.5))).isEqualTo(new RetryPolicy.Decision.Retry(Duration.ofHours(1)));
        assertThat(policy.afterFailure(2, Duration.ofSeconds(1), fixed(0.5))).isEqualTo(new RetryPolicy.Decision.Retry(Duration.ofMinutes(5)));
        assertThat(policy.afterFailure(4, Duration.ofSeconds(1), fixed(0.5))).isInstanceOf(RetryPolicy.Decision.Dead.class);
    }

    @Test
    void aLostLeaseRetriesOnTheScheduleButNeverGoesDead() {
        assertThat(policy.afterLostLease(1, fixed(0.5))).isEqualTo(Duration.ofSeconds(5));
        assertThat(policy.afterLostLease(3, fixed(0.5))).isEqualTo(Duration.ofMinutes(30));
        assertThat(policy.afterLostLease(50, fixed(0.5))).isEqualTo(Duration.ofMinutes(30));
    }
}
