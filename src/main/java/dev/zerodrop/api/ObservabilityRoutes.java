package dev.zerodrop.api;

import static io.javalin.http.HandlerType.GET;

import java.util.Map;
import java.util.function.Supplier;

/**
 * Probes, without a token ({@code GET /health/live}, {@code GET /health/ready}), and metrics
 * ({@code GET /metrics}, Prometheus text format), with the metrics token or a server-wide key. The
 * Svix-compatible {@code /api/v1/health} stays in {@link Routes}.
 */
public final class ObservabilityRoutes {
    private final Supplier<String> scrape;
    private final String contentType;

    /** {@code scrape} renders every metric, sent with {@code contentType}. */
    public ObservabilityRoutes(Supplier<String> scrape, String contentType) {
        this.scrape = scrape;
        this.contentType = contentType;
    }

    public void register(ApiServer api) {
        // Liveness: the process serves HTTP. It never asks the database, so an outage cannot get the node restarted.
        api.open(GET, "/health/live", ctx -> ApiServer.Reply.of(200, Map.of("status", "up")));
        // Readiness: the database answers, so requests that need it can succeed.
        api.open(GET, "/health/ready", ctx -> api.isReady()
                ? ApiServer.Reply.of(200, Map.of("status", "up"))
                : ApiServer.Reply.of(503, Map.of("status", "down", "detail", "the database is unreachable")));
        // Metrics describe the whole server (volumes, queue depth, routes): the metrics token or a server-wide key reads them.
        api.route(GET, "/metrics", Access.METRICS, ctx -> ApiServer.Reply.text(200, contentType, scrape.get()));
    }
}
