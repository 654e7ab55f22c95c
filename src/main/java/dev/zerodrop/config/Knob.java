package dev.zerodrop.config;

import java.util.Locale;

/**
 * Every configuration knob of the server. Each one is a flag ({@code --port}) with an environment
 * variable twin ({@code ZERODROP_PORT}). A flag wins over the environment, which wins over the default.
 */
public enum Knob {
    PORT("8071", "HTTP port of the API."),
    HOST("0.0.0.0", "Address the API listens on."),
    DATA_DIR("./zerodrop-data", "Directory of the embedded PostgreSQL (ignored when ZERODROP_DB_URL is set)."),
    DB_URL("", "JDBC URL of an external PostgreSQL, e.g. jdbc:postgresql://db:5432/zerodrop. When set, nothing is embedded."),
    DB_USER("", "User for ZERODROP_DB_URL (may also be given in the URL)."),
    DB_PASSWORD("", "Password for ZERODROP_DB_URL (may also be given in the URL)."),
    DB_POOL_SIZE("16", "Maximum database connections of this node."),
    SECRET_KEY("", "Comma-separated base64 keys of 32 bytes that seal secrets at rest (AES-256-GCM); the first seals, every one opens. Unset: a key is generated in <data-dir>/secret.key (mode 0600) on the first start. Give every node the same value. To rotate, see docs/security.md."),
    ADMIN_TOKEN("", "Bearer token with full rights. When unset, one is generated on first start, printed once and stored only as a hash."),
    METRICS_TOKEN("", "Bearer token that may read /metrics and nothing else. Unset: /metrics needs a server-wide (admin) key."),
    PUBLIC_URL("", "The URL that clients reach this server at, e.g. https://hooks.example.com; app-portal links start with it. Unset: the scheme and Host of the request."),
    MAX_BODY("1048576", "Most bytes of a request body; a larger one is refused with 413."),
    MAX_HEADER_SIZE("8192", "Most bytes of a request's line and headers together; a longer URL answers 414, longer headers 431."),
    HEADER_TIMEOUT("10s", "How long a client has to send a request's line and headers once it has begun (or once it has connected); a slower one is disconnected."),
    IDLE_TIMEOUT("30s", "How long an API connection may stay silent (between requests, or inside a body) before it is closed."),
    MAX_CONNECTIONS("10000", "Most open API connections on this node; past it, new connections wait to be accepted."),
    MAX_CONNECTIONS_PER_CLIENT("256", "Most open API connections from one client address; past it, a new one is answered 503 and closed. Behind a proxy every client shares the proxy's address."),
    KEY_RATE_LIMIT("0", "Requests per second that one API token may make (bursts up to one second's worth); past it, 429 with Retry-After. 0: no limit."),
    ALLOW_PRIVATE_CIDRS("", "Comma-separated CIDRs that delivery may reach despite the private-network guard, e.g. 127.0.0.0/8."),
    RETRY_SCHEDULE("5s,5m,30m,2h,5h,10h,10h", "Delays between attempts (after the immediate first one), each with +/-20% jitter. Bare numbers are seconds."),
    REQUEST_TIMEOUT("30s", "Total timeout of one delivery attempt."),
    CONNECT_TIMEOUT("10s", "TCP/TLS connect timeout of one delivery attempt (capped at the request timeout)."),
    LEASE("60s", "How long a claimed delivery stays leased. Must exceed the request timeout."),
    RETRY_AFTER_MAX("1h", "Longest Retry-After a receiver can ask for; longer values are clamped."),
    MAX_IN_FLIGHT("512", "Most delivery requests in flight on this node."),
    ENDPOINT_MAX_IN_FLIGHT("64", "Most delivery requests in flight to one endpoint on this node."),
    CLAIM_BATCH("200", "Most deliveries claimed by one claim statement."),
    INGEST_COMMITTERS("2", "Threads that commit ingested messages; each commits every message queued so far in one transaction (group commit)."),
    INGEST_BATCH("256", "Most messages in one ingest transaction."),
    POLL_INTERVAL("500ms", "How often the dispatcher looks for due work when nothing woke it (work from other nodes, retries)."),
    RESPONSE_CAP("20480", "Bytes of a receiver's response body that are read and stored; the rest is dropped unread."),
    SVIX_HEADERS("false", "Also send svix-id, svix-timestamp and svix-signature headers."),
    DISPATCH("true", "Run the dispatcher on this node (false: API only)."),
    DIRECT_DISPATCH("true", "Lease the deliveries of each accepted message to this node's dispatcher in the commit that stores it, so they go out without waiting for a claim (false: every delivery waits in the queue for a claim)."),
    LOG_FORMAT("text", "Log line format on standard error: text, or json (one JSON object per line, with the ids of the delivery it is about)."),
    ALERT_WEBHOOK_URL("", "Where alerts are posted as Slack-compatible JSON ({\"text\": ...} plus the structured alert). Unset: alerts go to the log only."),
    OPERATIONAL_WEBHOOK_URL("", "The URL of one operational-webhook endpoint (uid 'webhook'), beside those made through the API: it gets message.attempt.exhausted, endpoint.disabled, ..., signed. Unset: that endpoint is deleted."),
    OPERATIONAL_WEBHOOK_SECRET("", "The whsec_ secret of that endpoint. Unset: one is generated on first use and printed once."),
    ALERT_INTERVAL("10s", "How often alert rules are evaluated (by one node at a time)."),
    AUTO_DISABLE_AFTER("5d", "An endpoint that has failed without a single success for this long is disabled; its deliveries are held."),
    SHUTDOWN_GRACE("10s", "On SIGTERM, how long in-flight deliveries may take before their leases are released."),
    AUDIT_RECOUNT_INTERVAL("1h", "How often the audit recounts the delivery rows against its counters (a full scan of the delivery table)."),
    STUCK_LEASE_GRACE("5m", "How long past its expiry a lease may go unrescued before the audit reports it as stuck."),
    REPLAY_RATE("50", "Replayed deliveries (dead-letter replays, recover, replay-missing, bulk replay) that fall due per second per endpoint."),
    HISTORY_RETENTION("90d", "How long messages, attempts and finished deliveries are kept. Expired history is dropped by whole time partitions; unfinished deliveries (pending, sending, held, dead) and their messages are always kept."),
    PAYLOAD_RETENTION("90d", "How long a message's payload is kept when it asks for nothing else (Svix's payloadRetentionPeriod/Hours). Never longer than the history."),
    DLQ_RETENTION("30d", "How long after its message was created a dead delivery stays in the dead-letter queue before it is discarded (reason 'retention'). Must exceed the retry schedule's total plus its 20% jitter.");

    private final String defaultValue;
    private final String description;

    Knob(String defaultValue, String description) {
        this.defaultValue = defaultValue;
        this.description = description;
    }

    public String env() {
        return "ZERODROP_" + name();
    }

    public String flag() {
        return "--" + name().toLowerCase(Locale.ROOT).replace('_', '-');
    }

    public String defaultValue() {
        return defaultValue;
    }

    public String description() {
        return description;
    }
}
