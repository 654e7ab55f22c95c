package dev.zerodrop;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.zerodrop.testing.NodeScript;
import dev.zerodrop.testing.TestDatabase;
import dev.zerodrop.testing.TestServer;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Runs src/test/node/sdk-portal.mjs: the official Svix JavaScript SDK (svix@1, pinned), unchanged,
 * gets an app-portal token for one application through {@code authentication.appPortalAccess}; a
 * client made with that token works on its application, gets 404 for every call on another one,
 * lists only its own, and gets 401 after logout and expire-all.
 */
class SvixSdkPortalTest {
    @Test
    void aPortalTokenWorksOnItsApplicationAndFindsNoOther() throws Exception {
        try (TestDatabase db = TestDatabase.create("sdk_portal");
             TestServer zd = TestServer.start(TestServer.defaults(db.url()), TestServer.quiet(Server.Options.defaults()))) {
            NodeScript.Run run = NodeScript.run("sdk-portal.mjs", Map.of("ZD_URL", zd.base(), "ZD_TOKEN", TestServer.TOKEN),
                    Duration.ofSeconds(120));
            System.out.println(run);
            assertThat(run.exitCode()).as("sdk-portal.mjs failed:\n%s", run).isZero();
            JsonNode verdict = run.verdict();
            assertThat(verdict.path("ok").asBoolean()).as("verdict: %s", verdict).isTrue();
            assertThat(verdict.path("checks").asInt()).as("checks passed").isGreaterThan(40);
        }
    }
}
