package dev.zerodrop.api;

import static io.javalin.http.HandlerType.DELETE;
import static io.javalin.http.HandlerType.GET;
import static io.javalin.http.HandlerType.PATCH;
import static io.javalin.http.HandlerType.POST;
import static io.javalin.http.HandlerType.PUT;

import com.fasterxml.jackson.databind.JsonNode;
import dev.zerodrop.core.Json;
import dev.zerodrop.store.EventTypeStore.EventType;
import io.javalin.http.Context;
import java.time.Instant;
import java.util.List;
import java.util.Optional;

/** /api/v1/event-type: the catalogue of event types. */
final class EventTypeRoutes {
    private final Services s;

    EventTypeRoutes(Services s) {
        this.s = s;
    }

    void register(ApiServer api) {
        String base = "/api/v1/event-type";
        api.route(GET, base, Access.ANY, ctx -> {
            // As in Svix, a list carries the schemas only when asked for them.
            boolean withContent = Params.bool(ctx, "with_content", false);
            return ApiServer.Reply.of(200, Views.ListResponse.of(
                    s.eventTypes().list(Params.page(ctx, false), Params.bool(ctx, "include_archived", false)),
                    t -> Views.EventTypeOut.of(t, withContent)));
        });
        api.route(POST, base, Access.ADMIN, ctx -> {
            Fields f = new Fields(ApiServer.body(ctx));
            String name = f.requiredString("name", 1, 256, Fields.ID_PATTERN);
            EventType t = read(f, name, null);
            return ApiServer.Reply.of(201, Views.EventTypeOut.of(s.eventTypes().create(t)));
        });
        api.route(GET, base + "/{event_type_name}", Access.ANY, ctx -> ApiServer.Reply.of(200, Views.EventTypeOut.of(find(ctx))));
        api.route(PUT, base + "/{event_type_name}", Access.ADMIN, ctx -> {
            String name = ctx.pathParam("event_type_name");
            Optional<EventType> existing = s.eventTypes().find(name);
            EventType t = read(new Fields(ApiServer.body(ctx)), name, null);
            if (existing.isEmpty()) {
                EndpointRoutes.pathUid(ctx, "event_type_name");
                return ApiServer.Reply.of(201, Views.EventTypeOut.of(s.eventTypes().create(t)));
            }
            EventType updated = new EventType(name, t.description(), t.archived(), t.deprecated(), t.featureFlags(), t.groupName(),
                    t.schemasJson(), existing.get().createdAt(), t.updatedAt());
            return ApiServer.Reply.of(200, Views.EventTypeOut.of(s.eventTypes().update(updated)));
        });
        api.route(PATCH, base + "/{event_type_name}", Access.ADMIN, ctx -> {
            EventType existing = find(ctx);
            EventType t = read(new Fields(ApiServer.body(ctx)), existing.name(), existing);
            return ApiServer.Reply.of(200, Views.EventTypeOut.of(s.eventTypes().update(t)));
        });
        api.route(DELETE, base + "/{event_type_name}", Access.ADMIN, ctx -> {
            EventType t = find(ctx);
            s.eventTypes().delete(t.name(), Params.bool(ctx, "expunge", false), s.clock().instant());
            return ApiServer.Reply.noContent();
        });
    }

    private EventType find(Context ctx) {
        String name = ctx.pathParam("event_type_name");
        return s.eventTypes().find(name).orElseThrow(() -> ApiException.notFound("event type '" + name + "'"));
    }

    private EventType read(Fields f, String name, EventType base) {
        String description = f.optionalString("description", 0, 65536, null);
        Boolean archived = f.optionalBool("archived");
        Boolean deprecated = f.optionalBool("deprecated");
        // featureFlag is Svix's deprecated single form of featureFlags.
        String featureFlag = f.optionalString("featureFlag", 1, 256, Fields.ID_PATTERN);
        List<String> featureFlags = f.optionalIdList("featureFlags", 100, 256);
        if (featureFlags == null && featureFlag != null) featureFlags = List.of(featureFlag);
        String groupName = f.optionalString("groupName", 1, 256, Fields.ID_PATTERN);
        JsonNode schemas = f.raw("schemas");
        if (schemas != null && !schemas.isNull() && !schemas.isObject()) f.error("schemas", "must be an object");
        else if (schemas != null && Json.write(schemas).contains("\\u0000")) f.error("schemas", "must not contain NUL characters");
        f.validate();
        Instant now = s.clock().instant();
        String schemasJson = schemas == null || schemas.isNull() ? null : Json.write(schemas);
        if (base != null) {
            if (!f.has("description")) description = base.description();
            if (!f.has("archived")) archived = base.archived();
            if (!f.has("deprecated")) deprecated = base.deprecated();
            if (!f.has("featureFlag") && !f.has("featureFlags")) featureFlags = base.featureFlags();
            if (!f.has("groupName")) groupName = base.groupName();
            if (!f.has("schemas")) schemasJson = base.schemasJson();
        }
        return new EventType(name, description == null ? "" : description, archived != null && archived,
                deprecated != null && deprecated, featureFlags, groupName, schemasJson, base == null ? now : base.createdAt(), now);
    }
}
