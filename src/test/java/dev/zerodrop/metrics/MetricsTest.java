package dev.zerodrop.metrics;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.zerodrop.Server;
import dev.zerodrop.chaos.Receiver;
import dev.zerodrop.config.Knob;
import dev.zerodrop.testing.TestDatabase;
import dev.zerodrop.testing.TestServer;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@code GET /metrics} of a real node after real deliveries to real receivers on 127.0.0.1: some
 * succeed at once, some fail first (HTTP 500, a hang, a refused connection), some die, one is gone.
 */
class MetricsTest {
    static TestDatabase db;
    static TestServer zd;
    static final Metrics metrics = new Metrics();
    static final HttpClient http = HttpClient.newHttpClient();

    @BeforeAll
    static void start() throws Exception {
        db = TestDatabase.create("metrics");
        Map<Knob, String> knobs = TestServer.defaults(db.url());
        knobs.put(Knob.REQUEST_TIMEOUT, "1s");
        knobs.put(Knob.LEASE, "4s");
        zd = TestServer.start(knobs, TestServer.quiet(Server.Options.defaults()).withMetrics(metrics));
    }

    @AfterAll
    static void stop() {
        if (zd != null) zd.close();
        if (db != null) db.close();
    }

    @Test
    void outcomesLatenciesQueueAndRuntimeAreExposedWithoutIds() throws Exception {
        List<String> ids = new ArrayList<>();
        try (Receiver ok = Receiver.alwaysOk();
             Receiver failsOnce = new Receiver((r, previous) -> previous == 0 ? Receiver.status(500) : Receiver.ok());
             Receiver hangsOnce = new Receiver((r, previous) -> previous == 0 ? new Receiver.Behaviour.Hang() : Receiver.ok());
             Receiver alwaysFails = new Receiver((r, previous) -> Receiver.status(500));
             Receiver gone = new Receiver((r, previous) -> Receiver.status(410))) {
            // The retry schedule has 3 entries: a budget of 4 attempts.
            send(ok.url("/ok"), 3, ids);
            send(failsOnce.url("/flaky"), 2, ids);        // 500 then 200
            send(hangsOnce.url("/slow"), 1, ids);         // times out, then 200
            send(alwaysFails.url("/broken"), 1, ids);     // 500 x4: dead
            send(refusedUrl(), 1, ids);                   // connection refused x4: dead
            send(gone.url("/gone"), 1, ids);              // 410: held, endpoint disabled
            String later = zd.createApp("later");
            ids.add(later);
            ids.add(zd.createEndpoint(later, Map.of("url", ok.url("/later"))).id());
            ids.add(zd.post("/api/v1/app/" + later + "/msg", Map.of("eventType", "e", "payload", Map.of(),
                    "deliverAt", Instant.now().plus(Duration.ofHours(1)).toString())).get("id").asText());

            // Delivered 6, retried 5 on HTTP 500, 1 on timeout, 3 on refused connections; dead 2; held 1.
            await().atMost(Duration.ofSeconds(60)).untilAsserted(() -> {
                String m = scrape();
                assertThat(value(m, "zerodrop_attempts_total", "error_class=\"none\",outcome=\"delivered\"")).isEqualTo(6);
                assertThat(value(m, "zerodrop_attempts_total", "error_class=\"http\",outcome=\"retry\"")).isEqualTo(5);
                assertThat(value(m, "zerodrop_attempts_total", "error_class=\"timeout\",outcome=\"retry\"")).isEqualTo(1);
                assertThat(value(m, "zerodrop_attempts_total", "error_class=\"connect\",outcome=\"retry\"")).isEqualTo(3);
                assertThat(value(m, "zerodrop_attempts_total", "error_class=\"http\",outcome=\"dead\"")).isEqualTo(1);
                assertThat(value(m, "zerodrop_attempts_total", "error_class=\"connect\",outcome=\"dead\"")).isEqualTo(1);
                assertThat(value(m, "zerodrop_attempts_total", "error_class=\"http\",outcome=\"held\"")).isEqualTo(1);
            });
            // The gauges follow once the background refresh has run (every 5 s).
            await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> {
                String m = scrape();
                assertThat(value(m, "zerodrop_deliveries", "state=\"dead\"")).isEqualTo(2);
                assertThat(value(m, "zerodrop_dlq_depth", "")).isEqualTo(2);
                assertThat(value(m, "zerodrop_deliveries", "state=\"held\"")).isEqualTo(1);
                assertThat(value(m, "zerodrop_deliveries", "state=\"pending\"")).isEqualTo(1); // scheduled an hour ahead
                assertThat(value(m, "zerodrop_deliveries", "state=\"sending\"")).isZero();
                assertThat(value(m, "zerodrop_oldest_pending_age_seconds", "")).isZero(); // nothing is due
            });
        }

        String m = scrape();
        double attempts = sum(m, "zerodrop_attempts_total");
        assertThat(attempts).isEqualTo(18);
        assertThat(value(m, "zerodrop_attempt_duration_seconds_count", "")).isEqualTo(attempts);
        assertThat(value(m, "zerodrop_attempt_duration_seconds_sum", "")).isGreaterThanOrEqualTo(1.0); // the hang lasted 1 s
        assertThat(value(m, "zerodrop_attempt_duration_seconds_bucket", "le=\"+Inf\"")).isEqualTo(attempts);
        assertThat(value(m, "zerodrop_accept_to_delivered_seconds_count", "")).isEqualTo(6);
        assertThat(value(m, "zerodrop_accept_to_delivered_seconds_sum", "")).isGreaterThan(0);
        assertThat(value(m, "zerodrop_lease_rescues_total", "")).isZero();
        assertThat(value(m, "zerodrop_superseded_outcomes_total", "")).isZero();
        assertThat(value(m, "zerodrop_ingest_acknowledged_total", "")).isEqualTo(10);
        assertThat(value(m, "zerodrop_ingest_batch_size_sum", "")).isEqualTo(10);
        assertThat(value(m, "zerodrop_http_server_requests_seconds_count",
                "method=\"POST\",route=\"/api/v1/app/{app_id}/msg\",status=\"202\"")).isEqualTo(10);
        System.gc(); // a gauge whose state is only weakly held would now read NaN
        assertThat(value(scrape(), "zerodrop_in_flight", "")).isZero();

        // The route template, never the raw path; errors are timed too.
        assertThat(zd.call("GET", "/api/v1/app/app_doesnotexist", null).status()).isEqualTo(404);
        assertThat(get("/api/v1/app").statusCode()).isEqualTo(401); // no token
        assertThat(get("/no/such/route").statusCode()).isEqualTo(404);
        m = scrape();
        assertThat(value(m, "zerodrop_http_server_requests_seconds_count",
                "method=\"GET\",route=\"/api/v1/app/{app_id}\",status=\"404\"")).isEqualTo(1);
        assertThat(value(m, "zerodrop_http_server_requests_seconds_count",
                "method=\"GET\",route=\"/api/v1/app\",status=\"401\"")).isEqualTo(1);
        assertThat(value(m, "zerodrop_http_server_requests_seconds_count",
                "method=\"GET\",route=\"unmatched\",status=\"404\"")).isEqualTo(1);
        assertThat(m).doesNotContain("app_doesnotexist").doesNotContain("/no/such/route");

        // The runtime and the connection pool.
        assertThat(m).contains("jvm_memory_used_bytes{", "jvm_gc_", "jvm_threads_live_threads ", "jvm_classes_loaded_classes ",
                "system_cpu_count ", "process_cpu_usage ");
        assertThat(value(m, "hikaricp_connections_max", "pool=\"zerodrop\"")).isEqualTo(16);
        assertThat(m).contains("hikaricp_connections_active{pool=\"zerodrop\"}", "hikaricp_connections_acquire_seconds_count{pool=\"zerodrop\"}");

        // No label carries an id: none of this test's ids, and no prefixed id outside a route's {placeholders}.
        for (String id : ids) assertThat(m).as("id %s", id).doesNotContain(id);
        String withoutPlaceholders = m.replaceAll("\\{[a-z_]+}", "{}");
        assertThat(withoutPlaceholders).doesNotContain("msg_", "ep_", "app_", "atmpt_");
        assertThat(metrics.registry().getMeters().size()).isLessThan(400); // bounded: nothing grows per message
    }

    @Test
    void metricsNeedAServerWideKeyAndSpeakThePrometheusTextFormat() throws Exception {
        assertThat(get("/metrics").statusCode()).isEqualTo(401);
        HttpResponse<String> r = scrapeResponse();
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.headers().firstValue("content-type")).hasValueSatisfying(t -> assertThat(t).startsWith("text/plain; version=0.0.4"));
        assertThat(r.body()).contains("# TYPE zerodrop_attempts_total counter", "# TYPE zerodrop_attempt_duration_seconds histogram",
                "# TYPE zerodrop_deliveries gauge", "# TYPE zerodrop_dlq_depth gauge");
        // Every combination the dispatcher can record is there from the start, at zero or more.
        assertThat(r.body()).contains("zerodrop_attempts_total{error_class=\"blocked\",outcome=\"dead\"}",
                "zerodrop_attempts_total{error_class=\"lost-lease\",outcome=\"retry\"}");
    }

    private static void send(String url, int messages, List<String> ids) {
        String app = zd.createApp("app for " + url);
        ids.add(app);
        ids.add(zd.createEndpoint(app, Map.of("url", url)).id());
        for (int i = 0; i < messages; i++) {
            ids.add(zd.post("/api/v1/app/" + app + "/msg", Map.of("eventType", "e", "payload", Map.of("i", i))).get("id").asText());
        }
    }

    /** A loopback port that nothing listens on. */
    private static String refusedUrl() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
            return "http://127.0.0.1:" + s.getLocalPort() + "/refused";
        }
    }

    private static HttpResponse<String> get(String path) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create(zd.base() + path)).build(), HttpResponse.BodyHandlers.ofString());
    }

    private static HttpResponse<String> scrapeResponse() throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create(zd.base() + "/metrics")).header("Authorization", "Bearer " + TestServer.TOKEN).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    private static String scrape() throws Exception {
        HttpResponse<String> r = scrapeResponse();
        assertThat(r.statusCode()).isEqualTo(200);
        return r.body();
    }

    /** The value of one series, given its labels as rendered ({@code ""}: none). */
    static double value(String scrape, String name, String labels) {
        String series = labels.isEmpty() ? name : name + "{" + labels + "}";
        Matcher m = Pattern.compile("(?m)^" + Pattern.quote(series) + " (\\S+)$").matcher(scrape);
        assertThat(m.find()).as("series %s in\n%s", series, scrape).isTrue();
        return Double.parseDouble(m.group(1));
    }

    /** The sum of every series of one metric. */
    static double sum(String scrape, String name) {
        Matcher m = Pattern.compile("(?m)^" + Pattern.quote(name) + "\\{[^}]*} (\\S+)$").matcher(scrape);
        double total = 0;
        while (m.find()) total += Double.parseDouble(m.group(1));
        return total;
    }
}
