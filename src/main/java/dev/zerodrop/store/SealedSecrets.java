package dev.zerodrop.store;

import dev.zerodrop.secret.Sealer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * Every secret at rest, across tables: endpoint secrets (current and rotated), endpoint header
 * values and the server's own secrets. The reseal seals with the current key every value that is in
 * clear (stored by a version before sealing) or sealed with another key of the ring (after a key
 * rotation); the census counts the values under each key id.
 */
public final class SealedSecrets {
    /** Endpoint rows read and rewritten per transaction. */
    static final int BATCH = 500;

    /**
     * The values at rest by the key that sealed them. {@code byKeyId} holds every key id found in
     * the database, loaded on this node or not; {@code clear} counts values stored before sealing.
     */
    public record Census(String currentKeyId, List<String> loadedKeyIds, long clear, Map<String, Long> byKeyId) {
        /** Values the reseal would seal again: in clear, or under a loaded key that no longer seals. */
        public long toReseal() {
            long n = clear;
            for (var e : byKeyId.entrySet()) if (!e.getKey().equals(currentKeyId) && loadedKeyIds.contains(e.getKey())) n += e.getValue();
            return n;
        }

        /** Values sealed with a key this node does not have: they do not open here. */
        public long unopenable() {
            long n = 0;
            for (var e : byKeyId.entrySet()) if (!loadedKeyIds.contains(e.getKey())) n += e.getValue();
            return n;
        }
    }

    /**
     * What one reseal did: {@code rows} endpoint rows rewritten holding {@code values} values, plus
     * {@code serverSecrets}; {@code raced} rows changed by another writer between the read and the
     * write (left to it, and to the next run); {@code unopenable} rows sealed with a key of
     * {@code missingKeyIds}, which this node does not have.
     */
    public record Reseal(int rows, int values, int serverSecrets, int raced, int unopenable, Set<String> missingKeyIds) {}

    private final Jdbc jdbc;
    private final EndpointSecrets secrets;
    private final ServerSecretStore serverSecrets;

    public SealedSecrets(Jdbc jdbc, EndpointSecrets secrets, ServerSecretStore serverSecrets) {
        this.jdbc = jdbc;
        this.secrets = secrets;
        this.serverSecrets = serverSecrets;
    }

    /**
     * Seals again, with the current key, every value at rest that needs it, {@value #BATCH} endpoint
     * rows per transaction. A row is written only while its three columns still hold the text that
     * was read: a concurrent write (which seals with its own node's current key) is never
     * overwritten. Values that do not open here are left as they are and counted.
     */
    public Reseal reseal() {
        String current = "zd1:" + secrets.sealer().currentKeyId() + ":%";
        int rows = 0, values = 0, raced = 0, unopenable = 0;
        Set<String> missing = new TreeSet<>();
        String after = "";
        while (true) {
            List<Row> batch = toReseal(after, current, BATCH);
            if (batch.isEmpty()) break;
            after = batch.getLast().id();
            List<Rewrite> rewrites = new ArrayList<>(batch.size());
            for (Row r : batch) {
                try {
                    EndpointSecrets.Resealed x = secrets.reseal(r.id(), r.secret(), r.headers(), r.oldSecrets());
                    if (x != null) rewrites.add(new Rewrite(r, x));
                } catch (Sealer.SealedException e) {
                    unopenable++;
                    missing.addAll(missingKeys(r));
                }
            }
            int written = write(rewrites);
            rows += written;
            raced += rewrites.size() - written;
            for (Rewrite w : rewrites) values += w.resealed().values();
            if (batch.size() < BATCH) break;
        }
        return new Reseal(rows, values, serverSecrets.reseal(), raced, unopenable, missing);
    }

    /** An endpoint row's sealed columns as read ({@code headers} and {@code oldSecrets} as jsonb text). */
    record Row(String id, String secret, String headers, String oldSecrets) {}

    record Rewrite(Row was, EndpointSecrets.Resealed resealed) {}

    /** Endpoint rows after {@code afterId}, in id order, holding a value that is not sealed with the current key. */
    List<Row> toReseal(String afterId, String currentPattern, int limit) {
        return jdbc.query("""
                SELECT id, secret, headers::text AS headers, old_secrets::text AS old_secrets FROM endpoint
                 WHERE id > ? AND (secret NOT LIKE ?
                       OR EXISTS (SELECT 1 FROM jsonb_each_text(headers) h WHERE h.value NOT LIKE ?)
                       OR EXISTS (SELECT 1 FROM jsonb_array_elements(old_secrets) o WHERE o->>'key' NOT LIKE ?))
                 ORDER BY id LIMIT ?""",
                rs -> new Row(rs.getString("id"), rs.getString("secret"), rs.getString("headers"), rs.getString("old_secrets")),
                afterId, currentPattern, currentPattern, currentPattern, limit);
    }

    /** Writes the rewrites whose row still holds what was read, in one statement; returns how many were written. */
    int write(List<Rewrite> rewrites) {
        if (rewrites.isEmpty()) return 0;
        int n = rewrites.size();
        String[] ids = new String[n], wasSecret = new String[n], wasHeaders = new String[n], wasOld = new String[n];
        String[] secret = new String[n], headers = new String[n], old = new String[n];
        for (int i = 0; i < n; i++) {
            Rewrite w = rewrites.get(i);
            ids[i] = w.was().id();
            wasSecret[i] = w.was().secret();
            wasHeaders[i] = w.was().headers();
            wasOld[i] = w.was().oldSecrets();
            secret[i] = w.resealed().secret();
            headers[i] = w.resealed().headers();
            old[i] = w.resealed().oldSecrets();
        }
        // Not updated_at: sealing again changes no setting of the endpoint.
        return jdbc.tx(c -> Jdbc.update(c, """
                UPDATE endpoint e SET secret = coalesce(v.secret, e.secret),
                       headers = coalesce(v.headers::jsonb, e.headers), old_secrets = coalesce(v.old_secrets::jsonb, e.old_secrets)
                  FROM unnest(?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[])
                       AS v(id, was_secret, was_headers, was_old, secret, headers, old_secrets)
                 WHERE e.id = v.id AND e.secret = v.was_secret AND e.headers = v.was_headers::jsonb
                   AND e.old_secrets = v.was_old::jsonb""",
                ids, wasSecret, wasHeaders, wasOld, secret, headers, old));
    }

    /** The key ids of a row's sealed values that this node does not have. */
    private Set<String> missingKeys(Row r) {
        Set<String> ids = new TreeSet<>();
        List<String> loaded = secrets.sealer().keyIds();
        for (String v : EndpointSecrets.values(r.secret(), r.headers(), r.oldSecrets())) {
            String id = Sealer.keyIdOf(v);
            if (id != null && !loaded.contains(id)) ids.add(id);
        }
        return ids;
    }

    /** Counts every secret value at rest by the id of the key that sealed it (deleted endpoints' included). */
    public Census census() {
        Map<String, Long> byKey = new TreeMap<>();
        long[] clear = {0};
        jdbc.query("""
                SELECT CASE WHEN v LIKE 'zd1:%' THEN split_part(v, ':', 2) END AS key_id, count(*) AS n FROM (
                       SELECT secret AS v FROM endpoint
                       UNION ALL SELECT o->>'key' FROM endpoint, jsonb_array_elements(old_secrets) o
                       UNION ALL SELECT h.value FROM endpoint, jsonb_each_text(headers) h
                       UNION ALL SELECT value FROM server_secret) s
                 GROUP BY 1""",
                rs -> {
                    String id = rs.getString("key_id");
                    if (id == null) clear[0] += rs.getLong("n");
                    else byKey.put(id, rs.getLong("n"));
                    return null;
                });
        Sealer sealer = secrets.sealer();
        return new Census(sealer.currentKeyId(), sealer.keyIds(), clear[0], byKey);
    }
}
