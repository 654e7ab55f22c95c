package dev.zerodrop.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import dev.zerodrop.Server;
import dev.zerodrop.chaos.Receiver;
import dev.zerodrop.core.Json;
import dev.zerodrop.testing.TestDatabase;
import dev.zerodrop.testing.TestServer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** {@code zerodrop dlq ...} run in-process against a running node. */
class DlqCommandTest {
    static TestDatabase db;
    static TestServer zd;

    @BeforeAll
    static void start() throws Exception {
        db = TestDatabase.create("dlq_cli");
        zd = TestServer.start(TestServer.defaults(db.url()), TestServer.quiet(Server.Options.defaults()));
    }

    @AfterAll
    static void stop() {
        if (zd != null) zd.close();
        if (db != null) db.close();
    }

    /** Runs {@code zerodrop dlq <args> --url <server> --token <token>} and captures its output. */
    static CliRunner.Run dlq(String... args) {
        List<String> all = new ArrayList<>(List.of("dlq"));
        all.addAll(List.of(args));
        all.addAll(List.of("--url", zd.base(), "--token", TestServer.TOKEN));
        return CliRunner.run(all.toArray(String[]::new));
    }

    static CliRunner.Run run(String... args) {
        return CliRunner.run(args);
    }

    @Test
    void listShowReplayAndDiscardAgainstARunningServer() throws Exception {
        try (Receiver r = new Receiver((req, previous) -> Receiver.status(500))) {
            String app = zd.createApp("cli");
            zd.createEndpoint(app, Map.of("url", r.url("/hook")));
            for (int i = 0; i < 2; i++) zd.post("/api/v1/app/" + app + "/msg", Map.of("eventType", "order.paid", "payload", Map.of("i", i)));
            await().atMost(Duration.ofSeconds(30)).until(() -> zd.get("/api/v1/dlq?app_id=" + app).get("data").size() == 2);

            CliRunner.Run list = dlq("list", "--json", "--app", app);
            assertThat(list.exit()).as(list.err()).isZero();
            JsonNode page = Json.MAPPER.readTree(list.out());
            assertThat(page.get("data")).hasSize(2);
            String first = page.get("data").get(0).get("id").asText();
            String second = page.get("data").get(1).get("id").asText();
            assertThat(page.get("data").get(0).get("lastAttempt").get("errorClass").asText()).isEqualTo("http");

            CliRunner.Run table = dlq("list", "--app", app, "--error-class", "http", "--since", "1h");
            assertThat(table.exit()).as(table.err()).isZero();
            assertThat(table.out()).contains("ID", "LAST ERROR", first, second, "order.paid", "http 500");

            CliRunner.Run show = dlq("show", first);
            assertThat(show.exit()).as(show.err()).isZero();
            assertThat(show.out()).contains("state", "dead", "\"i\"", "scheduled");
            assertThat(show.out().lines().filter(l -> l.contains("http") && l.contains("500"))).hasSize(4);

            r.script((req, previous) -> Receiver.ok());
            CliRunner.Run replay = dlq("replay", first);
            assertThat(replay.exit()).as(replay.err()).isZero();
            assertThat(replay.out()).contains("Replayed 1 delivery.", first);
            await().atMost(Duration.ofSeconds(10)).until(() -> r.requests().size() == 9);
            await().atMost(Duration.ofSeconds(10)).until(() -> zd.get("/api/v1/dlq/" + first).get("delivery").get("state").asText().equals("delivered"));
            assertThat(dlq("replay", first).out()).contains("Replayed 0 deliveries.");

            CliRunner.Run json = dlq("replay", "--json", "--app", app, "--error-class", "timeout");
            assertThat(Json.MAPPER.readTree(json.out()).get("replayed").asInt()).isZero();

            CliRunner.Run noReason = dlq("discard", second);
            assertThat(noReason.exit()).isEqualTo(2);
            assertThat(noReason.err()).contains("--reason");
            CliRunner.Run discard = dlq("discard", second, "--reason", "duplicate order");
            assertThat(discard.exit()).as(discard.err()).isZero();
            assertThat(discard.out()).contains("Discarded 1 delivery.");
            assertThat(dlq("list", "--app", app, "--state", "discarded").out()).contains(second, "duplicate order");
            assertThat(dlq("list", "--app", app).out()).contains("No dead deliveries.");

            CliRunner.Run stats = dlq("stats", "--app", app);
            assertThat(stats.out()).contains("discarded", "STATE");
        }
    }

    @Test
    void failuresAreOneLineOnStderrWithAnExitCode() {
        CliRunner.Run noSelector = dlq("replay");
        assertThat(noSelector.exit()).isEqualTo(2);
        assertThat(noSelector.err()).startsWith("zerodrop: ").contains("--app");

        CliRunner.Run missing = dlq("show", "dlv_987654321");
        assertThat(missing.exit()).isEqualTo(1);
        assertThat(missing.err().strip()).startsWith("zerodrop: GET /api/v1/dlq/dlv_987654321 answered 404: not_found").doesNotContain("\n");

        CliRunner.Run badToken = run("dlq", "list", "--url", zd.base(), "--token", "wrong-token-0123456789");
        assertThat(badToken.exit()).isEqualTo(1);
        assertThat(badToken.err()).contains("401", "authentication_failed");

        CliRunner.Run noToken = run("dlq", "list", "--url", zd.base(), "--token", "");
        assertThat(noToken.exit()).isEqualTo(2);
        assertThat(noToken.err()).contains("ZERODROP_TOKEN");

        CliRunner.Run badTime = dlq("list", "--since", "yesterday");
        assertThat(badTime.exit()).isEqualTo(2);
        assertThat(badTime.err()).contains("--since");
    }
}
