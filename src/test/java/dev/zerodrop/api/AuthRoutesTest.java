package dev.zerodrop.api;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.zerodrop.Server;
import dev.zerodrop.config.Knob;
import dev.zerodrop.testing.TestDatabase;
import dev.zerodrop.testing.TestServer;
import java.sql.DriverManager;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Svix's /api/v1/auth routes: app-portal access, logout and expire-all, and the portal page their links open. */
class AuthRoutesTest {
    static TestDatabase db;
    static TestServer zd;
    static String app;

    @BeforeAll
    static void start() throws Exception {
        db = TestDatabase.create("auth_routes");
        Map<Knob, String> knobs = TestServer.defaults(db.url());
        knobs.put(Knob.DISPATCH, "false");
        zd = TestServer.start(knobs, TestServer.quiet(Server.Options.defaults()));
        app = zd.createApp("portal");
    }

    @AfterAll
    static void stop() {
        if (zd != null) zd.close();
        if (db != null) db.close();
    }

    @Test
    void appPortalAccessGivesALinkAndATokenConfinedToTheApplication() {
        Instant before = Instant.now();
        JsonNode out = zd.post("/api/v1/auth/app-portal-access/" + app, Map.of());
        String token = out.get("token").asText();
        assertThat(token).matches("zd_[A-Za-z0-9_-]{43}");
        assertThat(out.get("url").asText()).isEqualTo(zd.base() + "/portal/#key=" + token);
        assertThat(zd.callAs(token, "GET", "/api/v1/app/" + app + "/endpoint", null).status()).isEqualTo(200);
        assertThat(zd.callAs(token, "POST", "/api/v1/app/" + app + "/msg", Map.of("eventType", "x", "payload", Map.of())).status())
                .isEqualTo(202);
        assertThat(zd.callAs(token, "GET", "/api/v1/app/" + zd.createApp("not yours"), null).status()).isEqualTo(404);
        assertThat(zd.callAs(token, "POST", "/api/v1/auth/app-portal-access/" + app, Map.of()).status()).isEqualTo(403);

        JsonNode portal = zd.get("/api/v1/keys?kind=portal&app_id=" + app).get("data");
        JsonNode mine = portal.valueStream().filter(k -> token.startsWith(k.get("prefix").asText())).findFirst().orElseThrow();
        assertThat(mine.get("kind").asText()).isEqualTo("portal");
        assertThat(mine.get("appId").asText()).isEqualTo(app);
        assertThat(mine.get("readOnly").asBoolean()).isFalse();
        Instant expires = Instant.parse(mine.get("expiresAt").asText());
        assertThat(expires).isBetween(before.plus(Duration.ofDays(7)).minusSeconds(1), Instant.now().plus(Duration.ofDays(7)));
        assertThat(zd.get("/api/v1/keys").toString()).doesNotContain(mine.get("id").asText());
    }

    @Test
    void expiryReadOnlyAndCapabilitiesAreHonoured() {
        JsonNode ro = zd.post("/api/v1/auth/app-portal-access/" + app, Map.of("readOnly", true, "expiry", 3600));
        String token = ro.get("token").asText();
        assertThat(zd.callAs(token, "GET", "/api/v1/app/" + app, null).status()).isEqualTo(200);
        assertThat(zd.callAs(token, "PATCH", "/api/v1/app/" + app, Map.of("name", "x")).status()).isEqualTo(403);
        String viewOnly = zd.post("/api/v1/auth/app-portal-access/" + app, Map.of("capabilities", List.of("ViewBase", "ViewEndpointSecret")))
                .get("token").asText();
        assertThat(zd.callAs(viewOnly, "PATCH", "/api/v1/app/" + app, Map.of("name", "x")).status()).isEqualTo(403);
        String manage = zd.post("/api/v1/auth/app-portal-access/" + app, Map.of("capabilities", List.of("ViewBase", "ManageEndpoint"),
                "featureFlags", List.of(), "sessionId", "s1")).get("token").asText();
        assertThat(zd.callAs(manage, "PATCH", "/api/v1/app/" + app, Map.of("name", "portal")).status()).isEqualTo(200);

        ApiTest.assertClientError(zd.call("POST", "/api/v1/auth/app-portal-access/" + app, Map.of("expiry", 31 * 86_400)), 422, "expiry");
        ApiTest.assertClientError(zd.call("POST", "/api/v1/auth/app-portal-access/" + app, Map.of("expiry", 0)), 422, "expiry");
        ApiTest.assertClientError(zd.call("POST", "/api/v1/auth/app-portal-access/" + app, Map.of("capabilities", List.of("Root"))), 422,
                "capabilities");
        ApiTest.assertClientError(zd.call("POST", "/api/v1/auth/app-portal-access/app_nope", Map.of()), 404, "app_nope");
    }

    @Test
    void theApplicationIsMadeWhenTheBodyDescribesIt() {
        String uid = "portal-made-" + System.nanoTime();
        String token = zd.post("/api/v1/auth/app-portal-access/" + uid, Map.of("application", Map.of("name", "Made by portal access")))
                .get("token").asText();
        JsonNode made = zd.callAs(token, "GET", "/api/v1/app/" + uid, null).json();
        assertThat(made.get("uid").asText()).isEqualTo(uid);
        assertThat(made.get("name").asText()).isEqualTo("Made by portal access");
    }

    @Test
    void dashboardAccessIsTheOlderNameOfTheSameThing() {
        JsonNode out = zd.post("/api/v1/auth/dashboard-access/" + app, null);
        assertThat(out.get("url").asText()).endsWith("#key=" + out.get("token").asText());
        assertThat(zd.callAs(out.get("token").asText(), "GET", "/api/v1/app/" + app, null).status()).isEqualTo(200);
    }

    @Test
    void aTokenIsNeverStoredForAnIdempotentReplay() throws Exception {
        Map<String, String> key = Map.of("Idempotency-Key", "portal-" + System.nanoTime());
        String first = zd.call("POST", "/api/v1/auth/app-portal-access/" + app, Map.of(), key).json().get("token").asText();
        String second = zd.call("POST", "/api/v1/auth/app-portal-access/" + app, Map.of(), key).json().get("token").asText();
        assertThat(second).isNotEqualTo(first);
        try (var c = DriverManager.getConnection(db.url()); var st = c.createStatement();
             var rs = st.executeQuery("SELECT count(*) FROM idempotency_key WHERE body IS NOT NULL AND position('\"token\"' in convert_from(body, 'UTF8')) > 0")) {
            rs.next();
            assertThat(rs.getInt(1)).isZero();
        }
    }

    @Test
    void logoutRevokesTheCallingTokenOnly() {
        String a = zd.post("/api/v1/auth/app-portal-access/" + app, Map.of()).get("token").asText();
        String b = zd.post("/api/v1/auth/app-portal-access/" + app, Map.of("readOnly", true)).get("token").asText();
        assertThat(zd.callAs(a, "GET", "/api/v1/app/" + app, null).status()).isEqualTo(200);
        assertThat(zd.callAs(b, "POST", "/api/v1/auth/logout", null).status()).isEqualTo(204); // read-only tokens may log out
        assertThat(zd.callAs(b, "GET", "/api/v1/app/" + app, null).status()).isEqualTo(401);
        assertThat(zd.callAs(a, "GET", "/api/v1/app/" + app, null).status()).isEqualTo(200);
        assertThat(zd.callAs(null, "POST", "/api/v1/auth/logout", null).status()).isEqualTo(401);
    }

    @Test
    void expireAllEndsEveryTokenOfTheApplicationAtOnceOrLater() {
        String target = zd.createApp("expire");
        String untouched = zd.createKey(app, false);
        String portal = zd.post("/api/v1/auth/app-portal-access/" + target, Map.of()).get("token").asText();
        String key = zd.createKey(target, true);
        String session = zd.post("/api/v1/auth/app-portal-access/" + target, Map.of("sessionId", "tab-1")).get("token").asText();
        for (String t : List.of(portal, key, session, untouched)) assertThat(zd.callAs(t, "GET", "/api/v1/app", null).status()).isEqualTo(200);

        // Only the given session's tokens, in an hour: they still work now.
        assertThat(zd.call("POST", "/api/v1/auth/app/" + target + "/expire-all", Map.of("expiry", 3600, "sessionIds", List.of("tab-1")))
                .status()).isEqualTo(204);
        assertThat(zd.callAs(session, "GET", "/api/v1/app", null).status()).isEqualTo(200);
        JsonNode later = zd.get("/api/v1/keys?kind=portal&app_id=" + target).get("data").valueStream()
                .filter(k -> session.startsWith(k.get("prefix").asText())).findFirst().orElseThrow();
        assertThat(Instant.parse(later.get("expiresAt").asText())).isBefore(Instant.now().plus(Duration.ofMinutes(61)));

        // Every token of the application, now: refused at once on this node, cached or not.
        assertThat(zd.call("POST", "/api/v1/auth/app/" + target + "/expire-all", null).status()).isEqualTo(204);
        for (String t : List.of(portal, key, session)) assertThat(zd.callAs(t, "GET", "/api/v1/app", null).status()).isEqualTo(401);
        assertThat(zd.callAs(untouched, "GET", "/api/v1/app", null).status()).isEqualTo(200);
        assertThat(zd.call("POST", "/api/v1/auth/app/app_nope/expire-all", Map.of()).status()).isEqualTo(404);
        assertThat(zd.callAs(untouched, "POST", "/api/v1/auth/app/" + app + "/expire-all", Map.of()).status()).isEqualTo(403);
    }

    @Test
    void thePortalPageNeedsNoTokenRunsNoScriptAndSaysHowTheTokenWorks() {
        TestServer.Full page = zd.send(null, "GET", "/portal/", null, Map.of());
        assertThat(page.response().status()).isEqualTo(200);
        assertThat(page.headers().firstValue("Content-Type")).hasValueSatisfying(t -> assertThat(t).startsWith("text/html"));
        assertThat(page.headers().firstValue("Content-Security-Policy")).hasValue("default-src 'none'; base-uri 'none'; form-action 'none'");
        assertThat(page.headers().firstValue("Referrer-Policy")).hasValue("no-referrer");
        assertThat(page.response().text()).contains("#key=", "Authorization: Bearer").doesNotContainIgnoringCase("<script");
        assertThat(zd.callAs(null, "GET", "/portal", null).status()).isEqualTo(200);
        assertThat(zd.callAs(null, "HEAD", "/portal/", null).status()).isEqualTo(200);
    }

    @Test
    void thePublicUrlStartsTheLink() throws Exception {
        Map<Knob, String> knobs = TestServer.defaults(db.url());
        knobs.put(Knob.DISPATCH, "false");
        knobs.put(Knob.PUBLIC_URL, "https://hooks.example.com/zerodrop/");
        try (TestServer node = TestServer.start(knobs, TestServer.quiet(Server.Options.defaults()))) {
            JsonNode out = node.post("/api/v1/auth/app-portal-access/" + app, Map.of());
            assertThat(out.get("url").asText()).isEqualTo("https://hooks.example.com/zerodrop/portal/#key=" + out.get("token").asText());
        }
    }
}
