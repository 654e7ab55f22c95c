package dev.zerodrop.bench;

import dev.zerodrop.chaos.NodeProcess;
import dev.zerodrop.chaos.Receiver;
import dev.zerodrop.core.Json;
import java.io.IOException;
import java.io.PrintStream;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.DriverManager;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The benchmark: a real node (child JVM, durable PostgreSQL), a local receiver, and a load generator
 * that goes through the HTTP API. It measures ingest and delivery rates, accept→delivered latency,
 * the server's CPU and memory, checks that nothing was lost, and measures the machine's own
 * ceilings (PostgreSQL commits, raw HTTP) so each result can be read as a ratio.
 */
public final class Bench {
    public static final String TOKEN = "bench-admin-token-0123456789";
    public static final List<String> SCENARIOS = List.of("max", "rate", "fanout", "payload64k", "slow", "ingest", "backlog", "retention");

    /** {@code retention}: the history the {@code retention} scenario keeps (short, so that it sees several expiries). */
    public record Settings(Duration warmup, Duration duration, int producers, int rate, int backlog, String dbServer,
                           Path workDir, PrintStream out, Duration retention) {
        public Settings(Duration warmup, Duration duration, int producers, int rate, int backlog, String dbServer, Path workDir,
                        PrintStream out) {
            this(warmup, duration, producers, rate, backlog, dbServer, workDir, out, Duration.ofMinutes(3));
        }
    }

    /** One sample of the retention scenario: seconds since the start, database size, rates and latency of the last 10 s. */
    public record Sample(double seconds, double dbMiB, int partitions, double ingestPerSec, double deliveredPerSec, double p99) {}

    /** The retention scenario's samples, for its plot. */
    public final List<Sample> retentionSamples = new java.util.concurrent.CopyOnWriteArrayList<>();

    /** One scenario's figures. Rates are per second over the measured window; latencies in ms. */
    public record Result(String scenario, double ingestPerSec, double deliveredPerSec, double p50, double p99, double p999,
                         double firstP50, double firstP99, double serverCores, double maxRssMiB, long acked, long lost,
                         Map<String, Object> extra) {
        public String line() {
            StringBuilder sb = new StringBuilder(String.format(
                    "bench %-10s ingest=%.0f/s delivered=%.0f/s accept->delivered p50=%.1fms p99=%.1fms p99.9=%.1fms "
                            + "accept->first-attempt p50=%.1fms p99=%.1fms server-cpu=%.2f cores rss=%.0fMiB acked=%d lost=%d",
                    scenario, ingestPerSec, deliveredPerSec, p50, p99, p999, firstP50, firstP99, serverCores, maxRssMiB, acked, lost));
            extra.forEach((k, v) -> sb.append(' ').append(k).append('=').append(v));
            return sb.toString();
        }
    }

    private final Settings s;
    private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

    public Bench(Settings s) {
        this.s = s;
    }

    // ---- ceilings -------------------------------------------------------------------------------

    /** pgbench, single-row insert, 8 clients, against {@code jdbcUrl}'s server. Commits per second, or -1. */
    public double pgbenchCeiling(String host, int port, String db, Duration time) throws Exception {
        try (var c = DriverManager.getConnection("jdbc:postgresql://" + host + ":" + port + "/" + db + "?user=postgres");
             var st = c.createStatement()) {
            st.execute("CREATE TABLE IF NOT EXISTS bench_commit (id bigserial PRIMARY KEY, v text)");
        }
        Path script = Files.createTempFile("pgbench", ".sql");
        Files.writeString(script, "INSERT INTO bench_commit (v) VALUES ('x');\n");
        Process p = new ProcessBuilder("pgbench", "-h", host, "-p", Integer.toString(port), "-U", "postgres", "-n", "-c", "8", "-j", "2",
                "-T", Long.toString(time.toSeconds()), "-f", script.toString(), db).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        p.waitFor();
        for (String line : out.split("\n")) {
            if (line.startsWith("tps = ")) return Double.parseDouble(line.substring(6).split(" ")[0]);
        }
        s.out().println("pgbench gave no figure: " + out.strip());
        return -1;
    }

    /** The raw rate of Jetty's HTTP client (what ZeroDrop sends with) POSTing 1 KB to the receiver. */
    public double httpCeiling(String url, Duration time, int concurrency) throws Exception {
        var client = new org.eclipse.jetty.client.HttpClient();
        client.setMaxConnectionsPerDestination(concurrency);
        client.start();
        try {
            byte[] body = ("{\"pad\":\"" + "x".repeat(1000) + "\"}").getBytes(StandardCharsets.UTF_8);
            java.util.concurrent.Semaphore permits = new java.util.concurrent.Semaphore(concurrency);
            AtomicLong done = new AtomicLong();
            long end = System.nanoTime() + time.toNanos();
            long start = System.nanoTime();
            while (System.nanoTime() < end) {
                if (!permits.tryAcquire(100, TimeUnit.MILLISECONDS)) continue;
                client.newRequest(url).method("POST").body(new org.eclipse.jetty.client.BytesRequestContent("application/json", body))
                        .send(result -> {
                            if (result.isSucceeded()) done.incrementAndGet();
                            permits.release();
                        });
            }
            permits.acquire(concurrency);
            return done.get() / ((System.nanoTime() - start) / 1e9);
        } finally {
            client.stop();
        }
    }

    // ---- scenarios ------------------------------------------------------------------------------

    public Result run(String scenario) throws Exception {
        Result r = switch (scenario) {
            case "max" -> throughput("max", 1, 1024, Duration.ZERO, false);
            case "rate" -> throughput("rate", 1, 1024, Duration.ZERO, true);
            case "fanout" -> throughput("fanout", 10, 1024, Duration.ZERO, false);
            case "payload64k" -> throughput("payload64k", 1, 64 * 1024, Duration.ZERO, false);
            case "slow" -> throughput("slow", 1, 1024, Duration.ofMillis(200), false);
            case "ingest" -> ingest();
            case "backlog" -> backlog();
            case "retention" -> retention();
            default -> throw new IllegalArgumentException("unknown scenario '" + scenario + "'; choose from " + SCENARIOS);
        };
        s.out().println(r.line());
        return r;
    }

    private Map<String, String> nodeFlags(String name) throws Exception {
        Map<String, String> f = new LinkedHashMap<>();
        f.put("admin-token", TOKEN);
        f.put("secret-key", dev.zerodrop.chaos.Chaos.SECRET_KEY);
        f.put("allow-private-cidrs", "127.0.0.0/8");
        f.put("max-in-flight", "2048");
        f.put("endpoint-max-in-flight", "1024");
        f.put("claim-batch", "500");
        f.put("db-pool-size", "24");
        if (s.dbServer() != null) {
            String db = "zd_bench_" + name + "_" + Long.toString(System.nanoTime(), 36);
            admin("CREATE DATABASE " + db);
            f.put("db-url", s.dbServer() + db + "?user=postgres");
        } else {
            f.put("data-dir", s.workDir().resolve(name + "-" + System.nanoTime()).toString());
        }
        return f;
    }

    /** Steady load for warm-up plus the measured window, then a drain and the loss check. */
    Result throughput(String name, int endpoints, int payloadBytes, Duration receiverDelay, boolean fixedRate) throws Exception {
        Map<String, Long> arrived = new ConcurrentHashMap<>();   // webhook-id + endpoint path -> first arrival
        AtomicLong deliveries = new AtomicLong();
        Receiver.Behaviour ok = Receiver.ok();
        Receiver.Behaviour behaviour = receiverDelay.isZero() ? ok : new Receiver.Behaviour.Slow(receiverDelay, ok);
        try (Receiver r = new Receiver((req, n) -> {
            arrived.putIfAbsent(req.header("webhook-id") + req.path(), System.nanoTime());
            deliveries.incrementAndGet();
            return behaviour;
        }, false)) {
            NodeProcess node = node("bench-" + name, nodeFlags(name)).start(Duration.ofSeconds(120));
            try {
                String app = post(node.url(), "/api/v1/app", Map.of("name", "bench")).get("id").asText();
                for (int i = 0; i < endpoints; i++) post(node.url(), "/api/v1/app/" + app + "/endpoint", Map.of("url", r.url("/e" + i)));
                try (LoadGenerator load = new LoadGenerator(node.url(), app, TOKEN, payloadBytes, Math.max(64, s.producers()))) {
                    if (fixedRate) load.startFixedRate(s.rate());
                    else load.startClosedLoop(s.producers());
                    NodeProcess.pause(s.warmup());
                    Window w = measure(node, () -> load.acked.size(), deliveries::get);
                    long windowStart = w.startNanos();
                    long windowEnd = w.endNanos();
                    double ingest = w.rates()[0];
                    double delivered = w.rates()[1];
                    double cores = w.cores();
                    double maxRss = w.maxRssMiB();
                    load.stop();
                    // Drain: every acknowledged message must reach every endpoint.
                    long drainDeadline = System.nanoTime() + Duration.ofMinutes(5).toNanos();
                    long expected = (long) load.acked.size() * endpoints;
                    while (countDelivered(arrived, load.acked, endpoints) < expected && System.nanoTime() < drainDeadline) {
                        NodeProcess.pause(Duration.ofMillis(250));
                    }
                    long lost = expected - countDelivered(arrived, load.acked, endpoints);
                    double[] first = latencies(arrived, load.acked, windowStart, windowEnd, "/e0");
                    // The receiver notes a request when it arrives; it is delivered once answered, after any delay.
                    double delay = receiverDelay.toNanos() / 1e6;
                    double[] lat = Arrays.stream(first).map(x -> x + delay).toArray();
                    Map<String, Object> extra = new LinkedHashMap<>();
                    extra.put("endpoints", endpoints);
                    extra.put("payload", payloadBytes);
                    if (fixedRate) extra.put("target-rate", s.rate());
                    else extra.put("producers", s.producers());
                    if (!receiverDelay.isZero()) extra.put("receiver-delay-ms", receiverDelay.toMillis());
                    extra.put("load-errors", load.errors.get());
                    if (fixedRate) extra.put("not-sent-behind-rate", load.skipped.get());
                    return new Result(name, ingest, delivered, pct(lat, 50), pct(lat, 99), pct(lat, 99.9), pct(first, 50), pct(first, 99),
                            cores, maxRss, load.acked.size(), lost, extra);
                }
            } finally {
                node.term(Duration.ofSeconds(60));
                dropDatabase(node);
            }
        }
    }

    /**
     * Ingest alone: a node that does not dispatch (ZERODROP_DISPATCH=false), 64 producers in closed
     * loop, one endpoint (so every message is fanned out to a delivery in its commit). Lost: an
     * acknowledged message without its message and delivery rows in the database.
     */
    Result ingest() throws Exception {
        if (s.dbServer() == null) throw new IllegalArgumentException("the ingest scenario needs --db-server");
        Map<String, String> flags = nodeFlags("ingest");
        flags.put("dispatch", "false");
        NodeProcess node = node("bench-ingest", flags).start(Duration.ofSeconds(120));
        try {
            String app = post(node.url(), "/api/v1/app", Map.of("name", "ingest")).get("id").asText();
            post(node.url(), "/api/v1/app/" + app + "/endpoint", Map.of("url", "http://127.0.0.1:9/never-called"));
            try (LoadGenerator load = new LoadGenerator(node.url(), app, TOKEN, 1024, Math.max(64, s.producers()))) {
                load.startClosedLoop(s.producers());
                NodeProcess.pause(s.warmup());
                Window w = measure(node, () -> load.acked.size());
                load.stop();
                long found;
                try (var c = DriverManager.getConnection(flags.get("db-url"));
                     var ps = c.prepareStatement("SELECT count(*) FROM message m JOIN delivery d ON d.msg_id = m.id WHERE m.id = ANY (?)")) {
                    ps.setArray(1, c.createArrayOf("text", load.acked.keySet().toArray()));
                    try (var rs = ps.executeQuery()) {
                        rs.next();
                        found = rs.getLong(1);
                    }
                }
                Map<String, Object> extra = new LinkedHashMap<>();
                extra.put("producers", s.producers());
                extra.put("load-errors", load.errors.get());
                return new Result("ingest", w.rates()[0], 0, Double.NaN, Double.NaN, Double.NaN, Double.NaN, Double.NaN, w.cores(), w.maxRssMiB(),
                        load.acked.size(), load.acked.size() - found, extra);
            }
        } finally {
            node.term(Duration.ofSeconds(60));
            dropDatabase(node);
        }
    }

    /**
     * A backlog of pending deliveries on one endpoint (written straight into the database, as an
     * outage would leave it), drained by a fresh node, while a trickle of new messages to another
     * endpoint must still be delivered promptly.
     */
    Result backlog() throws Exception {
        if (s.dbServer() == null) throw new IllegalArgumentException("the backlog scenario needs --db-server");
        Map<String, Long> arrived = new ConcurrentHashMap<>();
        AtomicLong backlogDelivered = new AtomicLong();
        try (Receiver r = new Receiver((req, n) -> {
            if (req.path().equals("/fresh")) arrived.putIfAbsent(req.header("webhook-id"), System.nanoTime());
            else backlogDelivered.incrementAndGet();
            return Receiver.ok();
        }, false)) {
            Map<String, String> flags = nodeFlags("backlog");
            String url = flags.get("db-url");
            flags.put("dispatch", "false");
            NodeProcess setup = new NodeProcess("bench-backlog-setup", freePort(), flags, s.workDir().resolve("logs")).start(Duration.ofSeconds(60));
            String app = post(setup.url(), "/api/v1/app", Map.of("name", "backlog")).get("id").asText();
            String slowEp = post(setup.url(), "/api/v1/app/" + app + "/endpoint", Map.of("url", r.url("/backlog"), "filterTypes", List.of("old"))).get("id").asText();
            String freshApp = post(setup.url(), "/api/v1/app", Map.of("name", "fresh")).get("id").asText();
            post(setup.url(), "/api/v1/app/" + freshApp + "/endpoint", Map.of("url", r.url("/fresh")));
            setup.term(Duration.ofSeconds(30));
            long t0 = System.nanoTime();
            try (var c = DriverManager.getConnection(url); var st = c.createStatement()) {
                // One transaction, so one now(): a delivery lives in its message's partition, with its part_at.
                c.setAutoCommit(false);
                st.execute("INSERT INTO message (id, app_id, event_type, payload, created_at, part_at) SELECT 'msg_backlog_' || g, '" + app
                        + "', 'old', convert_to('{\"n\":' || g || ',\"pad\":\"" + "x".repeat(900) + "\"}', 'UTF8'), now(), now() FROM generate_series(1, " + s.backlog() + ") g");
                st.execute("INSERT INTO delivery (msg_id, endpoint_id, app_id, state, next_attempt_at, created_at, updated_at, part_at) SELECT 'msg_backlog_' || g, '"
                        + slowEp + "', '" + app + "', 'pending', now() - interval '1 hour', now(), now(), now() FROM generate_series(1, " + s.backlog() + ") g");
                c.commit();
                c.setAutoCommit(true);
                st.execute("ANALYZE delivery");
                st.execute("ANALYZE message");
            }
            s.out().printf("backlog: %d pending deliveries written in %.0fs%n", s.backlog(), (System.nanoTime() - t0) / 1e9);
            flags.put("dispatch", "true");
            // The node dispatches from its start: a small backlog can be gone before the first sample.
            long nodeStart = System.nanoTime();
            NodeProcess node = node("bench-backlog", flags).start(Duration.ofSeconds(60));
            List<String> rates = new ArrayList<>();
            List<String> rss = new ArrayList<>();
            double maxRss = 0;
            try (LoadGenerator fresh = new LoadGenerator(node.url(), freshApp, TOKEN, 1024, 16)) {
                fresh.startFixedRate(20);
                long start = System.nanoTime();
                double cpuBefore = ProcessStats.cpuSeconds(node.pid());
                long last = 0;
                long deadline = start + Duration.ofMinutes(30).toNanos();
                while (backlogDelivered.get() < s.backlog() && System.nanoTime() < deadline) {
                    NodeProcess.pause(Duration.ofSeconds(5));
                    long now = backlogDelivered.get();
                    rates.add(String.format("%.0f", (now - last) / 5.0));
                    double m = ProcessStats.rssMiB(node.pid());
                    rss.add(String.format("%.0f", m));
                    maxRss = Math.max(maxRss, m);
                    last = now;
                }
                double seconds = (System.nanoTime() - nodeStart) / 1e9;
                double cores = (ProcessStats.cpuSeconds(node.pid()) - cpuBefore) / ((System.nanoTime() - start) / 1e9);
                fresh.stop();
                NodeProcess.pause(Duration.ofSeconds(2));
                double[] lat = latencies(arrived, fresh.acked, start, System.nanoTime(), "");
                long freshLost = fresh.acked.keySet().stream().filter(id -> !arrived.containsKey(id)).count();
                Map<String, Object> extra = new LinkedHashMap<>();
                extra.put("backlog", s.backlog());
                extra.put("drain-seconds", String.format("%.0f", seconds));
                extra.put("rate-per-5s", String.join(",", rates));
                extra.put("rss-per-5s", String.join(",", rss));
                extra.put("fresh-acked", fresh.acked.size());
                return new Result("backlog", 0, backlogDelivered.get() / seconds, pct(lat, 50), pct(lat, 99), pct(lat, 99.9),
                        pct(lat, 50), pct(lat, 99), cores, maxRss, fresh.acked.size() + s.backlog(),
                        freshLost + Math.max(0, s.backlog() - backlogDelivered.get()), extra);
            } finally {
                node.term(Duration.ofSeconds(60));
                dropDatabase(node);
            }
        }
    }

    /**
     * Retention: a fixed rate of messages for the whole duration, on a node that keeps its history
     * for only {@code s.retention()}. Every 10 s it samples the database's size, the partitions, the
     * rates and the p99 of accept to delivered. After the first expiry all of them must be flat: the
     * size is that of a window of history, not of the whole run. Lost: an acknowledged message that
     * never arrived (retention must never drop what is not delivered).
     */
    Result retention() throws Exception {
        if (s.dbServer() == null) throw new IllegalArgumentException("the retention scenario needs --db-server");
        Map<String, Long> arrived = new ConcurrentHashMap<>();
        AtomicLong deliveries = new AtomicLong();
        try (Receiver r = new Receiver((req, n) -> {
            arrived.putIfAbsent(req.header("webhook-id"), System.nanoTime());
            deliveries.incrementAndGet();
            return Receiver.ok();
        }, false)) {
            Map<String, String> flags = nodeFlags("retention");
            String keep = dev.zerodrop.config.Durations.format(s.retention());
            flags.put("history-retention", keep);
            flags.put("payload-retention", keep);
            flags.put("dlq-retention", keep);
            flags.put("retry-schedule", "1s,2s");
            NodeProcess node = node("bench-retention", flags).start(Duration.ofSeconds(120));
            String url = flags.get("db-url");
            try (var c = DriverManager.getConnection(url)) {
                String app = post(node.url(), "/api/v1/app", Map.of("name", "retention")).get("id").asText();
                post(node.url(), "/api/v1/app/" + app + "/endpoint", Map.of("url", r.url("/e0")));
                retentionSamples.clear();
                double maxRss = 0;
                double cpuBefore = ProcessStats.cpuSeconds(node.pid());
                long start = System.nanoTime();
                try (LoadGenerator load = new LoadGenerator(node.url(), app, TOKEN, 1024, Math.max(64, s.producers()))) {
                    load.startFixedRate(s.rate());
                    long end = start + s.duration().toNanos();
                    long lastAcked = 0;
                    long lastDelivered = 0;
                    long sampleStart = start;
                    while (System.nanoTime() < end) {
                        NodeProcess.pause(Duration.ofSeconds(10));
                        long now = System.nanoTime();
                        long acked = load.acked.size();
                        long delivered = deliveries.get();
                        double secs = (now - sampleStart) / 1e9;
                        List<Double> l = new ArrayList<>();
                        for (var e : load.acked.entrySet()) {
                            if (e.getValue() < sampleStart || e.getValue() > now) continue;
                            Long at = arrived.get(e.getKey());
                            if (at != null) l.add((at - e.getValue()) / 1e6);
                        }
                        double[] lat = l.stream().mapToDouble(Double::doubleValue).sorted().toArray();
                        double mib;
                        int parts;
                        try (var st = c.createStatement(); var rs = st.executeQuery(
                                "SELECT pg_database_size(current_database()), (SELECT count(*) FROM partition_range)")) {
                            rs.next();
                            mib = rs.getLong(1) / (1024.0 * 1024);
                            parts = rs.getInt(2);
                        }
                        maxRss = Math.max(maxRss, ProcessStats.rssMiB(node.pid()));
                        Sample smp = new Sample((now - start) / 1e9, mib, parts, (acked - lastAcked) / secs, (delivered - lastDelivered) / secs,
                                pct(lat, 99));
                        retentionSamples.add(smp);
                        s.out().printf("retention t=%.0fs db=%.1fMiB partitions=%d ingest=%.0f/s delivered=%.0f/s p99=%.1fms%n", smp.seconds(),
                                smp.dbMiB(), smp.partitions(), smp.ingestPerSec(), smp.deliveredPerSec(), smp.p99());
                        lastAcked = acked;
                        lastDelivered = delivered;
                        sampleStart = now;
                    }
                    double seconds = (System.nanoTime() - start) / 1e9;
                    double cores = (ProcessStats.cpuSeconds(node.pid()) - cpuBefore) / seconds;
                    load.stop();
                    long drainDeadline = System.nanoTime() + Duration.ofMinutes(2).toNanos();
                    while (load.acked.keySet().stream().anyMatch(id -> !arrived.containsKey(id)) && System.nanoTime() < drainDeadline) {
                        NodeProcess.pause(Duration.ofMillis(250));
                    }
                    long lost = load.acked.keySet().stream().filter(id -> !arrived.containsKey(id)).count();
                    double[] all = latencies(arrived, load.acked, start, Long.MAX_VALUE, "");
                    Map<String, Object> extra = new LinkedHashMap<>();
                    extra.put("retention", keep);
                    extra.put("target-rate", s.rate());
                    List<Sample> smp = retentionSamples;
                    if (!smp.isEmpty()) {
                        extra.put("db-mib-max", String.format(java.util.Locale.ROOT, "%.1f", smp.stream().mapToDouble(Sample::dbMiB).max().orElse(0)));
                        extra.put("db-mib-end", String.format(java.util.Locale.ROOT, "%.1f", smp.getLast().dbMiB()));
                        // The size once a full history window exists (one retention plus one interval in), against the end.
                        double settled = s.retention().toSeconds() * 1.5;
                        smp.stream().filter(x -> x.seconds() >= settled).findFirst().ifPresent(x ->
                                extra.put("db-mib-after-first-expiry", String.format(java.util.Locale.ROOT, "%.1f", x.dbMiB())));
                        extra.put("partitions-end", smp.getLast().partitions());
                    }
                    extra.put("load-errors", load.errors.get());
                    extra.put("not-sent-behind-rate", load.skipped.get());
                    return new Result("retention", load.acked.size() / seconds, deliveries.get() / seconds, pct(all, 50), pct(all, 99),
                            pct(all, 99.9), pct(all, 50), pct(all, 99), cores, maxRss, load.acked.size(), lost, extra);
                }
            } finally {
                node.term(Duration.ofSeconds(60));
                dropDatabase(node);
            }
        }
    }

    /** A measured window: its bounds (System.nanoTime), the node's CPU and peak RSS, and each counter's rate per second. */
    private record Window(long startNanos, long endNanos, double cores, double maxRssMiB, double[] rates) {}

    /** Measures {@code node} for the configured duration; {@code counters} are read at both ends. */
    private Window measure(NodeProcess node, java.util.function.LongSupplier... counters) throws Exception {
        long start = System.nanoTime();
        long[] before = new long[counters.length];
        for (int i = 0; i < counters.length; i++) before[i] = counters[i].getAsLong();
        double cpuBefore = ProcessStats.cpuSeconds(node.pid());
        double maxRss = 0;
        long end = start + s.duration().toNanos();
        while (System.nanoTime() < end) {
            NodeProcess.pause(Duration.ofMillis(500));
            maxRss = Math.max(maxRss, ProcessStats.rssMiB(node.pid()));
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        double cores = (ProcessStats.cpuSeconds(node.pid()) - cpuBefore) / seconds;
        double[] rates = new double[counters.length];
        for (int i = 0; i < counters.length; i++) rates[i] = (counters[i].getAsLong() - before[i]) / seconds;
        return new Window(start, end, cores, maxRss, rates);
    }

    private final Map<NodeProcess, String> databases = new ConcurrentHashMap<>();

    private void dropDatabase(NodeProcess node) {
        String db = databases.remove(node);
        if (db == null) return;
        try {
            admin("DROP DATABASE IF EXISTS " + db + " WITH (FORCE)");
        } catch (Exception e) {
            s.out().println("bench: could not drop " + db + ": " + e.getMessage());
        }
    }

    private NodeProcess node(String name, Map<String, String> flags) {
        NodeProcess n = new NodeProcess(name, freePortUnchecked(), flags, s.workDir().resolve("logs"));
        String url = flags.get("db-url");
        if (url != null) databases.put(n, url.substring(url.lastIndexOf('/') + 1, url.indexOf('?')));
        return n;
    }

    private static int freePortUnchecked() {
        try {
            return freePort();
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private static long countDelivered(Map<String, Long> arrived, Map<String, Long> acked, int endpoints) {
        long n = 0;
        for (String id : acked.keySet()) for (int i = 0; i < endpoints; i++) if (arrived.containsKey(id + "/e" + i)) n++;
        return n;
    }

    /** Accept→delivered latencies (ms) of the messages acknowledged inside the window. */
    private static double[] latencies(Map<String, Long> arrived, Map<String, Long> acked, long from, long to, String path) {
        List<Double> out = new ArrayList<>();
        for (var e : acked.entrySet()) {
            if (e.getValue() < from || e.getValue() > to) continue;
            Long at = arrived.get(e.getKey() + path);
            if (at != null) out.add((at - e.getValue()) / 1e6);
        }
        double[] a = out.stream().mapToDouble(Double::doubleValue).toArray();
        Arrays.sort(a);
        return a;
    }

    private static double pct(double[] sorted, double p) {
        if (sorted.length == 0) return Double.NaN;
        int i = (int) Math.ceil(p / 100 * sorted.length) - 1;
        return sorted[Math.max(0, Math.min(sorted.length - 1, i))];
    }

    private com.fasterxml.jackson.databind.JsonNode post(String base, String path, Object body) throws Exception {
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(base + path)).header("Authorization", "Bearer " + TOKEN)
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(Json.write(body))).build(),
                HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() >= 300) throw new IOException(path + " -> " + r.statusCode() + " " + r.body());
        return Json.MAPPER.readTree(r.body());
    }

    private void admin(String sql) throws Exception {
        try (var c = DriverManager.getConnection(s.dbServer() + "postgres?user=postgres"); var st = c.createStatement()) {
            st.execute(sql);
        }
    }

    /** An SVG chart of the retention scenario's samples over time. */
    public String retentionPlot() {
        return Plot.timeline(retentionSamples, s.retention());
    }

    /** An SVG chart of throughput and latency per scenario. */
    public static String plot(List<Result> results, double combinedCeiling) {
        return Plot.svg(results, combinedCeiling);
    }

    static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        }
    }
}
