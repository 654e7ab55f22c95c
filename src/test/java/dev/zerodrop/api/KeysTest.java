package dev.zerodrop.api;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.zerodrop.Server;
import dev.zerodrop.config.Knob;
import dev.zerodrop.dispatch.DispatchListener;
import dev.zerodrop.dispatch.Dispatcher;
import dev.zerodrop.testing.MutableClock;
import dev.zerodrop.testing.TestDatabase;
import dev.zerodrop.testing.TestServer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.sql.DriverManager;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * API keys: shown once and stored as a keyed hash, scoped, read-only, expiring, revoked at once on
 * the node that revokes them; plain SHA-256 rows from before still work and are re-hashed; unknown
 * tokens are throttled without a query each; HEAD and /metrics need a token like the rest.
 */
class KeysTest {
    static TestDatabase db;
    static TestServer zd;
    static String app;
    static String other;

    @BeforeAll
    static void start() throws Exception {
        db = TestDatabase.create("keys");
        Map<Knob, String> knobs = TestServer.defaults(db.url());
        knobs.put(Knob.DISPATCH, "false");
        zd = TestServer.start(knobs, TestServer.quiet(Server.Options.defaults()));
        app = zd.createApp("keys");
        other = zd.createApp("other");
    }

    @AfterAll
    static void stop() {
        if (zd != null) zd.close();
        if (db != null) db.close();
    }

    @Test
    void aKeyIsShownOnceAndStoredOnlyAsAKeyedHash() throws Exception {
        JsonNode created = zd.post("/api/v1/keys", Map.of("name", "ci", "scope", "admin"));
        String token = created.get("token").asText();
        String id = created.get("id").asText();
        assertThat(token).matches("zd_[A-Za-z0-9_-]{43}");
        assertThat(created.get("prefix").asText()).isEqualTo(token.substring(0, 12));
        assertThat(created.get("scope").asText()).isEqualTo("admin");
        assertThat(created.get("readOnly").asBoolean()).isFalse();

        JsonNode shown = zd.get("/api/v1/keys/" + id);
        assertThat(shown.has("token")).isFalse();
        assertThat(shown.toString()).doesNotContain(token.substring(12));
        JsonNode list = zd.get("/api/v1/keys");
        assertThat(list.get("data").valueStream().map(k -> k.get("id").asText())).contains(id);
        assertThat(list.toString()).doesNotContain(token.substring(12));

        assertThat(zd.callAs(token, "GET", "/api/v1/app", null).status()).isEqualTo(200);
        List<String> row = row("SELECT token_hash, hash_scheme, prefix, name FROM api_token WHERE id = '" + id + "'");
        assertThat(row.get(1)).isEqualTo("hmac-sha256");
        assertThat(row.get(0)).isNotEqualTo(sha256(token)).matches("[0-9a-f]{64}");
        assertThat(String.join(" ", row)).doesNotContain(token.substring(12));
    }

    @Test
    void keysAreValidatedWithTheFieldNamed() {
        ApiTest.assertClientError(zd.call("POST", "/api/v1/keys", Map.of("name", "x")), 422, "scope");
        ApiTest.assertClientError(zd.call("POST", "/api/v1/keys", Map.of("name", "x", "scope", "root")), 422, "scope");
        ApiTest.assertClientError(zd.call("POST", "/api/v1/keys", Map.of("name", "x", "scope", "application")), 422, "appId");
        ApiTest.assertClientError(zd.call("POST", "/api/v1/keys", Map.of("name", "x", "scope", "application", "appId", "app_nope")), 422, "appId");
        ApiTest.assertClientError(zd.call("POST", "/api/v1/keys", Map.of("name", "x", "scope", "admin", "appId", app)), 422, "appId");
        ApiTest.assertClientError(zd.call("POST", "/api/v1/keys", Map.of("name", "x", "scope", "admin",
                "expiresAt", "2001-01-01T00:00:00Z")), 422, "expiresAt");
        ApiTest.assertClientError(zd.call("GET", "/api/v1/keys?kind=other", null), 422, "kind");
        ApiTest.assertClientError(zd.call("GET", "/api/v1/keys/tok_nope", null), 404, "tok_nope");
    }

    @Test
    void anApplicationKeyByUidReachesOnlyItsApplication() {
        String uid = "keys-uid-" + System.nanoTime();
        String byUid = zd.post("/api/v1/app", Map.of("name", "by uid", "uid", uid)).get("id").asText();
        String token = zd.post("/api/v1/keys", Map.of("name", "team", "scope", "application", "appId", uid)).get("token").asText();
        assertThat(zd.get("/api/v1/keys?app_id=" + uid).get("data").get(0).get("appId").asText()).isEqualTo(byUid);
        assertThat(zd.callAs(token, "GET", "/api/v1/app/" + uid, null).status()).isEqualTo(200);
        assertThat(zd.callAs(token, "GET", "/api/v1/app/" + byUid, null).status()).isEqualTo(200);
        JsonNode apps = zd.callAs(token, "GET", "/api/v1/app", null).json();
        assertThat(apps.get("data")).hasSize(1);
        assertThat(apps.get("data").get(0).get("id").asText()).isEqualTo(byUid);

        TestServer.Response foreign = zd.callAs(token, "GET", "/api/v1/app/" + app, null);
        TestServer.Response missing = zd.call("GET", "/api/v1/app/" + app + "x", null);
        assertThat(foreign.status()).isEqualTo(404);
        assertThat(foreign.text()).isEqualTo(missing.text().replace(app + "x", app));
        TestServer.Response keys = zd.callAs(token, "GET", "/api/v1/keys", null);
        assertThat(keys.status()).isEqualTo(403);
        assertThat(keys.json().get("code").asText()).isEqualTo("forbidden");
        // It may create nothing outside its application, an application included.
        assertThat(zd.callAs(token, "POST", "/api/v1/app", Map.of("name", "mine")).status()).isEqualTo(403);
        assertThat(zd.callAs(token, "PUT", "/api/v1/app/brand-new-" + System.nanoTime(), Map.of("name", "mine")).status()).isEqualTo(404);
    }

    @Test
    void aReadOnlyKeyMayOnlyGetAndHead() {
        String token = zd.createKey(app, true);
        assertThat(zd.callAs(token, "GET", "/api/v1/app/" + app + "/endpoint", null).status()).isEqualTo(200);
        assertThat(zd.callAs(token, "HEAD", "/api/v1/app/" + app, null).status()).isEqualTo(200);
        TestServer.Response write = zd.callAs(token, "POST", "/api/v1/app/" + app + "/msg", Map.of("eventType", "x", "payload", Map.of()));
        assertThat(write.status()).isEqualTo(403);
        assertThat(write.json().get("detail").asText()).contains("read-only");
        assertThat(zd.callAs(token, "GET", "/api/v1/event-type", null).status()).isEqualTo(200);
        assertThat(zd.callAs(token, "POST", "/api/v1/event-type", Map.of("name", "ro.made", "description", "x")).status()).isEqualTo(403);
    }

    @Test
    void revokingAKeyRefusesItAtOnceOnThisNode() {
        JsonNode created = zd.post("/api/v1/keys", Map.of("name", "gone", "scope", "application", "appId", app));
        String token = created.get("token").asText();
        assertThat(zd.callAs(token, "GET", "/api/v1/app/" + app, null).status()).isEqualTo(200); // now cached
        assertThat(zd.call("DELETE", "/api/v1/keys/" + created.get("id").asText(), null).status()).isEqualTo(204);
        TestServer.Response after = zd.callAs(token, "GET", "/api/v1/app/" + app, null);
        assertThat(after.status()).isEqualTo(401);
        assertThat(after.json().get("detail").asText()).contains("revoked");
        assertThat(zd.get("/api/v1/keys/" + created.get("id").asText()).get("revokedAt").isNull()).isFalse();
        assertThat(zd.get("/api/v1/keys").toString()).doesNotContain(created.get("id").asText());
        assertThat(zd.get("/api/v1/keys?include_revoked=true").toString()).contains(created.get("id").asText());

        String self = zd.createKey(app, true);
        assertThat(zd.callAs(self, "GET", "/api/v1/app/" + app, null).status()).isEqualTo(200);
        assertThat(zd.callAs(self, "POST", "/api/v1/auth/logout", null).status()).isEqualTo(204);
        assertThat(zd.callAs(self, "GET", "/api/v1/app/" + app, null).status()).isEqualTo(401);
    }

    @Test
    void theConfiguredAdminTokenIsOwnedByTheConfiguration() {
        String id = zd.get("/api/v1/keys").get("data").valueStream()
                .filter(k -> k.get("name").asText().equals("admin (ZERODROP_ADMIN_TOKEN)")).findFirst().orElseThrow().get("id").asText();
        assertThat(zd.get("/api/v1/keys/" + id).get("prefix").asText()).isEqualTo(TestServer.TOKEN.substring(0, 4));
        assertThat(zd.call("DELETE", "/api/v1/keys/" + id, null).status()).isEqualTo(409);
        assertThat(zd.call("POST", "/api/v1/auth/logout", null).status()).isEqualTo(409);
        assertThat(zd.call("GET", "/api/v1/app", null).status()).isEqualTo(200);
    }

    @Test
    void aPlainSha256RowFromBeforeKeepsWorkingAndIsRehashedAtFirstUse() throws Exception {
        String token = "a-token-from-an-older-release-" + System.nanoTime();
        db.exec("INSERT INTO api_token (id, token_hash, name, created_at) VALUES ('tok_legacy', '" + sha256(token) + "', 'old', now())");
        assertThat(row("SELECT hash_scheme FROM api_token WHERE id = 'tok_legacy'")).containsExactly("sha256");
        assertThat(zd.callAs(token, "GET", "/api/v1/app", null).status()).isEqualTo(200);
        List<String> after = row("SELECT hash_scheme, token_hash, prefix FROM api_token WHERE id = 'tok_legacy'");
        assertThat(after.get(0)).isEqualTo("hmac-sha256");
        assertThat(after.get(1)).isNotEqualTo(sha256(token));
        assertThat(after.get(2)).isEqualTo(token.substring(0, 4));
        assertThat(zd.get("/api/v1/keys/tok_legacy").get("scope").asText()).isEqualTo("admin");
    }

    @Test
    void headNeedsTheSameTokenAsGet() {
        assertThat(zd.callAs(null, "HEAD", "/api/v1/app", null).status()).isEqualTo(401);
        assertThat(zd.callAs("zd_not-a-token", "HEAD", "/api/v1/app/" + app, null).status()).isEqualTo(401);
        TestServer.Response ok = zd.callAs(TestServer.TOKEN, "HEAD", "/api/v1/app/" + app, null);
        assertThat(ok.status()).isEqualTo(200);
        assertThat(ok.text()).isEmpty();
        assertThat(zd.callAs(zd.createKey(other, false), "HEAD", "/api/v1/app/" + app, null).status()).isEqualTo(404);
        assertThat(zd.callAs(null, "HEAD", "/api/v1/health", null).status()).isEqualTo(204);
        assertThat(zd.callAs(null, "HEAD", "/metrics", null).status()).isEqualTo(401);
    }

    @Test
    void metricsNeedAServerWideKeyByDefault() {
        assertThat(zd.callAs(null, "GET", "/metrics", null).status()).isEqualTo(401);
        assertThat(zd.callAs(TestServer.TOKEN, "GET", "/metrics", null).status()).isEqualTo(200);
        assertThat(zd.callAs(zd.createKey(null, true), "GET", "/metrics", null).status()).isEqualTo(200);
        assertThat(zd.callAs(zd.createKey(app, false), "GET", "/metrics", null).status()).isEqualTo(403);
        assertThat(zd.callAs(null, "GET", "/health/live", null).status()).isEqualTo(200);
        assertThat(zd.callAs(null, "GET", "/health/ready", null).status()).isEqualTo(200);
    }

    @Test
    void theMetricsTokenReadsMetricsAndNothingElse() throws Exception {
        Map<Knob, String> knobs = TestServer.defaults(db.url());
        knobs.put(Knob.DISPATCH, "false");
        knobs.put(Knob.METRICS_TOKEN, "prometheus-scrape-token-0001");
        try (TestServer node = TestServer.start(knobs, TestServer.quiet(Server.Options.defaults()))) {
            TestServer.Response metrics = node.callAs("prometheus-scrape-token-0001", "GET", "/metrics", null);
            assertThat(metrics.status()).isEqualTo(200);
            assertThat(metrics.text()).contains("zerodrop_").doesNotContain("prometheus-scrape-token-0001");
            assertThat(node.callAs(TestServer.TOKEN, "GET", "/metrics", null).status()).isEqualTo(200);
            TestServer.Response api = node.callAs("prometheus-scrape-token-0001", "GET", "/api/v1/app", null);
            assertThat(api.status()).isEqualTo(403);
            assertThat(api.json().get("detail").asText()).contains("/metrics");
            assertThat(node.callAs("prometheus-scrape-token-0001", "POST", "/api/v1/auth/logout", null).status()).isEqualTo(403);
        }
    }

    @Test
    void lastUsedIsWrittenAtMostOnceAMinuteAndExpiryIsExact() throws Exception {
        MutableClock clock = new MutableClock(Instant.now().truncatedTo(ChronoUnit.SECONDS));
        Map<Knob, String> knobs = TestServer.defaults(db.url());
        knobs.put(Knob.DISPATCH, "false");
        Server.Options o = TestServer.quiet(new Server.Options(clock, DispatchListener.NONE, Dispatcher.SendHook.NONE, System.out));
        try (TestServer node = TestServer.start(knobs, o)) {
            Instant t0 = clock.instant();
            JsonNode k = node.post("/api/v1/keys", Map.of("name", "used", "scope", "admin", "expiresAt", t0.plus(Duration.ofHours(1)).toString()));
            String token = k.get("token").asText();
            String id = k.get("id").asText();
            assertThat(node.get("/api/v1/keys/" + id).get("lastUsedAt").isNull()).isTrue();

            assertThat(node.callAs(token, "GET", "/api/v1/app", null).status()).isEqualTo(200);
            node.server().authenticator().flushLastUsed();
            assertThat(Instant.parse(node.get("/api/v1/keys/" + id).get("lastUsedAt").asText())).isEqualTo(t0);

            clock.advance(Duration.ofSeconds(30));
            for (int i = 0; i < 5; i++) assertThat(node.callAs(token, "GET", "/api/v1/app", null).status()).isEqualTo(200);
            node.server().authenticator().flushLastUsed();
            assertThat(Instant.parse(node.get("/api/v1/keys/" + id).get("lastUsedAt").asText())).isEqualTo(t0);

            clock.advance(Duration.ofSeconds(31));
            assertThat(node.callAs(token, "GET", "/api/v1/app", null).status()).isEqualTo(200);
            node.server().authenticator().flushLastUsed();
            assertThat(Instant.parse(node.get("/api/v1/keys/" + id).get("lastUsedAt").asText())).isEqualTo(t0.plusSeconds(61));

            // Cached or not, a key stops working at its expiry to the millisecond.
            clock.advance(Duration.between(clock.instant(), t0.plus(Duration.ofHours(1))).minusMillis(1));
            assertThat(node.callAs(token, "GET", "/api/v1/app", null).status()).isEqualTo(200);
            clock.advance(Duration.ofMillis(1));
            TestServer.Response expired = node.callAs(token, "GET", "/api/v1/app", null);
            assertThat(expired.status()).isEqualTo(401);
            assertThat(expired.json().get("detail").asText()).contains("expired");
        }
    }

    @Test
    void unknownTokensAreThrottledPerAddressWithoutAQueryEach() throws Exception {
        Map<Knob, String> knobs = TestServer.defaults(db.url());
        knobs.put(Knob.DISPATCH, "false");
        try (TestServer node = TestServer.start(knobs, TestServer.quiet(Server.Options.defaults()))) {
            String good = node.createKey(null, false);
            assertThat(node.callAs(good, "GET", "/api/v1/app", null).status()).isEqualTo(200);
            long lookupsBefore = node.server().authenticator().counts().lookups();
            List<Integer> statuses = new ArrayList<>();
            String retryAfter = null;
            int guesses = 60;
            for (int i = 0; i < guesses; i++) {
                TestServer.Full r = node.send("zd_guess" + i + "-" + System.nanoTime(), "GET", "/api/v1/app", null, Map.of());
                statuses.add(r.response().status());
                if (r.response().status() == 429 && retryAfter == null) {
                    retryAfter = r.headers().firstValue("Retry-After").orElse(null);
                    assertThat(r.response().json().get("code").asText()).isEqualTo("too_many_requests");
                }
            }
            long lookups = node.server().authenticator().counts().lookups() - lookupsBefore;
            System.out.printf("throttle: %d unknown tokens from one address -> %d x 401, %d x 429, %d database lookups%n", guesses,
                    statuses.stream().filter(s -> s == 401).count(), statuses.stream().filter(s -> s == 429).count(), lookups);
            assertThat(statuses).containsOnly(401, 429);
            assertThat(statuses.subList(0, 20)).containsOnly(401);
            assertThat(statuses).contains(429);
            assertThat(retryAfter).isNotNull().matches("[1-9][0-9]*");
            assertThat(lookups).isLessThan(guesses / 2);
            // A token that works is not locked out by the throttle on its address.
            assertThat(node.callAs(good, "GET", "/api/v1/app", null).status()).isEqualTo(200);
            assertThat(node.callAs(TestServer.TOKEN, "GET", "/api/v1/app", null).status()).isEqualTo(200);
        }
    }

    @Test
    void verifyingAKnownTokenCostsNoQuery() {
        String token = zd.createKey(app, false);
        Authenticator auth = zd.server().authenticator();
        auth.authenticate(token, "198.51.100.7");
        long lookups = auth.counts().lookups();
        int n = 200_000;
        for (int i = 0; i < n; i++) auth.authenticate(i % 2 == 0 ? token : TestServer.TOKEN, "198.51.100.7"); // warm up
        long start = System.nanoTime();
        for (int i = 0; i < n; i++) auth.authenticate(i % 2 == 0 ? token : TestServer.TOKEN, "198.51.100.7");
        double micros = (System.nanoTime() - start) / 1e3 / n;
        System.out.printf("verification: %.2f us per request for a cached key or ZERODROP_ADMIN_TOKEN (%d requests)%n", micros, n);
        assertThat(auth.counts().lookups()).isEqualTo(lookups);
    }

    private static String sha256(String s) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8)));
    }

    private static List<String> row(String sql) throws Exception {
        try (var c = DriverManager.getConnection(db.url()); var st = c.createStatement(); var rs = st.executeQuery(sql)) {
            List<String> out = new ArrayList<>();
            if (rs.next()) for (int i = 1; i <= rs.getMetaData().getColumnCount(); i++) out.add(rs.getString(i));
            return out;
        }
    }

}
