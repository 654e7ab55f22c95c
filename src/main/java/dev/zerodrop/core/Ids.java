package dev.zerodrop.core;

import java.math.BigInteger;
import java.security.SecureRandom;
import java.time.Instant;

/**
 * Svix-style identifiers: a prefix and a KSUID (27 base62 characters: 4 bytes of seconds since
 * 2014-05-13, two bytes of milliseconds, then 14 random bytes). They sort by creation time, which the list iterators use.
 */
public final class Ids {
    private static final long KSUID_EPOCH = 1_400_000_000L;
    private static final String ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    private static final SecureRandom RANDOM = new SecureRandom();

    private Ids() {}

    public static String app(Instant at) { return "app_" + ksuid(at); }
    public static String endpoint(Instant at) { return "ep_" + ksuid(at); }
    public static String message(Instant at) { return "msg_" + ksuid(at); }
    public static String attempt(Instant at) { return "atmpt_" + ksuid(at); }
    public static String token(Instant at) { return "tok_" + ksuid(at); }
    public static String task(Instant at) { return "qtask_" + ksuid(at); }
    /** Ties an error stored in the API (an attempt's response) to its one log line. */
    public static String incident(Instant at) { return "inc_" + ksuid(at); }

    /**
     * The lowest message id of the millisecond of {@code at} (its random part all zeros): the id of
     * every message created in that millisecond or later sorts after it, byte by byte.
     */
    public static String messageFloor(Instant at) {
        // Clamped to the times a KSUID can hold (2014-05-13 to 2150): no message id lies outside them.
        Instant first = Instant.ofEpochSecond(KSUID_EPOCH);
        Instant last = Instant.ofEpochSecond(KSUID_EPOCH + 0xFFFF_FFFFL, 999_000_000);
        return "msg_" + ksuid(at.isBefore(first) ? first : at.isAfter(last) ? last : at, new byte[14]);
    }

    public static String ksuid(Instant at) {
        byte[] rnd = new byte[14];
        RANDOM.nextBytes(rnd);
        return ksuid(at, rnd);
    }

    private static String ksuid(Instant at, byte[] rnd) {
        byte[] raw = new byte[20];
        long ts = at.getEpochSecond() - KSUID_EPOCH;
        raw[0] = (byte) (ts >>> 24);
        raw[1] = (byte) (ts >>> 16);
        raw[2] = (byte) (ts >>> 8);
        raw[3] = (byte) ts;
        // Two bytes of milliseconds after the seconds keep ids created in the same second in order.
        int millis = at.getNano() / 1_000_000;
        raw[4] = (byte) (millis >>> 8);
        raw[5] = (byte) millis;
        System.arraycopy(rnd, 0, raw, 6, 14);
        BigInteger n = new BigInteger(1, raw);
        char[] out = new char[27];
        BigInteger base = BigInteger.valueOf(62);
        for (int i = 26; i >= 0; i--) {
            BigInteger[] qr = n.divideAndRemainder(base);
            out[i] = ALPHABET.charAt(qr[1].intValue());
            n = qr[0];
        }
        return new String(out);
    }
}
