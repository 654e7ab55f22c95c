package dev.zerodrop.delivery;

import java.nio.charset.StandardCharsets;
import java.security.InvalidKeyException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.List;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * Standard Webhooks signatures: {@code v1,} + base64(HMAC-SHA256(key, id.timestamp.body)), where the
 * key is the base64 decoding of the secret after its {@code whsec_} prefix.
 */
public final class Signer {
    public static final String PREFIX = "whsec_";
    private static final SecureRandom RANDOM = new SecureRandom();

    private Signer() {}

    /** A new secret: {@code whsec_} and the base64 of 24 random bytes, as Svix generates them. */
    public static String newSecret() {
        byte[] key = new byte[24];
        RANDOM.nextBytes(key);
        return PREFIX + Base64.getEncoder().encodeToString(key);
    }

    /** Decodes a secret's key. Throws IllegalArgumentException unless it is base64 of 24 to 64 bytes. */
    public static byte[] key(String secret) {
        String b64 = secret.startsWith(PREFIX) ? secret.substring(PREFIX.length()) : secret;
        byte[] key = Base64.getDecoder().decode(b64);
        if (key.length < 24 || key.length > 64) {
            throw new IllegalArgumentException("the key must be 24 to 64 bytes, not " + key.length);
        }
        return key;
    }

    /** Normalises a user-given secret to the {@code whsec_} form, validating it. */
    public static String normalise(String secret) {
        key(secret);
        return secret.startsWith(PREFIX) ? secret : PREFIX + secret;
    }

    public static String sign(String secret, String msgId, long timestampSeconds, byte[] body) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(key(secret), "HmacSHA256"));
            mac.update((msgId + "." + timestampSeconds + ".").getBytes(StandardCharsets.UTF_8));
            return "v1," + Base64.getEncoder().encodeToString(mac.doFinal(body));
        } catch (NoSuchAlgorithmException | InvalidKeyException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The {@code webhook-signature} header value: one {@code v1} entry per secret, space-separated. */
    public static String header(List<String> secrets, String msgId, long timestampSeconds, byte[] body) {
        StringBuilder sb = new StringBuilder();
        for (String s : secrets) {
            if (!sb.isEmpty()) sb.append(' ');
            sb.append(sign(s, msgId, timestampSeconds, body));
        }
        return sb.toString();
    }

    /**
     * Verifies a signature header as a receiver would: any {@code v1} entry matching, compared in
     * constant time, with the timestamp within {@code toleranceSeconds} of {@code nowSeconds}.
     */
    public static boolean verify(String secret, String msgId, String timestamp, String signatureHeader, byte[] body,
                                 long nowSeconds, long toleranceSeconds) {
        if (msgId == null || timestamp == null || signatureHeader == null) return false;
        long ts;
        try {
            ts = Long.parseLong(timestamp);
        } catch (NumberFormatException e) {
            return false;
        }
        if (Math.abs(nowSeconds - ts) > toleranceSeconds) return false;
        byte[] expected = sign(secret, msgId, ts, body).getBytes(StandardCharsets.UTF_8);
        for (String entry : signatureHeader.split(" ")) {
            if (!entry.startsWith("v1,")) continue;
            if (MessageDigest.isEqual(expected, entry.getBytes(StandardCharsets.UTF_8))) return true;
        }
        return false;
    }
}
