package dev.zerodrop.store;

import dev.zerodrop.core.Ids;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.util.HexFormat;
import java.util.Optional;

/** API tokens, stored only as SHA-256 hashes. */
public final class TokenStore {
    private final Jdbc jdbc;

    public TokenStore(Jdbc jdbc) {
        this.jdbc = jdbc;
    }

    public static String hash(String token) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(token.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Returns the id of the token with this value, if any. */
    public Optional<String> lookup(String token) {
        return jdbc.queryOne("SELECT id FROM api_token WHERE token_hash = ?", rs -> rs.getString(1), hash(token));
    }

    public boolean any() {
        return jdbc.queryOne("SELECT 1 FROM api_token LIMIT 1", rs -> 1).isPresent();
    }

    /**
     * Makes {@code token} the one token named {@code name}: it is stored (as a hash) and any earlier
     * token of that name stops working, so changing ZERODROP_ADMIN_TOKEN revokes the old value.
     */
    public void ensure(String name, String token, Instant now) {
        String h = hash(token);
        jdbc.tx(c -> {
            Jdbc.update(c, "DELETE FROM api_token WHERE name = ? AND token_hash <> ?", name, h);
            return Jdbc.update(c, "INSERT INTO api_token (id, token_hash, name, created_at) VALUES (?,?,?,?) ON CONFLICT (token_hash) DO NOTHING",
                    Ids.token(now), h, name, now);
        });
    }

    /**
     * Creates the first admin token when there is none, atomically across nodes (an advisory lock
     * serialises first starts). Returns the token when this call created it; it is never readable again.
     */
    public Optional<String> createFirstAdminToken(Instant now) {
        return jdbc.tx(c -> {
            Jdbc.query(c, "SELECT pg_advisory_xact_lock(7206001)", rs -> 1);
            if (Jdbc.queryOne(c, "SELECT 1 FROM api_token LIMIT 1", rs -> 1).isPresent()) return Optional.<String>empty();
            byte[] raw = new byte[32];
            new java.security.SecureRandom().nextBytes(raw);
            String token = "zd_" + java.util.Base64.getUrlEncoder().withoutPadding().encodeToString(raw);
            Jdbc.update(c, "INSERT INTO api_token (id, token_hash, name, created_at) VALUES (?,?,?,?)", Ids.token(now), hash(token), "admin", now);
            return Optional.of(token);
        });
    }
}
