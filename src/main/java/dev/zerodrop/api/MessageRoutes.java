package dev.zerodrop.api;

import static io.javalin.http.HandlerType.DELETE;
import static io.javalin.http.HandlerType.GET;
import static io.javalin.http.HandlerType.POST;

import com.fasterxml.jackson.databind.JsonNode;
import dev.zerodrop.core.Ids;
import dev.zerodrop.core.Json;
import dev.zerodrop.store.AppStore;
import dev.zerodrop.store.AppStore.App;
import dev.zerodrop.store.AttemptStore;
import dev.zerodrop.store.EndpointStore.Endpoint;
import dev.zerodrop.store.MessageStore;
import io.javalin.http.Context;
import java.time.Instant;
import java.util.List;
import java.util.Optional;

/** /api/v1/app/{app_id}/msg and the attempt routes: ingest, messages, attempts, resend. */
final class MessageRoutes {
    private final Services s;

    MessageRoutes(Services s) {
        this.s = s;
    }

    void register(ApiServer api) {
        String msgs = "/api/v1/app/{app_id}/msg";
        api.route(POST, msgs, Access.APP, this::create);
        api.route(GET, msgs, Access.APP, ctx -> {
            App app = ApplicationRoutes.app(s, ctx);
            boolean withContent = Params.bool(ctx, "with_content", true);
            var page = s.messages().list(app.id(), Params.page(ctx, true), messageFilter(ctx));
            return ApiServer.Reply.of(200, Views.ListResponse.of(page, m -> Views.MessageOut.of(m, withContent)));
        });
        api.route(GET, msgs + "/{msg_id}", Access.APP, ctx -> ApiServer.Reply.of(200,
                Views.MessageOut.of(message(ctx), Params.bool(ctx, "with_content", true))));
        api.route(GET, msgs + "/{msg_id}/endpoint", Access.APP, ctx -> {
            var m = message(ctx);
            return ApiServer.Reply.of(200, Views.ListResponse.of(s.messages().destinations(m.id(), Params.page(ctx, false)),
                    Views.MessageEndpointOut::of));
        });
        api.route(POST, msgs + "/{msg_id}/endpoint/{endpoint_id}/resend", Access.APP, ctx -> {
            var m = message(ctx);
            Endpoint e = EndpointRoutes.endpoint(s, ctx);
            switch (s.deliveries().resend(m.appId(), m.id(), e.id(), s.clock().instant())) {
                case SCHEDULED -> {}
                case ENDPOINT_DISABLED -> throw ApiException.conflict("endpoint '" + e.id() + "' is disabled; enable it to resend");
                case CONTENT_EXPUNGED -> throw new ApiException(409, "content_expunged",
                        "the content of message '" + m.id() + "' was expunged; it cannot be resent");
            }
            s.wake().run();
            // Svix answers 202 with an EmptyResponse, {}; its SDKs parse the body as JSON.
            return ApiServer.Reply.of(202, java.util.Map.of());
        });
        api.route(GET, msgs + "/{msg_id}/attempt/{attempt_id}", Access.APP, ctx -> {
            var m = message(ctx);
            String id = ctx.pathParam("attempt_id");
            return ApiServer.Reply.of(200, Views.AttemptOut.of(s.attempts().find(m.appId(), m.id(), id)
                    .orElseThrow(() -> ApiException.notFound("attempt '" + id + "'"))));
        });
        api.route(DELETE, msgs + "/{msg_id}/attempt/{attempt_id}/content", Access.APP, ctx -> {
            var m = message(ctx);
            if (!s.attempts().expunge(m.appId(), m.id(), ctx.pathParam("attempt_id"))) throw ApiException.notFound("attempt");
            return ApiServer.Reply.noContent();
        });
        api.route(GET, "/api/v1/app/{app_id}/attempt/msg/{msg_id}", Access.APP, ctx -> {
            var m = message(ctx);
            // Like a path, the filter takes an endpoint's id or uid; one this application lacks is a 404, as in Svix.
            String ref = ctx.queryParam("endpoint_id");
            String endpointId = ref == null || ref.isEmpty() ? null : s.endpoints().find(m.appId(), ref)
                    .orElseThrow(() -> ApiException.notFound("endpoint '" + ref + "'")).id();
            boolean withContent = Params.bool(ctx, "with_content", true);
            return ApiServer.Reply.of(200, Views.ListResponse.of(
                    s.attempts().byMessage(m.appId(), m.id(), Params.page(ctx, true), filter(ctx, endpointId)),
                    a -> Views.AttemptOut.of(a, withContent)));
        });
        api.route(GET, "/api/v1/app/{app_id}/attempt/endpoint/{endpoint_id}", Access.APP, ctx -> {
            Endpoint e = EndpointRoutes.endpoint(s, ctx);
            boolean withContent = Params.bool(ctx, "with_content", true);
            return ApiServer.Reply.of(200, Views.ListResponse.of(
                    s.attempts().byEndpoint(e.appId(), e.id(), Params.page(ctx, true), filter(ctx, null)),
                    a -> Views.AttemptOut.of(a, withContent)));
        });
    }

    /** The message lists' filters: channel, tag, event_types, before, after. */
    static MessageStore.Filter messageFilter(Context ctx) {
        return new MessageStore.Filter(ctx.queryParam("channel"), ctx.queryParam("tag"), Params.list(ctx, "event_types"),
                Params.instant(ctx, "before"), Params.instant(ctx, "after"));
    }

    private static AttemptStore.Filter filter(Context ctx, String endpointId) {
        Integer status = Params.optionalInt(ctx, "status");
        if (status != null && (status < 0 || status > 3)) throw Params.invalid("status", "must be 0, 1, 2 or 3");
        Integer cls = Params.optionalInt(ctx, "status_code_class");
        if (cls != null && !List.of(0, 100, 200, 300, 400, 500).contains(cls)) {
            throw Params.invalid("status_code_class", "must be 0, 100, 200, 300, 400 or 500");
        }
        var m = messageFilter(ctx);
        return new AttemptStore.Filter(status, cls, endpointId, m.channel(), m.tag(), m.eventTypes(), m.before(), m.after());
    }

    /**
     * How long the payload is to be kept, in hours: Svix's payloadRetentionPeriod (days, 5 to 90) or
     * payloadRetentionHours (1 to 2160), never both. Null when neither is given.
     */
    private static Integer retentionHours(Fields f) {
        Integer days = f.optionalInt("payloadRetentionPeriod", 5, 90);
        Integer hours = f.optionalInt("payloadRetentionHours", 1, 2160);
        if (days != null && hours != null) {
            f.error("payloadRetentionHours", "cannot be given together with payloadRetentionPeriod");
            return null;
        }
        return days != null ? Integer.valueOf(days * 24) : hours;
    }

    private MessageStore.Message message(Context ctx) {
        App app = ApplicationRoutes.app(s, ctx);
        String id = ctx.pathParam("msg_id");
        return s.messages().find(app.id(), id).orElseThrow(() -> ApiException.notFound("message '" + id + "'"));
    }

    private ApiServer.Reply create(Context ctx) throws Exception {
        byte[] raw = ctx.bodyAsBytes();
        JsonNode json = ApiServer.body(ctx);
        Fields f = new Fields(json);
        String eventType = f.requiredString("eventType", 1, 256, Fields.ID_PATTERN);
        String eventId = f.optionalString("eventId", 1, 256, Fields.ID_PATTERN);
        List<String> channels = f.optionalIdList("channels", 5, 128);
        JsonNode payload = f.raw("payload");
        if (payload == null || payload.isNull()) f.error("payload", "field required");
        else if (!payload.isObject()) f.error("payload", "must be a JSON object");
        String deliverAtText = f.optionalString("deliverAt", 1, 64, null);
        JsonNode appNode = f.raw("application");
        List<String> tags = f.optionalList("tags", 5, 128, Fields.TAG_PATTERN);
        Integer retentionHours = retentionHours(f);
        f.validate();
        Instant now = s.clock().instant();
        Instant deliverAt = deliverAtText == null ? null : Params.parseInstant(deliverAtText, "body", "deliverAt");
        // Everything the request can be refused for is checked before the application is created.
        boolean withContent = Params.bool(ctx, "with_content", true);

        String appRef = ctx.pathParam("app_id");
        Optional<App> found = s.apps().findRecent(appRef);
        App app;
        if (found.isPresent()) {
            app = found.get();
        } else if (appNode != null && !appNode.isNull()) {
            AppStore.AppData d = ApplicationRoutes.read(appNode, null);
            if (d.uid() == null) d = new AppStore.AppData(EndpointRoutes.pathUid(ctx, "app_id"), d.name(), d.throttleRate(), d.metadata());
            app = s.apps().create(d, now);
        } else {
            throw ApiException.notFound("application '" + appRef + "'");
        }

        byte[] payloadBytes = RawJson.field(raw, "payload");
        var m = new MessageStore.NewMessage(Ids.message(now), app.id(), eventType, eventId, channels, payloadBytes, now, deliverAt,
                tags, retentionHours);
        Views.MessageOut out = new Views.MessageOut(m.id(), eventType, eventId, channels,
                Views.payloadText(payloadBytes, withContent), now, tags);
        byte[] body = Json.MAPPER.writeValueAsBytes(out);
        MessageStore.IdempotentResponse idem = ApiServer.takeIdempotency(ctx)
                .map(x -> new MessageStore.IdempotentResponse(x.scope(), x.key(), 202, body)).orElse(null);
        MessageStore.Created created;
        try {
            created = s.ingest().submit(new MessageStore.Submission(m, idem)).get();
        } catch (java.util.concurrent.ExecutionException e) {
            if (e.getCause() instanceof RuntimeException r) throw r;
            throw e;
        }
        switch (created) {
            case MessageStore.Created.Duplicate d -> throw new dev.zerodrop.store.Conflict(
                    "A message with eventId '" + eventId + "' already exists in this application: " + d.existingId());
            case MessageStore.Created.Stored st -> {
                if (st.deliveries() > st.leased()) s.wake().run(); // leased ones are being sent already
            }
        }
        return ApiServer.Reply.of(202, body);
    }
}
