package dev.zerodrop.slo;

import dev.zerodrop.core.Ids;
import dev.zerodrop.store.Conflict;
import dev.zerodrop.store.Jdbc;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Service level objectives: their definitions and their evaluation from the per-minute indicator
 * counts that every recorded outcome adds to (see DeliveryStore.recordSli).
 */
public final class Slo {
    public static final List<String> INDICATORS = List.of("dispatch_latency", "delivery_success");
    public static final List<Integer> BOUNDS = List.of(1, 5, 30, 60, 300, 3600);
    private static final List<Duration> WINDOWS = List.of(Duration.ofMinutes(5), Duration.ofMinutes(30), Duration.ofHours(1),
            Duration.ofHours(6), Duration.ofDays(3));

    public record Objective(String id, String appId, String endpointId, String indicator, double target, int windowDays,
                            int latencySeconds, Instant createdAt, Instant updatedAt) {}

    /** One objective evaluated for one application. */
    public record Evaluation(Objective objective, String appId, double value, long events, long badEvents,
                             SloMath.Budget budget, Map<String, Double> burnRates, String alert) {}

    private final Jdbc jdbc;

    public Slo(Jdbc jdbc) {
        this.jdbc = jdbc;
    }

    /** Default objectives for every application: dispatch within 5 s for 99.9%, delivery within 5 min for 99.5%, over 28 days. */
    public void ensureDefaults(Instant now) {
        for (Object[] d : new Object[][] {{"dispatch_latency", 0.999, 5}, {"delivery_success", 0.995, 300}}) {
            jdbc.update("""
                    INSERT INTO slo_objective (id, app_id, endpoint_id, indicator, target, window_days, latency_seconds, created_at, updated_at)
                    VALUES (?, NULL, NULL, ?, ?, 28, ?, ?, ?) ON CONFLICT DO NOTHING""", "slo_" + Ids.ksuid(now), d[0], d[1], d[2], now, now);
        }
    }

    public List<Objective> objectives() {
        return jdbc.query("SELECT * FROM slo_objective WHERE true ORDER BY app_id NULLS FIRST, endpoint_id NULLS FIRST, indicator", Slo::map);
    }

    public Optional<Objective> objective(String id) {
        return jdbc.queryOne("SELECT * FROM slo_objective WHERE id = ?", Slo::map, id);
    }

    public Objective create(Objective o) {
        try {
            jdbc.update("INSERT INTO slo_objective (id, app_id, endpoint_id, indicator, target, window_days, latency_seconds, created_at, updated_at) "
                            + "VALUES (?,?,?,?,?,?,?,?,?)", o.id(), o.appId(), o.endpointId(), o.indicator(), o.target(), o.windowDays(),
                    o.latencySeconds(), o.createdAt(), o.updatedAt());
        } catch (Jdbc.UniqueViolation e) {
            throw new Conflict("an objective for " + o.indicator() + " already exists for this scope");
        }
        return o;
    }

    public Objective update(Objective o) {
        jdbc.update("UPDATE slo_objective SET target = ?, window_days = ?, latency_seconds = ?, updated_at = ? WHERE id = ?",
                o.target(), o.windowDays(), o.latencySeconds(), o.updatedAt(), o.id());
        return o;
    }

    public boolean delete(String id) {
        return jdbc.update("DELETE FROM slo_objective WHERE id = ? AND app_id IS NOT NULL", id) > 0;
    }

    /**
     * Every objective, evaluated at {@code now}: a default objective once for each application that
     * has events in its window and no objective of its own for that indicator.
     */
    public List<Evaluation> evaluate(Instant now, String onlyApp) {
        List<Objective> all = objectives();
        List<Evaluation> out = new ArrayList<>();
        for (Objective o : all) {
            if (o.appId() != null) {
                if (onlyApp == null || onlyApp.equals(o.appId())) out.add(evaluate(o, o.appId(), now));
                continue;
            }
            for (String app : appsWithEvents(o.indicator(), now.minus(Duration.ofDays(o.windowDays())))) {
                if (onlyApp != null && !onlyApp.equals(app)) continue;
                boolean overridden = all.stream().anyMatch(x -> app.equals(x.appId()) && x.endpointId() == null && x.indicator().equals(o.indicator()));
                if (!overridden) out.add(evaluate(o, app, now));
            }
        }
        return out;
    }

    Evaluation evaluate(Objective o, String appId, Instant now) {
        Duration sloWindow = Duration.ofDays(o.windowDays());
        List<Duration> durations = new ArrayList<>(WINDOWS);
        durations.add(sloWindow);
        Map<Duration, SloMath.Window> w = windows(o, appId, now, durations);
        SloMath.Window slo = w.get(sloWindow);
        Map<String, Double> burn = new LinkedHashMap<>();
        for (Duration d : WINDOWS) burn.put(label(d), SloMath.burnRate(w.get(d), o.target()));
        return new Evaluation(o, appId, SloMath.value(slo), slo.total(), slo.bad(), SloMath.budget(slo, o.target()), burn,
                SloMath.alert(d -> w.getOrDefault(d, new SloMath.Window(0, 0)), o.target()));
    }

    static String label(Duration d) {
        if (d.toDays() > 0 && d.toHours() % 24 == 0) return d.toDays() + "d";
        if (d.toHours() > 0 && d.toMinutes() % 60 == 0) return d.toHours() + "h";
        return d.toMinutes() + "m";
    }

    private Map<Duration, SloMath.Window> windows(Objective o, String appId, Instant now, List<Duration> durations) {
        String good = "le_" + o.latencySeconds() + "s"; // validated: one of BOUNDS
        StringBuilder sql = new StringBuilder("SELECT ");
        List<Object> params = new ArrayList<>();
        for (int i = 0; i < durations.size(); i++) {
            if (i > 0) sql.append(", ");
            sql.append("coalesce(sum(total) FILTER (WHERE minute >= ?), 0), coalesce(sum(").append(good).append(") FILTER (WHERE minute >= ?), 0)");
            Instant from = now.minus(durations.get(i));
            params.add(from);
            params.add(from);
        }
        Duration longest = durations.stream().max(Duration::compareTo).orElseThrow();
        sql.append(" FROM sli_minute WHERE app_id = ? AND indicator = ? AND minute >= ? AND minute <= ?");
        params.add(appId);
        params.add(o.indicator());
        params.add(now.minus(longest));
        params.add(now);
        if (o.endpointId() != null) {
            sql.append(" AND endpoint_id = ?");
            params.add(o.endpointId());
        }
        return jdbc.queryOne(sql.toString(), rs -> {
            Map<Duration, SloMath.Window> m = new LinkedHashMap<>();
            for (int i = 0; i < durations.size(); i++) {
                long total = rs.getLong(2 * i + 1);
                long goodN = rs.getLong(2 * i + 2);
                m.put(durations.get(i), new SloMath.Window(total, total - goodN));
            }
            return m;
        }, params.toArray()).orElseThrow();
    }

    private List<String> appsWithEvents(String indicator, Instant since) {
        return jdbc.query("SELECT DISTINCT app_id FROM sli_minute WHERE indicator = ? AND minute >= ? AND "
                        + "NOT EXISTS (SELECT 1 FROM application a WHERE a.id = sli_minute.app_id AND a.uid LIKE 'zerodrop-%')",
                rs -> rs.getString(1), indicator, since);
    }

    static Objective map(ResultSet rs) throws SQLException {
        return new Objective(rs.getString("id"), rs.getString("app_id"), rs.getString("endpoint_id"), rs.getString("indicator"),
                rs.getDouble("target"), rs.getInt("window_days"), rs.getInt("latency_seconds"), Jdbc.instant(rs, "created_at"),
                Jdbc.instant(rs, "updated_at"));
    }

    /** Minutes of indicator events older than this are rolled up into hours. */
    static final java.time.Duration MINUTES_KEPT = java.time.Duration.ofDays(4);
    /** The longest objective window: older indicator events serve no objective. */
    static final java.time.Duration KEPT = java.time.Duration.ofDays(90);

    /**
     * Rolls the per-minute indicator events older than {@link #MINUTES_KEPT} into one row per hour
     * (the 5-minute and 30-minute burn windows only ever read recent minutes; the rest reads whole
     * hours as well as minutes), and forgets those older than {@link #KEPT}. Returns rows rolled up.
     */
    public int rollUp(Instant now) {
        return jdbc.tx(c -> {
            dev.zerodrop.store.Jdbc.update(c, "DELETE FROM sli_minute WHERE minute < ?", now.minus(KEPT));
            return dev.zerodrop.store.Jdbc.update(c, """
                    WITH old AS (
                        DELETE FROM sli_minute
                         WHERE minute < ? AND minute <> date_trunc('hour', minute AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
                        RETURNING *)
                    INSERT INTO sli_minute (app_id, endpoint_id, indicator, minute, total, le_1s, le_5s, le_30s, le_60s, le_300s, le_3600s)
                    SELECT app_id, endpoint_id, indicator, date_trunc('hour', minute AT TIME ZONE 'UTC') AT TIME ZONE 'UTC',
                           sum(total), sum(le_1s), sum(le_5s), sum(le_30s), sum(le_60s), sum(le_300s), sum(le_3600s)
                      FROM old GROUP BY 1, 2, 3, 4
                    ON CONFLICT (app_id, indicator, minute, endpoint_id) DO UPDATE SET
                           total = sli_minute.total + EXCLUDED.total, le_1s = sli_minute.le_1s + EXCLUDED.le_1s,
                           le_5s = sli_minute.le_5s + EXCLUDED.le_5s, le_30s = sli_minute.le_30s + EXCLUDED.le_30s,
                           le_60s = sli_minute.le_60s + EXCLUDED.le_60s, le_300s = sli_minute.le_300s + EXCLUDED.le_300s,
                           le_3600s = sli_minute.le_3600s + EXCLUDED.le_3600s""", now.minus(MINUTES_KEPT));
        });
    }
}
