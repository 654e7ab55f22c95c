package dev.zerodrop;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.zerodrop.testing.NodePackages;
import dev.zerodrop.testing.NodeScript;
import dev.zerodrop.testing.TestDatabase;
import dev.zerodrop.testing.TestServer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
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
        NodeScript.Run run = NodeScript.run(node, "sdk-compat.mjs",
                Map.of("ZD_URL", server.base(), "ZD_TOKEN", TestServer.TOKEN, "ZD_SDK", Integer.toString(major)), SCRIPT_TIMEOUT);
        System.out.println("svix@" + major + ": " + run);

        assertThat(run.exitCode()).as("sdk-compat.mjs with svix@%d failed:\n%s", major, run).isZero();
        JsonNode result = run.verdict();
        String last = result.toString();
        assertThat(result.path("ok").asBoolean()).as("verdict: %s", last).isTrue();
        int sent = result.path("sent").asInt(-1);
        assertThat(sent).as("messages sent").isGreaterThanOrEqualTo(20);
        assertThat(result.path("verified").asInt(-1)).as("verified deliveries: %s", last).isGreaterThanOrEqualTo(sent);
        assertThat(result.path("verifyFailures").asInt(-1)).as("failed verifications: %s", last).isZero();
        assertThat(result.path("checks").size()).as("checks passed").isGreaterThan(100);
    }
}
