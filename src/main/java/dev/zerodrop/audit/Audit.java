package dev.zerodrop.audit;

import dev.zerodrop.store.AuditStore;
import dev.zerodrop.store.AuditStore.Recount;
import dev.zerodrop.store.AuditStore.Stuck;
import dev.zerodrop.store.AuditStore.Tally;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The zero-drop audit: at any moment, accepted deliveries = pending + sending + delivered + dead +
 * discarded + held + retired (finished deliveries that history retention removed), per endpoint,
 * per application and overall. {@code unaccounted} is whatever that
 * equation misses, by the maintained counters now and by the last recount of the rows themselves.
 */
public final class Audit {
    /** The counts of one scope (the server, an application or an endpoint). */
    public record Counts(long accepted, long pending, long sending, long delivered, long dead, long discarded, long held,
                         long retired, long unaccounted, long stuckLeases, long repeatedLostLeases) {
        static Counts of(Map<String, Long> n, long missing, long stuck, long lostLeases) {
            long accepted = n.getOrDefault("accepted", 0L);
            long retired = n.getOrDefault(AuditStore.RETIRED, 0L);
            long sum = retired;
            for (String s : AuditStore.STATES) sum += n.getOrDefault(s, 0L);
            return new Counts(accepted, n.getOrDefault("pending", 0L), n.getOrDefault("sending", 0L), n.getOrDefault("delivered", 0L),
                    n.getOrDefault("dead", 0L), n.getOrDefault("discarded", 0L), n.getOrDefault("held", 0L), retired,
                    Math.abs(accepted - sum) + missing, stuck, lostLeases);
        }
    }

    private final AuditStore store;
    private final Duration stuckGrace;

    public Audit(AuditStore store, Duration stuckGrace) {
        this.store = store;
        this.stuckGrace = stuckGrace;
    }

    public AuditStore store() {
        return store;
    }

    /** The audit as a JSON-ready tree: overall counts at the top, then per application and endpoint. */
    public Map<String, Object> report(String appId, Instant now) {
        List<Tally> tallies = store.tallies(appId);
        List<Recount> recounts = store.lastRecount(appId);
        List<Stuck> stuck = store.stuck(now, stuckGrace);
        Map<String, Map<String, Map<String, Long>>> byApp = new TreeMap<>();
        Map<String, Long> total = new LinkedHashMap<>();
        for (Tally t : tallies) {
            byApp.computeIfAbsent(t.appId(), k -> new TreeMap<>()).computeIfAbsent(t.endpointId(), k -> new LinkedHashMap<>())
                    .merge(t.state(), t.n(), Long::sum);
            total.merge(t.state(), t.n(), Long::sum);
        }
        Map<String, Long> missing = new LinkedHashMap<>();
        Instant checkedAt = null;
        for (Recount r : recounts) {
            missing.merge(r.endpointId(), Math.max(0, r.accepted() - r.found() - r.retired()), Long::sum);
            checkedAt = r.checkedAt();
        }
        Map<String, Long> stuckBy = new LinkedHashMap<>();
        for (Stuck s : stuck) {
            if (appId == null || appId.equals(s.appId())) stuckBy.merge(s.endpointId(), s.count(), Long::sum);
        }
        Map<String, Long> lostBy = new LinkedHashMap<>();
        for (Stuck s : store.repeatedLostLeases(appId)) lostBy.merge(s.endpointId(), s.count(), Long::sum);
        List<String> withPending = new ArrayList<>();
        for (var app : byApp.values()) {
            for (var ep : app.entrySet()) if (ep.getValue().getOrDefault("pending", 0L) > 0) withPending.add(ep.getKey());
        }
        Map<String, Instant> oldestByEndpoint = store.oldestPendingByEndpoint(withPending);
        List<Map<String, Object>> apps = new ArrayList<>();
        long totalMissing = 0;
        long totalStuck = 0;
        long totalLost = 0;
        for (var app : byApp.entrySet()) {
            Map<String, Long> appTotal = new LinkedHashMap<>();
            long appMissing = 0;
            long appStuck = 0;
            long appLost = 0;
            Instant appOldest = null;
            List<Map<String, Object>> eps = new ArrayList<>();
            for (var ep : app.getValue().entrySet()) {
                long m = missing.getOrDefault(ep.getKey(), 0L);
                long st = stuckBy.getOrDefault(ep.getKey(), 0L);
                long ll = lostBy.getOrDefault(ep.getKey(), 0L);
                ep.getValue().forEach((k, v) -> appTotal.merge(k, v, Long::sum));
                appMissing += m;
                appStuck += st;
                appLost += ll;
                Map<String, Object> e = new LinkedHashMap<>();
                e.put("endpointId", ep.getKey());
                e.putAll(asMap(Counts.of(ep.getValue(), m, st, ll)));
                Instant oldest = oldestByEndpoint.get(ep.getKey());
                e.put("oldestPendingAgeSeconds", age(oldest, now));
                if (oldest != null && (appOldest == null || oldest.isBefore(appOldest))) appOldest = oldest;
                eps.add(e);
            }
            totalMissing += appMissing;
            totalStuck += appStuck;
            totalLost += appLost;
            Map<String, Object> a = new LinkedHashMap<>();
            a.put("appId", app.getKey());
            a.putAll(asMap(Counts.of(appTotal, appMissing, appStuck, appLost)));
            a.put("oldestPendingAgeSeconds", age(appOldest, now));
            a.put("endpoints", eps);
            apps.add(a);
        }
        Map<String, Object> out = new LinkedHashMap<>(asMap(Counts.of(total, totalMissing, totalStuck, totalLost)));
        Instant oldest = store.oldestPending().orElse(null);
        out.put("oldestPendingAgeSeconds", age(oldest, now));
        out.put("recountedAt", checkedAt == null ? null : checkedAt.toString());
        out.put("stuckLeaseGraceSeconds", stuckGrace.toSeconds());
        out.put("applications", apps);
        return out;
    }

    /** Seconds since {@code due} (0 when nothing is pending, or it is not due yet). */
    static long age(Instant due, Instant now) {
        return due == null ? 0 : Math.max(0, Duration.between(due, now).toSeconds());
    }

    static Map<String, Object> asMap(Counts c) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("accepted", c.accepted());
        m.put("pending", c.pending());
        m.put("sending", c.sending());
        m.put("delivered", c.delivered());
        m.put("dead", c.dead());
        m.put("discarded", c.discarded());
        m.put("held", c.held());
        m.put("retired", c.retired());
        m.put("unaccounted", c.unaccounted());
        m.put("stuckLeases", c.stuckLeases());
        m.put("repeatedLostLeases", c.repeatedLostLeases());
        return m;
    }
}
