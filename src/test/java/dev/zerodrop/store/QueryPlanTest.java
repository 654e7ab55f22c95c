package dev.zerodrop.store;

import static org.assertj.core.api.Assertions.assertThat;

import dev.zerodrop.testing.TestDatabase;
import java.sql.DriverManager;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The hot statements must keep their plans when the statistics are stale. Seen under a backlog:
 * statistics taken while nothing was in flight made the fenced completion scan every leased row
 * once per completed one, and the dispatcher stalled.
 */
class QueryPlanTest {

    @Test
    void theFencedCompletionFindsItsRowsByPrimaryKeyWhateverTheStatistics() throws Exception {
        try (TestDatabase tdb = TestDatabase.create("plans"); Database db = Database.open(tdb.url(), null, null, 4)) {
            tdb.exec("INSERT INTO application (id, name, created_at, updated_at) VALUES ('app_p', 'p', now(), now())");
            tdb.exec("INSERT INTO endpoint (id, app_id, url, secret, created_at, updated_at) VALUES ('ep_p', 'app_p', 'https://example.com', 'whsec_x', now(), now())");
            tdb.exec("INSERT INTO message (id, app_id, event_type, payload, created_at) SELECT 'm' || g, 'app_p', 'x', '\\x7b7d', now() FROM generate_series(1, 50000) g");
            tdb.exec("INSERT INTO delivery (msg_id, endpoint_id, app_id, state, next_attempt_at, created_at, updated_at) "
                    + "SELECT 'm' || g, 'ep_p', 'app_p', 'pending', now(), now(), now() FROM generate_series(1, 50000) g");
            tdb.exec("ANALYZE delivery"); // nothing in flight when the statistics are taken...
            tdb.exec("UPDATE delivery SET state = 'sending', lease_token = 1, lease_expires_at = now() + interval '1 minute'"); // ...then everything is
            String plan = explain(tdb, DeliveryStore.COMPLETE);
            assertThat(plan).contains("Index Scan using delivery_pkey").doesNotContain("Seq Scan on delivery").doesNotContain("delivery_lease");
        }
    }

    static String explain(TestDatabase db, String sql) throws Exception {
        List<Long> ids = new ArrayList<>();
        for (long i = 1; i <= 500; i++) ids.add(i);
        try (var c = DriverManager.getConnection(db.url()); var ps = c.prepareStatement("EXPLAIN " + sql)) {
            try (var st = c.createStatement()) {
                st.execute("SET enable_seqscan = off"); // as DeliveryStore.completeIn does
            }
            ps.setObject(1, java.time.OffsetDateTime.now());
            ps.setObject(2, java.time.OffsetDateTime.now());
            ps.setArray(3, c.createArrayOf("bigint", ids.toArray()));
            ps.setArray(4, c.createArrayOf("bigint", ids.stream().map(x -> 1L).toArray()));
            ps.setArray(5, c.createArrayOf("text", ids.stream().map(x -> "delivered").toArray()));
            ps.setArray(6, c.createArrayOf("timestamptz", new Object[ids.size()]));
            ps.setArray(7, c.createArrayOf("integer", ids.stream().map(x -> 1).toArray()));
            ps.setArray(8, c.createArrayOf("integer", ids.stream().map(x -> 0).toArray()));
            ps.setArray(9, c.createArrayOf("integer", ids.stream().map(x -> 0).toArray()));
            ps.setArray(10, c.createArrayOf("text", new Object[ids.size()]));
            StringBuilder sb = new StringBuilder();
            try (var rs = ps.executeQuery()) {
                while (rs.next()) sb.append(rs.getString(1)).append('\n');
            }
            return sb.toString();
        }
    }
}
