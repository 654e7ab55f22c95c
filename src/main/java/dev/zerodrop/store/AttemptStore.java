package dev.zerodrop.store;

import dev.zerodrop.core.AttemptStatus;
import dev.zerodrop.core.TriggerType;

import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/** The attempt log: one row per attempt, read-only outside the dispatcher. */
public final class AttemptStore {
    /** Filters of the attempt listings. Null means no filter. */
    public record Filter(Integer status, Integer statusCodeClass, String endpointId, String channel, String tag,
                         List<String> eventTypes, Instant before, Instant after) {}

    private static final String COLUMNS = """
            a.id, a.delivery_id, a.msg_id, a.endpoint_id, a.app_id, a.attempt_no, a.trigger_type, a.status, a.error_class,
            a.response_status, a.response, a.duration_ms, a.url, a.created_at""";

    private final Jdbc jdbc;

    public AttemptStore(Jdbc jdbc) {
        this.jdbc = jdbc;
    }

    public Page<Attempt> byMessage(String appId, String msgId, PageRequest page, Filter f) {
        return list("a.app_id = ? AND a.msg_id = ?", List.of(appId, msgId), page, f);
    }

    public Page<Attempt> byEndpoint(String appId, String endpointId, PageRequest page, Filter f) {
        return list("a.app_id = ? AND a.endpoint_id = ?", List.of(appId, endpointId), page, f);
    }

    public Optional<Attempt> find(String appId, String msgId, String attemptId) {
        return jdbc.queryOne("SELECT " + COLUMNS + " FROM attempt a WHERE a.app_id = ? AND a.msg_id = ? AND a.id = ?",
                AttemptStore::map, appId, msgId, attemptId);
    }

    /** All attempts of one delivery, oldest first. */
    public List<Attempt> forDelivery(long deliveryId) {
        return jdbc.query("SELECT " + COLUMNS + " FROM attempt a WHERE a.delivery_id = ? ORDER BY a.attempt_no, a.id",
                AttemptStore::map, deliveryId);
    }

    public boolean expunge(String appId, String msgId, String attemptId) {
        return jdbc.update("UPDATE attempt SET response = '' WHERE app_id = ? AND msg_id = ? AND id = ?", appId, msgId, attemptId) > 0;
    }

    private Page<Attempt> list(String where, List<Object> base, PageRequest page, Filter f) {
        StringBuilder sql = new StringBuilder("SELECT " + COLUMNS + " FROM attempt a");
        boolean joinMessage = f.channel() != null || f.tag() != null || (f.eventTypes() != null && !f.eventTypes().isEmpty());
        if (joinMessage) sql.append(" JOIN message m ON m.id = a.msg_id");
        sql.append(" WHERE ").append(where);
        List<Object> params = new ArrayList<>(base);
        if (f.status() != null) {
            sql.append(" AND a.status = ?");
            params.add(f.status().shortValue());
        }
        if (f.statusCodeClass() != null) {
            int cls = f.statusCodeClass();
            if (cls == 0) {
                sql.append(" AND a.response_status = 0");
            } else {
                sql.append(" AND a.response_status >= ? AND a.response_status < ?");
                params.add(cls);
                params.add(cls + 100);
            }
        }
        if (f.endpointId() != null) {
            sql.append(" AND a.endpoint_id = ?");
            params.add(f.endpointId());
        }
        if (joinMessage) {
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
        }
        if (f.before() != null) {
            sql.append(" AND a.created_at < ?");
            params.add(f.before());
        }
        if (f.after() != null) {
            sql.append(" AND a.created_at > ?");
            params.add(f.after());
        }
        return page.run(jdbc, sql.toString(), "a.id", params, AttemptStore::map, Attempt::id);
    }

    static Attempt map(ResultSet rs) throws SQLException {
        return new Attempt(rs.getString("id"), rs.getLong("delivery_id"), rs.getString("msg_id"), rs.getString("endpoint_id"),
                rs.getString("app_id"), rs.getInt("attempt_no"), rs.getInt("trigger_type") == 1 ? TriggerType.MANUAL : TriggerType.SCHEDULED,
                AttemptStatus.of(rs.getInt("status")),
                rs.getString("error_class"), rs.getInt("response_status"), rs.getString("response"), rs.getInt("duration_ms"),
                rs.getString("url"), Jdbc.instant(rs, "created_at"));
    }
}
