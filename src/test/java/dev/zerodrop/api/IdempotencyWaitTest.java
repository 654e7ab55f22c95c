package dev.zerodrop.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.zerodrop.Server;
import dev.zerodrop.config.Knob;
import dev.zerodrop.core.Json;
import dev.zerodrop.testing.TestDatabase;
import dev.zerodrop.testing.TestServer;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A repeat of a request whose first try is still running waits for it. The first message create is
 * held deterministically: the test locks the message table, so its insert blocks until the test
 * lets go; the repeat is known to be waiting through the {@code zerodrop_idempotency_waiting} gauge.
 */
class IdempotencyWaitTest {
    static TestDatabase db;
    static TestServer zd;
    static String app;
    static final HttpClient http = HttpClient.newHttpClient();

    @BeforeAll
    static void start() throws Exception {
        db = TestDatabase.create("idemwait");
        Map<Knob, String> knobs = TestServer.defaults(db.url());
        knobs.put(Knob.DISPATCH, "false");
        zd = TestServer.start(knobs, TestServer.quiet(Server.Options.defaults()));
        app = zd.createApp("idempotency-wait");
    }

    @AfterAll
    static void stop() {
        if (zd != null) zd.close();
        if (db != null) db.close();
    }

    @Test
    void aRepeatWhileTheFirstRunsGetsTheFirstsResponse() throws Exception {
        String key = "order-9-notify";
        String body = Json.write(Map.of("eventType", "order.paid", "payload", Map.of("order", 9)));
        CompletableFuture<HttpResponse<String>> first;
        CompletableFuture<HttpResponse<String>> repeat;
        try (Connection lock = DriverManager.getConnection(db.url())) {
            holdMessageInserts(lock);
            first = post(key, body);
            await().atMost(Duration.ofSeconds(20)).until(() -> inProgress(lock, key));
            repeat = post(key, body);
            await().atMost(Duration.ofSeconds(4)).until(() -> waiting() == 1);
            assertThat(first).isNotDone();
            lock.commit(); // the first request's insert goes through
        }
        HttpResponse<String> a = first.get();
        HttpResponse<String> b = repeat.get();
        assertThat(a.statusCode()).as(a.body()).isEqualTo(202);
        assertThat(a.headers().firstValue("idempotent-replayed")).isEmpty();
        assertThat(b.statusCode()).as(b.body()).isEqualTo(202);
        assertThat(b.headers().firstValue("idempotent-replayed")).hasValue("true");
        assertThat(b.body()).isEqualTo(a.body());
        assertThat(messagesWithOrder(9)).isEqualTo(1);
        assertThat(waiting()).isZero();
    }

    @Test
    void aRepeatGivesUpAfterTheBoundWithA409() throws Exception {
        String key = "order-10-notify";
        String body = Json.write(Map.of("eventType", "order.paid", "payload", Map.of("order", 10)));
        CompletableFuture<HttpResponse<String>> first;
        HttpResponse<String> repeat;
        long waitedNanos;
        try (Connection lock = DriverManager.getConnection(db.url())) {
            holdMessageInserts(lock);
            first = post(key, body);
            await().atMost(Duration.ofSeconds(20)).until(() -> inProgress(lock, key));
            long started = System.nanoTime();
            repeat = post(key, body).get();
            waitedNanos = System.nanoTime() - started;
            assertThat(first).isNotDone();
            lock.commit();
        }
        assertThat(repeat.statusCode()).as(repeat.body()).isEqualTo(409);
        assertThat(Json.MAPPER.readTree(repeat.body()).get("code").asText()).isEqualTo("conflict");
        assertThat(Duration.ofNanos(waitedNanos)).isGreaterThanOrEqualTo(ApiServer.IDEMPOTENCY_WAIT);
        System.out.printf("the repeat answered 409 after %d ms%n", waitedNanos / 1_000_000);
        assertThat(first.get().statusCode()).isEqualTo(202);
        assertThat(messagesWithOrder(10)).isEqualTo(1);
    }

    /** Takes a lock that blocks every insert into the message table until this transaction ends. */
    private static void holdMessageInserts(Connection c) throws Exception {
        c.setAutoCommit(false);
        try (Statement s = c.createStatement()) {
            s.execute("LOCK TABLE message IN SHARE ROW EXCLUSIVE MODE");
        }
    }

    private static boolean inProgress(Connection c, String key) throws Exception {
        try (Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT count(*) FROM idempotency_key WHERE status IS NULL AND key = '" + key + "'")) {
            rs.next();
            return rs.getInt(1) == 1;
        }
    }

    private static CompletableFuture<HttpResponse<String>> post(String key, String body) {
        HttpRequest r = HttpRequest.newBuilder(URI.create(zd.base() + "/api/v1/app/" + app + "/msg"))
                .timeout(Duration.ofSeconds(60))
                .header("Authorization", "Bearer " + TestServer.TOKEN).header("Content-Type", "application/json")
                .header("Idempotency-Key", key).POST(HttpRequest.BodyPublishers.ofString(body)).build();
        return http.sendAsync(r, HttpResponse.BodyHandlers.ofString());
    }

    private static int waiting() throws Exception {
        String metrics = http.send(HttpRequest.newBuilder(URI.create(zd.base() + "/metrics"))
                        .header("Authorization", "Bearer " + TestServer.TOKEN).build(),
                HttpResponse.BodyHandlers.ofString()).body();
        return metrics.lines().filter(l -> l.startsWith("zerodrop_idempotency_waiting "))
                .map(l -> (int) Double.parseDouble(l.substring(l.indexOf(' ') + 1))).findFirst().orElse(-1);
    }

    private static long messagesWithOrder(int order) {
        return zd.get("/api/v1/app/" + app + "/msg?limit=250").get("data").valueStream()
                .filter(m -> m.get("payload").path("order").asInt() == order).count();
    }
}
