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

    private final Jdbc jdbc;

    public AppStore(Jdbc jdbc) {
        this.jdbc = jdbc;
    }

    public App create(AppData d, Instant now) {
        App app = new App(Ids.app(), d.uid(), d.name(), d.throttleRate(), d.metadata(), now, now);
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
