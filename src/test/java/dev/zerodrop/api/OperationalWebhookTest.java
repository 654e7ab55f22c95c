package dev.zerodrop.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import dev.zerodrop.Server;
import dev.zerodrop.chaos.Receiver;
import dev.zerodrop.config.Knob;
import dev.zerodrop.core.Json;
import dev.zerodrop.delivery.Signer;
import dev.zerodrop.testing.NodeVerifier;
import dev.zerodrop.testing.TestDatabase;
import dev.zerodrop.testing.TestServer;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * Operational-webhook endpoints managed through the API: each gets exactly the events its filter
 * takes, signed with its own secret, through the durable delivery path; the endpoint from the
 * environment stays beside them.
 */
class OperationalWebhookTest {
    static final String BOOT_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    static final String BASE = "/api/v1/operational-webhook/endpoint";

    static Set<String> types(Receiver r) {
        return r.requests().stream().map(x -> body(x).path("type").asText()).collect(Collectors.toSet());
    }

    static long count(Receiver r, String type) {
        return r.requests().stream().filter(x -> body(x).path("type").asText().equals(type)).count();
    }

    static JsonNode body(Receiver.Request x) {
        try {
            return Json.MAPPER.readTree(x.body());
        } catch (java.io.IOException e) {
            throw new IllegalStateException(e);
        }
    }

    @Test
    void eachOperationalEndpointGetsExactlyItsEventsSignedWithItsOwnSecret() throws Exception {
        try (TestDatabase db = TestDatabase.create("opwh"); Receiver boot = Receiver.alwaysOk(); Receiver exhausted = Receiver.alwaysOk();
             Receiver health = Receiver.alwaysOk(); Receiver target = new Receiver((req, n) -> Receiver.status(500))) {
            Map<Knob, String> k = TestServer.defaults(db.url());
            k.put(Knob.OPERATIONAL_WEBHOOK_URL, boot.url("/boot"));
            k.put(Knob.OPERATIONAL_WEBHOOK_SECRET, BOOT_SECRET);
            k.put(Knob.ALERT_INTERVAL, "200ms");
            try (TestServer zd = TestServer.start(k, TestServer.quiet(Server.Options.defaults()))) {
                // The environment's endpoint is listed like the others, under its uid.
                JsonNode listed = zd.get(BASE);
                assertThat(listed.get("data")).hasSize(1);
                assertThat(listed.get("data").get(0).get("uid").asText()).isEqualTo("webhook");

                TestServer.Response created = zd.call("POST", BASE, Map.of("url", exhausted.url("/exhausted"), "uid", "exhausted-only",
                        "filterTypes", List.of("message.attempt.exhausted"), "metadata", Map.of("team", "payments"), "description", "dead letters"));
                assertThat(created.status()).as(created.text()).isEqualTo(201);
                String exId = created.json().get("id").asText();
                assertThat(created.json().get("filterTypes")).hasSize(1);
                // svix 2 names the filter eventTypes, and sends headers with the endpoint.
                JsonNode h = zd.post(BASE, Map.of("url", health.url("/health"), "eventTypes", List.of("endpoint.disabled", "endpoint.enabled"),
                        "headers", Map.of("X-Team", "sre"), "rateLimit", 100));
                String healthId = h.get("id").asText();
                assertThat(h.get("eventTypes")).extracting(JsonNode::asText).containsExactly("endpoint.disabled", "endpoint.enabled");
                assertThat(h.get("throttleRate").asInt()).isEqualTo(100);
                assertThat(zd.get(BASE).get("data")).hasSize(3);
                String exSecret = zd.get(BASE + "/exhausted-only/secret").get("key").asText();
                String healthSecret = zd.get(BASE + "/" + healthId + "/secret").get("key").asText();
                assertThat(zd.get(BASE + "/" + healthId + "/headers").get("headers").get("X-Team").asText()).isEqualTo("sre");

                // Two deliveries go dead, then their endpoint is disabled through the API.
                String app = zd.createApp("shop");
                var ep = zd.createEndpoint(app, Map.of("url", target.url("/hook")));
                List<String> msgs = List.of(
                        zd.post("/api/v1/app/" + app + "/msg", Map.of("eventType", "order.paid", "payload", Map.of("n", 1))).get("id").asText(),
                        zd.post("/api/v1/app/" + app + "/msg", Map.of("eventType", "order.paid", "payload", Map.of("n", 2))).get("id").asText());
                await().atMost(Duration.ofSeconds(20)).until(() -> msgs.stream().allMatch(m -> zd.deliveryState(app, m).equals("dead")));
                zd.call("PATCH", "/api/v1/app/" + app + "/endpoint/" + ep.id(), Map.of("disabled", true));

                await().atMost(Duration.ofSeconds(15)).until(() -> count(exhausted, "message.attempt.exhausted") == 2
                        && count(health, "endpoint.disabled") == 1 && count(boot, "endpoint.disabled") == 1
                        && count(boot, "message.attempt.exhausted") == 2);
                // A little later, still exactly these: each filter let only its own types through.
                await().during(Duration.ofSeconds(1)).atMost(Duration.ofSeconds(5)).until(() ->
                        exhausted.requests().size() == 2 && health.requests().size() == 1);
                assertThat(types(exhausted)).containsExactly("message.attempt.exhausted");
                assertThat(types(health)).containsExactly("endpoint.disabled");
                assertThat(types(boot)).contains("message.attempt.exhausted", "message.attempt.failing", "endpoint.disabled");
                assertThat(exhausted.requests()).extracting(x -> body(x).get("data").get("msgId").asText()).containsExactlyInAnyOrderElementsOf(msgs);
                assertThat(health.requests().getFirst().header("x-team")).isEqualTo("sre");

                // Each is signed with its own secret only.
                assertThat(NodeVerifier.verify(exSecret, exhausted.requests())).allMatch("ok"::equals);
                assertThat(NodeVerifier.verify(healthSecret, health.requests())).allMatch("ok"::equals);
                assertThat(NodeVerifier.verify(BOOT_SECRET, boot.requests())).allMatch("ok"::equals);
                assertThat(NodeVerifier.verify(exSecret, health.requests())).noneMatch("ok"::equals);

                // A rotated secret: during its grace, deliveries carry both signatures.
                assertThat(zd.call("POST", BASE + "/" + healthId + "/secret/rotate", Map.of()).status()).isEqualTo(204);
                String rotated = zd.get(BASE + "/" + healthId + "/secret").get("key").asText();
                assertThat(rotated).isNotEqualTo(healthSecret);
                zd.call("PATCH", "/api/v1/app/" + app + "/endpoint/" + ep.id(), Map.of("disabled", false));
                await().atMost(Duration.ofSeconds(15)).until(() -> count(health, "endpoint.enabled") == 1);
                Receiver.Request enabled = health.requests().stream().filter(x -> body(x).path("type").asText().equals("endpoint.enabled"))
                        .findFirst().orElseThrow();
                assertThat(enabled.header("webhook-signature").split(" ")).hasSize(2);
                assertThat(NodeVerifier.verify(rotated, List.of(enabled))).containsExactly("ok");
                assertThat(NodeVerifier.verify(healthSecret, List.of(enabled))).containsExactly("ok");
                assertThat(Signer.verify(rotated, enabled.header("webhook-id"), enabled.header("webhook-timestamp"),
                        enabled.header("webhook-signature"), enabled.body(), java.time.Instant.now().getEpochSecond(), 300)).isTrue();

                // Operational deliveries are ordinary deliveries: their attempts are logged.
                String opsApp = zd.get("/api/v1/app/zerodrop-operational").get("id").asText();
                assertThat(zd.get("/api/v1/app/" + opsApp + "/attempt/endpoint/" + exId).get("data").size()).isEqualTo(2);
            }
        }
    }

    @Test
    void operationalEndpointsAreManagedLikeSvixEndpoints() throws Exception {
        try (TestDatabase db = TestDatabase.create("opwh_crud");
             TestServer zd = TestServer.start(TestServer.defaults(db.url()), TestServer.quiet(Server.Options.defaults()))) {
            assertThat(zd.get(BASE).get("data")).isEmpty(); // nothing configured, nothing listed
            ApiTest.assertClientError(zd.call("GET", BASE + "/ep_nope", null), 404, "ep_nope");
            ApiTest.assertClientError(zd.call("POST", BASE, Map.of("description", "no url")), 422, "url");
            ApiTest.assertClientError(zd.call("POST", BASE, Map.of("url", "ftp://x")), 422, "url");
            ApiTest.assertClientError(zd.call("POST", BASE, Map.of("url", "http://127.0.0.1:9/a", "channels", List.of("eu"))), 422, "channels");
            ApiTest.assertClientError(zd.call("POST", BASE, Map.of("url", "http://127.0.0.1:9/a", "secret", "nope")), 422, "secret");

            String secret = Signer.newSecret();
            JsonNode e = zd.post(BASE, Map.of("url", "http://127.0.0.1:9/a", "secret", secret, "disabled", true));
            String id = e.get("id").asText();
            assertThat(e.get("disabled").asBoolean()).isTrue();
            assertThat(zd.get(BASE + "/" + id + "/secret").get("key").asText()).isEqualTo(secret);

            // PUT replaces (svix 1 update), and creates a missing one with the path as uid (svix 2 upsert).
            TestServer.Response put = zd.call("PUT", BASE + "/" + id, Map.of("url", "http://127.0.0.1:9/b", "filterTypes", List.of("endpoint.enabled")));
            assertThat(put.status()).as(put.text()).isEqualTo(200);
            assertThat(put.json().get("url").asText()).isEqualTo("http://127.0.0.1:9/b");
            assertThat(put.json().get("disabled").asBoolean()).isFalse();
            TestServer.Response upsert = zd.call("PUT", BASE + "/by-uid", Map.of("url", "http://127.0.0.1:9/c"));
            assertThat(upsert.status()).as(upsert.text()).isEqualTo(201);
            assertThat(upsert.json().get("uid").asText()).isEqualTo("by-uid");
            assertThat(zd.get(BASE + "/by-uid").get("id").asText()).isEqualTo(upsert.json().get("id").asText());

            assertThat(zd.call("PUT", BASE + "/" + id + "/headers", Map.of("headers", Map.of("Authorization", "Bearer x", "X-A", "1"))).status())
                    .isEqualTo(204);
            JsonNode headers = zd.get(BASE + "/" + id + "/headers");
            assertThat(headers.get("headers").get("X-A").asText()).isEqualTo("1");
            assertThat(headers.get("sensitive")).extracting(JsonNode::asText).containsExactly("Authorization");

            String newKey = Signer.newSecret();
            assertThat(zd.call("POST", BASE + "/" + id + "/secret/rotate", Map.of("key", newKey)).status()).isEqualTo(204);
            assertThat(zd.get(BASE + "/" + id + "/secret").get("key").asText()).isEqualTo(newKey);

            JsonNode page = zd.get(BASE + "?limit=1");
            assertThat(page.get("data")).hasSize(1);
            assertThat(page.get("done").asBoolean()).isFalse();
            assertThat(zd.call("DELETE", BASE + "/" + id, null).status()).isEqualTo(204);
            assertThat(zd.call("GET", BASE + "/" + id, null).status()).isEqualTo(404);
            assertThat(zd.get(BASE).get("data")).hasSize(1);
        }
    }
}
