package dev.zerodrop.api;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import dev.zerodrop.config.HttpLimits;
import dev.zerodrop.core.Json;
import dev.zerodrop.store.Conflict;
import dev.zerodrop.store.IdempotencyStore;
import dev.zerodrop.store.StoreUnavailableException;
import io.javalin.Javalin;
import io.javalin.http.Context;
import io.javalin.http.HandlerType;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import org.eclipse.jetty.server.NetworkConnectionLimit;
import org.eclipse.jetty.server.ServerConnector;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The HTTP API: the Svix-compatible routes under {@code /api/v1}. Handlers are small functions that
 * return a {@link Reply}; errors are exceptions, turned into JSON here and only here.
 */
public final class ApiServer implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(ApiServer.class);
    static final String SCOPE_ATTR = "zd.scope";
    private static final String PRINCIPAL_ATTR = "zd.principal";
    static final String IDEMPOTENCY_ATTR = "zd.idempotency";
    private static final String STARTED_ATTR = "zd.started";
    /** How long a repeat waits for the first request with its Idempotency-Key: Svix's bound. */
    static final Duration IDEMPOTENCY_WAIT = Duration.ofSeconds(5);
    static final Duration IDEMPOTENCY_POLL = Duration.ofMillis(100);

    /** A handler's answer: a status and a body (an object to serialise, raw JSON bytes, or null). */
    public record Reply(int status, Object body) {
        static Reply of(int status, Object body) {
            return new Reply(status, body);
        }

        static Reply noContent() {
            return new Reply(204, null);
        }

        /** A body sent as it is, with its own content type (not JSON). */
        static Reply text(int status, String contentType, String text) {
            return new Reply(status, new Text(contentType, text));
        }
    }

    /** A non-JSON body. */
    record Text(String contentType, String text) {}

    /** Observes every answered request (metrics): {@code route} is the matched route template, never the raw path. */
    @FunctionalInterface
    public interface RequestObserver {
        void observed(String method, String route, int status, long nanos);
    }

    @FunctionalInterface
    interface Action {
        Reply handle(Context ctx) throws Exception;
    }

    /** The idempotency key of the request being handled, for handlers that record it in their own transaction. */
    record IdempotencyScope(String scope, String key) {}

    /** One registered route: its method, its path template and the access it needs. */
    public record Route(String method, String path, Access access) {}

    private final Javalin app;
    private final Authenticator auth;
    private final List<Route> table = new ArrayList<>();
    private final IdempotencyStore idempotency;
    private final InstantSource clock;
    private final BooleanSupplier ready;
    /** The idempotent requests running on this node, by scope and key, so that a repeat here is woken at their end. */
    private final Map<String, CompletableFuture<Void>> running = new ConcurrentHashMap<>();
    private final AtomicInteger waiting = new AtomicInteger();
    private final HttpLimits limits;
    /** Null when ZERODROP_KEY_RATE_LIMIT is 0. */
    private final KeyRateLimiter rateLimiter;

    public ApiServer(String host, int port, HttpLimits limits, Authenticator auth, IdempotencyStore idempotency, InstantSource clock,
                     BooleanSupplier ready, java.util.function.Consumer<ApiServer> routes) {
        this.auth = auth;
        this.idempotency = idempotency;
        this.clock = clock;
        this.ready = ready;
        this.limits = limits;
        this.rateLimiter = limits.keyRateLimit() > 0 ? new KeyRateLimiter(limits.keyRateLimit(), System::nanoTime) : null;
        this.app = Javalin.create(cfg -> {
            cfg.concurrency.useVirtualThreads = true;
            cfg.router.ignoreTrailingSlashes = true;
            cfg.router.treatMultipleSlashesAsSingleSlash = true;
            cfg.http.maxRequestSize = limits.maxBody();
            // The request line and headers together; Jetty answers 414 or 431 past it.
            cfg.jetty.modifyHttpConfiguration(http -> http.setRequestHeaderSize(limits.maxHeaderSize()));
            cfg.jetty.addConnector((server, http) -> {
                ServerConnector c = new ServerConnector(server,
                        new ConnectionGuard(http, limits.headerTimeout(), limits.maxConnectionsPerClient()));
                c.setHost(host);
                c.setPort(port);
                c.setIdleTimeout(limits.idleTimeout().toMillis());
                return c;
            });
            // Past the cap Jetty stops accepting: new connections wait in the listen backlog.
            cfg.jetty.modifyServer(server -> server.addBean(new NetworkConnectionLimit(limits.maxConnections(), server)));
            cfg.http.prefer405over404 = true;
            cfg.startup.showJavalinBanner = false;
            cfg.jsonMapper(new io.javalin.json.JavalinJackson(Json.MAPPER, true));
            // Jetty answers unparseable requests itself, before any route; both its handlers speak JSON too.
            cfg.jetty.modifyServer(server -> server.setErrorHandler(new JsonErrorHandler()));
            cfg.jetty.modifyServletContextHandler(context -> context.setErrorHandler(new JsonErrorHandler()));
            cfg.routes.exception(Exception.class, (e, ctx) -> error(ctx, e));
            // Javalin maps its own HttpResponseExceptions (404, 405, 413) unless told otherwise.
            cfg.routes.exception(io.javalin.http.HttpResponseException.class, (e, ctx) -> error(ctx, e));
            cfg.routes.beforeMatched(ctx -> {
                // Every matched request's body is read here, up to the cap, whether its route reads it or
                // not: the cap holds on every route, and a body left unread would cost the connection.
                ctx.bodyAsBytes();
                RequestRules.check(ctx);
            });
            this.pending = cfg;
            routes.accept(this);
            this.pending = null;
        });
    }

    private io.javalin.config.JavalinConfig pending;

    public ApiServer start() {
        app.start();
        return this;
    }

    public int port() {
        return app.port();
    }

    @Override
    public void close() {
        app.stop();
    }

    // ---- routing --------------------------------------------------------------------------------

    /**
     * Times every request from here on and reports it to {@code observer} once answered, errors
     * included. Call it from the routes callback, before the routes to time.
     */
    public void observe(RequestObserver observer) {
        pending.routes.before(ctx -> ctx.attribute(STARTED_ATTR, System.nanoTime()));
        pending.routes.after(ctx -> {
            Long started = ctx.attribute(STARTED_ATTR);
            if (started == null) return;
            try {
                observer.observed(ctx.method().name(), routeOf(ctx), ctx.statusCode(), System.nanoTime() - started);
            } catch (RuntimeException e) {
                log.debug("request observer failed: {}", e.getMessage());
            }
        });
    }

    /** The matched route template ({@code /api/v1/app/{app_id}}), or {@code unmatched}: raw paths would be unbounded labels. */
    private static String routeOf(Context ctx) {
        try {
            var e = ctx.endpoints().matchedHttpEndpoint();
            return e == null ? "unmatched" : e.path;
        } catch (RuntimeException e) {
            return "unmatched";
        }
    }

    /** Every route, in the order registered, with the access each needs. A GET route's HEAD twin is listed too. */
    public List<Route> routes() {
        return List.copyOf(table);
    }

    /** Registers a public route (no token needed). */
    void open(HandlerType method, String path, Action action) {
        route(method, path, Access.OPEN, action);
    }

    /**
     * Registers a route with the access it needs (see {@link Access}); the token is checked before
     * the handler runs. A GET route answers HEAD with the same checks (Javalin would otherwise answer
     * a HEAD on its own, 200, without running any handler). POSTs honor Idempotency-Key.
     */
    void route(HandlerType method, String path, Access access, Action action) {
        if (access == Access.ANY && method != HandlerType.GET) {
            throw new IllegalArgumentException(method + " " + path + ": ANY is for reading a catalogue; writes need another access");
        }
        if (access == Access.APP && !path.contains("{app_id}")) {
            throw new IllegalArgumentException(method + " " + path + ": APP takes the application from {app_id}, which this path lacks");
        }
        add(method, path, access, action, true);
        if (method == HandlerType.GET) add(HandlerType.HEAD, path, access, action, true);
    }

    /**
     * Registers a POST whose answer holds a token shown once: it is never stored for an
     * Idempotency-Key replay (the database would then hold the token), so a repeat makes another.
     */
    void issuing(String path, Access access, Action action) {
        add(HandlerType.POST, path, access, action, false);
    }

    private void add(HandlerType method, String path, Access access, Action action, boolean idempotent) {
        table.add(new Route(method.name(), path, access));
        pending.routes.addHttpHandler(method, path, ctx -> {
            Principal p = authorize(ctx, method, access);
            if (p == null) {
                respond(ctx, action.handle(ctx));
                return;
            }
            ctx.attribute(PRINCIPAL_ATTR, p);
            ctx.attribute(SCOPE_ATTR, p.keyId());
            throttle(p.keyId());
            String key = method == HandlerType.POST && idempotent ? ctx.header("idempotency-key") : null;
            if (key == null || key.isBlank()) {
                respond(ctx, action.handle(ctx));
                return;
            }
            idempotent(ctx, p.keyId(), key.trim(), action);
        });
    }

    /** The caller of the request being handled; null on an open route. */
    static Principal principal(Context ctx) {
        return ctx.attribute(PRINCIPAL_ATTR);
    }

    /**
     * Checks the token against the route's access: 401 without a working token, 403 for a route the
     * token may not use at all (server-wide, or a write with a read-only token), 404 for another
     * application's path, as for one that does not exist.
     */
    private Principal authorize(Context ctx, HandlerType method, Access access) {
        if (access == Access.OPEN) return null;
        Principal p = authenticate(ctx);
        if (p.source() == Principal.Source.METRICS_TOKEN) {
            if (access != Access.METRICS) throw forbidden("this token only reads /metrics");
            return p;
        }
        switch (access) {
            case METRICS, ADMIN -> {
                if (!p.serverWide()) throw forbidden("this route is server-wide; an application-scoped token cannot use it");
            }
            case SELF -> {
                return p;
            }
            case APP -> {
                String ref = ctx.pathParam("app_id");
                if (!auth.owns(p, ref)) throw ApplicationRoutes.notFound(ref);
            }
            case ANY, TENANT, OPEN -> {}
        }
        if (p.readOnly() && method != HandlerType.GET && method != HandlerType.HEAD) {
            throw forbidden("this token is read-only: it may only GET and HEAD");
        }
        return p;
    }

    private static ApiException forbidden(String detail) {
        return new ApiException(403, "forbidden", detail);
    }

    private void idempotent(Context ctx, String scope, String key, Action action) throws Exception {
        if (key.length() > 256) throw ApiException.badRequest("Idempotency-Key must be at most 256 characters");
        String fingerprint = ctx.method() + " " + ctx.path() + " " + sha256(ctx.bodyAsBytes()).substring(0, 16);
        IdempotencyStore.Begin begin = idempotency.begin(scope, key, fingerprint, clock.instant());
        if (begin instanceof IdempotencyStore.Begin.InProgress) begin = awaitFirst(scope, key, fingerprint);
        switch (begin) {
            case IdempotencyStore.Begin.Replay r -> {
                ctx.header("idempotent-replayed", "true");
                ctx.status(r.status()).contentType("application/json");
                if (r.body() != null && r.body().length > 0) ctx.result(r.body());
            }
            case IdempotencyStore.Begin.InProgress p ->
                    throw ApiException.conflict("a request with this Idempotency-Key is still in progress");
            case IdempotencyStore.Begin.Mismatch m ->
                    throw new ApiException(422, "idempotency_key_reused", "this Idempotency-Key was already used for a different request (method, path or body)");
            case IdempotencyStore.Begin.Proceed p -> {
                String local = scope + '\n' + key;
                CompletableFuture<Void> done = new CompletableFuture<>();
                running.put(local, done);
                try {
                    proceed(ctx, scope, key, action);
                } finally {
                    running.remove(local, done);
                    done.complete(null);
                }
            }
        }
    }

    private void proceed(Context ctx, String scope, String key, Action action) throws Exception {
        ctx.attribute(IDEMPOTENCY_ATTR, new IdempotencyScope(scope, key));
        Reply reply;
        try {
            reply = action.handle(ctx);
        } catch (Exception e) {
            // Only successes and client errors are remembered; a failure may be retried.
            if (e instanceof ApiException a && a.status() < 500) {
                idempotency.complete(new dev.zerodrop.store.MessageStore.IdempotentResponse(scope, key, a.status(), errorBody(a)));
            } else {
                idempotency.abandon(scope, key);
            }
            throw e;
        }
        byte[] body = bytes(reply.body());
        if (ctx.attribute(IDEMPOTENCY_ATTR) != null) {
            idempotency.complete(new dev.zerodrop.store.MessageStore.IdempotentResponse(scope, key, reply.status(), body));
        }
        respond(ctx, new Reply(reply.status(), body));
    }

    /**
     * A repeat of a request that is still running waits for it, as Svix's server does: it looks at
     * the key again every {@link #IDEMPOTENCY_POLL}, and at once when the first request runs on this
     * node and finishes, for at most {@link #IDEMPOTENCY_WAIT}. The first request's end decides:
     * its response is replayed, or, when it failed and freed the key, this request runs instead.
     * Past the bound the key is still in progress (409).
     */
    private IdempotencyStore.Begin awaitFirst(String scope, String key, String fingerprint) {
        long deadline = System.nanoTime() + IDEMPOTENCY_WAIT.toNanos();
        waiting.incrementAndGet();
        try {
            while (true) {
                long left = deadline - System.nanoTime();
                if (left <= 0) return new IdempotencyStore.Begin.InProgress();
                CompletableFuture<Void> first = running.get(scope + '\n' + key);
                long nanos = Math.min(left, IDEMPOTENCY_POLL.toNanos());
                try {
                    if (first != null) first.get(nanos, TimeUnit.NANOSECONDS);
                    else Thread.sleep(Duration.ofNanos(nanos));
                } catch (TimeoutException | ExecutionException e) {
                    // look at the key again
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return new IdempotencyStore.Begin.InProgress();
                }
                IdempotencyStore.Begin again = idempotency.begin(scope, key, fingerprint, clock.instant());
                if (!(again instanceof IdempotencyStore.Begin.InProgress)) return again;
            }
        } finally {
            waiting.decrementAndGet();
        }
    }

    /** Requests waiting now for an earlier request with the same Idempotency-Key to finish. */
    public int idempotencyWaiting() {
        return waiting.get();
    }

    /** Handlers that record the idempotent response in their own transaction take the scope here. */
    static Optional<IdempotencyScope> takeIdempotency(Context ctx) {
        IdempotencyScope s = ctx.attribute(IDEMPOTENCY_ATTR);
        if (s != null) ctx.attribute(IDEMPOTENCY_ATTR, null);
        return Optional.ofNullable(s);
    }

    private Principal authenticate(Context ctx) {
        String header = ctx.header("Authorization");
        if (header == null || !header.regionMatches(true, 0, "Bearer ", 0, 7) || header.isBlank()) {
            throw new ApiException(401, "authentication_failed", "missing bearer token (Authorization: Bearer <token>)");
        }
        String token = header.substring(7).trim();
        if (token.isEmpty()) throw new ApiException(401, "authentication_failed", "missing bearer token (Authorization: Bearer <token>)");
        try {
            return auth.authenticate(token, ctx.ip());
        } catch (Authenticator.Throttled t) {
            ctx.header("Retry-After", Long.toString(t.retryAfterSeconds()));
            throw t;
        }
    }

    private static String sha256(byte[] bytes) {
        try {
            return java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private ApiException tooLarge() {
        return new ApiException(413, "payload_too_large", "the request body is larger than the limit of " + limits.maxBody()
                + " bytes (ZERODROP_MAX_BODY)");
    }

    /** ZERODROP_KEY_RATE_LIMIT: one bucket per token id. */
    private void throttle(String tokenId) {
        if (rateLimiter == null) return;
        long wait = rateLimiter.acquire(tokenId);
        if (wait > 0) throw new RateLimited(wait, limits.keyRateLimit());
    }

    /** 429: the token has used its requests for now; {@code Retry-After} says when to come back. */
    static final class RateLimited extends ApiException {
        final long retryAfterSeconds;

        RateLimited(long retryAfterSeconds, int perSecond) {
            super(429, "rate_limited", "this API key is limited to " + perSecond + " requests per second; retry in "
                    + retryAfterSeconds + "s");
            this.retryAfterSeconds = retryAfterSeconds;
        }
    }

    // ---- responses ------------------------------------------------------------------------------

    /** Data after the JSON value ({@code {"a":1} x}, {@code {}{}}) is an error, not ignored. */
    private static final com.fasterxml.jackson.databind.ObjectReader BODY_READER =
            Json.MAPPER.reader().with(com.fasterxml.jackson.databind.DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

    static JsonNode body(Context ctx) {
        byte[] raw = ctx.bodyAsBytes();
        if (raw.length == 0) throw ApiException.badRequest("the request body is empty; send a JSON object");
        try {
            return BODY_READER.readTree(raw);
        } catch (java.io.IOException e) {
            String msg = e instanceof JsonProcessingException j ? j.getOriginalMessage() : e.getMessage();
            if (msg != null && msg.startsWith("Trailing token")) msg = "there is data after the JSON value";
            throw new ApiException(400, "invalid_json", "the request body is not valid JSON: " + msg);
        }
    }

    /** The request's JSON body; an empty body reads as {}, so that missing fields are 422 like any other. */
    static JsonNode bodyOrEmpty(Context ctx) {
        return ctx.bodyAsBytes().length == 0 ? Json.MAPPER.createObjectNode() : body(ctx);
    }

    private static byte[] bytes(Object body) {
        if (body == null) return null;
        if (body instanceof byte[] b) return b;
        try {
            return Json.MAPPER.writeValueAsBytes(body);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void respond(Context ctx, Reply reply) {
        ctx.status(reply.status());
        if (reply.body() instanceof Text t) {
            ctx.contentType(t.contentType()).result(t.text());
            return;
        }
        byte[] body = bytes(reply.body());
        if (body != null && reply.status() != 204) ctx.contentType("application/json").result(body);
    }

    private static void write(Context ctx, int status, Object body) {
        ctx.status(status).contentType("application/json").result(bytes(body));
    }

    private static byte[] errorBody(ApiException a) {
        if (a instanceof ApiException.Validation v) return bytes(new Views.ValidationOut(v.code(), v.errors()));
        return bytes(new Views.ErrorOut(a.code(), a.getMessage()));
    }

    private void error(Context ctx, Exception e) {
        switch (e) {
            case ApiException a -> {
                ctx.status(a.status()).contentType("application/json").result(errorBody(a));
                if (a.status() == 503) ctx.header("Retry-After", "1");
                if (a instanceof RateLimited r) ctx.header("Retry-After", Long.toString(r.retryAfterSeconds));
                // What is left of an oversized body is never read: the connection cannot carry another request.
                if (a.status() == 413) ctx.header("Connection", "close");
            }
            case Conflict c -> write(ctx, 409, new Views.ErrorOut("conflict", c.getMessage()));
            case StoreUnavailableException s -> {
                ctx.header("Retry-After", "1");
                write(ctx, 503, new Views.ErrorOut("service_unavailable", "the database is unreachable; retry later (retrying with the same Idempotency-Key or eventId is safe)"));
            }
            case io.javalin.http.HttpResponseException h -> {
                int status = h.getStatus();
                if (status == 413) {
                    error(ctx, tooLarge());
                    return;
                }
                String detail = switch (h) {
                    case io.javalin.router.EndpointNotFound n -> "no route for " + ctx.method() + " " + ctx.path();
                    case io.javalin.http.MethodNotAllowedResponse m -> {
                        String allowed = m.getDetails().getOrDefault("availableMethods", m.getDetails().get("Available methods"));
                        if (allowed != null) ctx.header("Allow", allowed);
                        yield ctx.method() + " is not allowed on " + ctx.path() + (allowed == null ? "" : "; allowed: " + allowed);
                    }
                    default -> h.getMessage();
                };
                write(ctx, status, new Views.ErrorOut(ApiException.codeFor(status), detail));
            }
            default -> {
                if (e.getCause() instanceof StoreUnavailableException) {
                    error(ctx, (StoreUnavailableException) e.getCause());
                    return;
                }
                String incident = Incidents.next();
                // One line per failure, naming where and what but not the message: it can quote the
                // request's values, secrets among them. The trace is for DEBUG, under the same id.
                log.error("request failed: incident {} on {} {}: {}", incident, ctx.method(), routeOf(ctx), Incidents.summary(e));
                log.debug("incident {}", incident, e);
                write(ctx, 500, new Views.ErrorOut("internal_error", "an internal error occurred (incident " + incident
                        + "); the server's log names it"));
            }
        }
    }

    boolean isReady() {
        return ready.getAsBoolean();
    }

    Instant now() {
        return clock.instant();
    }
}
