package dev.zerodrop.store;

import dev.zerodrop.core.Ids;
import dev.zerodrop.core.Json;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** Applications: the tenants that own endpoints and messages. */
public final class AppStore {
    public record App(String id, String uid, String name, Integer throttleRate, Map<String, String> metadata,
                      Instant createdAt, Instant updatedAt) {}

    public record AppData(String uid, String name, Integer throttleRate, Map<String, String> metadata) {}

    private static final String COLUMNS = "id, uid, name, throttle_rate, metadata::text AS metadata, created_at, updated_at";

    /**
     * How long a found application is reused by {@link #findRecent}: one lookup per producer burst
     * instead of one per message. A change made on another node is seen within this time.
     */
    public static final java.time.Duration RECENT = java.time.Duration.ofSeconds(2);

    private record Recent(App app, long expiresAtNanos) {}

    private final Jdbc jdbc;
    private final java.util.concurrent.ConcurrentHashMap<String, Recent> recent = new java.util.concurrent.ConcurrentHashMap<>();

    public AppStore(Jdbc jdbc) {
        this.jdbc = jdbc;
    }

    /**
     * As {@link #find}, but reuses a result found in the last {@link #RECENT} (the ingest path).
     * Changes made through this node are seen at once; through another node, within that time.
     */
    public Optional<App> findRecent(String idOrUid) {
        long now = System.nanoTime();
        Recent r = recent.get(idOrUid);
        if (r != null && r.expiresAtNanos() - now > 0) return Optional.of(r.app());
        Optional<App> found = find(idOrUid);
        if (found.isPresent()) {
            if (recent.size() > 10_000) recent.clear();
            recent.put(idOrUid, new Recent(found.get(), now + RECENT.toNanos()));
        }
        return found;
    }

    public App create(AppData d, Instant now) {
        App app = new App(Ids.app(now), d.uid(), d.name(), d.throttleRate(), d.metadata(), now, now);
        try {
            jdbc.update("INSERT INTO application (id, uid, name, throttle_rate, metadata, created_at, updated_at) VALUES (?,?,?,?,?,?,?)",
                    app.id(), app.uid(), app.name(), app.throttleRate(), new Jdbc.Json(Json.write(app.metadata())), now, now);
        } catch (Jdbc.UniqueViolation e) {
            throw new Conflict("An application with uid '" + d.uid() + "' already exists");
        }
        return app;
    }

    /** Finds a live application by id or uid. */
    public Optional<App> find(String idOrUid) {
        return jdbc.queryOne("SELECT " + COLUMNS + " FROM application WHERE (id = ? OR uid = ?) AND deleted_at IS NULL ORDER BY (id = ?) DESC LIMIT 1",
                AppStore::map, idOrUid, idOrUid, idOrUid);
    }

    public Page<App> list(PageRequest page) {
        return page.run(jdbc, "SELECT " + COLUMNS + " FROM application WHERE deleted_at IS NULL", "id", List.of(), AppStore::map, App::id);
    }

    public App update(App existing, AppData d, Instant now) {
        recent.clear();
        try {
            jdbc.update("UPDATE application SET uid = ?, name = ?, throttle_rate = ?, metadata = ?, updated_at = ? WHERE id = ?",
                    d.uid(), d.name(), d.throttleRate(), new Jdbc.Json(Json.write(d.metadata())), now, existing.id());
        } catch (Jdbc.UniqueViolation e) {
            throw new Conflict("An application with uid '" + d.uid() + "' already exists");
        }
        return new App(existing.id(), d.uid(), d.name(), d.throttleRate(), d.metadata(), existing.createdAt(), now);
    }

    /**
     * Soft-deletes an application. Its endpoints are deleted with it, and their unfinished deliveries
     * become {@code discarded} with a reason, so the audit still accounts for every one.
     */
    public boolean delete(String appId, Instant now) {
        recent.clear();
        return jdbc.tx(c -> {
            int n = Jdbc.update(c, "UPDATE application SET deleted_at = ?, uid = NULL WHERE id = ? AND deleted_at IS NULL", now, appId);
            if (n == 0) return false;
            Jdbc.update(c, "UPDATE endpoint SET deleted_at = ?, uid = NULL WHERE app_id = ? AND deleted_at IS NULL", now, appId);
            Jdbc.update(c, """
                    UPDATE delivery SET state = 'discarded', reason = 'application deleted', next_attempt_at = NULL,
                           lease_expires_at = NULL, updated_at = ?
                    WHERE app_id = ? AND state IN ('pending', 'held', 'sending')""", now, appId);
            return true;
        });
    }

    static App map(ResultSet rs) throws SQLException {
        return new App(rs.getString("id"), rs.getString("uid"), rs.getString("name"),
                (Integer) rs.getObject("throttle_rate"), Json.stringMap(rs.getString("metadata")),
                Jdbc.instant(rs, "created_at"), Jdbc.instant(rs, "updated_at"));
    }
}
