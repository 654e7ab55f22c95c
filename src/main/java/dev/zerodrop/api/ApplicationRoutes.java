package dev.zerodrop.api;

import static io.javalin.http.HandlerType.DELETE;
import static io.javalin.http.HandlerType.GET;
import static io.javalin.http.HandlerType.PATCH;
import static io.javalin.http.HandlerType.POST;
import static io.javalin.http.HandlerType.PUT;

import com.fasterxml.jackson.databind.JsonNode;
import dev.zerodrop.store.AppStore;
import dev.zerodrop.store.AppStore.App;
import dev.zerodrop.store.AppStore.AppData;
import io.javalin.http.Context;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** /api/v1/app: applications. */
final class ApplicationRoutes {
    private final Services s;

    ApplicationRoutes(Services s) {
        this.s = s;
    }

    void register(ApiServer api) {
        api.route(GET, "/api/v1/app", Access.TENANT, this::list);
        api.route(POST, "/api/v1/app", Access.ADMIN, this::create);
        api.route(GET, "/api/v1/app/{app_id}", Access.APP, ctx -> ApiServer.Reply.of(200, Views.AppOut.of(app(s, ctx))));
        api.route(PUT, "/api/v1/app/{app_id}", Access.APP, this::put);
        api.route(PATCH, "/api/v1/app/{app_id}", Access.APP, this::patch);
        api.route(DELETE, "/api/v1/app/{app_id}", Access.APP, ctx -> {
            s.apps().delete(app(s, ctx).id(), s.clock().instant());
            return ApiServer.Reply.noContent();
        });
    }

    /** The application named in the path by id or uid, or 404. */
    static App app(Services s, Context ctx) {
        String id = ctx.pathParam("app_id");
        return s.apps().find(id).orElseThrow(() -> notFound(id));
    }

    /** The answer for an application that does not exist, or that the caller may not see: the same. */
    static ApiException notFound(String ref) {
        return ApiException.notFound("application '" + ref + "'");
    }

    /** Every application; only its own for an application-scoped caller. */
    private ApiServer.Reply list(Context ctx) {
        var page = Params.page(ctx, false);
        String own = Tenancy.confinement(ctx);
        if (own == null) return ApiServer.Reply.of(200, Views.ListResponse.of(s.apps().list(page), Views.AppOut::of));
        List<Views.AppOut> data = s.apps().find(own).map(Views.AppOut::of).map(List::of).orElse(List.of());
        return ApiServer.Reply.of(200, new Views.ListResponse<>(data, null, null, true));
    }

    private ApiServer.Reply create(Context ctx) {
        AppData d = read(ApiServer.body(ctx), null);
        if (Params.bool(ctx, "get_if_exists", false) && d.uid() != null) {
            Optional<App> existing = s.apps().find(d.uid());
            if (existing.isPresent()) return ApiServer.Reply.of(200, Views.AppOut.of(existing.get()));
        }
        return ApiServer.Reply.of(201, Views.AppOut.of(s.apps().create(d, s.clock().instant())));
    }

    private ApiServer.Reply put(Context ctx) {
        String id = ctx.pathParam("app_id");
        AppData d = read(ApiServer.body(ctx), null);
        Optional<App> existing = s.apps().find(id);
        if (existing.isPresent()) return ApiServer.Reply.of(200, Views.AppOut.of(s.apps().update(existing.get(), d, s.clock().instant())));
        // Svix creates the application when it does not exist, taking the path as its uid.
        AppData withUid = new AppData(d.uid() == null ? EndpointRoutes.pathUid(ctx, "app_id") : d.uid(), d.name(), d.throttleRate(), d.metadata());
        return ApiServer.Reply.of(201, Views.AppOut.of(s.apps().create(withUid, s.clock().instant())));
    }

    private ApiServer.Reply patch(Context ctx) {
        App existing = app(s, ctx);
        AppData d = read(ApiServer.body(ctx), existing);
        return ApiServer.Reply.of(200, Views.AppOut.of(s.apps().update(existing, d, s.clock().instant())));
    }

    /** Reads an ApplicationIn; with {@code base}, absent fields keep their value (PATCH). */
    static AppData read(JsonNode json, App base) {
        Fields f = new Fields(json);
        String name = f.name("name", base == null, 256);
        if (base != null) f.notNull("name");
        String uid = f.optionalString("uid", 1, 256, Fields.ID_PATTERN);
        Integer throttle = f.optionalInt("throttleRate", 1, 65535);
        if (throttle == null) throttle = f.optionalInt("rateLimit", 1, 65535);
        Map<String, String> metadata = f.optionalStringMap("metadata");
        f.validate();
        if (base != null) {
            if (!f.has("name")) name = base.name();
            if (!f.has("uid")) uid = base.uid();
            if (!f.has("throttleRate") && !f.has("rateLimit")) throttle = base.throttleRate();
            if (!f.has("metadata")) metadata = base.metadata();
        }
        return new AppData(uid, name, throttle, metadata == null ? new LinkedHashMap<>() : metadata);
    }
}
