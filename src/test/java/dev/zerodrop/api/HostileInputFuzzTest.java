package dev.zerodrop.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import dev.zerodrop.Server;
import dev.zerodrop.config.Knob;
import dev.zerodrop.core.Json;
import dev.zerodrop.testing.TestDatabase;
import dev.zerodrop.testing.TestServer;
import java.io.ByteArrayOutputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Property-based fuzzing of every route of the API, as the running server lists them (so a new
 * route is fuzzed without being named here): hostile path parameters, query parameters and bodies,
 * drawn from a seeded generator and sent with the admin token, {@link #TRIES} requests spread
 * evenly over the routes. Whatever comes in,
 * <ul>
 *   <li>the answer is never a 5xx;</li>
 *   <li>no body carries a stack trace or a Java class name, and every JSON body parses;</li>
 *   <li>an error is the {@code {code, detail}} shape;</li>
 *   <li>a refused request (4xx) changes nothing: every table's row count and checksum are the same
 *       before and after it.</li>
 * </ul>
 * A failure names the seed and the request; {@code -Dfuzz.seed=N} replays the same run.
 */
class HostileInputFuzzTest {
    static final int TRIES = 1000;
    /** Tables that background jobs write on their own schedule, whatever the requests do. */
    static final Set<String> BACKGROUND_TABLES = Set.of("flyway_schema_history", "delivery_tally", "delivery_tally_delta",
            "audit_reconciliation", "sli_minute", "job_cursor", "alert", "job_run", "partition_range");
    /** A class name (java.lang.IllegalStateException, dev.zerodrop.api.Foo) or a stack frame. */
    static final Pattern CLASS_NAME = Pattern.compile("\\b(?:java|javax|jdk|sun|org|com|io|dev|net|kotlin)(?:\\.[a-z][a-z0-9_]*)+\\.[A-Z][A-Za-z0-9_$]*");
    static final Pattern STACK_FRAME = Pattern.compile("\\bat [a-zA-Z_$][\\w$.]*\\([\\w$]*\\.(?:java|kt):\\d+\\)");

    static TestDatabase db;
    static TestServer zd;
    static List<ApiServer.Route> routes;
    static final Map<String, List<String>> realIds = new LinkedHashMap<>();
    static final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    static String fingerprint;

    static final AtomicInteger requests = new AtomicInteger();
    static long startedNanos;
    static final Map<String, AtomicInteger> byClass = new TreeMap<>();
    static final Map<String, AtomicInteger> byRoute = new TreeMap<>();

    @BeforeAll
    static void start() throws Exception {
        db = TestDatabase.create("fuzz");
        Map<Knob, String> knobs = TestServer.defaults(db.url());
        knobs.put(Knob.DISPATCH, "false");
        knobs.put(Knob.ALERT_INTERVAL, "1h");
        knobs.put(Knob.MAX_CONNECTIONS_PER_CLIENT, System.getProperty("pc", "256"));
        knobs.put(Knob.HEADER_TIMEOUT, System.getProperty("ht", "10s"));
        zd = TestServer.start(knobs, TestServer.quiet(Server.Options.defaults()));
        routes = zd.server().routes();
        fixtures();
        fingerprint = fingerprint();
        startedNanos = System.nanoTime();
    }

    @AfterAll
    static void stop() {
        System.out.println("fuzzed " + requests.get() + " requests over " + byRoute.size() + " of " + (routes == null ? 0 : routes.size())
                + " routes in " + Duration.ofNanos(System.nanoTime() - startedNanos).toMillis() + " ms (seed " + SEED + "); answers by class: "
                + byClass);
        try {
            if (sql != null) sql.close();
        } catch (SQLException e) {
            // the database is dropped next
        }
        if (zd != null) zd.close();
        if (db != null) db.close();
    }

    /** Real ids for the path parameters, so that requests get past the lookups into validation. */
    static void fixtures() {
        String app = zd.post("/api/v1/app", Map.of("name", "fuzz", "uid", "fz-app")).get("id").asText();
        String ep = zd.post("/api/v1/app/" + app + "/endpoint", Map.of("url", "http://127.0.0.1:9/hook", "uid", "fz-ep")).get("id").asText();
        zd.post("/api/v1/event-type", Map.of("name", "fz.type", "description", "fuzz"));
        String msg = zd.post("/api/v1/app/" + app + "/msg", Map.of("eventType", "fz.type", "payload", Map.of("a", 1))).get("id").asText();
        JsonNode rule = zd.post("/api/v1/alert-rules", Map.of("kind", "dlq.depth", "appId", app));
        JsonNode slo = zd.post("/api/v1/slo/objectives", Map.of("indicator", "delivery_success", "appId", app, "target", 0.99));
        realIds.put("app_id", List.of(app, "fz-app"));
        realIds.put("endpoint_id", List.of(ep, "fz-ep"));
        realIds.put("msg_id", List.of(msg));
        realIds.put("event_type_name", List.of("fz.type"));
        realIds.put("rule_id", List.of(rule.get("id").asText()));
        realIds.put("slo_id", List.of(slo.get("id").asText()));
        JsonNode attempts = zd.get("/api/v1/app/" + app + "/msg/" + msg + "/endpoint");
        if (!attempts.get("data").isEmpty()) realIds.put("delivery_id", List.of(attempts.get("data").get(0).path("deliveryId").asText("x")));
    }

    // ---- the property ---------------------------------------------------------------------------

    static final long SEED = Long.getLong("fuzz.seed", new SplittableRandom().nextLong());

    record Fuzz(ApiServer.Route route, String method, Map<String, String> path, List<Map.Entry<String, String>> query, byte[] body) {
        String target() {
            String p = route.path();
            for (var e : path.entrySet()) p = p.replace("{" + e.getKey() + "}", encode(e.getValue()));
            StringBuilder b = new StringBuilder(p);
            char sep = '?';
            for (var q : query) {
                b.append(sep).append(encode(q.getKey())).append('=').append(encode(q.getValue()));
                sep = '&';
            }
            return b.toString();
        }

        @Override
        public String toString() {
            String text = new String(body, StandardCharsets.UTF_8).replace("\n", "\\n");
            return method + " " + target() + " body=" + (text.length() > 2000 ? text.substring(0, 2000) + "...(" + body.length + " bytes)" : text);
        }
    }

    @Test
    void noHostileRequestBreaksTheApi() throws Exception {
        SplittableRandom random = new SplittableRandom(SEED);
        for (int i = 0; i < TRIES; i++) {
            ApiServer.Route route = routes.get(i % routes.size());
            Fuzz f = new Fuzz(route, method(random, route), pathParams(random, route), queries(random), body(random));
            check(f, "seed " + SEED + ", try " + i + ": ");
        }
        assertThat(byRoute).as("every route is fuzzed").hasSize(routes.size());
    }

    void check(Fuzz f, String where) throws Exception {
        requests.incrementAndGet();
        byRoute.computeIfAbsent(f.route().method() + " " + f.route().path(), k -> new AtomicInteger()).incrementAndGet();
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(zd.base() + f.target()))
                .timeout(Duration.ofSeconds(30))
                .header("Authorization", "Bearer " + TestServer.TOKEN)
                .header("Content-Type", "application/json")
                .method(f.method(), f.body().length == 0 ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofByteArray(f.body()));
        HttpResponse<String> r;
        try {
            r = http.send(b.build(), HttpResponse.BodyHandlers.ofString());
        } catch (java.io.IOException e) {
            throw new AssertionError(where + f + " -> no answer: " + e, e);
        }
        byClass.computeIfAbsent(r.statusCode() / 100 + "xx", k -> new AtomicInteger()).incrementAndGet();
        String what = where + f + " -> " + r.statusCode() + " " + r.body();

        assertThat(r.statusCode()).as(what).isLessThan(500);
        assertNoClassNames(r.body(), what);
        String type = r.headers().firstValue("Content-Type").orElse("");
        if (type.startsWith("application/json") && !r.body().isEmpty()) {
            JsonNode json = Json.MAPPER.readTree(r.body());
            if (r.statusCode() >= 400) {
                assertThat(json.path("code").isTextual()).as(what).isTrue();
                assertThat(json.has("detail")).as(what).isTrue();
            }
        }
        if (r.statusCode() >= 400) {
            assertThat(fingerprint()).as("a refused request changed the database: " + what).isEqualTo(fingerprint);
            return;
        }
        // A background task an accepted request started (a recovery, a replay) ends, and so does the
        // operational webhook that reports its end: the database is left settled for the next request.
        if (r.body().contains("\"qtask_")) {
            await().pollDelay(Duration.ZERO).pollInterval(Duration.ofMillis(20)).atMost(Duration.ofSeconds(20))
                    .until(HostileInputFuzzTest::tasksIdle);
            AtomicInteger same = new AtomicInteger();
            await().pollInterval(Duration.ofMillis(50)).atMost(Duration.ofSeconds(20)).until(() -> {
                String now = fingerprint();
                if (now.equals(fingerprint)) return same.incrementAndGet() >= 4;
                fingerprint = now;
                same.set(0);
                return false;
            });
        }
        fingerprint = fingerprint();
    }

    static void assertNoClassNames(String body, String what) {
        Matcher m = CLASS_NAME.matcher(body);
        assertThat(m.find()).as("a class name in " + what).isFalse();
        assertThat(STACK_FRAME.matcher(body).find()).as("a stack frame in " + what).isFalse();
    }

    // ---- generators -----------------------------------------------------------------------------

    static <T> T pick(SplittableRandom r, List<T> from) {
        return from.get(r.nextInt(from.size()));
    }

    static boolean chance(SplittableRandom r, int inN) {
        return r.nextInt(inN) == 0;
    }

    /** Mostly the route's own method; now and then another, which must be a clean 405. */
    static String method(SplittableRandom r, ApiServer.Route route) {
        return chance(r, 20) ? pick(r, List.of("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE")) : route.method();
    }

    static Map<String, String> pathParams(SplittableRandom r, ApiServer.Route route) {
        Map<String, String> out = new LinkedHashMap<>();
        Matcher m = Pattern.compile("\\{([^}]+)}").matcher(route.path());
        while (m.find()) {
            String name = m.group(1);
            List<String> real = realIds.getOrDefault(name, List.of());
            // A DELETE with a real id would take the fixture away from every later request.
            boolean useReal = !real.isEmpty() && !route.method().equals("DELETE") && r.nextInt(5) < 4;
            out.put(name, useReal ? pick(r, real) : hostileText(r));
        }
        return out;
    }

    static final List<String> QUERY_NAMES = List.of("limit", "iterator", "order", "with_content", "status", "before", "after", "since",
            "until", "event_types", "channel", "tag", "endpoint_id", "app_id", "state", "kind", "get_if_exists", "include_archived",
            "expunge", "error_class", "event_type", "status_code_class", "task");
    static final List<String> PLAUSIBLE = List.of("1", "0", "250", "251", "-1", "true", "ascending", "descending",
            "2026-01-01T00:00:00Z", "fz.type", "fz-ep", "fz-app", "pending", "dead");

    /**
     * Each known parameter, independently, is left out (most often), given a plausible value or a
     * hostile one; now and then a parameter with a hostile name is added.
     */
    static List<Map.Entry<String, String>> queries(SplittableRandom r) {
        List<Map.Entry<String, String>> out = new ArrayList<>();
        for (String name : QUERY_NAMES) {
            if (chance(r, 11)) out.add(Map.entry(name, r.nextBoolean() ? pick(r, PLAUSIBLE) : hostileText(r)));
        }
        if (chance(r, 10)) out.add(Map.entry(hostileText(r), hostileText(r)));
        return out;
    }

    // ---- values ---------------------------------------------------------------------------------

    static final List<String> HOSTILE = List.of("", " ", "\u0000", "a\u0000b", "x\r\nX-Forged: 1", "\n", "\t", "\u001b[31m", "\u007f",
            "\u0085", "\u202Eevil", "\u2066x\u2069", "\u200F", "\uFEFF", "\uD800", "\uDC00x", "\uD83D\uDE00", "☃", "a".repeat(257),
            "a".repeat(5000), "%00", "%", "%zz", "..", "../..", "/", "a/b", "?", "#", "&", "=", "+", "null", "true", "-1", "0",
            "99999999999999999999", "1e309", "NaN", "2026-13-45T00:00:00Z", "2026-01-01T00:00:00Z", "9999-12-31T23:59:59Z",
            "+999999999-12-31T23:59:59Z", "-999999999-01-01T00:00:00Z", "0000-01-01T00:00:00Z",
            "whsec_", "whsec_AAAA", "http://127.0.0.1:0/", "http://127.0.0.1:99999/", "http://0177.0.0.1/", "http://[::1]:1/",
            "http://user:pw@127.0.0.1/", "javascript:alert(1)", "ftp://127.0.0.1/", "http://127.0.0.1/" + "p".repeat(9000),
            "{}", "[]", "'", "\"", "\\", "<script>", "fz-app", "fz-ep", "fz.type", "app_", "msg_", "ascending");
    static final char[] UNSAFE = {'\u0000', '\r', '\n', '\u0001', '\u007f', '\u0085', '\u202E', '\u2067', '\uD800', '\uDFFF'};

    static final List<String> SPIKED = List.of("fz-app", "fz-ep", "fz.type", "fuzz", "ascending", "10", "2026-01-01T00:00:00Z",
            "http://127.0.0.1:9/hook");

    /** A fixed hostile value, a random one, or a plausible one with an unsafe character put in. */
    static String hostileText(SplittableRandom r) {
        int kind = r.nextInt(6);
        if (kind < 3) return pick(r, HOSTILE);
        if (kind < 5) {
            String v = pick(r, SPIKED);
            int at = r.nextInt(v.length() + 1);
            return v.substring(0, at) + UNSAFE[r.nextInt(UNSAFE.length)] + v.substring(at);
        }
        StringBuilder b = new StringBuilder();
        int n = r.nextInt(41);
        for (int i = 0; i < n; i++) {
            b.append(chance(r, 8) ? UNSAFE[r.nextInt(UNSAFE.length)] : chance(r, 20) ? '\u2603' : (char) (' ' + r.nextInt(95)));
        }
        return b.toString();
    }

    static final List<String> FIELDS = List.of("name", "uid", "url", "description", "eventType", "eventId", "payload", "channels",
            "filterTypes", "eventTypes", "headers", "metadata", "secret", "key", "gracePeriodSeconds", "disabled", "rateLimit",
            "throttleRate", "version", "tags", "deliverAt", "application", "payloadRetentionPeriod", "payloadRetentionHours",
            "kind", "appId", "endpointId", "threshold", "windowSeconds", "minAttempts", "cooldownSeconds", "enabled", "indicator",
            "target", "windowDays", "latencySeconds", "reason", "since", "until", "errorClass", "ids", "deliveryIds",
            "amountPointer", "currencyPointer", "defaultCurrency", "exampleIndex", "deleteHeaders", "archived", "deprecated",
            "featureFlag", "featureFlags", "groupName", "schemas", "expunge", "channel", "state", "all");

    /** A body that passes the required fields of most routes, before it is mutated. */
    static Map<String, Object> base() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("name", "fz");
        m.put("url", "http://127.0.0.1:9/hook");
        m.put("eventType", "fz.type");
        m.put("payload", Map.of("a", 1));
        m.put("kind", "dlq.depth");
        m.put("indicator", "delivery_success");
        m.put("target", 0.99);
        m.put("appId", "fz-app");
        m.put("reason", "fuzz");
        m.put("since", "2026-01-01T00:00:00Z");
        m.put("headers", Map.of("X-Fuzz", "1"));
        return m;
    }

    static Object jsonValue(SplittableRandom r, int depth) {
        int kind = r.nextInt(depth > 0 ? 16 : 12);
        return switch (kind) {
            case 0, 1, 2 -> null;
            case 3 -> r.nextBoolean();
            case 4 -> r.nextLong();
            case 5 -> pick(r, List.of(0, -1, 1, 65535, 65536, Integer.MAX_VALUE, Integer.MIN_VALUE));
            case 6 -> pick(r, List.of(0.5, -0.0, 1e308, 4.9e-324));
            case 7 -> new java.math.BigInteger("123456789012345678901234567890");
            case 8, 9, 10, 11 -> hostileText(r);
            case 12, 13 -> {
                List<Object> list = new ArrayList<>();
                for (int i = r.nextInt(4); i > 0; i--) list.add(jsonValue(r, depth - 1));
                yield list;
            }
            default -> {
                Map<String, Object> o = new LinkedHashMap<>();
                for (int i = r.nextInt(4); i > 0; i--) o.put(r.nextBoolean() ? pick(r, FIELDS) : hostileText(r), jsonValue(r, depth - 1));
                yield o;
            }
        };
    }

    /** Writes every non-ASCII character as a \\u escape, so that lone surrogates reach the server too. */
    static final com.fasterxml.jackson.databind.ObjectMapper ESCAPING = com.fasterxml.jackson.databind.json.JsonMapper.builder()
            .enable(com.fasterxml.jackson.core.json.JsonWriteFeature.ESCAPE_NON_ASCII).build();

    static final List<String> ODD_BODIES = List.of("null", "[]", "1", "\"x\"", "{", "{\"name\":", "{}{}", "{\"name\":\"a\"} x", "\u0000",
            "{\"a\":\"\\u0000\"}", "{\"name\":\"\\ud800\"}", "{\"metadata\":{\"k\":\"\\udfff\"}}",
            "{\"payload\":{\"a\":\"\\u0000\"},\"eventType\":\"fz.type\"}", "{\"name\":\"\u2603\u202e\"}");

    /**
     * Mostly the base body with each known field, independently, kept (most often), removed, or
     * set to a random value (null-heavy): one bad field at a time gets past the others' checks.
     */
    static byte[] body(SplittableRandom r) {
        if (chance(r, 10)) {
            return switch (r.nextInt(4)) {
                case 0 -> new byte[0];
                case 1 -> pick(r, ODD_BODIES).getBytes(StandardCharsets.UTF_8);
                case 2 -> {
                    byte[] b = new byte[r.nextInt(65)];
                    for (int i = 0; i < b.length; i++) b[i] = (byte) r.nextInt(256);
                    yield b;
                }
                default -> BIG;
            };
        }
        Map<String, Object> m = base();
        for (String f : FIELDS) {
            int roll = r.nextInt(19);
            if (roll == 0) m.remove(f);
            else if (roll <= 2) m.put(f, jsonValue(r, 2));
        }
        try {
            return ESCAPING.writeValueAsBytes(m);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    static final byte[] BIG = big();

    /** A JSON body one byte over the default 1 MiB cap. */
    static byte[] big() {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        b.writeBytes("{\"name\":\"".getBytes(StandardCharsets.UTF_8));
        b.writeBytes("x".repeat(1024 * 1024).getBytes(StandardCharsets.UTF_8));
        b.writeBytes("\"}".getBytes(StandardCharsets.UTF_8));
        return b.toByteArray();
    }

    // ---- helpers --------------------------------------------------------------------------------

    /** Percent-encodes everything but unreserved characters, so that any string reaches the server as it is. */
    static String encode(String s) {
        StringBuilder b = new StringBuilder();
        for (byte x : s.getBytes(StandardCharsets.UTF_8)) {
            int c = x & 0xff;
            if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~') {
                b.append((char) c);
            } else {
                b.append('%').append(String.format("%02X", c));
            }
        }
        return b.toString();
    }

    /** Every table's row count and content checksum, but those of background jobs. */
    static String fingerprint() throws SQLException {
        try (Statement s = sql().createStatement()) {
            List<String> tables = new ArrayList<>();
            // Partitions are counted through their parents: the partition job makes new ones on its own.
            try (ResultSet rs = s.executeQuery("SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                    + "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition ORDER BY c.relname")) {
                while (rs.next()) if (!BACKGROUND_TABLES.contains(rs.getString(1))) tables.add(rs.getString(1));
            }
            StringBuilder sql = new StringBuilder();
            for (String t : tables) {
                if (!sql.isEmpty()) sql.append(" UNION ALL ");
                sql.append("SELECT '").append(t).append("', count(*), coalesce(sum(hashtextextended(t::text, 0)), 0)::text FROM \"")
                        .append(t).append("\" t");
            }
            StringBuilder out = new StringBuilder();
            try (ResultSet rs = s.executeQuery(sql.toString())) {
                while (rs.next()) out.append(rs.getString(1)).append('=').append(rs.getLong(2)).append(':').append(rs.getString(3)).append('\n');
            }
            return out.toString();
        }
    }

    static Connection sql;

    static Connection sql() throws SQLException {
        if (sql == null || sql.isClosed()) sql = DriverManager.getConnection(db.url());
        return sql;
    }

    static boolean tasksIdle() throws SQLException {
        try (Statement s = sql().createStatement();
             ResultSet rs = s.executeQuery("SELECT count(*) FROM background_task WHERE status = 'running'")) {
            rs.next();
            return rs.getLong(1) == 0;
        }
    }
}
