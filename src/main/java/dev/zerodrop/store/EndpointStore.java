package dev.zerodrop.store;

import dev.zerodrop.core.Ids;
import dev.zerodrop.core.Json;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Endpoints: where an application's messages are delivered. Their secrets and header values are
 * sealed before they reach the database (see {@link EndpointSecrets}).
 */
public final class EndpointStore {
    public record OldSecret(String key, long expiresAt) {}

    /**
     * An endpoint. Its secrets are opened on first use: {@link #secret()}, {@link #headers()} and
     * {@link #oldSecrets()} throw {@link dev.zerodrop.secret.Sealer.SealedException} when they are
     * sealed with a key this node does not have.
     */
    public record Endpoint(String id, String appId, String uid, String url, String description,
                           List<String> filterTypes, List<String> channels, boolean disabled, Integer throttleRate,
                           Map<String, String> metadata, EndpointSecrets.Stored sealed, Instant createdAt, Instant updatedAt) {

        public EndpointSecrets.Opened opened() {
            return sealed.opened();
        }

        public String secret() {
            return opened().secret();
        }

        /** The custom headers, opened (shared: copy before changing). */
        public Map<String, String> headers() {
            return opened().headers();
        }

        public List<OldSecret> oldSecrets() {
            return opened().oldSecrets();
        }

        /** The secrets that sign a delivery now: the current one first, then those still in their grace period. */
        public List<String> signingSecrets(Instant now) {
            return EndpointSecrets.signingSecrets(secret(), oldSecrets(), now);
        }
    }

    /** The writable fields of an endpoint. */
    public record EndpointData(String uid, String url, String description, List<String> filterTypes,
                               List<String> channels, boolean disabled, Integer throttleRate,
                               Map<String, String> metadata) {}

    private static final String COLUMNS = """
            id, app_id, uid, url, description, filter_types, channels, disabled, throttle_rate,
            metadata::text AS metadata, headers::text AS headers, secret, old_secrets::text AS old_secrets,
            created_at, updated_at""";

    private final Jdbc jdbc;
    private final EndpointSecrets secrets;

    public EndpointStore(Jdbc jdbc, EndpointSecrets secrets) {
        this.jdbc = jdbc;
        this.secrets = secrets;
    }

    public Endpoint create(String appId, EndpointData d, String secret, Instant now) {
        return create(appId, d, secret, Map.of(), now);
    }

    /** Creates an endpoint with its custom headers in the same statement, so no delivery can miss them. */
    public Endpoint create(String appId, EndpointData d, String secret, Map<String, String> headers, Instant now) {
        String id = Ids.endpoint(now);
        try {
            jdbc.update("""
                    INSERT INTO endpoint (id, app_id, uid, url, description, filter_types, channels, disabled, throttle_rate,
                                          metadata, headers, secret, created_at, updated_at)
                    VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)""",
                    id, appId, d.uid(), d.url(), d.description(), array(d.filterTypes()), array(d.channels()), d.disabled(),
                    d.throttleRate(), new Jdbc.Json(Json.write(d.metadata())), secrets.sealHeaders(id, headers),
                    secrets.sealSecret(id, secret), now, now);
        } catch (Jdbc.UniqueViolation e) {
            throw new Conflict("An endpoint with uid '" + d.uid() + "' already exists in this application");
        }
        return find(appId, id).orElseThrow();
    }

    public Optional<Endpoint> find(String appId, String idOrUid) {
        return jdbc.queryOne("SELECT " + COLUMNS + " FROM endpoint WHERE app_id = ? AND (id = ? OR uid = ?) AND deleted_at IS NULL ORDER BY (id = ?) DESC LIMIT 1",
                this::map, appId, idOrUid, idOrUid, idOrUid);
    }

    public Page<Endpoint> list(String appId, PageRequest page) {
        return page.run(jdbc, "SELECT " + COLUMNS + " FROM endpoint WHERE app_id = ? AND deleted_at IS NULL", "id",
                List.of(appId), this::map, Endpoint::id);
    }

    /**
     * Replaces the writable fields. Disabling holds the endpoint's pending deliveries; enabling
     * returns its held deliveries to pending, due now. Returns the number of deliveries resumed.
     */
    public int update(Endpoint existing, EndpointData d, Instant now) {
        try {
            return jdbc.tx(c -> {
                Jdbc.update(c, """
                        UPDATE endpoint SET uid = ?, url = ?, description = ?, filter_types = ?, channels = ?, disabled = ?,
                               throttle_rate = ?, metadata = ?, updated_at = ?
                        WHERE id = ?""",
                        d.uid(), d.url(), d.description(), array(d.filterTypes()), array(d.channels()), d.disabled(),
                        d.throttleRate(), new Jdbc.Json(Json.write(d.metadata())), now, existing.id());
                if (d.disabled() && !existing.disabled()) {
                    Jdbc.update(c, "UPDATE endpoint SET disabled_at = ?, disabled_reason = 'disabled through the API' WHERE id = ?", now, existing.id());
                    return -hold(c, existing.id(), now);
                }
                if (!d.disabled() && existing.disabled()) {
                    Jdbc.update(c, "UPDATE endpoint SET enabled_at = ?, disabled_at = NULL, disabled_reason = NULL, failing_since = NULL WHERE id = ?",
                            now, existing.id());
                    return resume(c, existing.id(), now);
                }
                return 0;
            });
        } catch (Jdbc.UniqueViolation e) {
            throw new Conflict("An endpoint with uid '" + d.uid() + "' already exists in this application");
        }
    }

    /** Disables an endpoint with a reason and holds its pending deliveries. False when it was already disabled. */
    static boolean disableIn(Connection c, String endpointId, String reason, Instant now) throws SQLException {
        int n = Jdbc.update(c, "UPDATE endpoint SET disabled = true, disabled_at = ?, disabled_reason = ?, updated_at = ? WHERE id = ? AND NOT disabled",
                now, reason, now, endpointId);
        if (n > 0) hold(c, endpointId, now);
        return n > 0;
    }

    /**
     * Disables every enabled endpoint that has failed without a single success since before
     * {@code failingBefore}. Returns the ids disabled.
     */
    public List<String> disableFailingSince(Instant failingBefore, Instant now) {
        return jdbc.tx(c -> {
            List<String> ids = Jdbc.query(c, "SELECT id, failing_since FROM endpoint WHERE NOT disabled AND deleted_at IS NULL AND failing_since < ? FOR UPDATE SKIP LOCKED",
                    rs -> rs.getString("id") + "|" + Jdbc.instant(rs, "failing_since"), failingBefore);
            List<String> out = new ArrayList<>();
            for (String row : ids) {
                String[] parts = row.split("\\|");
                if (disableIn(c, parts[0], "failing without a success since " + parts[1], now)) out.add(parts[0]);
            }
            return out;
        });
    }

    static int hold(Connection c, String endpointId, Instant now) throws SQLException {
        return Jdbc.update(c, "UPDATE delivery SET state = 'held', next_attempt_at = NULL, updated_at = ? WHERE endpoint_id = ? AND state = 'pending'",
                now, endpointId);
    }

    static int resume(Connection c, String endpointId, Instant now) throws SQLException {
        return Jdbc.update(c, "UPDATE delivery SET state = 'pending', next_attempt_at = ?, updated_at = ? WHERE endpoint_id = ? AND state = 'held'",
                now, now, endpointId);
    }

    /** Soft-deletes an endpoint; its unfinished deliveries become {@code discarded} with a reason. */
    public boolean delete(String endpointId, Instant now) {
        return jdbc.tx(c -> {
            int n = Jdbc.update(c, "UPDATE endpoint SET deleted_at = ?, uid = NULL WHERE id = ? AND deleted_at IS NULL", now, endpointId);
            if (n == 0) return false;
            Jdbc.update(c, """
                    UPDATE delivery SET state = 'discarded', reason = 'endpoint deleted', next_attempt_at = NULL,
                           lease_expires_at = NULL, updated_at = ?
                    WHERE endpoint_id = ? AND state IN ('pending', 'held', 'sending')""", now, endpointId);
            return true;
        });
    }

    public void setHeaders(String endpointId, Map<String, String> headers, Instant now) {
        jdbc.update("UPDATE endpoint SET headers = ?, updated_at = ? WHERE id = ?", secrets.sealHeaders(endpointId, headers), now, endpointId);
    }

    /** Makes {@code newSecret} current; the old one keeps signing until {@code now + grace}. */
    public void rotateSecret(Endpoint e, String newSecret, java.time.Duration grace, Instant now) {
        List<OldSecret> old = new ArrayList<>();
        for (OldSecret s : e.oldSecrets()) if (s.expiresAt() > now.toEpochMilli()) old.add(s);
        if (!grace.isZero()) old.add(new OldSecret(e.secret(), now.plus(grace).toEpochMilli()));
        jdbc.update("UPDATE endpoint SET secret = ?, old_secrets = ?, updated_at = ? WHERE id = ?",
                secrets.sealSecret(e.id(), newSecret), secrets.sealOldSecrets(e.id(), old), now, e.id());
    }

    static String[] array(List<String> list) {
        return list == null ? null : list.toArray(String[]::new);
    }

    Endpoint map(ResultSet rs) throws SQLException {
        return map(secrets, rs);
    }

    static Endpoint map(EndpointSecrets secrets, ResultSet rs) throws SQLException {
        String id = rs.getString("id");
        return new Endpoint(id, rs.getString("app_id"), rs.getString("uid"), rs.getString("url"),
                rs.getString("description"), Jdbc.textArray(rs, "filter_types"), Jdbc.textArray(rs, "channels"),
                rs.getBoolean("disabled"), (Integer) rs.getObject("throttle_rate"), Json.stringMap(rs.getString("metadata")),
                new EndpointSecrets.Stored(secrets, id, rs.getString("secret"), rs.getString("headers"), rs.getString("old_secrets")),
                Jdbc.instant(rs, "created_at"), Jdbc.instant(rs, "updated_at"));
    }
}
