package dev.zerodrop.store;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import dev.zerodrop.core.Json;
import dev.zerodrop.secret.Sealer;
import dev.zerodrop.store.EndpointStore.OldSecret;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Seals what an endpoint keeps secret before it reaches the database, and opens it again: its
 * signing secret, the rotated secrets still in their grace period, and the value of every custom
 * header. Every header value is sealed, not only those whose name looks sensitive: which header
 * carries a credential is the receiver's business. Header names stay in clear. Each value is sealed
 * for its place (the endpoint's id, and the header's name), so that a sealed value copied into
 * another row, or under another header name, does not open there.
 *
 * <p>The dispatcher's hot path opens an endpoint's columns once per change of the row, not once per
 * delivery: the opened values are kept by endpoint id with the sealed text they came from, and a row
 * whose text is unchanged costs a map lookup and three string comparisons (no decryption, no JSON).
 */
public final class EndpointSecrets {
    /** Endpoints whose opened values are kept; past this the memo starts again (a cost, never an error). */
    private static final int HOT_ENTRIES = 10_000;
    private static final TypeReference<List<OldSecret>> OLD_SECRETS = new TypeReference<>() {};

    private final Sealer sealer;
    private final Map<String, Hot> hot = new ConcurrentHashMap<>();

    /** An endpoint's secrets, opened. The maps and lists are shared: never change them. */
    public record Opened(String secret, List<OldSecret> oldSecrets, Map<String, String> headers) {
        static final Opened NONE = new Opened(null, List.of(), Map.of());

        @Override
        public String toString() {
            return "Opened[" + headers.size() + " headers, " + oldSecrets.size() + " rotated secrets]"; // never the values
        }
    }

    /** The sealed text a row had when it was opened, and what it opened to. */
    private record Hot(String secret, String headers, String oldSecrets, Opened opened) {}

    /** A row's sealed columns with the current key: the new text of each, or null where nothing changes. */
    record Resealed(String secret, String headers, String oldSecrets, int values) {}

    public EndpointSecrets(Sealer sealer) {
        this.sealer = sealer;
    }

    public Sealer sealer() {
        return sealer;
    }

    String sealSecret(String endpointId, String secret) {
        return sealer.seal(secretPurpose(endpointId), secret);
    }

    Jdbc.Json sealHeaders(String endpointId, Map<String, String> headers) {
        Map<String, String> sealed = new LinkedHashMap<>();
        headers.forEach((name, value) -> sealed.put(name, sealer.seal(headerPurpose(endpointId, name), value)));
        return new Jdbc.Json(Json.write(sealed));
    }

    Jdbc.Json sealOldSecrets(String endpointId, List<OldSecret> old) {
        List<OldSecret> sealed = new ArrayList<>(old.size());
        for (OldSecret s : old) sealed.add(new OldSecret(sealer.seal(oldPurpose(endpointId), s.key()), s.expiresAt()));
        return new Jdbc.Json(Json.write(sealed));
    }

    /**
     * Opens an endpoint's sealed columns as read ({@code headers} and {@code oldSecrets} as JSON
     * text). Values stored in clear by older versions pass as they are.
     *
     * @throws Sealer.SealedException when a value is sealed with a key this node does not have
     */
    Opened open(String endpointId, String secret, String headers, String oldSecrets) {
        Hot h = hot.get(endpointId);
        if (h != null && h.secret().equals(secret) && h.headers().equals(headers) && h.oldSecrets().equals(oldSecrets)) {
            return h.opened();
        }
        Map<String, String> openedHeaders = new LinkedHashMap<>();
        Json.stringMap(headers).forEach((name, value) -> openedHeaders.put(name, sealer.open(headerPurpose(endpointId, name), value)));
        List<OldSecret> openedOld = new ArrayList<>();
        for (OldSecret s : parseOld(oldSecrets)) openedOld.add(new OldSecret(sealer.open(oldPurpose(endpointId), s.key()), s.expiresAt()));
        Opened opened = new Opened(sealer.open(secretPurpose(endpointId), secret), List.copyOf(openedOld),
                Collections.unmodifiableMap(openedHeaders));
        if (hot.size() >= HOT_ENTRIES) hot.clear();
        hot.put(endpointId, new Hot(secret, headers, oldSecrets, opened));
        return opened;
    }

    /**
     * Seals again with the current key each value of a row that is clear or sealed with another key;
     * values sealed with the current key keep their text. Null when the row needs nothing.
     *
     * @throws Sealer.SealedException when a value is sealed with a key this node does not have
     */
    Resealed reseal(String endpointId, String secret, String headers, String oldSecrets) {
        int values = 0;
        String newSecret = null;
        if (!sealer.isCurrent(secret)) {
            newSecret = sealSecret(endpointId, sealer.open(secretPurpose(endpointId), secret));
            values++;
        }
        Map<String, String> h = Json.stringMap(headers);
        boolean headersChanged = false;
        for (var e : h.entrySet()) {
            if (sealer.isCurrent(e.getValue())) continue;
            String purpose = headerPurpose(endpointId, e.getKey());
            e.setValue(sealer.seal(purpose, sealer.open(purpose, e.getValue())));
            headersChanged = true;
            values++;
        }
        List<OldSecret> old = new ArrayList<>(parseOld(oldSecrets));
        boolean oldChanged = false;
        for (int i = 0; i < old.size(); i++) {
            OldSecret s = old.get(i);
            if (sealer.isCurrent(s.key())) continue;
            old.set(i, new OldSecret(sealer.seal(oldPurpose(endpointId), sealer.open(oldPurpose(endpointId), s.key())), s.expiresAt()));
            oldChanged = true;
            values++;
        }
        if (values == 0) return null;
        return new Resealed(newSecret, headersChanged ? Json.write(h) : null, oldChanged ? Json.write(old) : null, values);
    }

    /** Every value of a row's sealed columns, as stored. */
    static List<String> values(String secret, String headers, String oldSecrets) {
        List<String> out = new ArrayList<>(List.of(secret));
        out.addAll(Json.stringMap(headers).values());
        for (OldSecret s : parseOld(oldSecrets)) out.add(s.key());
        return out;
    }

    /** The secrets that sign a delivery now: the current one first, then those still in their grace period. */
    static List<String> signingSecrets(String secret, List<OldSecret> oldSecrets, Instant now) {
        List<String> out = new ArrayList<>(1 + oldSecrets.size());
        out.add(secret);
        for (OldSecret s : oldSecrets) if (s.expiresAt() > now.toEpochMilli()) out.add(s.key());
        return out;
    }

    private static List<OldSecret> parseOld(String json) {
        if (json == null || json.isEmpty()) return List.of();
        try {
            return Json.MAPPER.readValue(json, OLD_SECRETS);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("an endpoint's old_secrets are not a JSON list", e);
        }
    }

    private static String secretPurpose(String endpointId) {
        return "endpoint.secret/" + endpointId;
    }

    private static String oldPurpose(String endpointId) {
        return "endpoint.old_secret/" + endpointId;
    }

    private static String headerPurpose(String endpointId, String name) {
        return "endpoint.header/" + endpointId + "/" + name;
    }

    /** An endpoint's sealed columns as read, opened on first use: listing endpoints decrypts nothing. */
    public static final class Stored {
        private final EndpointSecrets secrets;
        private final String endpointId;
        private final String secret;
        private final String headers;
        private final String oldSecrets;
        private volatile Opened opened;

        Stored(EndpointSecrets secrets, String endpointId, String secret, String headers, String oldSecrets) {
            this.secrets = secrets;
            this.endpointId = endpointId;
            this.secret = secret;
            this.headers = headers;
            this.oldSecrets = oldSecrets;
        }

        /** @throws Sealer.SealedException when a value is sealed with a key this node does not have */
        public Opened opened() {
            Opened o = opened;
            if (o == null) opened = o = secrets.open(endpointId, secret, headers, oldSecrets);
            return o;
        }

        @Override
        public String toString() {
            return "Stored[sealed]";
        }
    }
}
