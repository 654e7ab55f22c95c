package dev.zerodrop.alert;

import dev.zerodrop.core.Ids;
import dev.zerodrop.core.Json;
import dev.zerodrop.store.AlertStore;
import dev.zerodrop.store.AlertStore.Alert;
import dev.zerodrop.store.AlertStore.Observation;
import dev.zerodrop.store.AlertStore.Rule;
import dev.zerodrop.store.EndpointStore;
import dev.zerodrop.store.Jdbc;
import java.math.BigDecimal;
import java.text.NumberFormat;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.BiFunction;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Evaluates the alert rules against the database and notifies on changes. One alert per rule kind
 * and subject is open at a time: an outage gives one alert and, when it ends, one recovery notice.
 * An alert that comes back within its rule's cooldown is reopened quietly. Evaluation also runs the
 * endpoint auto-disable and the operational webhook scan. Only one node evaluates at a time.
 */
public final class AlertEngine implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(AlertEngine.class);
    private static final long LOCK_KEY = 7206002;

    /** The value at risk, per currency, of an application's deliveries in the given states. */
    public interface ValueAtRisk {
        ValueAtRisk NONE = (app, states) -> Map.of();

        Map<String, BigDecimal> of(String appId, List<String> states);
    }

    private final Jdbc jdbc;
    private final AlertStore store;
    private final dev.zerodrop.store.AuditStore audit;
    private final dev.zerodrop.slo.Slo slo;
    private final EndpointStore endpoints;
    private final Notifier notifier;
    private final OperationalEvents operational;
    private final ValueAtRisk valueAtRisk;
    private final InstantSource clock;
    private final Duration autoDisableAfter;
    private final Map<String, dev.zerodrop.slo.Slo.Evaluation> sloTitles = new java.util.concurrent.ConcurrentHashMap<>();

    public AlertEngine(Jdbc jdbc, AlertStore store, EndpointStore endpoints, Notifier notifier, ValueAtRisk valueAtRisk,
                       InstantSource clock, Duration autoDisableAfter) {
        this.jdbc = jdbc;
        this.store = store;
        this.audit = new dev.zerodrop.store.AuditStore(jdbc);
        this.slo = new dev.zerodrop.slo.Slo(jdbc);
        this.endpoints = endpoints;
        this.notifier = notifier;
        this.operational = new OperationalEvents(jdbc, notifier);
        this.valueAtRisk = valueAtRisk;
        this.clock = clock;
        this.autoDisableAfter = autoDisableAfter;
    }

    /** Makes the default rules and objectives; the evaluation runs as one of the cluster's jobs ({@link #runOnce}). */
    public AlertEngine start() {
        store.ensureDefaults(clock.instant());
        slo.ensureDefaults(clock.instant());
        return this;
    }

    /** One evaluation at {@code now}, if no other node is evaluating. Returns false when skipped. */
    public boolean runOnce(Instant now) {
        return jdbc.run(c -> {
            if (!Jdbc.queryOne(c, "SELECT pg_try_advisory_lock(?)", rs -> rs.getBoolean(1), LOCK_KEY).orElse(false)) return false;
            try {
                for (String id : endpoints.disableFailingSince(now.minus(autoDisableAfter), now)) {
                    log.warn("endpoint {} disabled: it has failed without a success for longer than {}", id, autoDisableAfter);
                }
                evaluate(now);
                operational.scan(now, failingThreshold());
                return true;
            } finally {
                Jdbc.query(c, "SELECT pg_advisory_unlock(?)", rs -> rs.getBoolean(1), LOCK_KEY);
            }
        });
    }

    private int failingThreshold() {
        return store.rules().stream().filter(r -> r.appId() == null && r.kind().equals("message.failing"))
                .map(r -> (int) r.threshold()).findFirst().orElse(4);
    }

    void evaluate(Instant now) {
        List<Rule> rules = store.rules();
        Map<String, String> names = store.appNames();
        for (String kind : AlertStore.KINDS) {
            Rule global = null;
            Map<String, Rule> perApp = new HashMap<>();
            for (Rule r : rules) {
                if (!r.kind().equals(kind)) continue;
                if (r.appId() == null) global = r;
                else perApp.put(r.appId(), r);
            }
            if (global == null && perApp.isEmpty()) continue;
            Rule fallback = global;
            BiFunction<String, Rule, Rule> effective = (app, dflt) -> perApp.getOrDefault(app, dflt);
            Map<String, Observation> violating = new LinkedHashMap<>();
            Map<String, Rule> ruleOf = new HashMap<>();
            for (Observation o : observe(kind, now, fallback, perApp)) {
                Rule r = effective.apply(o.appId(), fallback);
                if (r == null || !r.enabled() || !violates(kind, r, o)) continue;
                violating.put(o.subject(), o);
                ruleOf.put(o.subject(), r);
            }
            Map<String, Alert> open = new HashMap<>();
            for (Alert a : store.open(kind)) open.put(a.subject(), a);
            for (var e : violating.entrySet()) {
                Observation o = e.getValue();
                Rule r = ruleOf.get(e.getKey());
                String title = title(kind, r, o, names);
                Alert existing = open.get(e.getKey());
                if (existing != null) {
                    store.update(existing.id(), o.value(), title, now);
                    continue;
                }
                var recent = store.resolvedSince(kind, e.getKey(), now.minusSeconds(r.cooldownSeconds()));
                if (recent.isPresent()) {
                    store.reopen(recent.get().id(), o.value(), now);
                    continue;
                }
                Map<String, Object> details = details(kind, r, o, names);
                Alert a = new Alert("alrt_" + Ids.ksuid(now), r.id(), kind, o.appId(), e.getKey(), "firing", title, Json.write(details),
                        o.value(), now, null, now);
                if (store.fire(a, now)) {
                    log.warn("ALERT {}: {}", kind, title);
                    notifier.alert("alert.fired", a.id() + ".fired", payload(a, "firing", title, details, now), now);
                }
            }
            for (Alert a : open.values()) {
                if (violating.containsKey(a.subject())) continue;
                if (store.resolve(a.id(), now) && a.notifiedAt() != null) {
                    String title = "Resolved: " + a.title();
                    log.info("ALERT {} resolved: {}", kind, a.title());
                    Map<String, Object> details = Json.MAPPER.convertValue(readTree(a.detailsJson()), Map.class);
                    notifier.alert("alert.resolved", a.id() + ".resolved", payload(a, "resolved", title, details, now), now);
                }
            }
        }
    }

    private List<Observation> observe(String kind, Instant now, Rule global, Map<String, Rule> perApp) {
        return switch (kind) {
            case "delivery.dead", "dlq.depth" -> store.deadPerApp();
            case "endpoint.failure_rate" -> {
                int window = global != null ? global.windowSeconds() : 300;
                for (Rule r : perApp.values()) window = Math.max(window, r.windowSeconds());
                yield store.failureRates(now.minusSeconds(window));
            }
            case "endpoint.disabled" -> store.disabledEndpoints(now);
            case "message.failing" -> {
                int k = global != null ? (int) global.threshold() : 4;
                for (Rule r : perApp.values()) k = Math.min(k, (int) r.threshold());
                yield store.failingMessages(Math.max(1, k));
            }
            case "audit.unaccounted" -> audit.unaccountedPerApp();
            case "slo.burn" -> {
                List<Observation> out = new ArrayList<>();
                for (var e : slo.evaluate(now, null)) {
                    int severity = switch (e.alert()) {
                        case "page" -> 2;
                        case "ticket" -> 1;
                        default -> 0;
                    };
                    if (severity > 0) {
                        out.add(new Observation(e.appId(), e.objective().id() + "/" + e.appId(), e.burnRates().getOrDefault("1h", 0.0), severity));
                        sloTitles.put(e.objective().id() + "/" + e.appId(), e);
                    }
                }
                yield out;
            }
            case "audit.lost_leases" -> audit.repeatedLostLeases(null).stream()
                    .map(s -> new Observation(s.appId(), s.endpointId(), s.count(), s.count())).toList();
            case "audit.stuck_leases" -> {
                int grace = global != null ? global.windowSeconds() : 300;
                yield audit.stuck(now, Duration.ofSeconds(grace)).stream()
                        .map(s -> new Observation(s.appId(), s.endpointId(), s.count(), s.count())).toList();
            }
            default -> List.of();
        };
    }

    static boolean violates(String kind, Rule r, Observation o) {
        return switch (kind) {
            case "delivery.dead", "dlq.depth", "audit.unaccounted", "audit.stuck_leases", "audit.lost_leases" -> o.value() > r.threshold();
            case "slo.burn" -> o.total() > 0;
            case "endpoint.failure_rate" -> o.total() >= r.minAttempts() && o.total() > 0 && o.value() / o.total() >= r.threshold();
            case "endpoint.disabled", "message.failing" -> o.value() > 0 || kind.equals("endpoint.disabled");
            default -> false;
        };
    }

    private String title(String kind, Rule r, Observation o, Map<String, String> names) {
        String app = names.getOrDefault(o.appId(), o.appId());
        long n = Math.round(o.value());
        return switch (kind) {
            case "delivery.dead" -> n + (n == 1 ? " notification" : " notifications") + money(o.appId()) + " of " + app
                    + (n == 1 ? " is" : " are") + " in the dead-letter queue";
            case "dlq.depth" -> "The dead-letter queue of " + app + " holds " + n + " deliveries" + money(o.appId())
                    + " (threshold " + Math.round(r.threshold()) + ")";
            case "endpoint.failure_rate" -> String.format(Locale.ROOT, "Endpoint %s of %s failed %.0f%% of %d attempts in the last %ds",
                    o.subject(), app, 100 * o.value() / o.total(), Math.round(o.total()), r.windowSeconds());
            case "endpoint.disabled" -> "Endpoint " + o.subject() + " of " + app + " is disabled; its deliveries are held";
            case "message.failing" -> n + (n == 1 ? " message" : " messages") + " to endpoint " + o.subject() + " of " + app
                    + " failed " + Math.round(r.threshold()) + " or more attempts";
            case "slo.burn" -> {
                var e = sloTitles.get(o.subject());
                yield String.format(Locale.ROOT, "SLO %s (%.2f%% within %ds over %dd) of %s is burning its error budget: %s, %.1fx over 1h, %.1f%% of the budget left",
                        e.objective().indicator(), 100 * e.objective().target(), e.objective().latencySeconds(), e.objective().windowDays(), app,
                        o.total() >= 2 ? "page" : "ticket", e.burnRates().getOrDefault("1h", 0.0), 100 * e.budget().remainingFraction());
            }
            case "audit.unaccounted" -> "Audit: " + n + (n == 1 ? " accepted delivery" : " accepted deliveries") + " of " + app
                    + " cannot be accounted for";
            case "audit.stuck_leases" -> "Audit: " + n + (n == 1 ? " lease" : " leases") + " of endpoint " + o.subject() + " of " + app
                    + " expired more than " + r.windowSeconds() + "s ago and were not rescued";
            case "audit.lost_leases" -> n + (n == 1 ? " delivery" : " deliveries") + " to endpoint " + o.subject() + " of " + app
                    + " lost their lease twice or more in a row: sending them keeps ending without an outcome (a crash or a hang)";
            default -> kind;
        };
    }

    /** " worth $8,214.50" when the application's payloads carry amounts, else "". */
    private String money(String appId) {
        Map<String, BigDecimal> sums;
        try {
            sums = valueAtRisk.of(appId, List.of("dead"));
        } catch (RuntimeException e) {
            return "";
        }
        if (sums.isEmpty()) return "";
        List<String> parts = new ArrayList<>();
        sums.forEach((currency, amount) -> parts.add(format(currency, amount)));
        return " worth " + String.join(" + ", parts);
    }

    static String format(String currency, BigDecimal amount) {
        try {
            NumberFormat f = NumberFormat.getCurrencyInstance(Locale.US);
            f.setCurrency(java.util.Currency.getInstance(currency));
            return f.format(amount);
        } catch (IllegalArgumentException e) {
            return amount.toPlainString() + " " + currency;
        }
    }

    private Map<String, Object> details(String kind, Rule r, Observation o, Map<String, String> names) {
        Map<String, Object> d = new LinkedHashMap<>();
        d.put("kind", kind);
        d.put("appId", o.appId());
        d.put("app", names.getOrDefault(o.appId(), o.appId()));
        d.put("subject", o.subject());
        d.put("value", o.value());
        if (kind.equals("endpoint.failure_rate")) d.put("attempts", o.total());
        d.put("threshold", r.threshold());
        try {
            Map<String, BigDecimal> risk = valueAtRisk.of(o.appId(), List.of("dead"));
            if (!risk.isEmpty()) d.put("valueAtRisk", risk);
        } catch (RuntimeException ignored) {
            // money at risk is optional
        }
        return d;
    }

    /** Slack-compatible: a {@code text}, plus the structured alert. */
    private static Map<String, Object> payload(Alert a, String state, String title, Map<String, Object> details, Instant now) {
        Map<String, Object> alert = new LinkedHashMap<>();
        alert.put("id", a.id());
        alert.put("kind", a.kind());
        alert.put("state", state);
        alert.put("appId", a.appId());
        alert.put("subject", a.subject());
        alert.put("title", title);
        alert.put("firedAt", a.firedAt().toString());
        if (state.equals("resolved")) alert.put("resolvedAt", now.toString());
        alert.put("details", details);
        String icon = state.equals("firing") ? ":rotating_light:" : ":white_check_mark:";
        return Map.of("text", icon + " " + title, "alert", alert);
    }

    private static com.fasterxml.jackson.databind.JsonNode readTree(String json) {
        try {
            return Json.MAPPER.readTree(json);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            return Json.MAPPER.createObjectNode();
        }
    }

    /** Nothing runs in the engine itself any more (the cluster's jobs run it); kept so that callers can close it. */
    @Override
    public void close() {
        // no thread of its own
    }
}
