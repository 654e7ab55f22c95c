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
                          byte[] payload, Instant createdAt) {}

    /** A message to create. {@code payload} is the exact bytes that will be signed and sent. */
    public record NewMessage(String id, String appId, String eventType, String eventId, List<String> channels,
                             byte[] payload, Instant createdAt, Instant deliverAt) {
        /** When the first attempt is due: at once, or at the scheduled {@code deliverAt}. */
        Instant firstAttemptAt() {
            return deliverAt != null && deliverAt.isAfter(createdAt) ? deliverAt : createdAt;
        }
    }

    /** The idempotency record to complete in the same transaction as the message. */
    public record IdempotentResponse(String scope, String key, int status, byte[] body) {}

    /** A delivery's state as the Svix API shows it, beside its message or endpoint. */
    public record DeliveryStatus(String state, Instant nextAttemptAt, Instant updatedAt) {}

    private static final String COLUMNS = "m.id, m.app_id, m.event_type, m.event_id, m.channels, m.payload, m.created_at";

    private final Jdbc jdbc;

    public MessageStore(Jdbc jdbc) {
        this.jdbc = jdbc;
    }

    /**
     * Stores a message and one delivery per matching endpoint in one transaction (fan-out is atomic),
     * and completes the idempotency record in the same commit when one is given. Returns the number of
     * deliveries created. Throws {@link Conflict} when the eventId is already used in the application.
     */
    public int create(NewMessage m, IdempotentResponse idempotent) {
        return jdbc.tx(c -> createIn(c, m, idempotent));
    }

    /** Stores a message with a single delivery to one endpoint (send-example). */
    public void createForEndpoint(NewMessage m, String endpointId) {
        jdbc.tx(c -> {
            insertMessage(c, m);
            return Jdbc.update(c, """
                    INSERT INTO delivery (msg_id, endpoint_id, app_id, state, next_attempt_at, created_at, updated_at)
                    SELECT ?, e.id, e.app_id, CASE WHEN e.disabled THEN 'held' ELSE 'pending' END,
                           CASE WHEN e.disabled THEN NULL ELSE ?::timestamptz END, ?, ?
                      FROM endpoint e WHERE e.id = ?""",
                    m.id(), m.firstAttemptAt(), m.createdAt(), m.createdAt(), endpointId);
        });
    }

    static int createIn(Connection c, NewMessage m, IdempotentResponse idempotent) throws SQLException {
        insertMessage(c, m);
        int deliveries = Jdbc.update(c, """
                INSERT INTO delivery (msg_id, endpoint_id, app_id, state, next_attempt_at, created_at, updated_at)
                SELECT ?, e.id, e.app_id, CASE WHEN e.disabled THEN 'held' ELSE 'pending' END,
                       CASE WHEN e.disabled THEN NULL ELSE ?::timestamptz END, ?, ?
                  FROM endpoint e
                 WHERE e.app_id = ? AND e.deleted_at IS NULL
                   AND (e.filter_types IS NULL OR ? = ANY (e.filter_types))
                   AND (e.channels IS NULL OR e.channels && ?::text[])""",
                m.id(), m.firstAttemptAt(), m.createdAt(), m.createdAt(), m.appId(), m.eventType(),
                m.channels() == null ? new String[0] : m.channels().toArray(String[]::new));
        if (idempotent != null) IdempotencyStore.completeIn(c, idempotent);
        return deliveries;
    }

    private static void insertMessage(Connection c, NewMessage m) throws SQLException {
        List<String> inserted = Jdbc.query(c, """
                INSERT INTO message (id, app_id, event_type, event_id, channels, payload, created_at)
                VALUES (?,?,?,?,?,?,?)
                ON CONFLICT (app_id, event_id) WHERE event_id IS NOT NULL DO NOTHING
                RETURNING id""",
                rs -> rs.getString(1), m.id(), m.appId(), m.eventType(), m.eventId(), EndpointStore.array(m.channels()),
                m.payload(), m.createdAt());
        if (inserted.isEmpty()) {
            String existing = Jdbc.queryOne(c, "SELECT id FROM message WHERE app_id = ? AND event_id = ?",
                    rs -> rs.getString(1), m.appId(), m.eventId()).orElse("?");
            throw new Conflict("A message with eventId '" + m.eventId() + "' already exists in this application: " + existing);
        }
    }

    public Optional<Message> find(String appId, String idOrEventId) {
        return jdbc.queryOne("SELECT " + COLUMNS + " FROM message m WHERE m.app_id = ? AND (m.id = ? OR m.event_id = ?) ORDER BY (m.id = ?) DESC LIMIT 1",
                MessageStore::map, appId, idOrEventId, idOrEventId, idOrEventId);
    }

    /** Lists messages newest first, with Svix's filters. */
    public Page<Message> list(String appId, PageRequest page, String channel, List<String> eventTypes,
                              Instant before, Instant after) {
        StringBuilder sql = new StringBuilder("SELECT " + COLUMNS + " FROM message m WHERE m.app_id = ?");
        List<Object> params = new ArrayList<>(List.of(appId));
        filters(sql, params, channel, eventTypes, before, after);
        return page.run(jdbc, sql.toString(), "m.id", params, MessageStore::map, Message::id);
    }

    static void filters(StringBuilder sql, List<Object> params, String channel, List<String> eventTypes, Instant before, Instant after) {
        if (channel != null) {
            sql.append(" AND ? = ANY (m.channels)");
            params.add(channel);
        }
        if (eventTypes != null && !eventTypes.isEmpty()) {
            sql.append(" AND m.event_type = ANY (?)");
            params.add(eventTypes.toArray(String[]::new));
        }
        if (before != null) {
            sql.append(" AND m.created_at < ?");
            params.add(before);
        }
        if (after != null) {
            sql.append(" AND m.created_at > ?");
            params.add(after);
        }
    }

    /** Messages sent (or being sent) to one endpoint, with that delivery's status, newest first. */
    public Page<MessageWithStatus> listForEndpoint(String endpointId, PageRequest page, String channel,
                                                   List<String> eventTypes, List<String> states, Instant before, Instant after) {
        StringBuilder sql = new StringBuilder("SELECT " + COLUMNS + ", d.state, d.next_attempt_at, d.updated_at AS d_updated_at "
                + "FROM delivery d JOIN message m ON m.id = d.msg_id WHERE d.endpoint_id = ?");
        List<Object> params = new ArrayList<>(List.of(endpointId));
        filters(sql, params, channel, eventTypes, before, after);
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
                rs -> new EndpointWithStatus(EndpointStore.map(rs), new DeliveryStatus(rs.getString("state"),
                        Jdbc.instant(rs, "next_attempt_at"), Jdbc.instant(rs, "d_updated_at"))),
                x -> x.endpoint().id());
    }

    /** Counts of one endpoint's deliveries by state. */
    public java.util.Map<String, Long> endpointStats(String endpointId) {
        java.util.Map<String, Long> out = new java.util.HashMap<>();
        jdbc.query("SELECT state, count(*) AS n FROM delivery WHERE endpoint_id = ? GROUP BY state",
                rs -> out.put(rs.getString("state"), rs.getLong("n")), endpointId);
        return out;
    }

    /** Removes a message's payload; deliveries still pending send an empty object. */
    public boolean expunge(String appId, String msgId) {
        return jdbc.update("UPDATE message SET payload = NULL WHERE app_id = ? AND id = ?", appId, msgId) > 0;
    }

    static Message map(ResultSet rs) throws SQLException {
        return new Message(rs.getString("id"), rs.getString("app_id"), rs.getString("event_type"), rs.getString("event_id"),
                Jdbc.textArray(rs, "channels"), rs.getBytes("payload"), Jdbc.instant(rs, "created_at"));
    }
}
