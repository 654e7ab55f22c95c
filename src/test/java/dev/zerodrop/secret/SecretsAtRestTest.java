package dev.zerodrop.secret;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import dev.zerodrop.Server;
import dev.zerodrop.chaos.Receiver;
import dev.zerodrop.cli.CliRunner;
import dev.zerodrop.config.Knob;
import dev.zerodrop.core.Json;
import dev.zerodrop.delivery.Signer;
import dev.zerodrop.store.Database;
import dev.zerodrop.testing.LogCapture;
import dev.zerodrop.testing.TestDatabase;
import dev.zerodrop.testing.TestServer;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Secrets at rest: endpoint secrets (given, generated, rotated), header values and operational
 * webhook secrets never reach PostgreSQL in clear; rows stored in clear by an older version are
 * sealed at start and still sign; a key rotation reseals everything; and a value sealed with a key
 * a node does not have is a clear error, never an unsigned delivery.
 */
class SecretsAtRestTest {
    @TempDir
    Path dir;

    /**
     * Every write path with known values, deliveries through both hot paths (leased at ingest, then
     * claimed for the retry), a checkpoint and a stop; then every byte of the data directory (the
     * WAL included) and everything the server logged or printed is searched for each value.
     */
    @Test
    void noKnownSecretIsInTheDataDirectoryWalIncludedNorInTheLogs() throws Exception {
        String tag = UUID.randomUUID().toString().replace("-", "");
        String given = Signer.newSecret();
        String rotatedTo = Signer.newSecret();
        String opGiven = Signer.newSecret();
        String opBoot = Signer.newSecret();
        String credential = "Bearer zd-test-credential-" + tag;
        String apiKey = "zd-test-apikey-" + tag;
        String tenant = "zd-test-tenant-" + tag; // not a sensitive name: sealed all the same
        String opsToken = "zd-test-ops-token-" + tag;
        String canary = "zd-test-canary-" + tag; // an endpoint description: stored in clear, so the search must find it

        Path data = dir.resolve("data");
        Map<Knob, String> k = TestServer.defaults(null);
        k.put(Knob.DATA_DIR, data.toString());
        ByteArrayOutputStream console = new ByteArrayOutputStream();
        List<String> secrets = new ArrayList<>(List.of(given, rotatedTo, opGiven, opBoot, credential, apiKey, tenant, opsToken));
        Map<String, List<String>> signing = new LinkedHashMap<>();
        try (LogCapture logs = LogCapture.start(); Receiver ra = failFirst(); Receiver rb = failFirst(); Receiver rc = Receiver.alwaysOk();
             Receiver ops = Receiver.alwaysOk()) {
            k.put(Knob.OPERATIONAL_WEBHOOK_URL, ops.url("/boot"));
            k.put(Knob.OPERATIONAL_WEBHOOK_SECRET, opBoot);
            Server.Options o = Server.Options.defaults();
            try (TestServer zd = TestServer.start(k, new Server.Options(o.clock(), o.listener(), o.sendHook(),
                    new PrintStream(console, true, StandardCharsets.UTF_8)))) {
                String app = zd.createApp("at-rest");
                String base = "/api/v1/app/" + app + "/endpoint/";
                TestServer.Endpoint a = zd.createEndpoint(app, Map.of("url", ra.url("/a"), "description", canary, "secret", given,
                        "headers", Map.of("Authorization", credential, "X-Tenant", tenant)));
                assertThat(a.secret()).isEqualTo(given);
                TestServer.Endpoint b = zd.createEndpoint(app, Map.of("url", rb.url("/b")));
                TestServer.Endpoint c = zd.createEndpoint(app, Map.of("url", rc.url("/c"), "filterTypes", List.of("never")));
                secrets.addAll(List.of(b.secret(), c.secret()));

                assertThat(zd.call("POST", base + a.id() + "/secret/rotate", Map.of("key", rotatedTo)).status()).isEqualTo(204);
                assertThat(zd.call("POST", base + b.id() + "/secret/rotate", null).status()).isEqualTo(204);
                String bRotated = zd.get(base + b.id() + "/secret").get("key").asText();
                secrets.add(bRotated);
                assertThat(zd.call("PATCH", base + b.id() + "/headers", Map.of("headers", Map.of("X-Api-Key", apiKey))).status()).isEqualTo(204);
                signing.put("/a", List.of(rotatedTo, given));
                signing.put("/b", List.of(bRotated, b.secret()));

                // What the API shows of headers is unchanged: sensitive values withheld, the others in clear.
                JsonNode headers = zd.get(base + a.id() + "/headers");
                assertThat(headers.get("headers").get("X-Tenant").asText()).isEqualTo(tenant);
                assertThat(headers.get("headers").has("Authorization")).isFalse();
                assertThat(headers.get("sensitive")).extracting(JsonNode::asText).containsExactly("Authorization");

                String opBase = "/api/v1/operational-webhook/endpoint";
                JsonNode op = zd.post(opBase, Map.of("url", ops.url("/api"), "secret", opGiven,
                        "filterTypes", List.of("endpoint.disabled"), "headers", Map.of("X-Ops-Token", opsToken)));
                assertThat(zd.get(opBase + "/" + op.get("id").asText() + "/secret").get("key").asText()).isEqualTo(opGiven);

                List<String> msgs = new ArrayList<>();
                for (int i = 0; i < 10; i++) {
                    msgs.add(zd.post("/api/v1/app/" + app + "/msg", Map.of("eventType", "order.paid", "payload", Map.of("i", i))).get("id").asText());
                }
                // The first attempt of each goes out at ingest and fails; the retry is claimed.
                await().atMost(Duration.ofSeconds(30)).until(() -> ra.requests().size() == 20 && rb.requests().size() == 20);
                assertThat(ra.requests()).extracting(req -> req.header("webhook-id")).containsOnlyElementsOf(msgs);
                zd.call("PATCH", base + c.id(), Map.of("disabled", true));
                await().atMost(Duration.ofSeconds(30)).until(() -> ops.requests().stream().map(Receiver.Request::path).toList()
                        .containsAll(List.of("/boot", "/api")));

                for (Receiver.Request req : ra.requests()) {
                    assertThat(req.header("authorization")).isEqualTo(credential);
                    assertThat(req.header("x-tenant")).isEqualTo(tenant);
                }
                assertThat(rb.requests()).allMatch(req -> apiKey.equals(req.header("x-api-key")));
                verifyAll(ra, signing.get("/a"));
                verifyAll(rb, signing.get("/b"));
                for (Receiver.Request req : ops.requests()) {
                    verifyAll(List.of(req), List.of(req.path().equals("/boot") ? opBoot : opGiven));
                    if (req.path().equals("/api")) assertThat(req.header("x-ops-token")).isEqualTo(opsToken);
                }

                JsonNode status = zd.get("/api/v1/secrets");
                assertThat(status.get("clear").asLong()).isZero();
                assertThat(status.get("toReseal").asLong()).isZero();
                // Written to the data files now, not only to the WAL.
                zd.server().database().jdbc().update("CHECKPOINT");
            }
            List<String> needles = new ArrayList<>(secrets);
            for (String s : secrets) if (s.startsWith("whsec_")) needles.add(s.substring("whsec_".length()));

            Map<String, List<Path>> found = search(data, needles);
            assertThat(found).as("secrets found in the data directory").isEmpty();
            Map<String, List<Path>> canaryFound = search(data, List.of(canary));
            assertThat(canaryFound.get(canary)).as("the search reads the WAL and the tables: it finds a value stored in clear")
                    .anyMatch(p -> p.toString().contains("pg_wal")).anyMatch(p -> p.toString().contains("base"));

            String logged = logs.text();
            assertThat(logged).as("the server logged").contains("ZeroDrop listening");
            String printed = console.toString(StandardCharsets.UTF_8);
            for (String s : needles) {
                assertThat(logged).as("the log").doesNotContain(s);
                assertThat(printed).as("the console").doesNotContain(s);
            }
            System.out.printf("at rest: %d secret values (and their base64 key material) searched in %d files of %d MiB "
                    + "and %d log lines: none found; the canary found in %d files%n", secrets.size(), fileCount(data), bytes(data) >> 20,
                    logs.lines(), canaryFound.get(canary).size());
        }
    }

    /**
     * Rows stored in clear by a version before sealing are sealed at the next start, before the node
     * serves, and still sign (current and rotated secrets) and authenticate (header values). A key
     * put first in the ring seals everything again at start; then the old key can go.
     */
    @Test
    void clearRowsOfAnOlderVersionAreSealedAtStartStillSignAndFollowAKeyRotation() throws Exception {
        String first = Sealer.newKey();
        String second = Sealer.newKey();
        String firstId = new Sealer(Sealer.parse(first)).currentKeyId();
        String secondId = new Sealer(Sealer.parse(second)).currentKeyId();
        String current = Signer.newSecret();
        String rotated = Signer.newSecret();
        String credential = "Bearer zd-test-legacy-" + UUID.randomUUID();
        try (TestDatabase tdb = TestDatabase.create("legacy_seal"); Database db = Database.open(tdb.url(), null, null, 2);
             Receiver r = Receiver.alwaysOk()) {
            Map<Knob, String> k = TestServer.defaults(tdb.url());
            k.put(Knob.SECRET_KEY, first);
            String app;
            String ep;
            try (TestServer zd = TestServer.start(k, TestServer.quiet(Server.Options.defaults()))) {
                app = zd.createApp("legacy");
                ep = zd.createEndpoint(app, Map.of("url", r.url("/legacy"))).id();
            }
            // As a version before sealing stored it: everything in clear, a rotation in its grace period.
            long graceEnds = Instant.now().plus(Duration.ofDays(1)).toEpochMilli();
            db.jdbc().update("UPDATE endpoint SET secret = ?, old_secrets = ?::jsonb, headers = ?::jsonb WHERE id = ?", current,
                    Json.write(List.of(Map.of("key", rotated, "expiresAt", graceEnds))), Json.write(Map.of("Authorization", credential)), ep);
            assertThat(values(db, ep)).contains(current, rotated, credential);

            try (TestServer zd = TestServer.start(k, TestServer.quiet(Server.Options.defaults()))) {
                assertThat(values(db, ep)).as("sealed at start, before the node serves")
                        .allMatch(v -> v.startsWith("zd1:" + firstId + ":"))
                        .noneMatch(v -> v.contains(current) || v.contains(rotated) || v.contains("zd-test-legacy"));
                assertThat(zd.get("/api/v1/app/" + app + "/endpoint/" + ep + "/secret").get("key").asText()).isEqualTo(current);
                deliverAndVerify(zd, app, r, List.of(current, rotated), credential);
                JsonNode s = zd.get("/api/v1/secrets");
                assertThat(s.get("clear").asLong()).isZero();
                assertThat(s.get("currentKeyId").asText()).isEqualTo(firstId);
            }

            // Rotation, step 2 of the runbook: the new key first, the old one still loaded to open.
            k.put(Knob.SECRET_KEY, second + "," + first);
            try (TestServer zd = TestServer.start(k, TestServer.quiet(Server.Options.defaults()))) {
                assertThat(values(db, ep)).allMatch(v -> v.startsWith("zd1:" + secondId + ":"));
                JsonNode s = zd.get("/api/v1/secrets");
                assertThat(s.get("currentKeyId").asText()).isEqualTo(secondId);
                assertThat(s.get("toReseal").asLong()).isZero();
                assertThat(s.get("unopenable").asLong()).isZero();
                Map<String, Long> byKey = new LinkedHashMap<>();
                for (JsonNode key : s.get("keys")) byKey.put(key.get("keyId").asText(), key.get("values").asLong());
                assertThat(byKey).containsEntry(firstId, 0L);
                assertThat(byKey.get(secondId)).isGreaterThanOrEqualTo(4); // the endpoint's three values and the server's own
                CliRunner.Run cli = CliRunner.run("secrets", "--url", zd.base(), "--token", TestServer.TOKEN);
                assertThat(cli.exit()).as(cli.err()).isZero();
                assertThat(cli.out()).startsWith("OK current key " + secondId + ": " + byKey.get(secondId) + " values sealed with it, 0 in clear")
                        .containsPattern(firstId + "\\s+0\\s+no\\s+yes");
                deliverAndVerify(zd, app, r, List.of(current, rotated), credential);
            }

            // Step 4: the old key goes; nothing needs it any more.
            k.put(Knob.SECRET_KEY, second);
            try (TestServer zd = TestServer.start(k, TestServer.quiet(Server.Options.defaults()))) {
                deliverAndVerify(zd, app, r, List.of(current, rotated), credential);
            }

            // A node given another key altogether stops at start, saying why, before it serves anything.
            k.put(Knob.SECRET_KEY, Sealer.newKey());
            assertThatThrownBy(() -> TestServer.start(k, TestServer.quiet(Server.Options.defaults())))
                    .isInstanceOf(Sealer.SealedException.class).hasMessageContaining("sealed with key " + secondId)
                    .hasMessageContaining("ZERODROP_SECRET_KEY");
        }
    }

    /**
     * One endpoint sealed with a key this node does not have (copied in, or its key removed too
     * early): the API says so in a JSON error; its deliveries are never sent unsigned but recorded as
     * internal attempts; every other endpoint goes on; the status and the reseal name the key.
     */
    @Test
    void anEndpointSealedWithAKeyThisNodeDoesNotHaveIsAClearErrorAndAnInternalAttempt() throws Exception {
        Sealer foreign = new Sealer(Sealer.parse(Sealer.newKey()));
        try (TestDatabase tdb = TestDatabase.create("foreign_seal"); Database db = Database.open(tdb.url(), null, null, 2);
             Receiver good = Receiver.alwaysOk(); Receiver bad = Receiver.alwaysOk();
             TestServer zd = TestServer.start(TestServer.defaults(tdb.url()), TestServer.quiet(Server.Options.defaults()))) {
            String app = zd.createApp("foreign");
            String base = "/api/v1/app/" + app + "/endpoint/";
            TestServer.Endpoint g = zd.createEndpoint(app, Map.of("url", good.url("/good")));
            TestServer.Endpoint x = zd.createEndpoint(app, Map.of("url", bad.url("/bad")));
            db.jdbc().update("UPDATE endpoint SET secret = ? WHERE id = ?", foreign.seal("endpoint.secret/" + x.id(), Signer.newSecret()), x.id());

            TestServer.Response secret = zd.call("GET", base + x.id() + "/secret", null);
            assertThat(secret.status()).isEqualTo(500);
            assertThat(secret.json().get("code").asText()).isEqualTo("secret_unavailable");
            assertThat(secret.json().get("detail").asText()).contains(foreign.currentKeyId()).contains("ZERODROP_SECRET_KEY")
                    .doesNotContain("Exception").doesNotContain("at dev.");
            assertThat(zd.call("GET", base + x.id() + "/headers", null).json().get("code").asText()).isEqualTo("secret_unavailable");
            assertThat(zd.call("POST", base + x.id() + "/secret/rotate", null).status()).isEqualTo(500);
            // What needs no secret still answers.
            assertThat(zd.call("GET", base + x.id(), null).status()).isEqualTo(200);
            assertThat(zd.get("/api/v1/app/" + app + "/endpoint").get("data")).hasSize(2);

            String msg = zd.post("/api/v1/app/" + app + "/msg", Map.of("eventType", "e", "payload", Map.of("n", 1))).get("id").asText();
            await().atMost(Duration.ofSeconds(30)).until(() -> good.requests().size() == 1
                    && zd.get("/api/v1/app/" + app + "/attempt/endpoint/" + x.id()).get("data").size() >= 1);
            JsonNode attempt = zd.get("/api/v1/app/" + app + "/attempt/endpoint/" + x.id()).get("data").get(0);
            assertThat(attempt.get("errorClass").asText()).isEqualTo("internal");
            assertThat(attempt.get("msgId").asText()).isEqualTo(msg);
            assertThat(attempt.get("response").asText()).contains("do not open on this node");
            assertThat(bad.requests()).as("nothing is sent unsigned").isEmpty();
            assertThat(Signer.verify(g.secret(), msg, good.requests().getFirst().header("webhook-timestamp"),
                    good.requests().getFirst().header("webhook-signature"), good.requests().getFirst().body(), Instant.now().getEpochSecond(), 300))
                    .isTrue();

            JsonNode status = zd.get("/api/v1/secrets");
            assertThat(status.get("unopenable").asLong()).isEqualTo(1);
            JsonNode missing = null;
            for (JsonNode key : status.get("keys")) if (key.get("keyId").asText().equals(foreign.currentKeyId())) missing = key;
            assertThat(missing).isNotNull();
            assertThat(missing.get("loaded").asBoolean()).isFalse();
            JsonNode resealed = zd.post("/api/v1/secrets/reseal", Map.of()).get("resealed");
            assertThat(resealed.get("unopenable").asInt()).isEqualTo(1);
            assertThat(resealed.get("missingKeyIds")).extracting(JsonNode::asText).containsExactly(foreign.currentKeyId());
            CliRunner.Run cli = CliRunner.run("secrets", "--url", zd.base(), "--token", TestServer.TOKEN);
            assertThat(cli.exit()).isZero();
            assertThat(cli.out()).startsWith("ATTENTION").contains("1 that do not open here")
                    .containsPattern(foreign.currentKeyId() + "\\s+1\\s+no\\s+NO");
        }
    }

    // ---- helpers ---------------------------------------------------------------------------------

    private static Receiver failFirst() throws IOException {
        return new Receiver((req, n) -> n == 0 ? Receiver.status(500) : Receiver.ok());
    }

    private static void verifyAll(Receiver r, List<String> secrets) {
        verifyAll(r.requests(), secrets);
    }

    /** Each request carries a valid signature for each of {@code secrets}. */
    private static void verifyAll(List<Receiver.Request> requests, List<String> secrets) {
        assertThat(requests).isNotEmpty();
        long now = Instant.now().getEpochSecond();
        for (Receiver.Request req : requests) {
            for (String s : secrets) {
                assertThat(Signer.verify(s, req.header("webhook-id"), req.header("webhook-timestamp"), req.header("webhook-signature"),
                        req.body(), now, 300)).as("signed with each secret").isTrue();
            }
        }
    }

    private static void deliverAndVerify(TestServer zd, String app, Receiver r, List<String> secrets, String credential) {
        int before = r.requests().size();
        String msg = zd.post("/api/v1/app/" + app + "/msg", Map.of("eventType", "e", "payload", Map.of("at", before))).get("id").asText();
        await().atMost(Duration.ofSeconds(30)).until(() -> r.requests().size() > before);
        Receiver.Request req = r.requests().get(before);
        assertThat(req.header("webhook-id")).isEqualTo(msg);
        assertThat(req.header("authorization")).isEqualTo(credential);
        verifyAll(List.of(req), secrets);
    }

    /** The endpoint's stored values: its secret, its rotated secrets and its header values, as PostgreSQL has them. */
    private static List<String> values(Database db, String endpointId) {
        return db.jdbc().query("""
                SELECT secret AS v FROM endpoint WHERE id = ?
                UNION ALL SELECT o->>'key' FROM endpoint, jsonb_array_elements(old_secrets) o WHERE id = ?
                UNION ALL SELECT h.value FROM endpoint, jsonb_each_text(headers) h WHERE id = ?""",
                rs -> rs.getString(1), endpointId, endpointId, endpointId);
    }

    /** Which files under {@code root} hold each needle's bytes (binary-safe: every file, byte for byte). */
    private static Map<String, List<Path>> search(Path root, List<String> needles) throws IOException {
        Map<String, List<Path>> found = new LinkedHashMap<>();
        try (Stream<Path> files = Files.walk(root)) {
            for (Path f : files.filter(Files::isRegularFile).toList()) {
                // ISO-8859-1 maps each byte to one char: indexOf then finds the exact bytes of an ASCII needle.
                String bytes = new String(Files.readAllBytes(f), StandardCharsets.ISO_8859_1);
                for (String n : needles) if (bytes.contains(n)) found.computeIfAbsent(n, x -> new ArrayList<>()).add(f);
            }
        }
        return found;
    }

    private static long fileCount(Path root) throws IOException {
        try (Stream<Path> files = Files.walk(root)) {
            return files.filter(Files::isRegularFile).count();
        }
    }

    private static long bytes(Path root) throws IOException {
        try (Stream<Path> files = Files.walk(root)) {
            return files.filter(Files::isRegularFile).mapToLong(p -> p.toFile().length()).sum();
        }
    }
}
