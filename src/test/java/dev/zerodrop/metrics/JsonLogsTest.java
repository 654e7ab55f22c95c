package dev.zerodrop.metrics;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import dev.zerodrop.chaos.NodeProcess;
import dev.zerodrop.chaos.Receiver;
import dev.zerodrop.config.Config;
import dev.zerodrop.config.LogFormat;
import dev.zerodrop.core.Json;
import dev.zerodrop.testing.TestDatabase;
import dev.zerodrop.testing.TestServer;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A node started with {@code --log-format json}, in a child JVM as in production: every line it writes
 * is a JSON object, the lines about a delivery carry its ids, and no secret is ever written.
 */
class JsonLogsTest {
    static final String SIGNING_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    static final String RECEIVER_TOKEN = "receiver-bearer-9f8e7d6c5b4a";

    @TempDir
    Path logs;

    @Test
    void jsonLinesCarryTheDeliveryIdsAndNoSecret() throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
            port = s.getLocalPort();
        }
        Map<String, String> flags = new LinkedHashMap<>();
        try (TestDatabase db = TestDatabase.create("json_logs"); Receiver receiver = new Receiver((r, n) -> Receiver.status(500))) {
            flags.put("db-url", db.url());
            flags.put("admin-token", TestServer.TOKEN);
            flags.put("allow-private-cidrs", "127.0.0.0/8");
            flags.put("retry-schedule", "100ms");
            flags.put("request-timeout", "1s");
            flags.put("lease", "2s");
            flags.put("poll-interval", "100ms");
            flags.put("log-format", "json");
            NodeProcess node = new NodeProcess("json", port, flags, logs).start(Duration.ofSeconds(60));
            try {
                String app = call(node, "POST", "/api/v1/app", Map.of("name", "logs")).get("id").asText();
                String endpoint = call(node, "POST", "/api/v1/app/" + app + "/endpoint", Map.of("url", receiver.url("/hook"),
                        "secret", SIGNING_SECRET, "headers", Map.of("Authorization", "Bearer " + RECEIVER_TOKEN))).get("id").asText();
                String msg = call(node, "POST", "/api/v1/app/" + app + "/msg", Map.of("eventType", "e", "payload", Map.of("a", 1)))
                        .get("id").asText();

                // Two failed attempts: the delivery is dead, and says so with its ids.
                await().atMost(Duration.ofSeconds(30)).until(() -> node.countInLogs("is dead after attempt") == 1);
                assertThat(receiver.requests()).hasSize(2).allMatch(r -> ("Bearer " + RECEIVER_TOKEN).equals(r.header("authorization")));

                // A node that died mid-request leaves an expired lease: the rescuer logs the delivery it takes back.
                db.exec("UPDATE delivery SET state = 'sending', lease_token = lease_token + 1, lease_expires_at = now() - interval '1 minute'"
                        + " WHERE msg_id = '" + msg + "'");
                await().atMost(Duration.ofSeconds(30)).until(() -> node.countInLogs("recorded a lost-lease attempt") == 1);
                await().atMost(Duration.ofSeconds(30)).until(() -> node.countInLogs("is dead after attempt") == 2);

                List<JsonNode> lines = new ArrayList<>();
                String text = Files.readString(logs.resolve("json-1.log"));
                for (String line : text.split("\n")) {
                    if (line.isBlank()) continue;
                    JsonNode json = Json.MAPPER.readTree(line); // throws if any line is not JSON
                    assertThat(json.isObject()).as(line).isTrue();
                    assertThat(json.get("level").asText()).as(line).isNotEmpty();
                    lines.add(json);
                }
                assertThat(lines).anySatisfy(l -> assertThat(l.get("formattedMessage").asText()).startsWith("ZeroDrop listening on"));
                List<JsonNode> aboutDelivery = lines.stream()
                        .filter(l -> l.get("formattedMessage").asText().matches("(delivery \\d+ is dead|the lease of delivery).*")).toList();
                assertThat(aboutDelivery).hasSize(3).allSatisfy(l -> {
                    Map<String, String> kv = keyValues(l);
                    assertThat(kv).containsEntry("msgId", msg).containsEntry("endpointId", endpoint).containsEntry("appId", app)
                            .containsKey("deliveryId");
                    assertThat(l.get("formattedMessage").asText()).contains("delivery " + kv.get("deliveryId"));
                });

                assertThat(text).doesNotContain(SIGNING_SECRET).doesNotContain(SIGNING_SECRET.substring("whsec_".length()))
                        .doesNotContain(RECEIVER_TOKEN).doesNotContain(TestServer.TOKEN).doesNotContainIgnoringCase("bearer");
            } finally {
                node.term(Duration.ofSeconds(30));
            }
        }
    }

    @Test
    void theFormatIsTextUnlessSetToJson() {
        assertThat(Config.from(Map.of(), Map.of()).logFormat()).isEqualTo(LogFormat.TEXT);
        assertThat(Config.from(Map.of(), Map.of("ZERODROP_LOG_FORMAT", "JSON")).logFormat()).isEqualTo(LogFormat.JSON);
        assertThatThrownBy(() -> Config.from(Map.of(), Map.of("ZERODROP_LOG_FORMAT", "xml")))
                .hasMessageStartingWith("ZERODROP_LOG_FORMAT (");
    }

    /** logback's JsonEncoder writes key-value pairs as a list of one-entry objects. */
    private static Map<String, String> keyValues(JsonNode line) {
        Map<String, String> kv = new LinkedHashMap<>();
        JsonNode list = line.get("kvpList");
        if (list != null) list.forEach(o -> o.properties().forEach(e -> kv.put(e.getKey(), e.getValue().asText())));
        return kv;
    }

    private static JsonNode call(NodeProcess node, String method, String path, Object body) throws Exception {
        HttpResponse<String> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(node.url() + path))
                .header("Authorization", "Bearer " + TestServer.TOKEN).header("Content-Type", "application/json")
                .method(method, HttpRequest.BodyPublishers.ofString(Json.write(body))).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).as(r.body()).isBetween(200, 299);
        return Json.MAPPER.readTree(r.body());
    }
}
