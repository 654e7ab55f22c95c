package dev.zerodrop.metrics;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.zerodrop.Server;
import dev.zerodrop.core.Json;
import dev.zerodrop.testing.TestDatabase;
import dev.zerodrop.testing.TestServer;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.sql.DriverManager;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** Liveness and readiness of a node whose database goes away and comes back. */
class HealthTest {
    private final HttpClient http = HttpClient.newHttpClient();

    @Test
    void readinessFollowsTheDatabaseWhileLivenessStaysUp() throws Exception {
        try (TestDatabase db = TestDatabase.create("health");
             TestServer zd = TestServer.start(TestServer.defaults(db.url()), TestServer.quiet(Server.Options.defaults()))) {
            assertThat(get(zd, "/health/live")).isEqualTo("200 {\"status\":\"up\"}");
            assertThat(get(zd, "/health/ready")).isEqualTo("200 {\"status\":\"up\"}");
            try {
                // The database refuses new connections and drops the node's open ones: an outage.
                admin(db, "ALTER DATABASE " + db.name() + " ALLOW_CONNECTIONS false");
                admin(db, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '" + db.name() + "'");
                await().atMost(Duration.ofSeconds(30)).until(() -> get(zd, "/health/ready").startsWith("503 "));
                var down = Json.MAPPER.readTree(get(zd, "/health/ready").substring(4));
                assertThat(down.get("status").asText()).isEqualTo("down");
                assertThat(down.get("detail").asText()).contains("database");
                assertThat(get(zd, "/health/live")).isEqualTo("200 {\"status\":\"up\"}");
                assertThat(get(zd, "/api/v1/health")).startsWith("503 ");
                // ZERODROP_ADMIN_TOKEN is checked in memory: metrics stay readable while the database is away.
                assertThat(get(zd, "/metrics", TestServer.TOKEN)).startsWith("200 ").contains("zerodrop_deliveries{state=\"pending\"}");
            } finally {
                admin(db, "ALTER DATABASE " + db.name() + " ALLOW_CONNECTIONS true");
            }
            await().atMost(Duration.ofSeconds(30)).until(() -> get(zd, "/health/ready").equals("200 {\"status\":\"up\"}"));
            assertThat(get(zd, "/api/v1/health")).startsWith("204");
        }
    }

    /** Status and body, without a token. */
    private String get(TestServer zd, String path) throws Exception {
        return get(zd, path, null);
    }

    private String get(TestServer zd, String path, String token) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(zd.base() + path)).timeout(Duration.ofSeconds(20));
        if (token != null) b.header("Authorization", "Bearer " + token);
        HttpResponse<String> r = http.send(b.build(), HttpResponse.BodyHandlers.ofString());
        return r.statusCode() + " " + r.body();
    }

    /** Runs SQL on the server's maintenance database, since the test database itself is refusing connections. */
    private static void admin(TestDatabase db, String sql) throws Exception {
        try (var c = DriverManager.getConnection(db.url().replace("/" + db.name() + "?", "/postgres?")); var s = c.createStatement()) {
            s.execute(sql);
        }
    }
}
