package dev.zerodrop.delivery;

import static org.assertj.core.api.Assertions.assertThat;

import dev.zerodrop.config.Cidr;
import dev.zerodrop.chaos.Receiver;
import dev.zerodrop.testing.ScriptedReceiver;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The outbound client against real receivers on 127.0.0.1. */
class WebhookClientTest {
    static WebhookClient client(List<Cidr> allowed) {
        return new WebhookClient(new AddressGuard(allowed), Duration.ofSeconds(1), Duration.ofSeconds(1), 20_480, 8);
    }

    static final List<Cidr> LOOPBACK = List.of(Cidr.parse("127.0.0.0/8"));
    static final String OK = ScriptedReceiver.response(200, "ok");

    static SendResult.Failed failed(SendResult r) {
        assertThat(r).isInstanceOf(SendResult.Failed.class);
        return (SendResult.Failed) r;
    }

    static void assertFailed(SendResult r, SendResult.ErrorClass cls, int status, String text) {
        var f = failed(r);
        assertThat(f.errorClass()).as("error class of %s", f).isEqualTo(cls);
        assertThat(f.status()).as("status of %s", f).isEqualTo(status);
        if (text != null) assertThat(f.body()).as("text of %s", f).isEqualTo(text);
    }

    static void assertDelivered(SendResult r, int status, String body) {
        assertThat(r).as("%s", r).isInstanceOf(SendResult.Delivered.class);
        assertThat(r.status()).isEqualTo(status);
        if (body != null) assertThat(r.body()).isEqualTo(body);
    }

    @Test
    void refusesLoopbackUnlessAllowListedCheckedOnTheResolvedAddress() throws Exception {
        try (Receiver r = Receiver.alwaysOk(); WebhookClient strict = client(List.of())) {
            // "localhost" is a name: the guard judges the address it resolves to, right before connecting.
            for (String url : List.of(r.url("/x"), "http://localhost:" + r.port() + "/x")) {
                SendResult result = strict.post(url, Map.of(), "{}".getBytes());
                assertThat(result).isInstanceOf(SendResult.Failed.class);
                assertThat(((SendResult.Failed) result).errorClass()).isEqualTo(SendResult.ErrorClass.BLOCKED);
            }
            assertThat(r.requests()).isEmpty();
        }
        try (Receiver r = Receiver.alwaysOk(); WebhookClient open = client(List.of(Cidr.parse("127.0.0.0/8")))) {
            assertThat(open.post("http://localhost:" + r.port() + "/x", Map.of(), "{}".getBytes())).isInstanceOf(SendResult.Delivered.class);
            assertThat(r.requests()).hasSize(1);
        }
    }

    @Test
    void capsTheResponseReadAndSendsCustomHeaders() throws Exception {
        String huge = "x".repeat(5_000_000);
        try (Receiver r = new Receiver((req, n) -> new Receiver.Behaviour.Respond(200, huge, Map.of()));
             WebhookClient c = client(List.of(Cidr.parse("127.0.0.0/8")))) {
            SendResult result = c.post(r.url("/big"), Map.of("X-Custom", "42"), "{\"a\":1}".getBytes());
            assertThat(result).isInstanceOf(SendResult.Delivered.class);
            assertThat(result.body()).hasSize(20_480);
            assertThat(r.requests().getFirst().header("x-custom")).isEqualTo("42");
            assertThat(r.requests().getFirst().bodyText()).isEqualTo("{\"a\":1}");
        }
    }

    @Test
    void classifiesFailuresAndReadsRetryAfter() throws Exception {
        try (Receiver r = new Receiver((req, n) -> switch (req.path()) {
            case "/busy" -> new Receiver.Behaviour.Respond(429, "slow down", Map.of("Retry-After", "120"));
            case "/hang" -> new Receiver.Behaviour.Hang();
            case "/reset" -> new Receiver.Behaviour.Reset();
            default -> new Receiver.Behaviour.Respond(301, "", Map.of("Location", "http://127.0.0.1:1/"));
        }); WebhookClient c = client(List.of(Cidr.parse("127.0.0.0/8")))) {
            var busy = (SendResult.Failed) c.post(r.url("/busy"), Map.of(), "{}".getBytes());
            assertThat(busy.errorClass()).isEqualTo(SendResult.ErrorClass.HTTP);
            assertThat(busy.status()).isEqualTo(429);
            assertThat(busy.retryAfter()).isEqualTo(Duration.ofSeconds(120));
            var hang = (SendResult.Failed) c.post(r.url("/hang"), Map.of(), "{}".getBytes());
            assertThat(hang.errorClass()).isEqualTo(SendResult.ErrorClass.TIMEOUT);
            assertThat(hang.durationMs()).isBetween(900, 5_000);
            assertThat(((SendResult.Failed) c.post(r.url("/reset"), Map.of(), "{}".getBytes())).errorClass()).isEqualTo(SendResult.ErrorClass.RESET);
            var moved = (SendResult.Failed) c.post(r.url("/moved"), Map.of(), "{}".getBytes());
            assertThat(moved.status()).isEqualTo(301);
            assertThat(r.requests()).hasSize(4); // the redirect was not followed
            int closedPort;
            try (var s = new java.net.ServerSocket(0)) {
                closedPort = s.getLocalPort();
            }
            var refused = (SendResult.Failed) c.post("http://127.0.0.1:" + closedPort + "/", Map.of(), "{}".getBytes());
            assertThat(refused.errorClass()).isEqualTo(SendResult.ErrorClass.CONNECT);
        }
        assertThat(WebhookClient.parseRetryAfter("Wed, 21 Oct 2037 07:28:00 GMT", Instant.parse("2037-10-21T07:27:00Z")))
                .isEqualTo(Duration.ofSeconds(60));
        assertThat(WebhookClient.parseRetryAfter("soon", Instant.now())).isNull();
    }

    @Test
    void interimResponsesAreReadAndTheFinalOneRecorded() throws Exception {
        try (ScriptedReceiver r = new ScriptedReceiver(); WebhookClient c = client(LOOPBACK)) {
            r.on("/chain", ScriptedReceiver.raw("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\n\r\n"
                    + "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\nHTTP/1.1 150 Unknown\r\n\r\n"
                    + ScriptedReceiver.response(201, "created")));
            r.on("/150", ScriptedReceiver.raw("HTTP/1.1 150 Unknown\r\nX-A: 1\r\n\r\n" + ScriptedReceiver.response(500, "later")));
            r.on("/199close", ScriptedReceiver.rawThenClose("HTTP/1.1 199 Odd\r\n\r\n"));
            r.on("/199hold", ScriptedReceiver.rawThenHold("HTTP/1.1 199 Odd\r\n\r\n"));
            r.on("/103bad", ScriptedReceiver.raw("HTTP/1.1 103 Early Hints\r\n\r\nHTTP/1.1 2x0 OK\r\n\r\n"));
            r.on("/101", ScriptedReceiver.rawThenHold("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"));
            assertDelivered(c.post(r.url("/chain"), Map.of(), "{}".getBytes()), 201, "created");
            assertFailed(c.post(r.url("/150"), Map.of(), "{}".getBytes()), SendResult.ErrorClass.HTTP, 500, "later");
            assertFailed(c.post(r.url("/199close"), Map.of(), "{}".getBytes()), SendResult.ErrorClass.RESET, 199,
                    "the receiver closed or reset the connection without answering");
            assertFailed(c.post(r.url("/199hold"), Map.of(), "{}".getBytes()), SendResult.ErrorClass.TIMEOUT, 199, "timed out after 1000ms");
            assertFailed(c.post(r.url("/103bad"), Map.of(), "{}".getBytes()), SendResult.ErrorClass.PROTOCOL, 103, "malformed response: Bad status");
            var upgrade = failed(c.post(r.url("/101"), Map.of(), "{}".getBytes()));
            assertThat(upgrade.status()).isEqualTo(101);
            assertThat(upgrade.errorClass()).isEqualTo(SendResult.ErrorClass.HTTP);
            assertThat(upgrade.durationMs()).isLessThan(900); // recorded when it came, not at the timeout
        }
    }

    @Test
    void noAnswerBecomesAnExceptionOrASecondRequest() throws Exception {
        try (ScriptedReceiver r = new ScriptedReceiver(); WebhookClient c = client(LOOPBACK)) {
            Map<String, Integer> cases = new java.util.LinkedHashMap<>();
            r.on("/401", ScriptedReceiver.status(401, "who"));
            r.on("/401-challenge", ScriptedReceiver.status(401, "who", "WWW-Authenticate: Basic realm=\"hooks\""));
            r.on("/407", ScriptedReceiver.status(407, "proxy"));
            r.on("/407-challenge", ScriptedReceiver.status(407, "proxy", "Proxy-Authenticate: Basic realm=\"hooks\""));
            for (int s : List.of(301, 302, 303, 307, 308)) r.on("/" + s, ScriptedReceiver.status(s, "moved", "Location: " + r.url("/elsewhere")));
            for (String p : List.of("/401", "/401-challenge", "/407", "/407-challenge", "/301", "/302", "/303", "/307", "/308")) {
                var f = failed(c.post(r.url(p), Map.of(), "{}".getBytes()));
                assertThat(f.errorClass()).isEqualTo(SendResult.ErrorClass.HTTP);
                assertThat(f.status()).as(p).isEqualTo(Integer.parseInt(p.substring(1, 4)));
                cases.put(p, f.status());
            }
            assertThat(r.paths()).doesNotContain("/elsewhere").hasSize(cases.size());
        }
    }

    @Test
    void responseHeadersAreCappedEvenWhenTheyNeverEnd() throws Exception {
        try (ScriptedReceiver r = new ScriptedReceiver(); WebhookClient c = client(LOOPBACK)) {
            r.on("/1mb", ScriptedReceiver.raw("HTTP/1.1 200 OK\r\nX-Big: " + "a".repeat(1 << 20) + "\r\nContent-Length: 0\r\n\r\n"));
            r.on("/endless", ScriptedReceiver.endlessHeader(8L << 30));
            r.on("/60k", ScriptedReceiver.raw("HTTP/1.1 200 OK\r\nX-Big: " + "a".repeat(60_000) + "\r\nContent-Length: 2\r\n\r\nok"));
            String cap = "response headers exceed " + WebhookClient.MAX_RESPONSE_HEADERS_BYTES + " bytes";
            assertFailed(c.post(r.url("/1mb"), Map.of(), "{}".getBytes()), SendResult.ErrorClass.TOO_LARGE, 0, cap);
            var endless = failed(c.post(r.url("/endless"), Map.of(), "{}".getBytes()));
            assertFailed(endless, SendResult.ErrorClass.TOO_LARGE, 0, cap);
            assertThat(endless.durationMs()).isLessThan(900); // stopped at the cap, not at the timeout
            assertDelivered(c.post(r.url("/60k"), Map.of(), "{}".getBytes()), 200, "ok");
        }
    }

    @Test
    void protocolViolationsAreProtocolNeverReset() throws Exception {
        try (ScriptedReceiver r = new ScriptedReceiver(); WebhookClient c = client(LOOPBACK)) {
            r.on("/status", ScriptedReceiver.raw("HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n"));
            r.on("/garbage", ScriptedReceiver.raw("HELLO THERE\r\n\r\n"));
            r.on("/header", ScriptedReceiver.raw("HTTP/1.1 500 Oops\r\nBad Header: x\r\nContent-Length: 0\r\n\r\n"));
            r.on("/length", ScriptedReceiver.raw("HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n"));
            r.on("/chunk500", ScriptedReceiver.rawThenHold("HTTP/1.1 500 Oops\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nZZ\r\n"));
            r.on("/chunk200", ScriptedReceiver.rawThenHold("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nZZ\r\n"));
            r.on("/midhead", ScriptedReceiver.rawThenClose("HTTP/1.1 200 OK\r\nX-A: 1"));
            assertFailed(c.post(r.url("/status"), Map.of(), "{}".getBytes()), SendResult.ErrorClass.PROTOCOL, 0, "malformed response: Bad status");
            assertFailed(c.post(r.url("/garbage"), Map.of(), "{}".getBytes()), SendResult.ErrorClass.PROTOCOL, 0, "malformed response: Unknown Version");
            assertFailed(c.post(r.url("/header"), Map.of(), "{}".getBytes()), SendResult.ErrorClass.PROTOCOL, 0, null);
            assertFailed(c.post(r.url("/length"), Map.of(), "{}".getBytes()), SendResult.ErrorClass.PROTOCOL, 0,
                    "malformed response: Invalid Content-Length Value");
            // After a final status the status stays; the body's failure gives the class (a 2xx is delivered).
            assertFailed(c.post(r.url("/chunk500"), Map.of(), "{}".getBytes()), SendResult.ErrorClass.PROTOCOL, 500, "hello");
            assertDelivered(c.post(r.url("/chunk200"), Map.of(), "{}".getBytes()), 200, "hello");
            assertFailed(c.post(r.url("/midhead"), Map.of(), "{}".getBytes()), SendResult.ErrorClass.RESET, 0,
                    "the receiver closed or reset the connection in the middle of the response headers");
        }
    }

    @Test
    void bodiesAreReadUpToTheCapDecodedAndWithinTheTimeout() throws Exception {
        byte[] bomb;
        {
            var bytes = new java.io.ByteArrayOutputStream();
            try (var z = new java.util.zip.GZIPOutputStream(bytes)) {
                byte[] mb = "A".repeat(1 << 20).getBytes(StandardCharsets.US_ASCII);
                for (int i = 0; i < 64; i++) z.write(mb); // 64 MiB decoded, about 64 KiB on the wire
            }
            bomb = bytes.toByteArray();
        }
        try (ScriptedReceiver r = new ScriptedReceiver(); WebhookClient c = client(LOOPBACK)) {
            r.on("/truncated", ScriptedReceiver.rawThenClose("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly some"));
            r.on("/truncated500", ScriptedReceiver.rawThenClose("HTTP/1.1 500 Oops\r\nContent-Length: 100\r\n\r\n"));
            r.on("/http10", ScriptedReceiver.rawThenClose("HTTP/1.0 200 OK\r\n\r\nclose-delimited body"));
            r.on("/endless", ScriptedReceiver.drip("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "4\r\ndrip\r\n", Duration.ofMillis(100)));
            r.on("/gzip", ScriptedReceiver.bytes("HTTP/1.1 200 OK\r\nContent-Encoding: gzip",
                    () -> ScriptedReceiver.gzip("hello, decoded".getBytes(StandardCharsets.UTF_8))));
            r.on("/bomb", ScriptedReceiver.bytes("HTTP/1.1 500 Oops\r\nContent-Encoding: gzip", () -> bomb));
            r.on("/headers-drip", ScriptedReceiver.drip("HTTP/1.1 200 OK\r\n", "X-Drip: 1\r\n", Duration.ofMillis(100)));
            assertDelivered(c.post(r.url("/truncated"), Map.of(), "{}".getBytes()), 200, "only some");
            assertFailed(c.post(r.url("/truncated500"), Map.of(), "{}".getBytes()), SendResult.ErrorClass.RESET, 500,
                    "the receiver closed or reset the connection before the body ended");
            assertDelivered(c.post(r.url("/http10"), Map.of(), "{}".getBytes()), 200, "close-delimited body");
            var endless = c.post(r.url("/endless"), Map.of(), "{}".getBytes());
            assertDelivered(endless, 200, null);
            assertThat(endless.body()).startsWith("dripdrip");
            assertThat(endless.durationMs()).isBetween(900, 3_000);
            assertDelivered(c.post(r.url("/gzip"), Map.of(), "{}".getBytes()), 200, "hello, decoded");
            var bombed = failed(c.post(r.url("/bomb"), Map.of(), "{}".getBytes()));
            assertThat(bombed.status()).isEqualTo(500);
            assertThat(bombed.body()).isEqualTo("A".repeat(20_480)); // the cap counts decoded bytes
            var dripped = failed(c.post(r.url("/headers-drip"), Map.of(), "{}".getBytes()));
            assertFailed(dripped, SendResult.ErrorClass.TIMEOUT, 0, "timed out after 1000ms");
            assertThat(dripped.durationMs()).isBetween(900, 3_000);
            assertThat(r.requests().getFirst().headers()).containsEntry("accept-encoding", "gzip");
        }
    }

    @Test
    void cookiesAndExpectAreNeverSent() throws Exception {
        try (ScriptedReceiver r = new ScriptedReceiver(); WebhookClient c = client(LOOPBACK)) {
            r.on("/a", ScriptedReceiver.status(200, "ok", "Set-Cookie: session=secret; Path=/"));
            r.on("/b", ScriptedReceiver.raw(OK));
            assertDelivered(c.post("a", r.url("/a"), Map.of(), "{}".getBytes()), 200, "ok");
            assertDelivered(c.post("a", r.url("/a"), Map.of(), "{}".getBytes()), 200, "ok");
            assertDelivered(c.post("b", r.url("/b"), Map.of("Expect", "100-continue"), "{}".getBytes()), 200, "ok");
            assertThat(r.requests()).hasSize(3).allSatisfy(q -> {
                assertThat(q.headers()).doesNotContainKeys("cookie", "expect");
                assertThat(q.headers()).containsEntry("user-agent", WebhookClient.USER_AGENT);
            });
        }
    }
}
