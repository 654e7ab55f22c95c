package dev.zerodrop.store;

import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Collectors;

/**
 * The time partitions of {@code message}, {@code delivery} and {@code attempt} (see
 * V17__time_partitions.sql): made ahead of time, and dropped whole when their range has expired.
 *
 * <p>A message and its deliveries share a partition range (their {@code part_at} is the message's
 * acceptance time). Expiring a range keeps what is not finished: the messages that still have a
 * pending, held or dead delivery move with all their deliveries to the current range first, and
 * only the finished history is dropped. Dropped deliveries are counted as {@code retired} in the
 * audit's counters, so its arithmetic holds. Nothing is deleted row by row.
 */
public final class PartitionStore {
    private static final long LOCK = 7206003;
    private static final long EXPIRE_LOCK = 7206004;
    private static final DateTimeFormatter NAME = DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmss").withZone(ZoneOffset.UTC);
    private static final List<String> PARENTS = List.of("message", "delivery", "attempt");
    private static final String UNFINISHED = "('pending', 'held', 'dead', 'sending')";

    /** One partition: its table, parent and range ({@code from} null: from the beginning). */
    public record Range(String name, String parent, Instant from, Instant to) {}

    /** What expiring one range did. */
    public record Expiry(Instant to, long messagesKept, long deliveriesRetired, boolean attempts) {}

    private final Jdbc jdbc;
    private final Map<String, String> columns = new ConcurrentHashMap<>();

    public PartitionStore(Jdbc jdbc) {
        this.jdbc = jdbc;
    }

    /**
     * The partition interval for a history retention: an eighth of it, between one minute and one
     * day, so that some eight to ninety partitions hold the history and expiry frees it in steps of
     * an eighth or less.
     */
    public static Duration interval(Duration retention) {
        Duration d = retention.dividedBy(8);
        if (d.compareTo(Duration.ofMinutes(1)) < 0) return Duration.ofMinutes(1);
        if (d.compareTo(Duration.ofDays(1)) > 0) return Duration.ofDays(1);
        return d;
    }

    public List<Range> ranges(String parent) {
        return jdbc.query("SELECT name, parent, from_at, to_at FROM partition_range WHERE parent = ? ORDER BY to_at",
                rs -> new Range(rs.getString(1), rs.getString(2), Jdbc.instant(rs, "from_at"), Jdbc.instant(rs, "to_at")), parent);
    }

    /**
     * Makes the partitions that each table needs to cover every time up to {@code now + ahead}, in
     * steps of {@code interval} aligned to multiples of it. Returns how many were made. Safe on many
     * nodes at once (one makes them, the others find them made).
     */
    public int ensure(Instant now, Duration interval, Duration ahead) {
        return jdbc.tx(c -> {
            Jdbc.query(c, "SELECT pg_advisory_xact_lock(?)", rs -> null, LOCK);
            // Creating a partition briefly locks its parent: never queue the hot path behind a long wait.
            Jdbc.update(c, "SET LOCAL lock_timeout = '5s'");
            int made = 0;
            Instant until = now.plus(ahead);
            for (String parent : PARENTS) {
                Instant last = Jdbc.queryOne(c, "SELECT max(to_at) AS t FROM partition_range WHERE parent = ?",
                        rs -> Jdbc.instant(rs, "t"), parent).orElse(null);
                if (last == null) throw new IllegalStateException("no partition of " + parent + " is recorded");
                while (last.isBefore(until)) {
                    // After a long stop (or a clock that jumped), one partition covers the gap up to
                    // now: nothing was written in it, and thousands of empty ones would help nobody.
                    Instant to = alignAfter(last, interval);
                    Instant current = alignAfter(now, interval).minus(interval);
                    if (to.isBefore(current)) to = current;
                    String name = (parent + "_p" + NAME.format(last)).toLowerCase(java.util.Locale.ROOT);
                    Jdbc.update(c, "CREATE TABLE " + name + " PARTITION OF " + parent + " FOR VALUES FROM ('" + last + "') TO ('" + to + "')"
                            + (parent.equals("delivery") ? " WITH (fillfactor = 80)" : ""));
                    Jdbc.update(c, "INSERT INTO partition_range (name, parent, from_at, to_at, created_at) VALUES (?,?,?,?,?)",
                            name, parent, last, to, now);
                    last = to;
                    made++;
                }
            }
            return made;
        });
    }

    /** The first multiple of {@code interval} (since the epoch) after {@code t}. */
    static Instant alignAfter(Instant t, Duration interval) {
        long step = interval.toMillis();
        long k = Math.floorDiv(t.toEpochMilli(), step) + 1;
        return Instant.ofEpochMilli(k * step);
    }

    /**
     * Drops every range that ended before {@code now - retention}: message and delivery ranges
     * together, keeping their unfinished part, and attempt ranges on their own. A range with a
     * delivery in flight waits for the next run. Returns what was dropped.
     */
    public List<Expiry> expire(Instant now, Duration retention) {
        // One expiry at a time (the cluster's job, or a caller of this method): a range's steps must not interleave.
        try (Connection lock = jdbc.dataSource().getConnection()) {
            Jdbc.query(lock, "SELECT pg_advisory_lock(?)", rs -> null, EXPIRE_LOCK);
            try {
                return expireLocked(now, retention);
            } finally {
                Jdbc.query(lock, "SELECT pg_advisory_unlock(?)", rs -> null, EXPIRE_LOCK);
            }
        } catch (SQLException e) {
            throw Jdbc.translate(e);
        }
    }

    private List<Expiry> expireLocked(Instant now, Duration retention) {
        Instant cutoff = now.minus(retention);
        List<Expiry> out = new ArrayList<>();
        for (Range m : ranges("message")) {
            if (m.to().isAfter(cutoff)) break;
            Range d = ranges("delivery").stream().filter(x -> x.to().equals(m.to())).findFirst().orElse(null);
            if (d == null) continue;
            Expiry e = expireHistory(m, d, now);
            if (e != null) out.add(e);
        }
        for (Range a : ranges("attempt")) {
            if (a.to().isAfter(cutoff)) break;
            detach(a);
            jdbc.tx(c -> {
                Jdbc.update(c, "DROP TABLE IF EXISTS " + a.name());
                return Jdbc.update(c, "DELETE FROM partition_range WHERE name = ?", a.name());
            });
            out.add(new Expiry(a.to(), 0, 0, true));
        }
        return out;
    }

    private Expiry expireHistory(Range m, Range d, Instant now) {
        String range = m.from() == null ? "part_at < ?" : "part_at >= ? AND part_at < ?";
        Object[] bounds = m.from() == null ? new Object[] {m.to()} : new Object[] {m.from(), m.to()};
        // 1. Move what is not finished to the current range. Its deliveries are locked first, so no
        //    claim can start one meanwhile; with one already in flight the range waits.
        Long kept = jdbc.tx(c -> {
            Jdbc.update(c, "SET LOCAL lock_timeout = '5s'");
            List<String> keep = Jdbc.query(c, "SELECT msg_id FROM delivery WHERE " + range + " AND state IN ('pending', 'held', 'dead') FOR UPDATE",
                    rs -> rs.getString(1), bounds);
            long sending = Jdbc.queryOne(c, "SELECT count(*) FROM delivery WHERE " + range + " AND state = 'sending'",
                    rs -> rs.getLong(1), bounds).orElse(0L);
            if (sending > 0) return null;
            String[] ids = keep.stream().distinct().toArray(String[]::new);
            if (ids.length > 0) {
                Jdbc.update(c, "UPDATE message SET part_at = ? WHERE " + range + " AND id = ANY (?::text[])", with(now, bounds, ids));
                Jdbc.update(c, "UPDATE delivery SET part_at = ? WHERE " + range + " AND msg_id = ANY (?::text[])", with(now, bounds, ids));
            }
            return (long) ids.length;
        });
        if (kept == null) return null;
        // 2. Detach both, without blocking the hot path (it waits for the transactions already running).
        detach(m);
        detach(d);
        // 3. What became unfinished in between (a resend of a finished delivery) goes back; the rest is retired.
        return jdbc.tx(c -> {
            String[] back = Jdbc.query(c, "SELECT DISTINCT msg_id FROM " + d.name() + " WHERE state IN " + UNFINISHED,
                    rs -> rs.getString(1)).toArray(String[]::new);
            if (back.length > 0) {
                Jdbc.update(c, "INSERT INTO message (" + columns(c, "message") + ") SELECT " + columns(c, "message").replace("part_at", "?")
                        + " FROM " + m.name() + " WHERE id = ANY (?::text[])", now, back);
                Jdbc.update(c, "INSERT INTO delivery (" + columns(c, "delivery") + ") SELECT " + columns(c, "delivery").replace("part_at", "?")
                        + " FROM " + d.name() + " WHERE msg_id = ANY (?::text[])", now, back);
                // The insert counted them as accepted again: they were counted when they were made.
                Jdbc.update(c, """
                        INSERT INTO delivery_tally_delta (app_id, endpoint_id, state, n)
                        SELECT d.app_id, d.endpoint_id, s.state, -count(*) FROM %s d, LATERAL (VALUES ('accepted'), (d.state)) AS s(state)
                         WHERE d.msg_id = ANY (?::text[]) GROUP BY 1, 2, 3""".formatted(d.name()), (Object) back);
            }
            long retired = Jdbc.queryOne(c, "SELECT count(*) FROM " + d.name() + " WHERE NOT (msg_id = ANY (?::text[]))",
                    rs -> rs.getLong(1), (Object) back).orElse(0L);
            Jdbc.update(c, """
                    INSERT INTO delivery_tally_delta (app_id, endpoint_id, state, n)
                    SELECT d.app_id, d.endpoint_id, s.state, sum(s.n) FROM %s d, LATERAL (VALUES (d.state, -1), ('retired', 1)) AS s(state, n)
                     WHERE NOT (d.msg_id = ANY (?::text[])) GROUP BY 1, 2, 3""".formatted(d.name()), (Object) back);
            Jdbc.update(c, "DROP TABLE " + m.name() + ", " + d.name());
            Jdbc.update(c, "DELETE FROM partition_range WHERE name IN (?, ?)", m.name(), d.name());
            return new Expiry(m.to(), kept + back.length, retired, false);
        });
    }

    private static Object[] with(Instant now, Object[] bounds, String[] ids) {
        Object[] p = new Object[bounds.length + 2];
        p[0] = now;
        System.arraycopy(bounds, 0, p, 1, bounds.length);
        p[p.length - 1] = ids;
        return p;
    }

    /**
     * Detaches a partition from its parent if it still is one: concurrently, so that the parent is
     * never locked against the hot path. A detach that a crash interrupted is finished.
     */
    private void detach(Range r) {
        jdbc.run(c -> {
            String state = Jdbc.queryOne(c, """
                    SELECT CASE WHEN i.inhdetachpending THEN 'pending' ELSE 'attached' END FROM pg_inherits i
                     WHERE i.inhrelid = to_regclass(?) AND i.inhparent = to_regclass(?)""",
                    rs -> rs.getString(1), r.name(), r.parent()).orElse("detached");
            if (state.equals("attached")) Jdbc.update(c, "ALTER TABLE " + r.parent() + " DETACH PARTITION " + r.name() + " CONCURRENTLY");
            else if (state.equals("pending")) Jdbc.update(c, "ALTER TABLE " + r.parent() + " DETACH PARTITION " + r.name() + " FINALIZE");
            return null;
        });
    }

    /** The parent's columns in table order, to copy rows between a detached partition and it. */
    private String columns(Connection c, String table) throws SQLException {
        String cached = columns.get(table);
        if (cached != null) return cached;
        String cols = Jdbc.query(c, """
                SELECT attname FROM pg_attribute WHERE attrelid = to_regclass(?) AND attnum > 0 AND NOT attisdropped ORDER BY attnum""",
                rs -> rs.getString(1), table).stream().collect(Collectors.joining(", "));
        columns.put(table, cols);
        return cols;
    }
}
