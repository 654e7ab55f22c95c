package dev.zerodrop.api;

import static io.javalin.http.HandlerType.DELETE;
import static io.javalin.http.HandlerType.GET;
import static io.javalin.http.HandlerType.PATCH;
import static io.javalin.http.HandlerType.POST;
import static io.javalin.http.HandlerType.PUT;

import com.fasterxml.jackson.databind.JsonNode;
import dev.zerodrop.delivery.Signer;
import dev.zerodrop.secret.Sealer;
import dev.zerodrop.store.EndpointSecrets;
import dev.zerodrop.delivery.WebhookClient;
import dev.zerodrop.store.AppStore.App;
import dev.zerodrop.store.EndpointStore.Endpoint;
import dev.zerodrop.store.EndpointStore.EndpointData;
import dev.zerodrop.store.MessageStore;
import io.javalin.http.Context;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** /api/v1/app/{app_id}/endpoint: endpoints, their headers and secrets, and stats. */
final class EndpointRoutes {
    private static final Logger log = LoggerFactory.getLogger(EndpointRoutes.class);
    /** Header names that would break signing or transport; endpoints may not override them. */
    private static final Set<String> RESERVED_HEADERS = Set.of("webhook-id", "webhook-timestamp", "webhook-signature",
            "svix-id", "svix-timestamp", "svix-signature", "content-type", "content-length", "host", "transfer-encoding",
            "connection", "user-agent", "te", "upgrade", "keep-alive", "proxy-authorization", "expect");
    private static final Set<String> SENSITIVE_HEADERS = Set.of("authorization", "proxy-authorization", "cookie", "x-api-key");

    private final Services s;

    EndpointRoutes(Services s) {
        this.s = s;
    }

    void register(ApiServer api) {
        String base = "/api/v1/app/{app_id}/endpoint";
        api.route(GET, base, Access.APP, ctx -> {
            App app = ApplicationRoutes.app(s, ctx);
            return ApiServer.Reply.of(200, Views.ListResponse.of(s.endpoints().list(app.id(), Params.page(ctx, false)), Views.EndpointOut::of));
        });
        api.route(POST, base, Access.APP, this::create);
        api.route(GET, base + "/{endpoint_id}", Access.APP, ctx -> ApiServer.Reply.of(200, Views.EndpointOut.of(endpoint(s, ctx))));
        api.route(PUT, base + "/{endpoint_id}", Access.APP, this::put);
        api.route(PATCH, base + "/{endpoint_id}", Access.APP, ctx -> update(ctx, true));
        api.route(DELETE, base + "/{endpoint_id}", Access.APP, ctx -> {
            s.endpoints().delete(endpoint(s, ctx).id(), s.clock().instant());
            return ApiServer.Reply.noContent();
        });
        api.route(GET, base + "/{endpoint_id}/headers", Access.APP, ctx -> ApiServer.Reply.of(200, headersOf(endpoint(s, ctx))));
        api.route(PUT, base + "/{endpoint_id}/headers", Access.APP, ctx -> setHeaders(s, endpoint(s, ctx), ctx, false));
        api.route(PATCH, base + "/{endpoint_id}/headers", Access.APP, ctx -> setHeaders(s, endpoint(s, ctx), ctx, true));
        api.route(GET, base + "/{endpoint_id}/secret", Access.APP, ctx -> ApiServer.Reply.of(200, new Views.SecretOut(opened(endpoint(s, ctx)).secret())));
        api.route(POST, base + "/{endpoint_id}/secret/rotate", Access.APP, ctx -> rotate(s, endpoint(s, ctx), ctx));
        api.route(GET, base + "/{endpoint_id}/stats", Access.APP, ctx -> {
            Endpoint e = endpoint(s, ctx);
            Instant since = Params.instant(ctx, "since");
            Instant until = Params.instant(ctx, "until");
            if (since != null && until != null && since.isAfter(until)) throw Params.invalid("since", "must not be after until");
            Map<String, Long> n = s.messages().endpointStats(e.id(), since, until);
            return ApiServer.Reply.of(200, new Views.StatsOut(n.getOrDefault("delivered", 0L),
                    n.getOrDefault("pending", 0L) + n.getOrDefault("held", 0L), n.getOrDefault("sending", 0L),
                    n.getOrDefault("dead", 0L), n.getOrDefault("discarded", 0L)));
        });
        api.route(GET, base + "/{endpoint_id}/msg", Access.APP, ctx -> {
            Endpoint e = endpoint(s, ctx);
            Integer status = Params.optionalInt(ctx, "status");
            List<String> states = status == null ? null : switch (status) {
                case 0 -> List.of("delivered");
                case 1 -> List.of("pending", "held");
                case 2 -> List.of("dead", "discarded");
                case 3 -> List.of("sending");
                default -> throw Params.invalid("status", "must be 0, 1, 2 or 3");
            };
            boolean withContent = Params.bool(ctx, "with_content", true);
            var page = s.messages().listForEndpoint(e.id(), Params.page(ctx, true), MessageRoutes.messageFilter(ctx), states);
            return ApiServer.Reply.of(200, Views.ListResponse.of(page, m -> Views.EndpointMessageOut.of(m, withContent)));
        });
        api.route(POST, base + "/{endpoint_id}/send-example", Access.APP, this::sendExample);
    }

    /**
     * The endpoint's secrets and header values, opened. A row sealed with a key this node does not
     * have is answered with what to fix (the servers' ZERODROP_SECRET_KEY), not as an unexpected error.
     */
    static EndpointSecrets.Opened opened(Endpoint e) {
        try {
            return e.opened();
        } catch (Sealer.SealedException x) {
            log.warn("the secrets of endpoint {} do not open: {}", e.id(), x.getMessage());
            throw new ApiException(500, "secret_unavailable", "the secrets of endpoint '" + e.id() + "' do not open on this server: "
                    + x.getMessage());
        }
    }

    static Endpoint endpoint(Services s, Context ctx) {
        App app = ApplicationRoutes.app(s, ctx);
        String id = ctx.pathParam("endpoint_id");
        return s.endpoints().find(app.id(), id).orElseThrow(() -> ApiException.notFound("endpoint '" + id + "'"));
    }

    private ApiServer.Reply create(Context ctx) {
        App app = ApplicationRoutes.app(s, ctx);
        JsonNode json = ApiServer.body(ctx);
        Fields f = new Fields(json);
        EndpointData d = read(s, f, null);
        String secret = f.optionalString("secret", 1, 200, null);
        Map<String, String> headers = f.optionalStringMap("headers");
        if (secret != null) secret = checkSecret(f, "secret", secret);
        if (headers != null) checkHeaders(f, "headers", headers);
        checkHead(f, d.url(), headers);
        f.validate();
        Endpoint e = s.endpoints().create(app.id(), d, secret == null ? Signer.newSecret() : secret,
                headers == null ? Map.of() : headers, s.clock().instant());
        return ApiServer.Reply.of(201, Views.EndpointOut.of(e));
    }

    private ApiServer.Reply put(Context ctx) {
        App app = ApplicationRoutes.app(s, ctx);
        String ref = ctx.pathParam("endpoint_id");
        if (s.endpoints().find(app.id(), ref).isPresent()) return update(ctx, false);
        Fields f = new Fields(ApiServer.body(ctx));
        EndpointData d = read(s, f, null);
        checkHead(f, d.url(), null);
        f.validate();
        if (d.uid() == null) d = new EndpointData(pathUid(ctx, "endpoint_id"), d.url(), d.description(), d.filterTypes(), d.channels(), d.disabled(),
                d.throttleRate(), d.metadata());
        return ApiServer.Reply.of(201, Views.EndpointOut.of(s.endpoints().create(app.id(), d, Signer.newSecret(), s.clock().instant())));
    }

    private ApiServer.Reply update(Context ctx, boolean patch) {
        Endpoint existing = endpoint(s, ctx);
        Fields f = new Fields(ApiServer.body(ctx));
        EndpointData d = read(s, f, patch ? existing : null);
        checkHead(f, d.url(), existing.headers());
        f.validate();
        int changed = s.endpoints().update(existing, d, s.clock().instant());
        if (changed > 0) s.wake().run();
        return ApiServer.Reply.of(200, Views.EndpointOut.of(s.endpoints().find(existing.appId(), existing.id()).orElseThrow()));
    }

    /** Reads an EndpointIn/EndpointUpdate; with {@code base}, absent fields keep their value (PATCH). */
    static EndpointData read(Services s, Fields f, Endpoint base) {
        if (base != null) f.notNull("url");
        String url = base == null ? f.requiredString("url", 1, 65536, null) : f.optionalString("url", 1, 65536, null);
        if (url != null) {
            String problem = UrlRules.problem(url, s.guard());
            if (problem != null) f.error("url", problem);
        }
        String description = f.optionalString("description", 0, 65536, null);
        String uid = f.optionalString("uid", 1, 256, Fields.ID_PATTERN);
        String typesField = f.has("filterTypes") ? "filterTypes" : "eventTypes";
        List<String> filterTypes = f.optionalIdList(typesField, 10_000, 256);
        List<String> channels = f.optionalIdList("channels", 10, 128);
        Boolean disabled = f.optionalBool("disabled");
        Integer throttle = f.optionalInt("throttleRate", 1, 65535);
        if (throttle == null) throttle = f.optionalInt("rateLimit", 1, 65535);
        Map<String, String> metadata = f.optionalStringMap("metadata");
        if (base != null) {
            if (!f.has("url")) url = base.url();
            if (!f.has("description")) description = base.description();
            if (!f.has("uid")) uid = base.uid();
            if (!f.has("filterTypes") && !f.has("eventTypes")) filterTypes = base.filterTypes();
            if (!f.has("channels")) channels = base.channels();
            if (!f.has("disabled")) disabled = base.disabled();
            if (!f.has("throttleRate") && !f.has("rateLimit")) throttle = base.throttleRate();
            if (!f.has("metadata")) metadata = base.metadata();
        }
        return new EndpointData(uid, url, description == null ? "" : description, filterTypes, channels,
                disabled != null && disabled, throttle, metadata == null ? new LinkedHashMap<>() : metadata);
    }

    /** A URL and custom headers that could never be sent together are refused when saved, not at every attempt. */
    static void checkHead(Fields f, String url, Map<String, String> headers) {
        if (url == null) return;
        WebhookClient.requestHeadProblem(url, headers == null ? Map.of() : headers)
                .ifPresent(p -> f.error(headers == null || headers.isEmpty() ? "url" : "headers", p));
    }

    /**
     * A path parameter that a PUT makes the uid of what it creates: it obeys the uid rules of a
     * body's {@code uid}, or the PUT is refused (422 naming the path parameter).
     */
    static String pathUid(Context ctx, String param) {
        String v = ctx.pathParam(param);
        if (!Fields.ID_PATTERN.matcher(v).matches()) {
            throw new ApiException.Validation(List.of(new ApiException.FieldError(List.of("path", param),
                    "must match " + Fields.ID_PATTERN.pattern() + " to become the uid of what this PUT creates", "value_error")));
        }
        return v;
    }

    static String checkSecret(Fields f, String field, String secret) {
        try {
            return Signer.normalise(secret);
        } catch (IllegalArgumentException e) {
            f.error(field, "must be whsec_ followed by the base64 of 24 to 64 bytes (" + e.getMessage() + ")");
            return null;
        }
    }

    static void checkHeaders(Fields f, String field, Map<String, String> headers) {
        for (var e : headers.entrySet()) {
            if (e.getValue() == null) continue;
            String name = e.getKey();
            if (!name.matches("[!#$%&'*+\\-.^_`|~0-9A-Za-z]+")) f.error(field, "'" + name + "' is not a valid header name");
            else if (RESERVED_HEADERS.contains(name.toLowerCase(Locale.ROOT))) f.error(field, "'" + name + "' is set by ZeroDrop and cannot be overridden");
            else if (e.getValue().contains("\n") || e.getValue().contains("\r")) f.error(field, "the value of '" + name + "' contains a line break");
            else if (e.getValue().indexOf('\u0000') >= 0) f.error(field, "the value of '" + name + "' contains a NUL character");
        }
    }

    /** The endpoint's headers, with the values of sensitive ones withheld. */
    static Views.HeadersOut headersOf(Endpoint endpoint) {
        Map<String, String> headers = new TreeMap<>(opened(endpoint).headers());
        List<String> sensitive = new ArrayList<>();
        for (var e : headers.entrySet()) {
            if (SENSITIVE_HEADERS.contains(e.getKey().toLowerCase(Locale.ROOT))) {
                sensitive.add(e.getKey());
                e.setValue("");
            }
        }
        headers.keySet().removeAll(sensitive);
        return new Views.HeadersOut(headers, sensitive);
    }

    static ApiServer.Reply setHeaders(Services s, Endpoint e, Context ctx, boolean patch) {
        Fields f = new Fields(ApiServer.body(ctx));
        JsonNode node = f.raw("headers");
        Map<String, String> incoming = new LinkedHashMap<>();
        if (node == null || !node.isObject()) {
            f.error("headers", node == null ? "field required" : "must be an object");
        } else {
            for (var it = node.properties().iterator(); it.hasNext(); ) {
                var p = it.next();
                if (p.getValue().isNull() && patch) incoming.put(p.getKey(), null);
                else if (p.getValue().isTextual()) incoming.put(p.getKey(), p.getValue().asText());
                else f.error("headers", "the value of '" + p.getKey() + "' must be a string");
            }
        }
        checkHeaders(f, "headers", incoming);
        List<String> delete = patch ? deleteHeaders(f, incoming) : List.of();
        f.validate();
        Map<String, String> result = patch ? new LinkedHashMap<>(opened(e).headers()) : new LinkedHashMap<>();
        // Header names are case-insensitive: a patch replaces or deletes a header however it was spelt.
        for (String name : delete) result.keySet().removeIf(k -> k.equalsIgnoreCase(name));
        for (var x : incoming.entrySet()) {
            result.keySet().removeIf(k -> k.equalsIgnoreCase(x.getKey()));
            if (x.getValue() != null) result.put(x.getKey(), x.getValue());
        }
        checkHead(f, e.url(), result);
        f.validate();
        s.endpoints().setHeaders(e.id(), result, s.clock().instant());
        return ApiServer.Reply.noContent();
    }

    /** EndpointHeadersPatchIn.deleteHeaders: names to remove, none of them also set by the same patch. */
    private static List<String> deleteHeaders(Fields f, Map<String, String> incoming) {
        JsonNode node = f.raw("deleteHeaders");
        if (node == null || node.isNull()) return List.of();
        if (!node.isArray()) {
            f.error("deleteHeaders", "must be a list of header names");
            return List.of();
        }
        List<String> out = new ArrayList<>();
        for (JsonNode item : node) {
            if (!item.isTextual() || item.asText().isEmpty() || item.asText().indexOf('\u0000') >= 0) {
                f.error("deleteHeaders", "items must be header names");
                return List.of();
            }
            String name = item.asText();
            if (incoming.keySet().stream().anyMatch(k -> k.equalsIgnoreCase(name) && incoming.get(k) != null)) {
                f.error("deleteHeaders", "'" + name + "' is both set in headers and deleted");
            }
            out.add(name);
        }
        return out;
    }

    static ApiServer.Reply rotate(Services s, Endpoint e, Context ctx) {
        byte[] raw = ctx.bodyAsBytes();
        String key = null;
        long grace = 86_400;
        if (raw.length > 0) {
            Fields f = new Fields(ApiServer.body(ctx));
            key = f.optionalString("key", 1, 200, null);
            if (key != null) key = checkSecret(f, "key", key);
            Integer g = f.optionalInt("gracePeriodSeconds", 0, 604_800);
            if (g != null) grace = g;
            f.validate();
        }
        opened(e); // the current and rotated secrets are carried over
        Instant now = s.clock().instant();
        long signing = 1 + e.oldSecrets().stream().filter(o -> o.expiresAt() > now.toEpochMilli()).count() + (grace > 0 ? 1 : 0);
        if (signing > WebhookClient.MAX_SIGNING_SECRETS) {
            throw ApiException.conflict("this rotation would make " + signing + " secrets sign each delivery, over the "
                    + WebhookClient.MAX_SIGNING_SECRETS + " a request head holds; rotate with gracePeriodSeconds 0, or wait for older secrets to expire");
        }
        s.endpoints().rotateSecret(e, key == null ? Signer.newSecret() : key, Duration.ofSeconds(grace), now);
        return ApiServer.Reply.noContent();
    }

    /**
     * Sends one example of {@code eventType} (default svix.ping) to this endpoint only: the event
     * type's schema example number {@code exampleIndex} (default 0) when its schema has examples,
     * else the svix.ping payload.
     */
    private ApiServer.Reply sendExample(Context ctx) {
        Endpoint e = endpoint(s, ctx);
        String eventType = PING;
        int index = 0;
        if (ctx.bodyAsBytes().length > 0) {
            Fields f = new Fields(ApiServer.body(ctx));
            String t = f.optionalString("eventType", 1, 256, Fields.ID_PATTERN);
            Integer i = f.optionalInt("exampleIndex", 0, Integer.MAX_VALUE);
            f.validate();
            if (t != null) eventType = t;
            if (i != null) index = i;
        }
        byte[] payload = PING_PAYLOAD;
        if (!eventType.equals(PING)) {
            String name = eventType;
            var type = s.eventTypes().find(name).orElseThrow(() -> new ApiException.Validation(List.of(new ApiException.FieldError(
                    List.of("body", "eventType"), "no event type is named '" + name + "'", "value_error"))));
            JsonNode examples = examples(type.schemasJson());
            if (examples != null && !examples.isEmpty()) {
                if (index >= examples.size()) {
                    throw new ApiException.Validation(List.of(new ApiException.FieldError(List.of("body", "exampleIndex"),
                            "the schema of '" + name + "' has " + examples.size() + " example(s); the index runs from 0", "value_error")));
                }
                payload = dev.zerodrop.core.Json.write(examples.get(index)).getBytes(java.nio.charset.StandardCharsets.UTF_8);
            }
        }
        Instant now = s.clock().instant();
        String id = dev.zerodrop.core.Ids.message(now);
        s.messages().createForEndpoint(new MessageStore.NewMessage(id, e.appId(), eventType, null, null, payload, now, null), e.id());
        s.wake().run();
        var m = s.messages().find(e.appId(), id).orElseThrow();
        return ApiServer.Reply.of(200, Views.MessageOut.of(m, true));
    }

    private static final String PING = "svix.ping";
    private static final byte[] PING_PAYLOAD = "{\"data\":{\"success\":true},\"type\":\"svix.ping\"}"
            .getBytes(java.nio.charset.StandardCharsets.UTF_8);

    /**
     * The {@code examples} array of an event type's schema, as Svix reads it: the schema of version
     * "1", else of the highest version there is. Null when there is none.
     */
    private static JsonNode examples(String schemasJson) {
        if (schemasJson == null) return null;
        JsonNode schemas;
        try {
            schemas = dev.zerodrop.core.Json.MAPPER.readTree(schemasJson);
        } catch (java.io.IOException ex) {
            return null;
        }
        JsonNode version = schemas.get("1");
        if (version == null) {
            long highest = -1;
            for (var it = schemas.properties().iterator(); it.hasNext(); ) {
                var v = it.next();
                long n = v.getKey().matches("\\d{1,9}") ? Long.parseLong(v.getKey()) : -1;
                if (n > highest) {
                    highest = n;
                    version = v.getValue();
                }
            }
        }
        JsonNode examples = version == null ? null : version.get("examples");
        return examples != null && examples.isArray() ? examples : null;
    }
}
