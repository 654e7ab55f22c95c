package dev.zerodrop.dlq;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import dev.zerodrop.Server;
import dev.zerodrop.chaos.Receiver;
import dev.zerodrop.config.Knob;
import dev.zerodrop.testing.TestDatabase;
import dev.zerodrop.testing.TestServer;
import java.math.BigDecimal;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.StreamSupport;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The dead-letter queue end to end, on the machine's PostgreSQL with real receivers on 127.0.0.1.
 * {@code zd} dispatches; {@code quiet} is an API-only node on a database of its own, where
 * deliveries stay where a test puts them (replay spreading, retention).
 */
class DlqTest {
    static TestDatabase db;
    static TestServer zd;
    static TestDatabase quietDb;
    static TestServer quiet;

    @BeforeAll
    static void start() throws Exception {
        db = TestDatabase.create("dlq");
        zd = TestServer.start(TestServer.defaults(db.url()), TestServer.quiet(Server.Options.defaults()));
        quietDb = TestDatabase.create("dlq_quiet");
        Map<Knob, String> knobs = TestServer.defaults(quietDb.url());
        knobs.put(Knob.DISPATCH, "false");
        knobs.put(Knob.REPLAY_RATE, "1");
        knobs.put(Knob.DLQ_RETENTION, "30d");
        quiet = TestServer.start(knobs, TestServer.quiet(Server.Options.defaults()));
    }

    @AfterAll
    static void stop() {
        if (zd != null) zd.close();
        if (db != null) db.close();
        if (quiet != null) quiet.close();
        if (quietDb != null) quietDb.close();
    }

    @Test
    void deadDeliveriesAreListedWithTheLastErrorClassAndInspectShowsEveryAttempt() throws Exception {
        try (Receiver r = new Receiver((req, previous) -> Receiver.status(503))) {
            String app = zd.createApp("listed");
            var failing = zd.createEndpoint(app, Map.of("url", r.url("/hook")));
            // Nothing listens on port 1 of the loopback: every attempt is a refused connection.
            var refused = zd.createEndpoint(app, Map.of("url", "http://127.0.0.1:1/hook"));
            String msg = send(zd, app, "order.paid", Map.of("n", 1));
            await().atMost(Duration.ofSeconds(30)).until(() -> dlq(zd, "?app_id=" + app).size() == 2);

            List<JsonNode> all = dlq(zd, "?app_id=" + app);
            JsonNode http = all.stream().filter(x -> x.get("endpointId").asText().equals(failing.id())).findFirst().orElseThrow();
            assertThat(http.get("id").asText()).startsWith("dlv_");
            assertThat(http.get("msgId").asText()).isEqualTo(msg);
            assertThat(http.get("eventType").asText()).isEqualTo("order.paid");
            assertThat(http.get("state").asText()).isEqualTo("dead");
            assertThat(http.get("attempts").asInt()).isEqualTo(4); // schedule 100ms,200ms,300ms: 1 + 3 attempts
            assertThat(http.get("deadAt").isNull()).isFalse();
            // The dispatcher's fenced completion records when the delivery went dead.
            assertThat(query(db, "SELECT state_changed_at = updated_at FROM delivery WHERE id = " + number(http.get("id").asText())))
                    .containsExactly("t");
            assertThat(http.get("lastAttempt").get("errorClass").asText()).isEqualTo("http");
            assertThat(http.get("lastAttempt").get("responseStatusCode").asInt()).isEqualTo(503);
            assertThat(http.get("lastAttempt").get("response").asText()).isEqualTo("status 503");
            assertThat(http.get("value").isNull()).isTrue();

            assertThat(ids(dlq(zd, "?app_id=" + app + "&error_class=connect"))).containsExactly(idOf(all, refused.id()));
            assertThat(ids(dlq(zd, "?app_id=" + app + "&error_class=http"))).containsExactly(http.get("id").asText());
            assertThat(dlq(zd, "?app_id=" + app + "&error_class=timeout")).isEmpty();
            assertThat(dlq(zd, "?app_id=" + app + "&endpoint_id=" + failing.id())).hasSize(1);
            assertThat(dlq(zd, "?app_id=" + app + "&event_type=order.refunded")).isEmpty();
            assertThat(dlq(zd, "?app_id=" + app + "&since=" + Instant.now().plusSeconds(60))).isEmpty();
            assertThat(dlq(zd, "?app_id=" + app + "&until=" + Instant.now().plusSeconds(60))).hasSize(2);
            assertThat(zd.call("GET", "/api/v1/dlq?error_class=gremlins", null).status()).isEqualTo(422);

            // Pages of one, walked with the iterator.
            JsonNode first = zd.get("/api/v1/dlq?app_id=" + app + "&limit=1");
            assertThat(first.get("done").asBoolean()).isFalse();
            JsonNode second = zd.get("/api/v1/dlq?app_id=" + app + "&limit=1&iterator=" + first.get("iterator").asText());
            assertThat(second.get("data")).hasSize(1);
            assertThat(second.get("data").get(0).get("id")).isNotEqualTo(first.get("data").get(0).get("id"));

            JsonNode detail = zd.get("/api/v1/dlq/" + http.get("id").asText());
            assertThat(detail.get("delivery").get("id")).isEqualTo(http.get("id"));
            assertThat(detail.get("message").get("payload").get("n").asInt()).isEqualTo(1);
            List<JsonNode> attempts = StreamSupport.stream(detail.get("attempts").spliterator(), false).toList();
            assertThat(attempts).extracting(x -> x.get("attemptNumber").asInt()).containsExactly(1, 2, 3, 4);
            assertThat(attempts).allMatch(x -> x.get("errorClass").asText().equals("http") && x.get("responseStatusCode").asInt() == 503);
            assertThat(detail.get("actions")).isEmpty();
            assertThat(zd.call("GET", "/api/v1/dlq/dlv_999999999", null).status()).isEqualTo(404);
            assertThat(zd.call("GET", "/api/v1/dlq/nonsense", null).status()).isEqualTo(404);
        }
    }

    @Test
    void replayRedeliversWithAFreshBudgetAndReplayingAgainChangesNothing() throws Exception {
        try (Receiver r = new Receiver((req, previous) -> Receiver.status(500))) {
            String app = zd.createApp("replayed");
            var ep = zd.createEndpoint(app, Map.of("url", r.url("/hook")));
            String msg = send(zd, app, "x", Map.of());
            await().atMost(Duration.ofSeconds(30)).until(() -> dlq(zd, "?app_id=" + app).size() == 1);
            String id = dlq(zd, "?app_id=" + app).getFirst().get("id").asText();
            assertThat(r.requests()).hasSize(4);

            r.script((req, previous) -> Receiver.ok());
            var replay = zd.call("POST", "/api/v1/dlq/replay", Map.of("appId", app, "endpointId", ep.id()));
            assertThat(replay.status()).isEqualTo(202);
            assertThat(replay.json().get("replayed").asInt()).isEqualTo(1);
            assertThat(replay.json().get("ids").get(0).asText()).isEqualTo(id);
            await().atMost(Duration.ofSeconds(10)).until(() -> state(db, id).equals("delivered"));
            assertThat(r.requests()).hasSize(5);
            assertThat(r.requests().getLast().header("webhook-id")).isEqualTo(msg);

            JsonNode detail = zd.get("/api/v1/dlq/" + id);
            JsonNode lastAttempt = detail.get("attempts").get(4);
            assertThat(lastAttempt.get("attemptNumber").asInt()).isEqualTo(5);
            assertThat(lastAttempt.get("triggerType").asInt()).isEqualTo(1); // manual
            assertThat(lastAttempt.get("status").asInt()).isZero();
            assertThat(detail.get("actions")).hasSize(1);
            assertThat(detail.get("actions").get(0).get("action").asText()).isEqualTo("replay");
            assertThat(detail.get("actions").get(0).get("actor").asText()).isEqualTo(adminTokenId(db));
            assertThat(query(db, "SELECT budget_base FROM delivery WHERE id = " + number(id)).getFirst()).isEqualTo("4");

            // The same selection again, and the single-delivery route: nothing is dead, nothing changes.
            var again = zd.call("POST", "/api/v1/dlq/replay", Map.of("appId", app, "endpointId", ep.id()));
            assertThat(again.status()).isEqualTo(202);
            assertThat(again.json().get("replayed").asInt()).isZero();
            assertThat(again.json().get("ids")).isEmpty();
            assertThat(zd.call("POST", "/api/v1/dlq/" + id + "/replay", null).json().get("replayed").asInt()).isZero();
            assertThat(state(db, id)).isEqualTo("delivered");
            assertThat(query(db, "SELECT count(*) FROM delivery_action WHERE delivery_id = " + number(id)).getFirst()).isEqualTo("1");
            assertThat(r.requests()).hasSize(5);

            assertThat(zd.call("POST", "/api/v1/dlq/replay", Map.of()).status()).isEqualTo(422);
            assertThat(zd.call("POST", "/api/v1/dlq/replay", null).status()).isEqualTo(422);
            assertThat(zd.call("POST", "/api/v1/dlq/replay", "{\"ids\": null}").status()).isEqualTo(422);
            assertThat(zd.call("POST", "/api/v1/dlq/replay", Map.of("ids", List.of())).status()).isEqualTo(422);
            assertThat(zd.call("POST", "/api/v1/dlq/replay", Map.of("ids", List.of("dlv_x"))).status()).isEqualTo(422);
            assertThat(zd.call("POST", "/api/v1/dlq/replay", Map.of("errorClass", "gremlins")).status()).isEqualTo(422);
        }
    }

    @Test
    void aBigReplayIsSpreadAtTheReplayRatePerEndpoint() {
        // The quiet node does not dispatch, so the deliveries stay where the replay puts them.
        String app = quiet.createApp("spread");
        var a = quiet.createEndpoint(app, Map.of("url", "http://127.0.0.1:1/a"));
        var b = quiet.createEndpoint(app, Map.of("url", "http://127.0.0.1:1/b"));
        for (int i = 0; i < 25; i++) send(quiet, app, "x", Map.of("i", i));
        killAll(quietDb, app);

        List<String> firstTen = query(quietDb, "SELECT 'dlv_' || id FROM delivery WHERE endpoint_id = '" + a.id() + "' ORDER BY id LIMIT 10");
        var first = quiet.call("POST", "/api/v1/dlq/replay", Map.of("ids", firstTen));
        assertThat(first.json().get("replayed").asInt()).isEqualTo(10);
        var rest = quiet.call("POST", "/api/v1/dlq/replay", Map.of("appId", app));
        assertThat(rest.json().get("replayed").asInt()).isEqualTo(40);
        assertThat(rest.json().get("ids")).hasSize(40);

        // ZERODROP_REPLAY_RATE=1: one second apart per endpoint, and the second replay (well within the first's
        // ten seconds) continues after the first.
        for (var ep : List.of(a, b)) {
            List<Long> dueMicros = query(quietDb, "SELECT (extract(epoch FROM next_attempt_at) * 1000000)::bigint FROM delivery"
                    + " WHERE endpoint_id = '" + ep.id() + "' AND state = 'pending' AND manual ORDER BY next_attempt_at").stream()
                    .map(Long::valueOf).toList();
            assertThat(dueMicros).hasSize(25);
            for (int i = 1; i < dueMicros.size(); i++) {
                assertThat(dueMicros.get(i) - dueMicros.get(i - 1)).as("gap %d of %s, in microseconds", i, ep.id()).isEqualTo(1_000_000);
            }
        }
        assertThat(query(quietDb, "SELECT count(*) FROM delivery WHERE app_id = '" + app + "' AND budget_base = attempts AND manual")
                .getFirst()).isEqualTo("50");
    }

    @Test
    void aDiscardIsAuditedListedAndStillCounted() throws Exception {
        try (Receiver r = new Receiver((req, previous) -> Receiver.status(500))) {
            String app = zd.createApp("discarded");
            zd.createEndpoint(app, Map.of("url", r.url("/hook")));
            send(zd, app, "x", Map.of());
            send(zd, app, "x", Map.of());
            await().atMost(Duration.ofSeconds(30)).until(() -> dlq(zd, "?app_id=" + app).size() == 2);
            String id = dlq(zd, "?app_id=" + app).getFirst().get("id").asText();

            assertThat(zd.call("POST", "/api/v1/dlq/" + id + "/discard", null).status()).isEqualTo(422);
            assertThat(zd.call("POST", "/api/v1/dlq/" + id + "/discard", Map.of()).status()).isEqualTo(422);
            assertThat(zd.call("POST", "/api/v1/dlq/" + id + "/discard", Map.of("reason", "  ")).status()).isEqualTo(422);
            assertThat(zd.call("POST", "/api/v1/dlq/discard", Map.of("reason", "no selector")).status()).isEqualTo(422);
            assertThat(state(db, id)).isEqualTo("dead");

            var discard = zd.call("POST", "/api/v1/dlq/" + id + "/discard", Map.of("reason", "customer refunded by hand"));
            assertThat(discard.status()).isEqualTo(200);
            assertThat(discard.json().get("discarded").asInt()).isEqualTo(1);
            assertThat(zd.call("POST", "/api/v1/dlq/" + id + "/discard", Map.of("reason", "again")).json().get("discarded").asInt()).isZero();

            assertThat(ids(dlq(zd, "?app_id=" + app))).doesNotContain(id).hasSize(1);
            List<JsonNode> discarded = dlq(zd, "?app_id=" + app + "&state=discarded");
            assertThat(ids(discarded)).containsExactly(id);
            assertThat(discarded.getFirst().get("reason").asText()).isEqualTo("customer refunded by hand");
            assertThat(discarded.getFirst().get("discardedAt").isNull()).isFalse();
            assertThat(discarded.getFirst().get("deadAt").isNull()).isTrue();

            JsonNode actions = zd.get("/api/v1/dlq/" + id).get("actions");
            assertThat(actions).hasSize(1);
            assertThat(actions.get(0).get("action").asText()).isEqualTo("discard");
            assertThat(actions.get(0).get("actor").asText()).isEqualTo(adminTokenId(db));
            assertThat(actions.get(0).get("reason").asText()).isEqualTo("customer refunded by hand");

            JsonNode stats = zd.get("/api/v1/dlq/stats?app_id=" + app);
            assertThat(stats.get("dead").asLong()).isEqualTo(1);
            assertThat(stats.get("discarded").asLong()).isEqualTo(1);
            assertThat(stats.get("pending").asLong()).isZero();

            // A discarded delivery is not replayed.
            assertThat(zd.call("POST", "/api/v1/dlq/replay", Map.of("ids", List.of(id))).json().get("replayed").asInt()).isZero();
            assertThat(state(db, id)).isEqualTo("discarded");
        }
    }

    @Test
    void moneyAtRiskSumsPerCurrencyWithEachApplicationsMinorUnits() throws Exception {
        try (Receiver r = new Receiver((req, previous) -> Receiver.status(500))) {
            // Shop: amounts in cents, the currency in the payload, USD when it has none.
            String shop = zd.createApp("shop");
            zd.createEndpoint(shop, Map.of("url", r.url("/shop")));
            assertThat(zd.call("PUT", "/api/v1/app/" + shop + "/money", Map.of("amountPointer", "data/amount")).status()).isEqualTo(422);
            assertThat(zd.call("PUT", "/api/v1/app/" + shop + "/money", Map.of("amountPointer", "/data/a~2b")).status()).isEqualTo(422);
            assertThat(zd.call("PUT", "/api/v1/app/" + shop + "/money", Map.of("amountPointer", "/x", "defaultCurrency", "dollars")).status())
                    .isEqualTo(422);
            assertThat(zd.call("PUT", "/api/v1/app/" + shop + "/money", Map.of("minorUnitScale", 2)).status()).isEqualTo(422);
            var put = zd.call("PUT", "/api/v1/app/" + shop + "/money", Map.of("amountPointer", "/data/amount",
                    "currencyPointer", "/data/currency", "defaultCurrency", "usd", "minorUnitScale", 2));
            assertThat(put.status()).isEqualTo(200);
            JsonNode money = zd.get("/api/v1/app/" + shop + "/money");
            assertThat(money.get("amountPointer").asText()).isEqualTo("/data/amount");
            assertThat(money.get("defaultCurrency").asText()).isEqualTo("USD");
            assertThat(money.get("minorUnitScale").asInt()).isEqualTo(2);

            // Tokyo: whole yen at the top level of the payload; its endpoint is disabled, so its deliveries are held.
            String tokyo = zd.createApp("tokyo");
            zd.createEndpoint(tokyo, Map.of("url", r.url("/tokyo"), "disabled", true));
            zd.call("PUT", "/api/v1/app/" + tokyo + "/money", Map.of("amountPointer", "/amount", "defaultCurrency", "JPY",
                    "minorUnitScale", 0));

            send(zd, shop, "charge", Map.of("data", Map.of("amount", 1234, "currency", "USD")));
            send(zd, shop, "charge", Map.of("data", Map.of("amount", 100, "currency", "usd")));
            send(zd, shop, "charge", Map.of("data", Map.of("amount", 250, "currency", "EUR")));
            send(zd, shop, "charge", Map.of("data", Map.of("amount", 99))); // no currency: the default, USD
            send(zd, shop, "charge", Map.of("data", Map.of("currency", "USD"))); // no amount: ignored
            send(zd, shop, "charge", Map.of("data", Map.of("amount", "lots", "currency", "USD"))); // not a number: ignored
            send(zd, shop, "charge", Map.of("data", Map.of("amount", Map.of("value", 5), "currency", "USD"))); // an object: ignored
            // Escapes: a surrogate pair is fine JSON for PostgreSQL; \u0000 is not, and must not break the sum.
            sendRaw(zd, shop, "{\"eventType\":\"charge\",\"payload\":{\"note\":\"\\ud83d\\ude00\",\"data\":{\"amount\":1,\"currency\":\"USD\"}}}");
            sendRaw(zd, shop, "{\"eventType\":\"charge\",\"payload\":{\"note\":\"\\u0000\",\"data\":{\"amount\":7777,\"currency\":\"USD\"}}}");
            send(zd, tokyo, "charge", Map.of("amount", 5000));
            send(zd, tokyo, "charge", Map.of("amount", 700.5));
            send(zd, tokyo, "charge", Map.of("total", 1)); // no amount: ignored

            await().atMost(Duration.ofSeconds(30)).until(() -> dlq(zd, "?app_id=" + shop).size() == 9);
            var store = zd.server().deadLetterQueue().store();
            // 1234 + 100 + 99 + 1 cents; the \u0000 payload is skipped.
            assertThat(store.valueAtRisk(shop, List.of("dead"))).containsOnlyKeys("USD", "EUR");
            assertThat(store.valueAtRisk(shop, List.of("dead")).get("USD")).isEqualByComparingTo("14.34");
            assertThat(store.valueAtRisk(shop, List.of("dead")).get("EUR")).isEqualByComparingTo("2.50");
            assertThat(store.valueAtRisk(tokyo, List.of("dead"))).isEmpty();
            assertThat(store.valueAtRisk(tokyo, List.of("held")).get("JPY")).isEqualByComparingTo("5700.5");
            // All applications (no other test sets money pointers).
            Map<String, BigDecimal> all = store.valueAtRisk(null, List.of("dead", "held", "pending"));
            assertThat(all).containsOnlyKeys("USD", "EUR", "JPY");
            assertThat(all.get("USD")).isEqualByComparingTo("14.34");
            assertThat(all.get("JPY")).isEqualByComparingTo("5700.5");

            JsonNode stats = zd.get("/api/v1/dlq/stats?app_id=" + tokyo);
            assertThat(stats.get("held").asLong()).isEqualTo(3);
            assertThat(stats.get("valueAtRisk").get("held").get("JPY").decimalValue()).isEqualByComparingTo("5700.5");
            assertThat(stats.get("valueAtRisk").get("dead")).isEmpty();
            JsonNode shopStats = zd.get("/api/v1/dlq/stats?app_id=" + shop);
            assertThat(shopStats.get("dead").asLong()).isEqualTo(9);
            assertThat(shopStats.get("valueAtRisk").get("dead").get("USD").decimalValue()).isEqualByComparingTo("14.34");

            List<String> values = new ArrayList<>();
            for (JsonNode e : dlq(zd, "?app_id=" + shop)) {
                if (e.get("value").isNull()) continue;
                values.add(e.get("value").get("amount").decimalValue().stripTrailingZeros().toPlainString() + " "
                        + e.get("value").get("currency").asText());
            }
            assertThat(values).containsExactlyInAnyOrder("12.34 USD", "1 USD", "2.5 EUR", "0.99 USD", "0.01 USD");
        }
    }

    @Test
    void retentionDiscardsDeadDeliveriesOfOldMessagesWithoutDeletingThem() {
        String app = quiet.createApp("retention");
        quiet.createEndpoint(app, Map.of("url", "http://127.0.0.1:1/old"));
        String old = send(quiet, app, "x", Map.of("age", "old"));
        String recent = send(quiet, app, "x", Map.of("age", "recent"));
        killAll(quietDb, app);
        quietDb.exec("UPDATE message SET created_at = created_at - interval '20 days' WHERE id = '" + old + "'");

        DeadLetterQueue dlq = quiet.server().deadLetterQueue();
        Instant now = Instant.now();
        assertThat(dlq.applyRetention(now.plus(Duration.ofDays(5)))).isZero(); // the old message is 25 days old then
        assertThat(dlq.applyRetention(now.plus(Duration.ofDays(11)))).isEqualTo(1); // 31 days
        assertThat(stateOfMessage(quietDb, old)).isEqualTo("discarded");
        assertThat(stateOfMessage(quietDb, recent)).isEqualTo("dead");
        assertThat(dlq.applyRetention(now.plus(Duration.ofDays(11)))).isZero();

        List<JsonNode> discarded = dlq(quiet, "?app_id=" + app + "&state=discarded");
        assertThat(discarded).hasSize(1);
        assertThat(discarded.getFirst().get("msgId").asText()).isEqualTo(old);
        assertThat(discarded.getFirst().get("reason").asText()).isEqualTo("retention");
        JsonNode actions = quiet.get("/api/v1/dlq/" + discarded.getFirst().get("id").asText()).get("actions");
        assertThat(actions).hasSize(1);
        assertThat(actions.get(0).get("actor").asText()).isEqualTo("system");
        assertThat(actions.get(0).get("reason").asText()).isEqualTo("retention");
        assertThat(query(quietDb, "SELECT count(*) FROM delivery WHERE app_id = '" + app + "'").getFirst()).isEqualTo("2");
    }

    // ---- helpers --------------------------------------------------------------------------------

    static String send(TestServer s, String app, String type, Map<String, Object> payload) {
        return s.post("/api/v1/app/" + app + "/msg", Map.of("eventType", type, "payload", payload)).get("id").asText();
    }

    static void sendRaw(TestServer s, String app, String body) {
        var r = s.call("POST", "/api/v1/app/" + app + "/msg", body);
        assertThat(r.status()).as(r.text()).isEqualTo(202);
    }

    /** Makes every delivery of the application dead after four failed attempts, as the dispatcher would. */
    static void killAll(TestDatabase d, String app) {
        d.exec("UPDATE delivery SET state = 'dead', attempts = 4, next_attempt_at = NULL, state_changed_at = now(), updated_at = now()"
                + " WHERE app_id = '" + app + "'");
    }

    static List<JsonNode> dlq(TestServer s, String query) {
        List<JsonNode> out = new ArrayList<>();
        s.get("/api/v1/dlq" + query).get("data").forEach(out::add);
        return out;
    }

    static List<String> ids(List<JsonNode> entries) {
        return entries.stream().map(x -> x.get("id").asText()).toList();
    }

    static String idOf(List<JsonNode> entries, String endpointId) {
        return entries.stream().filter(x -> x.get("endpointId").asText().equals(endpointId)).findFirst().orElseThrow().get("id").asText();
    }

    static long number(String deliveryId) {
        return Long.parseLong(deliveryId.substring("dlv_".length()));
    }

    static String state(TestDatabase d, String deliveryId) {
        return query(d, "SELECT state FROM delivery WHERE id = " + number(deliveryId)).getFirst();
    }

    static String stateOfMessage(TestDatabase d, String msgId) {
        return query(d, "SELECT state FROM delivery WHERE msg_id = '" + msgId + "'").getFirst();
    }

    static String adminTokenId(TestDatabase d) {
        return query(d, "SELECT id FROM api_token WHERE name LIKE 'admin%'").getFirst();
    }

    /** The first column of every row, as text. */
    static List<String> query(TestDatabase d, String sql) {
        try (Connection c = DriverManager.getConnection(d.url()); Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            List<String> out = new ArrayList<>();
            while (rs.next()) out.add(rs.getString(1));
            return out;
        } catch (SQLException e) {
            throw new IllegalStateException(e);
        }
    }
}
