package dev.zerodrop.store;

import java.math.BigDecimal;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * The dead-letter queue: deliveries in state {@code dead}, and those an operator or the retention
 * job discarded. Listing, replay, discard and retention, each operator action recorded in
 * {@code delivery_action}; and the money at risk in parked deliveries.
 */
public final class DlqStore {
    /** Deliveries a replay or a discard applies to. Null fields do not filter; {@code ids} null means any id. */
    public record Selection(List<Long> ids, String appId, String endpointId, String eventType, Instant since, Instant until,
                            String errorClass) {}

    /** The last attempt of a delivery; {@code response} is cut to {@link #LIST_RESPONSE_CHARS} in listings. */
    public record LastAttempt(String id, int responseStatus, String errorClass, Instant createdAt, String response) {}

    /** An amount parked in a delivery, in major units (cents already divided by 100). */
    public record Value(BigDecimal amount, String currency) {}

    /** A delivery as the DLQ shows it. {@code changedAt} is when it went dead or was discarded. */
    public record Entry(long id, String appId, String endpointId, String msgId, String eventType, String eventId, String state,
                        String reason, int attempts, Instant changedAt, LastAttempt lastAttempt, Value value) {}

    /** An operator's (or the retention job's) action on a delivery. */
    public record Action(long id, long deliveryId, String action, String actor, String reason, Instant createdAt) {}

    /** What a replay or a discard changed: how many deliveries, the first ids, and how many replays were held. */
    public record Changed(int count, List<Long> firstIds, int held) {}

    /** Where an application's payloads carry an amount. {@code amountPointer} null: money at risk is off. */
    public record Money(String amountPointer, String currencyPointer, String defaultCurrency, Integer minorUnitScale) {}

    /** Every delivery state. Queries name a state as a literal, so that the planner can use its partial index. */
    public static final List<String> STATES = List.of("pending", "sending", "delivered", "dead", "discarded", "held");
    public static final int LIST_RESPONSE_CHARS = 256;
    private static final int FIRST_IDS = 100;
    /** A plain decimal number, with bounds that keep the numeric cast from overflowing. */
    private static final String NUMBER = "'^\\s*-?[0-9]{1,40}(\\.[0-9]{1,40})?([eE][-+]?[0-9]{1,3})?\\s*$'";

    /**
     * The applications that carry amounts, with their pointers as #>> paths, computed once per query.
     * Appended to a WITH clause.
     */
    private static final String MONEY_APPS = """
            money_app AS MATERIALIZED (
                SELECT id, zd_pointer_path(amount_pointer) AS amount_path, zd_pointer_path(currency_pointer) AS currency_path,
                       default_currency, coalesce(minor_unit_scale, 0) AS scale
                  FROM application WHERE amount_pointer IS NOT NULL)""";

    /**
     * The amount (text, numeric or NULL) and currency of a delivery's message {@code m}, for the
     * application {@code ma} of {@link #MONEY_APPS}. The payload is parsed once ({@code OFFSET 0}
     * keeps the planner from copying the parse into each use). Payloads with a {@code \\u} escape go
     * through {@code zd_payload_jsonb}, which turns one that jsonb refuses into NULL.
     */
    private static final String MONEY_LATERAL = """
            LEFT JOIN LATERAL (
                SELECT CASE WHEN p.doc #>> ma.amount_path ~ %1$s THEN p.doc #>> ma.amount_path END AS amount,
                       CASE WHEN p.doc #>> ma.currency_path ~ '^[A-Za-z]{3}$' THEN upper(p.doc #>> ma.currency_path)
                            ELSE coalesce(ma.default_currency, 'XXX') END AS currency,
                       ma.scale
                  FROM (SELECT CASE WHEN ma.id IS NULL OR m.payload IS NULL THEN NULL
                                    WHEN position('\\x5c75'::bytea IN m.payload) = 0 THEN convert_from(m.payload, 'UTF8')::jsonb
                                    ELSE zd_payload_jsonb(m.payload) END AS doc OFFSET 0) p) money ON true""".formatted(NUMBER);

    /** The last attempt of delivery {@code d}. */
    private static final String LAST_ATTEMPT = """
            LEFT JOIN LATERAL (
                SELECT a.id, a.response_status, a.error_class, a.created_at, left(a.response, %d) AS response
                  FROM attempt a WHERE a.delivery_id = d.id ORDER BY a.attempt_no DESC, a.id DESC LIMIT 1) la ON true"""
            .formatted(LIST_RESPONSE_CHARS);

    private static final String ENTRY_SELECT = """
            WITH %s
            SELECT d.id, d.app_id, d.endpoint_id, d.msg_id, m.event_type, m.event_id, d.state, d.reason, d.attempts,
                   coalesce(d.state_changed_at, d.updated_at) AS changed_at,
                   la.id AS la_id, la.response_status, la.error_class, la.created_at AS la_created_at, la.response,
                   money.amount, money.currency, money.scale
              FROM delivery d
              JOIN message m ON m.id = d.msg_id AND m.part_at = d.part_at
              LEFT JOIN money_app ma ON ma.id = d.app_id
              %s
              %s
             WHERE true""".formatted(MONEY_APPS, LAST_ATTEMPT, MONEY_LATERAL);

    private final Jdbc jdbc;

    public DlqStore(Jdbc jdbc) {
        this.jdbc = jdbc;
    }

    // ---- listing and inspection -----------------------------------------------------------------

    /** Deliveries in {@code state} (dead or discarded) that match {@code filter}, by delivery id. */
    public Page<Entry> list(String state, Selection filter, PageRequest page) {
        StringBuilder sql = new StringBuilder(ENTRY_SELECT).append(" AND d.state = ").append(literal(state));
        List<Object> params = new ArrayList<>();
        where(sql, params, filter);
        return page.run(jdbc, sql.toString(), "d.id", params, DlqStore::mapEntry, e -> "dlv_" + e.id(), DlqStore::cursor);
    }

    /** One delivery, in any state. */
    public Optional<Entry> find(long id) {
        return jdbc.queryOne(ENTRY_SELECT + " AND d.id = ?", DlqStore::mapEntry, id);
    }

    /** The actions taken on a delivery, oldest first. */
    public List<Action> actions(long deliveryId) {
        return jdbc.query("SELECT id, delivery_id, action, actor, reason, created_at FROM delivery_action WHERE delivery_id = ? ORDER BY id",
                rs -> new Action(rs.getLong("id"), rs.getLong("delivery_id"), rs.getString("action"), rs.getString("actor"),
                        rs.getString("reason"), Jdbc.instant(rs, "created_at")),
                deliveryId);
    }

    /** Counts of deliveries in the given states, for one application or (appId null) all. */
    public Map<String, Long> counts(String appId, List<String> states) {
        Map<String, Long> out = new LinkedHashMap<>();
        for (String state : states) {
            String sql = "SELECT count(*) FROM delivery WHERE state = " + literal(state) + (appId == null ? "" : " AND app_id = ?");
            out.put(state, jdbc.queryOne(sql, rs -> rs.getLong(1), appId == null ? new Object[0] : new Object[] {appId}).orElse(0L));
        }
        return out;
    }

    // ---- replay, discard, retention -------------------------------------------------------------

    /**
     * Puts the selected {@code dead} deliveries back to {@code pending} with a fresh retry budget and
     * the manual flag, or to {@code held} when their endpoint is disabled, and records a 'replay'
     * action for each. Deliveries of deleted endpoints are left dead. Each endpoint's replayed
     * deliveries fall due {@code 1 / ratePerSecond} apart, starting now or after the last replayed
     * delivery of that endpoint that is still pending, whichever is later. Only dead deliveries
     * change, so replaying the same selection again changes nothing. Deliveries of messages whose
     * content was expunged stay dead: there is nothing left to send.
     */
    public Changed replay(Selection s, String actor, int ratePerSecond, Instant now) {
        StringBuilder selected = new StringBuilder("""
                SELECT d.id, d.endpoint_id, e.disabled FROM delivery d
                  JOIN message m ON m.id = d.msg_id AND m.part_at = d.part_at
                  JOIN endpoint e ON e.id = d.endpoint_id
                 WHERE d.state = 'dead' AND e.deleted_at IS NULL AND m.payload IS NOT NULL""");
        List<Object> params = new ArrayList<>();
        where(selected, params, s);
        // The messages are share-locked: an expunge running at the same time waits, then discards what this replayed.
        selected.append(" ORDER BY d.id FOR UPDATE OF d FOR SHARE OF m");
        String sql = """
                WITH sel AS MATERIALIZED (%s),
                ranked AS (
                    SELECT id, endpoint_id, disabled, row_number() OVER (PARTITION BY endpoint_id ORDER BY id) - 1 AS k FROM sel),
                start AS (
                    SELECT ep.endpoint_id, greatest(?::timestamptz, max(p.next_attempt_at) + ?::interval) AS at
                      FROM (SELECT DISTINCT endpoint_id FROM sel) ep
                      LEFT JOIN delivery p ON p.endpoint_id = ep.endpoint_id AND p.state = 'pending' AND p.manual
                     GROUP BY ep.endpoint_id),
                upd AS (
                    UPDATE delivery d
                       SET state = CASE WHEN r.disabled THEN 'held' ELSE 'pending' END, manual = true, budget_base = d.attempts, lost_leases = 0,
                           next_attempt_at = CASE WHEN r.disabled THEN NULL ELSE st.at + r.k * ?::interval END,
                           reason = NULL, updated_at = ?
                      FROM ranked r JOIN start st ON st.endpoint_id = r.endpoint_id
                     WHERE d.id = r.id AND d.state = 'dead'
                    RETURNING d.id, d.state),
                act AS (
                    INSERT INTO delivery_action (delivery_id, action, actor, reason, created_at)
                    SELECT id, 'replay', ?, NULL, ? FROM upd)
                SELECT id, state FROM upd ORDER BY id""".formatted(selected);
        Duration gap = Duration.ofNanos(1_000_000_000L / Math.max(1, ratePerSecond));
        String interval = gap.toNanos() / 1000 + " microseconds";
        params.addAll(List.of(now, interval, interval, now, actor, now));
        return jdbc.tx(c -> changed(c, sql, params));
    }

    /** Moves the selected {@code dead} deliveries to {@code discarded} with a reason, recording a 'discard' action for each. */
    public Changed discard(Selection s, String actor, String reason, Instant now) {
        StringBuilder selected = new StringBuilder("SELECT d.id FROM delivery d JOIN message m ON m.id = d.msg_id AND m.part_at = d.part_at WHERE d.state = 'dead'");
        List<Object> params = new ArrayList<>();
        where(selected, params, s);
        selected.append(" ORDER BY d.id FOR UPDATE OF d");
        params.addAll(List.of(reason, now, now, actor, reason, now));
        return jdbc.tx(c -> changed(c, discardSql(selected.toString()), params));
    }

    /**
     * Retention: moves up to {@code limit} {@code dead} deliveries whose message was created before
     * {@code cutoff} to {@code discarded} with reason 'retention', recording an action by 'system'.
     * Rows another node is changing are skipped, not waited for. Returns how many changed.
     */
    public int expire(Instant cutoff, Instant now, int limit) {
        String selected = """
                SELECT d.id FROM delivery d JOIN message m ON m.id = d.msg_id AND m.part_at = d.part_at
                 WHERE d.state = 'dead' AND m.created_at < ?
                 ORDER BY d.id LIMIT ? FOR UPDATE OF d SKIP LOCKED""";
        List<Object> params = List.of(cutoff, limit, "retention", now, now, "system", "retention", now);
        return jdbc.tx(c -> changed(c, discardSql(selected), params)).count();
    }

    private static String discardSql(String selected) {
        return """
                WITH sel AS MATERIALIZED (%s),
                upd AS (
                    UPDATE delivery d SET state = 'discarded', reason = ?, next_attempt_at = NULL, state_changed_at = ?, updated_at = ?
                      FROM sel WHERE d.id = sel.id AND d.state = 'dead'
                    RETURNING d.id, d.state),
                act AS (
                    INSERT INTO delivery_action (delivery_id, action, actor, reason, created_at)
                    SELECT id, 'discard', ?, ?, ? FROM upd)
                SELECT id, state FROM upd ORDER BY id""".formatted(selected);
    }

    private static Changed changed(Connection c, String sql, List<Object> params) throws SQLException {
        int[] count = {0, 0};
        List<Long> first = new ArrayList<>();
        Jdbc.query(c, sql, rs -> {
            count[0]++;
            if ("held".equals(rs.getString("state"))) count[1]++;
            if (first.size() < FIRST_IDS) first.add(rs.getLong("id"));
            return null;
        }, params.toArray());
        return new Changed(count[0], List.copyOf(first), count[1]);
    }

    /** Appends the selection's conditions on delivery {@code d} and message {@code m}. */
    private static void where(StringBuilder sql, List<Object> params, Selection s) {
        if (s.ids() != null) {
            sql.append(" AND d.id = ANY (?)");
            params.add(s.ids().toArray(Long[]::new));
        }
        if (s.appId() != null) {
            sql.append(" AND d.app_id = ?");
            params.add(s.appId());
        }
        if (s.endpointId() != null) {
            sql.append(" AND d.endpoint_id = ?");
            params.add(s.endpointId());
        }
        if (s.eventType() != null) {
            sql.append(" AND m.event_type = ?");
            params.add(s.eventType());
        }
        if (s.since() != null) {
            sql.append(" AND coalesce(d.state_changed_at, d.updated_at) >= ?");
            params.add(s.since());
        }
        if (s.until() != null) {
            sql.append(" AND coalesce(d.state_changed_at, d.updated_at) < ?");
            params.add(s.until());
        }
        if (s.errorClass() != null) {
            sql.append(" AND (SELECT a.error_class FROM attempt a WHERE a.delivery_id = d.id ORDER BY a.attempt_no DESC, a.id DESC LIMIT 1) = ?");
            params.add(s.errorClass());
        }
    }

    // ---- money at risk --------------------------------------------------------------------------

    /**
     * The value of the deliveries in {@code states} (for example dead, held, pending), per currency,
     * for one application or (appId null) all. Only applications with an amount pointer count, and
     * only payloads whose amount is present and a number (or a string holding one); the amount is
     * divided by 10^minorUnitScale of its application.
     */
    public Map<String, BigDecimal> valueAtRisk(String appId, List<String> states) {
        Map<String, BigDecimal> out = new TreeMap<>();
        valueAtRiskByState(appId, states).values().forEach(m -> m.forEach((cur, v) -> out.merge(cur, v, BigDecimal::add)));
        return out;
    }

    /** {@link #valueAtRisk} for each state apart: state → currency → value. Every state asked for is a key. */
    public Map<String, Map<String, BigDecimal>> valueAtRiskByState(String appId, List<String> states) {
        Map<String, Map<String, BigDecimal>> out = new LinkedHashMap<>();
        for (String state : states) {
            Map<String, BigDecimal> sums = new TreeMap<>();
            jdbc.query("""
                    WITH %s
                    SELECT money.currency, money.scale, sum(money.amount::numeric) AS total
                      FROM money_app ma
                      JOIN delivery d ON d.app_id = ma.id
                      JOIN message m ON m.id = d.msg_id AND m.part_at = d.part_at
                      %s
                     WHERE d.state = %s AND (?::text IS NULL OR ma.id = ?) AND money.amount IS NOT NULL
                     GROUP BY money.currency, money.scale""".formatted(MONEY_APPS, MONEY_LATERAL, literal(state)),
                    rs -> sums.merge(rs.getString("currency"), rs.getBigDecimal("total").movePointLeft(rs.getInt("scale")), BigDecimal::add),
                    appId, appId);
            out.put(state, sums);
        }
        return out;
    }

    public Money money(String appId) {
        return jdbc.queryOne("SELECT amount_pointer, currency_pointer, default_currency, minor_unit_scale FROM application WHERE id = ?",
                rs -> new Money(rs.getString(1), rs.getString(2), rs.getString(3), (Integer) rs.getObject(4)), appId)
                .orElseThrow();
    }

    public void setMoney(String appId, Money m, Instant now) {
        jdbc.update("""
                UPDATE application SET amount_pointer = ?, currency_pointer = ?, default_currency = ?, minor_unit_scale = ?, updated_at = ?
                 WHERE id = ?""", m.amountPointer(), m.currencyPointer(), m.defaultCurrency(), m.minorUnitScale(), now, appId);
    }

    // ---- mapping --------------------------------------------------------------------------------

    /** A state as an SQL literal; only the known states are accepted. */
    private static String literal(String state) {
        if (!STATES.contains(state)) throw new IllegalArgumentException("unknown delivery state '" + state + "'");
        return "'" + state + "'";
    }

    /** An iterator ({@code dlv_123} or {@code 123}) as the delivery id it continues after. */
    static Object cursor(String iterator) {
        return Long.parseLong(iterator.startsWith("dlv_") ? iterator.substring(4) : iterator);
    }

    static Entry mapEntry(ResultSet rs) throws SQLException {
        String laId = rs.getString("la_id");
        LastAttempt last = laId == null ? null : new LastAttempt(laId, rs.getInt("response_status"), rs.getString("error_class"),
                Jdbc.instant(rs, "la_created_at"), rs.getString("response"));
        String amount = rs.getString("amount");
        Value value = amount == null ? null
                : new Value(new BigDecimal(amount.trim()).movePointLeft(rs.getInt("scale")), rs.getString("currency"));
        return new Entry(rs.getLong("id"), rs.getString("app_id"), rs.getString("endpoint_id"), rs.getString("msg_id"),
                rs.getString("event_type"), rs.getString("event_id"), rs.getString("state"), rs.getString("reason"),
                rs.getInt("attempts"), Jdbc.instant(rs, "changed_at"), last, value);
    }
}
