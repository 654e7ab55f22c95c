package dev.zerodrop.store;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.SQLTransientConnectionException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import javax.sql.DataSource;

/** The one place that runs SQL: transactions, parameter binding and error translation. */
public final class Jdbc {
    @FunctionalInterface
    public interface Work<T> {
        T run(Connection c) throws SQLException;
    }

    @FunctionalInterface
    public interface RowMapper<T> {
        T map(ResultSet rs) throws SQLException;
    }

    private final DataSource dataSource;

    public Jdbc(DataSource dataSource) {
        this.dataSource = dataSource;
    }

    public DataSource dataSource() {
        return dataSource;
    }

    /** Runs {@code work} in one transaction, committed when it returns. */
    public <T> T tx(Work<T> work) {
        try (Connection c = dataSource.getConnection()) {
            c.setAutoCommit(false);
            try {
                T result = work.run(c);
                c.commit();
                return result;
            } catch (SQLException | RuntimeException e) {
                rollbackQuietly(c);
                throw e;
            }
        } catch (SQLException e) {
            throw translate(e);
        }
    }

    /** Runs {@code work} on one connection in autocommit mode. */
    public <T> T run(Work<T> work) {
        try (Connection c = dataSource.getConnection()) {
            return work.run(c);
        } catch (SQLException e) {
            throw translate(e);
        }
    }

    public <T> List<T> query(String sql, RowMapper<T> mapper, Object... params) {
        return run(c -> query(c, sql, mapper, params));
    }

    public <T> Optional<T> queryOne(String sql, RowMapper<T> mapper, Object... params) {
        List<T> rows = query(sql, mapper, params);
        return rows.isEmpty() ? Optional.empty() : Optional.of(rows.getFirst());
    }

    public int update(String sql, Object... params) {
        return run(c -> update(c, sql, params));
    }

    public static <T> List<T> query(Connection c, String sql, RowMapper<T> mapper, Object... params) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(sql)) {
            bind(ps, params);
            try (ResultSet rs = ps.executeQuery()) {
                List<T> out = new ArrayList<>();
                while (rs.next()) out.add(mapper.map(rs));
                return out;
            }
        }
    }

    public static <T> Optional<T> queryOne(Connection c, String sql, RowMapper<T> mapper, Object... params) throws SQLException {
        List<T> rows = query(c, sql, mapper, params);
        return rows.isEmpty() ? Optional.empty() : Optional.of(rows.getFirst());
    }

    public static int update(Connection c, String sql, Object... params) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(sql)) {
            bind(ps, params);
            return ps.executeUpdate();
        }
    }

    static void bind(PreparedStatement ps, Object... params) throws SQLException {
        for (int i = 0; i < params.length; i++) {
            Object p = params[i];
            switch (p) {
                case null -> ps.setObject(i + 1, null);
                case java.time.Instant t -> ps.setObject(i + 1, java.time.OffsetDateTime.ofInstant(t, java.time.ZoneOffset.UTC));
                case String[] a -> ps.setArray(i + 1, ps.getConnection().createArrayOf("text", a));
                case Long[] a -> ps.setArray(i + 1, ps.getConnection().createArrayOf("bigint", a));
                case Integer[] a -> ps.setArray(i + 1, ps.getConnection().createArrayOf("integer", a));
                case byte[][] a -> ps.setArray(i + 1, ps.getConnection().createArrayOf("bytea", a));
                case java.sql.Timestamp[] a -> ps.setArray(i + 1, ps.getConnection().createArrayOf("timestamptz", a));
                case Json j -> {
                    var obj = new org.postgresql.util.PGobject();
                    obj.setType("jsonb");
                    obj.setValue(j.text());
                    ps.setObject(i + 1, obj);
                }
                default -> ps.setObject(i + 1, p);
            }
        }
    }

    /** A JSON text bound as jsonb. */
    public record Json(String text) {}

    public static java.time.Instant instant(ResultSet rs, String column) throws SQLException {
        var t = rs.getObject(column, java.time.OffsetDateTime.class);
        return t == null ? null : t.toInstant();
    }

    public static List<String> textArray(ResultSet rs, String column) throws SQLException {
        java.sql.Array a = rs.getArray(column);
        if (a == null) return null;
        return List.of((String[]) a.getArray());
    }

    static void rollbackQuietly(Connection c) {
        try {
            c.rollback();
        } catch (SQLException ignored) {
            // the connection is likely gone; the pool will discard it
        }
    }

    /** Connection-class failures (SQLSTATE 08xxx, 57P0x) are outages; everything else is a bug or a conflict. */
    public static RuntimeException translate(SQLException e) {
        if (isOutage(e)) return new StoreUnavailableException("database unavailable: " + describe(e), e);
        if ("23505".equals(e.getSQLState()) || (e.getNextException() != null && "23505".equals(e.getNextException().getSQLState()))) {
            return new UniqueViolation(e);
        }
        return new StoreException(describe(e), e);
    }

    /**
     * A loggable description of a database error. A batch error's own message embeds the statement
     * with its parameter values (payloads, response bodies), so the server's error is used instead.
     */
    static String describe(SQLException e) {
        SQLException base = e instanceof java.sql.BatchUpdateException && e.getNextException() != null ? e.getNextException() : e;
        String msg = base.getMessage() == null ? "" : base.getMessage().lines().findFirst().orElse("");
        if (msg.length() > 200) msg = msg.substring(0, 200) + "...";
        return "SQLState " + base.getSQLState() + ": " + msg;
    }

    static boolean isOutage(SQLException e) {
        if (e instanceof SQLTransientConnectionException) return true;
        String state = e.getSQLState();
        if (state == null) return e.getCause() instanceof java.io.IOException;
        return state.startsWith("08") || state.startsWith("57P") || state.equals("53300");
    }

    /** A unique constraint was violated; stores turn it into a domain conflict. */
    public static final class UniqueViolation extends RuntimeException {
        public UniqueViolation(SQLException cause) {
            super(cause.getMessage(), cause);
        }

        public String constraint() {
            if (getCause() instanceof org.postgresql.util.PSQLException p && p.getServerErrorMessage() != null) {
                return p.getServerErrorMessage().getConstraint();
            }
            return null;
        }
    }
}
