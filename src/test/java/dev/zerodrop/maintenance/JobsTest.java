package dev.zerodrop.maintenance;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.zerodrop.chaos.NodeProcess;
import dev.zerodrop.store.Database;
import dev.zerodrop.store.JobStore;
import dev.zerodrop.testing.TestDatabase;
import dev.zerodrop.testing.TestServer;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The cluster's periodic jobs run on one node at a time: three nodes share them, the one that runs
 * them is killed with kill -9, another takes over, and no job ever ran twice at once.
 */
class JobsTest {
    @TempDir
    Path logs;

    static int freePort() throws Exception {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
            return s.getLocalPort();
        }
    }

    @Test
    void threeNodesShareTheJobsAndASurvivorTakesOverFromOneKilled() throws Exception {
        try (TestDatabase db = TestDatabase.create("jobs")) {
            Map<String, String> flags = new LinkedHashMap<>();
            flags.put("db-url", db.url());
            flags.put("admin-token", TestServer.TOKEN);
            flags.put("secret-key", TestServer.SECRET_KEY);
            flags.put("alert-interval", "300ms");
            List<NodeProcess> nodes = new ArrayList<>();
            try {
                for (int i = 0; i < 3; i++) nodes.add(new NodeProcess("jobs-" + i, freePort(), flags, logs).start(Duration.ofSeconds(90)));
                try (Database d = Database.open(db.url(), null, null, 2)) {
                    JobStore store = new JobStore(d.jdbc());
                    await().atMost(Duration.ofSeconds(30)).until(() -> store.recent("alert evaluation", 20).size() >= 10);
                    String leader = store.recent("alert evaluation", 1).getFirst().node();
                    long leaderPid = Long.parseLong(leader.split("-")[leader.split("-").length - 2]);
                    NodeProcess victim = nodes.stream().filter(n -> n.pid() == leaderPid).findFirst().orElseThrow();
                    victim.kill9();
                    long killedAt = System.currentTimeMillis();
                    // A survivor runs the job again: its lock went with the dead node's connection.
                    await().atMost(Duration.ofSeconds(30)).until(() -> store.recent("alert evaluation", 1).getFirst().node().equals(leader)
                            == false && store.recent("alert evaluation", 1).getFirst().startedAt().toEpochMilli() > killedAt);
                    await().atMost(Duration.ofSeconds(30)).until(() -> store.recent("audit counter fold", 50).stream()
                            .anyMatch(r -> !r.node().equals(leader) && r.startedAt().toEpochMilli() > killedAt));

                    // Never two runs of one job at once, on any node.
                    List<JobStore.Run> all = store.recent(null, 100_000);
                    Map<String, List<JobStore.Run>> byJob = all.stream().collect(Collectors.groupingBy(JobStore.Run::job));
                    for (var e : byJob.entrySet()) {
                        List<JobStore.Run> runs = new ArrayList<>(e.getValue());
                        runs.sort((a, b) -> a.startedAt().compareTo(b.startedAt()));
                        for (int i = 1; i < runs.size(); i++) {
                            JobStore.Run before = runs.get(i - 1);
                            if (before.finishedAt() == null) {
                                assertThat(before.node()).as("only a killed node leaves a run unfinished (%s)", e.getKey()).isEqualTo(leader);
                                continue;
                            }
                            assertThat(before.finishedAt()).as("%s ran twice at once: %s and %s", e.getKey(), before, runs.get(i))
                                    .isBeforeOrEqualTo(runs.get(i).startedAt());
                        }
                    }
                    Set<String> nodesThatRan = all.stream().map(JobStore.Run::node).collect(Collectors.toSet());
                    assertThat(nodesThatRan).as("the killed node and a survivor").hasSizeGreaterThanOrEqualTo(2);
                    Map<String, Integer> perJob = new HashMap<>();
                    byJob.forEach((k, v) -> perJob.put(k, v.size()));
                    System.out.println("figures: job runs by job " + perJob + " on nodes " + nodesThatRan);
                }
            } finally {
                for (NodeProcess n : nodes) if (n.alive()) n.kill9();
            }
        }
    }
}
