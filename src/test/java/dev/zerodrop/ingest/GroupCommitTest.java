package dev.zerodrop.ingest;

import static org.assertj.core.api.Assertions.assertThat;

import dev.zerodrop.core.Ids;
import dev.zerodrop.store.AppStore;
import dev.zerodrop.store.Database;
import dev.zerodrop.store.EndpointStore;
import dev.zerodrop.store.MessageStore;
import dev.zerodrop.testing.TestDatabase;
import dev.zerodrop.testing.TestServer;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.junit.jupiter.api.Test;

/** Group commit: many concurrent messages, few transactions, every answer still exact. */
class GroupCommitTest {

    @Test
    void concurrentSubmissionsAreStoredOnceEachWithTheirFanOutAndDuplicatesNamed() throws Exception {
        try (TestDatabase tdb = TestDatabase.create("group_commit"); Database db = TestDatabase.partitioned(Database.open(tdb.url(), null, null, 8))) {
            Instant now = Instant.now();
            var app = new AppStore(db.jdbc()).create(new AppStore.AppData(null, "gc", null, Map.of()), now);
            var endpoints = new EndpointStore(db.jdbc(), TestServer.endpointSecrets());
            endpoints.create(app.id(), new EndpointStore.EndpointData(null, "https://example.com/all", "", null, null, false, null, Map.of()), "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", now);
            endpoints.create(app.id(), new EndpointStore.EndpointData(null, "https://example.com/paid", "", List.of("paid"), null, false, null, Map.of()), "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", now);
            endpoints.create(app.id(), new EndpointStore.EndpointData(null, "https://example.com/eu", "", null, List.of("eu"), false, null, Map.of()), "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", now);
            MessageStore messages = new MessageStore(db.jdbc(), TestServer.endpointSecrets());
            int n = 300;
            List<CompletableFuture<MessageStore.Created>> results = new ArrayList<>();
            List<MessageStore.NewMessage> sent = new ArrayList<>();
            CountDownLatch go = new CountDownLatch(1);
            try (GroupCommit gc = new GroupCommit(messages, 2, 64); ExecutorService producers = Executors.newFixedThreadPool(32)) {
                List<java.util.concurrent.Future<CompletableFuture<MessageStore.Created>>> futures = new ArrayList<>();
                for (int i = 0; i < n; i++) {
                    // Every tenth message reuses the eventId of the one before it.
                    String eventId = i % 10 == 9 ? "ev-" + (i - 1) : "ev-" + i;
                    String type = i % 2 == 0 ? "paid" : "created";
                    List<String> channels = i % 3 == 0 ? List.of("eu", "x") : null;
                    var m = new MessageStore.NewMessage(Ids.message(now), app.id(), type, eventId, channels,
                            ("{\"i\":" + i + "}").getBytes(), now, null);
                    sent.add(m);
                    futures.add(producers.submit(() -> {
                        go.await();
                        return gc.submit(new MessageStore.Submission(m, null));
                    }));
                }
                go.countDown();
                for (var f : futures) results.add(f.get());
                CompletableFuture.allOf(results.toArray(CompletableFuture[]::new)).join();
            }
            Map<String, Integer> storedPerEventId = new HashMap<>();
            int duplicates = 0;
            for (int i = 0; i < n; i++) {
                var m = sent.get(i);
                switch (results.get(i).join()) {
                    case MessageStore.Created.Stored st -> {
                        storedPerEventId.merge(m.eventId(), 1, Integer::sum);
                        int expected = 1 + (m.eventType().equals("paid") ? 1 : 0) + (m.channels() != null ? 1 : 0);
                        assertThat(st.deliveries()).as("fan-out of %s", m.eventId()).isEqualTo(expected);
                    }
                    case MessageStore.Created.Duplicate d -> {
                        duplicates++;
                        assertThat(messages.find(app.id(), m.eventId())).hasValueSatisfying(x -> assertThat(x.id()).isEqualTo(d.existingId()));
                    }
                }
            }
            assertThat(duplicates).isEqualTo(n / 10);
            assertThat(storedPerEventId).hasSize(n - n / 10).allSatisfy((k, v) -> assertThat(v).isEqualTo(1));
            assertThat(db.jdbc().queryOne("SELECT count(*) FROM message", rs -> rs.getLong(1))).contains((long) (n - n / 10));
        }
    }
}
