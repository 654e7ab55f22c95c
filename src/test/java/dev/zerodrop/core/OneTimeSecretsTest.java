package dev.zerodrop.core;

import static org.assertj.core.api.Assertions.assertThat;

import dev.zerodrop.chaos.NodeProcess;
import dev.zerodrop.chaos.Receiver;
import dev.zerodrop.testing.TestDatabase;
import dev.zerodrop.testing.TestServer;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A node whose standard output is not a terminal (a child JVM writing to a log file, as under a
 * service manager) makes an admin token and an operational-webhook secret: each goes to a 0600
 * file in the data directory, and the log (standard output and error) holds only the files' paths.
 */
class OneTimeSecretsTest {
    @TempDir
    Path logs;

    @TempDir
    Path data;

    @Test
    void generatedSecretsGoToPrivateFilesNotToTheLog() throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
            port = s.getLocalPort();
        }
        try (TestDatabase db = TestDatabase.create("one_time_secrets"); Receiver receiver = Receiver.alwaysOk()) {
            Map<String, String> flags = new LinkedHashMap<>();
            flags.put("db-url", db.url());
            flags.put("data-dir", data.toString());
            flags.put("secret-key", TestServer.SECRET_KEY);
            flags.put("allow-private-cidrs", "127.0.0.0/8");
            flags.put("operational-webhook-url", receiver.url("/ops"));
            NodeProcess node = new NodeProcess("secrets", port, flags, logs).start(Duration.ofSeconds(60));
            Path tokenFile = data.resolve("admin-token");
            Path secretFile = data.resolve("operational-webhook-secret");
            try {
                for (Path f : new Path[] {tokenFile, secretFile}) {
                    assertThat(f).exists();
                    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(f))).isEqualTo("rw-------");
                }
                String token = Files.readString(tokenFile).strip();
                assertThat(token).matches("zd_[A-Za-z0-9_-]{43}");
                assertThat(Files.readString(secretFile).strip()).startsWith("whsec_");
                HttpResponse<String> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(node.url() + "/api/v1/app"))
                        .header("Authorization", "Bearer " + token).build(), HttpResponse.BodyHandlers.ofString());
                assertThat(r.statusCode()).isEqualTo(200);
                assertThat(node.countInLogs(tokenFile.toAbsolutePath().toString())).isEqualTo(1);
                assertThat(node.countInLogs(secretFile.toAbsolutePath().toString())).isEqualTo(1);
            } finally {
                node.term(Duration.ofSeconds(30));
            }
            String log = Files.readString(logs.resolve("secrets-1.log"));
            String token = Files.readString(tokenFile).strip();
            String secret = Files.readString(secretFile).strip();
            assertThat(log).contains("ZeroDrop listening on").doesNotContain(token).doesNotContain(token.substring(3))
                    .doesNotContain(secret).doesNotContain(secret.substring("whsec_".length()));
        }
    }
}
