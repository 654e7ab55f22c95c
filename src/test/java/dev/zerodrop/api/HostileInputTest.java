package dev.zerodrop.api;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import com.fasterxml.jackson.databind.JsonNode;
import dev.zerodrop.Server;
import dev.zerodrop.config.Knob;
import dev.zerodrop.delivery.WebhookClient;
import dev.zerodrop.testing.TestDatabase;
import dev.zerodrop.testing.TestServer;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.slf4j.LoggerFactory;

/**
 * The uid and name rules on every path that creates or renames something, the endpoint settings
 * that could never be delivered, the caps on parameters, and a request failure's one log line.
 */
class HostileInputTest {
    static TestDatabase db;
    static TestServer zd;
    static String app;

    @BeforeAll
    static void start() throws Exception {
        db = TestDatabase.create("hostile");
        Map<Knob, String> knobs = TestServer.defaults(db.url());
        knobs.put(Knob.DISPATCH, "false");
        zd = TestServer.start(knobs, TestServer.quiet(Server.Options.defaults()));
        app = zd.createApp("hostile");
        zd.post("/api/v1/event-type", Map.of("name", "hostile.type"));
    }

    @AfterAll
    static void stop() {
        if (zd != null) zd.close();
        if (db != null) db.close();
    }

    static long rows(String table) {
        try (var c = java.sql.DriverManager.getConnection(db.url()); var s = c.createStatement();
             var rs = s.executeQuery("SELECT count(*) FROM " + table)) {
            rs.next();
            return rs.getLong(1);
        } catch (java.sql.SQLException e) {
            throw new IllegalStateException(e);
        }
    }

    static void assertRefused(TestServer.Response r, int status, String... loc) {
        assertThat(r.status()).as(r.text()).isEqualTo(status);
        if (loc.length > 0) assertThat(r.json().get("detail").get(0).get("loc")).as(r.text()).containsExactly(
                java.util.Arrays.stream(loc).map(com.fasterxml.jackson.databind.node.TextNode::new).toArray(JsonNode[]::new));
    }

    @ParameterizedTest
    @ValueSource(strings = {"a%0D%0AX-Forged:%201", "a%E2%80%AEb", "a%E2%81%A6b", "a%00b", "a%01b", "a%C2%85b", "a%20b", "a%2Bb"})
    void aPutUpsertRefusesAPathUidThatBreaksTheUidRules(String uid) {
        long before = rows("application");
        TestServer.Response r = zd.call("PUT", "/api/v1/app/" + uid, Map.of("name", "x"));
        assertThat(r.status()).as(r.text()).isIn(400, 422);
        assertThat(rows("application")).isEqualTo(before);
    }

    @Test
    void anOverlongPathUidIsRefused() {
        long before = rows("application");
        assertRefused(zd.call("PUT", "/api/v1/app/" + "a".repeat(300), Map.of("name", "x")), 422, "path", "app_id");
        assertThat(zd.call("PUT", "/api/v1/app/" + "a".repeat(8000), Map.of("name", "x")).status()).isIn(414, 431);
        assertThat(rows("application")).isEqualTo(before);
    }

    @Test
    void aPutUpsertStillCreatesWithAGoodPathUid() {
        TestServer.Response r = zd.call("PUT", "/api/v1/app/good-uid.1", Map.of("name", "x"));
        assertThat(r.status()).as(r.text()).isEqualTo(201);
        assertThat(r.json().get("uid").asText()).isEqualTo("good-uid.1");
    }

    @Test
    void theApplicationThatMessageCreationMakesObeysTheUidRules() {
        long before = rows("application");
        TestServer.Response r = zd.call("POST", "/api/v1/app/bad%E2%80%AEuid/msg",
                Map.of("eventType", "hostile.type", "payload", Map.of(), "application", Map.of("name", "auto")));
        assertRefused(r, 422, "path", "app_id");
        assertThat(rows("application")).isEqualTo(before);
        assertThat(zd.call("POST", "/api/v1/app/auto-ok/msg?with_content=maybe",
                Map.of("eventType", "hostile.type", "payload", Map.of(), "application", Map.of("name", "auto"))).status()).isEqualTo(422);
        assertThat(rows("application")).as("a refused message creates no application").isEqualTo(before);
    }

    @Test
    void endpointAndEventTypeUpsertsObeyTheRulesToo() {
        long endpoints = rows("endpoint");
        assertRefused(zd.call("PUT", "/api/v1/app/" + app + "/endpoint/ep%0Ax", Map.of("url", "http://127.0.0.1:9/")), 422, "path", "endpoint_id");
        assertThat(rows("endpoint")).isEqualTo(endpoints);
        long types = rows("event_type");
        assertRefused(zd.call("PUT", "/api/v1/event-type/t%E2%80%AEx", Map.of("description", "d")), 422, "path", "event_type_name");
        assertThat(rows("event_type")).isEqualTo(types);
    }

    @ParameterizedTest
    @ValueSource(strings = {"evil\u202Egnp.exe", "a\u2066b\u2069", "line\nbreak", "tab\there", "esc\u001b[31m", "c1\u0085"})
    void aNameWithControlOrBidiCharactersIsRefusedOnCreateAndRename(String name) {
        assertRefused(zd.call("POST", "/api/v1/app", Map.of("name", name)), 422, "body", "name");
        assertRefused(zd.call("PATCH", "/api/v1/app/" + app, Map.of("name", name)), 422, "body", "name");
        assertRefused(zd.call("PUT", "/api/v1/app/" + app, Map.of("name", name)), 422, "body", "name");
    }

    @Test
    void aNullInAPatchForAFieldWithoutANullIsA422NotA500() {
        assertRefused(zd.call("PATCH", "/api/v1/app/" + app, "{\"name\": null}"), 422, "body", "name");
        String ep = zd.createEndpoint(app, Map.of("url", "http://127.0.0.1:9/")).id();
        assertRefused(zd.call("PATCH", "/api/v1/app/" + app + "/endpoint/" + ep, "{\"url\": null}"), 422, "body", "url");
    }

    @ParameterizedTest
    @ValueSource(strings = {"iterator=%00", "tag=a%00b", "channel=%0D%0A", "event_types=a%E2%80%AEb"})
    void aControlCharacterInAQueryParameterIsA422NamingIt(String query) {
        TestServer.Response r = zd.call("GET", "/api/v1/app/" + app + "/msg?" + query, null);
        assertRefused(r, 422, "query", query.substring(0, query.indexOf('=')));
    }

    @Test
    void queryParametersAreCappedInLengthAndCount() {
        assertRefused(zd.call("GET", "/api/v1/app?iterator=" + "a".repeat(1025), null), 422, "query", "iterator");
        StringBuilder many = new StringBuilder("/api/v1/app?limit=1");
        for (int i = 0; i < 70; i++) many.append("&x").append(i).append("=1");
        assertThat(zd.call("GET", many.toString(), null).status()).isEqualTo(422);
        assertThat(zd.call("GET", "/api/v1/app?limit=251", null).status()).isEqualTo(422);
        assertThat(zd.call("GET", "/api/v1/app?limit=0", null).status()).isEqualTo(422);
    }

    @Test
    void anEndpointWhoseRequestHeadCouldNeverBeSentIsRefusedWhenSaved() {
        long before = rows("endpoint");
        String longUrl = "http://127.0.0.1:9/" + "p".repeat(WebhookClient.MAX_REQUEST_HEAD_BYTES - 500);
        assertRefused(zd.call("POST", "/api/v1/app/" + app + "/endpoint", Map.of("url", longUrl)), 422, "body", "url");
        Map<String, String> big = Map.of("X-A", "a".repeat(4000), "X-B", "b".repeat(4000));
        assertRefused(zd.call("POST", "/api/v1/app/" + app + "/endpoint", Map.of("url", "http://127.0.0.1:9/", "headers", big)),
                422, "body", "headers");
        assertThat(rows("endpoint")).isEqualTo(before);

        String ep = zd.createEndpoint(app, Map.of("url", "http://127.0.0.1:9/")).id();
        String base = "/api/v1/app/" + app + "/endpoint/" + ep;
        assertThat(zd.call("PUT", base + "/headers", Map.of("headers", Map.of("X-A", "a".repeat(4000)))).status()).isEqualTo(204);
        assertRefused(zd.call("PATCH", base + "/headers", Map.of("headers", Map.of("X-B", "b".repeat(4000)))), 422, "body", "headers");
        assertRefused(zd.call("PATCH", base, Map.of("url", "http://127.0.0.1:9/" + "p".repeat(3500))), 422, "body", "headers");
        assertThat(zd.get(base + "/headers").get("headers").has("X-B")).isFalse();
        assertThat(zd.call("POST", "/api/v1/app/" + app + "/endpoint", Map.of("url", "http://127.0.0.1:99999/")).status()).isEqualTo(422);
    }

    @Test
    void rotationsStopBeforeTheSignaturesOverflowTheRequestHead() {
        String ep = zd.createEndpoint(app, Map.of("url", "http://127.0.0.1:9/")).id();
        String rotate = "/api/v1/app/" + app + "/endpoint/" + ep + "/secret/rotate";
        for (int i = 1; i < WebhookClient.MAX_SIGNING_SECRETS; i++) assertThat(zd.call("POST", rotate, "{}").status()).isEqualTo(204);
        TestServer.Response r = zd.call("POST", rotate, "{}");
        assertThat(r.status()).as(r.text()).isEqualTo(409);
        assertThat(zd.call("POST", rotate, "{\"gracePeriodSeconds\": 0}").status()).isEqualTo(204);
    }

    @Test
    void aRequestFailureLogsOneLineWithAnIncidentIdAndTheAnswerNamesIt() {
        String ep = zd.createEndpoint(app, Map.of("url", "http://127.0.0.1:9/")).id();
        // A row the code cannot read: the one way left to make a route fail.
        db.exec("UPDATE endpoint SET headers = '[1, 2]' WHERE id = '" + ep + "'");
        Logger logger = (Logger) LoggerFactory.getLogger(ApiServer.class);
        ListAppender<ILoggingEvent> lines = new ListAppender<>();
        lines.start();
        logger.addAppender(lines);
        try {
            TestServer.Response r = zd.call("GET", "/api/v1/app/" + app + "/endpoint/" + ep + "/headers", null);
            assertThat(r.status()).isEqualTo(500);
            String incident = r.json().get("detail").asText().replaceAll(".*(inc_[0-9a-f]{16}).*", "$1");
            assertThat(incident).matches("inc_[0-9a-f]{16}");
            assertThat(r.text()).doesNotContainPattern("[a-z]+\\.[a-z]+\\.[A-Z]\\w+").doesNotContain("Exception");
            List<ILoggingEvent> errors = lines.list.stream().filter(e -> e.getLevel() == ch.qos.logback.classic.Level.ERROR).toList();
            assertThat(errors).hasSize(1);
            ILoggingEvent line = errors.getFirst();
            assertThat(line.getThrowableProxy()).as("no stack trace at ERROR").isNull();
            assertThat(line.getFormattedMessage()).contains(incident).contains("GET /api/v1/app/{app_id}/endpoint/{endpoint_id}/headers")
                    .containsPattern("[a-z]+\\.[a-z.]+\\.[A-Z]\\w+").doesNotContain("\n");
        } finally {
            logger.detachAppender(lines);
            db.exec("UPDATE endpoint SET headers = '{}' WHERE id = '" + ep + "'");
        }
    }
}
