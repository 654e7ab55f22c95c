package dev.zerodrop.store;

import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * One endpoint's messages sent again, in batches of set-based SQL for the background tasks: recover
 * (its dead deliveries), replay-missing (messages it never had a delivery for) and bulk replay (its
 * existing deliveries, by filter). Each batch runs inside the task's own transaction (see
 * {@link TaskStore#step}). Every delivery these put back gets a fresh retry budget and a manual
 * next attempt, falls due at the replay rate after the endpoint's other manual deliveries (as a
 * dead-letter replay does), and gets a 'replay' action naming the task.
 *
 * <p>A message whose content was expunged is never sent again: its rows are skipped and counted. The
 * messages a batch sends again are share-locked, so an expunge running at the same time waits for
 * the batch and then discards what it scheduled.
 */
public final class ReplayStore {
    /**
     * What one batch did: how many rows it looked at, the last message id it scanned (where the next
     * batch starts), and how many deliveries it made due, held (endpoint disabled) or skipped because
     * their content was expunged.
     */
    public record Batch(int scanned, String last, long sent, long held, long expunged) {}

    /** The deliveries a bulk replay sends again. Null fields do not filter; {@code states} is required. */
    public record Filter(List<String> states, List<String> eventTypes, String channel, Integer statusCodeClass) {}

    /** Where the replayed deliveries of one endpoint start falling due: after its manual deliveries still pending. */
    private static final String START = """
            start AS (
                SELECT greatest(?::timestamptz, (SELECT max(p.next_attempt_at) FROM delivery p
                                                  WHERE p.endpoint_id = ? AND p.state = 'pending' AND p.manual) + ?::interval) AS at)""";

    /** The next messages of an application by id, after a position and below an optional bound. */
    private static final String SCAN = """
            scan AS MATERIALIZED (
                SELECT m.id, m.event_type, m.channels, m.created_at, m.payload IS NULL AS expunged
                  FROM message m
                 WHERE m.app_id = ? AND m.id > ? AND (?::text IS NULL OR m.id < ?)
                 ORDER BY m.id LIMIT ?)""";

    /** Puts the deliveries of {@code ranked} back, due one gap apart from {@code start}, and records the actions. */
    private static final String REPLAY = """
            upd AS (
                UPDATE delivery d
                   SET state = CASE WHEN e.disabled THEN 'held' ELSE 'pending' END, manual = true, budget_base = d.attempts, lost_leases = 0,
                       next_attempt_at = CASE WHEN e.disabled THEN NULL ELSE st.at + r.k * ?::interval END,
                       reason = NULL, updated_at = ?
                  FROM ranked r, start st, endpoint e
                 WHERE d.id = r.id AND e.id = d.endpoint_id
                RETURNING d.id, d.state),
            act AS (
                INSERT INTO delivery_action (delivery_id, action, actor, reason, created_at)
                SELECT id, 'replay', ?, ?, ? FROM upd)""";

    private final Jdbc jdbc;
    private volatile Boolean idsSortByTime;

    public ReplayStore(Jdbc jdbc) {
        this.jdbc = jdbc;
    }

    /**
     * Whether the database's collation orders message ids as their bytes. Message ids begin with
     * their creation time (see {@code Ids}), so then a time window is an id range, and a scan can
     * start at the window's first id instead of at the application's first message. Under a
     * linguistic collation ({@code en_US}), ids sort otherwise and scans start at the beginning.
     */
    public boolean idsSortByTime() {
        Boolean b = idsSortByTime;
        if (b == null) {
            b = jdbc.queryOne("SELECT 'msg_a' > 'msg_Z' AND 'msg_Z' > 'msg_A' AND 'msg_A' > 'msg_9' AND 'msg_9' > 'msg_0'",
                    rs -> rs.getBoolean(1)).orElse(false);
            idsSortByTime = b;
        }
        return b;
    }

    /**
     * Recover: puts up to {@code limit} of the endpoint's dead deliveries back, those of messages
     * created in [since, until) (until null: no end) that went dead before {@code startedAt}. Taken
     * by state, not by position: what a batch recovers is no longer dead, so the next batch finds the
     * rest; a delivery that dies again after the task started is not taken a second time.
     */
    public Batch recover(Connection c, String appId, String endpointId, Instant since, Instant until, Instant startedAt, int limit,
                         Duration gap, String actor, String reason, Instant now) throws SQLException {
        String sql = """
                WITH sel AS MATERIALIZED (
                    SELECT d.id FROM delivery d JOIN message m ON m.id = d.msg_id AND m.part_at = d.part_at JOIN endpoint e ON e.id = d.endpoint_id
                     WHERE d.state = 'dead' AND d.app_id = ? AND d.endpoint_id = ? AND e.deleted_at IS NULL
                       AND coalesce(d.state_changed_at, d.updated_at) <= ?
                       AND m.created_at >= ? AND (?::timestamptz IS NULL OR m.created_at < ?) AND m.payload IS NOT NULL
                     ORDER BY d.id LIMIT ? FOR UPDATE OF d FOR SHARE OF m),
                ranked AS (SELECT id, row_number() OVER (ORDER BY id) - 1 AS k FROM sel),
                %s,
                %s
                SELECT (SELECT count(*) FROM sel) AS scanned, NULL AS last,
                       (SELECT count(*) FROM upd WHERE state = 'pending') AS sent,
                       (SELECT count(*) FROM upd WHERE state = 'held') AS held, 0 AS expunged""".formatted(START, REPLAY);
        List<Object> p = new ArrayList<>(List.of(appId, endpointId, startedAt, since));
        p.addAll(Arrays.asList(until, until, limit));
        start(p, endpointId, gap, now);
        replay(p, gap, actor, reason, now);
        return batch(c, sql, p);
    }

    /** Recover's closing count: the dead deliveries it left alone because their content was expunged. */
    public long unrecoverable(Connection c, String appId, String endpointId, Instant since, Instant until, Instant startedAt)
            throws SQLException {
        return Jdbc.queryOne(c, """
                SELECT count(*) FROM delivery d JOIN message m ON m.id = d.msg_id AND m.part_at = d.part_at
                 WHERE d.state = 'dead' AND d.app_id = ? AND d.endpoint_id = ? AND coalesce(d.state_changed_at, d.updated_at) <= ?
                   AND m.created_at >= ? AND (?::timestamptz IS NULL OR m.created_at < ?) AND m.payload IS NULL""",
                rs -> rs.getLong(1), appId, endpointId, startedAt, since, until, until).orElse(0L);
    }

    /**
     * Replay-missing: of the next {@code limit} messages of the application after {@code after}
     * (below {@code below} when set), those created in [since, until) that the endpoint's filters
     * and channels select and that have no delivery to it get one. The (message, endpoint) unique
     * key makes a second run, or a race with a resend, create nothing twice.
     */
    public Batch replayMissing(Connection c, String appId, String endpointId, String after, String below, Instant since, Instant until,
                               int limit, Duration gap, String actor, String reason, Instant now) throws SQLException {
        String sql = """
                WITH %s,
                want AS MATERIALIZED (
                    SELECT s.id, s.expunged FROM scan s JOIN endpoint e ON e.id = ? AND e.deleted_at IS NULL
                     WHERE s.created_at >= ? AND s.created_at < ?
                       AND (e.filter_types IS NULL OR s.event_type = ANY (e.filter_types))
                       AND (e.channels IS NULL OR e.channels && coalesce(s.channels, '{}'::text[]))
                       AND NOT EXISTS (SELECT 1 FROM delivery d WHERE d.msg_id = s.id AND d.endpoint_id = e.id)),
                locked AS MATERIALIZED (
                    SELECT m.id, m.part_at FROM message m JOIN want w ON w.id = m.id
                     WHERE NOT w.expunged AND m.payload IS NOT NULL ORDER BY m.id FOR SHARE OF m),
                %s,
                ins AS (
                    INSERT INTO delivery (msg_id, endpoint_id, app_id, state, manual, next_attempt_at, created_at, updated_at, part_at)
                    SELECT l.id, e.id, e.app_id, CASE WHEN e.disabled THEN 'held' ELSE 'pending' END, true,
                           CASE WHEN e.disabled THEN NULL ELSE st.at + (row_number() OVER (ORDER BY l.id) - 1) * ?::interval END, ?, ?,
                           l.part_at
                      FROM locked l, endpoint e, start st WHERE e.id = ?
                    ON CONFLICT (msg_id, endpoint_id, part_at) DO NOTHING
                    RETURNING id, state),
                act AS (
                    INSERT INTO delivery_action (delivery_id, action, actor, reason, created_at)
                    SELECT id, 'replay', ?, ?, ? FROM ins)
                SELECT (SELECT count(*) FROM scan) AS scanned, (SELECT max(id) FROM scan) AS last,
                       (SELECT count(*) FROM ins WHERE state = 'pending') AS sent,
                       (SELECT count(*) FROM ins WHERE state = 'held') AS held,
                       (SELECT count(*) FROM want) - (SELECT count(*) FROM locked) AS expunged""".formatted(SCAN, START);
        List<Object> p = scan(appId, after, below, limit);
        p.addAll(List.of(endpointId, since, until));
        start(p, endpointId, gap, now);
        p.addAll(List.of(interval(gap), now, now, endpointId, actor, reason, now));
        return batch(c, sql, p);
    }

    /**
     * Bulk replay: of the next {@code limit} messages of the application after {@code after} (below
     * {@code below} when set), those created in [since, until) whose delivery to the endpoint matches
     * the filter are sent again.
     */
    public Batch bulkReplay(Connection c, String appId, String endpointId, String after, String below, Instant since, Instant until,
                            Filter f, int limit, Duration gap, String actor, String reason, Instant now) throws SQLException {
        String sql = """
                WITH %s,
                cand AS MATERIALIZED (
                    SELECT d.id, s.expunged FROM scan s JOIN delivery d ON d.msg_id = s.id AND d.endpoint_id = ?
                     WHERE s.created_at >= ? AND s.created_at < ? AND d.state = ANY (?::text[])
                       AND (?::text[] IS NULL OR s.event_type = ANY (?::text[]))
                       AND (?::text IS NULL OR ? = ANY (s.channels))
                       AND (?::int IS NULL OR coalesce((SELECT a.response_status FROM attempt a WHERE a.delivery_id = d.id
                                                         ORDER BY a.attempt_no DESC, a.id DESC LIMIT 1), 0) / 100 * 100 = ?)),
                sel AS MATERIALIZED (
                    SELECT d.id FROM delivery d JOIN cand ON cand.id = d.id JOIN message m ON m.id = d.msg_id AND m.part_at = d.part_at
                      JOIN endpoint e ON e.id = d.endpoint_id
                     WHERE NOT cand.expunged AND m.payload IS NOT NULL AND d.state = ANY (?::text[]) AND e.deleted_at IS NULL
                     ORDER BY d.id FOR UPDATE OF d FOR SHARE OF m),
                ranked AS (SELECT id, row_number() OVER (ORDER BY id) - 1 AS k FROM sel),
                %s,
                %s
                SELECT (SELECT count(*) FROM scan) AS scanned, (SELECT max(id) FROM scan) AS last,
                       (SELECT count(*) FROM upd WHERE state = 'pending') AS sent,
                       (SELECT count(*) FROM upd WHERE state = 'held') AS held,
                       (SELECT count(*) FROM cand WHERE expunged) AS expunged""".formatted(SCAN, START, REPLAY);
        String[] states = f.states().toArray(String[]::new);
        String[] types = f.eventTypes() == null ? null : f.eventTypes().toArray(String[]::new);
        List<Object> p = scan(appId, after, below, limit);
        p.addAll(List.of(endpointId, since, until, states));
        p.addAll(Arrays.asList(types, types, f.channel(), f.channel(), f.statusCodeClass(), f.statusCodeClass(), states));
        start(p, endpointId, gap, now);
        replay(p, gap, actor, reason, now);
        return batch(c, sql, p);
    }

    private static List<Object> scan(String appId, String after, String below, int limit) {
        return new ArrayList<>(Arrays.asList(appId, after, below, below, limit));
    }

    private static void start(List<Object> p, String endpointId, Duration gap, Instant now) {
        p.addAll(List.of(now, endpointId, interval(gap)));
    }

    private static void replay(List<Object> p, Duration gap, String actor, String reason, Instant now) {
        p.addAll(List.of(interval(gap), now, actor, reason, now));
    }

    static String interval(Duration gap) {
        return gap.toNanos() / 1000 + " microseconds";
    }

    private static Batch batch(Connection c, String sql, List<Object> params) throws SQLException {
        return Jdbc.queryOne(c, sql, rs -> new Batch(rs.getInt("scanned"), rs.getString("last"), rs.getLong("sent"),
                rs.getLong("held"), rs.getLong("expunged")), params.toArray()).orElseThrow();
    }
}
