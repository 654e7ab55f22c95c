package dev.zerodrop.dispatch;

import static dev.zerodrop.testing.ScriptedReceiver.bytes;
import static dev.zerodrop.testing.ScriptedReceiver.drip;
import static dev.zerodrop.testing.ScriptedReceiver.raw;
import static dev.zerodrop.testing.ScriptedReceiver.rawThenClose;
import static dev.zerodrop.testing.ScriptedReceiver.rawThenHold;
import static dev.zerodrop.testing.ScriptedReceiver.response;
import static dev.zerodrop.testing.ScriptedReceiver.status;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import dev.zerodrop.Server;
import dev.zerodrop.chaos.Receiver;
import dev.zerodrop.config.Knob;
import dev.zerodrop.delivery.WebhookClient;
import dev.zerodrop.testing.ScriptedReceiver;
import dev.zerodrop.testing.TestDatabase;
import dev.zerodrop.testing.TestServer;
import java.io.ByteArrayOutputStream;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.StreamSupport;
import java.util.zip.GZIPOutputStream;
import org.assertj.core.api.SoftAssertions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every kind of answer a receiver can give, end to end: through the dispatcher and the store to the
 * attempts API. One endpoint per case, all at once. Every attempt must carry the status and the error
 * class that happened; a 2xx ends delivered, a 410 disables the endpoint, everything else ends dead
 * after exactly the budget.
 */
class AnswerMatrixTest {
    static final int CAP = 1024;
    static final Duration TIMEOUT = Duration.ofSeconds(2);
    /** The immediate attempt and one per schedule entry ("50ms,50ms"). */
    static final int BUDGET = 3;
    /** How far past the timeout an attempt's recorded duration may go (a loaded 2-core machine). */
    static final Duration MARGIN = Duration.ofMillis(1500);

    /** What one case must end in. {@code errorClass} is null for a delivered attempt. */
    record Case(String name, String url, String state, int status, String errorClass, String text, Duration gap) {
        int attempts() {
            return state.equals("dead") ? BUDGET : 1;
        }
    }

    record Row(Case c, List<JsonNode> attempts, String state, boolean disabled) {}

    @Test
    void everyAnswerIsRecordedAsGiven(@TempDir Path tmp) throws Exception {
        char[] password = "receiver-pass".toCharArray();
        try (TestDatabase db = TestDatabase.create("answers");
             ScriptedReceiver plain = new ScriptedReceiver();
             ScriptedReceiver tls = ScriptedReceiver.tls(ScriptedReceiver.selfSignedKeyStore(tmp, password), password);
             TestServer zd = TestServer.start(knobs(db), TestServer.quiet(Server.Options.defaults()))) {
            List<Case> cases = cases(plain, tls);
            Map<Case, String[]> ids = new ConcurrentHashMap<>(); // app, endpoint, message
            try (ExecutorService pool = Executors.newFixedThreadPool(8)) {
                List<Future<?>> created = new ArrayList<>();
                for (Case c : cases) {
                    created.add(pool.submit(() -> {
                        String app = zd.createApp("matrix " + c.name());
                        String ep = zd.createEndpoint(app, Map.of("url", c.url())).id();
                        String msg = zd.post("/api/v1/app/" + app + "/msg", Map.of("eventType", "matrix.case",
                                "payload", Map.of("case", c.name()))).get("id").asText();
                        ids.put(c, new String[] {app, ep, msg});
                    }));
                }
                for (Future<?> f : created) f.get();
            }

            long started = System.nanoTime();
            Set<Case> done = ConcurrentHashMap.newKeySet();
            await().atMost(Duration.ofSeconds(90)).pollInterval(Duration.ofMillis(250)).until(() -> {
                for (Case c : cases) {
                    if (done.contains(c)) continue;
                    String[] id = ids.get(c);
                    String state = zd.deliveryState(id[0], id[2]);
                    if (Set.of("delivered", "dead", "held").contains(state) && attempts(zd, id).size() >= c.attempts()) done.add(c);
                }
                return done.size() == cases.size();
            });
            double seconds = (System.nanoTime() - started) / 1e9;

            List<Row> rows = new ArrayList<>();
            for (Case c : cases) {
                String[] id = ids.get(c);
                rows.add(new Row(c, attempts(zd, id), zd.deliveryState(id[0], id[2]),
                        zd.get("/api/v1/app/" + id[0] + "/endpoint/" + id[1]).get("disabled").asBoolean()));
            }
            System.out.println(table(rows));
            System.out.printf("%d cases settled %.1f s after the last message was accepted%n", cases.size(), seconds);

            SoftAssertions soft = new SoftAssertions();
            for (Row row : rows) check(soft, row, plain);
            soft.assertThat(plain.paths()).as("redirects are never followed").noneMatch(p -> p.startsWith("/redirected"));
            soft.assertAll();
        }
    }

    static Map<Knob, String> knobs(TestDatabase db) {
        Map<Knob, String> knobs = TestServer.defaults(db.url());
        knobs.put(Knob.RETRY_SCHEDULE, "50ms,50ms");
        knobs.put(Knob.REQUEST_TIMEOUT, TIMEOUT.toMillis() + "ms");
        knobs.put(Knob.CONNECT_TIMEOUT, "1s");
        knobs.put(Knob.RESPONSE_CAP, Integer.toString(CAP));
        knobs.put(Knob.LEASE, "6s");
        return knobs;
    }

    /** Registers each case's answer on the plain receiver under a path of its own. */
    private record Matrix(ScriptedReceiver plain, List<Case> cases) {
        void delivered(String name, Receiver.Writer answer, int status, String text) {
            add(name, answer, "delivered", status, null, text, null);
        }

        void dead(String name, Receiver.Writer answer, int status, String errorClass, String text) {
            add(name, answer, "dead", status, errorClass, text, null);
        }

        void add(String name, Receiver.Writer answer, String state, int status, String errorClass, String text, Duration gap) {
            String path = "/" + name.toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9]+", "-");
            plain.on(path, answer);
            cases.add(new Case(name, plain.url(path), state, status, errorClass, text, gap));
        }
    }

    static List<Case> cases(ScriptedReceiver plain, ScriptedReceiver tls) throws Exception {
        Matrix m = new Matrix(plain, new ArrayList<>());
        String ok = response(200, "ok");
        m.delivered("100 then 200", raw("HTTP/1.1 100 Continue\r\n\r\n" + ok), 200, "ok");
        m.delivered("102 then 200", raw("HTTP/1.1 102 Processing\r\n\r\n" + ok), 200, "ok");
        m.delivered("103 then 200", raw("HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n" + ok), 200, "ok");
        m.delivered("150 then 200", raw("HTTP/1.1 150 Unknown\r\n\r\n" + ok), 200, "ok");
        for (int s : List.of(200, 201, 299)) m.delivered(Integer.toString(s), status(s, "accepted " + s), s, "accepted " + s);
        m.delivered("204", raw("HTTP/1.1 204 No Content\r\n\r\n"), 204, "");
        for (int s : List.of(301, 302, 303, 307, 308)) {
            m.dead(Integer.toString(s), status(s, "moved", "Location: " + plain.url("/redirected-" + s)), s, "http", "moved");
        }
        m.dead("304", raw("HTTP/1.1 304 Not Modified\r\n\r\n"), 304, "http", "");
        m.dead("401 without WWW-Authenticate", status(401, "who are you"), 401, "http", "who are you");
        m.dead("401 with WWW-Authenticate", status(401, "who are you", "WWW-Authenticate: Basic realm=\"hooks\""), 401, "http", "who are you");
        m.dead("407 without Proxy-Authenticate", status(407, "proxy says no"), 407, "http", "proxy says no");
        m.dead("407 with Proxy-Authenticate", status(407, "proxy says no", "Proxy-Authenticate: Basic realm=\"p\""), 407, "http", "proxy says no");
        for (int s : List.of(400, 403, 404, 408, 409, 413, 418, 422, 500, 502, 504, 599)) {
            m.dead(Integer.toString(s), status(s, "status " + s), s, "http", "status " + s);
        }
        m.add("410", status(410, "gone"), "held", 410, "http", "gone", null);
        m.add("429 Retry-After seconds", status(429, "slow down", "Retry-After: 1"), "dead", 429, "http", "slow down", Duration.ofSeconds(1));
        // An HTTP date has whole seconds: two seconds ahead is between one and two seconds away.
        m.add("429 Retry-After date", x -> {
            String at = DateTimeFormatter.RFC_1123_DATE_TIME.format(Instant.now().plusSeconds(2).atOffset(ZoneOffset.UTC));
            x.write(response(429, "slow down", "Retry-After: " + at));
            return true;
        }, "dead", 429, "http", "slow down", Duration.ofSeconds(1));
        m.add("503 Retry-After", status(503, "maintenance", "Retry-After: 1"), "dead", 503, "http", "maintenance", Duration.ofSeconds(1));
        m.dead("101 unsolicited", rawThenHold("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"),
                101, "http", "switched protocols");
        m.dead("199 then close", rawThenClose("HTTP/1.1 199 Odd\r\n\r\n"), 199, "reset", "closed or reset the connection");
        m.dead("199 then silence", rawThenHold("HTTP/1.1 199 Odd\r\n\r\n"), 199, "timeout", "timed out after 2000ms");
        m.dead("malformed status line", raw("HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n"), 0, "protocol", "malformed response: Bad status");
        m.dead("malformed header", raw("HTTP/1.1 200 OK\r\nBad Header: x\r\nContent-Length: 0\r\n\r\n"), 0, "protocol", "malformed response");
        m.dead("bad chunking on a 500", rawThenHold("HTTP/1.1 500 Oops\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nZZ\r\n"), 500, "protocol", "hello");
        m.delivered("bad chunking on a 200", rawThenHold("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nZZ\r\n"), 200, "hello");
        m.delivered("HTTP/1.0 close-delimited body", rawThenClose("HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nclose-delimited body"),
                200, "close-delimited body");
        m.delivered("2xx body cut short", rawThenClose("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly some"), 200, "only some");
        m.delivered("chunked body that never ends", drip("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "4\r\ndrip\r\n", Duration.ofMillis(200)),
                200, "dripdrip");
        m.dead("headers dripped slowly", drip("HTTP/1.1 200 OK\r\n", "X-Drip: 1\r\n", Duration.ofMillis(200)), 0, "timeout", "timed out after 2000ms");
        String tooLarge = "response headers exceed " + WebhookClient.MAX_RESPONSE_HEADERS_BYTES + " bytes";
        m.dead("1 MB header", raw("HTTP/1.1 200 OK\r\nX-Big: " + "a".repeat(1 << 20) + "\r\nContent-Length: 0\r\n\r\n"), 0, "too-large", tooLarge);
        m.dead("8 GiB header, streamed", ScriptedReceiver.endlessHeader(8L << 30), 0, "too-large", tooLarge);
        m.delivered("gzip body", bytes("HTTP/1.1 200 OK\r\nContent-Encoding: gzip",
                () -> ScriptedReceiver.gzip("hello, decoded".getBytes(StandardCharsets.UTF_8))), 200, "hello, decoded");
        byte[] bomb = gzipOfAs(64 << 20);
        m.dead("gzip bomb (64 MiB) on a 500", bytes("HTTP/1.1 500 Oops\r\nContent-Encoding: gzip", () -> bomb), 500, "http", "A".repeat(CAP));
        m.dead("connection reset", ScriptedReceiver.reset(), 0, "reset", "reset the connection");
        m.dead("no answer (hang)", ScriptedReceiver.hang(), 0, "timeout", "timed out after 2000ms");

        int closed;
        try (ServerSocket s = new ServerSocket(0)) {
            closed = s.getLocalPort();
        }
        m.cases().add(new Case("connection refused", "http://127.0.0.1:" + closed + "/refused", "dead", 0, "connect", "connection refused", null));
        m.cases().add(new Case("TLS, self-signed certificate", tls.url("/tls"), "dead", 0, "tls", "TLS handshake failed: certificate not trusted", null));
        return m.cases();
    }

    static void check(SoftAssertions soft, Row row, ScriptedReceiver plain) {
        Case c = row.c();
        String as = "case '" + c.name() + "'";
        soft.assertThat(row.state()).as(as + ": final state").isEqualTo(c.state());
        soft.assertThat(row.attempts()).as(as + ": attempts").hasSize(c.attempts());
        soft.assertThat(row.disabled()).as(as + ": endpoint disabled").isEqualTo(c.state().equals("held"));
        if (c.url().startsWith(plain.url("/"))) {
            String path = c.url().substring(plain.url("").length());
            soft.assertThat(plain.count(path)).as(as + ": requests the receiver saw (one per attempt, no second request)").isEqualTo(row.attempts().size());
        }
        Instant previous = null;
        int n = 0;
        for (JsonNode a : row.attempts()) {
            n++;
            String at = as + ", attempt " + n;
            soft.assertThat(a.get("attemptNumber").asInt()).as(at + ": number").isEqualTo(n);
            soft.assertThat(a.get("responseStatusCode").asInt()).as(at + ": status").isEqualTo(c.status());
            soft.assertThat(a.get("errorClass").isNull() ? null : a.get("errorClass").asText()).as(at + ": error class").isEqualTo(c.errorClass());
            soft.assertThat(a.get("statusText").asText()).as(at + ": attempt status").isEqualTo(c.errorClass() == null ? "success" : "fail");
            soft.assertThat(a.get("responseDurationMs").asLong()).as(at + ": duration").isLessThanOrEqualTo(TIMEOUT.plus(MARGIN).toMillis());
            String response = a.get("response").asText();
            soft.assertThat(response.length()).as(at + ": stored response within the cap").isLessThanOrEqualTo(CAP);
            soft.assertThat(response).as(at + ": no client internals").doesNotContain("@", "Exception", "127.0.0.1", "org.eclipse", "oejc");
            if (c.text() != null) soft.assertThat(response).as(at + ": response").contains(c.text());
            Instant ts = Instant.parse(a.get("timestamp").asText());
            if (previous != null && c.gap() != null) {
                soft.assertThat(Duration.between(previous, ts)).as(at + ": gap after Retry-After").isGreaterThanOrEqualTo(c.gap());
            }
            previous = ts;
        }
    }

    static List<JsonNode> attempts(TestServer zd, String[] id) {
        JsonNode data = zd.get("/api/v1/app/" + id[0] + "/attempt/endpoint/" + id[1]).get("data");
        return StreamSupport.stream(data.spliterator(), false).sorted(Comparator.comparingInt(a -> a.get("attemptNumber").asInt())).toList();
    }

    static String table(List<Row> rows) {
        StringBuilder sb = new StringBuilder("\n| case | attempts: status errorClass \"response\" | final state |\n|---|---|---|\n");
        for (Row row : rows) {
            List<String> shown = new ArrayList<>();
            for (JsonNode a : row.attempts()) {
                String cls = a.get("errorClass").isNull() ? "-" : a.get("errorClass").asText();
                String text = a.get("response").asText().replace("\r", "\\r").replace("\n", "\\n").replace("|", "/");
                if (text.length() > 48) text = text.substring(0, 45) + "...";
                shown.add(a.get("responseStatusCode").asInt() + " " + cls + " \"" + text + "\"");
            }
            String attempts = shown.stream().distinct().count() == 1 && shown.size() > 1 ? shown.size() + " x " + shown.getFirst() : String.join("; ", shown);
            sb.append("| ").append(row.c().name()).append(" | ").append(attempts).append(" | ").append(row.state())
                    .append(row.disabled() ? " (endpoint disabled)" : "").append(" |\n");
        }
        return sb.toString();
    }

    /** The gzip encoding of {@code n} bytes of 'A', written in pieces: tens of KiB on the wire. */
    static byte[] gzipOfAs(int n) throws java.io.IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        byte[] piece = "A".repeat(1 << 16).getBytes(StandardCharsets.US_ASCII);
        try (GZIPOutputStream z = new GZIPOutputStream(out)) {
            for (int i = 0; i < n / piece.length; i++) z.write(piece);
        }
        return out.toByteArray();
    }
}
