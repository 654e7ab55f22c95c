package dev.zerodrop.api;

import static io.javalin.http.HandlerType.DELETE;
import static io.javalin.http.HandlerType.GET;
import static io.javalin.http.HandlerType.PATCH;
import static io.javalin.http.HandlerType.POST;

import dev.zerodrop.core.Ids;
import dev.zerodrop.core.Json;
import dev.zerodrop.store.AlertStore;
import dev.zerodrop.store.AlertStore.Alert;
import dev.zerodrop.store.AlertStore.Rule;
import dev.zerodrop.store.AppStore;
import io.javalin.http.Context;
import java.time.Instant;
import java.time.InstantSource;
import java.util.List;
import java.util.Map;

/** /api/v1/alert-rules and /api/v1/alerts: ZeroDrop's own routes for alerting. */
public final class AlertRoutes {
    private final AlertStore store;
    private final AppStore apps;
    private final InstantSource clock;

    public AlertRoutes(AlertStore store, AppStore apps, InstantSource clock) {
        this.store = store;
        this.apps = apps;
        this.clock = clock;
    }

    record RuleOut(String id, String appId, String kind, double threshold, int windowSeconds, int minAttempts, int cooldownSeconds,
                   boolean enabled, Instant createdAt, Instant updatedAt) {
        static RuleOut of(Rule r) {
            return new RuleOut(r.id(), r.appId(), r.kind(), r.threshold(), r.windowSeconds(), r.minAttempts(), r.cooldownSeconds(),
                    r.enabled(), r.createdAt(), r.updatedAt());
        }
    }

    record AlertOut(String id, String kind, String appId, String subject, String state, String title,
                    com.fasterxml.jackson.databind.JsonNode details, Double value, Instant firedAt, Instant resolvedAt, boolean notified) {
        static AlertOut of(Alert a) {
            com.fasterxml.jackson.databind.JsonNode d;
            try {
                d = Json.MAPPER.readTree(a.detailsJson());
            } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
                d = null;
            }
            return new AlertOut(a.id(), a.kind(), a.appId(), a.subject(), a.state(), a.title(), d, a.value(), a.firedAt(), a.resolvedAt(),
                    a.notifiedAt() != null);
        }
    }

    public void register(ApiServer api) {
        api.route(GET, "/api/v1/alert-rules", Access.ADMIN, ctx -> ApiServer.Reply.of(200, Map.of("data", store.rules().stream().map(RuleOut::of).toList())));
        api.route(POST, "/api/v1/alert-rules", Access.ADMIN, this::create);
        api.route(GET, "/api/v1/alert-rules/{rule_id}", Access.ADMIN, ctx -> ApiServer.Reply.of(200, RuleOut.of(rule(ctx))));
        api.route(PATCH, "/api/v1/alert-rules/{rule_id}", Access.ADMIN, ctx -> {
            Rule r = rule(ctx);
            Rule updated = read(new Fields(ApiServer.body(ctx)), r.appId(), r.kind(), r);
            return ApiServer.Reply.of(200, RuleOut.of(store.updateRule(updated)));
        });
        api.route(DELETE, "/api/v1/alert-rules/{rule_id}", Access.ADMIN, ctx -> {
            Rule r = rule(ctx);
            if (r.appId() == null) throw ApiException.conflict("a default rule cannot be deleted; PATCH it with \"enabled\": false instead");
            store.deleteRule(r.id());
            return ApiServer.Reply.noContent();
        });
        api.route(GET, "/api/v1/alerts", Access.TENANT, ctx -> {
            String state = ctx.queryParam("state");
            if (state != null && !List.of("firing", "resolved").contains(state)) throw Params.invalid("state", "must be firing or resolved");
            String appRef = ctx.queryParam("app_id");
            String appId = appRef == null ? null : apps.find(appRef).map(AppStore.App::id).orElse(appRef);
            appId = Tenancy.appFilter(ctx, appId, () -> ApplicationRoutes.notFound(appRef));
            return ApiServer.Reply.of(200, Views.ListResponse.of(store.history(Params.page(ctx, true), state, ctx.queryParam("kind"), appId),
                    AlertOut::of));
        });
    }

    private Rule rule(Context ctx) {
        String id = ctx.pathParam("rule_id");
        return store.rule(id).orElseThrow(() -> ApiException.notFound("alert rule '" + id + "'"));
    }

    private ApiServer.Reply create(Context ctx) {
        Fields f = new Fields(ApiServer.body(ctx));
        String kind = f.requiredString("kind", 1, 64, null);
        if (kind != null && !AlertStore.KINDS.contains(kind)) f.error("kind", "must be one of " + AlertStore.KINDS);
        String appRef = f.optionalString("appId", 1, 256, null);
        String appId = null;
        if (appRef != null) {
            appId = apps.find(appRef).map(AppStore.App::id).orElse(null);
            if (appId == null) f.error("appId", "no application '" + appRef + "'");
        }
        Rule r = read(f, appId, kind, null);
        return ApiServer.Reply.of(201, RuleOut.of(store.createRule(r)));
    }

    private Rule read(Fields f, String appId, String kind, Rule base) {
        Double threshold = null;
        var t = f.raw("threshold");
        if (t != null && !t.isNull()) {
            if (!t.isNumber() || t.asDouble() < 0) f.error("threshold", "must be a number >= 0");
            else threshold = t.asDouble();
        }
        Integer window = f.optionalInt("windowSeconds", 10, 31 * 86_400);
        Integer minAttempts = f.optionalInt("minAttempts", 1, 1_000_000);
        Integer cooldown = f.optionalInt("cooldownSeconds", 0, 31 * 86_400);
        Boolean enabled = f.optionalBool("enabled");
        f.validate();
        Instant now = clock.instant();
        return new Rule(base == null ? "rule_" + Ids.ksuid(now) : base.id(), appId, kind,
                threshold != null ? threshold : base != null ? base.threshold() : defaultThreshold(kind),
                window != null ? window : base != null ? base.windowSeconds() : 300,
                minAttempts != null ? minAttempts : base != null ? base.minAttempts() : 10,
                cooldown != null ? cooldown : base != null ? base.cooldownSeconds() : 3600,
                enabled != null ? enabled : base == null || base.enabled(),
                base == null ? now : base.createdAt(), now);
    }

    private static double defaultThreshold(String kind) {
        return switch (kind) {
            case "dlq.depth" -> 100;
            case "endpoint.failure_rate" -> 0.5;
            case "message.failing" -> 4;
            default -> 0;
        };
    }
}
