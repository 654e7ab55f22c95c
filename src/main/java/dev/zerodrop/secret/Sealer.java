package dev.zerodrop.secret;

import dev.zerodrop.core.PrivateFiles;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import javax.crypto.Cipher;
import javax.crypto.SecretKey;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;

/**
 * Seals secrets before they reach the database: AES-256-GCM with a random 96-bit nonce, under the
 * first key of a key ring; any key of the ring opens. A sealed value reads
 * {@code zd1:<key id>:<base64url(nonce ‖ ciphertext ‖ tag)>}, where the key id is the first 8 hex
 * digits of the key's SHA-256 (it names the key without revealing it). The purpose (for example
 * {@code endpoint.secret}) is authenticated with the value, so a sealed value copied into another
 * column does not open there.
 *
 * <p>A value that does not start with {@code zd1:} was stored before sealing existed; {@link #open}
 * returns it as it is, and the reseal job seals it.
 */
public final class Sealer {
    public static final String PREFIX = "zd1:";
    private static final int NONCE_BYTES = 12;
    private static final int TAG_BITS = 128;
    private static final SecureRandom RANDOM = new SecureRandom();

    /** One key of the ring. */
    public record Key(String id, SecretKey key) {
        static Key of(byte[] raw) {
            if (raw.length != 32) throw new IllegalArgumentException("a key must be 32 bytes (base64 of 32 bytes), not " + raw.length);
            try {
                String id = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(raw)).substring(0, 8);
                return new Key(id, new SecretKeySpec(raw, "AES"));
            } catch (NoSuchAlgorithmException e) {
                throw new IllegalStateException(e);
            }
        }

        @Override
        public String toString() {
            return "Key[" + id + "]"; // never the key itself
        }
    }

    private final List<Key> ring;
    private final Map<String, Key> byId = new LinkedHashMap<>();
    /** Opened values, so that the dispatcher's hot path does not decrypt the same secret again and again. */
    private final Map<String, String> opened = java.util.Collections.synchronizedMap(new LinkedHashMap<>(1024, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, String> eldest) {
            return size() > 10_000;
        }
    });

    private final java.util.concurrent.atomic.LongAdder decryptions = new java.util.concurrent.atomic.LongAdder();

    public Sealer(List<Key> ring) {
        if (ring.isEmpty()) throw new IllegalArgumentException("the key ring is empty");
        this.ring = List.copyOf(ring);
        for (Key k : ring) byId.putIfAbsent(k.id(), k);
    }

    /**
     * The key ring of this node: {@code configured} (ZERODROP_SECRET_KEY: comma-separated base64 keys
     * of 32 bytes, the first one seals), or else the key in {@code <data-dir>/secret.key}, generated
     * with mode 0600 on the first start.
     */
    public static Sealer load(Optional<String> configured, Path dataDir) throws IOException {
        if (configured.isPresent()) return new Sealer(parse(configured.get()));
        Files.createDirectories(dataDir);
        PrivateFiles.restrict(dataDir);
        String key = PrivateFiles.secretFile(dataDir.resolve("secret.key"));
        return new Sealer(parse(key));
    }

    /** Parses a comma-separated list of base64 (standard or URL-safe) keys of 32 bytes. */
    public static List<Key> parse(String text) {
        List<Key> keys = new ArrayList<>();
        for (String part : text.split(",")) {
            String p = part.strip();
            if (p.isEmpty()) continue;
            byte[] raw;
            try {
                raw = p.contains("+") || p.contains("/") ? Base64.getDecoder().decode(p) : Base64.getUrlDecoder().decode(p);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("a key is not base64");
            }
            keys.add(Key.of(raw));
        }
        if (keys.isEmpty()) throw new IllegalArgumentException("no key given");
        return keys;
    }

    /** A new random key, base64url, for ZERODROP_SECRET_KEY. */
    public static String newKey() {
        byte[] raw = new byte[32];
        RANDOM.nextBytes(raw);
        return Base64.getUrlEncoder().withoutPadding().encodeToString(raw);
    }

    /** The id of the key that seals. */
    public String currentKeyId() {
        return ring.getFirst().id();
    }

    /** The ids of every key of the ring, the one that seals first. */
    public List<String> keyIds() {
        return List.copyOf(byId.keySet());
    }

    /**
     * The id of the key that sealed {@code value}, or null for a value stored in clear (before
     * sealing existed).
     */
    public static String keyIdOf(String value) {
        if (value == null || !value.startsWith(PREFIX)) return null;
        int colon = value.indexOf(':', PREFIX.length());
        return colon < 0 ? "" : value.substring(PREFIX.length(), colon);
    }

    public String seal(String purpose, String plain) {
        if (plain == null) return null;
        Key k = ring.getFirst();
        byte[] nonce = new byte[NONCE_BYTES];
        RANDOM.nextBytes(nonce);
        try {
            Cipher c = Cipher.getInstance("AES/GCM/NoPadding");
            c.init(Cipher.ENCRYPT_MODE, k.key(), new GCMParameterSpec(TAG_BITS, nonce));
            c.updateAAD(purpose.getBytes(StandardCharsets.UTF_8));
            byte[] sealed = c.doFinal(plain.getBytes(StandardCharsets.UTF_8));
            byte[] out = new byte[NONCE_BYTES + sealed.length];
            System.arraycopy(nonce, 0, out, 0, NONCE_BYTES);
            System.arraycopy(sealed, 0, out, NONCE_BYTES, sealed.length);
            return PREFIX + k.id() + ":" + Base64.getUrlEncoder().withoutPadding().encodeToString(out);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("sealing failed", e);
        }
    }

    /**
     * Opens a sealed value (or returns a value stored before sealing as it is). Throws
     * {@link SealedException} when no key of the ring opens it: the node was given another key.
     */
    public String open(String purpose, String value) {
        if (value == null || !value.startsWith(PREFIX)) return value;
        String cacheKey = purpose + "\u0000" + value;
        String hit = opened.get(cacheKey);
        if (hit != null) return hit;
        int colon = value.indexOf(':', PREFIX.length());
        if (colon < 0) throw new SealedException("a sealed value is malformed");
        String id = value.substring(PREFIX.length(), colon);
        Key k = byId.get(id);
        if (k == null) {
            throw new SealedException("a secret is sealed with key " + id + ", which this node does not have; give every node the same "
                    + "ZERODROP_SECRET_KEY (keys " + byId.keySet() + " are loaded)");
        }
        try {
            byte[] in = Base64.getUrlDecoder().decode(value.substring(colon + 1));
            Cipher c = Cipher.getInstance("AES/GCM/NoPadding");
            c.init(Cipher.DECRYPT_MODE, k.key(), new GCMParameterSpec(TAG_BITS, in, 0, NONCE_BYTES));
            c.updateAAD(purpose.getBytes(StandardCharsets.UTF_8));
            String plain = new String(c.doFinal(in, NONCE_BYTES, in.length - NONCE_BYTES), StandardCharsets.UTF_8);
            decryptions.increment();
            opened.put(cacheKey, plain);
            return plain;
        } catch (GeneralSecurityException | IllegalArgumentException e) {
            throw new SealedException("a secret sealed with key " + id + " does not open (corrupt, or sealed for another purpose)");
        }
    }

    /** How many values this sealer has decrypted (cache hits excluded): what the hot path must not do per delivery. */
    public long decryptions() {
        return decryptions.sum();
    }

    /** True when {@code value} is sealed with the current key (nothing to reseal). */
    public boolean isCurrent(String value) {
        return value != null && value.startsWith(PREFIX + currentKeyId() + ":");
    }

    /** A sealed value that this node cannot open. */
    public static final class SealedException extends RuntimeException {
        public SealedException(String message) {
            super(message);
        }
    }
}
