package dev.zerodrop.api;

/**
 * What a route asks of the caller's token, declared where the route is registered. A read-only
 * token may only {@code GET} and {@code HEAD}, whatever the route. An application-scoped token that
 * reaches a resource of another application gets 404, the answer for an id that does not exist,
 * so that it cannot learn which ids exist.
 */
public enum Access {
    /** No token: health probes and the portal page. */
    OPEN,
    /** {@code /metrics}: the metrics token (ZERODROP_METRICS_TOKEN) or a server-wide key. */
    METRICS,
    /** A server-wide key: applications as a whole, keys, alert rules, operational webhooks, global views. */
    ADMIN,
    /** Any valid key or token, on a server-wide catalogue it may read (event types). GET only. */
    ANY,
    /** Any stored key or token acting on itself (logout), read-only ones included. */
    SELF,
    /** The application named by {@code {app_id}} in the path; any other one is 404. */
    APP,
    /**
     * Application-scoped inside the handler: the application comes from a query parameter, a body
     * field or the row itself, and lists are confined to the caller's application (see {@link Tenancy}).
     */
    TENANT
}
