package dev.zerodrop.chaos;

import com.fasterxml.jackson.databind.JsonNode;
import dev.zerodrop.core.Json;
import dev.zerodrop.delivery.Signer;
import java.io.IOException;
import java.io.PrintStream;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The zero-loss harness. Each scenario injects a real fault on this machine (processes, signals,
 * local sockets) under steady load through the HTTP API, waits for the system to drain, and checks
 * the ledger: nothing acknowledged may be lost, nothing may arrive that was never sent, and every
 * copy of an event must carry the same {@code webhook-id}.
 */
public final class Chaos {
    public static final String TOKEN = "chaos-admin-token-0123456789";
    /** The key ring of every node of a run: nodes on one database must share it. */
    public static final String SECRET_KEY = dev.zerodrop.secret.Sealer.newKey();
    public static final List<String> SCENARIOS = List.of("kill9", "nodes", "pgstop", "hostile", "sigterm");

    /** How a run is shaped. {@code load} is how long faults and traffic last; draining comes after. */
    public record Settings(Duration load, int rate, Path workDir, String pgServerUrl, PrintStream out) {}

    /** A scenario's ledger report and the scenario's own checks. */
    public record Result(String scenario, Ledger.Report report, Map<String, Object> facts, List<String> violations) {
        public boolean ok() {
            return report.ok() && violations.isEmpty();
        }

        public String line() {
            StringBuilder sb = new StringBuilder(report.line(scenario));
            facts.forEach((k, v) -> sb.append(' ').append(k).append('=').append(v));
            if (!violations.isEmpty()) sb.append(" VIOLATIONS ").append(violations);
            return sb.toString();
        }
    }

    private final Settings s;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).version(HttpClient.Version.HTTP_1_1).build();

    public Chaos(Settings settings) {
        this.s = settings;
    }

    public Result run(String scenario) throws Exception {
        Result r = switch (scenario) {
            case "kill9" -> kill9();
            case "nodes" -> nodes();
            case "pgstop" -> pgstop();
            case "hostile" -> hostile();
            case "sigterm" -> sigterm();
            default -> throw new IllegalArgumentException("unknown scenario '" + scenario + "'; choose from " + SCENARIOS);
        };
        s.out().println(r.line());
        return r;
    }

    /** Flags every node of a run gets: fast retries with a long budget, short timeouts and leases. */
    static Map<String, String> nodeFlags() {
        Map<String, String> f = new LinkedHashMap<>();
        f.put("admin-token", TOKEN);
        f.put("secret-key", SECRET_KEY); // every node of a run opens the others' secrets
        f.put("allow-private-cidrs", "127.0.0.0/8");
        f.put("retry-schedule", "100ms,200ms,500ms,1s,1s,2s,2s,2s,2s,2s,2s,2s,2s,2s,2s,2s,2s,2s,2s,2s");
        f.put("request-timeout", "1s");
        f.put("lease", "3s");
        f.put("poll-interval", "100ms");
        f.put("shutdown-grace", "2s");
        return f;
    }

    // ---- scenarios ------------------------------------------------------------------------------

    /** kill -9 of the JVM at random moments, several times, on the embedded database. */
    Result kill9() throws Exception {
        Ledger ledger = new Ledger();
        Map<String, String> flags = nodeFlags();
        flags.put("data-dir", s.workDir().resolve("kill9-data").toString());
        NodeProcess node = new NodeProcess("kill9", freePort(), flags, s.workDir().resolve("logs")).start(Duration.ofSeconds(90));
        List<String> live = new CopyOnWriteArrayList<>(List.of(node.url()));
        int kills = 0;
        try (Receiver r = new Receiver((req, n) -> Receiver.ok())) {
            Setup app = setUp(node.url(), r, "kill9");
            r.script(verifying(ledger, app.secret(), (req, n) -> Receiver.ok()));
            try (Sender sender = new Sender(ledger, () -> live, TOKEN, app.appId(), s.rate(), () -> false)) {
                long end = System.nanoTime() + s.load().toNanos();
                while (System.nanoTime() < end || kills < 3) {
                    NodeProcess.pause(Duration.ofMillis(ThreadLocalRandom.current().nextLong(1_500, 4_000)));
                    live.clear();
                    node.kill9();
                    kills++;
                    // Every other time its orphaned PostgreSQL dies hard too: recovery must work either way.
                    if (kills % 2 == 0) killPostmaster(s.workDir().resolve("kill9-data").resolve("pg"));
                    node.start(Duration.ofSeconds(90));
                    live.add(node.url());
                }
            }
            drain(ledger);
        } finally {
            node.term(Duration.ofSeconds(30));
        }
        return new Result("kill9", ledger.check(), Map.of("kills", kills), List.of());
    }

    /** Three nodes on one external PostgreSQL: one is killed, another frozen past its leases. */
    Result nodes() throws Exception {
        Ledger ledger = new Ledger();
        String db = createDatabase();
        String url = s.pgServerUrl() + db + "?user=postgres";
        Map<String, String> flags = nodeFlags();
        flags.put("db-url", url);
        List<NodeProcess> nodes = new ArrayList<>();
        List<String> violations = new ArrayList<>();
        Map<String, Object> facts = new LinkedHashMap<>();
        try {
            for (int i = 1; i <= 3; i++) nodes.add(new NodeProcess("node" + i, freePort(), flags, s.workDir().resolve("logs")).start(Duration.ofSeconds(60)));
            List<String> live = new CopyOnWriteArrayList<>(nodes.stream().map(NodeProcess::url).toList());
            // Slow answers keep requests in flight, so the frozen node holds leases when it stops.
            try (Receiver r = new Receiver((req, n) -> Receiver.ok())) {
                Setup app = setUp(nodes.getFirst().url(), r, "nodes");
                r.script(verifying(ledger, app.secret(), (req, n) -> new Receiver.Behaviour.Slow(Duration.ofMillis(150), Receiver.ok())));
                try (Sender sender = new Sender(ledger, () -> live, TOKEN, app.appId(), s.rate(), () -> false)) {
                    long cycleEnd = System.nanoTime() + s.load().toNanos();
                    int cycles = 0;
                    do {
                        NodeProcess.pause(Duration.ofSeconds(2));
                        NodeProcess victim = nodes.get(0);
                        live.remove(victim.url());
                        victim.kill9();
                        NodeProcess.pause(Duration.ofSeconds(1));
                        victim.start(Duration.ofSeconds(60));
                        live.add(victim.url());

                        NodeProcess frozen = nodes.get(1);
                        live.remove(frozen.url());
                        frozen.freeze();
                        NodeProcess.pause(Duration.ofSeconds(7)); // longer than the 3s lease
                        frozen.thaw();
                        live.add(frozen.url());
                        cycles++;
                    } while (System.nanoTime() < cycleEnd);
                    facts.put("cycles", cycles);
                    NodeProcess.pause(Duration.ofSeconds(2));
                }
                drain(ledger);
            }
            long superseded = 0;
            for (NodeProcess n : nodes) superseded += n.countInLogs("superseded outcome");
            facts.put("superseded", superseded);
            facts.put("rescued", sum(nodes, "rescued"));
            try (var c = DriverManager.getConnection(url); var st = c.createStatement()) {
                long doubleSuccess = scalar(st, "SELECT count(*) FROM (SELECT delivery_id FROM attempt WHERE status = 0 GROUP BY 1 HAVING count(*) > 1) x");
                long doubleAttempt = scalar(st, "SELECT count(*) FROM (SELECT delivery_id, attempt_no FROM attempt GROUP BY 1, 2 HAVING count(*) > 1) x");
                facts.put("recorded-twice-delivered", doubleSuccess);
                if (doubleSuccess > 0) violations.add(doubleSuccess + " deliveries recorded as delivered twice");
                if (doubleAttempt > 0) violations.add(doubleAttempt + " attempt numbers recorded twice");
            }
        } finally {
            for (NodeProcess n : nodes) if (n.alive()) n.term(Duration.ofSeconds(30));
            if (!Boolean.getBoolean("zerodrop.chaos.keep")) admin("DROP DATABASE IF EXISTS " + db + " WITH (FORCE)");
        }
        return new Result("nodes", ledger.check(), facts, violations);
    }

    /** PostgreSQL stops abruptly during ingest and delivery, then comes back. */
    Result pgstop() throws Exception {
        Ledger ledger = new Ledger();
        AtomicBoolean down = new AtomicBoolean();
        List<String> violations = new ArrayList<>();
        Map<String, Object> facts = new LinkedHashMap<>();
        List<NodeProcess> nodes = new ArrayList<>();
        try (ChaosPostgres pg = new ChaosPostgres(s.workDir().resolve("pgstop-pg"), freePort()).start()) {
            Map<String, String> flags = nodeFlags();
            flags.put("db-url", pg.jdbcUrl());
            for (int i = 1; i <= 2; i++) nodes.add(new NodeProcess("pg-node" + i, freePort(), flags, s.workDir().resolve("logs")).start(Duration.ofSeconds(60)));
            List<String> live = nodes.stream().map(NodeProcess::url).toList();
            try (Receiver r = new Receiver((req, n) -> Receiver.ok())) {
                Setup app = setUp(live.getFirst(), r, "pgstop");
                r.script(verifying(ledger, app.secret(), (req, n) -> Receiver.ok()));
                int outages = 0;
                try (Sender sender = new Sender(ledger, () -> live, TOKEN, app.appId(), s.rate(), down::get)) {
                    long end = System.nanoTime() + s.load().toNanos();
                    do {
                        NodeProcess.pause(Duration.ofSeconds(3));
                        pg.stopImmediately();
                        down.set(true);
                        NodeProcess.pause(Duration.ofSeconds(5));
                        down.set(false);
                        pg.start();
                        outages++;
                        for (NodeProcess n : nodes) n.waitHealthy(Duration.ofSeconds(60)); // they reconnect by themselves
                    } while (System.nanoTime() < end);
                    NodeProcess.pause(Duration.ofSeconds(2));
                }
                facts.put("outages", outages);
                facts.put("503-during-outage", ledger.unavailableDuringOutageCount());
                if (ledger.unavailableDuringOutageCount() == 0) violations.add("no 503 was seen while the database was down");
                drain(ledger);
            }
        } finally {
            for (NodeProcess n : nodes) if (n.alive()) n.term(Duration.ofSeconds(30));
        }
        return new Result("pgstop", ledger.check(), facts, violations);
    }

    /** Receivers that drop, fail, throttle, hang, crawl, flood, redirect, and one that is gone. */
    Result hostile() throws Exception {
        Ledger ledger = new Ledger();
        String db = createDatabase();
        String url = s.pgServerUrl() + db + "?user=postgres";
        Map<String, String> flags = nodeFlags();
        flags.put("db-url", url);
        List<String> violations = new ArrayList<>();
        Map<String, Object> facts = new LinkedHashMap<>();
        NodeProcess node = new NodeProcess("hostile", freePort(), flags, s.workDir().resolve("logs"));
        try (Receiver r = new Receiver((req, n) -> Receiver.ok()); Receiver gone = new Receiver((req, n) -> Receiver.status(410))) {
            node.start(Duration.ofSeconds(60));
            Setup app = setUp(node.url(), r, "hostile");
            String goneId = post(node.url(), "/api/v1/app/" + app.appId() + "/endpoint", Map.of("url", gone.url("/gone"))).get("id").asText();
            String trap = r.url("/trap");
            java.util.concurrent.atomic.AtomicLong count = new java.util.concurrent.atomic.AtomicLong();
            // A fixed mix, so that even a short run meets every kind of hostility.
            r.script(verifying(ledger, app.secret(), (req, n) -> {
                long k = count.incrementAndGet();
                if (k % 333 == 0) return new Receiver.Behaviour.Drop();                                // the 0.3% silent drop
                if (k % 33 == 1) return Receiver.status(500);
                if (k % 50 == 2) return new Receiver.Behaviour.Respond(429, "slow down", Map.of("Retry-After", "1"));
                if (k % 200 == 3) return new Receiver.Behaviour.Hang();                               // past the 1s timeout
                if (k % 33 == 4) return new Receiver.Behaviour.Slow(Duration.ofMillis(300), Receiver.ok());
                if (k % 200 == 5) return new Receiver.Behaviour.Huge(200, 5_000_000);
                if (k % 200 == 6) return new Receiver.Behaviour.Respond(302, "", Map.of("Location", trap));
                return Receiver.ok();
            }));
            try (Sender sender = new Sender(ledger, () -> List.of(node.url()), TOKEN, app.appId(), s.rate(), () -> false)) {
                NodeProcess.pause(s.load());
            }
            drain(ledger);
            try (var c = DriverManager.getConnection(url); var st = c.createStatement()) {
                facts.put("timeouts", scalar(st, "SELECT count(*) FROM attempt WHERE error_class = 'timeout'"));
                facts.put("max-timeout-ms", scalar(st, "SELECT coalesce(max(duration_ms), 0) FROM attempt WHERE error_class = 'timeout'"));
                facts.put("max-stored-response", scalar(st, "SELECT coalesce(max(length(response)), 0) FROM attempt"));
                facts.put("redirects-recorded", scalar(st, "SELECT count(*) FROM attempt WHERE response_status = 302"));
                facts.put("429s", scalar(st, "SELECT count(*) FROM attempt WHERE response_status = 429"));
                facts.put("drops", scalar(st, "SELECT count(*) FROM attempt WHERE error_class = 'reset'"));
                boolean disabled = scalar(st, "SELECT count(*) FROM endpoint WHERE id = '" + goneId + "' AND disabled") == 1;
                long goneNotHeld = scalar(st, "SELECT count(*) FROM delivery WHERE endpoint_id = '" + goneId + "' AND state <> 'held'");
                facts.put("gone-disabled", disabled);
                facts.put("gone-requests", gone.requests().size());
                if (!disabled) violations.add("the endpoint answering 410 was not disabled");
                if (goneNotHeld > 0) violations.add(goneNotHeld + " deliveries of the 410 endpoint are not held");
                if ((long) facts.get("max-timeout-ms") > 3_000) violations.add("a timed-out attempt took " + facts.get("max-timeout-ms") + "ms");
                if ((long) facts.get("max-stored-response") > 20_480) violations.add("a stored response exceeds the cap");
            }
            long trapped = r.requests().stream().filter(q -> q.path().equals("/trap")).count();
            facts.put("redirects-followed", trapped);
            if (trapped > 0) violations.add("a redirect was followed " + trapped + " times");
        } finally {
            if (node.alive()) node.term(Duration.ofSeconds(30));
            admin("DROP DATABASE IF EXISTS " + db + " WITH (FORCE)");
        }
        return new Result("hostile", ledger.check(), facts, violations);
    }

    /** SIGTERM under load: stop claiming, finish or release in-flight work in bounded time, exit, resume. */
    Result sigterm() throws Exception {
        Ledger ledger = new Ledger();
        Map<String, String> flags = nodeFlags();
        flags.put("data-dir", s.workDir().resolve("sigterm-data").toString());
        // Requests may outlive the shutdown grace, so some must be aborted and released, not waited for.
        flags.put("request-timeout", "10s");
        flags.put("lease", "20s");
        flags.put("shutdown-grace", "1s");
        NodeProcess node = new NodeProcess("sigterm", freePort(), flags, s.workDir().resolve("logs")).start(Duration.ofSeconds(90));
        List<String> live = new CopyOnWriteArrayList<>(List.of(node.url()));
        List<String> violations = new ArrayList<>();
        Map<String, Object> facts = new LinkedHashMap<>();
        try (Receiver r = new Receiver((req, n) -> Receiver.ok())) {
            Setup app = setUp(node.url(), r, "sigterm");
            // Slow and sometimes hanging receivers keep work in flight at the moment of the signal.
            r.script(verifying(ledger, app.secret(), (req, n) -> ThreadLocalRandom.current().nextDouble() < 0.05
                    ? new Receiver.Behaviour.Hang() : new Receiver.Behaviour.Slow(Duration.ofMillis(400), Receiver.ok())));
            int stops = 0;
            long worstMs = 0;
            try (Sender sender = new Sender(ledger, () -> live, TOKEN, app.appId(), s.rate(), () -> false)) {
                long end = System.nanoTime() + s.load().toNanos();
                do {
                    NodeProcess.pause(Duration.ofSeconds(3));
                    live.clear();
                    Duration took = node.term(Duration.ofSeconds(60));
                    stops++;
                    if (took == null) {
                        violations.add("the node did not exit within 60s of SIGTERM");
                        node.kill9();
                    } else {
                        worstMs = Math.max(worstMs, took.toMillis());
                        if (node.exitCode() != 0 && node.exitCode() != 143) violations.add("exit code " + node.exitCode());
                    }
                    node.start(Duration.ofSeconds(90));
                    live.add(node.url());
                } while (System.nanoTime() < end);
            }
            r.script(verifying(ledger, app.secret(), (req, n) -> Receiver.ok()));
            drain(ledger);
            facts.put("stops", stops);
            facts.put("slowest-exit-ms", worstMs);
            facts.put("released-at-shutdown", node.countInLogs("releasing"));
            if (worstMs > 10_000) violations.add("a graceful stop took " + worstMs + "ms");
        } finally {
            node.term(Duration.ofSeconds(30));
        }
        return new Result("sigterm", ledger.check(), facts, violations);
    }

    // ---- helpers --------------------------------------------------------------------------------

    record Setup(String appId, String endpointId, String secret) {}

    private Setup setUp(String base, Receiver r, String name) throws Exception {
        String appId = post(base, "/api/v1/app", Map.of("name", "chaos " + name)).get("id").asText();
        String ep = post(base, "/api/v1/app/" + appId + "/endpoint", Map.of("url", r.url("/hook"))).get("id").asText();
        String secret = get(base, "/api/v1/app/" + appId + "/endpoint/" + ep + "/secret").get("key").asText();
        return new Setup(appId, ep, secret);
    }

    /**
     * Wraps a behaviour script: requests that will be answered 2xx are verified (Standard Webhooks
     * signature) and recorded in the ledger under the payload's {@code ref}.
     */
    static Receiver.Script verifying(Ledger ledger, String secret, Receiver.Script behaviour) {
        return (req, previous) -> {
            Receiver.Behaviour b = behaviour.decide(req, previous);
            if (!req.path().equals("/hook") || !answersOk(b)) return b;
            if (!Signer.verify(secret, req.header("webhook-id"), req.header("webhook-timestamp"), req.header("webhook-signature"),
                    req.body(), System.currentTimeMillis() / 1000, 300)) {
                ledger.badSignature();
                return Receiver.status(400);
            }
            try {
                ledger.delivered(Json.MAPPER.readTree(req.body()).get("ref").asText(), req.header("webhook-id"));
            } catch (IOException e) {
                ledger.badSignature();
            }
            return b;
        };
    }

    private static boolean answersOk(Receiver.Behaviour b) {
        return switch (b) {
            case Receiver.Behaviour.Respond r -> r.status() >= 200 && r.status() < 300;
            case Receiver.Behaviour.Huge h -> h.status() >= 200 && h.status() < 300;
            case Receiver.Behaviour.Slow slow -> answersOk(slow.then());
            default -> false;
        };
    }

    /** Waits until every acknowledged event was delivered, or two minutes pass. */
    private static void drain(Ledger ledger) {
        long deadline = System.nanoTime() + Duration.ofMinutes(2).toNanos();
        while (!ledger.drained() && System.nanoTime() < deadline) NodeProcess.pause(Duration.ofMillis(200));
        NodeProcess.pause(Duration.ofSeconds(1)); // let late duplicates land, so they are counted
    }

    private JsonNode post(String base, String path, Object body) throws Exception {
        return call(base, "POST", path, Json.write(body));
    }

    private JsonNode get(String base, String path) throws Exception {
        return call(base, "GET", path, null);
    }

    private JsonNode call(String base, String method, String path, String body) throws Exception {
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(10))
                .header("Authorization", "Bearer " + TOKEN).header("Content-Type", "application/json")
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body)).build(),
                HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() >= 300) throw new IOException(method + " " + path + " -> " + r.statusCode() + " " + r.body());
        return Json.MAPPER.readTree(r.body());
    }

    /** A fresh database on the shared PostgreSQL server, for one scenario. */
    private String createDatabase() throws Exception {
        String db = "zd_chaos_" + Long.toString(System.nanoTime(), 36);
        admin("CREATE DATABASE " + db);
        return db;
    }

    private void admin(String sql) throws Exception {
        try (var c = DriverManager.getConnection(s.pgServerUrl() + "postgres?user=postgres"); var st = c.createStatement()) {
            st.execute(sql);
        }
    }

    private static long scalar(java.sql.Statement st, String sql) throws Exception {
        try (ResultSet rs = st.executeQuery(sql)) {
            rs.next();
            return rs.getLong(1);
        }
    }

    private static long sum(List<NodeProcess> nodes, String text) throws IOException {
        long n = 0;
        for (NodeProcess p : nodes) n += p.countInLogs(text);
        return n;
    }

    private static void killPostmaster(Path pgDir) throws IOException {
        Path pidFile = pgDir.resolve("postmaster.pid");
        if (!java.nio.file.Files.exists(pidFile)) return;
        long pid = Long.parseLong(java.nio.file.Files.readAllLines(pidFile).getFirst().trim());
        ProcessHandle.of(pid).ifPresent(h -> {
            h.destroyForcibly();
            h.onExit().orTimeout(30, java.util.concurrent.TimeUnit.SECONDS).join();
        });
    }

    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }
}
