package dev.zerodrop.api;

import static io.javalin.http.HandlerType.GET;
import static io.javalin.http.HandlerType.POST;

import dev.zerodrop.audit.Audit;
import dev.zerodrop.store.AppStore;
import java.time.InstantSource;
import java.util.Map;

/** /api/v1/audit: the zero-drop audit. */
public final class AuditRoutes {
    private final Audit audit;
    private final AppStore apps;
    private final InstantSource clock;

    public AuditRoutes(Audit audit, AppStore apps, InstantSource clock) {
        this.audit = audit;
        this.apps = apps;
        this.clock = clock;
    }

    public void register(ApiServer api) {
        api.route(GET, "/api/v1/audit", Access.TENANT, ctx -> {
            String appId = Tenancy.appFilter(ctx, apps, ctx.queryParam("app_id"));
            return ApiServer.Reply.of(200, audit.report(appId, clock.instant()));
        });
        api.route(POST, "/api/v1/audit/recount", Access.ADMIN, ctx -> {
            var recounts = audit.store().reconcile(clock.instant());
            long missing = recounts.stream().mapToLong(r -> Math.max(0, r.accepted() - r.found())).sum();
            return ApiServer.Reply.of(200, Map.of("endpoints", recounts.size(), "unaccounted", missing, "recountedAt", clock.instant().toString()));
        });
    }
}
