package dev.zerodrop.dispatch;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.zerodrop.Server;
import dev.zerodrop.config.Knob;
import dev.zerodrop.chaos.Receiver;
import dev.zerodrop.testing.TestDatabase;
import dev.zerodrop.testing.TestServer;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** A graceful stop releases what it could not finish, records nothing false, and a restart resumes. */
class ShutdownTest {

    @Test
    void requestsStillRunningAfterTheGraceAreAbortedAndTheirLeasesReleased() throws Exception {
        try (TestDatabase db = TestDatabase.create("shutdown");
             Receiver r = new Receiver((req, previous) -> previous == 0 ? new Receiver.Behaviour.Hang() : Receiver.ok())) {
            Map<Knob, String> knobs = TestServer.defaults(db.url());
            knobs.put(Knob.REQUEST_TIMEOUT, "30s");
            knobs.put(Knob.LEASE, "60s");
            knobs.put(Knob.SHUTDOWN_GRACE, "300ms");
            String app;
            String msg;
            try (TestServer zd = TestServer.start(knobs, TestServer.quiet(Server.Options.defaults()))) {
                app = zd.createApp("shutdown");
                zd.createEndpoint(app, Map.of("url", r.url("/hook")));
                msg = zd.post("/api/v1/app/" + app + "/msg", Map.of("eventType", "x", "payload", Map.of())).get("id").asText();
                await().atMost(Duration.ofSeconds(10)).until(() -> r.requests().size() == 1);
            }
            // Released, not leased for another minute, and no attempt was recorded for the aborted request.
            assertThat(TwoDispatchersTest.count(db, "SELECT count(*) FROM delivery WHERE state = 'pending' AND lease_expires_at IS NULL")).isEqualTo(1);
            assertThat(TwoDispatchersTest.count(db, "SELECT count(*) FROM attempt")).isZero();

            try (TestServer again = TestServer.start(knobs, TestServer.quiet(Server.Options.defaults()))) {
                await().atMost(Duration.ofSeconds(10)).until(() -> DeliveryTest.stateOf(again, app, msg).equals("delivered"));
                assertThat(r.requests()).hasSize(2).allMatch(x -> msg.equals(x.header("webhook-id")));
            }
        }
    }
}
