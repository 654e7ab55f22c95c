package dev.zerodrop.store;

import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.List;
import java.util.Optional;

/** Event types: the catalogue of message kinds. */
public final class EventTypeStore {
    public record EventType(String name, String description, boolean archived, boolean deprecated, List<String> featureFlags,
                            String groupName, String schemasJson, Instant createdAt, Instant updatedAt) {}

    private static final String COLUMNS = """
            name, description, archived, deprecated, feature_flags, group_name, schemas::text AS schemas, created_at, updated_at""";

    private final Jdbc jdbc;

    public EventTypeStore(Jdbc jdbc) {
        this.jdbc = jdbc;
    }

    public EventType create(EventType t) {
        try {
            jdbc.update("""
                    INSERT INTO event_type (name, description, archived, deprecated, feature_flags, group_name, schemas, created_at, updated_at)
                    VALUES (?,?,?,?,?,?,?,?,?)""",
                    t.name(), t.description(), t.archived(), t.deprecated(), EndpointStore.array(t.featureFlags()), t.groupName(),
                    t.schemasJson() == null ? null : new Jdbc.Json(t.schemasJson()), t.createdAt(), t.updatedAt());
        } catch (Jdbc.UniqueViolation e) {
            throw new Conflict("An event type named '" + t.name() + "' already exists");
        }
        return t;
    }

    public Optional<EventType> find(String name) {
        return jdbc.queryOne("SELECT " + COLUMNS + " FROM event_type WHERE name = ?", EventTypeStore::map, name);
    }

    public Page<EventType> list(PageRequest page, boolean includeArchived) {
        String sql = "SELECT " + COLUMNS + " FROM event_type WHERE " + (includeArchived ? "true" : "NOT archived");
        return page.run(jdbc, sql, "name", List.of(), EventTypeStore::map, EventType::name);
    }

    public EventType update(EventType t) {
        jdbc.update("""
                UPDATE event_type SET description = ?, archived = ?, deprecated = ?, feature_flags = ?, group_name = ?, schemas = ?,
                       updated_at = ?
                 WHERE name = ?""",
                t.description(), t.archived(), t.deprecated(), EndpointStore.array(t.featureFlags()), t.groupName(),
                t.schemasJson() == null ? null : new Jdbc.Json(t.schemasJson()), t.updatedAt(), t.name());
        return t;
    }

    /** Archives an event type, or removes it for good with {@code expunge}. */
    public boolean delete(String name, boolean expunge, Instant now) {
        if (expunge) return jdbc.update("DELETE FROM event_type WHERE name = ?", name) > 0;
        return jdbc.update("UPDATE event_type SET archived = true, updated_at = ? WHERE name = ?", now, name) > 0;
    }

    static EventType map(ResultSet rs) throws SQLException {
        return new EventType(rs.getString("name"), rs.getString("description"), rs.getBoolean("archived"),
                rs.getBoolean("deprecated"), Jdbc.textArray(rs, "feature_flags"), rs.getString("group_name"), rs.getString("schemas"),
                Jdbc.instant(rs, "created_at"), Jdbc.instant(rs, "updated_at"));
    }
}
