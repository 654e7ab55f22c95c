package dev.zerodrop;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.zerodrop.testing.NodeScript;
import dev.zerodrop.testing.TestDatabase;
import dev.zerodrop.testing.TestServer;
import java.io.IOException;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * Runs the official Svix JavaScript SDK (npm {@code svix}, pinned in src/test/node/package.json)
 * unchanged against a real ZeroDrop node, and verifies every delivery with two real Standard Webhooks
 * verifiers ({@code standardwebhooks} and the {@code svix} package's {@code Webhook}). The scenario
 * lives in src/test/node/sdk-compat.mjs; this test starts the server, runs the script and checks its
 * verdict. Needs {@code node} and {@code npm} on the PATH.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class SvixSdkCompatTest {
    private static final Duration SCRIPT_TIMEOUT = Duration.ofSeconds(120);

    private TestDatabase db;
    private TestServer server;

    @BeforeAll
    void start() throws IOException {
        db = TestDatabase.create("sdk");
        server = TestServer.start(TestServer.defaults(db.url()), TestServer.quiet(Server.Options.defaults()));
    }

    @AfterAll
    void stop() {
        if (server != null) server.close();
        if (db != null) db.close();
    }

    @Test
    void officialSvixSdkWorksAndDeliveriesVerify() throws Exception {
        NodeScript.Run run = NodeScript.run("sdk-compat.mjs", Map.of("ZD_URL", server.base(), "ZD_TOKEN", TestServer.TOKEN), SCRIPT_TIMEOUT);
        System.out.println(run);

        assertThat(run.exitCode()).as("sdk-compat.mjs failed:\n%s", run).isZero();
        JsonNode result = run.verdict();
        String last = result.toString();
        assertThat(result.path("ok").asBoolean()).as("verdict: %s", last).isTrue();
        int sent = result.path("sent").asInt(-1);
        assertThat(sent).as("messages sent").isGreaterThanOrEqualTo(20);
        assertThat(result.path("verified").asInt(-1)).as("verified deliveries: %s", last).isGreaterThanOrEqualTo(sent);
        assertThat(result.path("verifyFailures").asInt(-1)).as("failed verifications: %s", last).isZero();
        assertThat(result.path("checks").size()).as("checks passed").isGreaterThan(50);
    }
}
