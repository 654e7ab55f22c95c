package dev.zerodrop.api;

/**
 * Who is calling: the key's id (the actor recorded for its actions, and the scope of its
 * idempotency keys), the one application it is confined to ({@code null}: server-wide), and whether
 * it may only read.
 */
public record Principal(String keyId, String appId, boolean readOnly, Source source) {
    /** Where the token was found: a stored key or portal token, or one of the configured tokens, checked in memory. */
    public enum Source { STORED, ADMIN_TOKEN, METRICS_TOKEN }

    /** Whether it may use server-wide routes: a key without an application, not the metrics token. */
    public boolean serverWide() {
        return appId == null && source != Source.METRICS_TOKEN;
    }
}
