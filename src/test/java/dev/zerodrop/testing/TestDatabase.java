package dev.zerodrop.testing;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Locale;
import java.util.UUID;

/**
 * A fresh, empty database on the machine's PostgreSQL (127.0.0.1:5432, user postgres, trust auth),
 * created for one test class and dropped afterwards. Override the server with ZERODROP_TEST_PG.
 */
public final class TestDatabase implements AutoCloseable {
    private static final String SERVER = System.getenv().getOrDefault("ZERODROP_TEST_PG", "jdbc:postgresql://127.0.0.1:5432/");

    private final String name;

    private TestDatabase(String name) {
        this.name = name;
    }

    public static TestDatabase create(String label) {
        String name = ("zd_" + label + "_" + UUID.randomUUID().toString().substring(0, 8)).toLowerCase(Locale.ROOT)
                .replaceAll("[^a-z0-9_]", "_");
        admin("CREATE DATABASE " + name);
        return new TestDatabase(name);
    }

    public String url() {
        return SERVER + name + "?user=postgres";
    }

    public String name() {
        return name;
    }

    /** Runs SQL against this database (for corrupting or inspecting rows on purpose). */
    public void exec(String sql) {
        try (Connection c = DriverManager.getConnection(url()); Statement s = c.createStatement()) {
            s.execute(sql);
        } catch (SQLException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void admin(String sql) {
        try (Connection c = DriverManager.getConnection(SERVER + "postgres?user=postgres"); Statement s = c.createStatement()) {
            s.execute(sql);
        } catch (SQLException e) {
            throw new IllegalStateException("cannot reach the test PostgreSQL at " + SERVER + ": " + e.getMessage(), e);
        }
    }

    @Override
    public void close() {
        admin("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)");
    }

    /**
     * Makes the time partitions that a node makes at start (an hour each, two days ahead), for tests
     * that use the stores without starting a node.
     */
    public static dev.zerodrop.store.Database partitioned(dev.zerodrop.store.Database db) {
        new dev.zerodrop.store.PartitionStore(db.jdbc()).ensure(java.time.Instant.now(), java.time.Duration.ofHours(1), java.time.Duration.ofDays(2));
        return db;
    }
}
