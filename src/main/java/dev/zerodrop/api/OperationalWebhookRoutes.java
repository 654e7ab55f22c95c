package dev.zerodrop.api;

import static io.javalin.http.HandlerType.DELETE;
import static io.javalin.http.HandlerType.GET;
import static io.javalin.http.HandlerType.PATCH;
import static io.javalin.http.HandlerType.POST;
import static io.javalin.http.HandlerType.PUT;

import dev.zerodrop.alert.Notifier;
import dev.zerodrop.delivery.Signer;
import dev.zerodrop.store.EndpointStore.Endpoint;
import dev.zerodrop.store.EndpointStore.EndpointData;
import dev.zerodrop.store.Page;
import io.javalin.http.Context;
import java.time.Instant;
import java.util.List;
import java.util.Map;

/**
 * /api/v1/operational-webhook/endpoint: the endpoints that receive ZeroDrop's operational webhooks
 * ({@code message.attempt.exhausted}, {@code endpoint.disabled}, {@code background_task.finished}...).
 * They are the endpoints of the internal application {@code zerodrop-operational}, so each has its
 * own secret, headers, event type filter ({@code filterTypes}, or {@code eventTypes} as svix 2 names
 * it), rate limit and disabled flag, and every operational event is delivered to each one whose
 * filter takes it, through the ordinary durable delivery path.
 */
public final class OperationalWebhookRoutes {
    /** Svix's OperationalWebhookEndpointOut, with the event type filter under both of its names. */
    record OperationalEndpointOut(String id, String uid, String url, String description, List<String> filterTypes,
                                  List<String> eventTypes, boolean disabled, Integer throttleRate, Integer rateLimit,
                                  Map<String, String> metadata, Instant createdAt, Instant updatedAt) {
        static OperationalEndpointOut of(Endpoint e) {
            return new OperationalEndpointOut(e.id(), e.uid(), e.url(), e.description(), e.filterTypes(), e.filterTypes(), e.disabled(),
                    e.throttleRate(), e.throttleRate(), e.metadata(), e.createdAt(), e.updatedAt());
        }
    }

    private final Services s;
    private final Notifier notifier;

    public OperationalWebhookRoutes(Services s, Notifier notifier) {
        this.s = s;
        this.notifier = notifier;
    }

    public void register(ApiServer api) {
        String base = "/api/v1/operational-webhook/endpoint";
        api.route(GET, base, Access.ADMIN, ctx -> {
            var page = Params.page(ctx, false);
            Page<Endpoint> list = notifier.operationalApp().map(app -> s.endpoints().list(app, page))
                    .orElse(new Page<>(List.of(), null, null, true));
            return ApiServer.Reply.of(200, Views.ListResponse.of(list, OperationalEndpointOut::of));
        });
        api.route(POST, base, Access.ADMIN, ctx -> {
            Fields f = new Fields(ApiServer.body(ctx));
            EndpointData d = read(f, null);
            return ApiServer.Reply.of(201, OperationalEndpointOut.of(create(f, d)));
        });
        api.route(GET, base + "/{endpoint_id}", Access.ADMIN, ctx -> ApiServer.Reply.of(200, OperationalEndpointOut.of(endpoint(ctx))));
        api.route(PUT, base + "/{endpoint_id}", Access.ADMIN, this::put);
        api.route(PATCH, base + "/{endpoint_id}", Access.ADMIN, ctx -> update(ctx, endpoint(ctx), true));
        api.route(DELETE, base + "/{endpoint_id}", Access.ADMIN, ctx -> {
            s.endpoints().delete(endpoint(ctx).id(), s.clock().instant());
            return ApiServer.Reply.noContent();
        });
        api.route(GET, base + "/{endpoint_id}/secret", Access.ADMIN, ctx -> ApiServer.Reply.of(200, new Views.SecretOut(EndpointRoutes.opened(endpoint(ctx)).secret())));
        api.route(POST, base + "/{endpoint_id}/secret/rotate", Access.ADMIN, ctx -> EndpointRoutes.rotate(s, endpoint(ctx), ctx));
        api.route(GET, base + "/{endpoint_id}/headers", Access.ADMIN, ctx -> ApiServer.Reply.of(200, EndpointRoutes.headersOf(endpoint(ctx))));
        api.route(PUT, base + "/{endpoint_id}/headers", Access.ADMIN, ctx -> EndpointRoutes.setHeaders(s, endpoint(ctx), ctx, false));
        api.route(PATCH, base + "/{endpoint_id}/headers", Access.ADMIN, ctx -> EndpointRoutes.setHeaders(s, endpoint(ctx), ctx, true));
    }

    private Endpoint endpoint(Context ctx) {
        String id = ctx.pathParam("endpoint_id");
        return notifier.operationalApp().flatMap(app -> s.endpoints().find(app, id))
                .orElseThrow(() -> ApiException.notFound("operational webhook endpoint '" + id + "'"));
    }

    /** OperationalWebhookEndpointIn/Update: an endpoint's fields, without channels (operational events have none). */
    private EndpointData read(Fields f, Endpoint base) {
        EndpointData d = EndpointRoutes.read(s, f, base);
        if (f.has("channels") && !f.isNull("channels")) f.error("channels", "operational webhook endpoints have no channels");
        return new EndpointData(d.uid(), d.url(), d.description(), d.filterTypes(), null, d.disabled(), d.throttleRate(), d.metadata());
    }

    /** Creates an endpoint with the body's {@code secret} and {@code headers} (svix 2 sends headers on create). */
    private Endpoint create(Fields f, EndpointData d) {
        String secret = f.optionalString("secret", 1, 200, null);
        if (secret != null) secret = EndpointRoutes.checkSecret(f, "secret", secret);
        Map<String, String> headers = f.optionalStringMap("headers");
        if (headers != null) EndpointRoutes.checkHeaders(f, "headers", headers);
        EndpointRoutes.checkHead(f, d.url(), headers);
        f.validate();
        Instant now = s.clock().instant();
        return s.endpoints().create(notifier.ensureOperationalApp(now), d, secret == null ? Signer.newSecret() : secret,
                headers == null ? Map.of() : headers, now);
    }

    /** Svix's PUT creates or replaces; a missing endpoint takes the path as its uid unless the body gives one. */
    private ApiServer.Reply put(Context ctx) {
        String ref = ctx.pathParam("endpoint_id");
        var existing = notifier.operationalApp().flatMap(app -> s.endpoints().find(app, ref));
        if (existing.isPresent()) return update(ctx, existing.get(), false);
        Fields f = new Fields(ApiServer.body(ctx));
        EndpointData d = read(f, null);
        if (d.uid() == null) d = new EndpointData(EndpointRoutes.pathUid(ctx, "endpoint_id"), d.url(), d.description(), d.filterTypes(), null, d.disabled(), d.throttleRate(),
                d.metadata());
        return ApiServer.Reply.of(201, OperationalEndpointOut.of(create(f, d)));
    }

    private ApiServer.Reply update(Context ctx, Endpoint existing, boolean patch) {
        Fields f = new Fields(ApiServer.body(ctx));
        EndpointData d = read(f, patch ? existing : null);
        EndpointRoutes.checkHead(f, d.url(), existing.headers());
        f.validate();
        if (s.endpoints().update(existing, d, s.clock().instant()) > 0) s.wake().run();
        return ApiServer.Reply.of(200, OperationalEndpointOut.of(s.endpoints().find(existing.appId(), existing.id()).orElseThrow()));
    }
}
