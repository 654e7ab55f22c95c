package dev.zerodrop.store;

import dev.zerodrop.secret.Sealer;
import java.security.SecureRandom;
import java.time.Instant;
import java.util.Base64;

/**
 * Named random secrets of the server, made once and shared by every node through the database,
 * sealed with the key ring so that the database alone does not reveal them.
 */
public final class ServerSecretStore {
    private static final SecureRandom RANDOM = new SecureRandom();

    private final Jdbc jdbc;
    private final Sealer sealer;

    public ServerSecretStore(Jdbc jdbc, Sealer sealer) {
        this.jdbc = jdbc;
        this.sealer = sealer;
    }

    /** The 32 random bytes named {@code name}, made on first use (the first node to ask wins a race). */
    public byte[] bytes(String name, Instant now) {
        byte[] raw = new byte[32];
        RANDOM.nextBytes(raw);
        jdbc.update("INSERT INTO server_secret (name, value, created_at) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING",
                name, sealer.seal(purpose(name), Base64.getEncoder().encodeToString(raw)), now);
        String sealed = jdbc.queryOne("SELECT value FROM server_secret WHERE name = ?", rs -> rs.getString(1), name).orElseThrow();
        return Base64.getDecoder().decode(sealer.open(purpose(name), sealed));
    }

    /** Seals again, with the current key, every server secret sealed with another one. Returns how many. */
    public int reseal() {
        int n = 0;
        for (var row : jdbc.query("SELECT name, value FROM server_secret", rs -> new String[] {rs.getString(1), rs.getString(2)})) {
            if (sealer.isCurrent(row[1])) continue;
            String fresh = sealer.seal(purpose(row[0]), sealer.open(purpose(row[0]), row[1]));
            n += jdbc.update("UPDATE server_secret SET value = ? WHERE name = ? AND value = ?", fresh, row[0], row[1]);
        }
        return n;
    }

    private static String purpose(String name) {
        return "server_secret." + name;
    }
}
