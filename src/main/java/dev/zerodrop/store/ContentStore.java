package dev.zerodrop.store;

import java.sql.Connection;
import java.sql.SQLException;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Expunging message content. An expunged message keeps its row (and its deliveries, for the audit)
 * but loses its payload, and is never sent again: in the transaction of the expunge, its deliveries
 * that are waiting (pending, or held by a disabled endpoint) become {@code discarded} with the
 * reason {@value #REASON}. A delivery in flight is refused by the dispatcher, which finds no payload.
 *
 * <p>The payloads are cleared by one statement and the deliveries discarded by the next. Resend and
 * replays share-lock the messages they schedule, so the first statement waits for them, and the
 * second, which sees what they committed, discards what they scheduled.
 */
public final class ContentStore {
    public static final String REASON = "content expunged";
    /** Why a delivery whose message's payload outlived its retention is discarded. */
    public static final String EXPIRED = "content expired";

    /** What one batch of an expunge-all did: messages looked at, the last id, payloads removed, deliveries discarded. */
    public record Purged(int scanned, String last, long purged, long discarded) {}

    private final Jdbc jdbc;

    public ContentStore(Jdbc jdbc) {
        this.jdbc = jdbc;
    }

    /**
     * Expunges the messages named by id or eventId in one transaction. Returns, for each name in
     * order, whether it named a message of the application (expunged now or before) or not.
     */
    public Map<String, Boolean> expunge(String appId, List<String> refs, String actor, Instant now) {
        return jdbc.tx(c -> {
            Map<String, String> found = new LinkedHashMap<>();
            Jdbc.query(c, """
                    SELECT r.ref, m.id FROM unnest(?::text[]) AS r(ref)
                      JOIN LATERAL (SELECT id FROM message WHERE app_id = ? AND (id = r.ref OR event_id = r.ref)
                                     ORDER BY (id = r.ref) DESC LIMIT 1) m ON true""",
                    rs -> found.put(rs.getString("ref"), rs.getString("id")), refs.toArray(String[]::new), appId);
            String[] ids = found.values().stream().distinct().toArray(String[]::new);
            List<String> cleared = Jdbc.query(c, """
                    UPDATE message SET payload = NULL WHERE app_id = ? AND id = ANY (?::text[]) AND payload IS NOT NULL RETURNING id""",
                    rs -> rs.getString(1), appId, ids);
            discardWaiting(c, cleared, actor, REASON, now);
            Map<String, Boolean> out = new LinkedHashMap<>();
            for (String ref : refs) out.put(ref, found.containsKey(ref));
            return out;
        });
    }

    /**
     * One batch of expunge-all-contents, inside the task's transaction: of the next {@code limit}
     * messages of the application after {@code after}, those created at or before
     * {@code createdBy} lose their content.
     */
    public Purged purge(Connection c, String appId, String after, Instant createdBy, int limit, String actor, Instant now)
            throws SQLException {
        List<String> scanned = Jdbc.query(c, "SELECT id FROM message WHERE app_id = ? AND id > ? ORDER BY id LIMIT ?",
                rs -> rs.getString(1), appId, after, limit);
        if (scanned.isEmpty()) return new Purged(0, null, 0, 0);
        List<String> cleared = Jdbc.query(c, """
                UPDATE message SET payload = NULL
                 WHERE app_id = ? AND id = ANY (?::text[]) AND payload IS NOT NULL AND created_at <= ? RETURNING id""",
                rs -> rs.getString(1), appId, scanned.toArray(String[]::new), createdBy);
        long discarded = discardWaiting(c, cleared, actor, REASON, now);
        return new Purged(scanned.size(), scanned.getLast(), cleared.size(), discarded);
    }

    /**
     * Discards the waiting deliveries of messages just expunged, each with a 'discard' action, and
     * removes the payload from the idempotent responses that created them. Returns how many were discarded.
     */
    private static long discardWaiting(Connection c, List<String> msgIds, String actor, String reason, Instant now) throws SQLException {
        if (msgIds.isEmpty()) return 0;
        IdempotencyStore.forgetPayloads(c, msgIds);
        return Jdbc.queryOne(c, """
                WITH d AS (
                    UPDATE delivery SET state = 'discarded', reason = ?, next_attempt_at = NULL, state_changed_at = ?, updated_at = ?
                     WHERE msg_id = ANY (?::text[]) AND state IN ('pending', 'held')
                    RETURNING id),
                act AS (
                    INSERT INTO delivery_action (delivery_id, action, actor, reason, created_at)
                    SELECT id, 'discard', ?, ?, ? FROM d)
                SELECT count(*) FROM d""",
                rs -> rs.getLong(1), reason, now, now, msgIds.toArray(String[]::new), actor, reason, now).orElse(0L);
    }

    /**
     * Removes, in one batch of at most {@code limit}, the payloads whose own retention (shorter than
     * the history's) ended before {@code now}; their waiting deliveries are discarded with the reason
     * {@value #EXPIRED}, as an expunge does. Returns how many payloads went.
     */
    public int expirePayloads(Instant now, int limit) {
        return jdbc.tx(c -> {
            List<String> cleared = Jdbc.query(c, """
                    WITH due AS (SELECT id, part_at FROM message WHERE payload IS NOT NULL AND payload_expires_at < ?
                                  ORDER BY payload_expires_at LIMIT ? FOR UPDATE SKIP LOCKED)
                    UPDATE message m SET payload = NULL FROM due WHERE m.id = due.id AND m.part_at = due.part_at RETURNING m.id""",
                    rs -> rs.getString(1), now, limit);
            discardWaiting(c, cleared, "retention", EXPIRED, now);
            return cleared.size();
        });
    }
}
