package dev.zerodrop.store;

import static org.assertj.core.api.Assertions.assertThat;

import dev.zerodrop.testing.TestDatabase;
import java.sql.Connection;
import java.sql.DriverManager;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The hot statements must keep their plans on the time-partitioned tables, and when the statistics
 * are stale. Seen under a backlog: statistics taken while nothing was in flight made the fenced
 * completion scan every leased row once per completed one, and the dispatcher stalled.
 */
class QueryPlanTest {
    static final Instant NOW = Instant.now();
    static final Duration HOUR = Duration.ofHours(1);

    /** Six hourly partitions, 10,000 deliveries in each, every one pending when the statistics are taken. */
    private static void fill(TestDatabase tdb, Database db) throws Exception {
        new PartitionStore(db.jdbc()).ensure(NOW, HOUR, Duration.ofHours(6));
        tdb.exec("INSERT INTO application (id, name, created_at, updated_at) VALUES ('app_p', 'p', now(), now())");
        tdb.exec("INSERT INTO endpoint (id, app_id, url, secret, created_at, updated_at) VALUES ('ep_p', 'app_p', 'https://example.com', 'whsec_x', now(), now())");
        tdb.exec("""
                INSERT INTO message (id, app_id, event_type, payload, created_at, part_at)
                SELECT 'm' || g, 'app_p', 'x', '\\x7b7d', now(), timestamptz '%s' + (g %% 6) * interval '1 hour' + g * interval '1 millisecond'
                  FROM generate_series(1, 60000) g"""
                .formatted(OffsetDateTime.ofInstant(NOW, ZoneOffset.UTC)));
        tdb.exec("""
                INSERT INTO delivery (msg_id, endpoint_id, app_id, state, next_attempt_at, created_at, updated_at, part_at)
                SELECT m.id, 'ep_p', 'app_p', 'pending', now(), now(), now(), m.part_at FROM message m""");
        tdb.exec("ANALYZE delivery"); // nothing in flight when the statistics are taken...
        tdb.exec("ANALYZE message");
    }

    @Test
    void theFencedCompletionFindsEachRowByPrimaryKeyInItsOwnPartitionWhateverTheStatistics() throws Exception {
        try (TestDatabase tdb = TestDatabase.create("plans"); Database db = Database.open(tdb.url(), null, null, 4)) {
            fill(tdb, db);
            tdb.exec("UPDATE delivery SET state = 'sending', lease_token = 1, lease_expires_at = now() + interval '1 minute'"); // ...then everything is
            // 500 outcomes, all of the newest partition: the statement executes in that partition only.
            String newest = db.jdbc().queryOne("SELECT name FROM partition_range WHERE parent = 'delivery' AND from_at <= ? AND to_at > ?",
                    rs -> rs.getString(1), NOW.plus(Duration.ofHours(5)), NOW.plus(Duration.ofHours(5))).orElseThrow();
            List<Object[]> rows = db.jdbc().query("SELECT id, part_at FROM " + newest + " LIMIT 500",
                    rs -> new Object[] {rs.getLong(1), rs.getObject(2, OffsetDateTime.class)});
            String plan = explainAnalyzeCompletion(tdb, rows);
            assertThat(plan).doesNotContain("Seq Scan on delivery").doesNotContainPattern("Index Scan using \\w*lease");
            // Every outcome is one primary-key lookup, in its own partition: the five others are never executed.
            assertThat(plan).contains("Index Scan using " + newest + "_pkey on " + newest).contains("actual rows=500")
                    .contains("actual rows=1 loops=500").doesNotContain("Hash").doesNotContain("Materialize");
            assertThat(plan.split("never executed", -1).length - 1).as(plan).isGreaterThanOrEqualTo(5);
        }
    }

    @Test
    void theClaimReadsTheDueIndexOfEachPartition() throws Exception {
        try (TestDatabase tdb = TestDatabase.create("plans_claim"); Database db = Database.open(tdb.url(), null, null, 4)) {
            fill(tdb, db);
            String plan;
            try (Connection c = DriverManager.getConnection(tdb.url())) {
                c.setAutoCommit(false);
                DeliveryStore.keyLookups(c); // as DeliveryStore.claim does
                try (var ps = c.prepareStatement("EXPLAIN " + DeliveryStore.CLAIM)) {
                    OffsetDateTime now = OffsetDateTime.ofInstant(NOW.plusSeconds(60), ZoneOffset.UTC);
                    Jdbc.bind(ps, now, 100, now, 100, now.plusMinutes(1), now);
                    StringBuilder sb = new StringBuilder();
                    try (var rs = ps.executeQuery()) {
                        while (rs.next()) sb.append(rs.getString(1)).append('\n');
                    }
                    plan = sb.toString();
                }
                c.rollback();
            }
            assertThat(plan).doesNotContain("Seq Scan on delivery").doesNotContain("Seq Scan on message");
            assertThat(plan).contains("Merge Append").containsPattern("Index Scan (Backward )?using delivery_p\\w+ on delivery_p\\w+");
        }
    }

    static String explainAnalyzeCompletion(TestDatabase db, List<Object[]> rows) throws Exception {
        try (Connection c = DriverManager.getConnection(db.url())) {
            c.setAutoCommit(false);
            DeliveryStore.keyLookups(c); // as DeliveryStore.completeIn does
            StringBuilder sb = new StringBuilder();
            try (var ps = c.prepareStatement("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) " + DeliveryStore.COMPLETE)) {
                List<Long> ids = new ArrayList<>();
                List<Object> parts = new ArrayList<>();
                for (Object[] r : rows) {
                    ids.add((Long) r[0]);
                    parts.add(r[1]);
                }
                ps.setObject(1, OffsetDateTime.now());
                ps.setObject(2, OffsetDateTime.now());
                ps.setArray(3, c.createArrayOf("bigint", ids.toArray()));
                ps.setArray(4, c.createArrayOf("bigint", ids.stream().map(x -> 1L).toArray()));
                ps.setArray(5, c.createArrayOf("text", ids.stream().map(x -> "delivered").toArray()));
                ps.setArray(6, c.createArrayOf("timestamptz", new Object[ids.size()]));
                ps.setArray(7, c.createArrayOf("integer", ids.stream().map(x -> 1).toArray()));
                ps.setArray(8, c.createArrayOf("integer", ids.stream().map(x -> 0).toArray()));
                ps.setArray(9, c.createArrayOf("integer", ids.stream().map(x -> 0).toArray()));
                ps.setArray(10, c.createArrayOf("text", new Object[ids.size()]));
                ps.setArray(11, c.createArrayOf("timestamptz", parts.toArray()));
                ps.setArray(12, c.createArrayOf("text", ids.stream().map(x -> "sending").toArray()));
                try (var rs = ps.executeQuery()) {
                    while (rs.next()) sb.append(rs.getString(1)).append('\n');
                }
            }
            c.rollback();
            return sb.toString();
        }
    }
}
