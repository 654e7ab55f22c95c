package dev.zerodrop.dispatch;

import static org.assertj.core.api.Assertions.assertThat;

import dev.zerodrop.core.AttemptStatus;
import dev.zerodrop.core.DeliveryState;
import dev.zerodrop.core.TriggerType;
import dev.zerodrop.delivery.SendResult;
import dev.zerodrop.delivery.SendResult.ErrorClass;
import dev.zerodrop.store.DeliveryStore.Claimed;
import dev.zerodrop.store.DeliveryStore.Completion;
import dev.zerodrop.store.DeliveryStore.Expired;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.random.RandomGenerator;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** The dispatcher's one decision, as a table: (delivery, result, time, policy) -> verdict. */
class OutcomesTest {
    static final Instant NOW = Instant.parse("2026-12-01T12:00:00Z");
    /** Three attempts a budget: the immediate one, then after 10 s, then after 60 s. */
    static final RetryPolicy POLICY = new RetryPolicy(List.of(Duration.ofSeconds(10), Duration.ofSeconds(60)), Duration.ofHours(1));
    /** No jitter: nextDouble() = 0.5 makes the factor exactly 1. */
    static final RandomGenerator MIDDLE = () -> 0x8000_0000_0000_0000L;

    static Claimed claimed(int attempts, int budgetBase, byte[] payload) {
        return new Claimed(7, NOW.minusSeconds(2), 3, attempts, budgetBase, 0, false, NOW.minusSeconds(1), "msg_1", "app_1", "ep_1", "order.paid",
                NOW.minusSeconds(2), payload, "https://example.com/hook", Map.of(), "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", List.of(), null);
    }

    static SendResult status(int code) {
        return code >= 200 && code < 300 ? new SendResult.Delivered(code, "", 5)
                : new SendResult.Failed(ErrorClass.HTTP, code, "", 5, null);
    }

    static Stream<Arguments> table() {
        byte[] body = "{}".getBytes();
        return Stream.of(
                // attempts so far, budget base, result, expected verdict
                Arguments.of(0, 0, body, status(200), new Verdict.Delivered()),
                Arguments.of(0, 0, body, status(204), new Verdict.Delivered()),
                Arguments.of(2, 0, body, status(299), new Verdict.Delivered()),
                Arguments.of(0, 0, body, status(410), new Verdict.Disable()),
                Arguments.of(2, 0, body, status(410), new Verdict.Disable()),
                Arguments.of(0, 0, body, status(500), new Verdict.Retry(NOW.plusSeconds(10))),
                Arguments.of(1, 0, body, status(401), new Verdict.Retry(NOW.plusSeconds(60))),
                Arguments.of(2, 0, body, status(503), new Verdict.Dead(null)),
                Arguments.of(4, 3, body, status(199), new Verdict.Retry(NOW.plusSeconds(60))),   // a resend restarted the budget at 3
                Arguments.of(5, 3, body, status(199), new Verdict.Dead(null)),
                Arguments.of(0, 0, body, new SendResult.Failed(ErrorClass.TIMEOUT, 0, "", 30_000, null), new Verdict.Retry(NOW.plusSeconds(10))),
                Arguments.of(2, 0, body, new SendResult.Failed(ErrorClass.INTERNAL, 0, "", 1, null), new Verdict.Dead(null)),
                Arguments.of(0, 0, body, new SendResult.Failed(ErrorClass.CONNECT, 0, "", 1, null), new Verdict.Retry(NOW.plusSeconds(10))),
                // Retry-After lengthens the wait (429), never shortens it, and is clamped to the maximum.
                Arguments.of(0, 0, body, new SendResult.Failed(ErrorClass.HTTP, 429, "", 1, Duration.ofSeconds(120)), new Verdict.Retry(NOW.plusSeconds(120))),
                Arguments.of(0, 0, body, new SendResult.Failed(ErrorClass.HTTP, 429, "", 1, Duration.ofSeconds(1)), new Verdict.Retry(NOW.plusSeconds(10))),
                Arguments.of(0, 0, body, new SendResult.Failed(ErrorClass.HTTP, 503, "", 1, Duration.ofDays(2)), new Verdict.Retry(NOW.plusSeconds(3600))),
                // A 410 that is not an HTTP answer cannot happen, and a 410 never goes dead: it holds.
                // Expunged content is discarded whatever happened.
                Arguments.of(0, 0, null, status(200), new Verdict.Discard(Outcomes.EXPUNGED)));
    }

    @ParameterizedTest(name = "[{index}] attempts={0} base={1} {3} -> {4}")
    @MethodSource("table")
    void decide(int attempts, int budgetBase, byte[] payload, SendResult result, Verdict expected) {
        assertThat(Outcomes.decide(claimed(attempts, budgetBase, payload), result, NOW, POLICY, MIDDLE)).isEqualTo(expected);
    }

    @Test
    void jitterStaysWithinTwentyPercent() {
        for (long bits : new long[] {0L, -1L}) {
            Verdict v = Outcomes.decide(claimed(0, 0, "{}".getBytes()), status(500), NOW, POLICY, () -> bits);
            Instant at = ((Verdict.Retry) v).at();
            assertThat(Duration.between(NOW, at)).isBetween(Duration.ofSeconds(8), Duration.ofSeconds(12));
        }
    }

    static Expired expired(int attempts, int budgetBase, int lostLeases) {
        return new Expired(7, NOW.minusSeconds(2), 3, attempts, budgetBase, lostLeases, false, "msg_1", "ep_1", "app_1", "https://example.com/hook");
    }

    @Test
    void theFirstThreeLostLeasesInARowAreFreeThenTheyCountUntilDead() {
        // A delivery whose every send is lost: attempts 1-3 refund the budget, 4 and 5 use it, 6 is dead.
        int attempts = 0;
        int budgetBase = 0;
        int inARow = 0;
        for (int i = 1; i <= 6; i++) {
            Outcomes.LostLease d = Outcomes.afterLostLease(expired(attempts, budgetBase, inARow), NOW, POLICY, MIDDLE);
            assertThat(d.inARow()).isEqualTo(i);
            assertThat(d.free()).as("lost lease %d free", i).isEqualTo(i <= Outcomes.FREE_LOST_LEASES);
            if (i < 6) assertThat(d.verdict()).as("lost lease %d", i).isInstanceOf(Verdict.Retry.class);
            else assertThat(d.verdict()).isEqualTo(new Verdict.Dead(Outcomes.LOST_LEASE));
            attempts++;
            if (d.free()) budgetBase++;
            inARow = d.inARow();
        }
    }

    @Test
    void anAnsweredAttemptEndsTheRunOfLostLeases() {
        Outcomes outcomes = new Outcomes(POLICY, MIDDLE);
        Completion c = outcomes.completion(claimed(3, 0, "{}".getBytes()), status(500), NOW, NOW);
        assertThat(c.lostLeases()).isZero();
        assertThat(c.refundBudget()).isFalse();
        // ... while a lost lease after three others counts.
        Completion lost = outcomes.lostLease(expired(4, 3, 3), NOW);
        assertThat(lost.lostLeases()).isEqualTo(4);
        assertThat(lost.refundBudget()).isFalse();
        assertThat(lost.attempt().errorClass()).isEqualTo("lost-lease");
        assertThat(lost.attempt().attemptNo()).isEqualTo(5);
    }

    @Test
    void completionsCarryTheAttemptAsItHappened() {
        Outcomes outcomes = new Outcomes(POLICY, MIDDLE);
        Completion ok = outcomes.completion(claimed(0, 0, "{}".getBytes()), new SendResult.Delivered(204, "", 12), NOW, NOW.plusMillis(12));
        assertThat(ok.newState()).isEqualTo(DeliveryState.DELIVERED);
        assertThat(ok.attempt().status()).isEqualTo(AttemptStatus.SUCCESS);
        assertThat(ok.attempt().responseStatus()).isEqualTo(204);
        assertThat(ok.attempt().trigger()).isEqualTo(TriggerType.SCHEDULED);
        assertThat(ok.sli().dispatchMs()).isEqualTo(1000); // due a second before it started
        assertThat(ok.sli().deliveredMs()).isEqualTo(2012);

        Completion gone = outcomes.completion(claimed(0, 0, "{}".getBytes()), status(410), NOW, NOW);
        assertThat(gone.newState()).isEqualTo(DeliveryState.HELD);
        assertThat(gone.disableEndpoint()).isTrue();

        Completion internal = outcomes.internal(claimed(2, 0, "{}".getBytes()), NOW, NOW.plusMillis(3), "internal error (incident inc_1)");
        assertThat(internal.newState()).isEqualTo(DeliveryState.DEAD);
        assertThat(internal.attempt().errorClass()).isEqualTo("internal");
        assertThat(internal.attempt().responseStatus()).isZero();
        assertThat(internal.attempt().durationMs()).isEqualTo(3);

        Completion refused = outcomes.refused(claimed(1, 0, null), NOW);
        assertThat(refused.newState()).isEqualTo(DeliveryState.DISCARDED);
        assertThat(refused.reason()).isEqualTo("content expunged or expired");
        assertThat(refused.attempt().errorClass()).isEqualTo("refused");
        assertThat(refused.attempt().attemptNo()).isEqualTo(2);
        assertThat(refused.attempt().response()).contains("nothing was sent");
    }
}
