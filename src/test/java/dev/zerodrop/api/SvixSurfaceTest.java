package dev.zerodrop.api;

import static dev.zerodrop.api.ApiTest.assertClientError;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import dev.zerodrop.Server;
import dev.zerodrop.chaos.Receiver;
import dev.zerodrop.testing.TestDatabase;
import dev.zerodrop.testing.TestServer;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Svix fields and parameters that the SDKs send: endpoint headers, stats, filters, tags, event types, examples. */
class SvixSurfaceTest {
    static TestDatabase db;
    static TestServer zd;
    static Receiver receiver;

    @BeforeAll
    static void start() throws Exception {
        db = TestDatabase.create("surface");
        zd = TestServer.start(TestServer.defaults(db.url()), TestServer.quiet(Server.Options.defaults()));
        receiver = Receiver.alwaysOk();
    }

    @AfterAll
    static void stop() {
        if (receiver != null) receiver.close();
        if (zd != null) zd.close();
        if (db != null) db.close();
    }

    record Setup(String app, String endpoint, String base) {}

    static Setup endpoint(String name, Map<String, Object> extra) {
        String app = zd.createApp(name);
        Map<String, Object> body = new java.util.HashMap<>(Map.of("url", receiver.url("/" + name), "uid", name + "-ep"));
        body.putAll(extra);
        String ep = zd.post("/api/v1/app/" + app + "/endpoint", body).get("id").asText();
        return new Setup(app, ep, "/api/v1/app/" + app + "/endpoint/" + ep);
    }

    static String send(String app, Map<String, Object> body) {
        return zd.post("/api/v1/app/" + app + "/msg", body).get("id").asText();
    }

    static Receiver.Request delivered(String msgId) {
        return await().atMost(Duration.ofSeconds(20)).until(
                () -> receiver.requests().stream().filter(r -> msgId.equals(r.header("webhook-id"))).findFirst().orElse(null),
                r -> r != null);
    }

    static void awaitState(String app, String msgId, String state) {
        await().atMost(Duration.ofSeconds(20)).until(() -> zd.deliveryState(app, msgId).equals(state));
    }

    @Test
    void deleteHeadersStopsAHeaderBeingSentWhateverItsCase() {
        Setup s = endpoint("headers", Map.of());
        assertThat(zd.call("PUT", s.base() + "/headers", Map.of("headers", Map.of("Authorization", "Bearer old-credential",
                "X-Keep", "kept", "X-Replace", "one"))).status()).isEqualTo(204);
        Receiver.Request before = delivered(send(s.app(), Map.of("eventType", "h", "payload", Map.of("n", 1))));
        assertThat(before.header("authorization")).isEqualTo("Bearer old-credential");

        var patch = zd.call("PATCH", s.base() + "/headers", Map.of("headers", Map.of("x-replace", "two"),
                "deleteHeaders", List.of("AUTHORIZATION", "X-Not-There")));
        assertThat(patch.status()).as(patch.text()).isEqualTo(204);
        JsonNode headers = zd.get(s.base() + "/headers");
        assertThat(headers.get("headers").toString()).isEqualTo("{\"X-Keep\":\"kept\",\"x-replace\":\"two\"}");
        assertThat(headers.get("sensitive")).isEmpty();

        Receiver.Request after = delivered(send(s.app(), Map.of("eventType", "h", "payload", Map.of("n", 2))));
        assertThat(after.header("authorization")).isNull();
        assertThat(after.header("x-keep")).isEqualTo("kept");
        assertThat(after.header("x-replace")).isEqualTo("two");

        assertClientError(zd.call("PATCH", s.base() + "/headers", Map.of("headers", Map.of("X-Keep", "again"),
                "deleteHeaders", List.of("x-keep"))), 422, "deleteHeaders");
        assertClientError(zd.call("PATCH", s.base() + "/headers", Map.of("headers", Map.of(), "deleteHeaders", "X-Keep")),
                422, "deleteHeaders");
        assertClientError(zd.call("PATCH", s.base() + "/headers", Map.of("headers", Map.of(), "deleteHeaders", List.of(3))),
                422, "deleteHeaders");
        assertThat(zd.get(s.base() + "/headers").get("headers").get("X-Keep").asText()).isEqualTo("kept");
    }

    @Test
    void statsCountTheDeliveriesCreatedBetweenSinceAndUntil() {
        Setup s = endpoint("stats", Map.of());
        Instant start = Instant.now();
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < 3; i++) ids.add(send(s.app(), Map.of("eventType", "s", "payload", Map.of("i", i))));
        ids.forEach(id -> awaitState(s.app(), id, "delivered"));
        Instant middle = Instant.now();
        String last = send(s.app(), Map.of("eventType", "s", "payload", Map.of("i", 3)));
        awaitState(s.app(), last, "delivered");

        assertThat(zd.get(s.base() + "/stats").get("success").asInt()).isEqualTo(4);
        assertThat(zd.get(s.base() + "/stats?since=" + start).get("success").asInt()).isEqualTo(4);
        assertThat(zd.get(s.base() + "/stats?until=" + middle).get("success").asInt()).isEqualTo(3);
        assertThat(zd.get(s.base() + "/stats?since=" + middle).get("success").asInt()).isEqualTo(1);
        assertThat(zd.get(s.base() + "/stats?since=" + start + "&until=" + middle).get("success").asInt()).isEqualTo(3);
        JsonNode none = zd.get(s.base() + "/stats?until=" + start);
        assertThat(List.of(none.get("success").asInt(), none.get("pending").asInt(), none.get("fail").asInt())).containsOnly(0);
        assertClientError(zd.call("GET", s.base() + "/stats?since=" + middle + "&until=" + start, null), 422, "since");
        assertClientError(zd.call("GET", s.base() + "/stats?since=yesterday", null), 422, "since");
    }

    @Test
    void theEndpointFilterOfAttemptListsTakesAUidAndAnUnknownOneIsA404() {
        Setup s = endpoint("filter", Map.of());
        String msg = send(s.app(), Map.of("eventType", "f", "payload", Map.of()));
        awaitState(s.app(), msg, "delivered");
        String path = "/api/v1/app/" + s.app() + "/attempt/msg/" + msg;
        assertThat(zd.get(path + "?endpoint_id=" + s.endpoint()).get("data")).hasSize(1);
        assertThat(zd.get(path + "?endpoint_id=filter-ep").get("data")).hasSize(1);
        assertClientError(zd.call("GET", path + "?endpoint_id=no-such-ep", null), 404, "no-such-ep");
        // an endpoint of another application is unknown here too
        Setup other = endpoint("filter-other", Map.of());
        assertClientError(zd.call("GET", path + "?endpoint_id=" + other.endpoint(), null), 404, other.endpoint());
    }

    @Test
    void attemptListsOmitTheResponseBodyWithoutContent() {
        Setup s = endpoint("content", Map.of());
        String msg = send(s.app(), Map.of("eventType", "c", "payload", Map.of()));
        awaitState(s.app(), msg, "delivered");
        for (String path : List.of("/api/v1/app/" + s.app() + "/attempt/msg/" + msg, "/api/v1/app/" + s.app() + "/attempt/endpoint/" + s.endpoint())) {
            assertThat(zd.get(path).get("data").get(0).get("response").asText()).as(path).isNotEqualTo("{}");
            assertThat(zd.get(path + "?with_content=true").get("data").get(0).get("response").asText()).as(path).isNotEqualTo("{}");
            assertThat(zd.get(path + "?with_content=false").get("data").get(0).get("response").asText()).as(path).isEqualTo("{}");
        }
    }

    @Test
    void attemptedDestinationsCarryEventTypes() {
        Setup s = endpoint("dests", Map.of("filterTypes", List.of("d.one", "d.two")));
        String msg = send(s.app(), Map.of("eventType", "d.one", "payload", Map.of()));
        JsonNode item = zd.get("/api/v1/app/" + s.app() + "/msg/" + msg + "/endpoint").get("data").get(0);
        assertThat(item.get("eventTypes").toString()).isEqualTo("[\"d.one\",\"d.two\"]");
        assertThat(item.get("filterTypes").toString()).isEqualTo("[\"d.one\",\"d.two\"]");
    }

    @Test
    void messagesCarryTagsAndListsFilterOnThem() {
        Setup s = endpoint("tags", Map.of());
        var created = zd.call("POST", "/api/v1/app/" + s.app() + "/msg",
                Map.of("eventType", "t", "payload", Map.of("a", 1), "tags", List.of("alpha", "team/pay#1")));
        assertThat(created.status()).isEqualTo(202);
        assertThat(created.json().get("tags").toString()).isEqualTo("[\"alpha\",\"team/pay#1\"]");
        String tagged = created.json().get("id").asText();
        String plain = send(s.app(), Map.of("eventType", "t", "payload", Map.of("a", 2)));
        awaitState(s.app(), tagged, "delivered");
        awaitState(s.app(), plain, "delivered");
        String app = "/api/v1/app/" + s.app();
        assertThat(zd.get(app + "/msg/" + tagged).get("tags").toString()).isEqualTo("[\"alpha\",\"team/pay#1\"]");
        assertThat(zd.get(app + "/msg/" + plain).get("tags").isNull()).isTrue();
        assertThat(ids(zd.get(app + "/msg?tag=alpha"), "id")).containsExactly(tagged);
        assertThat(ids(zd.get(app + "/msg?tag=team%2Fpay%231"), "id")).containsExactly(tagged);
        assertThat(ids(zd.get(app + "/msg?tag=nope"), "id")).isEmpty();
        assertThat(ids(zd.get(app + "/msg"), "id")).containsExactlyInAnyOrder(tagged, plain);
        assertThat(ids(zd.get(app + "/attempt/endpoint/" + s.endpoint() + "?tag=alpha"), "msgId")).containsExactly(tagged);
        assertThat(ids(zd.get(app + "/endpoint/" + s.endpoint() + "/msg?tag=alpha"), "id")).containsExactly(tagged);
        assertThat(ids(zd.get(app + "/attempt/msg/" + plain + "?tag=alpha"), "id")).isEmpty();
        assertClientError(zd.call("POST", app + "/msg", Map.of("eventType", "t", "payload", Map.of(), "tags", List.of("with space"))), 422, "tags");
        assertClientError(zd.call("POST", app + "/msg", Map.of("eventType", "t", "payload", Map.of(),
                "tags", List.of("1", "2", "3", "4", "5", "6"))), 422, "tags");
        assertClientError(zd.call("POST", app + "/msg", Map.of("eventType", "t", "payload", Map.of(), "tags", "alpha")), 422, "tags");
    }

    @Test
    void payloadRetentionIsValidatedAndStoredInHours() throws Exception {
        String app = "/api/v1/app/" + zd.createApp("retention") + "/msg";
        String days = zd.post(app, Map.of("eventType", "r", "payload", Map.of(), "payloadRetentionPeriod", 30)).get("id").asText();
        String hours = zd.post(app, Map.of("eventType", "r", "payload", Map.of(), "payloadRetentionHours", 12)).get("id").asText();
        String neither = zd.post(app, Map.of("eventType", "r", "payload", Map.of())).get("id").asText();
        assertThat(retentionOf(days)).isEqualTo(720);
        assertThat(retentionOf(hours)).isEqualTo(12);
        assertThat(retentionOf(neither)).isNull();
        for (var bad : List.of(Map.<String, Object>of("payloadRetentionPeriod", 0), Map.<String, Object>of("payloadRetentionPeriod", 91),
                Map.<String, Object>of("payloadRetentionHours", 0), Map.<String, Object>of("payloadRetentionHours", 2161),
                Map.<String, Object>of("payloadRetentionPeriod", "30"))) {
            Map<String, Object> body = new java.util.HashMap<>(Map.of("eventType", "r", "payload", Map.of()));
            body.putAll(bad);
            assertClientError(zd.call("POST", app, body), 422, bad.keySet().iterator().next());
        }
        assertClientError(zd.call("POST", app, Map.of("eventType", "r", "payload", Map.of(), "payloadRetentionPeriod", 5,
                "payloadRetentionHours", 5)), 422, "payloadRetentionHours");
    }

    @Test
    void eventTypesStoreFeatureFlagsAndAGroupAndListsOmitSchemasUnlessAsked() {
        var created = zd.call("POST", "/api/v1/event-type", Map.of("name", "ff.one", "description", "d",
                "featureFlags", List.of("beta", "gamma"), "groupName", "billing", "schemas", Map.of("1", Map.of("type", "object"))));
        assertThat(created.status()).as(created.text()).isEqualTo(201);
        JsonNode got = zd.get("/api/v1/event-type/ff.one");
        assertThat(got.get("featureFlags").toString()).isEqualTo("[\"beta\",\"gamma\"]");
        assertThat(got.get("featureFlag").asText()).isEqualTo("beta");
        assertThat(got.get("groupName").asText()).isEqualTo("billing");
        // the deprecated single flag is a list of one
        zd.post("/api/v1/event-type", Map.of("name", "ff.two", "description", "d", "featureFlag", "legacy"));
        assertThat(zd.get("/api/v1/event-type/ff.two").get("featureFlags").toString()).isEqualTo("[\"legacy\"]");
        // PATCH keeps what it does not name, and null clears
        JsonNode patched = zd.call("PATCH", "/api/v1/event-type/ff.one", Map.of("description", "e")).json();
        assertThat(patched.get("featureFlags").toString()).isEqualTo("[\"beta\",\"gamma\"]");
        assertThat(patched.get("groupName").asText()).isEqualTo("billing");
        JsonNode cleared = zd.call("PATCH", "/api/v1/event-type/ff.one", "{\"groupName\":null,\"featureFlags\":null}").json();
        assertThat(cleared.get("groupName").isNull()).isTrue();
        assertThat(cleared.get("featureFlags").isNull()).isTrue();
        JsonNode put = zd.call("PUT", "/api/v1/event-type/ff.one", Map.of("description", "p", "featureFlags", List.of("delta"),
                "groupName", "g2", "schemas", Map.of("1", Map.of("type", "object")))).json();
        assertThat(put.get("featureFlags").toString()).isEqualTo("[\"delta\"]");
        assertThat(put.get("groupName").asText()).isEqualTo("g2");

        JsonNode bare = find(zd.get("/api/v1/event-type").get("data"), "ff.one");
        assertThat(bare.get("schemas").isNull()).isTrue();
        assertThat(bare.get("groupName").asText()).isEqualTo("g2");
        assertThat(find(zd.get("/api/v1/event-type?with_content=false").get("data"), "ff.one").get("schemas").isNull()).isTrue();
        assertThat(find(zd.get("/api/v1/event-type?with_content=true").get("data"), "ff.one").get("schemas").get("1").get("type").asText())
                .isEqualTo("object");

        assertClientError(zd.call("POST", "/api/v1/event-type", Map.of("name", "ff.bad", "description", "d", "featureFlags", List.of())),
                422, "featureFlags");
        assertClientError(zd.call("POST", "/api/v1/event-type", Map.of("name", "ff.bad", "description", "d", "featureFlags", List.of("a b"))),
                422, "featureFlags");
        assertClientError(zd.call("POST", "/api/v1/event-type", Map.of("name", "ff.bad", "description", "d", "groupName", "a b")),
                422, "groupName");
    }

    @Test
    void sendExampleSendsTheEventTypesSchemaExampleOrThePing() {
        Setup s = endpoint("example", Map.of("filterTypes", List.of("something.else")));
        zd.post("/api/v1/event-type", Map.of("name", "ex.paid", "description", "d", "schemas",
                Map.of("1", Map.of("type", "object", "examples", List.of(Map.of("n", 0), Map.of("n", 1))))));
        zd.post("/api/v1/event-type", Map.of("name", "ex.plain", "description", "d"));
        zd.post("/api/v1/event-type", Map.of("name", "ex.v2", "description", "d", "schemas",
                Map.of("2", Map.of("examples", List.of(Map.of("v", 2))), "10", Map.of("examples", List.of(Map.of("v", 10))))));

        JsonNode first = zd.post(s.base() + "/send-example", Map.of("eventType", "ex.paid"));
        assertThat(first.get("eventType").asText()).isEqualTo("ex.paid");
        assertThat(first.get("payload").toString()).isEqualTo("{\"n\":0}");
        assertThat(delivered(first.get("id").asText()).bodyText()).isEqualTo("{\"n\":0}");
        assertThat(zd.post(s.base() + "/send-example", Map.of("eventType", "ex.paid", "exampleIndex", 1)).get("payload").toString())
                .isEqualTo("{\"n\":1}");
        assertThat(zd.post(s.base() + "/send-example", Map.of("eventType", "ex.v2")).get("payload").toString()).isEqualTo("{\"v\":10}");
        String ping = "{\"data\":{\"success\":true},\"type\":\"svix.ping\"}";
        JsonNode plain = zd.post(s.base() + "/send-example", Map.of("eventType", "ex.plain"));
        assertThat(plain.get("eventType").asText()).isEqualTo("ex.plain");
        assertThat(plain.get("payload").toString()).isEqualTo(ping);
        assertThat(zd.post(s.base() + "/send-example", Map.of("eventType", "svix.ping")).get("payload").toString()).isEqualTo(ping);
        var empty = zd.call("POST", s.base() + "/send-example", null);
        assertThat(empty.status()).isEqualTo(200);
        assertThat(empty.json().get("eventType").asText()).isEqualTo("svix.ping");

        var unknown = zd.call("POST", s.base() + "/send-example", Map.of("eventType", "no.such.type"));
        assertClientError(unknown, 422, "no.such.type");
        assertThat(unknown.json().get("detail").get(0).get("loc").toString()).isEqualTo("[\"body\",\"eventType\"]");
        assertClientError(zd.call("POST", s.base() + "/send-example", Map.of("eventType", "ex.paid", "exampleIndex", 2)), 422, "exampleIndex");
        assertClientError(zd.call("POST", s.base() + "/send-example", Map.of("eventType", "ex.paid", "exampleIndex", -1)), 422, "exampleIndex");
        assertClientError(zd.call("POST", s.base() + "/send-example", Map.of("eventType", "bad type")), 422, "eventType");
    }

    private static JsonNode find(JsonNode data, String name) {
        for (JsonNode t : data) if (t.get("name").asText().equals(name)) return t;
        throw new AssertionError(name + " is not listed in " + data);
    }

    private static List<String> ids(JsonNode page, String field) {
        List<String> out = new ArrayList<>();
        page.get("data").forEach(x -> out.add(x.get(field).asText()));
        return out;
    }

    private static Integer retentionOf(String msgId) throws Exception {
        try (Connection c = DriverManager.getConnection(db.url()); Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT payload_retention_hours FROM message WHERE id = '" + msgId + "'")) {
            rs.next();
            return (Integer) rs.getObject(1);
        }
    }
}
