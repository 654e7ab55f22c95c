package dev.zerodrop.cli;

import dev.zerodrop.chaos.Chaos;
import dev.zerodrop.config.Durations;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code zerodrop chaos}: the zero-loss harness. */
@Command(name = "chaos", mixinStandardHelpOptions = true,
        description = {"Inject real faults under load and check the zero-drop ledger.",
                "Scenarios: kill9 (kill -9 of a node on the embedded database), nodes (three nodes on one",
                "PostgreSQL; one killed, one frozen past its leases), pgstop (PostgreSQL stopped abruptly),",
                "hostile (receivers that drop, fail, throttle, hang, flood, redirect, or are gone),",
                "sigterm (graceful stops under load), failover (kill -9 of a PostgreSQL primary, its standby",
                "promoted; with synchronous replication, then asynchronous as the contrast: failover-sync and",
                "failover-async run one pass). Prints one ledger line per run; exits 1 on any loss (the",
                "asynchronous contrast's losses are reported, not failed)."})
final class ChaosCommand implements Callable<Integer> {
    @Option(names = "--scenario", defaultValue = "all", description = "A scenario name, or all (default: ${DEFAULT-VALUE}).")
    String scenario;

    @Option(names = "--load", defaultValue = "60s", description = "How long each scenario injects faults under load (default: ${DEFAULT-VALUE}).")
    String load;

    @Option(names = "--rate", defaultValue = "100", description = "Events per second sent through the API (default: ${DEFAULT-VALUE}).")
    int rate;

    @Option(names = "--pg-server", defaultValue = "jdbc:postgresql://127.0.0.1:5432/",
            description = "PostgreSQL server for the scenarios that share one (user postgres, trust auth; default: ${DEFAULT-VALUE}).")
    String pgServer;

    @Option(names = "--work-dir", description = "Where node data and logs go (default: a new temporary directory).")
    Path workDir;

    @Override
    public Integer call() throws Exception {
        Path dir = workDir != null ? workDir : Files.createTempDirectory("zerodrop-chaos");
        System.out.println("chaos: logs and data in " + dir);
        Chaos chaos = new Chaos(new Chaos.Settings(Durations.parse(load), rate, dir, pgServer, System.out));
        List<String> scenarios = scenario.equals("all") ? Chaos.SCENARIOS : List.of(scenario.split(","));
        List<Chaos.Result> results = new ArrayList<>();
        for (String sc : scenarios) results.addAll(chaos.run(sc.trim()));
        boolean ok = results.stream().allMatch(Chaos.Result::ok);
        long contrastLost = results.stream().filter(Chaos.Result::contrast).mapToLong(r -> r.report().lost()).sum();
        System.out.println(!ok ? "chaos: FAILED" : "chaos: every scenario passed: nothing acknowledged was lost"
                + (contrastLost > 0 ? " (the asynchronous-replication contrast lost " + contrastLost + ", as it may)" : ""));
        return ok ? 0 : 1;
    }
}
