package dev.zerodrop.slo;

import java.time.Duration;
import java.util.List;

/**
 * Error budgets and multi-window, multi-burn-rate alerting, after the Google SRE workbook: a pure
 * function of event counts.
 */
public final class SloMath {
    /** A pair of windows that must both burn at least {@code factor} times the sustainable rate. */
    public record Rule(String severity, Duration longWindow, Duration shortWindow, double factor) {}

    /** Page at 14.4x over 1 h and 5 min, page at 6x over 6 h and 30 min, ticket at 1x over 3 d and 6 h. */
    public static final List<Rule> RULES = List.of(
            new Rule("page", Duration.ofHours(1), Duration.ofMinutes(5), 14.4),
            new Rule("page", Duration.ofHours(6), Duration.ofMinutes(30), 6),
            new Rule("ticket", Duration.ofDays(3), Duration.ofHours(6), 1));

    /**
     * A burn-rate pair does not fire on a long window with fewer events than this: one failure out
     * of three events is a 33% error rate, but it is not evidence of a burning budget.
     */
    public static final long MIN_EVENTS = 20;

    /** Events in a window: how many, and how many were bad. */
    public record Window(long total, long bad) {
        public double errorRate() {
            return total == 0 ? 0 : (double) bad / total;
        }
    }

    /** The remaining error budget over the objective's window. */
    public record Budget(double remainingFraction, long remainingEvents, long allowedBad, long bad) {}

    private SloMath() {}

    /** How many times faster than sustainable the budget burns: the error rate over the allowed rate. */
    public static double burnRate(Window w, double target) {
        return w.errorRate() / (1 - target);
    }

    public static Budget budget(Window slo, double target) {
        double allowed = (1 - target) * slo.total();
        long allowedBad = (long) Math.floor(allowed);
        double remaining = allowed == 0 ? (slo.bad() == 0 ? 1 : 0) : 1 - slo.bad() / allowed;
        return new Budget(remaining, allowedBad - slo.bad(), allowedBad, slo.bad());
    }

    /** The current value of the indicator: the share of good events (1 when there were none). */
    public static double value(Window w) {
        return w.total() == 0 ? 1 : 1 - w.errorRate();
    }

    /**
     * The alert state: "page", "ticket", "ok", or "insufficient_data" when the traffic is too low for
     * any pair to judge and no pair fires.
     *
     * @param windows the events of each window, looked up by duration
     */
    public static String alert(java.util.function.Function<Duration, Window> windows, double target) {
        String state = "ok";
        boolean judged = false;
        for (Rule r : RULES) {
            Window lng = windows.apply(r.longWindow());
            if (lng.total() < MIN_EVENTS) continue;
            judged = true;
            Window shrt = windows.apply(r.shortWindow());
            if (burnRate(lng, target) >= r.factor() && burnRate(shrt, target) >= r.factor()) {
                if (r.severity().equals("page")) return "page";
                state = "ticket";
            }
        }
        return judged ? state : "insufficient_data";
    }
}
