package dev.zerodrop.store;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import com.zaxxer.hikari.metrics.MetricsTrackerFactory;
import org.flywaydb.core.Flyway;

/** The connection pool and the schema migrations of one PostgreSQL database. */
public final class Database implements AutoCloseable {
    private final HikariDataSource dataSource;
    private final Jdbc jdbc;

    private Database(HikariDataSource dataSource) {
        this.dataSource = dataSource;
        this.jdbc = new Jdbc(dataSource);
    }

    /**
     * Opens a pool to {@code url} and migrates the schema. The database must be reachable at start;
     * later outages make the API answer 503 until it comes back. Every session runs with
     * {@code synchronous_commit=on}, so an acknowledged commit is flushed whatever the server's default.
     */
    public static Database open(String url, String user, String password, int poolSize) {
        return open(url, user, password, poolSize, null);
    }

    /** As {@link #open(String, String, String, int)}, with the pool's metrics reported to {@code metrics} (null: none). */
    public static Database open(String url, String user, String password, int poolSize, MetricsTrackerFactory metrics) {
        HikariConfig hc = new HikariConfig();
        if (metrics != null) hc.setMetricsTrackerFactory(metrics);
        hc.setJdbcUrl(url);
        if (user != null && !user.isEmpty()) hc.setUsername(user);
        if (password != null && !password.isEmpty()) hc.setPassword(password);
        hc.setMaximumPoolSize(poolSize);
        hc.setMinimumIdle(Math.min(2, poolSize));
        hc.setPoolName("zerodrop");
        // Fail fast while the database is down, so the API can answer 503 instead of hanging.
        hc.setConnectionTimeout(3_000);
        hc.setValidationTimeout(2_000);
        hc.setInitializationFailTimeout(30_000);
        hc.setKeepaliveTime(60_000);
        hc.addDataSourceProperty("reWriteBatchedInserts", "true");
        hc.addDataSourceProperty("tcpKeepAlive", "true");
        hc.addDataSourceProperty("socketTimeout", "60");
        hc.addDataSourceProperty("ApplicationName", "zerodrop");
        // Keep row values (payloads, keys) out of exception messages, and so out of logs.
        hc.addDataSourceProperty("logServerErrorDetail", "false");
        // Plans are made with the statistics of the moment the statement runs, never a generic
        // plan cached while the queue was empty.
        hc.setConnectionInitSql("SET synchronous_commit TO on; SET plan_cache_mode TO force_custom_plan");
        HikariDataSource ds = new HikariDataSource(hc);
        try {
            Flyway.configure().dataSource(ds).locations("classpath:db/migration").load().migrate();
        } catch (RuntimeException e) {
            ds.close();
            throw e;
        }
        Database db = new Database(ds);
        String fsync = db.jdbc.queryOne("SHOW fsync", rs -> rs.getString(1)).orElse("?");
        if (!"on".equals(fsync)) {
            org.slf4j.LoggerFactory.getLogger(Database.class).warn(
                    "the database runs with fsync={}: acknowledged messages can be lost if its machine crashes", fsync);
        }
        return db;
    }

    public Jdbc jdbc() {
        return jdbc;
    }

    /** True when a connection can be had and answers a trivial query. */
    public boolean isReachable() {
        try {
            return jdbc.run(c -> c.isValid(2));
        } catch (RuntimeException e) {
            return false;
        }
    }

    @Override
    public void close() {
        dataSource.close();
    }
}
