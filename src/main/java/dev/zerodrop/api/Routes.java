package dev.zerodrop.api;

import static io.javalin.http.HandlerType.GET;

/** Every route of the API, in one place. */
public final class Routes {
    private Routes() {}

    public static void register(ApiServer api, Services s) {
        api.open(GET, "/api/v1/health", ctx -> {
            if (!api.isReady()) throw new ApiException(503, "service_unavailable", "the database is unreachable");
            return ApiServer.Reply.noContent();
        });
        api.open(GET, "/api/v1/health/ping", ctx -> ApiServer.Reply.noContent());
        new ApplicationRoutes(s).register(api);
        new EndpointRoutes(s).register(api);
        new MessageRoutes(s).register(api);
        new EventTypeRoutes(s).register(api);
        new DlqRoutes(s).register(api);
    }
}
