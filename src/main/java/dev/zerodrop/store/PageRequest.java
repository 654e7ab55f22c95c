package dev.zerodrop.store;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * Keyset pagination over a time-sortable id column, as Svix does it: {@code iterator} is the id to
 * continue after; a leading {@code -} walks backwards from that id.
 */
public record PageRequest(int limit, String iterator, boolean descending) {
    public static final int MAX_LIMIT = 250;

    public PageRequest {
        limit = Math.max(1, Math.min(limit, MAX_LIMIT));
    }

    <T> Page<T> run(Jdbc jdbc, String select, String idColumn, List<Object> params,
                    Jdbc.RowMapper<T> mapper, java.util.function.Function<T, String> idOf) {
        return run(jdbc, select, idColumn, params, mapper, idOf, c -> c);
    }

    /** As above, for an id column that is not text: {@code cursorValue} turns the iterator into its value. */
    <T> Page<T> run(Jdbc jdbc, String select, String idColumn, List<Object> params, Jdbc.RowMapper<T> mapper,
                    java.util.function.Function<T, String> idOf, java.util.function.Function<String, Object> cursorValue) {
        boolean backwards = iterator != null && iterator.startsWith("-");
        String cursor = iterator == null || iterator.isEmpty() ? null : (backwards ? iterator.substring(1) : iterator);
        // Walking backwards flips the scan direction; the rows are reversed again below.
        boolean scanDescending = backwards != descending;
        List<Object> p = new ArrayList<>(params);
        StringBuilder sql = new StringBuilder(select);
        if (cursor != null) {
            sql.append(" AND "); // every select passed in has a WHERE clause
            sql.append(idColumn).append(scanDescending ? " < ?" : " > ?");
            p.add(cursorValue.apply(cursor));
        }
        sql.append(" ORDER BY ").append(idColumn).append(scanDescending ? " DESC" : " ASC").append(" LIMIT ?");
        p.add(limit + 1);
        List<T> rows = new ArrayList<>(jdbc.query(sql.toString(), mapper, p.toArray()));
        boolean more = rows.size() > limit;
        if (more) rows.removeLast();
        if (backwards) Collections.reverse(rows);
        String next = rows.isEmpty() ? cursor : idOf.apply(rows.getLast());
        String prev = rows.isEmpty() ? null : "-" + idOf.apply(rows.getFirst());
        boolean done = backwards ? false : !more;
        return new Page<>(List.copyOf(rows), next, prev, done);
    }
}
