package dev.zerodrop.store;

import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;

/**
 * Idempotency-Key records, shared by every node through the database. A key is claimed before the
 * request runs and completed with its response; a repeat gets the first response again.
 */
public final class IdempotencyStore {
    /** What to do with a request that carries a key. */
    public sealed interface Begin {
        /** First time: run the request, then complete the key. */
        record Proceed() implements Begin {}

        /** Seen and finished: answer with the stored response. */
        record Replay(int status, byte[] body) implements Begin {}

        /** Seen and still running elsewhere. */
        record InProgress() implements Begin {}

        /** Same key, different request. */
        record Mismatch(String firstFingerprint) implements Begin {}
    }

    /** Keys are remembered this long, like Svix. */
    public static final Duration RETENTION = Duration.ofHours(24);
    /** An in-progress key older than this belongs to a request that died; it may be taken over. */
    static final Duration ABANDONED = Duration.ofSeconds(60);

    private final Jdbc jdbc;

    public IdempotencyStore(Jdbc jdbc) {
        this.jdbc = jdbc;
    }

    public Begin begin(String scope, String key, String fingerprint, Instant now) {
        return jdbc.tx(c -> {
            int inserted = Jdbc.update(c, """
                    INSERT INTO idempotency_key (scope, key, fingerprint, created_at) VALUES (?,?,?,?)
                    ON CONFLICT (scope, key) DO UPDATE
                       SET fingerprint = EXCLUDED.fingerprint, created_at = EXCLUDED.created_at, status = NULL, body = NULL
                     WHERE (idempotency_key.status IS NULL AND idempotency_key.created_at < ?)
                        OR idempotency_key.created_at < ?""",
                    scope, key, fingerprint, now, now.minus(ABANDONED), now.minus(RETENTION));
            if (inserted > 0) return (Begin) new Begin.Proceed();
            var row = Jdbc.queryOne(c, "SELECT fingerprint, status, body FROM idempotency_key WHERE scope = ? AND key = ?",
                    rs -> new Object[] {rs.getString(1), rs.getObject(2), rs.getBytes(3)}, scope, key).orElseThrow();
            if (!fingerprint.equals(row[0])) return new Begin.Mismatch((String) row[0]);
            if (row[1] == null) return new Begin.InProgress();
            return new Begin.Replay((Integer) row[1], (byte[]) row[2]);
        });
    }

    public void complete(MessageStore.IdempotentResponse r) {
        jdbc.run(c -> {
            completeIn(c, r);
            return null;
        });
    }

    static void completeIn(Connection c, MessageStore.IdempotentResponse r) throws SQLException {
        Jdbc.update(c, "UPDATE idempotency_key SET status = ?, body = ?, msg_id = ? WHERE scope = ? AND key = ?", r.status(), r.body(),
                r.msgId(), r.scope(), r.key());
    }

    static void completeAllIn(Connection c, java.util.List<MessageStore.IdempotentResponse> rs) throws SQLException {
        if (rs.size() == 1) {
            completeIn(c, rs.getFirst());
            return;
        }
        Jdbc.update(c, """
                UPDATE idempotency_key k SET status = v.status, body = v.body, msg_id = v.msg_id
                  FROM unnest(?::text[], ?::text[], ?::int[], ?::bytea[], ?::text[]) AS v(scope, key, status, body, msg_id)
                 WHERE k.scope = v.scope AND k.key = v.key""",
                rs.stream().map(MessageStore.IdempotentResponse::scope).toArray(String[]::new),
                rs.stream().map(MessageStore.IdempotentResponse::key).toArray(String[]::new),
                rs.stream().map(MessageStore.IdempotentResponse::status).toArray(Integer[]::new),
                rs.stream().map(MessageStore.IdempotentResponse::body).toArray(byte[][]::new),
                rs.stream().map(MessageStore.IdempotentResponse::msgId).toArray(String[]::new));
    }

    /**
     * The stored responses that created these messages repeat their payload: it goes with the
     * content. A repeat of such a request still gets its response, with {@code "payload": {}}.
     */
    static void forgetPayloads(Connection c, java.util.List<String> msgIds) throws SQLException {
        if (msgIds.isEmpty()) return;
        Jdbc.update(c, """
                UPDATE idempotency_key SET body = convert_to(jsonb_set(convert_from(body, 'UTF8')::jsonb, '{payload}', '{}')::text, 'UTF8')
                 WHERE msg_id = ANY (?::text[]) AND body IS NOT NULL""", (Object) msgIds.toArray(String[]::new));
    }

    /** Forgets a key whose request failed, so that a retry can run it. */
    public void abandon(String scope, String key) {
        jdbc.update("DELETE FROM idempotency_key WHERE scope = ? AND key = ? AND status IS NULL", scope, key);
    }

    public int purge(Instant now) {
        return jdbc.update("DELETE FROM idempotency_key WHERE created_at < ?", now.minus(RETENTION));
    }
}
