package dev.zerodrop.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.zerodrop.Server;
import dev.zerodrop.core.Json;
import dev.zerodrop.testing.TestDatabase;
import dev.zerodrop.testing.TestServer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** {@code zerodrop keys ...} run in-process against a running node. */
class KeysCommandTest {
    static TestDatabase db;
    static TestServer zd;

    @BeforeAll
    static void start() throws Exception {
        db = TestDatabase.create("keys_cli");
        zd = TestServer.start(TestServer.defaults(db.url()), TestServer.quiet(Server.Options.defaults()));
    }

    @AfterAll
    static void stop() {
        if (zd != null) zd.close();
        if (db != null) db.close();
    }

    static CliRunner.Run keys(String token, String... args) {
        List<String> all = new ArrayList<>(List.of("keys"));
        all.addAll(List.of(args));
        all.addAll(List.of("--url", zd.base(), "--token", token));
        return CliRunner.run(all.toArray(String[]::new));
    }

    @Test
    void createListGetAndRevokeAgainstARunningServer() throws Exception {
        String app = zd.post("/api/v1/app", Map.of("name", "cli keys", "uid", "cli-keys")).get("id").asText();

        CliRunner.Run created = keys(TestServer.TOKEN, "create", "--name", "shop-team", "--app", "cli-keys", "--read-only", "--expires", "90d");
        assertThat(created.exit()).as(created.err()).isZero();
        assertThat(created.out()).contains("Made key tok_", "app " + app, "read-only", "shown this once");
        String token = created.out().lines().map(String::strip).filter(l -> l.startsWith("zd_")).findFirst().orElseThrow();
        assertThat(zd.callAs(token, "GET", "/api/v1/app/" + app, null).status()).isEqualTo(200);

        CliRunner.Run json = keys(TestServer.TOKEN, "create", "--name", "ci", "--admin", "--json");
        assertThat(json.exit()).as(json.err()).isZero();
        JsonNode admin = Json.MAPPER.readTree(json.out());
        assertThat(admin.get("scope").asText()).isEqualTo("admin");
        assertThat(admin.get("token").asText()).startsWith(admin.get("prefix").asText());

        CliRunner.Run list = keys(TestServer.TOKEN, "list");
        assertThat(list.exit()).as(list.err()).isZero();
        assertThat(list.out()).contains("ID", "PREFIX", "LAST USED", "shop-team", "ci", token.substring(0, 12), "read-only")
                .doesNotContain(token.substring(12));
        String id = list.out().lines().filter(l -> l.contains("shop-team")).findFirst().orElseThrow().split("\\s+")[0];
        assertThat(keys(TestServer.TOKEN, "list", "--app", "cli-keys").out()).contains("shop-team").doesNotContain(" ci ");

        CliRunner.Run get = keys(TestServer.TOKEN, "get", id);
        assertThat(get.exit()).as(get.err()).isZero();
        assertThat(get.out()).contains("shop-team", "app " + app, "expires");

        // An application key may not manage keys.
        CliRunner.Run refused = keys(token, "list");
        assertThat(refused.exit()).isEqualTo(1);
        assertThat(refused.err()).contains("403", "forbidden");

        CliRunner.Run revoke = keys(TestServer.TOKEN, "revoke", id);
        assertThat(revoke.exit()).as(revoke.err()).isZero();
        assertThat(revoke.out()).contains("Revoked " + id + ".");
        assertThat(zd.callAs(token, "GET", "/api/v1/app/" + app, null).status()).isEqualTo(401);
        assertThat(keys(TestServer.TOKEN, "list").out()).doesNotContain("shop-team");
        assertThat(keys(TestServer.TOKEN, "list", "--revoked").out()).contains("shop-team");
    }

    @Test
    void usageErrorsAndHelp() {
        CliRunner.Run both = keys(TestServer.TOKEN, "create", "--name", "x", "--admin", "--app", "a");
        assertThat(both.exit()).isEqualTo(2);
        CliRunner.Run neither = keys(TestServer.TOKEN, "create", "--name", "x");
        assertThat(neither.exit()).isEqualTo(2);
        CliRunner.Run badExpiry = keys(TestServer.TOKEN, "create", "--name", "x", "--admin", "--expires", "soon");
        assertThat(badExpiry.exit()).isEqualTo(2);
        assertThat(badExpiry.err()).contains("--expires");
        CliRunner.Run help = CliRunner.run("keys", "--help");
        assertThat(help.exit()).isZero();
        assertThat(help.out()).contains("create", "list", "get", "revoke", "Examples:", "zerodrop keys create --name");
        assertThat(CliRunner.run("keys", "create", "--help").out()).contains("--read-only", "--expires", "Example:");
    }
}
