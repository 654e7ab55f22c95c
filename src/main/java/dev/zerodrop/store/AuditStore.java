package dev.zerodrop.store;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The zero-drop audit's data: maintained per-state counters (tallies), stuck leases, and the
 * reconciliation that recounts the delivery rows themselves. See V5__audit.sql.
 */
public final class AuditStore {
    public static final List<String> STATES = List.of("pending", "sending", "delivered", "dead", "discarded", "held");
    /** The counter of finished deliveries that history retention removed with their partition. */
    public static final String RETIRED = "retired";

    /** One counter: how many deliveries of an endpoint are in a state ('accepted': ever created). */
    public record Tally(String appId, String endpointId, String state, long n) {}

    /** The last recount of an endpoint's deliveries. */
    public record Recount(String appId, String endpointId, long accepted, long found, long retired, Instant checkedAt) {}

    /** Leases that expired more than the grace ago without being rescued. */
    public record Stuck(String appId, String endpointId, long count, Instant oldestExpiry) {}

    private final Jdbc jdbc;

    public AuditStore(Jdbc jdbc) {
        this.jdbc = jdbc;
    }

    /** The counters, folded and not yet folded, optionally of one application. */
    public List<Tally> tallies(String appId) {
        return jdbc.query("""
                SELECT app_id, endpoint_id, state, sum(n) AS n
                  FROM (SELECT app_id, endpoint_id, state, n FROM delivery_tally
                        UNION ALL SELECT app_id, endpoint_id, state, n FROM delivery_tally_delta) t
                 WHERE ?::text IS NULL OR app_id = ?
                 GROUP BY app_id, endpoint_id, state""",
                rs -> new Tally(rs.getString(1), rs.getString(2), rs.getString(3), rs.getLong(4)), appId, appId);
    }

    /** Folds the appended deltas into the counters. Returns how many delta rows were folded. */
    public int fold() {
        return jdbc.tx(c -> {
            List<Long> n = Jdbc.query(c, """
                    WITH d AS (DELETE FROM delivery_tally_delta RETURNING app_id, endpoint_id, state, n),
                         s AS (SELECT app_id, endpoint_id, state, sum(n) AS n, count(*) AS rows FROM d GROUP BY 1, 2, 3),
                         i AS (INSERT INTO delivery_tally (app_id, endpoint_id, state, n) SELECT app_id, endpoint_id, state, n FROM s
                               ON CONFLICT (app_id, endpoint_id, state) DO UPDATE SET n = delivery_tally.n + EXCLUDED.n)
                    SELECT coalesce(sum(rows), 0) FROM s""", rs -> rs.getLong(1));
            return n.isEmpty() ? 0 : n.getFirst().intValue();
        });
    }

    /** Leases expired for longer than {@code grace}, per endpoint. Uses the lease index. */
    public List<Stuck> stuck(Instant now, Duration grace) {
        return jdbc.query("""
                SELECT app_id, endpoint_id, count(*) AS n, min(lease_expires_at) AS oldest FROM delivery
                 WHERE lease_expires_at < ? AND state = 'sending' GROUP BY app_id, endpoint_id""",
                rs -> new Stuck(rs.getString(1), rs.getString(2), rs.getLong(3), Jdbc.instant(rs, "oldest")), now.minus(grace));
    }

    /**
     * Deliveries that lost their lease twice or more in a row and have not been delivered since, per
     * endpoint (their sending keeps failing to record any outcome: a crash, a hang past the lease).
     * Uses a small partial index.
     */
    public List<Stuck> repeatedLostLeases(String appId) {
        return jdbc.query("""
                SELECT app_id, endpoint_id, count(*) AS n, min(updated_at) AS oldest FROM delivery
                 WHERE lost_leases >= 2 AND state IN ('pending', 'sending', 'dead') AND (?::text IS NULL OR app_id = ?)
                 GROUP BY app_id, endpoint_id""",
                rs -> new Stuck(rs.getString(1), rs.getString(2), rs.getLong(3), Jdbc.instant(rs, "oldest")), appId, appId);
    }

    /** The due time of the oldest pending delivery (the first entry of the due index). */
    public Optional<Instant> oldestPending() {
        return jdbc.queryOne("SELECT next_attempt_at FROM delivery WHERE state = 'pending' ORDER BY next_attempt_at LIMIT 1",
                rs -> Jdbc.instant(rs, "next_attempt_at"));
    }

    /** The due time of each endpoint's oldest pending delivery, by one index probe per endpoint. */
    public java.util.Map<String, Instant> oldestPendingByEndpoint(List<String> endpointIds) {
        java.util.Map<String, Instant> out = new java.util.HashMap<>();
        if (endpointIds.isEmpty()) return out;
        jdbc.query("""
                SELECT e.id, (SELECT d.next_attempt_at FROM delivery d WHERE d.endpoint_id = e.id AND d.state = 'pending'
                               ORDER BY d.next_attempt_at LIMIT 1) AS oldest
                  FROM unnest(?::text[]) AS e(id)""",
                rs -> out.put(rs.getString(1), Jdbc.instant(rs, "oldest")), (Object) endpointIds.toArray(String[]::new));
        return out;
    }

    /**
     * Recounts every endpoint's delivery rows against its 'accepted' counter, in one snapshot, and
     * stores the result. A full scan of the delivery table: run it on a slow schedule.
     */
    public List<Recount> reconcile(Instant now) {
        return jdbc.tx(c -> {
            Jdbc.update(c, "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ");
            List<Recount> out = Jdbc.query(c, """
                    WITH acc AS (SELECT app_id, endpoint_id, sum(n) FILTER (WHERE state = 'accepted') AS accepted,
                                        sum(n) FILTER (WHERE state = 'retired') AS retired
                                   FROM (SELECT app_id, endpoint_id, state, n FROM delivery_tally WHERE state IN ('accepted', 'retired')
                                         UNION ALL SELECT app_id, endpoint_id, state, n FROM delivery_tally_delta
                                                    WHERE state IN ('accepted', 'retired')) t
                                  GROUP BY 1, 2),
                         rows AS (SELECT app_id, endpoint_id, count(*) AS found FROM delivery GROUP BY 1, 2)
                    SELECT coalesce(a.app_id, r.app_id) AS app_id, coalesce(a.endpoint_id, r.endpoint_id) AS endpoint_id,
                           coalesce(a.accepted, 0) AS accepted, coalesce(r.found, 0) AS found, coalesce(a.retired, 0) AS retired
                      FROM acc a FULL JOIN rows r ON r.app_id = a.app_id AND r.endpoint_id = a.endpoint_id""",
                    rs -> new Recount(rs.getString(1), rs.getString(2), rs.getLong(3), rs.getLong(4), rs.getLong(5), now));
            Jdbc.update(c, "DELETE FROM audit_reconciliation");
            for (Recount r : out) {
                Jdbc.update(c, "INSERT INTO audit_reconciliation (app_id, endpoint_id, accepted, found, retired, checked_at) VALUES (?,?,?,?,?,?)",
                        r.appId(), r.endpointId(), r.accepted(), r.found(), r.retired(), now);
            }
            return out;
        });
    }

    /** The last reconciliation, optionally of one application. */
    public List<Recount> lastRecount(String appId) {
        return jdbc.query("SELECT app_id, endpoint_id, accepted, found, retired, checked_at FROM audit_reconciliation WHERE ?::text IS NULL OR app_id = ?",
                rs -> new Recount(rs.getString(1), rs.getString(2), rs.getLong(3), rs.getLong(4), rs.getLong(5), Jdbc.instant(rs, "checked_at")),
                appId, appId);
    }

    /** Unaccounted deliveries per application: by the counters now, plus what the last recount could not find. */
    public List<AlertStore.Observation> unaccountedPerApp() {
        List<AlertStore.Observation> out = new ArrayList<>();
        jdbc.query("""
                WITH t AS (SELECT app_id, sum(CASE WHEN state = 'accepted' THEN n ELSE -n END) AS gap
                             FROM (SELECT app_id, state, n FROM delivery_tally UNION ALL SELECT app_id, state, n FROM delivery_tally_delta) x
                            GROUP BY app_id),
                     r AS (SELECT app_id, sum(greatest(accepted - found - retired, 0)) AS missing FROM audit_reconciliation GROUP BY app_id)
                SELECT coalesce(t.app_id, r.app_id) AS app_id, abs(coalesce(t.gap, 0)) + coalesce(r.missing, 0) AS n
                  FROM t FULL JOIN r ON r.app_id = t.app_id""",
                rs -> out.add(new AlertStore.Observation(rs.getString(1), rs.getString(1), rs.getLong(2), rs.getLong(2))));
        return out;
    }
}
