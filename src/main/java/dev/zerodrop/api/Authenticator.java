package dev.zerodrop.api;

import dev.zerodrop.store.TokenStore;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Verifies bearer tokens, cheaply for the tokens that work and without a database query each for
 * those that do not.
 *
 * <ul>
 *   <li>The configured tokens (ZERODROP_ADMIN_TOKEN, ZERODROP_METRICS_TOKEN) are checked in memory,
 *       so they work while the database is away.</li>
 *   <li>A stored token, once verified, is trusted by this node for {@link #CACHE_TTL}. Revoking it,
 *       logging it out or expiring its application's tokens through this node forgets it at once;
 *       other nodes notice within {@link #CACHE_TTL}.</li>
 *   <li>Revoked and expired tokens, and unknown ones, are remembered as refused, so that repeating
 *       one costs no query.</li>
 *   <li>Unknown tokens are throttled: each client address may present {@link Limits#perClientBurst}
 *       of them, refilled at {@link Limits#perClientPerSecond}, and then gets 429 with Retry-After.
 *       Across all clients, at most {@link Limits#unknownLookupsPerSecond} lookups of tokens this
 *       node has not seen work lately reach the database. A token verified lately passes both
 *       limits, so an attack does not lock out the clients whose tokens work.</li>
 * </ul>
 *
 * Every map is keyed by the token's HMAC under the server's pepper, which a client cannot compute,
 * so the time a lookup takes says nothing about the token; the configured tokens are compared in
 * constant time.
 */
public final class Authenticator {
    private static final Logger log = LoggerFactory.getLogger(Authenticator.class);
    /** How long this node trusts a stored token it verified: the bound on a revocation made on another node. */
    public static final Duration CACHE_TTL = Duration.ofSeconds(10);
    /** How long a token unknown to the database is refused without asking it again. */
    static final Duration UNKNOWN_TTL = Duration.ofMinutes(1);
    /** How long revoked and expired tokens are refused without asking again (they never come back). */
    static final Duration REFUSED_TTL = Duration.ofHours(1);
    /** How long a verified token passes the throttles, even after its cache entry is gone. */
    static final Duration KNOWN_TTL = Duration.ofHours(1);
    /** A key's last-used time is written at most this often, by each node. */
    public static final Duration LAST_USED_EVERY = Duration.ofMinutes(1);
    private static final int MAX_ENTRIES = 10_000;
    private static final int MAX_CLIENTS = 100_000;

    /** The throttles of unknown tokens. */
    public record Limits(int perClientBurst, double perClientPerSecond, int unknownLookupBurst, double unknownLookupsPerSecond) {
        public static final Limits DEFAULT = new Limits(20, 1, 200, 100);
    }

    /** A token's answer as counted: verified, refused (unknown, revoked, expired), throttled. */
    public record Counts(long lookups, long verified, long unknown, long revoked, long expired, long throttled) {}

    private record Verified(Principal principal, Instant expiresAt, long checkedAtMillis) {}

    private record Refused(String detail, boolean unknown, long untilMillis) {}

    private record Configured(byte[] hash, Principal principal) {}

    private final TokenStore tokens;
    private final Function<String, Optional<String>> appIds;
    private final InstantSource clock;
    private final LongSupplier nanos;
    private final Limits limits;
    private final List<Configured> configured;
    private final Map<String, Verified> verified = new ConcurrentHashMap<>();
    private final Map<String, Long> known = new ConcurrentHashMap<>();
    private final Map<String, Refused> refused = new ConcurrentHashMap<>();
    private final Map<String, Bucket> clients = new ConcurrentHashMap<>();
    private final Bucket unknownLookups;
    private final Map<String, Long> lastMarked = new ConcurrentHashMap<>();
    private final Map<String, Instant> unwrittenUse = new ConcurrentHashMap<>();
    private final AtomicLong lookups = new AtomicLong();
    private final AtomicLong verifiedCount = new AtomicLong();
    private final AtomicLong unknownCount = new AtomicLong();
    private final AtomicLong revokedCount = new AtomicLong();
    private final AtomicLong expiredCount = new AtomicLong();
    private final AtomicLong throttledCount = new AtomicLong();

    /**
     * {@code adminToken}: ZERODROP_ADMIN_TOKEN and the key it is stored as; {@code metricsToken}:
     * ZERODROP_METRICS_TOKEN, good for /metrics only; {@code appIds}: the id of an application
     * named by id or uid.
     */
    public Authenticator(TokenStore tokens, Optional<Map.Entry<String, TokenStore.Key>> adminToken, Optional<String> metricsToken,
                         Function<String, Optional<String>> appIds, InstantSource clock, Limits limits) {
        this.tokens = tokens;
        this.appIds = appIds;
        this.clock = clock;
        this.nanos = System::nanoTime;
        this.limits = limits;
        List<Configured> c = new java.util.ArrayList<>();
        adminToken.ifPresent(e -> c.add(new Configured(hashBytes(e.getKey()),
                new Principal(e.getValue().id(), null, false, Principal.Source.ADMIN_TOKEN))));
        metricsToken.ifPresent(t -> c.add(new Configured(hashBytes(t), new Principal("metrics", null, true, Principal.Source.METRICS_TOKEN))));
        this.configured = List.copyOf(c);
        this.unknownLookups = new Bucket(limits.unknownLookupBurst(), limits.unknownLookupsPerSecond(), nanos.getAsLong());
    }

    private byte[] hashBytes(String token) {
        return tokens.keyed(token).getBytes(StandardCharsets.US_ASCII);
    }

    /**
     * The principal of {@code token}, presented by {@code client} (its address). Throws 401 for a
     * token that does not work and 429, with {@link Throttled#retryAfterSeconds}, when the client or
     * the node has seen too many unknown tokens.
     */
    public Principal authenticate(String token, String client) {
        Instant now = clock.instant();
        long ms = now.toEpochMilli();
        String key = tokens.keyed(token);
        byte[] hash = key.getBytes(StandardCharsets.US_ASCII);
        for (Configured c : configured) {
            if (MessageDigest.isEqual(c.hash(), hash)) {
                used(c.principal(), now);
                return c.principal();
            }
        }
        Verified v = verified.get(key);
        if (v != null) {
            if (ms - v.checkedAtMillis() < CACHE_TTL.toMillis() && (v.expiresAt() == null || now.isBefore(v.expiresAt()))) {
                used(v.principal(), now);
                return v.principal();
            }
            verified.remove(key, v);
        }
        boolean knownGood = Optional.ofNullable(known.get(key)).filter(at -> ms - at < KNOWN_TTL.toMillis()).isPresent();
        Bucket bucket = null;
        if (!knownGood) {
            Refused r = refused.get(key);
            if (r != null && r.untilMillis() <= ms) {
                refused.remove(key, r);
                r = null;
            }
            if (r != null && !r.unknown()) throw failed(r.detail());
            bucket = clients.computeIfAbsent(client, x -> new Bucket(limits.perClientBurst(), limits.perClientPerSecond(), nanos.getAsLong()));
            long wait = bucket.waitNanos(nanos.getAsLong());
            if (wait > 0) throw throttled(wait, "too many unknown tokens from this address");
            if (r != null) {
                bucket.take(nanos.getAsLong());
                unknownCount.incrementAndGet();
                throw failed(r.detail());
            }
            if (!unknownLookups.tryTake(nanos.getAsLong())) throw throttled(1_000_000_000L, "too many unknown tokens on this node");
        }
        lookups.incrementAndGet();
        Optional<TokenStore.Key> found = tokens.lookup(tokens.presented(token, key), now);
        if (found.isEmpty()) {
            if (bucket != null) bucket.take(nanos.getAsLong());
            unknownCount.incrementAndGet();
            refuse(key, new Refused("invalid token", true, ms + UNKNOWN_TTL.toMillis()));
            trimClients();
            throw failed("invalid token");
        }
        TokenStore.Key k = found.get();
        if (k.revokedAt() != null) {
            revokedCount.incrementAndGet();
            refuse(key, new Refused("this token was revoked", false, ms + REFUSED_TTL.toMillis()));
            throw failed("this token was revoked");
        }
        if (!k.usableAt(now)) {
            expiredCount.incrementAndGet();
            refuse(key, new Refused("this token has expired", false, ms + REFUSED_TTL.toMillis()));
            throw failed("this token has expired");
        }
        Principal principal = new Principal(k.id(), k.appId(), k.readOnly(), Principal.Source.STORED);
        if (verified.size() >= MAX_ENTRIES) verified.clear();
        verified.put(key, new Verified(principal, k.expiresAt(), ms));
        if (known.size() >= MAX_ENTRIES) known.clear();
        known.put(key, ms);
        verifiedCount.incrementAndGet();
        used(principal, now);
        return principal;
    }

    /** Whether {@code p} may use the application named {@code ref} (an id or a uid). */
    boolean owns(Principal p, String ref) {
        if (p.appId() == null) return p.serverWide();
        return p.appId().equals(ref) || appIds.apply(ref).map(p.appId()::equals).orElse(false);
    }

    /** This node forgets the verified token {@code keyId} at once: it was revoked or logged out. */
    public void revoked(String keyId) {
        long until = clock.millis() + REFUSED_TTL.toMillis();
        verified.forEach((hash, v) -> {
            if (v.principal().keyId().equals(keyId) && verified.remove(hash, v)) {
                refuse(hash, new Refused("this token was revoked", false, until));
            }
        });
    }

    /** This node forgets every verified token of the application: their expiry changed. */
    public void appTokensExpired(String appId) {
        verified.values().removeIf(v -> appId.equals(v.principal().appId()));
    }

    /** Whether the key is the one the configuration sets (ZERODROP_ADMIN_TOKEN). */
    public boolean isConfigured(String keyId) {
        return configured.stream().anyMatch(c -> c.principal().keyId().equals(keyId));
    }

    /** Writes the last-used times collected since the last call (the maintenance job calls it). */
    public void flushLastUsed() {
        if (unwrittenUse.isEmpty()) return;
        Map<String, Instant> batch = new HashMap<>();
        for (String id : List.copyOf(unwrittenUse.keySet())) {
            Instant at = unwrittenUse.remove(id);
            if (at != null) batch.put(id, at);
        }
        try {
            tokens.touch(batch);
        } catch (RuntimeException e) {
            log.debug("could not record when {} keys were last used: {}", batch.size(), e.getMessage());
        }
    }

    public Counts counts() {
        return new Counts(lookups.get(), verifiedCount.get(), unknownCount.get(), revokedCount.get(), expiredCount.get(),
                throttledCount.get());
    }

    /** Notes the use, to be written by {@link #flushLastUsed} when the key's time was not noted in the last minute. */
    private void used(Principal p, Instant now) {
        if (p.source() == Principal.Source.METRICS_TOKEN) return;
        long ms = now.toEpochMilli();
        Long last = lastMarked.get(p.keyId());
        if (last != null && ms - last < LAST_USED_EVERY.toMillis()) return;
        if (lastMarked.size() >= MAX_CLIENTS) lastMarked.clear();
        lastMarked.put(p.keyId(), ms);
        unwrittenUse.put(p.keyId(), now);
    }

    private void refuse(String hash, Refused r) {
        if (refused.size() >= MAX_ENTRIES) refused.values().removeIf(x -> x.untilMillis() <= clock.millis());
        if (refused.size() >= MAX_ENTRIES) refused.clear();
        refused.put(hash, r);
    }

    /** Keeps the client buckets bounded: a full bucket is the same as a fresh one, so it can go. */
    private void trimClients() {
        if (clients.size() < MAX_CLIENTS) return;
        long now = nanos.getAsLong();
        clients.values().removeIf(b -> b.full(now));
        if (clients.size() >= MAX_CLIENTS) clients.clear();
    }

    private ApiException failed(String detail) {
        return new ApiException(401, "authentication_failed", detail);
    }

    private Throttled throttled(long waitNanos, String why) {
        throttledCount.incrementAndGet();
        long seconds = Math.max(1, (waitNanos + 999_999_999L) / 1_000_000_000L);
        return new Throttled(seconds, why);
    }

    /** 429: too many unknown tokens; retry after {@code retryAfterSeconds}. */
    public static final class Throttled extends ApiException {
        private final long retryAfterSeconds;

        Throttled(long retryAfterSeconds, String why) {
            super(429, "too_many_requests", why + "; retry after " + retryAfterSeconds + " s");
            this.retryAfterSeconds = retryAfterSeconds;
        }

        public long retryAfterSeconds() {
            return retryAfterSeconds;
        }
    }

    /** A token bucket on a monotonic clock. */
    static final class Bucket {
        private final double capacity;
        private final double perNano;
        private double tokens;
        private long at;

        Bucket(int capacity, double perSecond, long now) {
            this.capacity = capacity;
            this.perNano = perSecond / 1e9;
            this.tokens = capacity;
            this.at = now;
        }

        private void refill(long now) {
            tokens = Math.min(capacity, tokens + (now - at) * perNano);
            at = now;
        }

        synchronized long waitNanos(long now) {
            refill(now);
            return tokens >= 1 ? 0 : (long) Math.ceil((1 - tokens) / perNano);
        }

        synchronized boolean tryTake(long now) {
            refill(now);
            if (tokens < 1) return false;
            tokens -= 1;
            return true;
        }

        synchronized void take(long now) {
            refill(now);
            tokens = Math.max(0, tokens - 1);
        }

        synchronized boolean full(long now) {
            refill(now);
            return tokens >= capacity;
        }
    }
}
