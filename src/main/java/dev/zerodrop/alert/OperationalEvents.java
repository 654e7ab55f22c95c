package dev.zerodrop.alert;

import dev.zerodrop.store.Jdbc;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Finds what happened since the last scan and sends the operational webhooks Svix defines for it:
 * {@code message.attempt.exhausted}, {@code message.attempt.failing}, {@code message.attempt.recovered},
 * {@code endpoint.disabled} and {@code endpoint.enabled}. Each scan overlaps the previous one a little;
 * the eventId of every notification is deterministic, so an overlap never sends twice.
 */
final class OperationalEvents {
    private static final Duration OVERLAP = Duration.ofSeconds(60);
    private static final String CURSOR = "operational-webhooks";
    private static final String NOT_INTERNAL = "NOT EXISTS (SELECT 1 FROM application ia WHERE ia.id = %s AND ia.uid LIKE 'zerodrop-%%')";

    private final Jdbc jdbc;
    private final Notifier notifier;

    OperationalEvents(Jdbc jdbc, Notifier notifier) {
        this.jdbc = jdbc;
        this.notifier = notifier;
    }

    void scan(Instant now, int failingAfter) {
        if (!notifier.hasOperational()) {
            // Nobody listens: the cursor moves on, so that a first endpoint does not get a backlog of old events.
            advance(now);
            return;
        }
        Instant cursor = jdbc.queryOne("SELECT position FROM job_cursor WHERE name = ?", rs -> Jdbc.instant(rs, "position"), CURSOR)
                .orElse(now.minus(OVERLAP));
        Instant from = cursor.minus(OVERLAP);
        exhausted(from, now);
        attempts(from, now, failingAfter);
        endpoints(from, now);
        advance(now);
    }

    private void advance(Instant now) {
        jdbc.update("INSERT INTO job_cursor (name, position) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET position = EXCLUDED.position",
                CURSOR, now);
    }

    private void exhausted(Instant from, Instant now) {
        jdbc.query("""
                SELECT d.id, d.app_id, ap.uid AS app_uid, d.msg_id, m.event_id, d.endpoint_id, d.attempts,
                       la.id AS attempt_id, la.created_at AS attempt_at, la.response_status
                  FROM delivery d JOIN message m ON m.id = d.msg_id AND m.part_at = d.part_at JOIN application ap ON ap.id = d.app_id
                  LEFT JOIN LATERAL (SELECT id, created_at, response_status FROM attempt a WHERE a.delivery_id = d.id
                                      ORDER BY attempt_no DESC LIMIT 1) la ON true
                 WHERE d.state = 'dead' AND d.updated_at > ? AND d.updated_at <= ? AND %s""".formatted(NOT_INTERNAL.formatted("d.app_id")),
                rs -> {
                    Map<String, Object> data = message(rs.getString("app_id"), rs.getString("app_uid"), rs.getString("msg_id"),
                            rs.getString("event_id"), rs.getString("endpoint_id"));
                    data.put("lastAttempt", attempt(rs.getString("attempt_id"), Jdbc.instant(rs, "attempt_at"), rs.getInt("response_status")));
                    notifier.operational("message.attempt.exhausted", "exhausted." + rs.getLong("id") + "." + rs.getInt("attempts"), data, now);
                    return null;
                }, from, now);
    }

    private void attempts(Instant from, Instant now, int failingAfter) {
        jdbc.query("""
                SELECT a.id, a.delivery_id, a.attempt_no, a.status, a.created_at, a.response_status, d.app_id, ap.uid AS app_uid,
                       d.msg_id, m.event_id, d.endpoint_id, a.attempt_no - d.budget_base AS in_budget
                  FROM attempt a JOIN delivery d ON d.id = a.delivery_id JOIN message m ON m.id = d.msg_id AND m.part_at = d.part_at
                  JOIN application ap ON ap.id = d.app_id
                 WHERE a.created_at > ? AND a.created_at <= ? AND %s
                   AND ((a.status <> 0 AND a.attempt_no - d.budget_base = ?) OR (a.status = 0 AND a.attempt_no - d.budget_base > ?))"""
                        .formatted(NOT_INTERNAL.formatted("d.app_id")),
                rs -> {
                    boolean ok = rs.getInt("status") == 0;
                    String type = ok ? "message.attempt.recovered" : "message.attempt.failing";
                    Map<String, Object> data = message(rs.getString("app_id"), rs.getString("app_uid"), rs.getString("msg_id"),
                            rs.getString("event_id"), rs.getString("endpoint_id"));
                    data.put("lastAttempt", attempt(rs.getString("id"), Jdbc.instant(rs, "created_at"), rs.getInt("response_status")));
                    notifier.operational(type, (ok ? "recovered." : "failing.") + rs.getLong("delivery_id") + "." + rs.getInt("attempt_no"), data, now);
                    return null;
                }, from, now, failingAfter, failingAfter);
    }

    private void endpoints(Instant from, Instant now) {
        jdbc.query("""
                SELECT e.id, e.uid, e.app_id, ap.uid AS app_uid, e.disabled, e.disabled_at, e.disabled_reason, e.enabled_at, e.failing_since
                  FROM endpoint e JOIN application ap ON ap.id = e.app_id
                 WHERE ((e.disabled AND e.disabled_at > ? AND e.disabled_at <= ?) OR (NOT e.disabled AND e.enabled_at > ? AND e.enabled_at <= ?))
                   AND %s""".formatted(NOT_INTERNAL.formatted("e.app_id")),
                rs -> {
                    Map<String, Object> data = new LinkedHashMap<>();
                    data.put("appId", rs.getString("app_id"));
                    data.put("appUid", rs.getString("app_uid"));
                    data.put("endpointId", rs.getString("id"));
                    data.put("endpointUid", rs.getString("uid"));
                    if (rs.getBoolean("disabled")) {
                        Instant at = Jdbc.instant(rs, "disabled_at");
                        Instant failSince = Jdbc.instant(rs, "failing_since");
                        String reason = rs.getString("disabled_reason");
                        if (failSince != null) data.put("failSince", failSince.toString());
                        data.put("trigger", reason != null && reason.contains("API") ? "manual" : "automatic");
                        data.put("reason", reason);
                        notifier.operational("endpoint.disabled", "endpoint-disabled." + rs.getString("id") + "." + at.toEpochMilli(), data, now);
                    } else {
                        Instant at = Jdbc.instant(rs, "enabled_at");
                        notifier.operational("endpoint.enabled", "endpoint-enabled." + rs.getString("id") + "." + at.toEpochMilli(), data, now);
                    }
                    return null;
                }, from, now, from, now);
    }

    private static Map<String, Object> message(String appId, String appUid, String msgId, String eventId, String endpointId) {
        Map<String, Object> d = new LinkedHashMap<>();
        d.put("appId", appId);
        d.put("appUid", appUid);
        d.put("msgId", msgId);
        d.put("msgEventId", eventId);
        d.put("endpointId", endpointId);
        return d;
    }

    private static Map<String, Object> attempt(String id, Instant at, int status) {
        Map<String, Object> a = new LinkedHashMap<>();
        a.put("id", id);
        a.put("timestamp", at == null ? null : at.toString());
        a.put("responseStatusCode", status);
        return a;
    }
}
