package dev.zerodrop.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import dev.zerodrop.Server;
import dev.zerodrop.chaos.Receiver;
import dev.zerodrop.core.Json;
import dev.zerodrop.testing.LogCapture;
import dev.zerodrop.testing.TestDatabase;
import dev.zerodrop.testing.TestServer;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Every route of the route table × every kind of token, with real ids in every path: a route added
 * later is in the matrix by being registered, and fails it unless the fixture can fill its path.
 *
 * <ul>
 *   <li>No token, an expired one and a revoked one: 401 everywhere but the open routes.</li>
 *   <li>Another application's token on an application route: exactly what the same token gets for
 *       ids that do not exist (404, or the 422 of a body field naming an unknown application), no id
 *       of the application it asked about that it did not name itself, and, on the same path, the
 *       admin key gets something else than that 404: the refusal is isolation, not a missing id.</li>
 *   <li>Server-wide routes: 403 for every application token.</li>
 *   <li>The application's own token: never 401, 403 or 404 on its routes; read-only: reads as the
 *       read-write token, writes 403.</li>
 * </ul>
 *
 * Routes that destroy what they touch (DELETE, the /auth routes) get a fresh fixture, and fresh
 * tokens, for each token kind that may pass.
 *
 * <p>Since the run touches every route, it also checks that no token, endpoint secret or credential
 * header value appears in any error body, log line (ZeroDrop's debug lines included) or metric.
 */
class IsolationMatrixTest {
    enum Kind { NONE, EXPIRED, REVOKED, OTHER_APP, READ_ONLY, OWN_APP, ADMIN }

    /** Where a path parameter's value comes from. */
    private static final Set<String> PARAMS = Set.of("app_id", "endpoint_id", "msg_id", "attempt_id", "delivery_id", "task_id", "slo_id",
            "rule_id", "event_type_name", "key_id");
    private static final Pattern PARAM = Pattern.compile("\\{([a-z_]+)}");
    private static final Map<String, String> MISSING = Map.of("app_id", "app_2ZmissingMissingMissing00", "endpoint_id", "ep_2ZmissingMissing0",
            "msg_id", "msg_2ZmissingMissing0", "attempt_id", "atmpt_2ZmissingMissing0", "delivery_id", "dlv_999999999999",
            "task_id", "qtask_2ZmissingMissing0", "slo_id", "slo_2ZmissingMissing0", "rule_id", "rule_2ZmissingMissing0",
            "event_type_name", "missing.type", "key_id", "tok_2ZmissingMissing0");

    static TestDatabase db;
    static TestServer zd;
    static Receiver receiver;
    static World a;
    static String b;
    static String otherToken;
    static String expired;
    static String revoked;
    static final AtomicInteger serial = new AtomicInteger();
    static LogCapture logs;
    /** Every token, endpoint secret and credential header value the run made. */
    static final Set<String> secrets = java.util.concurrent.ConcurrentHashMap.newKeySet();

    /** One application with one of everything, and the ids of a few server-wide things made with it. */
    record World(Map<String, String> ids, String opEndpoint, Map<Kind, String> tokens) {
        String app() {
            return ids.get("app_id");
        }
    }

    @BeforeAll
    static void start() throws Exception {
        logs = LogCapture.start();
        db = TestDatabase.create("isolation");
        receiver = new Receiver((r, previous) -> Receiver.status(500));
        zd = TestServer.start(TestServer.defaults(db.url()), TestServer.quiet(Server.Options.defaults()));
        b = zd.createApp("matrix B");
        zd.createEndpoint(b, Map.of("url", receiver.url("/b")));
        otherToken = zd.createKey(b, false);
        a = worlds(1).getFirst();
        expired = zd.post("/api/v1/keys", Map.of("name", "expired", "scope", "application", "appId", a.app(),
                "expiresAt", Instant.now().plusSeconds(2).toString())).get("token").asText();
        JsonNode gone = zd.post("/api/v1/keys", Map.of("name", "revoked", "scope", "application", "appId", a.app()));
        revoked = gone.get("token").asText();
        secrets.addAll(List.of(TestServer.TOKEN, otherToken, expired, revoked));
        assertThat(zd.callAs(revoked, "GET", "/api/v1/app/" + a.app(), null).status()).isEqualTo(200);
        assertThat(zd.call("DELETE", "/api/v1/keys/" + gone.get("id").asText(), null).status()).isEqualTo(204);
        await().atMost(Duration.ofSeconds(30)).until(() -> zd.callAs(expired, "GET", "/api/v1/app/" + a.app(), null).status() == 401);
    }

    @AfterAll
    static void stop() throws Exception {
        if (zd != null) zd.close();
        if (receiver != null) receiver.close();
        if (db != null) db.close();
        if (logs != null) logs.close();
    }

    /** Makes {@code n} worlds at once: their messages die together, so the wait is paid once. */
    static List<World> worlds(int n) {
        List<Map<String, String>> ids = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            int k = serial.incrementAndGet();
            Map<String, String> m = new LinkedHashMap<>();
            m.put("app_id", zd.createApp("matrix " + k));
            String credential = "Bearer matrix-credential-" + java.util.UUID.randomUUID();
            m.put("endpoint_id", zd.createEndpoint(m.get("app_id"), Map.of("url", receiver.url("/a" + k),
                    "headers", Map.of("Authorization", credential, "X-Api-Key", "matrix-key-" + k + "-" + java.util.UUID.randomUUID()))).id());
            secrets.add(credential);
            secrets.add(zd.get("/api/v1/app/" + m.get("app_id") + "/endpoint/" + m.get("endpoint_id") + "/secret").get("key").asText());
            m.put("msg_id", zd.post("/api/v1/app/" + m.get("app_id") + "/msg", Map.of("eventType", "matrix.event", "payload", Map.of("k", k)))
                    .get("id").asText());
            ids.add(m);
        }
        List<World> out = new ArrayList<>();
        for (Map<String, String> m : ids) {
            String app = m.get("app_id");
            await().atMost(Duration.ofSeconds(60)).until(() -> zd.get("/api/v1/dlq?app_id=" + app).get("data").size() == 1);
            int k = serial.incrementAndGet();
            m.put("delivery_id", zd.get("/api/v1/dlq?app_id=" + app).get("data").get(0).get("id").asText());
            m.put("attempt_id", zd.get("/api/v1/app/" + app + "/attempt/endpoint/" + m.get("endpoint_id")).get("data").get(0).get("id").asText());
            m.put("task_id", zd.post("/api/v1/app/" + app + "/endpoint/" + m.get("endpoint_id") + "/recover",
                    Map.of("since", "2000-01-01T00:00:00Z")).get("id").asText());
            m.put("slo_id", zd.post("/api/v1/slo/objectives", Map.of("appId", app, "indicator", "dispatch_latency", "target", 0.99))
                    .get("id").asText());
            m.put("rule_id", zd.post("/api/v1/alert-rules", Map.of("kind", "dlq.depth", "appId", app)).get("id").asText());
            m.put("event_type_name", zd.post("/api/v1/event-type", Map.of("name", "matrix.type" + k, "description", "matrix"))
                    .get("name").asText());
            m.put("key_id", zd.post("/api/v1/keys", Map.of("name", "matrix " + k, "scope", "admin")).get("id").asText());
            // An event type that never happens: the operational events of the failing deliveries do not go to these endpoints.
            String op = zd.post("/api/v1/operational-webhook/endpoint", Map.of("url", receiver.url("/ops" + k),
                    "filterTypes", List.of("matrix.never"))).get("id").asText();
            Map<Kind, String> tokens = new EnumMap<>(Kind.class);
            tokens.put(Kind.ADMIN, zd.createKey(null, false));
            tokens.put(Kind.OWN_APP, zd.createKey(app, false));
            tokens.put(Kind.READ_ONLY, zd.createKey(app, true));
            tokens.put(Kind.OTHER_APP, zd.createKey(b, false));
            secrets.addAll(tokens.values());
            out.add(new World(Map.copyOf(m), op, tokens));
        }
        return out;
    }

    record Call(String method, String path, String body) {}

    /** The request for a route, its parameters filled from {@code ids} (a world's, or {@link #MISSING}). */
    static Call call(ApiServer.Route r, Map<String, String> ids, String opEndpoint) {
        Matcher m = PARAM.matcher(r.path());
        StringBuilder path = new StringBuilder();
        while (m.find()) {
            String name = m.group(1);
            assertThat(PARAMS).as("%s %s has the path parameter {%s}, which the fixture does not fill", r.method(), r.path(), name)
                    .contains(name);
            String value = name.equals("endpoint_id") && r.path().startsWith("/api/v1/operational-webhook") ? opEndpoint : ids.get(name);
            m.appendReplacement(path, Matcher.quoteReplacement(value));
        }
        m.appendTail(path);
        boolean read = r.method().equals("GET") || r.method().equals("HEAD");
        // Application-scoped routes that take the application from a query parameter or a body field name it.
        if (r.access() == Access.TENANT && read && !r.path().contains("{")) path.append("?app_id=").append(ids.get("app_id"));
        Object body = read || r.method().equals("DELETE") ? null : body(r, ids);
        return new Call(r.method(), path.toString(), body == null ? null : Json.write(body));
    }

    /** A plausible body for the route: one it would accept from a caller allowed to use it. */
    static Object body(ApiServer.Route r, Map<String, String> ids) {
        String p = r.path();
        String m = r.method();
        String url = receiver.url("/made");
        if (p.endsWith("/headers")) return Map.of("headers", Map.of("X-Matrix", "1"));
        if (p.equals("/api/v1/app") || p.equals("/api/v1/app/{app_id}")) return Map.of("name", "matrix");
        if (p.endsWith("/endpoint") || (p.endsWith("/endpoint/{endpoint_id}") && m.equals("PUT"))) {
            return Map.of("url", url, "filterTypes", List.of("matrix.never"));
        }
        if (p.endsWith("/endpoint/{endpoint_id}")) return Map.of("description", "matrix");
        if (p.endsWith("/recover") || p.endsWith("/replay-missing") || p.endsWith("/bulk-replay")) return Map.of("since", "2000-01-01T00:00:00Z");
        if (p.endsWith("/msg")) return Map.of("eventType", "matrix.event", "payload", Map.of("matrix", true));
        if (p.endsWith("/bulk-expunge")) return Map.of("ids", List.of(ids.get("msg_id")));
        if (p.endsWith("/money")) return Map.of("amountPointer", "/amount");
        if (p.equals("/api/v1/event-type")) return Map.of("name", "matrix.made" + serial.incrementAndGet(), "description", "matrix");
        if (p.startsWith("/api/v1/event-type/")) return Map.of("description", "matrix");
        if (p.equals("/api/v1/dlq/replay")) return Map.of("appId", ids.get("app_id"));
        if (p.equals("/api/v1/dlq/discard")) return Map.of("appId", ids.get("app_id"), "reason", "matrix");
        if (p.endsWith("/discard")) return Map.of("reason", "matrix");
        if (p.equals("/api/v1/alert-rules")) return Map.of("kind", "dlq.depth", "appId", ids.get("app_id"));
        if (p.startsWith("/api/v1/alert-rules/")) return Map.of("enabled", true);
        if (p.equals("/api/v1/slo/objectives")) return Map.of("appId", ids.get("app_id"), "indicator", "delivery_success", "target", 0.99);
        if (p.startsWith("/api/v1/slo/objectives/")) return Map.of("target", 0.98);
        if (p.equals("/api/v1/keys")) return Map.of("name", "matrix made", "scope", "admin");
        return Map.of();
    }

    static boolean destructive(ApiServer.Route r) {
        return r.method().equals("DELETE") || r.path().startsWith("/api/v1/auth/");
    }

    static TestServer.Response send(String token, Call c) {
        return zd.send(token, c.method(), c.path(), c.body(), Map.of()).response();
    }

    @Test
    void everyRouteTimesEveryKindOfToken() {
        List<ApiServer.Route> routes = zd.server().routes();
        assertThat(routes).doesNotHaveDuplicates();
        List<ApiServer.Route> fresh = routes.stream().filter(IsolationMatrixTest::destructive).toList();
        List<World> spare = new ArrayList<>(worlds(fresh.size() * 4));
        Map<String, Integer> outcomes = new TreeMap<>();
        List<String> failures = new ArrayList<>();
        List<String> errorBodies = new ArrayList<>();
        int requests = 0;
        for (ApiServer.Route r : routes) {
            for (Kind kind : Kind.values()) {
                World w = destructive(r) && kind.compareTo(Kind.OTHER_APP) >= 0 ? spare.removeLast() : a;
                String token = switch (kind) {
                    case NONE -> null;
                    case EXPIRED -> expired;
                    case REVOKED -> revoked;
                    case OTHER_APP -> w == a ? otherToken : w.tokens().get(Kind.OTHER_APP);
                    default -> w.tokens().get(kind);
                };
                Call c = call(r, w.ids(), w.opEndpoint());
                TestServer.Response got = send(token, c);
                requests++;
                outcomes.merge(kind + " " + got.status(), 1, Integer::sum);
                if (got.status() >= 400) errorBodies.add(got.text());
                // What the route made and answered once: a new key's token, a rotated or new endpoint's secret.
                if (got.status() < 300 && got.json() != null) collectSecrets(got.json());
                String problem = check(r, kind, c, got, token, w);
                if (problem != null) failures.add(kind + " " + r.method() + " " + r.path() + " -> " + got.status() + " " + got.text() + ": " + problem);
            }
        }
        int kinds = Kind.values().length;
        System.out.printf("isolation matrix: %d routes x %d token kinds = %d requests (%d routes on fresh fixtures); outcomes %s%n",
                routes.size(), kinds, requests, fresh.size(), outcomes);
        assertThat(failures).as("cells that broke the rule").isEmpty();
        assertThat(requests).isEqualTo(routes.size() * kinds);

        String metrics = zd.call("GET", "/metrics", null).text();
        String logged = logs.text();
        assertThat(logged).as("the log capture works").contains("ZeroDrop listening");
        assertThat(metrics).as("the metrics scrape works").contains("zerodrop_");
        List<String> leaks = new ArrayList<>();
        for (String secret : secrets) {
            if (logged.contains(secret)) leaks.add("the log holds " + secret);
            if (metrics.contains(secret)) leaks.add("/metrics holds " + secret);
            for (String body : errorBodies) if (body.contains(secret)) leaks.add("an error body holds " + secret + ": " + body);
        }
        System.out.printf("secret scan: %d secrets against %d log lines, %d error bodies and %d bytes of metrics: %d found%n",
                secrets.size(), logs.lines(), errorBodies.size(), metrics.length(), leaks.size());
        assertThat(secrets).as("tokens, secrets and credentials to look for").hasSizeGreaterThan(20);
        assertThat(leaks).isEmpty();
    }

    /** The tokens and secrets in an answer: {@code token} of a key or portal access, {@code key} of a secret. */
    private static void collectSecrets(JsonNode json) {
        for (String field : List.of("token", "key")) {
            JsonNode v = json.get(field);
            if (v != null && v.isTextual() && v.asText().length() >= 16) secrets.add(v.asText());
        }
        JsonNode url = json.get("url");
        if (url != null && url.asText().contains("#key=")) secrets.add(url.asText().substring(url.asText().indexOf("#key=") + 5));
    }

    /** What is wrong with {@code got}, or null. */
    private static String check(ApiServer.Route r, Kind kind, Call c, TestServer.Response got, String token, World w) {
        int s = got.status();
        boolean read = r.method().equals("GET") || r.method().equals("HEAD");
        if (s >= 500) return "a server error";
        if (r.access() == Access.OPEN) return s == 401 || s == 403 ? "an open route refused" : null;
        switch (kind) {
            case NONE, EXPIRED, REVOKED -> {
                return s == 401 ? null : "expected 401";
            }
            case ADMIN -> {
                if (s == 401 || s == 403) return "the admin key was refused";
                if ((r.access() == Access.APP || r.access() == Access.TENANT) && s == 404) return "404 for the admin key: the fixture's id is not real";
                return null;
            }
            default -> {}
        }
        switch (r.access()) {
            case METRICS, ADMIN -> {
                return s == 403 ? null : "expected 403: a server-wide route";
            }
            case ANY, SELF -> {
                return s == 401 || s == 403 ? "refused a valid token" : null;
            }
            default -> {}
        }
        if (kind == Kind.OTHER_APP) {
            Call probe = call(r, MISSING, MISSING.get("endpoint_id"));
            TestServer.Response unknown = send(token, probe);
            if (s != unknown.status()) return "not what ids that do not exist get (" + unknown.status() + " " + unknown.text() + ")";
            if (s == 401 || s == 403) return "refused as forbidden, which tells that the id exists";
            if (got.json() != null && unknown.json() != null && !String.valueOf(got.json().get("code")).equals(String.valueOf(unknown.json().get("code")))) {
                return "another code than for ids that do not exist (" + unknown.text() + ")";
            }
            // A list answers with the caller's own rows only; an error may repeat what the request named, nothing more.
            for (String id : w.ids().values()) {
                boolean named = c.path().contains(id) || (c.body() != null && c.body().contains(id));
                if (got.text().contains(id) && (s < 400 || !named)) return "the answer names " + id + " of the other application";
            }
            return null;
        }
        if (kind == Kind.READ_ONLY && !read) return s == 403 && got.text().contains("read-only") ? null : "expected 403 read-only";
        return s == 401 || s == 403 || s == 404 ? "the application's own token was refused" : null;
    }
}
