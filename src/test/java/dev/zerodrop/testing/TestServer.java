package dev.zerodrop.testing;

import com.fasterxml.jackson.databind.JsonNode;
import dev.zerodrop.Server;
import dev.zerodrop.config.Config;
import dev.zerodrop.config.Knob;
import dev.zerodrop.core.Json;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.EnumMap;
import java.util.Map;

/** A ZeroDrop node started in-process for a test, with an API client. */
public final class TestServer implements AutoCloseable {
    public static final String TOKEN = "test-admin-token-0123456789";
    /** The key ring of every test node (a fixed key, so that nodes of one test share their secrets). */
    public static final String SECRET_KEY = "kQ7wq3S3F1oZ9uDwF8rFQm0aJk7b3Qe2pW6xTzV4nYs";

    /** The stores' sealing of endpoint secrets under {@link #SECRET_KEY}, for tests that use a store directly. */
    public static dev.zerodrop.store.EndpointSecrets endpointSecrets() {
        return new dev.zerodrop.store.EndpointSecrets(new dev.zerodrop.secret.Sealer(dev.zerodrop.secret.Sealer.parse(SECRET_KEY)));
    }

    private final Server server;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    private TestServer(Server server) {
        this.server = server;
    }

    /** Settings suited to tests: loopback allowed, a fast retry schedule, a random port. */
    public static Map<Knob, String> defaults(String dbUrl) {
        Map<Knob, String> m = new EnumMap<>(Knob.class);
        m.put(Knob.PORT, "0");
        m.put(Knob.HOST, "127.0.0.1");
        if (dbUrl != null) m.put(Knob.DB_URL, dbUrl);
        m.put(Knob.ADMIN_TOKEN, TOKEN);
        m.put(Knob.SECRET_KEY, SECRET_KEY);
        m.put(Knob.ALLOW_PRIVATE_CIDRS, "127.0.0.0/8");
        m.put(Knob.RETRY_SCHEDULE, "100ms,200ms,300ms");
        m.put(Knob.REQUEST_TIMEOUT, "2s");
        m.put(Knob.LEASE, "5s");
        m.put(Knob.POLL_INTERVAL, "200ms");
        m.put(Knob.SHUTDOWN_GRACE, "2s");
        return m;
    }

    public static TestServer start(Map<Knob, String> knobs) throws IOException {
        return start(knobs, Server.Options.defaults());
    }

    public static TestServer start(Map<Knob, String> knobs, Server.Options options) throws IOException {
        return new TestServer(Server.start(Config.from(knobs, Map.of()), options));
    }

    public static Server.Options quiet(Server.Options o) {
        return new Server.Options(o.clock(), o.listener(), o.sendHook(), new PrintStream(PrintStream.nullOutputStream()));
    }

    public Server server() {
        return server;
    }

    public String base() {
        return "http://127.0.0.1:" + server.port();
    }

    /** A response: status and parsed JSON body (null when empty). */
    public record Response(int status, JsonNode json, String text) {}

    public Response call(String method, String path, Object body) {
        return call(method, path, body, Map.of());
    }

    public Response call(String method, String path, Object body, Map<String, String> headers) {
        return send(TOKEN, method, path, body, headers).response();
    }

    /** A call with another bearer token, or with none when {@code token} is null. */
    public Response callAs(String token, String method, String path, Object body) {
        return send(token, method, path, body, Map.of()).response();
    }

    /** A response with its headers. */
    public record Full(Response response, java.net.http.HttpHeaders headers) {}

    /** As {@link #callAs}, keeping the response's headers. */
    public Full send(String token, String method, String path, Object body, Map<String, String> headers) {
        String text = body == null ? null : body instanceof String s ? s : Json.write(body);
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base() + path))
                .timeout(Duration.ofSeconds(30))
                .method(method, text == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(text));
        if (token != null) b.header("Authorization", "Bearer " + token);
        if (text != null) b.header("Content-Type", "application/json");
        headers.forEach(b::setHeader);
        try {
            HttpResponse<String> r = http.send(b.build(), HttpResponse.BodyHandlers.ofString());
            JsonNode json = r.body() == null || r.body().isEmpty() ? null : parse(r.body());
            return new Full(new Response(r.statusCode(), json, r.body()), r.headers());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** The body as JSON, or null when it is something else (the metrics text, the portal page). */
    private static JsonNode parse(String body) {
        try {
            return Json.MAPPER.readTree(body);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            return null;
        }
    }

    public JsonNode post(String path, Object body) {
        Response r = call("POST", path, body);
        if (r.status() >= 300) throw new AssertionError("POST " + path + " -> " + r.status() + " " + r.text());
        return r.json();
    }

    public JsonNode get(String path) {
        Response r = call("GET", path, null);
        if (r.status() >= 300) throw new AssertionError("GET " + path + " -> " + r.status() + " " + r.text());
        return r.json();
    }

    /** Creates an application and returns its id. */
    public String createApp(String name) {
        return post("/api/v1/app", Map.of("name", name)).get("id").asText();
    }

    /** Makes an API key, server-wide when {@code appId} is null, and returns its token (shown only this once). */
    public String createKey(String appId, boolean readOnly) {
        Map<String, Object> body = new java.util.LinkedHashMap<>();
        body.put("name", appId == null ? "test admin" : "test " + appId);
        body.put("scope", appId == null ? "admin" : "application");
        if (appId != null) body.put("appId", appId);
        body.put("readOnly", readOnly);
        return post("/api/v1/keys", body).get("token").asText();
    }

    /** Creates an endpoint and returns its JSON (id, and the secret under "secret"). */
    public Endpoint createEndpoint(String appId, Map<String, Object> body) {
        JsonNode e = post("/api/v1/app/" + appId + "/endpoint", body);
        String id = e.get("id").asText();
        String secret = get("/api/v1/app/" + appId + "/endpoint/" + id + "/secret").get("key").asText();
        return new Endpoint(id, secret);
    }

    public record Endpoint(String id, String secret) {}

    /** The state of a message's (first) delivery, as the attempted-destinations route shows it. */
    public String deliveryState(String appId, String msgId) {
        JsonNode data = get("/api/v1/app/" + appId + "/msg/" + msgId + "/endpoint").get("data");
        return data.isEmpty() ? "none" : data.get(0).get("state").asText();
    }

    @Override
    public void close() {
        server.close();
    }
}
