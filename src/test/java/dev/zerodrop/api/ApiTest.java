package dev.zerodrop.api;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.zerodrop.Server;
import dev.zerodrop.config.Knob;
import dev.zerodrop.testing.TestDatabase;
import dev.zerodrop.testing.TestServer;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The HTTP API: Svix shapes, clear 4xx for bad input, authentication and idempotency. */
class ApiTest {
    static TestDatabase db;
    static TestServer zd;
    static String app;

    @BeforeAll
    static void start() throws Exception {
        db = TestDatabase.create("api");
        Map<Knob, String> knobs = TestServer.defaults(db.url());
        knobs.put(Knob.ALLOW_PRIVATE_CIDRS, ""); // the production default: private addresses refused
        knobs.put(Knob.DISPATCH, "false");
        zd = TestServer.start(knobs, TestServer.quiet(Server.Options.defaults()));
        app = zd.createApp("api");
    }

    @AfterAll
    static void stop() {
        if (zd != null) zd.close();
        if (db != null) db.close();
    }

    static void assertClientError(TestServer.Response r, int status, String field) {
        assertThat(r.status()).as(r.text()).isEqualTo(status);
        assertThat(r.json().has("code")).as(r.text()).isTrue();
        assertThat(r.json().has("detail")).as(r.text()).isTrue();
        if (field != null) assertThat(r.text()).contains(field);
        assertThat(r.text()).doesNotContain("Exception").doesNotContain("at dev.");
    }

    @Test
    void badJsonIsA400ThatSaysSo() {
        assertClientError(zd.call("POST", "/api/v1/app/" + app + "/msg", "{\"eventType\": "), 400, "not valid JSON");
        assertClientError(zd.call("POST", "/api/v1/app/" + app + "/msg", "[1,2]"), 422, "body");
        assertClientError(zd.call("POST", "/api/v1/app/" + app + "/msg", ""), 400, "empty");
    }

    @Test
    void duplicateKeysAndNulCharactersAreRefusedNotStored() {
        assertClientError(zd.call("POST", "/api/v1/app/" + app + "/msg",
                "{\"eventType\":\"x\",\"payload\":{\"a\":1},\"payload\":{\"a\":2}}"), 400, "payload");
        assertClientError(zd.call("POST", "/api/v1/app", "{\"name\":\"n\",\"metadata\":{\"k\":\"a\\u0000b\"}}"), 422, "metadata");
        assertClientError(zd.call("POST", "/api/v1/app", "{\"name\":\"a\\u0000b\"}"), 422, "name");
        // A NUL inside a payload is valid JSON and is stored and signed as sent.
        assertThat(zd.call("POST", "/api/v1/app/" + app + "/msg", "{\"eventType\":\"x\",\"payload\":{\"a\":\"\\u0000\"}}").status()).isEqualTo(202);
    }

    @Test
    void changingTheAdminTokenRevokesThePreviousOne() throws Exception {
        Map<Knob, String> knobs = TestServer.defaults(db.url());
        knobs.put(Knob.DISPATCH, "false");
        knobs.put(Knob.ADMIN_TOKEN, "a-rotated-admin-token-0001");
        HttpClient http = HttpClient.newHttpClient();
        try (TestServer other = TestServer.start(knobs, TestServer.quiet(Server.Options.defaults()))) {
            for (var token : Map.of("a-rotated-admin-token-0001", 200, TestServer.TOKEN, 401).entrySet()) {
                var r = http.send(HttpRequest.newBuilder(URI.create(other.base() + "/api/v1/app"))
                        .header("Authorization", "Bearer " + token.getKey()).build(), HttpResponse.BodyHandlers.ofString());
                assertThat(r.statusCode()).as(token.getKey()).isEqualTo(token.getValue());
            }
        }
        // Restore the suite's token for the other tests (their cached token expires in a minute anyway).
        try (TestServer restore = TestServer.start(TestServer.defaults(db.url()), TestServer.quiet(Server.Options.defaults()))) {
            assertThat(restore.call("GET", "/api/v1/app", null).status()).isEqualTo(200);
        }
    }

    @Test
    void aMissingEventTypeOrPayloadNamesTheField() {
        var r = zd.call("POST", "/api/v1/app/" + app + "/msg", Map.of("payload", Map.of()));
        assertClientError(r, 422, "eventType");
        assertThat(r.json().get("detail").get(0).get("loc").toString()).isEqualTo("[\"body\",\"eventType\"]");
        assertClientError(zd.call("POST", "/api/v1/app/" + app + "/msg", Map.of("eventType", "x")), 422, "payload");
        assertClientError(zd.call("POST", "/api/v1/app/" + app + "/msg", Map.of("eventType", "bad type!", "payload", Map.of())), 422, "eventType");
        assertClientError(zd.call("POST", "/api/v1/app/" + app + "/msg", Map.of("eventType", "x", "payload", Map.of(), "channels", List.of())), 422, "channels");
    }

    @Test
    void anUnknownApplicationIsA404() {
        assertClientError(zd.call("POST", "/api/v1/app/app_nope/msg", Map.of("eventType", "x", "payload", Map.of())), 404, "app_nope");
        assertClientError(zd.call("GET", "/api/v1/app/app_nope", null), 404, "app_nope");
        assertClientError(zd.call("GET", "/api/v1/no/such/route", null), 404, null);
    }

    @ParameterizedTest
    @ValueSource(strings = {"ftp://example.com/hook", "file:///etc/passwd", "not a url", "javascript:alert(1)", "http://"})
    void aNonHttpUrlIsRefused(String url) {
        assertClientError(zd.call("POST", "/api/v1/app/" + app + "/endpoint", Map.of("url", url)), 422, "url");
    }

    @ParameterizedTest
    @ValueSource(strings = {"http://127.0.0.1:8080/hook", "http://localhost/hook", "http://10.0.0.5/hook", "http://192.168.1.1/",
            "http://169.254.169.254/latest/meta-data", "http://[::1]/hook", "http://[fd00::1]/", "http://0.0.0.0/", "http://localhost./", "http://[::ffff:7f00:1]/",
            "http://100.100.100.200/latest/meta-data", "http://168.63.129.16/machine"})
    void aPrivateNetworkUrlIsRefused(String url) {
        var r = zd.call("POST", "/api/v1/app/" + app + "/endpoint", Map.of("url", url));
        assertClientError(r, 422, "url");
        assertThat(r.text()).containsAnyOf("private", "IPv4-mapped");
    }

    @ParameterizedTest
    @ValueSource(strings = {"http://2130706433/", "http://0177.0.0.1/hook", "http://0x7f.0.0.1/", "http://127.1/", "http://8.8.8.8./",
            "http://010.0.0.1/"})
    void anIpv4AddressThatParsersReadDifferentlyIsRefused(String url) {
        var r = zd.call("POST", "/api/v1/app/" + app + "/endpoint", Map.of("url", url));
        assertClientError(r, 422, "url");
        assertThat(r.text()).contains("parsers read differently");
    }

    @ParameterizedTest
    @ValueSource(strings = {"http://example.com:0/", "http://example.com:65536/", "http://example.com:99999/hook"})
    void aPortThatDoesNotExistIsRefused(String url) {
        var r = zd.call("POST", "/api/v1/app/" + app + "/endpoint", Map.of("url", url));
        assertClientError(r, 422, "url");
        assertThat(r.text()).contains("port");
    }

    @Test
    void aBadOrMissingTokenIsA401AndHealthNeedsNone() throws Exception {
        HttpClient http = HttpClient.newHttpClient();
        for (String auth : new String[] {null, "Bearer wrong-token", "Basic abc", "Bearer "}) {
            var b = HttpRequest.newBuilder(URI.create(zd.base() + "/api/v1/app"));
            if (auth != null) b.header("Authorization", auth);
            HttpResponse<String> r = http.send(b.build(), HttpResponse.BodyHandlers.ofString());
            assertThat(r.statusCode()).as(String.valueOf(auth)).isEqualTo(401);
            assertThat(r.body()).contains("\"code\":\"authentication_failed\"");
        }
        HttpResponse<String> health = http.send(HttpRequest.newBuilder(URI.create(zd.base() + "/api/v1/health/")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(health.statusCode()).isEqualTo(204);
    }

    @Test
    void trailingSlashesAreAccepted() {
        assertThat(zd.call("GET", "/api/v1/app/", null).status()).isEqualTo(200);
        assertThat(zd.call("GET", "/api/v1/app/" + app + "/", null).status()).isEqualTo(200);
        assertThat(zd.call("POST", "/api/v1/app/" + app + "/msg/", Map.of("eventType", "slash", "payload", Map.of())).status()).isEqualTo(202);
    }

    @Test
    void aRepeatedEventIdDoesNotCreateASecondMessage() {
        var first = zd.call("POST", "/api/v1/app/" + app + "/msg", Map.of("eventType", "x", "eventId", "evt-42", "payload", Map.of("a", 1)));
        assertThat(first.status()).isEqualTo(202);
        var again = zd.call("POST", "/api/v1/app/" + app + "/msg", Map.of("eventType", "x", "eventId", "evt-42", "payload", Map.of("a", 1)));
        assertClientError(again, 409, first.json().get("id").asText());
        assertThat(zd.get("/api/v1/app/" + app + "/msg/evt-42").get("id").asText()).isEqualTo(first.json().get("id").asText());
    }

    @Test
    void anIdempotencyKeyReturnsTheFirstResponseAgainOnAnyNode() throws Exception {
        Map<String, String> key = Map.of("Idempotency-Key", "order-7-notify");
        var first = zd.call("POST", "/api/v1/app/" + app + "/msg", Map.of("eventType", "x", "payload", Map.of("order", 7)), key);
        assertThat(first.status()).isEqualTo(202);
        var replay = zd.call("POST", "/api/v1/app/" + app + "/msg", Map.of("eventType", "x", "payload", Map.of("order", 7)), key);
        assertThat(replay.status()).isEqualTo(202);
        assertThat(replay.text()).isEqualTo(first.text());
        // A second node on the same database (or this one after a restart) sees the same key.
        Map<Knob, String> knobs = TestServer.defaults(db.url());
        knobs.put(Knob.DISPATCH, "false");
        try (TestServer other = TestServer.start(knobs, TestServer.quiet(Server.Options.defaults()))) {
            var elsewhere = other.call("POST", "/api/v1/app/" + app + "/msg", Map.of("eventType", "x", "payload", Map.of("order", 7)), key);
            assertThat(elsewhere.status()).isEqualTo(202);
            assertThat(elsewhere.text()).isEqualTo(first.text());
        }
        long copies = 0;
        for (JsonNode m : zd.get("/api/v1/app/" + app + "/msg?limit=250").get("data")) {
            if (m.get("payload").path("order").asInt() == 7) copies++;
        }
        assertThat(copies).isEqualTo(1);
        var otherPath = zd.call("POST", "/api/v1/app", Map.of("name", "z"), key);
        assertThat(otherPath.status()).isEqualTo(422);
        var otherBody = zd.call("POST", "/api/v1/app/" + app + "/msg", Map.of("eventType", "x", "payload", Map.of("order", 8)), key);
        assertClientError(otherBody, 422, "Idempotency-Key");
    }

    @Test
    void listsPageWithIteratorsInTheSvixShape() {
        String a = zd.createApp("paging");
        Set<String> created = new HashSet<>();
        for (int i = 0; i < 7; i++) {
            created.add(zd.post("/api/v1/app/" + a + "/msg", Map.of("eventType", "p", "payload", Map.of("i", i))).get("id").asText());
        }
        Set<String> seen = new HashSet<>();
        String iterator = null;
        int pages = 0;
        while (true) {
            JsonNode page = zd.get("/api/v1/app/" + a + "/msg?limit=3" + (iterator == null ? "" : "&iterator=" + iterator));
            assertThat(page.has("data") && page.has("iterator") && page.has("prevIterator") && page.has("done")).isTrue();
            page.get("data").forEach(m -> seen.add(m.get("id").asText()));
            pages++;
            if (page.get("done").asBoolean()) break;
            iterator = page.get("iterator").asText();
        }
        assertThat(pages).isEqualTo(3);
        assertThat(seen).isEqualTo(created);
        assertClientError(zd.call("GET", "/api/v1/app/" + a + "/msg?limit=abc", null), 422, "limit");
    }

    @Test
    void endpointsRoundTripTheirSvixFields() {
        var created = zd.post("/api/v1/app/" + app + "/endpoint", Map.of("url", "https://example.com/hook", "description", "main",
                "filterTypes", List.of("a.b", "c"), "channels", List.of("eu"), "rateLimit", 50, "uid", "ep-main",
                "metadata", Map.of("team", "payments")));
        assertThat(created.get("filterTypes").toString()).isEqualTo("[\"a.b\",\"c\"]");
        assertThat(created.get("channels").toString()).isEqualTo("[\"eu\"]");
        assertThat(created.get("rateLimit").asInt()).isEqualTo(50);
        assertThat(created.get("metadata").get("team").asText()).isEqualTo("payments");
        String base = "/api/v1/app/" + app + "/endpoint/ep-main";
        assertThat(zd.get(base).get("id").asText()).isEqualTo(created.get("id").asText());
        assertThat(zd.call("PUT", base + "/headers", Map.of("headers", Map.of("X-Team", "pay", "Authorization", "Bearer s"))).status()).isEqualTo(204);
        JsonNode headers = zd.get(base + "/headers");
        assertThat(headers.get("headers").get("X-Team").asText()).isEqualTo("pay");
        assertThat(headers.get("sensitive").toString()).contains("Authorization");
        assertClientError(zd.call("PUT", base + "/headers", Map.of("headers", Map.of("webhook-signature", "forged"))), 422, "headers");
        assertClientError(zd.call("PATCH", base + "/headers", "{\"headers\":{\"X-A\":\"a\\u0000b\"}}"), 422, "headers");
        String secret = zd.get(base + "/secret").get("key").asText();
        assertThat(secret).startsWith("whsec_");
        assertThat(zd.call("POST", base + "/secret/rotate", Map.of()).status()).isEqualTo(204);
        assertThat(zd.get(base + "/secret").get("key").asText()).isNotEqualTo(secret);
        var patched = zd.call("PATCH", base, Map.of("description", "renamed"));
        assertThat(patched.json().get("description").asText()).isEqualTo("renamed");
        assertThat(patched.json().get("url").asText()).isEqualTo("https://example.com/hook");
        assertThat(zd.call("DELETE", base, null).status()).isEqualTo(204);
        assertClientError(zd.call("GET", base, null), 404, null);
    }

    @Test
    void eventTypesAreCreatedListedUpdatedAndArchived() {
        var created = zd.call("POST", "/api/v1/event-type", Map.of("name", "invoice.paid", "description", "An invoice was paid",
                "schemas", Map.of("1", Map.of("type", "object"))));
        assertThat(created.status()).isEqualTo(201);
        assertThat(created.json().get("schemas").get("1").get("type").asText()).isEqualTo("object");
        assertClientError(zd.call("POST", "/api/v1/event-type", Map.of("name", "invoice.paid", "description", "again")), 409, null);
        assertClientError(zd.call("POST", "/api/v1/event-type", Map.of("description", "no name")), 422, "name");
        assertThat(zd.call("PATCH", "/api/v1/event-type/invoice.paid", Map.of("deprecated", true)).json().get("deprecated").asBoolean()).isTrue();
        assertThat(zd.call("PUT", "/api/v1/event-type/invoice.refunded", Map.of("description", "refund")).status()).isEqualTo(201);
        assertThat(zd.get("/api/v1/event-type").get("data")).hasSize(2);
        assertThat(zd.call("DELETE", "/api/v1/event-type/invoice.refunded", null).status()).isEqualTo(204);
        assertThat(zd.get("/api/v1/event-type").get("data")).hasSize(1);
        assertThat(zd.get("/api/v1/event-type?include_archived=true").get("data")).hasSize(2);
    }
}
