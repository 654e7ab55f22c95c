package dev.zerodrop.dispatch;

import dev.zerodrop.core.AttemptStatus;
import dev.zerodrop.core.DeliveryState;
import dev.zerodrop.core.Ids;
import dev.zerodrop.core.TriggerType;
import dev.zerodrop.delivery.SendResult;
import dev.zerodrop.store.Attempt;
import dev.zerodrop.store.DeliveryStore.Claimed;
import dev.zerodrop.store.DeliveryStore.Completion;
import dev.zerodrop.store.DeliveryStore.Expired;
import dev.zerodrop.store.DeliveryStore.Sli;
import java.time.Duration;
import java.time.Instant;
import java.util.random.RandomGenerator;

/**
 * The dispatcher's decisions. {@link #decide} and {@link #afterLostLease} are pure functions of the
 * delivery, what happened, the time and the retry policy; the rest turns a decision into the
 * {@link Completion} the store writes (the state change and the attempt row).
 */
public final class Outcomes {
    /** Lost leases in a row that do not use up the retry budget; from the next one on, they do. */
    public static final int FREE_LOST_LEASES = 3;
    /** Why a delivery whose message has no content (expunged or expired) is discarded instead of sent. */
    public static final String EXPUNGED = "content expunged or expired";
    /** Why a delivery that lost its lease too often in a row went dead. */
    public static final String LOST_LEASE = SendResult.ErrorClass.LOST_LEASE.label();

    private final RetryPolicy policy;
    private final RandomGenerator random;

    public Outcomes(RetryPolicy policy, RandomGenerator random) {
        this.policy = policy;
        this.random = random;
    }

    /**
     * What becomes of {@code c} after an attempt that ended in {@code result} at {@code now}. A 2xx is
     * delivered; a 410 disables the endpoint; anything else is retried by the schedule until the
     * budget is used up. A delivery without content (expunged) is discarded, whatever the result.
     */
    public static Verdict decide(Claimed c, SendResult result, Instant now, RetryPolicy policy, RandomGenerator random) {
        if (c.payload() == null) return new Verdict.Discard(EXPUNGED);
        return switch (result) {
            case SendResult.Delivered d -> new Verdict.Delivered();
            case SendResult.Failed f when f.errorClass() == SendResult.ErrorClass.HTTP && f.status() == 410 -> new Verdict.Disable();
            case SendResult.Failed f -> retryOrDead(c.attempts() + 1 - c.budgetBase(), f.retryAfter(), now, policy, random, null);
        };
    }

    /** The decision after a lost lease: its verdict, whether it was free of the budget, and the lost leases in a row. */
    public record LostLease(Verdict verdict, boolean free, int inARow) {}

    /**
     * What becomes of a delivery whose lease expired before an outcome was recorded. A lost lease says
     * nothing about the receiver, so the first {@link #FREE_LOST_LEASES} in a row are retried without
     * using up the budget; beyond that they count, so a delivery whose sending keeps killing its node
     * ends dead (reason {@code lost-lease}) instead of looping forever.
     */
    public static LostLease afterLostLease(Expired x, Instant now, RetryPolicy policy, RandomGenerator random) {
        int inARow = x.lostLeases() + 1;
        int inBudget = x.attempts() + 1 - x.budgetBase();
        if (inARow <= FREE_LOST_LEASES) {
            return new LostLease(new Verdict.Retry(now.plus(policy.afterLostLease(inBudget, random))), true, inARow);
        }
        return new LostLease(retryOrDead(inBudget, null, now, policy, random, LOST_LEASE), false, inARow);
    }

    private static Verdict retryOrDead(int failedInBudget, Duration retryAfter, Instant now, RetryPolicy policy,
                                       RandomGenerator random, String deadReason) {
        return switch (policy.afterFailure(failedInBudget, retryAfter, random)) {
            case RetryPolicy.Decision.Retry r -> new Verdict.Retry(now.plus(r.delay()));
            case RetryPolicy.Decision.Dead d -> new Verdict.Dead(deadReason);
        };
    }

    /** The completion of an attempt of {@code c} started at {@code started} that ended in {@code result}. */
    Completion completion(Claimed c, SendResult result, Instant started, Instant now) {
        Verdict v = decide(c, result, now, policy, random);
        int attemptNo = c.attempts() + 1;
        AttemptStatus status = result instanceof SendResult.Delivered ? AttemptStatus.SUCCESS : AttemptStatus.FAIL;
        String errorClass = result instanceof SendResult.Failed f ? f.errorClass().label() : null;
        var attempt = new Attempt(Ids.attempt(started), c.id(), c.msgId(), c.endpointId(), c.appId(), attemptNo,
                TriggerType.of(c.manual()), status, errorClass, result.status(), result.body(), result.durationMs(), c.url(), started);
        return of(c.id(), c.partAt(), c.leaseToken(), v, attempt, false, 0, sli(c.manual(), c.dueAt(), c.msgCreatedAt(), v, attemptNo, started, now));
    }

    /** An unexpected error of ZeroDrop's own is an attempt too: error class {@code internal}, counted against the budget. */
    Completion internal(Claimed c, Instant started, Instant now, String text) {
        int ms = (int) Math.max(0, Math.min(Integer.MAX_VALUE, Duration.between(started, now).toMillis()));
        return completion(c, new SendResult.Failed(SendResult.ErrorClass.INTERNAL, 0, text, ms, null), started, now);
    }

    /**
     * A delivery that must not be sent: its content was expunged or expired. Nothing goes out; the
     * attempt is recorded as {@code refused}, with the reason, and the delivery is discarded.
     */
    Completion refused(Claimed c, Instant now) {
        Verdict v = new Verdict.Discard(EXPUNGED);
        var attempt = new Attempt(Ids.attempt(now), c.id(), c.msgId(), c.endpointId(), c.appId(), c.attempts() + 1,
                TriggerType.of(c.manual()), AttemptStatus.FAIL, SendResult.ErrorClass.REFUSED.label(), 0,
                "refused: the message's content was expunged or has expired; nothing was sent", 0, c.url(), now);
        return of(c.id(), c.partAt(), c.leaseToken(), v, attempt, false, 0, null);
    }

    /** The completion of a lost lease: a {@code lost-lease} attempt and what {@link #afterLostLease} decided. */
    Completion lostLease(Expired x, Instant now) {
        LostLease d = afterLostLease(x, now, policy, random);
        var attempt = new Attempt(Ids.attempt(now), x.id(), x.msgId(), x.endpointId(), x.appId(), x.attempts() + 1,
                TriggerType.of(x.manual()), AttemptStatus.FAIL, LOST_LEASE, 0, "lease expired before an outcome was recorded", 0,
                x.url(), now);
        Sli sli = d.verdict() instanceof Verdict.Dead && !x.manual() ? new Sli(-1, true, -1) : null;
        return of(x.id(), x.partAt(), x.leaseToken(), d.verdict(), attempt, d.free(), d.inARow(), sli);
    }

    private static Completion of(long id, Instant partAt, long token, Verdict v, Attempt attempt, boolean refund, int lostLeases, Sli sli) {
        String reason = switch (v) {
            case Verdict.Dead d -> d.reason();
            case Verdict.Discard d -> d.reason();
            default -> null;
        };
        return new Completion(id, partAt, token, v.state(), v instanceof Verdict.Retry r ? r.at() : null, v instanceof Verdict.Disable,
                attempt, refund, lostLeases, reason, sli);
    }

    /** The indicator events of an outcome (operators' resends and replays are not the platform's). */
    static Sli sli(boolean manual, Instant dueAt, Instant msgCreatedAt, Verdict v, int attemptNo, Instant started, Instant now) {
        if (manual) return null;
        long dispatchMs = attemptNo == 1 && dueAt != null ? Math.max(0, Duration.between(dueAt, started).toMillis()) : -1;
        DeliveryState state = v.state();
        boolean ended = state == DeliveryState.DELIVERED || state == DeliveryState.DEAD;
        long deliveredMs = state == DeliveryState.DELIVERED && msgCreatedAt != null
                ? Math.max(0, Duration.between(msgCreatedAt, now).toMillis()) : -1;
        if (dispatchMs < 0 && !ended) return null;
        return new Sli(dispatchMs, ended, deliveredMs);
    }
}
