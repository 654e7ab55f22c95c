package dev.zerodrop.api;

import static io.javalin.http.HandlerType.GET;

import java.util.Map;
import java.util.function.Supplier;

/**
 * Probes and metrics, without a token: {@code GET /health/live}, {@code GET /health/ready} and
 * {@code GET /metrics} (Prometheus text format). The Svix-compatible {@code /api/v1/health} stays in
 * {@link Routes}.
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
        api.open(GET, "/metrics", ctx -> ApiServer.Reply.text(200, contentType, scrape.get()));
    }
}
