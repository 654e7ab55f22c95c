package dev.zerodrop.store;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/** Messages, and their atomic fan-out into deliveries. */
public final class MessageStore {
    public record Message(String id, String appId, String eventType, String eventId, List<String> channels,
                          byte[] payload, Instant createdAt, List<String> tags) {}

    /**
     * A message to create. {@code payload} is the exact bytes that will be signed and sent.
     * {@code payloadRetentionHours} is how long the caller asked the payload to be kept (null: the
     * server's default, see {@link Retention}).
     */
    public record NewMessage(String id, String appId, String eventType, String eventId, List<String> channels,
                             byte[] payload, Instant createdAt, Instant deliverAt, List<String> tags,
                             Integer payloadRetentionHours) {
        public NewMessage(String id, String appId, String eventType, String eventId, List<String> channels,
                          byte[] payload, Instant createdAt, Instant deliverAt) {
            this(id, appId, eventType, eventId, channels, payload, createdAt, deliverAt, null, null);
        }

        /** When the first attempt is due: at once, or at the scheduled {@code deliverAt}. */
        Instant firstAttemptAt() {
            return deliverAt != null && deliverAt.isAfter(createdAt) ? deliverAt : createdAt;
        }
    }

    /** The idempotency record to complete in the same transaction as the message. */
    public record IdempotentResponse(String scope, String key, int status, byte[] body, String msgId) {
        public IdempotentResponse(String scope, String key, int status, byte[] body) {
            this(scope, key, status, body, null);
        }

        /** The same response, as the one that created message {@code id} (its stored payload goes when the content does). */
        IdempotentResponse forMessage(String id) {
            return new IdempotentResponse(scope, key, status, body, id);
        }
    }

    /** A delivery's state as the Svix API shows it, beside its message or endpoint. */
    public record DeliveryStatus(String state, Instant nextAttemptAt, Instant updatedAt) {}

    private static final String COLUMNS = "m.id, m.app_id, m.event_type, m.event_id, m.channels, m.payload, m.created_at, m.tags";

    /** The filters of the message listings. Null means no filter. */
    public record Filter(String channel, String tag, List<String> eventTypes, Instant before, Instant after) {}

    /**
     * How long history and payloads are kept. A message's payload goes with its partition, after
     * {@code history}, unless its own payload retention (asked for, or {@code payload} by default)
     * is shorter: then it goes at {@code payload_expires_at}.
     */
    public record Retention(java.time.Duration history, java.time.Duration payload) {
        public static final Retention DEFAULT = new Retention(java.time.Duration.ofDays(90), java.time.Duration.ofDays(90));

        /** When the payload of a message created at {@code created} goes before its partition does, or null. */
        Instant payloadExpiry(Instant created, Integer askedHours) {
            java.time.Duration keep = askedHours != null ? java.time.Duration.ofHours(askedHours) : payload;
            return keep.compareTo(history) < 0 ? created.plus(keep) : null;
        }
    }

    private final Jdbc jdbc;
    private final EndpointSecrets secrets;
    private final Retention retention;

    public MessageStore(Jdbc jdbc, EndpointSecrets secrets) {
        this(jdbc, secrets, Retention.DEFAULT);
    }

    public MessageStore(Jdbc jdbc, EndpointSecrets secrets, Retention retention) {
        this.jdbc = jdbc;
        this.secrets = secrets;
        this.retention = retention;
    }

    /**
     * The outcome of one message of a batch: created with so many deliveries ({@code leased} of them
     * leased to the caller at creation, see {@link #createAll(List, Instant)}), or a duplicate eventId.
     */
    public sealed interface Created {
        record Stored(int deliveries, int leased) implements Created {
            public Stored(int deliveries) {
                this(deliveries, 0);
            }
        }

        record Duplicate(String existingId) implements Created {}
    }

    /** A message to create, with the idempotency record to complete in the same commit (or null). */
    public record Submission(NewMessage message, IdempotentResponse idempotent) {}

    /**
     * Stores many messages and one delivery per matching endpoint of each in ONE transaction (fan-out
     * is atomic with its message), and completes their idempotency records in the same commit. A
     * handful of set-based statements, whatever the batch size: the group commit behind the ingest
     * API. A message whose
     * eventId is taken (in the database or earlier in the batch) is reported as a duplicate and
     * changes nothing; the others are stored.
     */
    public List<Created> createAll(List<Submission> batch) {
        return createAll(batch, null).created();
    }

    /** A batch's outcomes, and the deliveries leased to the caller at creation (in the batch's order). */
    public record Batch(List<Created> created, List<DeliveryStore.Claimed> leased) {}

    /**
     * As {@link #createAll(List)}; with {@code leaseUntil} set, every delivery that is due at once to
     * an enabled endpoint without a rate limit is created already leased to the caller (state
     * sending, fencing token 1, lease until then) and returned ready to send: the dispatcher of the
     * node that accepted the message sends it without claiming it first. The lease is as durable as
     * the message: if the caller dies before recording an outcome, the lease expires and the rescuer
     * retries the delivery, as it would after a claim. Callers hand the leased deliveries to the
     * dispatcher only after this method returns (the commit is done).
     */
    public Batch createAll(List<Submission> batch, Instant leaseUntil) {
        return jdbc.tx(c -> createAllIn(c, batch, leaseUntil));
    }

    private Batch createAllIn(Connection c, List<Submission> batch, Instant leaseUntil) throws SQLException {
        int n = batch.size();
        String[] ids = new String[n], apps = new String[n], types = new String[n], eventIds = new String[n], channels = new String[n];
        java.sql.Timestamp[] created = new java.sql.Timestamp[n], first = new java.sql.Timestamp[n];
        List<NewMessage> messages = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            NewMessage m = batch.get(i).message();
            messages.add(m);
            ids[i] = m.id();
            apps[i] = m.appId();
            types[i] = m.eventType();
            eventIds[i] = m.eventId();
            channels[i] = m.channels() == null ? null : dev.zerodrop.core.Json.write(m.channels());
            created[i] = java.sql.Timestamp.from(m.createdAt());
            first[i] = java.sql.Timestamp.from(m.firstAttemptAt());
        }
        java.util.Set<String> inserted = insertMessages(c, messages);
        java.util.Map<String, Integer> fanOut = new java.util.HashMap<>();
        java.util.Map<String, Integer> leasedCount = new java.util.HashMap<>();
        List<DeliveryStore.Claimed> leased = new ArrayList<>();
        if (!inserted.isEmpty()) {
            java.util.Map<String, NewMessage> byId = new java.util.HashMap<>();
            for (Submission sub : batch) byId.put(sub.message().id(), sub.message());
            // The endpoint's fields come back only for leased rows: they are what the dispatcher sends with.
            Jdbc.query(c, """
                    WITH d AS (
                        INSERT INTO delivery (msg_id, endpoint_id, app_id, state, next_attempt_at, lease_token, lease_expires_at,
                                              created_at, updated_at, part_at)
                        SELECT v.id, e.id, e.app_id, s.state, CASE WHEN e.disabled THEN NULL ELSE v.first_at END,
                               CASE WHEN s.state = 'sending' THEN 1 ELSE 0 END,
                               CASE WHEN s.state = 'sending' THEN ?::timestamptz END, v.created_at, v.created_at, v.created_at
                          FROM unnest(?::text[], ?::text[], ?::text[], ?::text[], ?::timestamptz[], ?::timestamptz[])
                               AS v(id, app_id, event_type, channels, first_at, created_at)
                          JOIN endpoint e ON e.app_id = v.app_id AND e.deleted_at IS NULL
                          CROSS JOIN LATERAL (SELECT CASE WHEN e.disabled THEN 'held'
                                                          WHEN ?::timestamptz IS NOT NULL AND e.throttle_rate IS NULL
                                                               AND v.first_at <= v.created_at THEN 'sending'
                                                          ELSE 'pending' END AS state) s
                         WHERE v.id = ANY (?::text[])
                           AND (e.filter_types IS NULL OR v.event_type = ANY (e.filter_types))
                           AND (e.channels IS NULL OR e.channels && coalesce(
                                ARRAY(SELECT jsonb_array_elements_text(v.channels::jsonb)), '{}'::text[]))
                        RETURNING id, msg_id, endpoint_id, app_id, state, lease_token, next_attempt_at, part_at)
                    SELECT d.id, d.msg_id, d.endpoint_id, d.app_id, d.state, d.lease_token, d.next_attempt_at, d.part_at,
                           e.url, e.headers::text AS headers, e.secret, e.old_secrets::text AS old_secrets
                      FROM d LEFT JOIN endpoint e ON e.id = d.endpoint_id AND d.state = 'sending'""",
                    rs -> {
                        String msgId = rs.getString("msg_id");
                        fanOut.merge(msgId, 1, Integer::sum);
                        if (!"sending".equals(rs.getString("state"))) return null;
                        leasedCount.merge(msgId, 1, Integer::sum);
                        NewMessage m = byId.get(msgId);
                        leased.add(DeliveryStore.Claimed.of(rs.getLong("id"), Jdbc.instant(rs, "part_at"), rs.getLong("lease_token"), 0, 0, 0, false,
                                Jdbc.instant(rs, "next_attempt_at"), msgId, rs.getString("app_id"), rs.getString("endpoint_id"),
                                m.eventType(), m.createdAt(), m.payload(), rs.getString("url"), secrets, rs.getString("secret"),
                                rs.getString("headers"), rs.getString("old_secrets"), null));
                        return null;
                    },
                    leaseUntil, ids, apps, types, channels, first, created, leaseUntil, inserted.toArray(String[]::new));
        }
        List<IdempotentResponse> completions = new ArrayList<>();
        List<Created> out = new ArrayList<>(n);
        List<Integer> duplicates = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            Submission sub = batch.get(i);
            if (inserted.contains(ids[i])) {
                out.add(new Created.Stored(fanOut.getOrDefault(ids[i], 0), leasedCount.getOrDefault(ids[i], 0)));
                if (sub.idempotent() != null) completions.add(sub.idempotent().forMessage(ids[i]));
            } else {
                out.add(null);
                duplicates.add(i);
            }
        }
        if (!completions.isEmpty()) IdempotencyStore.completeAllIn(c, completions);
        for (int i : duplicates) {
            String existing = Jdbc.queryOne(c, "SELECT id FROM message WHERE app_id = ? AND event_id = ? ORDER BY part_at LIMIT 1",
                    rs -> rs.getString(1), apps[i], eventIds[i]).orElse("?");
            out.set(i, new Created.Duplicate(existing));
        }
        return new Batch(out, leased);
    }

    /**
     * Inserts the messages whose eventId is free (in the database, and earlier in the list), each in
     * the partition of its acceptance time; returns the ids inserted. An eventId is unique per
     * application while its message exists, across partitions, which no unique index can say: the
     * eventIds of the batch are locked (transaction advisory locks, in a stable order so that
     * concurrent batches cannot deadlock) and then looked up in every partition.
     */
    private java.util.Set<String> insertMessages(Connection c, List<NewMessage> messages) throws SQLException {
        java.util.TreeMap<Long, Boolean> locks = new java.util.TreeMap<>();
        List<String> lookupApps = new ArrayList<>();
        List<String> lookupEvents = new ArrayList<>();
        for (NewMessage m : messages) {
            if (m.eventId() == null) continue;
            locks.put(eventLock(m.appId(), m.eventId()), true);
            lookupApps.add(m.appId());
            lookupEvents.add(m.eventId());
        }
        java.util.Set<String> taken = new java.util.HashSet<>();
        if (!locks.isEmpty()) {
            Jdbc.query(c, "SELECT pg_advisory_xact_lock(k) FROM unnest(?::bigint[]) AS k", rs -> null,
                    (Object) locks.keySet().toArray(Long[]::new));
            Jdbc.query(c, """
                    SELECT m.app_id, m.event_id FROM message m
                      JOIN unnest(?::text[], ?::text[]) AS v(app_id, event_id) ON m.app_id = v.app_id AND m.event_id = v.event_id""",
                    rs -> taken.add(rs.getString(1) + "\u0000" + rs.getString(2)),
                    lookupApps.toArray(String[]::new), lookupEvents.toArray(String[]::new));
        }
        List<NewMessage> fresh = new ArrayList<>(messages.size());
        for (NewMessage m : messages) {
            if (m.eventId() == null || taken.add(m.appId() + "\u0000" + m.eventId())) fresh.add(m);
        }
        int n = fresh.size();
        if (n == 0) return java.util.Set.of();
        String[] ids = new String[n], apps = new String[n], types = new String[n], eventIds = new String[n], channels = new String[n];
        String[] tags = new String[n];
        Integer[] retentionHours = new Integer[n];
        byte[][] payloads = new byte[n][];
        java.sql.Timestamp[] created = new java.sql.Timestamp[n], payloadExpiry = new java.sql.Timestamp[n];
        for (int i = 0; i < n; i++) {
            NewMessage m = fresh.get(i);
            ids[i] = m.id();
            apps[i] = m.appId();
            types[i] = m.eventType();
            eventIds[i] = m.eventId();
            channels[i] = m.channels() == null ? null : dev.zerodrop.core.Json.write(m.channels());
            tags[i] = m.tags() == null ? null : dev.zerodrop.core.Json.write(m.tags());
            retentionHours[i] = m.payloadRetentionHours();
            payloads[i] = m.payload();
            created[i] = java.sql.Timestamp.from(m.createdAt());
            Instant expiry = retention.payloadExpiry(m.createdAt(), m.payloadRetentionHours());
            payloadExpiry[i] = expiry == null ? null : java.sql.Timestamp.from(expiry);
        }
        return new java.util.HashSet<>(Jdbc.query(c, """
                INSERT INTO message (id, app_id, event_type, event_id, channels, payload, created_at, tags, payload_retention_hours,
                                     payload_expires_at, part_at)
                SELECT v.id, v.app_id, v.event_type, v.event_id,
                       CASE WHEN v.channels IS NULL THEN NULL ELSE ARRAY(SELECT jsonb_array_elements_text(v.channels::jsonb)) END,
                       v.payload, v.created_at,
                       CASE WHEN v.tags IS NULL THEN NULL ELSE ARRAY(SELECT jsonb_array_elements_text(v.tags::jsonb)) END,
                       v.retention, v.payload_expires_at, v.created_at
                  FROM unnest(?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::bytea[], ?::timestamptz[], ?::text[], ?::int[],
                              ?::timestamptz[])
                       AS v(id, app_id, event_type, event_id, channels, payload, created_at, tags, retention, payload_expires_at)
                RETURNING id""",
                rs -> rs.getString(1), ids, apps, types, eventIds, channels, payloads, created, tags, retentionHours, payloadExpiry));
    }

    /** The advisory lock key of an application's eventId (collisions only serialise, never wrongly refuse). */
    private static long eventLock(String appId, String eventId) {
        long h = 1125899906842597L;
        for (char ch : (appId + "\u0000" + eventId).toCharArray()) h = 31 * h + ch;
        return h ^ 0x5A45524F44524F50L;
    }

    /** Stores a message with a single delivery to one endpoint (send-example). */
    public void createForEndpoint(NewMessage m, String endpointId) {
        jdbc.tx(c -> {
            if (insertMessages(c, List.of(m)).isEmpty()) {
                throw new Conflict("A message with eventId '" + m.eventId() + "' already exists in this application");
            }
            return Jdbc.update(c, """
                    INSERT INTO delivery (msg_id, endpoint_id, app_id, state, next_attempt_at, created_at, updated_at, part_at)
                    SELECT ?, e.id, e.app_id, CASE WHEN e.disabled THEN 'held' ELSE 'pending' END,
                           CASE WHEN e.disabled THEN NULL ELSE ?::timestamptz END, ?, ?, ?
                      FROM endpoint e WHERE e.id = ?""",
                    m.id(), m.firstAttemptAt(), m.createdAt(), m.createdAt(), m.createdAt(), endpointId);
        });
    }

    public Optional<Message> find(String appId, String idOrEventId) {
        return jdbc.queryOne("SELECT " + COLUMNS + " FROM message m WHERE m.app_id = ? AND (m.id = ? OR m.event_id = ?) ORDER BY (m.id = ?) DESC LIMIT 1",
                MessageStore::map, appId, idOrEventId, idOrEventId, idOrEventId);
    }

    /** Lists messages newest first, with Svix's filters. */
    public Page<Message> list(String appId, PageRequest page, Filter filter) {
        StringBuilder sql = new StringBuilder("SELECT " + COLUMNS + " FROM message m WHERE m.app_id = ?");
        List<Object> params = new ArrayList<>(List.of(appId));
        filters(sql, params, filter);
        return page.run(jdbc, sql.toString(), "m.id", params, MessageStore::map, Message::id);
    }

    static void filters(StringBuilder sql, List<Object> params, Filter f) {
        if (f.channel() != null) {
            sql.append(" AND ? = ANY (m.channels)");
            params.add(f.channel());
        }
        if (f.tag() != null) {
            sql.append(" AND ? = ANY (m.tags)");
            params.add(f.tag());
        }
        if (f.eventTypes() != null && !f.eventTypes().isEmpty()) {
            sql.append(" AND m.event_type = ANY (?)");
            params.add(f.eventTypes().toArray(String[]::new));
        }
        if (f.before() != null) {
            sql.append(" AND m.created_at < ?");
            params.add(f.before());
        }
        if (f.after() != null) {
            sql.append(" AND m.created_at > ?");
            params.add(f.after());
        }
    }

    /** Messages sent (or being sent) to one endpoint, with that delivery's status, newest first. */
    public Page<MessageWithStatus> listForEndpoint(String endpointId, PageRequest page, Filter filter, List<String> states) {
        StringBuilder sql = new StringBuilder("SELECT " + COLUMNS + ", d.state, d.next_attempt_at, d.updated_at AS d_updated_at "
                + "FROM delivery d JOIN message m ON m.id = d.msg_id AND m.part_at = d.part_at WHERE d.endpoint_id = ?");
        List<Object> params = new ArrayList<>(List.of(endpointId));
        filters(sql, params, filter);
        if (states != null) {
            sql.append(" AND d.state = ANY (?)");
            params.add(states.toArray(String[]::new));
        }
        return page.run(jdbc, sql.toString(), "m.id", params,
                rs -> new MessageWithStatus(map(rs), new DeliveryStatus(rs.getString("state"),
                        Jdbc.instant(rs, "next_attempt_at"), Jdbc.instant(rs, "d_updated_at"))),
                x -> x.message().id());
    }

    public record MessageWithStatus(Message message, DeliveryStatus status) {}

    public record EndpointWithStatus(EndpointStore.Endpoint endpoint, DeliveryStatus status) {}

    /** The endpoints a message was (or is being) delivered to, with each delivery's status. */
    public Page<EndpointWithStatus> destinations(String msgId, PageRequest page) {
        String sql = """
                SELECT e.id, e.app_id, e.uid, e.url, e.description, e.filter_types, e.channels, e.disabled, e.throttle_rate,
                       e.metadata::text AS metadata, e.headers::text AS headers, e.secret, e.old_secrets::text AS old_secrets,
                       e.created_at, e.updated_at, d.state, d.next_attempt_at, d.updated_at AS d_updated_at
                  FROM delivery d JOIN endpoint e ON e.id = d.endpoint_id WHERE d.msg_id = ?""";
        return page.run(jdbc, sql, "e.id", List.of(msgId),
                rs -> new EndpointWithStatus(EndpointStore.map(secrets, rs), new DeliveryStatus(rs.getString("state"),
                        Jdbc.instant(rs, "next_attempt_at"), Jdbc.instant(rs, "d_updated_at"))),
                x -> x.endpoint().id());
    }

    /** Counts of one endpoint's deliveries by state, of those created in [since, until) (null: unbounded). */
    public java.util.Map<String, Long> endpointStats(String endpointId, Instant since, Instant until) {
        StringBuilder sql = new StringBuilder("SELECT state, count(*) AS n FROM delivery WHERE endpoint_id = ?");
        List<Object> params = new ArrayList<>(List.of(endpointId));
        if (since != null) {
            sql.append(" AND created_at >= ?");
            params.add(since);
        }
        if (until != null) {
            sql.append(" AND created_at < ?");
            params.add(until);
        }
        java.util.Map<String, Long> out = new java.util.HashMap<>();
        jdbc.query(sql + " GROUP BY state", rs -> out.put(rs.getString("state"), rs.getLong("n")), params.toArray());
        return out;
    }

    static Message map(ResultSet rs) throws SQLException {
        return new Message(rs.getString("id"), rs.getString("app_id"), rs.getString("event_type"), rs.getString("event_id"),
                Jdbc.textArray(rs, "channels"), rs.getBytes("payload"), Jdbc.instant(rs, "created_at"), Jdbc.textArray(rs, "tags"));
    }
}
