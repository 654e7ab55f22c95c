package dev.zerodrop.api;

import static io.javalin.http.HandlerType.DELETE;
import static io.javalin.http.HandlerType.GET;
import static io.javalin.http.HandlerType.PATCH;
import static io.javalin.http.HandlerType.POST;

import dev.zerodrop.core.Ids;
import dev.zerodrop.slo.Slo;
import dev.zerodrop.slo.Slo.Objective;
import dev.zerodrop.store.AppStore;
import dev.zerodrop.store.EndpointStore;
import io.javalin.http.Context;
import java.time.Instant;
import java.time.InstantSource;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** /api/v1/slo: service level objectives and their error budgets. */
public final class SloRoutes {
    private final Slo slo;
    private final AppStore apps;
    private final EndpointStore endpoints;
    private final InstantSource clock;

    public SloRoutes(Slo slo, AppStore apps, EndpointStore endpoints, InstantSource clock) {
        this.slo = slo;
        this.apps = apps;
        this.endpoints = endpoints;
        this.clock = clock;
    }

    public void register(ApiServer api) {
        api.route(GET, "/api/v1/slo", Access.TENANT, ctx -> {
            String ref = ctx.queryParam("app_id");
            return ApiServer.Reply.of(200, Map.of("data", slo.evaluate(clock.instant(), Tenancy.appFilter(ctx, apps, ref)).stream().map(SloRoutes::out).toList()));
        });
        api.route(GET, "/api/v1/slo/objectives", Access.TENANT, ctx -> {
            String appId = Tenancy.appFilter(ctx, apps, ctx.queryParam("app_id"));
            List<Objective> all = slo.objectives();
            return ApiServer.Reply.of(200, Map.of("data", appId == null ? all : all.stream().filter(o -> appId.equals(o.appId())).toList()));
        });
        api.route(POST, "/api/v1/slo/objectives", Access.TENANT, this::create);
        api.route(PATCH, "/api/v1/slo/objectives/{slo_id}", Access.TENANT, ctx -> {
            Objective o = find(ctx);
            return ApiServer.Reply.of(200, slo.update(read(new Fields(ApiServer.body(ctx)), o.appId(), o.endpointId(), o.indicator(), o)));
        });
        api.route(DELETE, "/api/v1/slo/objectives/{slo_id}", Access.TENANT, ctx -> {
            Objective o = find(ctx);
            if (o.appId() == null) throw ApiException.conflict("a default objective cannot be deleted; PATCH its target instead");
            slo.delete(o.id());
            return ApiServer.Reply.noContent();
        });
    }

    static Map<String, Object> out(Slo.Evaluation e) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("objective", e.objective());
        m.put("appId", e.appId());
        m.put("value", e.value());
        m.put("events", e.events());
        m.put("badEvents", e.badEvents());
        m.put("errorBudget", Map.of("remainingFraction", e.budget().remainingFraction(), "remainingEvents", e.budget().remainingEvents(),
                "allowedBadEvents", e.budget().allowedBad()));
        m.put("burnRates", e.burnRates());
        m.put("alert", e.alert());
        return m;
    }

    private Objective find(Context ctx) {
        String id = ctx.pathParam("slo_id");
        Objective o = slo.objective(id).orElseThrow(() -> ApiException.notFound("objective '" + id + "'"));
        Tenancy.visible(ctx, o.appId(), () -> ApiException.notFound("objective '" + id + "'"));
        return o;
    }

    private ApiServer.Reply create(Context ctx) {
        Fields f = new Fields(ApiServer.body(ctx));
        String indicator = f.requiredString("indicator", 1, 64, null);
        if (indicator != null && !Slo.INDICATORS.contains(indicator)) f.error("indicator", "must be one of " + Slo.INDICATORS);
        String own = Tenancy.confinement(ctx);
        String appRef = own != null && !f.has("appId") ? own : f.requiredString("appId", 1, 256, null);
        // An application the caller may not see is no application, as for an unknown one.
        String appId = appRef == null ? null : apps.find(appRef).map(AppStore.App::id).filter(id -> own == null || own.equals(id)).orElse(null);
        if (appRef != null && appId == null) f.error("appId", "no application '" + appRef + "'");
        String epRef = f.optionalString("endpointId", 1, 256, null);
        String endpointId = null;
        if (epRef != null && appId != null) {
            endpointId = endpoints.find(appId, epRef).map(EndpointStore.Endpoint::id).orElse(null);
            if (endpointId == null) f.error("endpointId", "no endpoint '" + epRef + "' in this application");
        }
        return ApiServer.Reply.of(201, slo.create(read(f, appId, endpointId, indicator, null)));
    }

    private Objective read(Fields f, String appId, String endpointId, String indicator, Objective base) {
        Double target = null;
        var t = f.raw("target");
        if (t != null && !t.isNull()) {
            if (!t.isNumber() || t.asDouble() <= 0 || t.asDouble() >= 1) f.error("target", "must be a fraction between 0 and 1, such as 0.999");
            else target = t.asDouble();
        } else if (base == null) {
            f.error("target", "field required");
        }
        Integer window = f.optionalInt("windowDays", 1, 90);
        Integer latency = f.optionalInt("latencySeconds", 1, 3600);
        if (latency != null && !Slo.BOUNDS.contains(latency)) f.error("latencySeconds", "must be one of " + Slo.BOUNDS);
        f.validate();
        Instant now = clock.instant();
        return new Objective(base == null ? "slo_" + Ids.ksuid(now) : base.id(), appId, endpointId, indicator,
                target != null ? target : base.target(), window != null ? window : base != null ? base.windowDays() : 28,
                latency != null ? latency : base != null ? base.latencySeconds() : (List.of("dispatch_latency").contains(indicator) ? 5 : 300),
                base == null ? now : base.createdAt(), now);
    }
}
