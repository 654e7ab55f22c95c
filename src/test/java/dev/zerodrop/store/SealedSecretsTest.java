package dev.zerodrop.store;

import static org.assertj.core.api.Assertions.assertThat;

import dev.zerodrop.core.Ids;
import dev.zerodrop.secret.Sealer;
import dev.zerodrop.testing.TestDatabase;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The reseal and the census against a real PostgreSQL, and the cost of opening on the dispatcher's hot path. */
class SealedSecretsTest {
    static final String SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    static TestDatabase tdb;
    static Database db;

    @BeforeAll
    static void open() {
        tdb = TestDatabase.create("sealed_secrets");
        db = TestDatabase.partitioned(Database.open(tdb.url(), null, null, 4));
    }

    @AfterAll
    static void close() {
        if (db != null) db.close();
        if (tdb != null) tdb.close();
    }

    static Sealer sealer(String keys) {
        return new Sealer(Sealer.parse(keys));
    }

    static EndpointStore.EndpointData data(String url) {
        return new EndpointStore.EndpointData(null, url, "", null, null, false, null, Map.of());
    }

    static String[] row(String endpointId) {
        return db.jdbc().queryOne("SELECT secret, headers::text, old_secrets::text FROM endpoint WHERE id = ?",
                rs -> new String[] {rs.getString(1), rs.getString(2), rs.getString(3)}, endpointId).orElseThrow();
    }

    @Test
    void aResealNeverOverwritesAValueWrittenAfterItReadTheRow() {
        String oldKey = Sealer.newKey();
        String newKey = Sealer.newKey();
        Instant now = Instant.now();
        String app = new AppStore(db.jdbc()).create(new AppStore.AppData(null, "race", null, Map.of()), now).id();
        EndpointStore before = new EndpointStore(db.jdbc(), new EndpointSecrets(sealer(oldKey)));
        EndpointStore.Endpoint e = before.create(app, data("https://example.com/race"), SECRET, Map.of("Authorization", "Bearer one"), now);

        EndpointSecrets ring = new EndpointSecrets(sealer(newKey + "," + oldKey));
        SealedSecrets sealed = new SealedSecrets(db.jdbc(), ring, new ServerSecretStore(db.jdbc(), ring.sealer()));
        String current = "zd1:" + ring.sealer().currentKeyId() + ":%";
        List<SealedSecrets.Row> read = sealed.toReseal("", current, 500).stream().filter(r -> r.id().equals(e.id())).toList();
        assertThat(read).hasSize(1);
        List<SealedSecrets.Rewrite> rewrites = new ArrayList<>();
        for (SealedSecrets.Row r : read) rewrites.add(new SealedSecrets.Rewrite(r, ring.reseal(r.id(), r.secret(), r.headers(), r.oldSecrets())));

        // Between the reseal's read and its write, a node still on the old key changes the headers.
        before.setHeaders(e.id(), Map.of("Authorization", "Bearer two"), now);
        String[] written = row(e.id());
        assertThat(sealed.write(rewrites)).isZero();
        assertThat(row(e.id())).containsExactly(written);
        assertThat(before.find(app, e.id()).orElseThrow().headers()).containsEntry("Authorization", "Bearer two");

        // The next run takes the row as it is now.
        SealedSecrets.Reseal r = sealed.reseal();
        assertThat(r.rows()).isGreaterThanOrEqualTo(1);
        assertThat(r.raced()).isZero();
        String[] after = row(e.id());
        assertThat(after[0]).startsWith("zd1:" + ring.sealer().currentKeyId() + ":");
        assertThat(after[1]).contains("zd1:" + ring.sealer().currentKeyId() + ":").doesNotContain("Bearer");
        EndpointStore.Endpoint reread = new EndpointStore(db.jdbc(), new EndpointSecrets(sealer(newKey))).find(app, e.id()).orElseThrow();
        assertThat(reread.secret()).isEqualTo(SECRET);
        assertThat(reread.headers()).containsEntry("Authorization", "Bearer two");
        assertThat(sealed.census().byKeyId()).doesNotContainKey(sealer(oldKey).currentKeyId());
        assertThat(sealed.reseal().rows()).as("nothing left to do").isZero();
    }

    @Test
    void aSealedValueDoesNotOpenInAnotherRowOrUnderAnotherHeaderName() {
        Sealer s = sealer(Sealer.newKey());
        Instant now = Instant.now();
        String app = new AppStore(db.jdbc()).create(new AppStore.AppData(null, "moved", null, Map.of()), now).id();
        EndpointStore store = new EndpointStore(db.jdbc(), new EndpointSecrets(s));
        var a = store.create(app, data("https://example.com/a"), SECRET, Map.of("Authorization", "Bearer a", "X-Team", "a"), now);
        var b = store.create(app, data("https://example.com/b"), SECRET, Map.of(), now);
        String[] ra = row(a.id());
        // Copy a's sealed secret into b, and a's Authorization value under a header whose value the API shows.
        db.jdbc().update("UPDATE endpoint SET secret = ? WHERE id = ?", ra[0], b.id());
        String authorization = dev.zerodrop.core.Json.stringMap(ra[1]).get("Authorization");
        db.jdbc().update("UPDATE endpoint SET headers = jsonb_set(headers, '{X-Team}', to_jsonb(?::text)) WHERE id = ?", authorization, a.id());
        EndpointStore fresh = new EndpointStore(db.jdbc(), new EndpointSecrets(s));
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> fresh.find(app, b.id()).orElseThrow().secret())
                .isInstanceOf(Sealer.SealedException.class);
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> fresh.find(app, a.id()).orElseThrow().headers())
                .isInstanceOf(Sealer.SealedException.class);
    }

    /** The claim and the leases taken at ingest open an endpoint's secrets once, not once per delivery. */
    @Test
    void theHotPathsDecryptOncePerEndpointNotOncePerDelivery() {
        String key = Sealer.newKey();
        Instant now = Instant.now();
        String app = new AppStore(db.jdbc()).create(new AppStore.AppData(null, "hot", null, Map.of()), now).id();
        EndpointStore store = new EndpointStore(db.jdbc(), new EndpointSecrets(sealer(key)));
        var e = store.create(app, data("https://example.com/hot"), SECRET, Map.of("Authorization", "Bearer hot", "X-Team", "hot"), now);
        store.rotateSecret(e, "whsec_" + "A".repeat(32), Duration.ofHours(1), now); // one rotated secret: 4 values in all

        Sealer counting = sealer(key);
        EndpointSecrets secrets = new EndpointSecrets(counting);
        MessageStore messages = new MessageStore(db.jdbc(), secrets);
        DeliveryStore deliveries = new DeliveryStore(db.jdbc(), secrets);
        int leased = 0;
        java.util.Set<Map<String, String>> headerMaps = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
        for (int batch = 0; batch < 5; batch++) {
            List<MessageStore.Submission> subs = new ArrayList<>();
            for (int i = 0; i < 20; i++) {
                subs.add(new MessageStore.Submission(new MessageStore.NewMessage(Ids.message(now), app, "x", null, null,
                        "{}".getBytes(), now, null), null));
            }
            for (DeliveryStore.Claimed c : messages.createAll(subs, now.plusSeconds(60)).leased()) {
                assertThat(c.signingSecrets(now)).hasSize(2);
                assertThat(c.headers()).containsEntry("Authorization", "Bearer hot");
                headerMaps.add(c.headers());
                leased++;
            }
        }
        // Deliveries created pending are leased by the claim.
        db.jdbc().update("UPDATE delivery SET state = 'pending', next_attempt_at = ?, lease_expires_at = NULL WHERE app_id = ?", now, app);
        int claimed = 0;
        for (List<DeliveryStore.Claimed> c; !(c = deliveries.claim(now.plusSeconds(1), 25, Duration.ofMinutes(1))).isEmpty(); ) {
            for (DeliveryStore.Claimed x : c) {
                if (!x.appId().equals(app)) continue;
                assertThat(x.sealProblem()).isNull();
                assertThat(x.secret()).isEqualTo("whsec_" + "A".repeat(32));
                headerMaps.add(x.headers());
                claimed++;
            }
        }
        System.out.printf("hot path: %d deliveries leased at ingest and %d claimed, %d decryptions%n", leased, claimed, counting.decryptions());
        assertThat(leased).isEqualTo(100);
        assertThat(claimed).isEqualTo(100);
        assertThat(counting.decryptions()).as("one per sealed value of the endpoint").isEqualTo(4);
        assertThat(headerMaps).as("opened once, JSON included: every delivery shares it").hasSize(1);
    }
}
