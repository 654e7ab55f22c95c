package dev.zerodrop.config;

import java.nio.file.Path;
import java.time.Duration;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;

/** The validated configuration of one node. Build it with {@link #from(Map)}. */
public record Config(
        int port,
        String host,
        Path dataDir,
        Optional<String> dbUrl,
        Optional<String> dbUser,
        Optional<String> dbPassword,
        int dbPoolSize,
        Optional<String> secretKey,
        Optional<String> adminToken,
        Optional<String> metricsToken,
        Optional<String> publicUrl,
        HttpLimits httpLimits,
        List<Cidr> allowPrivateCidrs,
        List<Duration> retrySchedule,
        Duration requestTimeout,
        Duration connectTimeout,
        Duration lease,
        Duration retryAfterMax,
        int maxInFlight,
        int endpointMaxInFlight,
        int claimBatch,
        int ingestCommitters,
        int ingestBatch,
        Duration pollInterval,
        int responseCap,
        boolean svixHeaders,
        boolean dispatch,
        boolean directDispatch,
        LogFormat logFormat,
        Optional<String> alertWebhookUrl,
        Optional<String> operationalWebhookUrl,
        Optional<String> operationalWebhookSecret,
        Duration alertInterval,
        Duration autoDisableAfter,
        Duration auditRecountInterval,
        Duration stuckLeaseGrace,
        Duration shutdownGrace,
        int replayRate,
        Duration dlqRetention,
        Duration historyRetention,
        Duration payloadRetention) {

    /** Reads every knob from the environment only. */
    public static Config fromEnvironment() {
        return from(Map.of());
    }

    /**
     * Builds the configuration from explicit values (flags), falling back to the environment and
     * then to the defaults. Throws {@link ConfigException} naming the first invalid knob.
     */
    public static Config from(Map<Knob, String> explicit) {
        return from(explicit, System.getenv());
    }

    public static Config from(Map<Knob, String> explicit, Map<String, String> env) {
        Map<Knob, String> v = new EnumMap<>(Knob.class);
        for (Knob k : Knob.values()) {
            String value = explicit.get(k);
            if (value == null) value = env.get(k.env());
            if (value == null) value = k.defaultValue();
            v.put(k, value.trim());
        }
        Duration requestTimeout = parse(v, Knob.REQUEST_TIMEOUT, Durations::parse);
        Duration lease = parse(v, Knob.LEASE, Durations::parse);
        Duration connectTimeout = parse(v, Knob.CONNECT_TIMEOUT, Durations::parse);
        if (requestTimeout.toMillis() < 1) throw new ConfigException(Knob.REQUEST_TIMEOUT, "must be at least 1ms");
        if (lease.compareTo(requestTimeout) <= 0) {
            throw new ConfigException(Knob.LEASE, "must exceed ZERODROP_REQUEST_TIMEOUT (" + Durations.format(lease)
                    + " <= " + Durations.format(requestTimeout) + ")");
        }
        if (connectTimeout.compareTo(requestTimeout) > 0) connectTimeout = requestTimeout;
        List<Duration> schedule = parse(v, Knob.RETRY_SCHEDULE, Durations::parseList);
        Duration poll = parse(v, Knob.POLL_INTERVAL, Durations::parse);
        if (poll.toMillis() < 10) throw new ConfigException(Knob.POLL_INTERVAL, "must be at least 10ms");
        Optional<String> dbUrl = optional(v.get(Knob.DB_URL));
        if (dbUrl.isPresent() && !dbUrl.get().startsWith("jdbc:postgresql:")) {
            throw new ConfigException(Knob.DB_URL, "must be a jdbc:postgresql: URL");
        }
        Optional<String> adminToken = optional(v.get(Knob.ADMIN_TOKEN));
        if (adminToken.isPresent() && adminToken.get().length() < 16) {
            throw new ConfigException(Knob.ADMIN_TOKEN, "must be at least 16 characters");
        }
        return new Config(
                intIn(v, Knob.PORT, 0, 65535),
                v.get(Knob.HOST).isEmpty() ? "0.0.0.0" : v.get(Knob.HOST),
                Path.of(v.get(Knob.DATA_DIR).isEmpty() ? Knob.DATA_DIR.defaultValue() : v.get(Knob.DATA_DIR)),
                dbUrl,
                optional(v.get(Knob.DB_USER)),
                optional(v.get(Knob.DB_PASSWORD)),
                intIn(v, Knob.DB_POOL_SIZE, 2, 1000),
                secretKey(v),
                adminToken,
                metricsToken(v, adminToken),
                publicUrl(v),
                httpLimits(v),
                parse(v, Knob.ALLOW_PRIVATE_CIDRS, Cidr::parseList),
                schedule,
                requestTimeout,
                connectTimeout,
                lease,
                parse(v, Knob.RETRY_AFTER_MAX, Durations::parse),
                intIn(v, Knob.MAX_IN_FLIGHT, 1, 100_000),
                intIn(v, Knob.ENDPOINT_MAX_IN_FLIGHT, 1, 100_000),
                intIn(v, Knob.CLAIM_BATCH, 1, 10_000),
                intIn(v, Knob.INGEST_COMMITTERS, 1, 64),
                intIn(v, Knob.INGEST_BATCH, 1, 10_000),
                poll,
                intIn(v, Knob.RESPONSE_CAP, 0, 10 * 1024 * 1024),
                bool(v, Knob.SVIX_HEADERS),
                bool(v, Knob.DISPATCH),
                bool(v, Knob.DIRECT_DISPATCH),
                parse(v, Knob.LOG_FORMAT, LogFormat::parse),
                url(v, Knob.ALERT_WEBHOOK_URL),
                url(v, Knob.OPERATIONAL_WEBHOOK_URL),
                secret(v, Knob.OPERATIONAL_WEBHOOK_SECRET),
                atLeast(parse(v, Knob.ALERT_INTERVAL, Durations::parse), Duration.ofMillis(100), Knob.ALERT_INTERVAL),
                atLeast(parse(v, Knob.AUTO_DISABLE_AFTER, Durations::parse), Duration.ofSeconds(1), Knob.AUTO_DISABLE_AFTER),
                atLeast(parse(v, Knob.AUDIT_RECOUNT_INTERVAL, Durations::parse), Duration.ofSeconds(1), Knob.AUDIT_RECOUNT_INTERVAL),
                parse(v, Knob.STUCK_LEASE_GRACE, Durations::parse),
                parse(v, Knob.SHUTDOWN_GRACE, Durations::parse),
                intIn(v, Knob.REPLAY_RATE, 1, 100_000),
                dlqRetention(v, schedule),
                history(v, dlqRetention(v, schedule)),
                atLeast(parse(v, Knob.PAYLOAD_RETENTION, Durations::parse), Duration.ofMinutes(1), Knob.PAYLOAD_RETENTION));
    }

    /**
     * The history retention: at least a minute (short values are for tests and demos: the server
     * warns at start), and at least the DLQ retention, so that a dead delivery keeps its attempts.
     */
    private static Duration history(Map<Knob, String> v, Duration dlqRetention) {
        Duration h = atLeast(parse(v, Knob.HISTORY_RETENTION, Durations::parse), Duration.ofMinutes(1), Knob.HISTORY_RETENTION);
        if (h.compareTo(dlqRetention) < 0) {
            throw new ConfigException(Knob.HISTORY_RETENTION, "must be at least ZERODROP_DLQ_RETENTION (" + Durations.format(h) + " < "
                    + Durations.format(dlqRetention) + "), so that a dead delivery keeps its attempts");
        }
        return h;
    }

    private static HttpLimits httpLimits(Map<Knob, String> v) {
        return new HttpLimits(
                intIn(v, Knob.MAX_BODY, 1024, 256 * 1024 * 1024),
                intIn(v, Knob.MAX_HEADER_SIZE, 1024, 1024 * 1024),
                atLeast(parse(v, Knob.HEADER_TIMEOUT, Durations::parse), Duration.ofMillis(100), Knob.HEADER_TIMEOUT),
                atLeast(parse(v, Knob.IDLE_TIMEOUT, Durations::parse), Duration.ofMillis(100), Knob.IDLE_TIMEOUT),
                intIn(v, Knob.MAX_CONNECTIONS, 1, 1_000_000),
                intIn(v, Knob.MAX_CONNECTIONS_PER_CLIENT, 1, 1_000_000),
                intIn(v, Knob.KEY_RATE_LIMIT, 0, 1_000_000));
    }

    /** The DLQ retention must outlast the longest a delivery can take to die: the schedule's total with its jitter. */
    private static Duration dlqRetention(Map<Knob, String> v, List<Duration> schedule) {
        Duration retention = parse(v, Knob.DLQ_RETENTION, Durations::parse);
        Duration total = schedule.stream().reduce(Duration.ZERO, Duration::plus);
        Duration longest = Duration.ofMillis(Math.round(total.toMillis() * (1 + dev.zerodrop.dispatch.RetryPolicy.JITTER)));
        if (retention.compareTo(longest) <= 0) {
            throw new ConfigException(Knob.DLQ_RETENTION, "must be longer than the retry schedule's total with its +20% jitter ("
                    + Durations.format(retention) + " <= " + Durations.format(longest) + ")");
        }
        return retention;
    }


    private static Optional<String> metricsToken(Map<Knob, String> v, Optional<String> adminToken) {
        Optional<String> t = optional(v.get(Knob.METRICS_TOKEN));
        if (t.isPresent() && t.get().length() < 16) throw new ConfigException(Knob.METRICS_TOKEN, "must be at least 16 characters");
        if (t.isPresent() && t.equals(adminToken)) throw new ConfigException(Knob.METRICS_TOKEN, "must differ from ZERODROP_ADMIN_TOKEN");
        return t;
    }

    /** An http or https base URL, without a trailing slash, path, query or fragment. */
    private static Optional<String> publicUrl(Map<Knob, String> v) {
        Optional<String> u = url(v, Knob.PUBLIC_URL);
        if (u.isEmpty()) return u;
        String s = u.get().replaceAll("/+$", "");
        java.net.URI uri;
        try {
            uri = new java.net.URI(s);
        } catch (java.net.URISyntaxException e) {
            throw new ConfigException(Knob.PUBLIC_URL, "is not a URL: " + e.getMessage());
        }
        if (uri.getHost() == null || uri.getRawQuery() != null || uri.getRawFragment() != null || uri.getRawUserInfo() != null) {
            throw new ConfigException(Knob.PUBLIC_URL, "must be a scheme, a host and optionally a port and a path, such as https://hooks.example.com");
        }
        return Optional.of(s);
    }

    private static <T> T parse(Map<Knob, String> v, Knob k, Function<String, T> parser) {
        try {
            return parser.apply(v.get(k));
        } catch (IllegalArgumentException e) {
            throw new ConfigException(k, e.getMessage());
        }
    }

    private static int intIn(Map<Knob, String> v, Knob k, int min, int max) {
        int n;
        try {
            n = Integer.parseInt(v.get(k));
        } catch (NumberFormatException e) {
            throw new ConfigException(k, "'" + v.get(k) + "' is not a whole number");
        }
        if (n < min || n > max) throw new ConfigException(k, n + " is out of range " + min + ".." + max);
        return n;
    }

    private static Optional<String> url(Map<Knob, String> v, Knob k) {
        Optional<String> u = optional(v.get(k));
        if (u.isPresent() && !u.get().matches("(?i)https?://.+")) throw new ConfigException(k, "must be an http or https URL");
        return u;
    }

    private static Optional<String> secret(Map<Knob, String> v, Knob k) {
        Optional<String> s = optional(v.get(k));
        if (s.isPresent()) {
            try {
                dev.zerodrop.delivery.Signer.key(s.get());
            } catch (IllegalArgumentException e) {
                throw new ConfigException(k, "must be whsec_ followed by the base64 of 24 to 64 bytes");
            }
        }
        return s;
    }

    private static Optional<String> secretKey(Map<Knob, String> v) {
        Optional<String> k = optional(v.get(Knob.SECRET_KEY));
        if (k.isPresent()) {
            try {
                dev.zerodrop.secret.Sealer.parse(k.get());
            } catch (IllegalArgumentException e) {
                throw new ConfigException(Knob.SECRET_KEY, e.getMessage() + " (make one with: openssl rand -base64 32)");
            }
        }
        return k;
    }

    private static Duration atLeast(Duration d, Duration min, Knob k) {
        if (d.compareTo(min) < 0) throw new ConfigException(k, "must be at least " + Durations.format(min));
        return d;
    }

    private static boolean bool(Map<Knob, String> v, Knob k) {
        return switch (v.get(k).toLowerCase()) {
            case "true", "1", "yes", "on" -> true;
            case "false", "0", "no", "off" -> false;
            default -> throw new ConfigException(k, "'" + v.get(k) + "' is not true or false");
        };
    }

    private static Optional<String> optional(String s) {
        return s == null || s.isBlank() ? Optional.empty() : Optional.of(s);
    }
}
