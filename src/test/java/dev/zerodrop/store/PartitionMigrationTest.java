package dev.zerodrop.store;

import static org.assertj.core.api.Assertions.assertThat;

import dev.zerodrop.audit.Audit;
import dev.zerodrop.testing.TestDatabase;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import org.flywaydb.core.Flyway;
import org.junit.jupiter.api.Test;
import org.postgresql.ds.PGSimpleDataSource;

/**
 * An installation made before partitioning is migrated in place: its rows stay (they become the
 * first partition, without being rewritten), its counters balance, and new rows go to the
 * partitions made at start. Prints how long the migration took per row.
 */
class PartitionMigrationTest {
    static final int MESSAGES = 100_000;

    @Test
    void anExistingInstallationIsPartitionedInPlaceWithNothingLost() throws Exception {
        try (TestDatabase tdb = TestDatabase.create("migrate")) {
            PGSimpleDataSource ds = new PGSimpleDataSource();
            ds.setURL(tdb.url());
            Flyway.configure().dataSource(ds).locations("classpath:db/migration").target("16").load().migrate();
            tdb.exec("INSERT INTO application (id, name, created_at, updated_at) VALUES ('app_m', 'm', now(), now())");
            tdb.exec("INSERT INTO endpoint (id, app_id, url, secret, created_at, updated_at) VALUES ('ep_m', 'app_m', 'https://example.com', 'whsec_x', now(), now())");
            tdb.exec("""
                    INSERT INTO message (id, app_id, event_type, event_id, payload, created_at)
                    SELECT 'msg_' || lpad(g::text, 10, '0'), 'app_m', 'x', 'evt-' || g, convert_to('{"n":' || g || '}', 'UTF8'),
                           now() - interval '1 day' + g * interval '1 millisecond'
                      FROM generate_series(1, %d) g""".formatted(MESSAGES));
            tdb.exec("""
                    INSERT INTO delivery (msg_id, endpoint_id, app_id, state, attempts, next_attempt_at, created_at, updated_at)
                    SELECT m.id, 'ep_m', 'app_m', CASE WHEN right(m.id, 1) = '7' THEN 'pending' WHEN right(m.id, 1) = '3' THEN 'dead' ELSE 'delivered' END,
                           1, CASE WHEN right(m.id, 1) = '7' THEN now() END, m.created_at, m.created_at FROM message m""");
            tdb.exec("""
                    INSERT INTO attempt (id, delivery_id, msg_id, endpoint_id, app_id, attempt_no, trigger_type, status, response_status, response,
                                         duration_ms, url, created_at)
                    SELECT 'atmpt_' || d.id, d.id, d.msg_id, 'ep_m', 'app_m', 1, 0, 0, 200, '', 3, 'https://example.com', d.created_at FROM delivery d""");
            long maxId = RetentionTest.count(tdb, "SELECT max(id) FROM delivery");

            long t0 = System.nanoTime();
            try (Database db = Database.open(tdb.url(), null, null, 4)) {
                long ms = (System.nanoTime() - t0) / 1_000_000;
                System.out.printf("figures: partitioned %,d messages, %,d deliveries and %,d attempts in place in %d ms (%.1f s per million messages)%n",
                        MESSAGES, MESSAGES, MESSAGES, ms, ms / 1000.0 * 1_000_000 / MESSAGES);
                assertThat(RetentionTest.count(tdb, "SELECT count(*) FROM message_p_first")).isEqualTo(MESSAGES);
                assertThat(RetentionTest.count(tdb, "SELECT count(*) FROM delivery_p_first")).isEqualTo(MESSAGES);
                assertThat(RetentionTest.count(tdb, "SELECT count(*) FROM attempt_p_first")).isEqualTo(MESSAGES);
                assertThat(RetentionTest.count(tdb, "SELECT count(*) FROM delivery WHERE state = 'pending'")).isEqualTo(MESSAGES / 10);
                // The counters that the old triggers kept still balance, by a recount of the rows too.
                AuditStore audit = new AuditStore(db.jdbc());
                audit.fold();
                audit.reconcile(Instant.now());
                Map<String, Object> report = new Audit(audit, Duration.ofMinutes(5)).report("app_m", Instant.now());
                assertThat(report.get("accepted")).isEqualTo((long) MESSAGES);
                assertThat(report.get("unaccounted")).isEqualTo(0L);

                // New rows land in the partitions made at start, and ids go on from the old ones.
                new PartitionStore(db.jdbc()).ensure(Instant.now(), Duration.ofHours(1), Duration.ofHours(2));
                MessageStore messages = new MessageStore(db.jdbc(), dev.zerodrop.testing.TestServer.endpointSecrets());
                Instant now = Instant.now();
                var created = messages.createAll(java.util.List.of(new MessageStore.Submission(new MessageStore.NewMessage("msg_new", "app_m",
                        "x", "evt-new", null, "{}".getBytes(), now, null), null)));
                assertThat(created.getFirst()).isInstanceOf(MessageStore.Created.Stored.class);
                assertThat(RetentionTest.count(tdb, "SELECT count(*) FROM message_p_first WHERE id = 'msg_new'")).isZero();
                assertThat(RetentionTest.count(tdb, "SELECT min(id) FROM delivery WHERE msg_id = 'msg_new'")).isGreaterThan(maxId);
                // An eventId taken before the migration is still taken.
                var again = messages.createAll(java.util.List.of(new MessageStore.Submission(new MessageStore.NewMessage("msg_dup", "app_m",
                        "x", "evt-42", null, "{}".getBytes(), now, null), null)));
                assertThat(again.getFirst()).isEqualTo(new MessageStore.Created.Duplicate("msg_0000000042"));
            }
        }
    }
}
