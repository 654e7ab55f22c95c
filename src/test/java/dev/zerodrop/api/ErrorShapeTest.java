package dev.zerodrop.api;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.zerodrop.Server;
import dev.zerodrop.config.Knob;
import dev.zerodrop.core.Json;
import dev.zerodrop.testing.TestDatabase;
import dev.zerodrop.testing.TestServer;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Every error answer is the documented {@code {code, detail}} JSON, whoever raises it (a route,
 * Javalin's router or Jetty's parser) and whatever the request's {@code Accept} header.
 */
class ErrorShapeTest {
    static TestDatabase db;
    static TestServer zd;
    static String app;
    static final HttpClient http = HttpClient.newHttpClient();

    @BeforeAll
    static void start() throws Exception {
        db = TestDatabase.create("errors");
        Map<Knob, String> knobs = TestServer.defaults(db.url());
        knobs.put(Knob.DISPATCH, "false");
        zd = TestServer.start(knobs, TestServer.quiet(Server.Options.defaults()));
        app = zd.createApp("errors");
    }

    @AfterAll
    static void stop() {
        if (zd != null) zd.close();
        if (db != null) db.close();
    }

    /** A parsed raw HTTP/1.1 answer. */
    record Answer(int status, String head, String body) {
        JsonNode json() throws IOException {
            return Json.MAPPER.readTree(body);
        }

        String header(String name) {
            for (String line : head.split("\r\n")) {
                int colon = line.indexOf(':');
                if (colon > 0 && line.substring(0, colon).equalsIgnoreCase(name)) return line.substring(colon + 1).trim();
            }
            return null;
        }
    }

    static void assertErrorShape(Answer a, int status, String code) throws IOException {
        assertThat(a.status()).as(a.head() + a.body()).isEqualTo(status);
        assertThat(a.header("Content-Type")).as(a.head()).startsWith("application/json");
        JsonNode json = a.json();
        assertThat(json.get("code").asText()).as(a.body()).isEqualTo(code);
        assertThat(json.get("detail").isTextual()).as(a.body()).isTrue();
        assertThat(json.size()).as(a.body()).isEqualTo(2);
        assertThat(a.body()).doesNotContain("<html").doesNotContain("Exception").doesNotContain("javalin");
    }

    /** Sends raw bytes, so that requests no HTTP client would build can be sent. */
    static Answer raw(byte[] request) throws IOException {
        try (Socket s = new Socket("127.0.0.1", zd.server().port())) {
            s.setSoTimeout(10_000);
            s.getOutputStream().write(request);
            s.getOutputStream().flush();
            InputStream in = s.getInputStream();
            ByteArrayOutputStream head = new ByteArrayOutputStream();
            int matched = 0;
            while (matched < 4) {
                int b = in.read();
                if (b < 0) throw new IOException("the connection closed inside the head: " + head);
                head.write(b);
                matched = (b == "\r\n\r\n".charAt(matched)) ? matched + 1 : (b == '\r' ? 1 : 0);
            }
            String h = head.toString(StandardCharsets.ISO_8859_1);
            Answer partial = new Answer(Integer.parseInt(h.substring(9, 12)), h, "");
            String length = partial.header("Content-Length");
            byte[] body = length == null ? new byte[0] : in.readNBytes(Integer.parseInt(length));
            return new Answer(partial.status(), h, new String(body, StandardCharsets.UTF_8));
        }
    }

    static Answer raw(String requestLine, String... headers) throws IOException {
        StringBuilder b = new StringBuilder(requestLine).append("\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ").append(TestServer.TOKEN).append("\r\n");
        for (String h : headers) b.append(h).append("\r\n");
        return raw(b.append("Connection: close\r\n\r\n").toString().getBytes(StandardCharsets.ISO_8859_1));
    }

    static Answer send(HttpRequest.Builder b) throws Exception {
        HttpResponse<String> r = http.send(b.header("Authorization", "Bearer " + TestServer.TOKEN).timeout(Duration.ofSeconds(30)).build(),
                HttpResponse.BodyHandlers.ofString());
        StringBuilder head = new StringBuilder();
        r.headers().map().forEach((k, v) -> head.append(k).append(": ").append(String.join(",", v)).append("\r\n"));
        return new Answer(r.statusCode(), head.toString(), r.body());
    }

    @ParameterizedTest
    @ValueSource(strings = {"application/json", "text/html", "*/*", "text/plain", "application/xml"})
    void anUnknownRouteIsA404InTheApiShapeWhateverTheAccept(String accept) throws Exception {
        Answer a = send(HttpRequest.newBuilder(URI.create(zd.base() + "/api/v1/no/such/route")).header("Accept", accept));
        assertErrorShape(a, 404, "not_found");
        assertThat(a.json().get("detail").asText()).contains("/api/v1/no/such/route");
    }

    @Test
    void aKnownPathWithTheWrongMethodIsA405WithAllow() throws Exception {
        Answer a = send(HttpRequest.newBuilder(URI.create(zd.base() + "/api/v1/app")).DELETE().header("Accept", "application/json"));
        assertErrorShape(a, 405, "method_not_allowed");
        assertThat(a.header("Allow")).isEqualTo("GET, POST, HEAD"); // every GET route answers HEAD, with the same checks
        Answer b = send(HttpRequest.newBuilder(URI.create(zd.base() + "/api/v1/app/" + app + "/msg/msg_x/content"))
                .method("PATCH", HttpRequest.BodyPublishers.ofString("{}")));
        assertErrorShape(b, 405, "method_not_allowed");
        assertThat(b.header("Allow")).isEqualTo("DELETE");
    }

    @Test
    void aBodyOverTheCapIsA413InTheApiShape() throws Exception {
        byte[] big = new byte[1024 * 1024 + 1024];
        java.util.Arrays.fill(big, (byte) ' ');
        Answer a = send(HttpRequest.newBuilder(URI.create(zd.base() + "/api/v1/app"))
                .header("Content-Type", "application/json").header("Accept", "text/plain")
                .POST(HttpRequest.BodyPublishers.ofByteArray(big)));
        assertErrorShape(a, 413, "payload_too_large");
        assertThat(a.json().get("detail").asText()).contains("1048576 bytes").contains("ZERODROP_MAX_BODY");
    }

    @ParameterizedTest
    @ValueSource(strings = {"{\"name\":\"a\"} x", "{}{}", "{\"name\":\"a\"}{\"name\":\"b\"}", "{\"name\":\"a\"} 1", "[] []"})
    void dataAfterTheJsonValueIsRefusedNotHalfRead(String body) throws Exception {
        Answer a = send(HttpRequest.newBuilder(URI.create(zd.base() + "/api/v1/app"))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)));
        assertErrorShape(a, 400, "invalid_json");
        assertThat(zd.get("/api/v1/app?limit=250").get("data").valueStream().map(x -> x.get("name").asText()))
                .doesNotContain("a", "b");
    }

    @Test
    void trailingWhitespaceAfterTheJsonValueIsFine() throws Exception {
        Answer a = send(HttpRequest.newBuilder(URI.create(zd.base() + "/api/v1/app"))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString("{\"name\":\"spaced\"} \n\t ")));
        assertThat(a.status()).as(a.body()).isEqualTo(201);
    }

    @ParameterizedTest
    @ValueSource(strings = {"GET /api/v1/app/%zz HTTP/1.1", "GET /api/v1/app/%C0%AF HTTP/1.1", "GET /api/v1/app/a%00b HTTP/1.1",
            "PUT /api/v1/app/%zz HTTP/1.1", "DELETE /api/v1/app/%C0%AF HTTP/1.1", "GET /api/v1/app/a b HTTP/1.1",
            "GET /api/v1/app/a\u0001b HTTP/1.1", "GET /api/v1/app/a\u007fb HTTP/1.1", "GARBAGE"})
    void aMalformedRequestLineIsA400InTheApiShape(String requestLine) throws Exception {
        for (String accept : new String[] {"Accept: application/json", "Accept: text/html", "X-No-Accept: 1"}) {
            Answer a = raw(requestLine, accept, "Content-Length: 0");
            assertErrorShape(a, 400, "bad_request");
        }
    }

    @Test
    void badUtf8BytesInThePathAreA400InTheApiShape() throws Exception {
        byte[] head = "GET /api/v1/app/\u00c3( HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1);
        assertErrorShape(raw(head), 400, "bad_request");
    }

    @Test
    void anOverlongUriOrHeaderIsRefusedInTheApiShape() throws Exception {
        assertErrorShape(raw("GET /api/v1/app/" + "a".repeat(20_000) + " HTTP/1.1", "Accept: text/html"), 414, "uri_too_long");
        assertErrorShape(raw("GET /api/v1/app HTTP/1.1", "X-Big: " + "a".repeat(20_000)), 431, "header_fields_too_large");
    }
}
