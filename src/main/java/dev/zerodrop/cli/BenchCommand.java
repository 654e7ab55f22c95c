package dev.zerodrop.cli;

import dev.zerodrop.bench.Bench;
import dev.zerodrop.config.Durations;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code zerodrop bench}: throughput, latency and resource figures, with the machine's own ceilings. */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = {"Benchmark a real node through the HTTP API, durable, against a local receiver.",
                "Scenarios: max (closed loop, 1 endpoint, 1 KB), rate (fixed rate, for latency), fanout (10 endpoints),",
                "payload64k (64 KB payloads), slow (receiver adds 200 ms), ingest (a node that does not dispatch),",
                "backlog (drain N pending deliveries while",
                "new messages keep arriving for another endpoint). Also measures pgbench (single-row insert, 8",
                "clients) and the raw HTTP client rate to the same receiver."})
final class BenchCommand implements Callable<Integer> {
    @Option(names = "--scenario", defaultValue = "max,rate,fanout,payload64k,slow,ingest", description = "Comma-separated scenarios, or all (default: ${DEFAULT-VALUE}).")
    String scenario;

    @Option(names = "--warmup", defaultValue = "10s", description = "Load before measuring, for the JIT (default: ${DEFAULT-VALUE}).")
    String warmup;

    @Option(names = "--duration", defaultValue = "60s", description = "Measured window (default: ${DEFAULT-VALUE}).")
    String duration;

    @Option(names = "--producers", defaultValue = "64", description = "Concurrent producers of the closed-loop scenarios (default: ${DEFAULT-VALUE}).")
    int producers;

    @Option(names = "--rate", defaultValue = "1000", description = "Messages per second of the fixed-rate scenario (default: ${DEFAULT-VALUE}).")
    int rate;

    @Option(names = "--backlog", defaultValue = "1000000", description = "Pending deliveries of the backlog scenario (default: ${DEFAULT-VALUE}).")
    int backlog;

    @Option(names = "--db-server", defaultValue = "jdbc:postgresql://127.0.0.1:5432/",
            description = "PostgreSQL server the nodes use, one fresh database per scenario (user postgres, trust auth; default: ${DEFAULT-VALUE}).")
    String dbServer;

    @Option(names = "--embedded", description = "Use the embedded PostgreSQL instead of --db-server (not for backlog).")
    boolean embedded;

    @Option(names = "--no-ceilings", description = "Skip the pgbench and raw HTTP measurements.")
    boolean noCeilings;

    @Option(names = "--retention", defaultValue = "3m", description = "History kept by the retention scenario's node (default: ${DEFAULT-VALUE}).")
    String retention;

    @Option(names = "--work-dir", description = "Where node data and logs go (default: a new temporary directory).")
    Path workDir;

    @Override
    public Integer call() throws Exception {
        Path dir = workDir != null ? workDir : Files.createTempDirectory("zerodrop-bench");
        System.out.println("bench: logs and data in " + dir);
        Bench bench = new Bench(new Bench.Settings(Durations.parse(warmup), Durations.parse(duration), producers, rate, backlog,
                embedded ? null : dbServer, dir, System.out, Durations.parse(retention)));
        double db = -1;
        double http = -1;
        if (!noCeilings) {
            java.net.URI server = java.net.URI.create(dbServer.substring("jdbc:".length()));
            db = bench.pgbenchCeiling(server.getHost(), server.getPort(), "postgres", java.time.Duration.ofSeconds(10));
            try (var r = new dev.zerodrop.chaos.Receiver((req, n) -> dev.zerodrop.chaos.Receiver.ok(), false)) {
                http = bench.httpCeiling(r.url("/ceiling"), java.time.Duration.ofSeconds(10), 64);
            }
            System.out.printf("ceiling pgbench=%.0f commits/s http=%.0f req/s combined=%.0f/s%n", db, http, 1 / (1 / db + 1 / http));
        }
        List<String> scenarios = scenario.equals("all") ? Bench.SCENARIOS : List.of(scenario.split(","));
        List<Bench.Result> results = new ArrayList<>();
        for (String sc : scenarios) results.add(bench.run(sc.trim()));
        double combined = db > 0 && http > 0 ? 1 / (1 / db + 1 / http) : -1;
        if (combined > 0) {
            for (Bench.Result r : results) {
                System.out.printf("ratio %-10s delivered/combined-ceiling=%.0f%%%n", r.scenario(), 100 * r.deliveredPerSec() / combined);
            }
        }
        Path svg = dir.resolve("bench.svg");
        Files.writeString(svg, Bench.plot(results.stream().filter(r -> !r.scenario().equals("backlog") && !r.scenario().equals("retention")).toList(),
                combined));
        if (!bench.retentionSamples.isEmpty()) {
            Path timeline = dir.resolve("retention.svg");
            Files.writeString(timeline, bench.retentionPlot());
            System.out.println("bench: retention plot written to " + timeline);
        }
        System.out.println("bench: plot written to " + svg);
        return results.stream().allMatch(r -> r.lost() == 0) ? 0 : 1;
    }
}
