package dev.zerodrop;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.zerodrop.config.Knob;
import dev.zerodrop.testing.NodeScript;
import dev.zerodrop.testing.TestDatabase;
import dev.zerodrop.testing.TestServer;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Runs src/test/node/sdk-tasks.mjs, the official Svix JavaScript SDK (npm {@code svix}, pinned)
 * unchanged, against a real ZeroDrop node: background tasks (recover, replay-missing, bulk-replay,
 * expunge-all-contents) read and listed through {@code backgroundTask}, expunged content that is
 * never resent, and operational-webhook endpoints whose deliveries the SDK's verifier checks against
 * each endpoint's own secret, before and after a rotation.
 */
class SvixSdkTasksTest {
    @Test
    void svixSdkDrivesTasksReplaysExpungesAndOperationalWebhookEndpoints() throws Exception {
        try (TestDatabase db = TestDatabase.create("sdk_tasks")) {
            Map<Knob, String> knobs = TestServer.defaults(db.url());
            knobs.put(Knob.ALERT_INTERVAL, "200ms");
            try (TestServer zd = TestServer.start(knobs, TestServer.quiet(Server.Options.defaults()))) {
                NodeScript.Run run = NodeScript.run("sdk-tasks.mjs", Map.of("ZD_URL", zd.base(), "ZD_TOKEN", TestServer.TOKEN),
                        Duration.ofSeconds(180));
                System.out.println(run);
                assertThat(run.exitCode()).as("sdk-tasks.mjs failed:\n%s", run).isZero();
                JsonNode verdict = run.verdict();
                assertThat(verdict.path("ok").asBoolean()).as("verdict: %s", verdict).isTrue();
                assertThat(verdict.path("checks").asInt()).as("checks passed").isGreaterThan(60);
            }
        }
    }
}
