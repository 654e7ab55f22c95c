package dev.zerodrop.store;

import dev.zerodrop.core.Ids;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * API keys and app-portal tokens. A token is {@code zd_} and the base64url of 32 random bytes; it is
 * shown once and stored only as its HMAC-SHA256 under the server's token pepper, with its first
 * {@value #VISIBLE} characters kept to recognise it. Rows from before keyed hashing hold a plain
 * SHA-256; {@link #lookup} finds them too and re-hashes them at their first successful use.
 */
public final class TokenStore {
    public static final String TOKEN_PREFIX = "zd_";
    /** Characters of a generated token kept visible: {@code zd_} and 9 of its 43 random ones (54 of 256 bits). */
    public static final int VISIBLE = 12;
    /** The name of the key that ZERODROP_ADMIN_TOKEN sets; the configuration owns it, so the API cannot revoke it. */
    public static final String CONFIGURED_ADMIN = "admin (ZERODROP_ADMIN_TOKEN)";
    public static final String KEY = "key";
    public static final String PORTAL = "portal";
    private static final String HMAC = "hmac-sha256";
    private static final String LEGACY = "sha256";
    private static final SecureRandom RANDOM = new SecureRandom();
    private static final String COLUMNS = """
            id, name, prefix, kind, app_id, read_only, session_id, created_at, expires_at, last_used_at, revoked_at""";

    /** A stored token, never its value. {@code appId} null: server-wide. */
    public record Key(String id, String name, String prefix, String kind, String appId, boolean readOnly, String sessionId,
                      Instant createdAt, Instant expiresAt, Instant lastUsedAt, Instant revokedAt) {
        public boolean usableAt(Instant now) {
            return revokedAt == null && (expiresAt == null || now.isBefore(expiresAt));
        }
    }

    /** What a new token is: its name, kind, scope, expiry and, for portal tokens, the session it belongs to. */
    public record NewKey(String name, String kind, String appId, boolean readOnly, String sessionId, Instant expiresAt) {}

    /** A token just made: the only moment its value exists outside its holder. */
    public record Issued(Key key, String token) {
        @Override
        public String toString() {
            return "Issued[" + key.id() + "]"; // never the token
        }
    }

    /** A presented token as it can be stored: keyed hash, legacy hash and visible prefix. */
    public record Presented(String keyed, String legacy, String prefix) {}

    private final Jdbc jdbc;
    /** Keyed once; each hash works on a clone, which is cheaper than a new Mac and shares nothing mutable. */
    private final Mac prototype;

    /** {@code pepper}: the server's 32 random bytes (server_secret 'token-pepper'), the same on every node. */
    public TokenStore(Jdbc jdbc, byte[] pepper) {
        this.jdbc = jdbc;
        try {
            this.prototype = Mac.getInstance("HmacSHA256");
            prototype.init(new SecretKeySpec(pepper.clone(), "HmacSHA256"));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The token as it can be stored, given its {@link #keyed} hash. */
    public Presented presented(String token, String keyed) {
        return new Presented(keyed, legacy(token), prefixOf(token));
    }

    /** The token's HMAC-SHA256 under the pepper, hex. */
    public String keyed(String token) {
        Mac mac;
        try {
            mac = (Mac) prototype.clone();
        } catch (CloneNotSupportedException e) {
            throw new IllegalStateException(e);
        }
        return HexFormat.of().formatHex(mac.doFinal(token.getBytes(StandardCharsets.UTF_8)));
    }

    static String legacy(String token) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(token.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * What stays visible of a token: {@value #VISIBLE} characters of a generated one, which are a
     * small part of its randomness; at most 4 of one an operator chose, which may be short.
     */
    static String prefixOf(String token) {
        boolean generated = token.startsWith(TOKEN_PREFIX) && token.length() == TOKEN_PREFIX.length() + 43;
        return generated ? token.substring(0, VISIBLE) : token.substring(0, Math.min(4, token.length() / 4));
    }

    public static String newToken() {
        byte[] raw = new byte[32];
        RANDOM.nextBytes(raw);
        return TOKEN_PREFIX + Base64.getUrlEncoder().withoutPadding().encodeToString(raw);
    }

    /**
     * The token stored under either hash, whatever its state (the caller tells revoked and expired
     * from usable). A usable one found under its legacy hash is re-hashed with the pepper.
     */
    public Optional<Key> lookup(Presented p, Instant now) {
        Optional<Object[]> row = jdbc.queryOne("SELECT " + COLUMNS + ", hash_scheme FROM api_token"
                        + " WHERE (token_hash = ? AND hash_scheme = '" + HMAC + "') OR (token_hash = ? AND hash_scheme = '" + LEGACY + "')",
                rs -> new Object[] {map(rs), rs.getString("hash_scheme")}, p.keyed(), p.legacy());
        if (row.isEmpty()) return Optional.empty();
        Key k = (Key) row.get()[0];
        if (LEGACY.equals(row.get()[1]) && k.usableAt(now)) {
            jdbc.update("UPDATE api_token SET token_hash = ?, hash_scheme = '" + HMAC + "', prefix = coalesce(prefix, ?)"
                    + " WHERE id = ? AND hash_scheme = '" + LEGACY + "'", p.keyed(), p.prefix(), k.id());
        }
        return Optional.of(k.prefix() == null ? withPrefix(k, p.prefix()) : k);
    }

    private static Key withPrefix(Key k, String prefix) {
        return new Key(k.id(), k.name(), prefix, k.kind(), k.appId(), k.readOnly(), k.sessionId(), k.createdAt(), k.expiresAt(),
                k.lastUsedAt(), k.revokedAt());
    }

    /** Makes a token; its value is in the result and nowhere else. */
    public Issued create(NewKey n, Instant now) {
        String token = newToken();
        Instant at = now.truncatedTo(ChronoUnit.MICROS);
        Instant expires = n.expiresAt() == null ? null : n.expiresAt().truncatedTo(ChronoUnit.MICROS);
        Key k = new Key(Ids.token(now), n.name(), prefixOf(token), n.kind(), n.appId(), n.readOnly(), n.sessionId(), at, expires, null, null);
        jdbc.update("""
                INSERT INTO api_token (id, token_hash, hash_scheme, prefix, name, kind, app_id, read_only, session_id, expires_at, created_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                k.id(), keyed(token), HMAC, k.prefix(), k.name(), k.kind(), k.appId(), k.readOnly(), k.sessionId(), k.expiresAt(), k.createdAt());
        return new Issued(k, token);
    }

    public Optional<Key> find(String id) {
        return jdbc.queryOne("SELECT " + COLUMNS + " FROM api_token WHERE id = ?", TokenStore::map, id);
    }

    /** Tokens of one kind by id (creation time), optionally of one application, revoked ones only when asked for. */
    public Page<Key> list(String kind, String appId, boolean includeRevoked, PageRequest page) {
        StringBuilder sql = new StringBuilder("SELECT " + COLUMNS + " FROM api_token WHERE kind = ?");
        List<Object> params = new ArrayList<>(List.of(kind));
        if (appId != null) {
            sql.append(" AND app_id = ?");
            params.add(appId);
        }
        if (!includeRevoked) sql.append(" AND revoked_at IS NULL");
        return page.run(jdbc, sql.toString(), "id", params, TokenStore::map, Key::id);
    }

    /** Revokes the token (a second revocation keeps the first time). Empty when there is no such token. */
    public Optional<Key> revoke(String id, Instant now) {
        return jdbc.queryOne("UPDATE api_token SET revoked_at = coalesce(revoked_at, ?) WHERE id = ? RETURNING " + COLUMNS,
                TokenStore::map, now, id);
    }

    /**
     * Makes every token of the application that is still usable expire at {@code at} at the latest
     * (an earlier expiry stays), only those of the given sessions when there are any. Returns their ids.
     */
    public List<String> expireApp(String appId, Instant at, List<String> sessionIds, Instant now) {
        String sql = "UPDATE api_token SET expires_at = LEAST(coalesce(expires_at, 'infinity'), ?)"
                + " WHERE app_id = ? AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?)"
                + (sessionIds == null || sessionIds.isEmpty() ? "" : " AND session_id = ANY (?)") + " RETURNING id";
        return sessionIds == null || sessionIds.isEmpty()
                ? jdbc.query(sql, rs -> rs.getString(1), at, appId, now)
                : jdbc.query(sql, rs -> rs.getString(1), at, appId, now, sessionIds.toArray(String[]::new));
    }

    /** Records when tokens were last used, in one statement (a time never moves back). */
    public void touch(Map<String, Instant> lastUsed) {
        if (lastUsed.isEmpty()) return;
        String[] ids = lastUsed.keySet().toArray(String[]::new);
        Timestamp[] at = new Timestamp[ids.length];
        for (int i = 0; i < ids.length; i++) at[i] = Timestamp.from(lastUsed.get(ids[i]));
        jdbc.update("""
                UPDATE api_token t SET last_used_at = GREATEST(coalesce(t.last_used_at, u.at), u.at)
                FROM unnest(?::text[], ?::timestamptz[]) AS u(id, at) WHERE t.id = u.id""", ids, at);
    }

    /** Deletes portal tokens revoked or expired before {@code before}; API keys stay, revoked, for the record. */
    public int purgePortalTokens(Instant before) {
        return jdbc.update("DELETE FROM api_token WHERE kind = ? AND (revoked_at < ? OR expires_at < ?)", PORTAL, before, before);
    }

    /**
     * Makes {@code token} the one token named {@code name}, server-wide and usable: it is stored (as a
     * hash) and any earlier token of that name is deleted, so changing ZERODROP_ADMIN_TOKEN revokes the
     * old value.
     */
    public Key ensure(String name, String token, Instant now) {
        String h = keyed(token);
        return jdbc.tx(c -> {
            Jdbc.update(c, "DELETE FROM api_token WHERE name = ? AND token_hash <> ?", name, h);
            Jdbc.update(c, """
                    INSERT INTO api_token (id, token_hash, hash_scheme, prefix, name, created_at) VALUES (?, ?, ?, ?, ?, ?)
                    ON CONFLICT (token_hash) DO UPDATE SET revoked_at = NULL, expires_at = NULL, app_id = NULL, read_only = false""",
                    Ids.token(now), h, HMAC, prefixOf(token), name, now);
            return Jdbc.queryOne(c, "SELECT " + COLUMNS + " FROM api_token WHERE token_hash = ?", TokenStore::map, h).orElseThrow();
        });
    }

    /**
     * Creates an admin token when no usable server-wide key exists (the first start, or every admin
     * key revoked), atomically across nodes (an advisory lock serialises starts). Returns the token
     * when this call created it; it is never readable again.
     */
    public Optional<String> createFirstAdminToken(Instant now) {
        return jdbc.tx(c -> {
            Jdbc.query(c, "SELECT pg_advisory_xact_lock(7206001)", rs -> 1);
            boolean any = Jdbc.queryOne(c, """
                    SELECT 1 FROM api_token WHERE app_id IS NULL AND kind = 'key' AND revoked_at IS NULL
                      AND (expires_at IS NULL OR expires_at > ?) LIMIT 1""", rs -> 1, now).isPresent();
            if (any) return Optional.<String>empty();
            String token = newToken();
            Jdbc.update(c, "INSERT INTO api_token (id, token_hash, hash_scheme, prefix, name, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                    Ids.token(now), keyed(token), HMAC, prefixOf(token), "admin", now);
            return Optional.of(token);
        });
    }

    private static Key map(ResultSet rs) throws SQLException {
        return new Key(rs.getString("id"), rs.getString("name"), rs.getString("prefix"), rs.getString("kind"), rs.getString("app_id"),
                rs.getBoolean("read_only"), rs.getString("session_id"), Jdbc.instant(rs, "created_at"), Jdbc.instant(rs, "expires_at"),
                Jdbc.instant(rs, "last_used_at"), Jdbc.instant(rs, "revoked_at"));
    }
}
