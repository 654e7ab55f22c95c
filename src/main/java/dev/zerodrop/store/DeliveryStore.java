package dev.zerodrop.store;

import dev.zerodrop.core.AttemptStatus;
import dev.zerodrop.core.DeliveryState;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The dispatcher's view of the delivery table: batched claims, fenced batched completions, and the
 * lease rescuer. No method here holds a transaction open across anything but SQL.
 */
public final class DeliveryStore {

    /**
     * A delivery leased to this node, with everything needed to send it. {@code payload} is null when
     * the message's content was expunged: it must not be sent. {@code lostLeases} counts the
     * lost-lease attempts in a row just before this claim. {@code partAt} is the delivery's partition key (its message's acceptance time):
     * outcomes carry it so that their writes touch one partition. {@code sealProblem} is null, or why the
     * endpoint's secrets do not open on this node (they are sealed with a key it does not have): then
     * {@code secret} is null and the delivery must not be sent.
     */
    public record Claimed(long id, Instant partAt, long leaseToken, int attempts, int budgetBase, int lostLeases, boolean manual, Instant dueAt,
                          String msgId, String appId, String endpointId, String eventType, Instant msgCreatedAt,
                          byte[] payload, String url, Map<String, String> headers,
                          String secret, List<EndpointStore.OldSecret> oldSecrets, Integer throttleRate, String sealProblem) {

        public Claimed(long id, Instant partAt, long leaseToken, int attempts, int budgetBase, int lostLeases, boolean manual, Instant dueAt,
                       String msgId, String appId, String endpointId, String eventType, Instant msgCreatedAt,
                       byte[] payload, String url, Map<String, String> headers,
                       String secret, List<EndpointStore.OldSecret> oldSecrets, Integer throttleRate) {
            this(id, partAt, leaseToken, attempts, budgetBase, lostLeases, manual, dueAt, msgId, appId, endpointId, eventType, msgCreatedAt,
                    payload, url, headers, secret, oldSecrets, throttleRate, null);
        }

        /** A claimed delivery with its endpoint's secrets opened (or the reason they do not open). */
        static Claimed of(long id, Instant partAt, long leaseToken, int attempts, int budgetBase, int lostLeases, boolean manual, Instant dueAt,
                          String msgId, String appId, String endpointId, String eventType, Instant msgCreatedAt,
                          byte[] payload, String url, EndpointSecrets secrets, String secret, String headers, String oldSecrets,
                          Integer throttleRate) {
            EndpointSecrets.Opened o;
            String problem = null;
            try {
                o = secrets.open(endpointId, secret, headers, oldSecrets);
            } catch (dev.zerodrop.secret.Sealer.SealedException e) {
                o = EndpointSecrets.Opened.NONE;
                problem = e.getMessage();
            }
            return new Claimed(id, partAt, leaseToken, attempts, budgetBase, lostLeases, manual, dueAt, msgId, appId, endpointId, eventType,
                    msgCreatedAt, payload, url, o.headers(), o.secret(), o.oldSecrets(), throttleRate, problem);
        }

        public List<String> signingSecrets(Instant now) {
            return EndpointSecrets.signingSecrets(secret, oldSecrets, now);
        }

        @Override
        public String toString() {
            return "Claimed[id=" + id + ", leaseToken=" + leaseToken + ", msgId=" + msgId + ", endpointId=" + endpointId + "]"; // never the secrets
        }
    }

    /**
     * The recorded outcome of one attempt, or of a refusal to attempt. {@code newState} is pending
     * (retry at {@code nextAttemptAt}), delivered, dead, held or discarded. The write only takes
     * effect while {@code leaseToken} is still current. {@code attempt} is null when nothing was
     * attempted (the delivery was refused: its attempt count stays). {@code refundBudget}: the attempt
     * does not use up the retry budget. {@code lostLeases}: the delivery's lost leases in a row after
     * this outcome. {@code reason}: why it ended (dead by lost leases, discarded), or null.
     */
    public record Completion(long deliveryId, Instant partAt, long leaseToken, DeliveryState newState, Instant nextAttemptAt,
                             boolean disableEndpoint, Attempt attempt, boolean refundBudget, int lostLeases, String reason,
                             Sli sli) {}

    /**
     * The service level indicator events of one outcome: the first attempt's dispatch latency (ms, or
     * -1 when this is not a scheduled first attempt), and, when the delivery ended, its latency from
     * acceptance to success (ms) or -1 when it went dead. {@code ended} false: no delivery event.
     */
    public record Sli(long dispatchMs, boolean ended, long deliveredMs) {}

    /** A delivery whose lease expired: the rescuer turns it into a {@code lost-lease} attempt. */
    public record Expired(long id, Instant partAt, long leaseToken, int attempts, int budgetBase, int lostLeases, boolean manual,
                          String msgId, String endpointId, String appId, String url) {}


    static final String CLAIM = """
            WITH head AS MATERIALIZED (
                SELECT id, part_at FROM delivery
                 WHERE state = 'pending' AND next_attempt_at <= ?
                 ORDER BY next_attempt_at
                 LIMIT ? FOR UPDATE SKIP LOCKED),
            tail AS MATERIALIZED (
                SELECT id, part_at FROM delivery
                 WHERE state = 'pending' AND next_attempt_at <= ? AND id NOT IN (SELECT id FROM head)
                 ORDER BY next_attempt_at DESC
                 LIMIT ? FOR UPDATE SKIP LOCKED),
            due AS (SELECT id, part_at FROM head UNION ALL SELECT id, part_at FROM tail),
            c AS (
                UPDATE delivery d
                   SET state = 'sending', lease_token = d.lease_token + 1, lease_expires_at = ?, updated_at = ?
                  FROM due WHERE d.id = due.id AND d.part_at = due.part_at
                RETURNING d.id, d.part_at, d.msg_id, d.endpoint_id, d.app_id, d.attempts, d.budget_base, d.lost_leases, d.manual, d.lease_token,
                          d.next_attempt_at)
            SELECT c.id, c.part_at, c.msg_id, c.endpoint_id, c.app_id, c.attempts, c.budget_base, c.lost_leases, c.manual, c.lease_token,
                   c.next_attempt_at,
                   m.payload, m.created_at AS msg_created_at, m.event_type,
                   e.url, e.headers::text AS headers, e.secret, e.old_secrets::text AS old_secrets, e.throttle_rate
              FROM c JOIN message m ON m.id = c.msg_id AND m.part_at = c.part_at JOIN endpoint e ON e.id = c.endpoint_id""";

    /**
     * The fenced outcome write: only a row still leased with this token changes. The fence is in the
     * UPDATE's own WHERE, so a row changed concurrently (a rescue, a delete) is re-checked against it
     * before it is written. Every outcome is one primary-key lookup, in the one partition its
     * {@code part_at} names (run-time pruning), with the plan settings of keyLookups. The state it
     * must still be in ('sending') comes with each row ({@code v.leased}) rather than as a constant:
     * statistics taken while nothing was in flight call a constant filter empty, and a scan of every
     * partition then looks free.
     */
    static final String COMPLETE = """
            UPDATE delivery d
               SET state = CASE WHEN v.state = 'pending' AND e.disabled THEN 'held' ELSE v.state END,
                   next_attempt_at = CASE WHEN v.state = 'pending' AND NOT e.disabled THEN v.next ELSE NULL END,
                   attempts = coalesce(v.attempt_no, d.attempts), budget_base = d.budget_base + v.refund, manual = false,
                   lost_leases = v.lost_leases, reason = v.reason, lease_expires_at = NULL, updated_at = ?,
                   state_changed_at = CASE WHEN v.state IN ('dead', 'discarded') THEN ?::timestamptz ELSE d.state_changed_at END
              FROM unnest(?::bigint[], ?::bigint[], ?::text[], ?::timestamptz[], ?::int[], ?::int[], ?::int[], ?::text[], ?::timestamptz[],
                          ?::text[])
                   AS v(id, token, state, next, attempt_no, refund, lost_leases, reason, part_at, leased),
                   endpoint e
             WHERE d.id = v.id AND d.part_at = v.part_at AND d.lease_token = v.token AND d.state = v.leased AND e.id = d.endpoint_id
            RETURNING d.id, d.lease_token""";

    private final Jdbc jdbc;
    private final EndpointSecrets secrets;

    public DeliveryStore(Jdbc jdbc, EndpointSecrets secrets) {
        this.jdbc = jdbc;
        this.secrets = secrets;
    }

    /**
     * Leases up to {@code limit} due deliveries to the caller, each with a fresh fencing token. Half
     * come from the oldest due, half from the newest: a backlog drains from its head while fresh
     * messages to other endpoints do not wait behind it. The locked selections are materialised
     * once, so the update never touches more than {@code limit} rows.
     */
    public List<Claimed> claim(Instant now, int limit, Duration lease) {
        int head = (limit + 1) / 2;
        // A claim is a durable commit like any other: if a crash could undo it, the next claim would
        // hand out the same fencing token again, and a stale worker could pass the fence.
        return jdbc.tx(c -> {
            keyLookups(c);
            return Jdbc.query(c, CLAIM, this::mapClaimed, now, head, now, limit - head, now.plus(lease), now);
        });
    }

    /**
     * The hot statements find each of their rows by key, in its own partition: a nested loop of
     * index lookups. A scan of the whole table or partition (sequential, or an index read end to end
     * into a hash or merge join) can look cheaper to the planner, above all with statistics taken
     * while few deliveries were in flight; never let it (this transaction only). Seen under a
     * backlog: the completion scanned every leased row once per outcome.
     */
    static void keyLookups(Connection c) throws SQLException {
        Jdbc.update(c, "SET LOCAL enable_seqscan = off");
        Jdbc.update(c, "SET LOCAL enable_hashjoin = off");
        Jdbc.update(c, "SET LOCAL enable_mergejoin = off");
    }

    /**
     * Records a batch of outcomes in one transaction: the state changes, fenced by lease token, and an
     * attempt row for each one that won. Returns the ids whose lease had been lost: their late outcome
     * changed nothing (it is superseded).
     */
    public Set<Completion> complete(List<Completion> completions, Instant now) {
        if (completions.isEmpty()) return Set.of();
        Set<Completion> superseded = jdbc.tx(c -> completeIn(c, completions, now));
        for (Completion x : completions) {
            if (x.sli() != null && x.attempt() != null && !superseded.contains(x)) pendingSli.add(x); // committed: count it
        }
        return superseded;
    }

    /**
     * Returns the completions that lost their fence. Winners are matched by delivery AND token: one
     * batch can hold a stale outcome and the current one of the same delivery (a node that re-claimed
     * a delivery whose lease it had lost), and only the current one may be recorded.
     */
    private Set<Completion> completeIn(Connection c, List<Completion> completions, Instant now) throws SQLException {
        keyLookups(c);
        Set<String> won = new HashSet<>(); // "deliveryId:leaseToken" of every row the fence let through
        fence(c, completions, now, won);
        List<Attempt> rows = new ArrayList<>(won.size());
        Set<Completion> superseded = new HashSet<>();
        for (Completion x : completions) {
            if (!won.contains(x.deliveryId() + ":" + x.leaseToken())) superseded.add(x);
            else if (x.attempt() != null) rows.add(x.attempt());
        }
        insertAttempts(c, rows);
        trackHealth(c, rows, now);

        // Only an outcome that won its fence may disable an endpoint (410 Gone): a stale one changes nothing.
        for (Completion x : completions) {
            if (x.disableEndpoint() && !superseded.contains(x)) {
                EndpointStore.disableIn(c, x.attempt().endpointId(), "the endpoint answered 410 Gone", now);
            }
        }
        return superseded;
    }

    /** {@code n} times 'sending': the state a fenced write expects, one per row (see COMPLETE). */
    private static String[] leased(int n) {
        String[] s = new String[n];
        java.util.Arrays.fill(s, DeliveryState.SENDING.label());
        return s;
    }

    /** The fenced write of the completions; adds the winners to {@code won}. */
    private static void fence(Connection c, List<Completion> completions, Instant now, Set<String> won)
            throws SQLException {
        int size = completions.size();
        Long[] ids = new Long[size];
        Long[] tokens = new Long[size];
        String[] states = new String[size];
        java.sql.Timestamp[] next = new java.sql.Timestamp[size];
        Integer[] attemptNos = new Integer[size];
        Integer[] refunds = new Integer[size];
        Integer[] lostLeases = new Integer[size];
        String[] reasons = new String[size];
        java.sql.Timestamp[] parts = new java.sql.Timestamp[size];
        for (int i = 0; i < size; i++) {
            Completion x = completions.get(i);
            ids[i] = x.deliveryId();
            parts[i] = java.sql.Timestamp.from(x.partAt());
            tokens[i] = x.leaseToken();
            states[i] = x.newState().label();
            next[i] = x.nextAttemptAt() == null ? null : java.sql.Timestamp.from(x.nextAttemptAt());
            attemptNos[i] = x.attempt() == null ? null : x.attempt().attemptNo();
            refunds[i] = x.refundBudget() ? 1 : 0;
            lostLeases[i] = x.lostLeases();
            reasons[i] = x.reason();
        }
        try (PreparedStatement ps = c.prepareStatement(COMPLETE)) {
            ps.setObject(1, java.time.OffsetDateTime.ofInstant(now, java.time.ZoneOffset.UTC));
            ps.setObject(2, java.time.OffsetDateTime.ofInstant(now, java.time.ZoneOffset.UTC)); // state_changed_at
            ps.setArray(3, c.createArrayOf("bigint", ids));
            ps.setArray(4, c.createArrayOf("bigint", tokens));
            ps.setArray(5, c.createArrayOf("text", states));
            ps.setArray(6, c.createArrayOf("timestamptz", next));
            ps.setArray(7, c.createArrayOf("integer", attemptNos));
            ps.setArray(8, c.createArrayOf("integer", refunds));
            ps.setArray(9, c.createArrayOf("integer", lostLeases));
            ps.setArray(10, c.createArrayOf("text", reasons));
            ps.setArray(11, c.createArrayOf("timestamptz", parts));
            ps.setArray(12, c.createArrayOf("text", leased(size)));
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) won.add(rs.getLong(1) + ":" + rs.getLong(2));
            }
        }
    }

    /** Error classes that say nothing about the endpoint's health: a crash or a bug of ZeroDrop's own. */
    private static final Set<String> NOT_ABOUT_THE_ENDPOINT = Set.of("lost-lease", "internal", "refused");

    private static final long[] BOUNDS_MS = {1_000, 5_000, 30_000, 60_000, 300_000, 3_600_000};

    /**
     * Indicator events of recorded outcomes, waiting to be added to the per-minute counts. They are
     * written by {@link #flushSli()} in a transaction of their own, every few seconds: the counter
     * rows are shared by every node, and a node stalled while holding one must never hold up the
     * outcomes of the others. A crash loses at most the events not flushed yet (statistics only).
     */
    private final java.util.concurrent.ConcurrentLinkedQueue<Completion> pendingSli = new java.util.concurrent.ConcurrentLinkedQueue<>();

    /** Writes the waiting indicator events; returns how many outcomes they came from. */
    public int flushSli() {
        List<Completion> drained = new ArrayList<>();
        for (Completion x; (x = pendingSli.poll()) != null; ) drained.add(x);
        if (drained.isEmpty()) return 0;
        try {
            jdbc.tx(c -> {
                recordSli(c, drained);
                return null;
            });
        } catch (RuntimeException e) {
            pendingSli.addAll(drained); // kept for the next flush
            throw e;
        }
        return drained.size();
    }

    private static void recordSli(Connection c, List<Completion> completions) throws SQLException {
        // Sorted, so that concurrent flushes lock the counter rows in the same order and never deadlock.
        Map<String, long[]> sums = new java.util.TreeMap<>();
        for (Completion x : completions) {
            Sli sli = x.sli();
            Attempt a = x.attempt();
            String minute = a.createdAt().truncatedTo(java.time.temporal.ChronoUnit.MINUTES).toString();
            if (sli.dispatchMs() >= 0) add(sums, a.appId() + "\t" + a.endpointId() + "\tdispatch_latency\t" + minute, sli.dispatchMs());
            if (sli.ended()) add(sums, a.appId() + "\t" + a.endpointId() + "\tdelivery_success\t" + minute, sli.deliveredMs());
        }
        if (sums.isEmpty()) return;
        int n = sums.size();
        String[] apps = new String[n], eps = new String[n], inds = new String[n];
        java.sql.Timestamp[] minutes = new java.sql.Timestamp[n];
        Long[][] cols = new Long[7][n];
        int i = 0;
        for (var e : sums.entrySet()) {
            String[] k = e.getKey().split("\t");
            apps[i] = k[0];
            eps[i] = k[1];
            inds[i] = k[2];
            minutes[i] = java.sql.Timestamp.from(Instant.parse(k[3]));
            for (int j = 0; j < 7; j++) cols[j][i] = e.getValue()[j];
            i++;
        }
        Jdbc.update(c, """
                INSERT INTO sli_minute (app_id, endpoint_id, indicator, minute, total, le_1s, le_5s, le_30s, le_60s, le_300s, le_3600s)
                SELECT * FROM unnest(?::text[], ?::text[], ?::text[], ?::timestamptz[], ?::bigint[], ?::bigint[], ?::bigint[],
                                     ?::bigint[], ?::bigint[], ?::bigint[], ?::bigint[])
                ON CONFLICT (app_id, indicator, minute, endpoint_id) DO UPDATE SET
                       total = sli_minute.total + EXCLUDED.total, le_1s = sli_minute.le_1s + EXCLUDED.le_1s,
                       le_5s = sli_minute.le_5s + EXCLUDED.le_5s, le_30s = sli_minute.le_30s + EXCLUDED.le_30s,
                       le_60s = sli_minute.le_60s + EXCLUDED.le_60s, le_300s = sli_minute.le_300s + EXCLUDED.le_300s,
                       le_3600s = sli_minute.le_3600s + EXCLUDED.le_3600s""",
                apps, eps, inds, minutes, cols[0], cols[1], cols[2], cols[3], cols[4], cols[5], cols[6]);
    }

    /** One event of latency {@code ms} (negative: failed, meets no bound) into [total, le_1s .. le_3600s]. */
    private static void add(Map<String, long[]> sums, String key, long ms) {
        long[] s = sums.computeIfAbsent(key, k -> new long[7]);
        s[0]++;
        for (int j = 0; j < BOUNDS_MS.length; j++) if (ms >= 0 && ms <= BOUNDS_MS[j]) s[j + 1]++;
    }

    /**
     * Keeps each endpoint's {@code failing_since}: set by its first failure after a success, cleared
     * by any success. Written only when it changes, so a healthy endpoint's row is not rewritten.
     */
    private static void trackHealth(Connection c, List<Attempt> rows, Instant now) throws SQLException {
        if (rows.isEmpty()) return;
        Map<String, Boolean> anySuccess = new java.util.TreeMap<>(); // sorted: a stable lock order across nodes
        Map<String, Instant> firstFailure = new java.util.HashMap<>();
        for (Attempt a : rows) {
            if (a.errorClass() != null && NOT_ABOUT_THE_ENDPOINT.contains(a.errorClass())) continue;
            boolean ok = a.status() == AttemptStatus.SUCCESS;
            anySuccess.merge(a.endpointId(), ok, Boolean::logicalOr);
            if (!ok) firstFailure.merge(a.endpointId(), a.createdAt(), (x, y) -> x.isBefore(y) ? x : y);
        }
        if (anySuccess.isEmpty()) return;
        String[] ids = anySuccess.keySet().toArray(String[]::new);
        Boolean[] ok = new Boolean[ids.length];
        java.sql.Timestamp[] since = new java.sql.Timestamp[ids.length];
        for (int i = 0; i < ids.length; i++) {
            ok[i] = anySuccess.get(ids[i]);
            Instant f = firstFailure.get(ids[i]);
            since[i] = f == null ? null : java.sql.Timestamp.from(f);
        }
        try (PreparedStatement ps = c.prepareStatement("""
                UPDATE endpoint e SET failing_since = CASE WHEN v.ok THEN NULL ELSE v.since END
                  FROM unnest(?::text[], ?::boolean[], ?::timestamptz[]) AS v(id, ok, since)
                 WHERE e.id = v.id AND ((v.ok AND e.failing_since IS NOT NULL) OR (NOT v.ok AND e.failing_since IS NULL))""")) {
            ps.setArray(1, c.createArrayOf("text", ids));
            ps.setArray(2, c.createArrayOf("boolean", ok));
            ps.setArray(3, c.createArrayOf("timestamptz", since));
            ps.executeUpdate();
        }
    }

    static void insertAttempts(Connection c, List<Attempt> rows) throws SQLException {
        if (rows.isEmpty()) return;
        try (PreparedStatement ps = c.prepareStatement("""
                INSERT INTO attempt (id, delivery_id, msg_id, endpoint_id, app_id, attempt_no, trigger_type, status, error_class,
                                     response_status, response, duration_ms, url, created_at)
                VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)""")) {
            for (Attempt a : rows) {
                Jdbc.bind(ps, a.id(), a.deliveryId(), a.msgId(), a.endpointId(), a.appId(), a.attemptNo(), (short) a.trigger().code(),
                        (short) a.status().code(), a.errorClass(), a.responseStatus(), a.response(), a.durationMs(), a.url(), a.createdAt());
                ps.addBatch();
            }
            ps.executeBatch();
        }
    }

    /**
     * Finds leases that expired before {@code now} and hands them to {@code decide}, which turns each
     * into a completion (a {@code lost-lease} attempt and the next state). All in one transaction
     * holding the row locks, so a concurrent late completion cannot interleave.
     */
    public int rescue(Instant now, int limit, java.util.function.Function<Expired, Completion> decide) {
        return jdbc.tx(c -> {
            List<Expired> expired = Jdbc.query(c, """
                    SELECT d.id, d.part_at, d.lease_token, d.attempts, d.budget_base, d.lost_leases, d.manual, d.msg_id, d.endpoint_id,
                           d.app_id, e.url
                      FROM delivery d JOIN endpoint e ON e.id = d.endpoint_id
                     WHERE d.state = 'sending' AND d.lease_expires_at < ?
                     ORDER BY d.lease_expires_at
                     LIMIT ? FOR UPDATE OF d SKIP LOCKED""",
                    rs -> new Expired(rs.getLong("id"), Jdbc.instant(rs, "part_at"), rs.getLong("lease_token"), rs.getInt("attempts"), rs.getInt("budget_base"),
                            rs.getInt("lost_leases"), rs.getBoolean("manual"), rs.getString("msg_id"), rs.getString("endpoint_id"), rs.getString("app_id"),
                            rs.getString("url")),
                    now, limit);
            if (expired.isEmpty()) return 0;
            completeIn(c, expired.stream().map(decide).toList(), now);
            return expired.size();
        });
    }

    /**
     * Returns deliveries this node claimed but will not send (shutdown, or a per-endpoint limit) to
     * pending, due at {@code dueAt} (null: keep each one's due time, and so its place in the queue),
     * without counting an attempt. Fenced like a completion.
     */
    public void release(List<Claimed> claims, Instant dueAt, Instant now) {
        if (claims.isEmpty()) return;
        jdbc.tx(c -> {
            keyLookups(c); // as in completeIn: one primary-key lookup per delivery, in its partition
            releaseIn(c, claims, dueAt, now);
            return null;
        });
    }

    private static void releaseIn(Connection c, List<Claimed> claims, Instant dueAt, Instant now) throws SQLException {
        Long[] ids = claims.stream().map(Claimed::id).toArray(Long[]::new);
        Long[] tokens = claims.stream().map(Claimed::leaseToken).toArray(Long[]::new);
        java.sql.Timestamp[] parts = claims.stream().map(x -> java.sql.Timestamp.from(x.partAt())).toArray(java.sql.Timestamp[]::new);
        {
            Jdbc.update(c, """
                    UPDATE delivery d SET state = CASE WHEN e.disabled THEN 'held' ELSE 'pending' END,
                           next_attempt_at = CASE WHEN e.disabled THEN NULL ELSE coalesce(?::timestamptz, d.next_attempt_at) END,
                           lease_expires_at = NULL, updated_at = ?
                      FROM unnest(?::bigint[], ?::bigint[], ?::timestamptz[], ?::text[]) AS v(id, token, part_at, leased), endpoint e
                     WHERE d.id = v.id AND d.part_at = v.part_at AND d.lease_token = v.token AND d.state = v.leased
                       AND e.id = d.endpoint_id""",
                    dueAt, now, ids, tokens, parts, leased(claims.size()));
        }
    }

    /** The outcome of a resend. */
    public enum Resend { SCHEDULED, ENDPOINT_DISABLED, CONTENT_EXPUNGED }

    /**
     * Schedules one manual attempt of a message to an endpoint, creating the delivery if the endpoint
     * never had one. The retry budget restarts. A delivery already in flight is left alone. Refused
     * when the endpoint is disabled, or when the message's content was expunged: the message row is
     * share-locked, so an expunge running at the same time waits and then discards what this scheduled.
     */
    public Resend resend(String appId, String msgId, String endpointId, Instant now) {
        return jdbc.tx(c -> {
            var msg = Jdbc.queryOne(c, "SELECT part_at FROM message WHERE id = ? AND app_id = ? AND payload IS NOT NULL FOR SHARE",
                    rs -> Jdbc.instant(rs, "part_at"), msgId, appId);
            if (msg.isEmpty()) return Resend.CONTENT_EXPUNGED;
            // A delivery lives in its message's partition: the same part_at.
            int n = Jdbc.update(c, """
                    INSERT INTO delivery (msg_id, endpoint_id, app_id, state, manual, next_attempt_at, created_at, updated_at, part_at)
                    SELECT ?, e.id, ?, 'pending', true, ?, ?, ?, ? FROM endpoint e WHERE e.id = ? AND NOT e.disabled
                    ON CONFLICT (msg_id, endpoint_id, part_at) DO UPDATE
                       SET state = 'pending', manual = true, budget_base = delivery.attempts, lost_leases = 0, next_attempt_at = EXCLUDED.next_attempt_at,
                           reason = NULL, updated_at = EXCLUDED.updated_at
                     WHERE delivery.state IN ('delivered', 'dead', 'pending', 'discarded')""",
                    msgId, appId, now, now, now, msg.get(), endpointId);
            if (n > 0) return Resend.SCHEDULED;
            // Nothing changed: either the delivery is in flight already (fine), or the endpoint is disabled.
            boolean disabled = Jdbc.queryOne(c, "SELECT disabled FROM endpoint WHERE id = ?", rs -> rs.getBoolean(1), endpointId).orElse(true);
            return disabled ? Resend.ENDPOINT_DISABLED : Resend.SCHEDULED;
        });
    }

    private Claimed mapClaimed(ResultSet rs) throws SQLException {
        return Claimed.of(rs.getLong("id"), Jdbc.instant(rs, "part_at"), rs.getLong("lease_token"), rs.getInt("attempts"), rs.getInt("budget_base"),
                rs.getInt("lost_leases"), rs.getBoolean("manual"), Jdbc.instant(rs, "next_attempt_at"), rs.getString("msg_id"),
                rs.getString("app_id"), rs.getString("endpoint_id"), rs.getString("event_type"), Jdbc.instant(rs, "msg_created_at"),
                rs.getBytes("payload"), rs.getString("url"), secrets, rs.getString("secret"), rs.getString("headers"),
                rs.getString("old_secrets"), (Integer) rs.getObject("throttle_rate"));
    }
}
