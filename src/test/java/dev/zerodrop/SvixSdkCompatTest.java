package dev.zerodrop;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import dev.zerodrop.core.Json;
import dev.zerodrop.testing.NodePackages;
import dev.zerodrop.testing.TestDatabase;
import dev.zerodrop.testing.TestServer;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * Runs both majors of the official Svix JavaScript SDK (npm {@code svix@1} and {@code svix@2}, pinned
 * in src/test/node/package.json) unchanged against a real ZeroDrop node, and verifies every delivery
 * with two real Standard Webhooks verifiers ({@code standardwebhooks} and the {@code svix} package's
 * {@code Webhook}). The scenario lives in src/test/node/sdk-compat.mjs; this test starts the server,
 * runs the script once per major and checks its verdict. svix@1 runs on the machine's Node.js, svix@2
 * on the Node.js 22 that the pinned {@code node22} package installs. Needs {@code node} and
 * {@code npm} on the PATH.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class SvixSdkCompatTest {
    private static final Duration SCRIPT_TIMEOUT = Duration.ofSeconds(120);

    private TestDatabase db;
    private TestServer server;

    @BeforeAll
    void start() throws Exception {
        NodePackages.ensureInstalled();
        db = TestDatabase.create("sdk");
        server = TestServer.start(TestServer.defaults(db.url()), TestServer.quiet(Server.Options.defaults()));
    }

    @AfterAll
    void stop() {
        if (server != null) server.close();
        if (db != null) db.close();
    }

    @Test
    void svix1WorksAndDeliveriesVerify() throws Exception {
        runScenario(1, NodePackages.executable("node"));
    }

    @Test
    void svix2WorksAndDeliveriesVerify() throws Exception {
        Path node22 = NodePackages.node22();
        assertThat(node22).as("the node22 package's binary").isExecutable();
        runScenario(2, node22);
    }

    private void runScenario(int major, Path node) throws Exception {
        assertThat(NodePackages.DIR.resolve("sdk-compat.mjs")).exists();
        Run run = run(List.of(node.toString(), "sdk-compat.mjs"),
                Map.of("ZD_URL", server.base(), "ZD_TOKEN", TestServer.TOKEN, "ZD_SDK", Integer.toString(major)));
        System.out.println("svix@" + major + ": " + run);

        assertThat(run.exitCode()).as("sdk-compat.mjs with svix@%d failed:\n%s", major, run).isZero();
        String last = run.stdout().strip().lines().reduce((a, b) -> b).orElse("");
        JsonNode result = Json.MAPPER.readTree(last);
        assertThat(result.path("ok").asBoolean()).as("verdict: %s", last).isTrue();
        int sent = result.path("sent").asInt(-1);
        assertThat(sent).as("messages sent").isGreaterThanOrEqualTo(20);
        assertThat(result.path("verified").asInt(-1)).as("verified deliveries: %s", last).isGreaterThanOrEqualTo(sent);
        assertThat(result.path("verifyFailures").asInt(-1)).as("failed verifications: %s", last).isZero();
        assertThat(result.path("checks").size()).as("checks passed").isGreaterThan(100);
    }

    private record Run(int exitCode, String stdout, String stderr) {
        @Override
        public String toString() {
            return "exit " + exitCode + "\n--- stdout ---\n" + stdout + "\n--- stderr ---\n" + stderr;
        }
    }

    private Run run(List<String> command, Map<String, String> env) throws IOException, InterruptedException {
        Path out = Files.createTempFile("zd-sdk-", ".out");
        Path err = Files.createTempFile("zd-sdk-", ".err");
        try {
            ProcessBuilder pb = new ProcessBuilder(command).directory(NodePackages.DIR.toFile())
                    .redirectOutput(out.toFile()).redirectError(err.toFile()).redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
            pb.environment().putAll(env);
            Process p = pb.start();
            if (!p.waitFor(SCRIPT_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)) {
                p.descendants().forEach(ProcessHandle::destroyForcibly);
                p.destroyForcibly();
                p.waitFor(10, TimeUnit.SECONDS);
                fail("%s did not finish within %s and was killed.\n--- stdout ---\n%s\n--- stderr ---\n%s", command, SCRIPT_TIMEOUT,
                        Files.readString(out, StandardCharsets.UTF_8), Files.readString(err, StandardCharsets.UTF_8));
            }
            return new Run(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8), Files.readString(err, StandardCharsets.UTF_8));
        } finally {
            Files.deleteIfExists(out);
            Files.deleteIfExists(err);
        }
    }
}
