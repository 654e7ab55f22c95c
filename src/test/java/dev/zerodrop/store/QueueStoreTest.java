package dev.zerodrop.store;

import static org.assertj.core.api.Assertions.assertThat;

import dev.zerodrop.testing.TestDatabase;
import java.sql.DriverManager;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Test;

/** The queue gauges' query: right numbers, and partial indexes only, never a scan of the delivery history. */
class QueueStoreTest {

    @Test
    void countsEachStateAndTheLagOfTheOldestDueDeliveryFromPartialIndexes() throws Exception {
        try (TestDatabase tdb = TestDatabase.create("queue"); Database db = Database.open(tdb.url(), null, null, 2)) {
            Instant now = Instant.parse("2030-01-01T12:00:00Z");
            tdb.exec("INSERT INTO application (id, name, created_at, updated_at) VALUES ('app_q', 'q', now(), now())");
            tdb.exec("INSERT INTO endpoint (id, app_id, url, secret, created_at, updated_at) VALUES ('ep_q', 'app_q', 'https://example.com', 'whsec_x', now(), now())");
            tdb.exec("INSERT INTO message (id, app_id, event_type, payload, created_at, part_at) SELECT 'm' || g, 'app_q', 'x', '\\x7b7d', now(), timestamptz '2020-01-01 00:00:00+00' FROM generate_series(1, 60000) g");
            // A long history of delivered rows, and a few in every state the gauges count.
            tdb.exec("""
                    INSERT INTO delivery (msg_id, endpoint_id, app_id, state, next_attempt_at, lease_expires_at, created_at, updated_at, part_at)
                    SELECT 'm' || g, 'ep_q', 'app_q',
                           CASE WHEN g <= 3 THEN 'pending' WHEN g <= 5 THEN 'sending' WHEN g = 6 THEN 'held' WHEN g <= 10 THEN 'dead'
                                ELSE 'delivered' END,
                           CASE WHEN g = 1 THEN timestamptz '2030-01-01T11:59:00Z'   -- due for a minute
                                WHEN g = 2 THEN timestamptz '2030-01-01T11:59:30Z'
                                WHEN g = 3 THEN timestamptz '2030-01-01T13:00:00Z'   -- not due yet
                           END,
                           CASE WHEN g IN (4, 5) THEN timestamptz '2030-01-01T12:01:00Z' END,
                           now(), now(), timestamptz '2020-01-01 00:00:00+00'
                      FROM generate_series(1, 60000) g""");
            tdb.exec("ANALYZE delivery");

            QueueStore.Depths d = new QueueStore(db.jdbc()).depths(now);
            assertThat(d).isEqualTo(new QueueStore.Depths(3, 2, 1, 4, Duration.ofMinutes(1)));
            assertThat(new QueueStore(db.jdbc()).depths(Instant.parse("2030-01-01T11:00:00Z")).oldestDueAge()).isZero();

            String plan = explain(tdb, now);
            // Each count reads a partial index of the partition (the rows are all in the first one).
            assertThat(plan).doesNotContain("Seq Scan").containsPattern("delivery_p_first_(due|pending_endpoint)")
                    .contains("delivery_p_first_lease", "delivery_p_first_held", "delivery_p_first_dead");
        }
    }

    private static String explain(TestDatabase db, Instant now) throws Exception {
        try (var c = DriverManager.getConnection(db.url()); var ps = c.prepareStatement("EXPLAIN " + QueueStore.DEPTHS)) {
            ps.setObject(1, java.time.OffsetDateTime.ofInstant(now, java.time.ZoneOffset.UTC));
            StringBuilder sb = new StringBuilder();
            try (var rs = ps.executeQuery()) {
                while (rs.next()) sb.append(rs.getString(1)).append('\n');
            }
            return sb.toString();
        }
    }
}
