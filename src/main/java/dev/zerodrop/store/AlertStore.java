package dev.zerodrop.store;

import dev.zerodrop.core.Ids;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** Alert rules, alerts and their history, and the observations the rules are evaluated on. */
public final class AlertStore {
    public static final List<String> KINDS = List.of("delivery.dead", "dlq.depth", "endpoint.failure_rate", "endpoint.disabled", "message.failing",
            "audit.unaccounted", "audit.stuck_leases", "slo.burn", "audit.lost_leases");

    public record Rule(String id, String appId, String kind, double threshold, int windowSeconds, int minAttempts,
                       int cooldownSeconds, boolean enabled, Instant createdAt, Instant updatedAt) {}

    public record Alert(String id, String ruleId, String kind, String appId, String subject, String state, String title,
                        String detailsJson, Double value, Instant firedAt, Instant resolvedAt, Instant notifiedAt) {}

    /** One subject's current value for a rule kind (an application or an endpoint). */
    public record Observation(String appId, String subject, double value, double total) {}

    private static final String RULE_COLUMNS = "id, app_id, kind, threshold, window_seconds, min_attempts, cooldown_seconds, enabled, created_at, updated_at";
    private static final String ALERT_COLUMNS = "id, rule_id, kind, app_id, subject, state, title, details::text AS details, value, fired_at, resolved_at, notified_at";
    /** Applications ZeroDrop uses for its own notifications are never the subject of alerts. */
    static final String NOT_INTERNAL = "NOT EXISTS (SELECT 1 FROM application ia WHERE ia.id = %s AND ia.uid LIKE 'zerodrop-%%')";

    private final Jdbc jdbc;

    public AlertStore(Jdbc jdbc) {
        this.jdbc = jdbc;
    }

    /** The default rules, which apply to every application without a rule of the same kind. */
    public void ensureDefaults(Instant now) {
        Object[][] defaults = {
                {"delivery.dead", 0.0, 300, 1, 3600},
                {"dlq.depth", 100.0, 300, 1, 3600},
                {"endpoint.failure_rate", 0.5, 300, 10, 3600},
                {"endpoint.disabled", 0.0, 300, 1, 3600},
                {"message.failing", 4.0, 300, 1, 3600},
                {"audit.unaccounted", 0.0, 300, 1, 3600},
                {"audit.stuck_leases", 0.0, 300, 1, 3600},
                {"audit.lost_leases", 0.0, 300, 1, 3600},
                {"slo.burn", 0.0, 300, 1, 0}};
        for (Object[] d : defaults) {
            jdbc.update("""
                    INSERT INTO alert_rule (id, app_id, kind, threshold, window_seconds, min_attempts, cooldown_seconds, created_at, updated_at)
                    VALUES (?, NULL, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING""",
                    "rule_" + Ids.ksuid(now), d[0], d[1], d[2], d[3], d[4], now, now);
        }
    }

    public List<Rule> rules() {
        return jdbc.query("SELECT " + RULE_COLUMNS + " FROM alert_rule WHERE true ORDER BY app_id NULLS FIRST, kind", AlertStore::mapRule);
    }

    public Optional<Rule> rule(String id) {
        return jdbc.queryOne("SELECT " + RULE_COLUMNS + " FROM alert_rule WHERE id = ?", AlertStore::mapRule, id);
    }

    public Rule createRule(Rule r) {
        try {
            jdbc.update("INSERT INTO alert_rule (" + RULE_COLUMNS + ") VALUES (?,?,?,?,?,?,?,?,?,?)", r.id(), r.appId(), r.kind(),
                    r.threshold(), r.windowSeconds(), r.minAttempts(), r.cooldownSeconds(), r.enabled(), r.createdAt(), r.updatedAt());
        } catch (Jdbc.UniqueViolation e) {
            throw new Conflict("a rule of kind '" + r.kind() + "' already exists for " + (r.appId() == null ? "all applications" : r.appId()));
        }
        return r;
    }

    public Rule updateRule(Rule r) {
        jdbc.update("UPDATE alert_rule SET threshold = ?, window_seconds = ?, min_attempts = ?, cooldown_seconds = ?, enabled = ?, updated_at = ? WHERE id = ?",
                r.threshold(), r.windowSeconds(), r.minAttempts(), r.cooldownSeconds(), r.enabled(), r.updatedAt(), r.id());
        return r;
    }

    public boolean deleteRule(String id) {
        return jdbc.update("DELETE FROM alert_rule WHERE id = ? AND app_id IS NOT NULL", id) > 0;
    }

    // ---- observations ---------------------------------------------------------------------------

    /** Dead deliveries per application (value = how many). */
    public List<Observation> deadPerApp() {
        return jdbc.query("SELECT app_id, count(*) AS n FROM delivery d WHERE state = 'dead' AND " + NOT_INTERNAL.formatted("d.app_id")
                + " GROUP BY app_id", rs -> new Observation(rs.getString("app_id"), rs.getString("app_id"), rs.getLong("n"), rs.getLong("n")));
    }

    /** Failed and total attempts per endpoint since {@code since}. */
    public List<Observation> failureRates(Instant since) {
        return jdbc.query("""
                SELECT a.app_id, a.endpoint_id, count(*) FILTER (WHERE a.status <> 0) AS failed, count(*) AS total
                  FROM attempt a WHERE a.created_at > ? AND %s GROUP BY a.app_id, a.endpoint_id""".formatted(NOT_INTERNAL.formatted("a.app_id")),
                rs -> new Observation(rs.getString("app_id"), rs.getString("endpoint_id"), rs.getLong("failed"), rs.getLong("total")), since);
    }

    /** Disabled endpoints (value = seconds since they were disabled). */
    public List<Observation> disabledEndpoints(Instant now) {
        return jdbc.query("""
                SELECT e.app_id, e.id, extract(epoch FROM (? - coalesce(e.disabled_at, e.updated_at))) AS age
                  FROM endpoint e WHERE e.disabled AND e.deleted_at IS NULL AND %s""".formatted(NOT_INTERNAL.formatted("e.app_id")),
                rs -> new Observation(rs.getString("app_id"), rs.getString("id"), rs.getDouble("age"), 1), now);
    }

    /** Per endpoint, how many pending deliveries have failed at least {@code k} attempts of their budget. */
    public List<Observation> failingMessages(int k) {
        return jdbc.query("""
                SELECT d.app_id, d.endpoint_id, count(*) AS n FROM delivery d
                 WHERE d.state = 'pending' AND d.attempts - d.budget_base >= ? AND %s
                 GROUP BY d.app_id, d.endpoint_id""".formatted(NOT_INTERNAL.formatted("d.app_id")),
                rs -> new Observation(rs.getString("app_id"), rs.getString("endpoint_id"), rs.getLong("n"), rs.getLong("n")), k);
    }

    // ---- alerts ---------------------------------------------------------------------------------

    public List<Alert> open(String kind) {
        return jdbc.query("SELECT " + ALERT_COLUMNS + " FROM alert WHERE kind = ? AND state = 'firing'", AlertStore::mapAlert, kind);
    }

    /** The latest resolved alert of this kind and subject, if it resolved after {@code since}. */
    public Optional<Alert> resolvedSince(String kind, String subject, Instant since) {
        return jdbc.queryOne("SELECT " + ALERT_COLUMNS + " FROM alert WHERE kind = ? AND subject = ? AND state = 'resolved' AND resolved_at > ? ORDER BY resolved_at DESC LIMIT 1",
                AlertStore::mapAlert, kind, subject, since);
    }

    /** Opens an alert; false when one is already firing for this kind and subject (another node won). */
    public boolean fire(Alert a, Instant now) {
        try {
            jdbc.update("INSERT INTO alert (id, rule_id, kind, app_id, subject, state, title, details, value, fired_at, notified_at, updated_at) "
                            + "VALUES (?,?,?,?,?,'firing',?,?,?,?,?,?)",
                    a.id(), a.ruleId(), a.kind(), a.appId(), a.subject(), a.title(), new Jdbc.Json(a.detailsJson()), a.value(), now,
                    a.notifiedAt(), now);
            return true;
        } catch (Jdbc.UniqueViolation e) {
            return false;
        }
    }

    /** Reopens a recently resolved alert quietly (flapping within the cooldown). */
    public void reopen(String id, double value, Instant now) {
        jdbc.update("UPDATE alert SET state = 'firing', resolved_at = NULL, value = ?, notified_at = NULL, updated_at = ? WHERE id = ?", value, now, id);
    }

    public void update(String id, double value, String title, Instant now) {
        jdbc.update("UPDATE alert SET value = ?, title = ?, updated_at = ? WHERE id = ? AND state = 'firing'", value, title, now, id);
    }

    /** Resolves an alert; false when it was no longer firing. */
    public boolean resolve(String id, Instant now) {
        return jdbc.update("UPDATE alert SET state = 'resolved', resolved_at = ?, updated_at = ? WHERE id = ? AND state = 'firing'", now, now, id) > 0;
    }

    public Page<Alert> history(PageRequest page, String state, String kind, String appId) {
        StringBuilder sql = new StringBuilder("SELECT " + ALERT_COLUMNS + " FROM alert WHERE true");
        List<Object> params = new ArrayList<>();
        if (state != null) {
            sql.append(" AND state = ?");
            params.add(state);
        }
        if (kind != null) {
            sql.append(" AND kind = ?");
            params.add(kind);
        }
        if (appId != null) {
            sql.append(" AND app_id = ?");
            params.add(appId);
        }
        return page.run(jdbc, sql.toString(), "id", params, AlertStore::mapAlert, Alert::id);
    }

    /** Application ids and their uids, for alert texts. */
    public Map<String, String> appNames() {
        Map<String, String> out = new HashMap<>();
        jdbc.query("SELECT id, coalesce(uid, name) AS n FROM application WHERE deleted_at IS NULL", rs -> out.put(rs.getString(1), rs.getString(2)));
        return out;
    }

    static Rule mapRule(ResultSet rs) throws SQLException {
        return new Rule(rs.getString("id"), rs.getString("app_id"), rs.getString("kind"), rs.getDouble("threshold"), rs.getInt("window_seconds"),
                rs.getInt("min_attempts"), rs.getInt("cooldown_seconds"), rs.getBoolean("enabled"), Jdbc.instant(rs, "created_at"),
                Jdbc.instant(rs, "updated_at"));
    }

    static Alert mapAlert(ResultSet rs) throws SQLException {
        double v = rs.getDouble("value");
        return new Alert(rs.getString("id"), rs.getString("rule_id"), rs.getString("kind"), rs.getString("app_id"), rs.getString("subject"),
                rs.getString("state"), rs.getString("title"), rs.getString("details"), rs.wasNull() ? null : v,
                Jdbc.instant(rs, "fired_at"), Jdbc.instant(rs, "resolved_at"), Jdbc.instant(rs, "notified_at"));
    }
}
