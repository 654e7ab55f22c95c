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
    /** Every scenario; {@code failover} runs twice, with synchronous and then asynchronous replication (the contrast). */
    public static final List<String> SCENARIOS = List.of("kill9", "nodes", "pgstop", "hostile", "sigterm", "failover");
    /** How long the standby hears nothing from the primary before the primary dies: what an asynchronous standby loses. */
    static final Duration STANDBY_LAG = Duration.ofSeconds(2);
    /** How long there is no primary at all, from the kill to the promotion: a failover manager's detection time, shortened. */
    static final Duration NO_PRIMARY = Duration.ofSeconds(3);

    /** How a run is shaped. {@code load} is how long faults and traffic last; draining comes after. */
    public record Settings(Duration load, int rate, Path workDir, String pgServerUrl, PrintStream out) {}

    /**
     * A scenario's ledger report and the scenario's own checks. A {@code contrast} shows what a setup
     * that ZeroDrop does not support loses: its losses are reported, not failed; its other checks hold.
     */
    public record Result(String scenario, Ledger.Report report, Map<String, Object> facts, List<String> violations, boolean contrast) {
        public Result(String scenario, Ledger.Report report, Map<String, Object> facts, List<String> violations) {
            this(scenario, report, facts, violations, false);
        }

        public boolean ok() {
            return (contrast ? report.okApartFromLoss() : report.ok()) && violations.isEmpty();
        }

        public String line() {
            StringBuilder sb = new StringBuilder(contrast && report.okApartFromLoss()
                    ? report.counts(scenario) + " CONTRAST" + (report.lost() > 0 ? " lost e.g. " + report.lostSample() : "")
                    : report.line(scenario));
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

    /** Runs one scenario and prints its ledger lines (two for {@code failover}: synchronous, then the asynchronous contrast). */
    public List<Result> run(String scenario) throws Exception {
        List<Result> results = new ArrayList<>();
        switch (scenario) {
            case "kill9" -> results.add(print(kill9()));
            case "nodes" -> results.add(print(nodes()));
            case "pgstop" -> results.add(print(pgstop()));
            case "hostile" -> results.add(print(hostile()));
            case "sigterm" -> results.add(print(sigterm()));
            case "failover" -> {
                results.add(print(failover(true)));
                results.add(print(failover(false)));
            }
            case "failover-sync" -> results.add(print(failover(true)));
            case "failover-async" -> results.add(print(failover(false)));
            default -> throw new IllegalArgumentException("unknown scenario '" + scenario + "'; choose from " + SCENARIOS
                    + " (or failover-sync, failover-async for one pass of failover)");
        }
        return results;
    }

    private Result print(Result r) {
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

    /**
     * A database failover under load. A primary and a hot standby ({@link ReplicatedPostgres}), two
     * nodes with a multi-host URL ({@code targetServerType=primary}). The standby stops hearing from
     * the primary for {@link #STANDBY_LAG}, the primary's postmaster is killed with {@code kill -9},
     * and after {@link #NO_PRIMARY} the standby is promoted. With synchronous replication nothing
     * acknowledged may be lost; with asynchronous replication ({@code synchronous} false, the
     * contrast) whatever was acknowledged during the lag is gone from the database, and the events of
     * it that had not been delivered yet are lost.
     */
    Result failover(boolean synchronous) throws Exception {
        String scenario = synchronous ? "failover" : "failover-async";
        Ledger ledger = new Ledger();
        List<String> violations = new ArrayList<>();
        Map<String, Object> facts = new LinkedHashMap<>();
        List<NodeProcess> nodes = new ArrayList<>();
        Path logs = s.workDir().resolve("logs");
        try (ReplicatedPostgres pg = new ReplicatedPostgres(synchronous, scenario, logs).start()) {
            try {
                String replication = pg.replicationState();
                if (!replication.equals(synchronous ? "streaming/sync" : "streaming/async")) violations.add("the standby is " + replication);
                Map<String, String> flags = nodeFlags();
                flags.put("db-url", pg.jdbcUrl());
                flags.put("db-user", ReplicatedPostgres.USER);
                flags.put("db-password", pg.password());
                for (int i = 1; i <= 2; i++) nodes.add(new NodeProcess(scenario + "-node" + i, freePort(), flags, logs));
                inParallel(nodes, n -> n.start(Duration.ofSeconds(60))); // their migrations take turns on Flyway's lock
                List<String> live = nodes.stream().map(NodeProcess::url).toList();
                try (Receiver r = new Receiver((req, n) -> Receiver.ok())) {
                    Setup app = setUp(live.getFirst(), r, scenario);
                    java.util.concurrent.atomic.AtomicLong firsts = new java.util.concurrent.atomic.AtomicLong();
                    // One event in five is asked to come back in 2 s, as a receiver that sheds load does: a
                    // backlog of deliveries waits in the database, which is what a failover can lose.
                    r.script(verifying(ledger, app.secret(), (req, previous) -> previous == 0 && firsts.incrementAndGet() % 5 == 0
                            ? new Receiver.Behaviour.Respond(429, "busy", Map.of("Retry-After", "2")) : Receiver.ok()));
                    Moments m = failOver(pg, ledger, live, app.appId(), facts);
                    drainOrQuiet(ledger, pg);
                    writeTimeline(logs.resolve(scenario + "-timeline.txt"), ledger, m);
                    measure(ledger, m, facts, violations);
                    long forgotten = forgotten(pg, ledger.ackedIds());
                    facts.put("forgotten", forgotten);
                    if (synchronous && forgotten > 0) violations.add(forgotten + " acknowledged messages are missing from the new primary");
                    facts.put("superseded", sum(nodes, "superseded outcome"));
                }
            } finally {
                inParallel(nodes, n -> n.alive() ? n.term(Duration.ofSeconds(30)) : null); // before their database goes
            }
        }
        return new Result(scenario, ledger.check(), facts, violations, !synchronous);
    }

    /** Something done to one node. */
    @FunctionalInterface
    interface NodeAction {
        Object apply(NodeProcess node) throws Exception;
    }

    /** Does {@code action} to every node at once and waits for all of them; the first failure is thrown. */
    private static void inParallel(List<NodeProcess> nodes, NodeAction action) throws Exception {
        try (var threads = java.util.concurrent.Executors.newVirtualThreadPerTaskExecutor()) {
            List<java.util.concurrent.Future<Object>> done = new ArrayList<>();
            for (NodeProcess n : nodes) done.add(threads.submit(() -> action.apply(n)));
            Exception first = null;
            for (var f : done) {
                try {
                    f.get();
                } catch (java.util.concurrent.ExecutionException e) {
                    if (first == null) first = e.getCause() instanceof Exception c ? c : e;
                }
            }
            if (first != null) throw first;
        }
    }

    /** When the failover's steps happened ({@link System#nanoTime()}). */
    record Moments(long start, long stalled, long killed, long promoted, long loadEnd) {}

    /** Load, then the fault: the standby falls behind, the primary dies, nothing is primary for a while, the standby is promoted; then load on the new primary. */
    private Moments failOver(ReplicatedPostgres pg, Ledger ledger, List<String> nodes, String appId, Map<String, Object> facts) throws Exception {
        AtomicBoolean noPrimary = new AtomicBoolean();
        long start = System.nanoTime();
        try (Sender sender = new Sender(ledger, () -> nodes, TOKEN, appId, s.rate(), noPrimary::get)) {
            NodeProcess.pause(Duration.ofNanos(Math.max(Duration.ofSeconds(2).toNanos(), s.load().toNanos() / 3)));
            long stalled = System.nanoTime();
            pg.stallReplication();
            NodeProcess.pause(STANDBY_LAG);
            long killed = System.nanoTime();
            pg.killPrimary();
            noPrimary.set(true);
            NodeProcess.pause(NO_PRIMARY);
            noPrimary.set(false);
            facts.put("promote-ms", pg.promoteStandby().toMillis());
            long promoted = System.nanoTime();
            // Load on the new primary until acknowledgements and deliveries are back, whatever --load says
            // (up to 10 s: HikariCP's reconnection backoff alone can reach 5 s), then 4 s more: longer than
            // the 3 s that the requests queued for a connection meanwhile wait before their 503.
            long deadline = promoted + Duration.ofSeconds(10).toNanos();
            while (System.nanoTime() < deadline
                    && (firstAfter(ledger.ackTimes(), promoted) < 0 || firstAfter(ledger.deliveryTimes(), promoted) < 0)) {
                NodeProcess.pause(Duration.ofMillis(100));
            }
            long end = Math.max(start + s.load().toNanos(), System.nanoTime() + Duration.ofSeconds(4).toNanos());
            NodeProcess.pause(Duration.ofNanos(end - System.nanoTime()));
            return new Moments(start, stalled, killed, promoted, System.nanoTime());
        }
    }

    /** The 503 window, how soon acknowledgements and deliveries came back after the promotion, and the receiver's longest silence. */
    private static void measure(Ledger ledger, Moments m, Map<String, Object> facts, List<String> violations) {
        List<Long> all503 = ledger.unavailableTimes();
        List<Long> unavailable = all503.stream().filter(t -> t >= m.stalled()).toList(); // the fault's; earlier ones mean an overloaded machine
        List<Long> acks = ledger.ackTimes();
        List<Long> deliveries = ledger.deliveryTimes();
        if (unavailable.size() < all503.size()) facts.put("503s-before-fault", all503.size() - unavailable.size());
        facts.put("503s", unavailable.size());
        if (unavailable.isEmpty()) {
            violations.add("no 503 was answered around the fault");
        } else {
            facts.put("503-window-ms", millis(unavailable.getLast() - unavailable.getFirst()));
            facts.put("503-after-kill-ms", millis(unavailable.getFirst() - m.killed()) + ".." + millis(unavailable.getLast() - m.killed()));
            if (firstAfter(acks, unavailable.getLast()) < 0) violations.add("no acknowledgement after the last 503");
        }
        long acksBack = firstAfter(acks, m.promoted());
        long deliveriesBack = firstAfter(deliveries, m.promoted());
        facts.put("acks-back-after-promote-ms", acksBack < 0 ? "never" : millis(acksBack - m.promoted()));
        facts.put("deliveries-back-after-promote-ms", deliveriesBack < 0 ? "never" : millis(deliveriesBack - m.promoted()));
        facts.put("delivery-gap-ms", millis(longestGap(deliveries, m.start(), m.loadEnd())));
        if (acksBack < 0) violations.add("the API acknowledged nothing after the promotion");
        if (deliveriesBack < 0) violations.add("nothing was delivered after the promotion");
    }

    /**
     * Waits until every acknowledged event was delivered, or until nothing is left to deliver: the new
     * primary holds no pending or sending delivery and the receiver heard nothing for 3 s. At most two minutes.
     */
    private static void drainOrQuiet(Ledger ledger, ReplicatedPostgres pg) throws Exception {
        long deadline = System.nanoTime() + Duration.ofMinutes(2).toNanos();
        while (!ledger.drained() && System.nanoTime() < deadline) {
            List<Long> deliveries = ledger.deliveryTimes();
            boolean quiet = deliveries.isEmpty() || System.nanoTime() - deliveries.getLast() > Duration.ofSeconds(3).toNanos();
            if (quiet) {
                try (var c = pg.connectStandby(); var st = c.createStatement()) {
                    if (scalar(st, "SELECT count(*) FROM delivery WHERE state IN ('pending', 'sending')") == 0) break;
                }
            }
            NodeProcess.pause(Duration.ofMillis(200));
        }
        NodeProcess.pause(Duration.ofSeconds(1)); // let late duplicates land, so they are counted
    }

    /** Every acknowledgement, 503 and verified delivery, and the fault's moments, in ms from {@code start}: to read or plot a run. */
    private static void writeTimeline(Path file, Ledger ledger, Moments m) throws IOException {
        long start = m.start();
        Map<String, Long> marks = Map.of("stall", m.stalled(), "kill", m.killed(), "promoted", m.promoted(), "load-end", m.loadEnd());
        List<long[]> rows = new ArrayList<>();
        List<String> kinds = List.of("ack", "503", "delivered");
        List<List<Long>> series = List.of(ledger.ackTimes(), ledger.unavailableTimes(), ledger.deliveryTimes());
        for (int k = 0; k < kinds.size(); k++) for (long t : series.get(k)) rows.add(new long[] {t, k});
        List<String> names = new ArrayList<>(kinds);
        for (var e : marks.entrySet()) {
            names.add(e.getKey());
            rows.add(new long[] {e.getValue(), names.size() - 1});
        }
        rows.sort(java.util.Comparator.comparingLong(r -> r[0]));
        StringBuilder sb = new StringBuilder("# ms-from-start event\n");
        for (long[] r : rows) sb.append(millis(r[0] - start)).append(' ').append(names.get((int) r[1])).append('\n');
        java.nio.file.Files.createDirectories(file.getParent());
        java.nio.file.Files.writeString(file, sb);
    }

    /** How many of the acknowledged messages the new primary does not have. */
    private static long forgotten(ReplicatedPostgres pg, List<String> ids) throws Exception {
        try (var c = pg.connectStandby(); var ps = c.prepareStatement(
                "SELECT count(*) FROM unnest(?::text[]) AS a(id) WHERE NOT EXISTS (SELECT 1 FROM message m WHERE m.id = a.id)")) {
            ps.setArray(1, c.createArrayOf("text", ids.toArray()));
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return rs.getLong(1);
            }
        }
    }

    /** The first time in {@code times} (sorted) after {@code after}, or -1. */
    static long firstAfter(List<Long> times, long after) {
        for (long t : times) if (t > after) return t;
        return -1;
    }

    /** The longest interval between consecutive times in [from, to], counting from {@code from} and up to {@code to}. */
    static long longestGap(List<Long> times, long from, long to) {
        long prev = from;
        long gap = 0;
        for (long t : times) {
            if (t < from || t > to) continue;
            gap = Math.max(gap, t - prev);
            prev = t;
        }
        return Math.max(gap, to - prev);
    }

    private static long millis(long nanos) {
        return Duration.ofNanos(nanos).toMillis();
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
